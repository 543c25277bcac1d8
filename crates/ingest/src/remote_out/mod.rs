//! Prometheus remote_write out: one queue per `remote_write` entry, each
//! reading the store's WAL from a saved position and sending remote_write
//! 1.0 requests (protobuf `WriteRequest`, snappy) to its receiver.
//!
//! - The queue's position is saved in `<data>/remote_write/<name>/position`
//!   after every acknowledged window, and the WAL segments from it on are
//!   held from deletion by checkpoints ([`argus_tsdb::Db::hold_wal`]), so
//!   a restart or a receiver outage loses nothing the store acknowledged.
//! - `global.external_labels` are added to every series (the series' own
//!   labels win), then `write_relabel_configs` are applied.
//! - 5xx, network errors and (by default) 429 are retried with exponential
//!   backoff between `min_backoff` and `max_backoff`, honouring `Retry-After`;
//!   other 4xx answers drop the batch, logged and counted.
//!
//! ```no_run
//! use argus_ingest::remote_out::{RemoteWrite, RemoteWriteConfig};
//! # async fn demo(db: argus_tsdb::Db) {
//! let clock = std::sync::Arc::new(argus_model::SystemClock);
//! let rw = RemoteWrite::new(db.clone(), db.dir().join("remote_write"), clock);
//! let cfg = vec![RemoteWriteConfig::new("http://127.0.0.1:8428/api/v1/write")];
//! rw.apply(&cfg, &Default::default()).unwrap();
//! let mut text = String::new();
//! rw.render(&mut text); // argus_remote_storage_samples_total{remote_name=..., url=...} ...
//! rw.shutdown().await;
//! # }
//! ```

mod client;
mod config;
mod cursor;
mod proto;
mod queue;

pub use client::USER_AGENT;
pub use config::{validate_all, QueueConfig, RemoteConfigError, RemoteWriteConfig};
pub use cursor::Position;
pub use proto::{encode_write_request, OutSeries};

use crate::scrape::http::HttpConfigError;
use argus_model::Clock;
use argus_tsdb::Db;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A series' label set as sent (sorted), shared by its samples.
pub(crate) type Labels = Arc<Vec<(String, String)>>;

/// A queue's counters and gauges (see [`RemoteWrite::render`]).
#[derive(Debug)]
pub struct QueueMetrics {
    pub(crate) url: String,
    pub(crate) external: BTreeMap<String, String>,
    pub(crate) samples_sent: AtomicU64,
    pub(crate) samples_failed: AtomicU64,
    pub(crate) samples_retried: AtomicU64,
    pub(crate) samples_dropped: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) highest_sent: AtomicI64,
    pub(crate) pending: AtomicU64,
    pub(crate) shards: AtomicU64,
    pub(crate) segment: AtomicU64,
    pub(crate) sends: AtomicU64,
    pub(crate) send_micros: AtomicU64,
}

impl QueueMetrics {
    fn new(url: &str, external: &BTreeMap<String, String>) -> QueueMetrics {
        QueueMetrics {
            url: url.to_string(),
            external: external.clone(),
            samples_sent: AtomicU64::new(0),
            samples_failed: AtomicU64::new(0),
            samples_retried: AtomicU64::new(0),
            samples_dropped: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            highest_sent: AtomicI64::new(i64::MIN),
            pending: AtomicU64::new(0),
            shards: AtomicU64::new(0),
            segment: AtomicU64::new(0),
            sends: AtomicU64::new(0),
            send_micros: AtomicU64::new(0),
        }
    }

