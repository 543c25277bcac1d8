//! The dynamic-rules engine: the `argus-detect` algorithms wired to the
//! store's write path and history, with alerts handed to a sink the caller
//! provides. It imports neither the rules engine nor the alert pipeline; the
//! server adapts [`DynamicAlert`]s to its pipeline and serves the HTTP API.
//!
//! - [`config`]: the `dynamic_rules:` and `detect:` sections.
//! - [`tap`]: a commit observer on the store's write path
//!   ([`argus_tsdb::Storage`], which every append path — remote_write,
//!   import, push, scrape, the built-in agent, recording rules — writes
//!   through); after a commit the samples of matching series go to the
//!   detector task.
//! - [`engine`]: scoring as samples arrive; writes `argus_baseline_expected`,
//!   `argus_baseline_lower`, `argus_baseline_upper`, `argus_anomaly_score`,
//!   `argus_anomaly_level` and, with `anomaly` on, `argus_anomaly_stream_score`
//!   (labels: the series' labels without
//!   `__name__`, plus `metric` and `rule`); dynamic alerts into the sink.
//! - [`alerts`]: alert state (`for`, levels, resolve, resend) and the
//!   explanation annotations; [`sink`]: the alert type and the sink trait.
//! - [`trainer`], [`jobs`], [`store`]: training on the blocking pool
//!   (`detect.training_concurrency` series at once), jobs started by hand,
//!   models persisted under `<data-dir>/models/`.
//! - [`reload`]: a reloaded `dynamic_rules:` section applied to the running
//!   service ([`DetectService::reloader`]).
//! - [`backtest`]: the replay behind `argus backtest`.
//! - [`metrics`]: `argus_detect_*` self-metrics.
//! - [`warm`]: rebuilding a detector's online state from its series' stored
//!   history after a restart, a reload or a first sample.
//!
//! ```no_run
//! # async fn f(db: argus_tsdb::Db) -> Result<(), argus_dynamic::DynamicError> {
//! use std::sync::Arc;
//! use argus_dynamic::{DetectService, DynamicAlert, DynamicRuleConfig, Settings};
//! use argus_tsdb::{Appender, Storage};
//!
//! let rules: Vec<DynamicRuleConfig> = serde_saphyr::from_str(
//!     "- {name: ApiLatency, selector: 'latency{job=\"api\"}', detector: {kind: latency}}\n",
//! ).unwrap();
//! let settings = Settings { rules, ..Settings::default() };
//! let clock = Arc::new(argus_model::SystemClock);
//! let svc = DetectService::start(&settings, std::path::Path::new("./data"), db.clone(), clock)?;
//! svc.set_alert_sink(Arc::new(|alerts: Vec<DynamicAlert>| {
//!     for a in alerts {
//!         println!("{:?} {}", a.state, a.labels);
//!     }
//! }));
//! let storage = Storage::new(db);
//! storage.add_observer(Arc::new(svc.tap())); // once, where the store is opened
//! let mut app = storage.appender(); // an append path
//! app.append_pairs(&[("__name__", "latency"), ("job", "api")], 0, 0.12).unwrap();
//! app.commit().unwrap(); // the sample goes to the detector task too
//! svc.stop();
//! # Ok(()) }
//! ```

pub mod alerts;
pub mod api;
pub mod backtest;
pub mod band;
pub mod config;
pub mod engine;
mod error;
pub mod jobs;
pub mod metrics;
pub mod reload;
pub mod sink;
pub mod store;
pub mod tap;
pub mod trainer;
pub mod warm;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use argus_detect::detector::SeriesDetector;
use argus_model::Clock;
use argus_tsdb::Db;
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use config::{compile_rules, CompiledRule, DetectConfig, DynamicRuleConfig, LocalizeConfig};
pub use error::{ConfigError, DynamicError};
pub use sink::{AlertSink, AlertState, DynamicAlert};
pub use tap::Tap;

use engine::{SeriesState, Shared};

/// Batches the detector task's queue holds before the tap drops.
pub const QUEUE_BATCHES: usize = 4096;

/// What [`DetectService::start`] needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The `dynamic_rules:` section.
    pub rules: Vec<DynamicRuleConfig>,
    /// The `detect:` section.
    pub detect: DetectConfig,
    /// How often firing alerts are re-sent, ms (the rules engine's
    /// `resend_delay`). Default one minute.
    pub resend_delay_ms: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rules: Vec::new(),
            detect: DetectConfig::default(),
            resend_delay_ms: 60_000,
        }
    }
}

/// The running detection service.
pub struct DetectService {
    shared: Arc<Shared>,
    tap: Tap,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for DetectService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetectService")
            .field("rules", &self.shared.rules().len())
            .finish()
    }
}

