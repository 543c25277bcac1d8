//! The scrape manager: discovers targets (static and file-based), runs one
//! tokio task per target, and writes what it scrapes through an
//! [`AppenderFactory`].
//!
//! Behaviour follows Prometheus:
//! - each target starts at an offset within the interval derived from its
//!   hash, so scrapes spread out and stay at a stable phase;
//! - samples get the scrape's timestamp (from the injected [`Clock`]) unless
//!   `honor_timestamps` and the line carries one;
//! - target labels are added to every sample (`honor_labels` decides
//!   conflicts; the loser becomes `exported_<name>`), then
//!   `metric_relabel_configs` runs;
//! - series of the previous scrape missing from this one get a stale marker;
//!   a failed scrape marks every previous series stale and writes `up 0`; a
//!   target removed by [`ScrapeManager::apply`] or by file_sd writes stale
//!   markers for all its series; [`ScrapeManager::shutdown`] writes none;
//! - `up`, `scrape_duration_seconds`, `scrape_samples_scraped`,
//!   `scrape_samples_post_metric_relabeling` and `scrape_series_added` are
//!   written for each target at each scrape.
//!
//! One deliberate difference: a body with some broken lines keeps its good
//! lines (spec section 10); the target stays `up` and the line errors are in
//! [`TargetStatus::last_error`]. Prometheus would drop the whole scrape.
//!
//! ```no_run
//! # use argus_ingest::AppenderFactory;
//! use argus_ingest::scrape::{ScrapeConfig, ScrapeManager};
//! use argus_model::SystemClock;
//! use std::sync::Arc;
//!
//! # async fn demo<F: AppenderFactory>(factory: Arc<F>) -> Result<(), Box<dyn std::error::Error>> {
//! let manager = ScrapeManager::new(factory, Arc::new(SystemClock))?;
//! let cfg: ScrapeConfig = serde_saphyr::from_str("job_name: node\nscrape_interval: 15s\nstatic_configs: [{targets: ['localhost:9100']}]\n")?;
//! manager.apply(vec![cfg])?; // also for reloads
//! for t in manager.targets() { println!("{} {}", t.scrape_url, t.health.as_str()); }
//! manager.shutdown().await;
//! # Ok(()) }
//! ```

pub mod config;
mod scrape_loop;
pub mod target;

pub use config::{
    FileSdConfig, PromDuration, Scheme, ScrapeConfig, ScrapeConfigError, TargetGroup,
};
pub use scrape_loop::{merge_target_labels, ACCEPT_HEADER};
pub use target::{populate, Health, Target, TargetStatus};

use crate::text::MetricMetadata;
use crate::AppenderFactory;
use argus_model::Clock;
use parking_lot::{Mutex, RwLock};
use scrape_loop::{Shared, Stop};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

struct Running<F> {
    shared: Arc<Shared<F>>,
    stop: watch::Sender<Stop>,
    handle: JoinHandle<()>,
}

struct Job<F> {
    cfg: Arc<RwLock<Arc<ScrapeConfig>>>,
    file_groups: BTreeMap<PathBuf, Vec<TargetGroup>>,
    sd_stop: Option<watch::Sender<bool>>,
    targets: HashMap<u64, Running<F>>,
    errors: Vec<String>,
}

struct Inner<F> {
    factory: Arc<F>,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
    jobs: Mutex<BTreeMap<String, Job<F>>>,
    handle: Mutex<Option<tokio::runtime::Handle>>,
    health_changes: Arc<watch::Sender<u64>>,
}

/// Runs the scrape loops. Cheap to share behind an `Arc`.
pub struct ScrapeManager<F: AppenderFactory> {
    inner: Arc<Inner<F>>,
}

impl<F: AppenderFactory> ScrapeManager<F> {
    /// A manager with no jobs. Fails only when the HTTP client cannot be built.
    pub fn new(factory: Arc<F>, clock: Arc<dyn Clock>) -> Result<Self, ScrapeConfigError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("Argus/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ScrapeConfigError::Invalid {
                job: String::new(),
                reason: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(ScrapeManager {
            inner: Arc::new(Inner {
                factory,
                clock,
                client,
                jobs: Mutex::new(BTreeMap::new()),
                handle: Mutex::new(None),
                health_changes: Arc::new(watch::channel(0).0),
            }),
        })
    }

    /// A counter bumped, after the scrape's samples are committed, every time a
    /// target goes down (its scrape failed after a success, or its first scrape
    /// failed) or comes back up. The rules engine listens to it to evaluate
    /// alerting rules at once instead of at their next tick, so a dead target is
    /// alerted on within one scrape (ADR 0011).
    pub fn health_changes(&self) -> watch::Receiver<u64> {
        self.inner.health_changes.subscribe()
    }