    pub(crate) fn record_duration(&self, d: Duration) {
        self.sends.fetch_add(1, Ordering::Relaxed);
        self.send_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// Samples acknowledged by the receiver so far.
    pub fn samples_sent(&self) -> u64 {
        self.samples_sent.load(Ordering::Relaxed)
    }
}

/// Why the remote_write list could not be put in force.
#[derive(Debug, thiserror::Error)]
pub enum RemoteWriteError {
    /// An entry is invalid.
    #[error(transparent)]
    Config(#[from] RemoteConfigError),
    /// An entry's HTTP client could not be built (a TLS file, say).
    #[error("remote_write {remote:?}: {source}")]
    Client {
        /// The entry's name.
        remote: String,
        /// What failed.
        #[source]
        source: HttpConfigError,
    },
    /// Called outside a tokio runtime.
    #[error("remote_write queues must start inside a tokio runtime")]
    NoRuntime,
}

struct Running {
    cfg: RemoteWriteConfig,
    external: BTreeMap<String, String>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    metrics: Arc<QueueMetrics>,
}

/// The remote_write queues of one server: started, changed and stopped by
/// [`RemoteWrite::apply`].
pub struct RemoteWrite {
    db: Db,
    dir: PathBuf,
    clock: Arc<dyn Clock>,
    running: Mutex<BTreeMap<String, Running>>,
}

impl RemoteWrite {
    /// Queues over `db`'s WAL, keeping their state under `dir`
    /// (`<data>/remote_write`).
    pub fn new(db: Db, dir: PathBuf, clock: Arc<dyn Clock>) -> RemoteWrite {
        RemoteWrite {
            db,
            dir,
            clock,
            running: Mutex::new(BTreeMap::new()),
        }
    }

    /// Builds the queues' HTTP clients for `list`, checking it; changes nothing.
    pub fn prepare(list: &[RemoteWriteConfig]) -> Result<(), RemoteWriteError> {
        validate_all(list)?;
        for c in list {
            client::Client::new(c).map_err(|source| RemoteWriteError::Client {
                remote: c.queue_name(),
                source,
            })?;
        }
        Ok(())
    }

    /// Puts `list` in force: new entries start, removed ones stop, changed
    /// ones (or all, when `external_labels` changed) restart from their
    /// saved position. The WAL holds of new queues are taken before this
    /// returns, so no checkpoint deletes what they will read.
    pub fn apply(
        &self,
        list: &[RemoteWriteConfig],
        external_labels: &BTreeMap<String, String>,
    ) -> Result<(), RemoteWriteError> {
        Self::prepare(list)?;
        let rt = tokio::runtime::Handle::try_current().map_err(|_| RemoteWriteError::NoRuntime)?;
        let mut running = self.running.lock();
        let wanted: HashMap<String, &RemoteWriteConfig> =
            list.iter().map(|c| (c.queue_name(), c)).collect();
        let names: Vec<String> = running.keys().cloned().collect();
        let mut previous: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
        for name in names {
            let keep = match (running.get(&name), wanted.get(&name)) {
                (Some(r), Some(c)) => r.cfg == **c && r.external == *external_labels,
                _ => false,
            };
            if keep {
                continue;
            }
            if let Some(r) = running.remove(&name) {
                let _ = r.stop.send(true);
                if wanted.contains_key(&name) {
                    previous.insert(name.clone(), r.task);
                } else {
                    self.db.release_wal(&queue::hold_name(&name));
                    tracing::info!(remote = %name, "Stopping a remote_write queue that is no longer configured.");
                }
            }
        }
        for c in list {
            let name = c.queue_name();
            if running.contains_key(&name) {
                continue;
            }
            let dir = self.dir.join(&name);
            self.take_hold(&name, &dir);
            let metrics = Arc::new(QueueMetrics::new(&c.url, external_labels));
            let client = client::Client::new(c).map_err(|source| RemoteWriteError::Client {
                remote: name.clone(),
                source,
            })?;
            let q = queue::Queue {
                name: name.clone(),
                cfg: c.clone(),
                client,
                db: self.db.clone(),
                dir,
                metrics: metrics.clone(),
                clock: self.clock.clone(),
            };
            let (stop, stopped) = watch::channel(false);
            let before = previous.remove(&name);
            let task = rt.spawn(async move {
                if let Some(h) = before {
                    let _ = h.await;
                }
                q.run(stopped).await;
            });
            running.insert(
                name,
                Running {
                    cfg: c.clone(),
                    external: external_labels.clone(),
                    stop,
                    task,
                    metrics,
                },
            );
        }
        Ok(())
    }

