//! The log service: the log store under `<data>/logs/`, its maintenance
//! (flushes, fsyncs, retention), the push endpoints (Loki, OTLP/HTTP, JSON
//! lines, plain text), the syslog listeners, the NATS JetStream sources, and Loki's query API over the
//! store. The decoding, storing and querying live in `argus-logs`; this
//! crate is the HTTP and task wiring, and the `logs:` configuration section.
//!
//! ```no_run
//! # async fn f() {
//! use argus_log_service::config::LogsConfig;
//! use std::sync::Arc;
//! let clock: Arc<dyn argus_model::Clock> = Arc::new(argus_model::SystemClock);
//! let gate = Arc::new(argus_web::WriteGate::new(4, std::time::Duration::from_secs(10)));
//! let mut up = argus_web::parts::Components::default();
//! let logs = argus_log_service::start(&LogsConfig::default(), "./data".as_ref(), clock, gate, None, None, &mut up)
//!     .await
//!     .unwrap();
//! assert!(logs.is_some());
//! # }
//! ```

mod anomaly;
pub use anomaly::{ERROR_BURST_ALERT, NEW_TEMPLATE_ALERT};
pub mod config;
pub mod events;
pub mod metrics;
mod nats;
mod push;
mod query;
mod syslog;
mod templates;

use crate::config::LogsConfig;
use argus_logs::record::Decoded;
use argus_logs::store::{LogStore, StoreError};
use argus_model::Clock;
use argus_web::parts::{Components, Part};
use argus_web::WriteGate;
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The sub-directory of the data directory that holds logs.
pub const STORE_DIR: &str = "logs";

/// Why logs could not start.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// The store could not be opened.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A syslog listener could not bind.
    #[error("cannot listen for syslog on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A `logs.metrics` rule is invalid.
    #[error("{0}")]
    Metrics(config::LogsConfigError),
    /// The opening task failed.
    #[error("the log store's opening task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    requests_failed: AtomicU64,
    lines_received: AtomicU64,
    lines_refused: AtomicU64,
    wal_failures: AtomicU64,
    flush_failures: AtomicU64,
}

/// The running log store and what the endpoints share.
pub struct LogsRuntime {
    store: Arc<LogStore>,
    clock: Arc<dyn Clock>,
    cfg: LogsConfig,
    writes: Arc<WriteGate>,
    counters: Counters,
    /// The last write or flush failure, until a later one succeeds.
    problem: Mutex<Option<String>>,
    dir: PathBuf,
    metrics: Mutex<Option<Arc<metrics::LogMetrics>>>,
    events: Option<Arc<events::EventMix>>,
    anomalies: Option<Arc<anomaly::LogAnomalies>>,
    nats: nats::NatsSources,
}

impl std::fmt::Debug for LogsRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogsRuntime")
            .field("dir", &self.dir)
            .finish()
    }
}

/// Opens the log store (replaying its WAL) and starts maintenance, the
/// routes, the syslog listeners and the NATS sources; `None` when `logs.enabled` is false.
pub async fn start(
    cfg: &LogsConfig,
    data_dir: &Path,
    clock: Arc<dyn Clock>,
    writes: Arc<WriteGate>,
    storage: Option<argus_tsdb::Storage>,
    alerts: Option<events::AlertSink>,
    up: &mut Components,
) -> Result<Option<Arc<LogsRuntime>>, LogsError> {
    if !cfg.enabled {
        return Ok(None);
    }
    let dir = data_dir.join(STORE_DIR);
    let opts = cfg.store_options();
    let d = dir.clone();
    let started = std::time::Instant::now();
    let (store, report) = tokio::task::spawn_blocking(move || LogStore::open(&d, opts)).await??;
    for w in &report.warnings {
        tracing::warn!(dir = %dir.display(), "{w}");
    }
    tracing::info!(
        dir = %dir.display(),
        chunks = report.chunks,
        replayed_lines = report.replayed,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "Opened the log store and replayed its WAL."
    );
    let rules = metrics::compile(&cfg.metrics).map_err(LogsError::Metrics)?;
    let now_ns = clock.now_ms().saturating_mul(1_000_000);
    let log_metrics =
        (!rules.is_empty()).then(|| Arc::new(metrics::LogMetrics::new(rules, now_ns)));
    let rt = Arc::new(LogsRuntime {
        store: Arc::new(store),
        clock,
        cfg: cfg.clone(),
        writes,
        counters: Counters::default(),
        problem: Mutex::new(None),
        dir,
        metrics: Mutex::new(log_metrics),
        events: alerts
            .clone()
            .filter(|_| cfg.event_mix)
            .map(|sink| Arc::new(events::EventMix::new(sink))),
        anomalies: alerts.filter(|_| cfg.anomalies.enabled).map(|sink| {
            let s = anomaly::AnomalySettings {
                learn_ns: cfg.anomalies.learn.as_millis().saturating_mul(1_000_000),
                error_burst_min: cfg.anomalies.error_burst_min,
            };
            Arc::new(anomaly::LogAnomalies::new(s, sink))
        }),
        nats: nats::NatsSources::new(&cfg.nats),
    });
    if let Some(a) = rt.anomalies.clone() {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let r = rt.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
            loop {
                tokio::select! {
                    _ = tick.tick() => a.tick(r.now_ns()),
                    _ = stopped.wait_for(|s| *s) => return,
                }
            }
        });
        up.push(Part::signalled_task("log anomalies", stop, task));
    }
    if let Some(m) = rt.events.clone() {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(run_event_mix(rt.clone(), m, stopped));
        up.push(Part::signalled_task("event mix", stop, task));
    }
    // Running even with no rule, so a reload can add some.
    if let Some(storage) = storage {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(run_metrics(rt.clone(), storage, stopped));
        up.push(Part::signalled_task("log metrics", stop, task));
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(maintain(rt.clone(), stopped));
    up.push(Part::signalled_task("log maintenance", stop, task));
    syslog::start(&rt, up).await?;
    nats::start(&rt, up);
    let s = rt.store.clone();
    up.push(
        Part::new("logs")
            .routes(
                push::router(rt.clone())
                    .merge(query::router(rt.clone()))
                    .merge(events::router(rt.clone()))
                    .merge(templates::router(rt.clone())),
            )
            .on_stop(async move {
                let _ = tokio::task::spawn_blocking(move || s.sync()).await;
            }),
    );
    Ok(Some(rt))
}