impl DetectService {
    /// Compiles the rules, reloads persisted models from
    /// `<data_dir>/models` and starts the detector, trainer and housekeeping
    /// tasks. Must run inside a tokio runtime. Alerts are dropped until
    /// [`DetectService::set_alert_sink`] connects the pipeline.
    pub fn start(
        cfg: &Settings,
        data_dir: &Path,
        db: Db,
        clock: Arc<dyn Clock>,
    ) -> Result<DetectService, DynamicError> {
        let rules: Arc<[config::CompiledRule]> = config::compile_rules(&cfg.rules)?.into();
        let metrics = Arc::new(metrics::DetectMetrics::default());
        let (tx, mut rx) = mpsc::channel::<tap::TapBatch>(QUEUE_BATCHES);
        let (train_tx, train_rx) = mpsc::unbounded_channel();
        let store = store::ModelStore::new(data_dir.join("models"));
        let mut maps: Vec<HashMap<_, SeriesState>> =
            (0..rules.len()).map(|_| HashMap::new()).collect();
        let (records, bad) = store::load_all(store.dir()).map_err(DynamicError::Models)?;
        for b in bad {
            tracing::warn!(error = %b, "Skipped a stored model.");
        }
        let mut loaded = 0u64;
        let (warm_tx, warm_rx) = mpsc::unbounded_channel();
        for rec in records {
            let Some(r) = rules.iter().position(|x| x.name == rec.rule) else {
                tracing::info!(rule = %rec.rule, "A stored model's rule is no longer configured; it is not loaded.");
                continue;
            };
            let labels = rec.label_set();
            let mut st = SeriesState::new(&rules[r], &labels)?;
            let mut det = SeriesDetector::new(rules[r].spec.clone())?;
            det.install(Arc::new(rec.active));
            st.det = det;
            st.other = rec.other;
            st.other_rejected = rec.other_rejected;
            st.last_trained_ms = Some(rec.last_trained_ms);
            st.probed = true;
            // Warmed from the store at its first live sample (detect::warm).
            maps[r].insert(labels, st);
            loaded += 1;
        }
        if loaded > 0 {
            tracing::info!(
                models = loaded,
                "Loaded the stored dynamic-baseline models."
            );
        }
        metrics.series.store(loaded, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            rules: RwLock::new(rules.clone()),
            series: Mutex::new(maps),
            generation: AtomicU64::new(0),
            db,
            clock,
            alerts: std::sync::OnceLock::new(),
            metrics: metrics.clone(),
            store,
            resend_ms: cfg.resend_delay_ms.max(1),
            train_tx,
            jobs: Mutex::new(HashMap::new()),
            next_job: AtomicU64::new(1),
            warm_tx,
        });
        let tap = Tap::new(rules, tx, metrics);
        let mut tasks = Vec::new();
        let s = shared.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(batch) = rx.recv().await {
                // Scoring commits the band series (a WAL write, an fsync
                // with `wal_fsync: always`): never on an async worker. One
                // batch at a time, in order.
                let s2 = s.clone();
                if let Err(e) = tokio::task::spawn_blocking(move || s2.process(batch)).await {
                    tracing::error!(error = %e, "Scoring a batch of tapped samples failed.");
                }
            }
        }));
        let concurrency = cfg.detect.training_concurrency();
        tracing::debug!(
            concurrency,
            "Dynamic-baseline trainings run this many at a time."
        );
        tasks.push(tokio::spawn(warm::run(shared.clone(), warm_rx)));
        tasks.push(tokio::spawn(trainer::run(
            shared.clone(),
            train_rx,
            concurrency,
        )));
        let s = shared.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                s.tick();
            }
        }));
        Ok(DetectService {
            shared,
            tap,
            tasks: Mutex::new(tasks),
        })
    }

    /// Connects the alert pipeline (in the server, an adapter to the
    /// pipeline's ingress). Only the first call has an effect.
    pub fn set_alert_sink(&self, sink: Arc<dyn AlertSink>) {
        let _ = self.shared.alerts.set(sink);
    }

    /// The tap, to register on the store's write path
    /// ([`argus_tsdb::Storage::add_observer`]).
    pub fn tap(&self) -> Tap {
        self.tap.clone()
    }

    /// The reload step for `dynamic_rules:`, for the server's reload hook.
    pub fn reloader(&self) -> DetectReloader {
        DetectReloader {
            shared: self.shared.clone(),
            tap: self.tap.clone(),
        }
    }

    /// The shared state (for tests and the API).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The `argus_detect_*` self-metrics in text format.
    pub fn metrics_text(&self) -> String {
        self.shared.metrics.render()
    }

    /// Stops the tasks. Models are persisted as they are trained, so
    /// nothing is lost but queued samples and trainings.
    pub fn stop(&self) {
        for t in self.tasks.lock().iter() {
            t.abort();
        }
    }

    /// [`DetectService::stop`], then waits until the tasks have ended.
    pub async fn shutdown(&self) {
        let tasks = std::mem::take(&mut *self.tasks.lock());
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
    }
}

#[cfg(test)]
mod tests;

/// Applies a reloaded `dynamic_rules:` section (see [`reload`]): first
/// [`DetectReloader::prepare`] (may fail, changes nothing), then
/// [`DetectReloader::apply`] once every other part of the reload succeeded.
#[derive(Clone)]
pub struct DetectReloader {
    shared: Arc<Shared>,
    tap: Tap,
}

impl std::fmt::Debug for DetectReloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetectReloader").finish_non_exhaustive()
    }
}

impl DetectReloader {
    /// Validates and compiles the new configuration's dynamic rules.
    pub fn prepare(
        &self,
        rules: &[DynamicRuleConfig],
    ) -> Result<Vec<config::CompiledRule>, ConfigError> {
        reload::prepare(rules)
    }

    /// Swaps in rules from [`DetectReloader::prepare`] and points the tap at
    /// them. Blocking (deletes dropped series' model files).
    pub fn apply(&self, rules: Vec<config::CompiledRule>) -> reload::ReloadSummary {
        let sum = self.shared.apply_rules(rules);
        self.tap.set_rules(self.shared.rules(), sum.generation);
        if sum.changed_anything() {
            tracing::info!(
                added = ?sum.added,
                removed = ?sum.removed,
                changed = ?sum.changed,
                kept = sum.kept.len(),
                series_dropped = sum.series_dropped,
                "Reloaded the dynamic rules."
            );
        }
        sum
    }
}
