//! The scrape manager: discovers targets (static, file, HTTP, DNS and
//! Kubernetes discovery), runs one tokio task per target, and writes what it
//! scrapes through an [`AppenderFactory`].
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
pub mod discovery;
pub mod dns_sd;
pub mod http;
pub mod http_sd;
pub mod kubernetes;
mod scrape_loop;
pub mod target;
mod tls;

pub use config::{
    ByteSize, FileSdConfig, PromDuration, Scheme, ScrapeConfig, ScrapeConfigError, TargetGroup,
};
pub use dns_sd::{DnsRecordType, DnsSdConfig};
pub use http::{Authorization, BasicAuth, HttpClientConfig, HttpConfigError, TlsConfig};
pub use http_sd::HttpSdConfig;
pub use kubernetes::KubernetesSdConfig;
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
    client: Arc<RwLock<reqwest::Client>>,
    file_groups: BTreeMap<PathBuf, Vec<TargetGroup>>,
    /// The last target groups of each http_sd URL and dns_sd name, with
    /// their `__meta_*` labels.
    sd_groups: BTreeMap<String, Vec<TargetGroup>>,
    sd_stop: Option<watch::Sender<bool>>,
    targets: HashMap<u64, Running<F>>,
    errors: Vec<String>,
}

struct Inner<F> {
    factory: Arc<F>,
    clock: Arc<dyn Clock>,
    jobs: Mutex<BTreeMap<String, Job<F>>>,
    handle: Mutex<Option<tokio::runtime::Handle>>,
    health_changes: Arc<watch::Sender<u64>>,
}

/// Scrape jobs validated, with their HTTP clients built, by
/// [`ScrapeManager::prepare`]; nothing runs until
/// [`ScrapeManager::apply_prepared`].
#[derive(Debug)]
pub struct PreparedScrape {
    configs: Vec<ScrapeConfig>,
    clients: Vec<reqwest::Client>,
}

impl PreparedScrape {
    /// The job names, in order.
    pub fn job_names(&self) -> Vec<&str> {
        self.configs.iter().map(|c| c.job_name.as_str()).collect()
    }
}

/// Runs the scrape loops. Cheap to share behind an `Arc`.
pub struct ScrapeManager<F: AppenderFactory> {
    inner: Arc<Inner<F>>,
}

