//! One remote's queue: read a window of samples after the saved position,
//! split it into shards by series (so each series' samples stay in order),
//! send each shard's batches with retries, and once every shard is done
//! save the position and move the WAL hold.

use super::client::{backoff, Client, Outcome};
use super::cursor::{Cursor, Item, Position};
use super::proto::{compress, encode_write_request, OutSeries};
use super::{QueueMetrics, RemoteWriteConfig};
use argus_model::Clock;
use argus_tsdb::Db;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often a queue that has read everything looks for new records.
const POLL: Duration = Duration::from_millis(50);

/// Everything one queue task needs.
pub(crate) struct Queue {
    pub(crate) name: String,
    pub(crate) cfg: RemoteWriteConfig,
    pub(crate) client: Client,
    pub(crate) db: Db,
    pub(crate) dir: PathBuf,
    pub(crate) metrics: Arc<QueueMetrics>,
    pub(crate) clock: Arc<dyn Clock>,
}

/// The WAL hold's reader name of queue `name`.
pub(crate) fn hold_name(name: &str) -> String {
    format!("remote_write/{name}")
}

impl Queue {
    fn position_path(&self) -> PathBuf {
        self.dir.join("position")
    }

    /// Runs until `stop` turns true; what was acknowledged is saved.
    pub(crate) async fn run(self, mut stop: watch::Receiver<bool>) {
        let q = Arc::new(self);
        let start = Position::load(&q.position_path());
        let (wal_dir, ext, rel) = (
            q.db.wal_dir().to_path_buf(),
            q.metrics.external.clone(),
            q.cfg.write_relabel_configs.clone(),
        );
        let opened =
            tokio::task::spawn_blocking(move || Cursor::open(&wal_dir, start, ext, rel)).await;
        let mut cursor = match opened {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                tracing::error!(remote = %q.name, error = %e, "The remote_write queue cannot read the WAL; it does not start.");
                return;
            }
            Err(e) => {
                tracing::error!(remote = %q.name, error = %e, "The remote_write queue's start task failed.");
                return;
            }
        };
        tracing::info!(remote = %q.name, url = %q.cfg.url, position = ?cursor.position(), series = cursor.series_count(), "The remote_write queue started.");
        let qc = &q.cfg.queue_config;
        // The shard count of the last window, so that a window resent after
        // a crash is split into the same batches (a receiver such as
        // Prometheus refuses a batch that mixes resent and new samples).
        let mut shards = load_shards(&q.dir)
            .unwrap_or(qc.min_shards)
            .clamp(qc.min_shards.max(1), qc.max_shards.max(1));
        q.save(cursor.position(), shards);
        q.metrics.shards.store(shards as u64, Ordering::Relaxed);
        let mut window: Vec<Item> = Vec::new();
        let mut window_started: Option<Instant> = None;
        loop {
            if *stop.borrow() {
                break;
            }
            let room = (shards * qc.capacity).saturating_sub(window.len());
            let min_t = if qc.sample_age_limit.0 > 0 {
                q.clock.now_ms().saturating_sub(qc.sample_age_limit.0)
            } else {
                i64::MIN
            };
            let before = window.len();
            let res = tokio::task::spawn_blocking(move || {
                let r = cursor.read(room, min_t, &mut window);
                (cursor, window, r)
            })
            .await;
            let (c, w, r) = match res {
                Ok(x) => x,
                Err(e) => {
                    tracing::error!(remote = %q.name, error = %e, "The remote_write queue's read task failed; the queue stops.");
                    return;
                }
            };
            cursor = c;
            window = w;
            let st = match r {
                Ok(st) => st,
                Err(e) => {
                    tracing::error!(remote = %q.name, error = %e, "The remote_write queue could not read the WAL; retrying.");
                    if sleep_or_stop(&mut stop, Duration::from_secs(1)).await {
                        break;
                    }
                    continue;
                }
            };
            q.metrics
                .samples_dropped
                .fetch_add(st.dropped, Ordering::Relaxed);
            if window.len() > before && window_started.is_none() {
                window_started = Some(Instant::now());
            }
            q.metrics
                .pending
                .store(window.len() as u64, Ordering::Relaxed);
            let full = window.len() >= shards * qc.capacity;
            let due =
                window_started.is_some_and(|s| s.elapsed() >= qc.batch_send_deadline.to_std());
            if window.is_empty() && st.dropped > 0 {
                q.save(cursor.position(), shards);
            }
            // Send when the window is full, or when everything written is read
            // and either a whole batch is there or the oldest sample waited
            // batch_send_deadline.
            let ready = st.at_end && (due || window.len() >= qc.max_samples_per_send);
            if !full && !ready {
                if st.at_end && sleep_or_stop(&mut stop, POLL).await {
                    break;
                }
                continue;
            }
            let batch = std::mem::take(&mut window);
            window_started = None;
            if !q.send_window(batch, shards, &mut stop).await {
                break; // stopped before everything was acknowledged
            }
            q.metrics.pending.store(0, Ordering::Relaxed);
            // More shards while behind, fewer once caught up.
            shards = if full && !st.at_end {
                (shards * 2).min(qc.max_shards)
            } else if st.at_end {
                (shards / 2).max(qc.min_shards)
            } else {
                shards
            };
            q.save(cursor.position(), shards);
            q.metrics.shards.store(shards as u64, Ordering::Relaxed);
        }
        tracing::info!(remote = %q.name, position = ?cursor.position(), "The remote_write queue stopped.");
    }

    /// Saves `pos` (and the shard count of the next window) and moves the
    /// WAL hold to its segment.
    fn save(&self, pos: Position, shards: usize) {
        self.db.hold_wal(&hold_name(&self.name), pos.segment);
        self.metrics.segment.store(pos.segment, Ordering::Relaxed);
        let saved = std::fs::create_dir_all(&self.dir)
            .and_then(|()| pos.save(&self.position_path()))
            .and_then(|()| save_shards(&self.dir, shards));
        if let Err(e) = saved {
            tracing::error!(remote = %self.name, error = %e, "Could not save the remote_write position; after a restart some samples may be sent twice.");
        }
    }

    /// Sends `items` split into `shards` by series, each shard's batches in
    /// order. Returns false when stopped before all were acknowledged.
    async fn send_window(
        self: &Arc<Self>,
        items: Vec<Item>,
        shards: usize,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        let mut parts: Vec<Vec<Item>> = (0..shards).map(|_| Vec::new()).collect();
        for it in items {
            let k = (it.series % shards as u64) as usize;
            parts[k].push(it);
        }
        let mut set = tokio::task::JoinSet::new();
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            let (q, stop) = (self.clone(), stop.clone());
            set.spawn(async move { q.send_shard(part, stop).await });
        }
        let mut all = true;
        while let Some(r) = set.join_next().await {
            all &= r.unwrap_or(false);
        }
        all
    }

    async fn send_shard(
        self: Arc<Self>,
        items: Vec<Item>,
        mut stop: watch::Receiver<bool>,
    ) -> bool {
        let qc = &self.cfg.queue_config;
        for chunk in items.chunks(qc.max_samples_per_send) {
            let (body, n, max_t) = encode(chunk);
            let body = match body {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(remote = %self.name, error = %e, "Could not compress a remote_write batch; it is dropped.");
                    self.metrics.samples_failed.fetch_add(n, Ordering::Relaxed);
                    continue;
                }
            };
            let mut delay = qc.min_backoff.to_std();
            loop {
                let started = Instant::now();
                match self.client.send(body.clone()).await {
                    Outcome::Sent => {
                        self.metrics.samples_sent.fetch_add(n, Ordering::Relaxed);
                        self.metrics
                            .bytes_sent
                            .fetch_add(body.len() as u64, Ordering::Relaxed);
                        self.metrics
                            .highest_sent
                            .fetch_max(max_t, Ordering::Relaxed);
                        self.metrics.record_duration(started.elapsed());
                        break;
                    }
                    Outcome::Drop { reason } => {
                        self.metrics.samples_failed.fetch_add(n, Ordering::Relaxed);
                        tracing::error!(remote = %self.name, samples = n, reason = %reason, "The remote_write receiver refused a batch; it is dropped and not retried.");
                        break;
                    }
                    Outcome::Retry {
                        retry_after,
                        reason,
                    } => {
                        self.metrics.samples_retried.fetch_add(n, Ordering::Relaxed);
                        let (wait, next) = backoff(delay, retry_after, qc.max_backoff.to_std());
                        tracing::warn!(remote = %self.name, samples = n, reason = %reason, retry_in_ms = wait.as_millis() as u64, "A remote_write send failed; retrying.");
                        delay = next;
                        if sleep_or_stop(&mut stop, wait).await {
                            return false;
                        }
                    }
                }
            }
        }
        true
    }
}

