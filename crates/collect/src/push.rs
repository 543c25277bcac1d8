//! Pushing to a Prometheus remote_write endpoint, through a disk buffer.
//!
//! Every gather becomes one batch: a prompb `WriteRequest`, prost-encoded and
//! snappy-compressed (`snap::raw`), appended to the [`DiskQueue`] (fsynced)
//! *before* any send. Batches are sent oldest first, one at a time, and
//! removed only after a 2xx. Connection errors, 5xx and 429 keep the batch and
//! retry with exponential backoff (from `min_backoff_ms`, doubling, capped at
//! `max_backoff_secs`, 30 s by default) while gathering goes on. Any other 4xx
//! can never succeed: that batch is dropped with an error log and counted.
//! After a restart, sending resumes at the persisted cursor: nothing acknowledged
//! is sent again, except the batch that was in flight when the agent stopped.
//!
//! Sample timestamps come from the injected [`Clock`]; the gather interval and
//! backoff waits use tokio's timer.
//!
//! ```no_run
//! use std::sync::Arc;
//! use argus_collect::{Agent, AgentConfig, PushConfig, Pusher};
//! use argus_model::SystemClock;
//!
//! # async fn demo() -> Result<(), argus_collect::CollectError> {
//! let agent = Arc::new(Agent::new(AgentConfig::default(), Arc::new(SystemClock))?);
//! let cfg = PushConfig::new("http://127.0.0.1:9090/api/v1/write", "/var/lib/argus/push");
//! let pusher = Pusher::new(cfg, agent.clone(), Arc::new(SystemClock))?;
//! agent.attach_push_stats(pusher.stats());
//! pusher.run(async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use argus_model::{prompb, Clock, Labels};
use parking_lot::Mutex;
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::expose::{to_samples, MetricFamily, MetricKind};
use crate::queue::DiskQueue;
use crate::{Agent, CollectError};

fn d_interval() -> u64 {
    15
}
fn d_max_queue() -> u64 {
    512 << 20
}
fn d_segment() -> u64 {
    8 << 20
}
fn d_timeout() -> u64 {
    10
}
fn d_min_backoff() -> u64 {
    500
}
fn d_max_backoff() -> u64 {
    30
}

/// Push settings. `url` and `queue_dir` are required; the rest have defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushConfig {
    /// The remote_write endpoint, e.g. `http://argus:9798/api/v1/write`.
    pub url: String,
    /// Directory of the on-disk queue (created if missing).
    pub queue_dir: PathBuf,
    /// Seconds between gathers. Default 15.
    #[serde(default = "d_interval")]
    pub interval_secs: u64,
    /// Queue size bound in bytes; the oldest batches are dropped beyond it. Default 512 MiB.
    #[serde(default = "d_max_queue")]
    pub max_queue_bytes: u64,
    /// Segment file size in bytes. Default 8 MiB.
    #[serde(default = "d_segment")]
    pub segment_bytes: u64,
    /// Per-request timeout in seconds. Default 10.
    #[serde(default = "d_timeout")]
    pub timeout_secs: u64,
    /// First retry delay in milliseconds. Default 500.
    #[serde(default = "d_min_backoff")]
    pub min_backoff_ms: u64,
    /// Retry delay cap in seconds. Default 30.
    #[serde(default = "d_max_backoff")]
    pub max_backoff_secs: u64,
    /// Labels added to every pushed series (e.g. `instance`, `job`). Default none.
    #[serde(default)]
    pub extra_labels: BTreeMap<String, String>,
}

impl PushConfig {
    /// A config with the defaults for everything but the endpoint and queue directory.
    pub fn new(url: impl Into<String>, queue_dir: impl Into<PathBuf>) -> Self {
        PushConfig {
            url: url.into(),
            queue_dir: queue_dir.into(),
            interval_secs: d_interval(),
            max_queue_bytes: d_max_queue(),
            segment_bytes: d_segment(),
            timeout_secs: d_timeout(),
            min_backoff_ms: d_min_backoff(),
            max_backoff_secs: d_max_backoff(),
            extra_labels: BTreeMap::new(),
        }
    }
}