/// Flushes, fsyncs and applies retention every few seconds on a blocking
/// thread; a failure is logged, counted and shown in the status banner, and
/// retried at the next round.
async fn maintain(rt: Arc<LogsRuntime>, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        let r = rt.clone();
        let res = tokio::task::spawn_blocking(move || {
            r.store.maintain(r.clock.now_ms().saturating_mul(1_000_000))
        })
        .await;
        match res {
            Ok(Ok(())) => {
                let mut p = rt.problem.lock();
                if p.as_deref().is_some_and(|p| p.starts_with("flush:")) {
                    *p = None;
                    tracing::info!("The log store writes chunks again.");
                }
            }
            Ok(Err(e)) => {
                rt.counters.flush_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "Writing log lines to a chunk failed; they stay in memory and in the WAL, and it will be retried.");
                *rt.problem.lock() = Some(format!("flush: {e}"));
            }
            Err(e) => tracing::error!(error = %e, "The log maintenance task failed."),
        }
    }
}

/// Evaluates the log metric rules in force that are due, every second.
async fn run_metrics(
    rt: Arc<LogsRuntime>,
    storage: argus_tsdb::Storage,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        let Some(m) = rt.metrics.lock().clone() else {
            continue;
        };
        let (r, s) = (rt.clone(), storage.clone());
        let res = tokio::task::spawn_blocking(move || m.run_due(&r, &s, r.now_ns())).await;
        if let Err(e) = res {
            tracing::error!(error = %e, "The log metrics task failed.");
        }
    }
}

/// Judges closed event windows (and trains the event-mix model when due)
/// every ten seconds.
async fn run_event_mix(
    rt: Arc<LogsRuntime>,
    m: Arc<events::EventMix>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        let (r, m) = (rt.clone(), m.clone());
        if let Err(e) = tokio::task::spawn_blocking(move || m.tick(&**r.store(), r.now_ns())).await
        {
            tracing::error!(error = %e, "The event-mix task failed.");
        }
    }
}

impl LogsRuntime {
    /// Puts new log metric rules in force (a reload); each starts at its next
    /// interval boundary. Rules whose settings did not change keep their
    /// counters and their place.
    pub fn set_metric_rules(
        &self,
        rules: Vec<(crate::config::LogMetricConfig, argus_logs::logql::Query)>,
    ) {
        let mut m = self.metrics.lock();
        let same = m
            .as_ref()
            .is_some_and(|old| old.configs() == rules.iter().map(|r| &r.0).collect::<Vec<_>>());
        if same {
            return;
        }
        *m = (!rules.is_empty()).then(|| Arc::new(metrics::LogMetrics::new(rules, self.now_ns())));
    }

    /// The store, for queries and tests.
    pub fn store(&self) -> &Arc<LogStore> {
        &self.store
    }

    /// Now, in nanoseconds, from the injected clock.
    fn now_ns(&self) -> i64 {
        self.clock.now_ms().saturating_mul(1_000_000)
    }