fn load_shards(dir: &std::path::Path) -> Option<usize> {
    std::fs::read_to_string(dir.join("shards"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn save_shards(dir: &std::path::Path, shards: usize) -> std::io::Result<()> {
    let path = dir.join("shards");
    if load_shards(dir) == Some(shards) {
        return Ok(());
    }
    let tmp = dir.join("shards.tmp");
    std::fs::write(&tmp, format!("{shards}\n"))?;
    std::fs::rename(&tmp, path)
}

/// Groups `items` by series (keeping time order) and encodes and
/// compresses the request. Returns the body, the sample count and the
/// newest timestamp.
fn encode(items: &[Item]) -> (Result<Vec<u8>, snap::Error>, u64, i64) {
    let mut order: Vec<OutSeries> = Vec::new();
    let mut at: HashMap<u64, usize> = HashMap::new();
    let mut max_t = i64::MIN;
    for it in items {
        max_t = max_t.max(it.t);
        let i = *at.entry(it.series).or_insert_with(|| {
            order.push(OutSeries {
                labels: it.labels.as_ref().clone(),
                samples: Vec::new(),
            });
            order.len() - 1
        });
        order[i].samples.push((it.t, it.v));
    }
    let mut raw = Vec::with_capacity(items.len() * 64);
    encode_write_request(&order, &mut raw);
    (compress(&raw), items.len() as u64, max_t)
}

/// Sleeps for `d`; true when `stop` turned true meanwhile.
async fn sleep_or_stop(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    match tokio::time::timeout(d, stop.wait_for(|s| *s)).await {
        Ok(Ok(_)) => true,
        // The sender is gone: the queue's owner dropped it.
        Ok(Err(_)) => true,
        Err(_) => false,
    }
}
