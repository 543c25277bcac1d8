//! Dynamic thresholds in the server: the `argus-detect` crate wired to the
//! store, the alert pipeline and the HTTP API.
//!
//! - [`config`]: the `dynamic_rules:` section.
//! - [`tap`]: every append path (remote_write, import, push, scrape, the
//!   built-in agent, recording rules) wraps its appender; after a commit the
//!   samples of matching series go to the detector task.
//! - [`engine`]: scoring as samples arrive; writes `argus_baseline_expected`,
//!   `argus_baseline_lower`, `argus_baseline_upper`, `argus_anomaly_score`,
//!   `argus_anomaly_level` and, with `anomaly` on, `argus_anomaly_stream_score`
//!   (labels: the series' labels without
//!   `__name__`, plus `metric` and `rule`); dynamic alerts into the pipeline.
//! - [`alerts`]: alert state (`for`, levels, resolve, resend) and the
//!   explanation annotations.
//! - [`trainer`], [`jobs`], [`store`]: training on the blocking pool
//!   (`detect.training_concurrency` series at once), jobs started by hand,
//!   models persisted under `<data-dir>/models/`.
//! - [`reload`]: a reloaded `dynamic_rules:` section applied to the running
//!   service ([`DetectService::reloader`]).
//! - [`api`]: `/api/v1/models`, `/api/v1/models/train[/{id}]`.
//! - [`backtest`]: the replay behind `argus backtest`.
//! - [`metrics`]: `argus_detect_*` self-metrics.
//! - [`warm`]: rebuilding a detector's online state from its series' stored
//!   history after a restart, a reload or a first sample.
//!
//! ```no_run
//! # async fn f(cfg: argus_server::config::Config, db: argus_tsdb::Db,
//! #            sink: std::sync::Arc<dyn argus_rules::AlertSink>) -> Result<(), String> {
//! use argus_server::detect::DetectService;
//! let clock = std::sync::Arc::new(argus_model::SystemClock);
//! let svc = DetectService::start(&cfg, std::path::Path::new("./data"), db.clone(), clock)?;
//! svc.set_alert_sink(sink);
//! let mut app = svc.tap().wrap(db.appender()); // an append path
//! # let _ = &mut app;
//! let router = svc.router(); // merge into the main router
//! # let _ = router;
//! svc.stop();
//! # Ok(()) }
//! ```

pub mod alerts;
pub mod api;
pub mod backtest;
pub mod config;
pub mod engine;
pub mod jobs;
pub mod metrics;
pub mod reload;
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
use argus_rules::AlertSink;
use argus_tsdb::Db;
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use config::DynamicRuleConfig;
pub use tap::{Tap, TapAppender};

use engine::{SeriesState, Shared};

/// Batches the detector task's queue holds before the tap drops.
pub const QUEUE_BATCHES: usize = 4096;

/// The running detection service.
pub struct DetectService {
    shared: Arc<Shared>,
    tap: Tap,
    tasks: Vec<JoinHandle<()>>,
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
        cfg: &crate::config::Config,
        data_dir: &Path,
        db: Db,
        clock: Arc<dyn Clock>,
    ) -> Result<DetectService, String> {
        let rules: Arc<[config::CompiledRule]> = config::compile_rules(&cfg.dynamic_rules)?.into();
        let metrics = Arc::new(metrics::DetectMetrics::default());
        let (tx, mut rx) = mpsc::channel::<tap::TapBatch>(QUEUE_BATCHES);
        let (train_tx, train_rx) = mpsc::unbounded_channel();
        let store = store::ModelStore::new(data_dir.join("models"));
        let mut maps: Vec<HashMap<_, SeriesState>> =
            (0..rules.len()).map(|_| HashMap::new()).collect();
        let (records, bad) = store::load_all(store.dir())?;
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
            let mut det = SeriesDetector::new(rules[r].spec.clone()).map_err(|e| e.to_string())?;
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
            resend_ms: cfg.rules.resend_delay.as_millis().max(1),
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
                s.process(batch);
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
        Ok(DetectService { shared, tap, tasks })
    }

    /// Connects the alert pipeline (the rules engine's outbox). Only the
    /// first call has an effect.
    pub fn set_alert_sink(&self, sink: Arc<dyn AlertSink>) {
        let _ = self.shared.alerts.set(sink);
    }

    /// The tap every append path wraps its appender with.
    pub fn tap(&self) -> Tap {
        self.tap.clone()
    }

    /// The models API, with its own state.
    pub fn router(&self) -> axum::Router {
        api::router(self.shared.clone())
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
        for t in &self.tasks {
            t.abort();
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
        cfg: &crate::config::Config,
    ) -> Result<Vec<config::CompiledRule>, String> {
        reload::prepare(&cfg.dynamic_rules)
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
