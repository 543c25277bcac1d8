//! Shipping queued log batches to `POST {url}/api/v1/logs`, and the tailer's
//! self metrics.
//!
//! Batches are sent oldest first, one at a time. A 2xx removes the batch. A
//! 400 (some lines refused for good; the server kept the others) or a 413
//! removes it too, with an error log: sending it again cannot help and would
//! repeat the lines that were kept. Anything else (connection errors, 5xx,
//! 429, 401, 403, 404) keeps it and retries with exponential backoff from
//! 500 ms up to `max_backoff_secs`, waiting at least `Retry-After` seconds
//! when the server sends one, so lines wait on disk while the server is down.
//!
//! ```
//! use argus_collect::tail::{LogShipper, LogTailConfig};
//! let dir = tempfile::tempdir().unwrap();
//! let cfg = LogTailConfig::new("http://127.0.0.1:9797", vec![], dir.path());
//! // Settings are checked before anything is opened: `files` may not be empty.
//! assert!(LogShipper::new(cfg).is_err());
//! ```

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::state::BatchHeader;
use super::{LogTailConfig, Tailer};
use crate::expose::{MetricFamily, MetricKind};
use crate::queue::DiskQueue;
use crate::CollectError;

/// Tailer and sender counters, shared with the agent's self metrics.
#[derive(Debug, Default)]
pub struct LogStats {
    /// Records read and queued.
    pub lines_read: AtomicU64,
    /// Records delivered (in batches answered 2xx).
    pub lines_sent: AtomicU64,
    /// Lines longer than `max_line_bytes`, split.
    pub lines_split: AtomicU64,
    /// Bytes of queue segment files.
    pub queue_bytes: AtomicU64,
    /// Batches waiting.
    pub queue_batches: AtomicU64,
    /// Send attempts that failed and will be retried.
    pub send_failures: AtomicU64,
    /// Batches dropped because the server refused lines of them for good.
    pub dropped_refused: AtomicU64,
    /// Batches dropped because the queue went over its bound, or were unreadable.
    pub dropped_overflow: AtomicU64,
    /// Files being followed.
    pub files_watched: AtomicU64,
}

impl LogStats {
    /// Appends the tailing self metrics to `out`. No per-file label: the
    /// number of files a glob matches over time has no bound.
    pub fn families(&self, out: &mut Vec<MetricFamily>) {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        let mut one = |name: &'static str, help: &'static str, kind, v: f64| {
            let mut f = MetricFamily::new(name, help, kind);
            f.push(&[], v);
            out.push(f);
        };
        use MetricKind::{Counter, Gauge};
        one(
            "argus_agent_log_lines_read_total",
            "Log lines read from files and queued.",
            Counter,
            g(&self.lines_read),
        );
        one(
            "argus_agent_log_lines_sent_total",
            "Log lines accepted by the server.",
            Counter,
            g(&self.lines_sent),
        );
        one(
            "argus_agent_log_lines_split_total",
            "Log lines longer than max_line_bytes, split into pieces.",
            Counter,
            g(&self.lines_split),
        );
        one(
            "argus_agent_log_queue_bytes",
            "Size of the log send queue on disk, in bytes.",
            Gauge,
            g(&self.queue_bytes),
        );
        one(
            "argus_agent_log_queue_batches",
            "Log batches waiting in the send queue.",
            Gauge,
            g(&self.queue_batches),
        );
        one(
            "argus_agent_log_send_failures_total",
            "Log send attempts that failed and will be retried.",
            Counter,
            g(&self.send_failures),
        );
        one(
            "argus_agent_log_files_watched",
            "Log files being followed.",
            Gauge,
            g(&self.files_watched),
        );
        let mut d = MetricFamily::new(
            "argus_agent_log_dropped_batches_total",
            "Log batches dropped, by reason.",
            MetricKind::Counter,
        );
        d.push(&[("reason", "refused")], g(&self.dropped_refused));
        d.push(&[("reason", "overflow")], g(&self.dropped_overflow));
        out.push(d);
    }
}

/// Why a send did not remove its batch.
#[derive(Debug)]
struct Retry {
    reason: String,
    after: Option<Duration>,
}

/// The tailer and the sender, run together by [`LogShipper::run`].
pub struct LogShipper {
    cfg: LogTailConfig,
    tailer: Arc<Mutex<Tailer>>,
    queue: Arc<Mutex<DiskQueue>>,
    stats: Arc<LogStats>,
    client: reqwest::Client,
}

impl std::fmt::Debug for LogShipper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogShipper")
            .field("url", &self.cfg.url)
            .finish()
    }
}

async fn blocking<T: Send + Default + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap_or_default()
}

impl LogShipper {
    /// Checks the settings and opens the state directory (see [`Tailer::open`]).
    pub fn new(cfg: LogTailConfig) -> Result<LogShipper, CollectError> {
        let stats = Arc::new(LogStats::default());
        let tailer = Tailer::open(cfg.clone(), Arc::clone(&stats))?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(cfg.timeout_secs.max(1)))
            .build()
            .map_err(|e| CollectError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(LogShipper {
            queue: tailer.queue(),
            tailer: Arc::new(Mutex::new(tailer)),
            cfg,
            stats,
            client,
        })
    }