/// What the pusher gathers from: the [`Agent`], or any closure returning families.
pub trait SampleSource: Send + Sync + 'static {
    /// Gathers the families to push. Called on the blocking pool.
    fn families(&self) -> Vec<MetricFamily>;
}

impl SampleSource for Agent {
    fn families(&self) -> Vec<MetricFamily> {
        self.gather()
    }
}

impl<F: Fn() -> Vec<MetricFamily> + Send + Sync + 'static> SampleSource for F {
    fn families(&self) -> Vec<MetricFamily> {
        self()
    }
}

/// Push counters, shared with the agent's self metrics.
#[derive(Debug, Default)]
pub struct PushStats {
    /// Batches waiting in the queue.
    pub queue_batches: AtomicU64,
    /// Bytes of queue segment files.
    pub queue_bytes: AtomicU64,
    /// Batches delivered (2xx).
    pub sent: AtomicU64,
    /// Send attempts that failed and will be retried.
    pub failed: AtomicU64,
    /// Batches dropped because the endpoint rejected them (4xx other than 429).
    pub dropped_rejected: AtomicU64,
    /// Batches dropped because the queue went over its size bound, or were unreadable.
    pub dropped_overflow: AtomicU64,
}

impl PushStats {
    /// Appends the push self metrics to `out`.
    pub fn families(&self, out: &mut Vec<MetricFamily>) {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        let one = |name: &'static str, help: &'static str, kind, v: f64| {
            let mut f = MetricFamily::new(name, help, kind);
            f.push(&[], v);
            f
        };
        out.push(one(
            "argus_agent_push_queue_batches",
            "Batches waiting in the push queue.",
            MetricKind::Gauge,
            g(&self.queue_batches),
        ));
        out.push(one(
            "argus_agent_push_queue_bytes",
            "Size of the push queue on disk, in bytes.",
            MetricKind::Gauge,
            g(&self.queue_bytes),
        ));
        out.push(one(
            "argus_agent_push_sent_batches_total",
            "Batches accepted by the remote_write endpoint.",
            MetricKind::Counter,
            g(&self.sent),
        ));
        out.push(one(
            "argus_agent_push_failed_attempts_total",
            "Send attempts that failed and will be retried.",
            MetricKind::Counter,
            g(&self.failed),
        ));
        let mut d = MetricFamily::new(
            "argus_agent_push_dropped_batches_total",
            "Batches dropped, by reason.",
            MetricKind::Counter,
        );
        d.push(&[("reason", "rejected")], g(&self.dropped_rejected));
        d.push(&[("reason", "overflow")], g(&self.dropped_overflow));
        out.push(d);
    }
}

/// Outcome of one send attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// Nothing was waiting.
    Empty,
    /// The oldest batch was delivered and removed.
    Sent,
    /// The oldest batch was rejected for good (4xx) and removed.
    Rejected,
}

struct Inner {
    cfg: PushConfig,
    source: Arc<dyn SampleSource>,
    clock: Arc<dyn Clock>,
    extra: Labels,
    client: reqwest::Client,
    queue: Mutex<DiskQueue>,
    stats: Arc<PushStats>,
}

/// Gathers periodically, queues on disk and delivers to a remote_write endpoint.
#[derive(Clone)]
pub struct Pusher {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Pusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pusher")
            .field("cfg", &self.inner.cfg)
            .finish()
    }
}