    /// Applies a full set of scrape configs (startup or reload). Must be called
    /// inside a tokio runtime. Everything is validated first: on error nothing
    /// changes. Removed jobs and targets get stale markers; kept targets keep
    /// running with the new settings.
    pub fn apply(&self, configs: Vec<ScrapeConfig>) -> Result<(), ScrapeConfigError> {
        let handle =
            tokio::runtime::Handle::try_current().map_err(|_| ScrapeConfigError::NoRuntime)?;
        let mut seen = HashSet::new();
        for c in &configs {
            c.validate()?;
            if !seen.insert(c.job_name.clone()) {
                return Err(ScrapeConfigError::DuplicateJob(c.job_name.clone()));
            }
        }
        *self.inner.handle.lock() = Some(handle.clone());
        let mut jobs = self.inner.jobs.lock();
        let names: Vec<String> = jobs
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for name in names {
            if let Some(job) = jobs.remove(&name) {
                stop_job(job, Stop::Remove);
            }
        }
        for cfg in configs {
            let name = cfg.job_name.clone();
            let cfg = Arc::new(cfg);
            let job = jobs.entry(name.clone()).or_insert_with(|| Job {
                cfg: Arc::new(RwLock::new(cfg.clone())),
                file_groups: BTreeMap::new(),
                sd_stop: None,
                targets: HashMap::new(),
                errors: Vec::new(),
            });
            let sd_changed =
                job.cfg.read().file_sd_configs != cfg.file_sd_configs || job.sd_stop.is_none();
            *job.cfg.write() = cfg.clone();
            if sd_changed {
                if let Some(s) = job.sd_stop.take() {
                    let _ = s.send(true);
                }
                job.file_groups = read_file_sd(&cfg);
                if !cfg.file_sd_configs.is_empty() {
                    let (tx, rx) = watch::channel(false);
                    job.sd_stop = Some(tx);
                    handle.spawn(file_sd_task(Arc::downgrade(&self.inner), name.clone(), rx));
                } else {
                    // A placeholder sender marks the discovery as set up.
                    job.sd_stop = Some(watch::channel(false).0);
                }
            }
            sync_job(&self.inner, &handle, job);
        }
        Ok(())
    }

    /// The active targets, sorted by job and URL.
    pub fn targets(&self) -> Vec<TargetStatus> {
        let jobs = self.inner.jobs.lock();
        let mut out: Vec<TargetStatus> = jobs
            .values()
            .flat_map(|j| j.targets.values().map(|r| r.shared.status.lock().clone()))
            .collect();
        out.sort_by(|a, b| (&a.job, &a.scrape_url).cmp(&(&b.job, &b.scrape_url)));
        out
    }

    /// Discovery and target errors per job (unreadable file_sd files, bad addresses).
    pub fn discovery_errors(&self) -> BTreeMap<String, Vec<String>> {
        let jobs = self.inner.jobs.lock();
        jobs.iter()
            .filter(|(_, j)| !j.errors.is_empty())
            .map(|(k, j)| (k.clone(), j.errors.clone()))
            .collect()
    }

    /// Metric metadata (`# TYPE`/`# HELP`/`# UNIT`) from the last scrape of
    /// every target, by metric family; distinct entries only.
    pub fn metadata(&self) -> BTreeMap<String, Vec<MetricMetadata>> {
        let jobs = self.inner.jobs.lock();
        let mut out: BTreeMap<String, Vec<MetricMetadata>> = BTreeMap::new();
        for r in jobs.values().flat_map(|j| j.targets.values()) {
            for (k, m) in r.shared.metadata.lock().iter() {
                let e = out.entry(k.clone()).or_default();
                if !e.contains(m) {
                    e.push(m.clone());
                }
            }
        }
        out
    }

    /// Stops every loop and discovery task and waits for them. Writes no stale
    /// markers, so a restart leaves no gap.
    pub async fn shutdown(&self) {
        let handles: Vec<JoinHandle<()>> = {
            let mut jobs = self.inner.jobs.lock();
            let all = std::mem::take(&mut *jobs);
            all.into_values()
                .flat_map(|mut j| {
                    if let Some(s) = j.sd_stop.take() {
                        let _ = s.send(true);
                    }
                    j.targets.into_values().map(|r| {
                        let _ = r.stop.send(Stop::Shutdown);
                        r.handle
                    })
                })
                .collect()
        };
        for h in handles {
            let _ = h.await;
        }
    }
}