    /// The shared counters; pass them to [`crate::Agent::attach_log_stats`].
    pub fn stats(&self) -> Arc<LogStats> {
        Arc::clone(&self.stats)
    }

    fn gauges(&self, q: &DiskQueue) {
        self.stats.queue_bytes.store(q.bytes(), Ordering::Relaxed);
        self.stats.queue_batches.store(q.depth(), Ordering::Relaxed);
    }

    /// Sends the oldest batch once. `Ok(false)`: nothing was waiting.
    async fn send_one(&self) -> Result<bool, Retry> {
        let queue = Arc::clone(&self.queue);
        let stats = Arc::clone(&self.stats);
        let peeked = blocking(move || {
            let mut q = queue.lock();
            match q.peek() {
                Ok(p) => p,
                Err(e) => {
                    let lost = q.skip_corrupt_segment().unwrap_or(0);
                    tracing::error!(error = %e, lost, "Log queue record is unreadable; dropped the rest of its segment.");
                    stats.dropped_overflow.fetch_add(lost, Ordering::Relaxed);
                    None
                }
            }
        })
        .await;
        let Some((pos, rec)) = peeked else {
            return Ok(false);
        };
        let (lines, body) = match BatchHeader::split(&rec) {
            Some((h, body)) => (h.lines, body.to_vec()),
            None => (0, Vec::new()),
        };
        let url = self.cfg.endpoint();
        let mut refused = None;
        if !body.is_empty() {
            let resp = self
                .client
                .post(&url)
                .header("Content-Type", "application/x-ndjson")
                .header("User-Agent", "argus-agent")
                .body(body)
                .send()
                .await
                .map_err(|e| Retry {
                    reason: e.to_string(),
                    after: None,
                })?;
            let status = resp.status();
            let after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| Duration::from_secs(s.min(600)));
            if status.as_u16() == 400 || status.as_u16() == 413 {
                refused = Some(format!(
                    "{status}: {}",
                    resp.text().await.unwrap_or_default()
                ));
            } else if !status.is_success() {
                return Err(Retry {
                    reason: format!("HTTP status {status}"),
                    after,
                });
            }
        }
        match &refused {
            Some(why) => {
                tracing::error!(url = %url, answer = %why.trim(), "The server refused log lines of a batch; the batch is not sent again.");
                self.stats.dropped_refused.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                self.stats.lines_sent.fetch_add(lines, Ordering::Relaxed);
            }
        }
        let queue = Arc::clone(&self.queue);
        let acked = blocking(move || {
            let mut q = queue.lock();
            let r = q.ack(pos).err().map(|e| e.to_string());
            (r, q.bytes(), q.depth())
        })
        .await;
        self.stats.queue_bytes.store(acked.1, Ordering::Relaxed);
        self.stats.queue_batches.store(acked.2, Ordering::Relaxed);
        if let Some(e) = acked.0 {
            tracing::error!(error = %e, "Cannot save the log queue's cursor.");
        }
        Ok(true)
    }

    /// Polls the files once and queues what they hold (blocking).
    pub fn poll_blocking(&self) -> Result<usize, CollectError> {
        let n = self.tailer.lock().poll();
        self.gauges(&self.queue.lock());
        n
    }

    /// Runs until `shutdown` completes: polls every `poll_interval`, and sends
    /// queued batches with backoff. Work in flight at shutdown is redone by the
    /// next shipper on the same state directory.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let me = Arc::new(self);
        let poll = me.cfg.poll_interval.to_std().max(Duration::from_millis(10));
        let min_backoff = Duration::from_millis(500);
        let max_backoff = Duration::from_secs(me.cfg.max_backoff_secs.max(1));
        let wake = Arc::new(tokio::sync::Notify::new());
        let poller = {
            let (me, wake) = (Arc::clone(&me), Arc::clone(&wake));
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(poll);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let m = Arc::clone(&me);
                    match tokio::task::spawn_blocking(move || m.poll_blocking()).await {
                        Ok(Ok(n)) if n > 0 => wake.notify_one(),
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => {
                            tracing::error!(error = %e, "Log tailing failed; retrying at the next poll.")
                        }
                        Err(e) => tracing::error!(error = %e, "Log tailing task failed."),
                    }
                }
            })
        };
        let sender = {
            let (me, wake) = (Arc::clone(&me), Arc::clone(&wake));
            tokio::spawn(async move {
                let mut backoff = min_backoff;
                loop {
                    match me.send_one().await {
                        Ok(true) => backoff = min_backoff,
                        Ok(false) => {
                            let _ = tokio::time::timeout(poll, wake.notified()).await;
                        }
                        Err(r) => {
                            me.stats.send_failures.fetch_add(1, Ordering::Relaxed);
                            let wait = r.after.map_or(backoff, |a| a.max(backoff));
                            tracing::warn!(reason = %r.reason, retry_in_ms = wait.as_millis() as u64, "Sending logs failed; the batch stays queued.");
                            tokio::time::sleep(wait).await;
                            backoff = (backoff * 2).min(max_backoff);
                        }
                    }
                }
            })
        };
        shutdown.await;
        poller.abort();
        sender.abort();
        let _ = poller.await;
        let _ = sender.await;
        tracing::debug!("Log shipper stopped.");
    }
}