impl<F: AppenderFactory> ScrapeManager<F> {
    /// A manager with no jobs. Each job gets its own HTTP client (built by
    /// [`ScrapeManager::apply`]); the `Result` is kept for callers that
    /// expect construction to be able to fail.
    pub fn new(factory: Arc<F>, clock: Arc<dyn Clock>) -> Result<Self, ScrapeConfigError> {
        Ok(ScrapeManager {
            inner: Arc::new(Inner {
                factory,
                clock,
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
        let prepared = Self::prepare(configs)?;
        self.apply_prepared(prepared)
    }

    /// Validates `configs` and builds each job's HTTP client, changing
    /// nothing: the first half of [`ScrapeManager::apply`], for a reload
    /// that checks every section before it applies any.
    pub fn prepare(configs: Vec<ScrapeConfig>) -> Result<PreparedScrape, ScrapeConfigError> {
        let mut seen = HashSet::new();
        let mut clients = Vec::with_capacity(configs.len());
        for c in &configs {
            c.validate()?;
            if !seen.insert(c.job_name.clone()) {
                return Err(ScrapeConfigError::DuplicateJob(c.job_name.clone()));
            }
            let client =
                c.http_client_config()
                    .build_client()
                    .map_err(|e| ScrapeConfigError::Invalid {
                        job: c.job_name.clone(),
                        reason: e.to_string(),
                    })?;
            clients.push(client);
        }
        Ok(PreparedScrape { configs, clients })
    }

    /// Puts the jobs of [`ScrapeManager::prepare`] in force (the second half
    /// of [`ScrapeManager::apply`]). Fails only outside a tokio runtime.
    pub fn apply_prepared(&self, prepared: PreparedScrape) -> Result<(), ScrapeConfigError> {
        let handle =
            tokio::runtime::Handle::try_current().map_err(|_| ScrapeConfigError::NoRuntime)?;
        let PreparedScrape { configs, clients } = prepared;
        let seen: HashSet<String> = configs.iter().map(|c| c.job_name.clone()).collect();
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
        for (cfg, client) in configs.into_iter().zip(clients) {
            let name = cfg.job_name.clone();
            let cfg = Arc::new(cfg);
            let job = jobs.entry(name.clone()).or_insert_with(|| Job {
                cfg: Arc::new(RwLock::new(cfg.clone())),
                client: Arc::new(RwLock::new(client.clone())),
                file_groups: BTreeMap::new(),
                sd_groups: BTreeMap::new(),
                sd_stop: None,
                targets: HashMap::new(),
                errors: Vec::new(),
            });
            let sd_changed = {
                let old = job.cfg.read();
                old.file_sd_configs != cfg.file_sd_configs
                    || old.http_sd_configs != cfg.http_sd_configs
                    || old.dns_sd_configs != cfg.dns_sd_configs
                    || old.kubernetes_sd_configs != cfg.kubernetes_sd_configs
                    || job.sd_stop.is_none()
            };
            *job.cfg.write() = cfg.clone();
            *job.client.write() = client;
            if sd_changed {
                if let Some(s) = job.sd_stop.take() {
                    let _ = s.send(true);
                }
                job.file_groups = read_file_sd(&cfg);
                let keys = sd_keys(&cfg);
                job.sd_groups.retain(|k, _| keys.contains(k));
                if !cfg.file_sd_configs.is_empty() || !keys.is_empty() {
                    let (tx, rx) = watch::channel(false);
                    job.sd_stop = Some(tx);
                    if !cfg.file_sd_configs.is_empty() {
                        handle.spawn(file_sd_task(
                            Arc::downgrade(&self.inner),
                            name.clone(),
                            rx.clone(),
                        ));
                    }
                    for sd in &cfg.http_sd_configs {
                        // Validated above, so the client builds; a failure is logged.
                        match sd.http_client_config().build_client() {
                            Ok(client) => {
                                handle.spawn(http_sd_task(
                                    Arc::downgrade(&self.inner),
                                    name.clone(),
                                    sd.clone(),
                                    client,
                                    rx.clone(),
                                ));
                            }
                            Err(e) => {
                                tracing::warn!(job = %name, url = %sd.url, error = %e, "Could not start HTTP service discovery.");
                            }
                        }
                    }
                    for sd in &cfg.dns_sd_configs {
                        handle.spawn(dns_sd_task(
                            Arc::downgrade(&self.inner),
                            name.clone(),
                            sd.clone(),
                            rx.clone(),
                        ));
                    }
                    for (i, sd) in cfg.kubernetes_sd_configs.iter().enumerate() {
                        let (inner, key) = (Arc::downgrade(&self.inner), kubernetes::sd_key(i, sd));
                        let task =
                            kubernetes::task(inner, name.clone(), key, sd.clone(), rx.clone());
                        handle.spawn(task);
                    }
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
    let file_groups = job.file_groups.iter().flat_map(|(p, gs)| {
        gs.iter()
            .map(move |g| (Some(("__meta_filepath", p.display().to_string())), g))
    });
    let sd_groups = job.sd_groups.values().flatten().map(|g| (None, g));
    for (meta, g) in cfg
        .static_configs
        .iter()
        .map(|g| (None, g))
        .chain(file_groups)
        .chain(sd_groups)
    {
        let extra: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (*k, v.as_str())).collect();
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
        if let Some(r) = job.targets.get(&h) {
            // The same target (same final labels); only what discovery said of it may differ.
            r.shared.status.lock().discovered_labels = t.discovered_labels;
            continue;
        }
        let status = TargetStatus::new(&t, &cfg);
        let shared = Arc::new(Shared {
            factory: inner.factory.clone(),
            clock: inner.clock.clone(),
            client: job.client.clone(),
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

/// Fetches one http_sd URL now and every refresh interval; a change re-syncs
/// the job's targets, a failure keeps the last ones (and is logged).
async fn http_sd_task<F: AppenderFactory>(
    inner: std::sync::Weak<Inner<F>>,
    job_name: String,
    sd: http_sd::HttpSdConfig,
    client: reqwest::Client,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let fetched = tokio::select! {
            r = stop.changed() => { if r.is_err() || *stop.borrow() { return; } continue; }
            f = http_sd::fetch_groups(&client, &sd) => f,
        };
        let Some(inner) = inner.upgrade() else { return };
        match fetched {
            Err(e) => {
                tracing::warn!(job = %job_name, url = %sd.url, error = %e, "HTTP service discovery failed; the last targets are kept.");
                let mut jobs = inner.jobs.lock();
                if let Some(job) = jobs.get_mut(&job_name) {
                    let msg = format!("http_sd_configs {}: {e}", sd.url);
                    if !job.errors.contains(&msg) {
                        job.errors.push(msg);
                    }
                }
            }
            Ok(mut groups) => {
                for g in &mut groups {
                    g.labels.insert("__meta_url".into(), sd.url.clone());
                }
                if !set_sd_groups(&inner, &job_name, format!("http:{}", sd.url), groups, &stop) {
                    return;
                }
            }
        }
        drop(inner);
        tokio::select! {
            r = stop.changed() => { if r.is_err() || *stop.borrow() { return; } }
            _ = tokio::time::sleep(sd.refresh_interval.0) => {}
        }
    }
}

/// The keys of a job's http_sd, dns_sd and kubernetes_sd sources in `Job::sd_groups`.
fn sd_keys(cfg: &ScrapeConfig) -> HashSet<String> {
    let http = cfg
        .http_sd_configs
        .iter()
        .map(|s| format!("http:{}", s.url));
    let dns = cfg
        .dns_sd_configs
        .iter()
        .flat_map(|s| s.names.iter().map(|n| format!("dns:{n}")));
    let k8s = cfg.kubernetes_sd_configs.iter().enumerate();
    let k8s = k8s.map(|(i, s)| kubernetes::sd_key(i, s));
    http.chain(dns).chain(k8s).collect()
}

/// Stores one discovery source's groups and re-syncs the job when they
/// changed. False when the task should end.
fn set_sd_groups<F: AppenderFactory>(
    inner: &Arc<Inner<F>>,
    job_name: &str,
    key: String,
    groups: Vec<TargetGroup>,
    stop: &watch::Receiver<bool>,
) -> bool {
    let Some(handle) = inner.handle.lock().clone() else {
        return false;
    };
    let mut jobs = inner.jobs.lock();
    if *stop.borrow() {
        return false;
    }
    if let Some(job) = jobs.get_mut(job_name) {
        if job.sd_groups.get(&key) != Some(&groups) {
            job.sd_groups.insert(key, groups);
            sync_job(inner, &handle, job);
        }
    }
    true
}

/// Resolves a job's dns_sd names now and every refresh interval. A name that
/// fails to resolve keeps its last targets.
async fn dns_sd_task<F: AppenderFactory>(
    inner: std::sync::Weak<Inner<F>>,
    job_name: String,
    sd: dns_sd::DnsSdConfig,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        for name in &sd.names {
            let resolved = tokio::select! {
                r = stop.changed() => { if r.is_err() || *stop.borrow() { return; } continue; }
                g = dns_sd::resolve(&sd, name) => g,
            };
            let Some(inner) = inner.upgrade() else { return };
            match resolved {
                Ok(groups) => {
                    if !set_sd_groups(&inner, &job_name, format!("dns:{name}"), groups, &stop) {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(job = %job_name, name = %name, error = %e, "DNS service discovery failed; the last targets are kept.");
                }
            }
        }
        tokio::select! {
            r = stop.changed() => { if r.is_err() || *stop.borrow() { return; } }
            _ = tokio::time::sleep(sd.refresh_interval.0) => {}
        }
    }
}