    /// Holds the WAL from the saved position's segment, or from the newest
    /// segment for a queue without one (it starts at the end).
    fn take_hold(&self, name: &str, dir: &std::path::Path) {
        let seg = match Position::load(&dir.join("position")) {
            Some(p) => p.segment,
            None => argus_tsdb::wal_read::list(self.db.wal_dir())
                .ok()
                .and_then(|f| f.segments.last().copied())
                .unwrap_or(0),
        };
        self.db.hold_wal(&queue::hold_name(name), seg);
    }

    /// The metrics of the running queues, by name.
    pub fn metrics(&self) -> Vec<(String, Arc<QueueMetrics>)> {
        self.running
            .lock()
            .iter()
            .map(|(n, r)| (n.clone(), r.metrics.clone()))
            .collect()
    }

    /// Stops every queue, letting each finish or abandon its current send
    /// (what was not acknowledged is sent again after the next start).
    pub async fn shutdown(&self) {
        let all: Vec<Running> = std::mem::take(&mut *self.running.lock())
            .into_values()
            .collect();
        for r in &all {
            let _ = r.stop.send(true);
        }
        for r in all {
            let _ = r.task.await;
        }
    }

    /// Renders the queues' self-metrics in the text format, labelled with
    /// `remote_name` and `url`, named after Prometheus's
    /// `prometheus_remote_storage_*`.
    pub fn render(&self, out: &mut String) {
        let qs = self.metrics();
        if qs.is_empty() {
            return;
        }
        type Get = fn(&QueueMetrics) -> f64;
        let families: [(&str, &str, &str, Get); 11] = [
            ("argus_remote_storage_samples_total", "counter", "Samples acknowledged by the remote.", |m| m.samples_sent.load(Ordering::Relaxed) as f64),
            ("argus_remote_storage_samples_failed_total", "counter", "Samples in batches the remote refused for good (a 4xx other than a retried 429); not sent.", |m| m.samples_failed.load(Ordering::Relaxed) as f64),
            ("argus_remote_storage_samples_retried_total", "counter", "Samples in sends that failed and were retried.", |m| m.samples_retried.load(Ordering::Relaxed) as f64),
            ("argus_remote_storage_samples_dropped_total", "counter", "Samples read from the WAL and not sent: dropped by write_relabel_configs or sample_age_limit, or of a series whose labels were not found.", |m| m.samples_dropped.load(Ordering::Relaxed) as f64),
            ("argus_remote_storage_bytes_total", "counter", "Compressed request bytes acknowledged by the remote.", |m| m.bytes_sent.load(Ordering::Relaxed) as f64),
            ("argus_remote_storage_samples_pending", "gauge", "Samples read from the WAL and not yet acknowledged.", |m| m.pending.load(Ordering::Relaxed) as f64),
            ("argus_remote_storage_shards", "gauge", "Parallel sends the queue uses now.", |m| m.shards.load(Ordering::Relaxed) as f64),
            ("argus_remote_storage_queue_highest_sent_timestamp_seconds", "gauge", "Newest sample timestamp acknowledged by the remote, in seconds since the epoch.", |m| {
                let t = m.highest_sent.load(Ordering::Relaxed);
                if t == i64::MIN { 0.0 } else { t as f64 / 1000.0 }
            }),
            ("argus_remote_storage_wal_segment", "gauge", "The WAL segment the queue's saved position is in.", |m| m.segment.load(Ordering::Relaxed) as f64),
            ("argus_remote_storage_send_seconds_total", "counter", "Time spent in acknowledged sends.", |m| m.send_micros.load(Ordering::Relaxed) as f64 / 1e6),
            ("argus_remote_storage_sends_total", "counter", "Acknowledged requests.", |m| m.sends.load(Ordering::Relaxed) as f64),
        ];
        for (name, kind, help, get) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (qname, m) in &qs {
                let _ = writeln!(
                    out,
                    "{name}{{remote_name=\"{}\",url=\"{}\"}} {}",
                    escape(qname),
                    escape(&m.url),
                    fmt_value(get(m))
                );
            }
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn fmt_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