    /// Stores what a decoder kept; the refusals of the decoder and of the
    /// store are counted together. `Err` when nothing could be written (the
    /// WAL failed): then nothing of the request was acknowledged.
    fn store_decoded(&self, d: Decoded) -> Result<Stored, StoreError> {
        self.store_records(d, true)
    }

    /// Stores lines; with `learn`, the stored ones also feed the log
    /// anomaly alerts (events do not).
    fn store_records(&self, d: Decoded, learn: bool) -> Result<Stored, StoreError> {
        let n = d.records.len();
        let mut refused = d.refused;
        let now = self.now_ns();
        // Learned before the write, so the lines need no copy: the store keeps
        // exactly those inside its time window, unless the write fails (then
        // the sender retries and a line is seen twice, which the alerts bear).
        if let (Some(a), true) = (&self.anomalies, learn) {
            let (lo, hi) = self.store.accepted_window(now);
            a.observe(
                d.records.iter().filter(|x| x.ts_ns >= lo && x.ts_ns <= hi),
                now,
            );
        }
        match self.store.append(d.records, now) {
            Ok(r) => {
                refused.extend(r.refused);
                self.counters
                    .lines_received
                    .fetch_add(r.accepted as u64, Ordering::Relaxed);
                self.counters
                    .lines_refused
                    .fetch_add(refused.len() as u64, Ordering::Relaxed);
                let mut p = self.problem.lock();
                if p.as_deref().is_some_and(|p| p.starts_with("wal:")) {
                    *p = None;
                    tracing::info!("The log WAL accepts writes again.");
                }
                Ok(Stored {
                    accepted: r.accepted,
                    refused,
                })
            }
            Err(e) => {
                self.counters.wal_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, lines = n, "A log push could not be written; nothing of it was acknowledged.");
                *self.problem.lock() = Some(format!("wal: {e}"));
                Err(e)
            }
        }
    }

    /// Sentences for the status banner: logs that cannot be written, log
    /// metrics that fail.
    pub fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self.store_problem().into_iter().collect();
        if let Some(m) = self.metrics.lock().clone() {
            out.extend(m.problems());
        }
        out.extend(self.nats.problems());
        out
    }

    fn store_problem(&self) -> Option<String> {
        self.problem.lock().as_ref().map(|p| {
            let detail = p.split_once(": ").map_or(p.as_str(), |x| x.1);
            if p.starts_with("wal:") {
                format!("Log lines cannot be stored: {detail}. Senders are asked to retry; nothing they sent is lost.")
            } else {
                format!("Log lines cannot be moved to compressed chunks: {detail}. They are kept in memory and in the WAL until it works again.")
            }
        })
    }

    /// The log self-metrics in Prometheus's text format.
    pub fn metrics_text(&self, out: &mut String) {
        use std::fmt::Write;
        let s = self.store.stats();
        let c = &self.counters;
        let rows: [(&str, &str, &str, u64); 9] = [
            ("argus_log_push_requests_total", "counter", "Log push requests received.", c.requests.load(Ordering::Relaxed)),
            ("argus_log_push_requests_failed_total", "counter", "Log push requests answered with an error (some or all lines refused, or nothing stored).", c.requests_failed.load(Ordering::Relaxed)),
            ("argus_log_lines_received_total", "counter", "Log lines stored.", c.lines_received.load(Ordering::Relaxed)),
            ("argus_log_lines_refused_total", "counter", "Log lines refused (bad record, wild timestamp, too long).", c.lines_refused.load(Ordering::Relaxed)),
            ("argus_log_wal_failures_total", "counter", "Log pushes refused because the WAL could not be written.", c.wal_failures.load(Ordering::Relaxed)),
            ("argus_log_flush_failures_total", "counter", "Failed attempts to write log lines to a chunk.", c.flush_failures.load(Ordering::Relaxed)),
            ("argus_log_head_lines", "gauge", "Log lines in memory, not yet in a chunk.", s.head_lines as u64),
            ("argus_log_chunks", "gauge", "Log chunk files.", s.chunks as u64),
            ("argus_log_chunk_bytes", "gauge", "Bytes of log chunk files on disk.", s.chunk_bytes),
        ];
        for (name, kind, help, v) in rows {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        }
        if let Some(m) = self.metrics.lock().clone() {
            m.metrics_text(out);
        }
        if let Some(e) = &self.events {
            e.metrics_text(out);
        }
        if let Some(a) = &self.anomalies {
            a.metrics_text(out);
        }
        self.nats.metrics_text(out);
    }
}

/// What one push stored and refused.
#[derive(Debug)]
struct Stored {
    accepted: usize,
    refused: Vec<argus_logs::record::Refusal>,
}

impl Stored {
    fn summary(&self) -> String {
        argus_logs::record::summarise(self.accepted, &self.refused)
    }
}