/// Encodes labelled samples as a snappy-compressed remote_write `WriteRequest`.
pub fn encode_write_request(samples: &[(Labels, argus_model::Sample)]) -> Vec<u8> {
    let req = prompb::WriteRequest {
        timeseries: samples
            .iter()
            .map(|(l, s)| prompb::TimeSeries {
                labels: l
                    .iter()
                    .map(|l| prompb::Label {
                        name: l.name.clone(),
                        value: l.value.clone(),
                    })
                    .collect(),
                samples: vec![prompb::Sample {
                    value: s.v,
                    timestamp: s.t,
                }],
            })
            .collect(),
        metadata: Vec::new(),
    };
    let raw = req.encode_to_vec();
    // Compressing an in-memory buffer only fails for inputs above ~4 GiB.
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, CollectError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CollectError::Config(format!("blocking task failed: {e}")))
}

impl Pusher {
    /// Opens the queue (recovering it after a crash) and builds the HTTP client.
    pub fn new(
        cfg: PushConfig,
        source: Arc<dyn SampleSource>,
        clock: Arc<dyn Clock>,
    ) -> Result<Pusher, CollectError> {
        if cfg.interval_secs == 0 {
            return Err(CollectError::Config(
                "push.interval_secs must be at least 1".into(),
            ));
        }
        if !(cfg.url.starts_with("http://") || cfg.url.starts_with("https://")) {
            return Err(CollectError::Config(format!(
                "push.url {:?} is not an http(s) URL",
                cfg.url
            )));
        }
        let queue = DiskQueue::open(&cfg.queue_dir, cfg.segment_bytes, cfg.max_queue_bytes)?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(cfg.timeout_secs.max(1)))
            .build()
            .map_err(|e| CollectError::Config(format!("cannot build the HTTP client: {e}")))?;
        let extra: Vec<(String, String)> = cfg
            .extra_labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let stats = Arc::new(PushStats::default());
        stats.queue_batches.store(queue.depth(), Ordering::Relaxed);
        stats.queue_bytes.store(queue.bytes(), Ordering::Relaxed);
        Ok(Pusher {
            inner: Arc::new(Inner {
                extra: Labels::from_pairs(&extra),
                cfg,
                source,
                clock,
                client,
                queue: Mutex::new(queue),
                stats,
            }),
        })
    }

    /// The shared counters; pass them to [`Agent::attach_push_stats`].
    pub fn stats(&self) -> Arc<PushStats> {
        Arc::clone(&self.inner.stats)
    }

    /// Batches waiting in the queue.
    pub fn depth(&self) -> u64 {
        self.inner.queue.lock().depth()
    }

    fn update_gauges(inner: &Inner, q: &DiskQueue) {
        inner
            .stats
            .queue_batches
            .store(q.depth(), Ordering::Relaxed);
        inner.stats.queue_bytes.store(q.bytes(), Ordering::Relaxed);
    }

    /// Gathers once, encodes and appends the batch to the queue (blocking: file
    /// reads and an fsync). Returns the number of samples queued.
    pub fn enqueue_blocking(&self) -> Result<usize, CollectError> {
        let inner = &self.inner;
        let fams = inner.source.families();
        let samples = to_samples(&fams, &inner.extra, inner.clock.now_ms());
        let body = encode_write_request(&samples);
        let mut q = inner.queue.lock();
        let dropped = q.append(&body)?;
        inner
            .stats
            .dropped_overflow
            .fetch_add(dropped, Ordering::Relaxed);
        Self::update_gauges(inner, &q);
        Ok(samples.len())
    }

    /// Gathers and queues one batch on the blocking pool.
    pub async fn enqueue(&self) -> Result<usize, CollectError> {
        let me = self.clone();
        blocking(move || me.enqueue_blocking()).await?
    }

    /// Tries to deliver the oldest batch once. A retryable failure returns
    /// `Err` with [`CollectError::is_retryable`] true and leaves the batch queued.
    pub async fn send_one(&self) -> Result<SendOutcome, CollectError> {
        let inner = Arc::clone(&self.inner);
        let peeked = blocking(move || {
            let mut q = inner.queue.lock();
            match q.peek() {
                Err(CollectError::Corrupt { path, offset, reason }) => {
                    let lost = q.skip_corrupt_segment()?;
                    tracing::error!(path = %path.display(), offset, reason, lost, "Push queue record is corrupt; dropped the rest of its segment.");
                    inner.stats.dropped_overflow.fetch_add(lost, Ordering::Relaxed);
                    Self::update_gauges(&inner, &q);
                    Ok(None)
                }
                other => other,
            }
        })
        .await??;
        let Some((pos, body)) = peeked else {
            return Ok(SendOutcome::Empty);
        };
        let url = &self.inner.cfg.url;
        let resp = self
            .inner
            .client
            .post(url)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .header("User-Agent", "argus-agent")
            .body(body)
            .send()
            .await;
        let status = match resp {
            Ok(r) => r.status(),
            Err(e) => {
                self.inner.stats.failed.fetch_add(1, Ordering::Relaxed);
                return Err(CollectError::Send {
                    url: url.clone(),
                    reason: e.to_string(),
                    retryable: true,
                });
            }
        };
        let outcome = if status.is_success() {
            SendOutcome::Sent
        } else if status.is_client_error() && status.as_u16() != 429 {
            tracing::error!(url = %url, status = status.as_u16(), "remote_write endpoint rejected a batch; it is dropped, since it can never succeed.");
            SendOutcome::Rejected
        } else {
            self.inner.stats.failed.fetch_add(1, Ordering::Relaxed);
            return Err(CollectError::Send {
                url: url.clone(),
                reason: format!("HTTP status {status}"),
                retryable: true,
            });
        };
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let mut q = inner.queue.lock();
            q.ack(pos)?;
            match outcome {
                SendOutcome::Sent => inner.stats.sent.fetch_add(1, Ordering::Relaxed),
                _ => inner.stats.dropped_rejected.fetch_add(1, Ordering::Relaxed),
            };
            Self::update_gauges(&inner, &q);
            Ok::<_, CollectError>(())
        })
        .await??;
        Ok(outcome)
    }

    /// Sends until the queue is empty or a send fails. Returns the batches delivered or rejected.
    pub async fn send_pending(&self) -> Result<usize, CollectError> {
        let mut n = 0;
        while self.send_one().await? != SendOutcome::Empty {
            n += 1;
        }
        Ok(n)
    }

    /// Runs until `shutdown` completes: gathers now and every `interval_secs`,
    /// and delivers queued batches with backoff. A batch in flight at shutdown
    /// stays queued and is sent again by the next pusher on the same directory.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let cfg = &self.inner.cfg;
        let interval = Duration::from_secs(cfg.interval_secs);
        let min_backoff = Duration::from_millis(cfg.min_backoff_ms.max(1));
        let max_backoff = Duration::from_secs(cfg.max_backoff_secs.max(1)).max(min_backoff);
        let mut backoff = min_backoff;
        let mut next_gather = tokio::time::Instant::now();
        let mut next_send = tokio::time::Instant::now();
        tokio::pin!(shutdown);
        loop {
            let pending = self.depth() > 0;
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep_until(next_gather) => {
                    if let Err(e) = self.enqueue().await {
                        tracing::error!(error = %e, "Could not queue a push batch.");
                    }
                    next_gather += interval;
                    let now = tokio::time::Instant::now();
                    if next_gather < now {
                        next_gather = now + interval;
                    }
                }
                res = async { tokio::time::sleep_until(next_send).await; self.send_one().await }, if pending => {
                    match res {
                        Ok(_) => {
                            backoff = min_backoff;
                            next_send = tokio::time::Instant::now();
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "remote_write failed; the batch stays queued.");
                            next_send = tokio::time::Instant::now() + backoff;
                            backoff = (backoff * 2).min(max_backoff);
                        }
                    }
                }
            }
        }
        tracing::debug!(queued = self.depth(), "Pusher stopped.");
    }
}

#[cfg(test)]
#[path = "push_tests.rs"]
mod tests;