fn stop_job<F>(mut job: Job<F>, mode: Stop) {
    if let Some(s) = job.sd_stop.take() {
        let _ = s.send(true);
    }
    for r in job.targets.into_values() {
        let _ = r.stop.send(mode);
    }
}

/// Reads every file of the job's file_sd configs; unreadable files are skipped (and logged).
fn read_file_sd(cfg: &ScrapeConfig) -> BTreeMap<PathBuf, Vec<TargetGroup>> {
    let mut out = BTreeMap::new();
    for sd in &cfg.file_sd_configs {
        for pattern in &sd.files {
            for path in config::expand_pattern(pattern) {
                match config::read_sd_file(&path) {
                    Ok(g) => {
                        out.insert(path, g);
                    }
                    Err(e) => {
                        tracing::warn!(job = %cfg.job_name, error = %e, "Could not read a file_sd file; its targets are skipped.");
                    }
                }
            }
        }
    }
    out
}

/// Starts loops for new targets and stops (with stale markers) vanished ones.
fn sync_job<F: AppenderFactory>(
    inner: &Arc<Inner<F>>,
    handle: &tokio::runtime::Handle,
    job: &mut Job<F>,
) {
    let cfg = job.cfg.read().clone();
    let mut wanted: HashMap<u64, target::Target> = HashMap::new();
    job.errors.clear();
    let file_groups = job
        .file_groups
        .iter()
        .flat_map(|(p, gs)| gs.iter().map(move |g| (Some(p), g)));
    for (path, g) in cfg
        .static_configs
        .iter()
        .map(|g| (None, g))
        .chain(file_groups)
    {
        let p = path.map(|p| p.display().to_string());
        let extra: Vec<(&str, &str)> = p.iter().map(|p| ("__meta_filepath", p.as_str())).collect();
        for addr in &g.targets {
            match populate(&cfg, &g.labels, addr, &extra) {
                Ok(Some(t)) => {
                    wanted.insert(t.hash, t);
                }
                Ok(None) => {}
                Err(e) => job.errors.push(e),
            }
        }
    }
    let gone: Vec<u64> = job
        .targets
        .keys()
        .filter(|h| !wanted.contains_key(h))
        .copied()
        .collect();
    for h in gone {
        if let Some(r) = job.targets.remove(&h) {
            let _ = r.stop.send(Stop::Remove);
        }
    }
    for (h, t) in wanted {
        if job.targets.contains_key(&h) {
            continue;
        }
        let status = TargetStatus::new(&t, &cfg);
        let shared = Arc::new(Shared {
            factory: inner.factory.clone(),
            clock: inner.clock.clone(),
            client: inner.client.clone(),
            target: Arc::new(t),
            cfg: job.cfg.clone(),
            status: Arc::new(Mutex::new(status)),
            metadata: Arc::new(Mutex::new(BTreeMap::new())),
            health_changes: inner.health_changes.clone(),
        });
        let (tx, rx) = watch::channel(Stop::Run);
        let handle = handle.spawn(scrape_loop::run(shared.clone(), rx));
        job.targets.insert(
            h,
            Running {
                shared,
                stop: tx,
                handle,
            },
        );
    }
}

/// Re-reads a job's file_sd files every refresh interval and re-syncs on change.
async fn file_sd_task<F: AppenderFactory>(
    inner: std::sync::Weak<Inner<F>>,
    job_name: String,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let every = {
            let Some(inner) = inner.upgrade() else { return };
            let jobs = inner.jobs.lock();
            let Some(job) = jobs.get(&job_name) else {
                return;
            };
            let cfg = job.cfg.read();
            cfg.file_sd_configs
                .iter()
                .map(|s| s.refresh_interval.0)
                .min()
                .unwrap_or_default()
        };
        let every = every.max(std::time::Duration::from_millis(10));
        tokio::select! {
            r = stop.changed() => { if r.is_err() || *stop.borrow() { return; } }
            _ = tokio::time::sleep(every) => {}
        }
        let Some(inner) = inner.upgrade() else { return };
        let cfg = {
            let jobs = inner.jobs.lock();
            let Some(job) = jobs.get(&job_name) else {
                return;
            };
            let c = job.cfg.read().clone();
            c
        };
        let cfg2 = cfg.clone();
        let Ok(groups) = tokio::task::spawn_blocking(move || read_file_sd(&cfg2)).await else {
            continue;
        };
        let Some(handle) = inner.handle.lock().clone() else {
            return;
        };
        let mut jobs = inner.jobs.lock();
        if *stop.borrow() {
            return;
        }
        if let Some(job) = jobs.get_mut(&job_name) {
            if job.file_groups != groups {
                job.file_groups = groups;
                sync_job(&inner, &handle, job);
            }
        }
    }
}
