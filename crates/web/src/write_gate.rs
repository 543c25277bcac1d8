//! The ingest budget: at most `limits.max_concurrent_writes` write requests
//! are decoded and committed at once, and a request waits at most
//! `limits.write_queue_timeout` for a slot before it is refused with 503 and
//! `Retry-After`. Queries have their own budget (`query.max_concurrent`).
//!
//! ```
//! # async fn f() {
//! use argus_web::WriteGate;
//! use std::time::Duration;
//! let gate = WriteGate::new(1, Duration::from_millis(100));
//! let held = gate.enter().await.unwrap();
//! let refused = gate.enter().await.unwrap_err();
//! assert_eq!((refused.in_progress, gate.throttled_total()), (1, 1));
//! drop(held);
//! assert!(gate.enter().await.is_ok());
//! # }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bounds concurrent write requests. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct WriteGate {
    slots: Arc<Semaphore>,
    max: usize,
    timeout: Duration,
    in_flight: Arc<AtomicU64>,
    throttled: AtomicU64,
}

/// A slot in the ingest budget; the write may run while it is held.
#[derive(Debug)]
pub struct WritePermit {
    _slot: OwnedSemaphorePermit,
    in_flight: Arc<AtomicU64>,
}

impl Drop for WritePermit {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// No slot came free in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many concurrent writes: {in_progress} are in progress and this one waited {}; retry later", argus_model::PromDuration(i64::try_from(.waited.as_millis()).unwrap_or(i64::MAX)))]
pub struct Throttled {
    /// Writes running when the wait ended.
    pub in_progress: u64,
    /// How long this write waited.
    pub waited: Duration,
}

impl WriteGate {
    /// A gate with `max` slots (at least 1) and a queue deadline of `timeout`.
    pub fn new(max: usize, timeout: Duration) -> WriteGate {
        let max = max.max(1);
        WriteGate {
            slots: Arc::new(Semaphore::new(max)),
            max,
            timeout,
            in_flight: Arc::new(AtomicU64::new(0)),
            throttled: AtomicU64::new(0),
        }
    }

    /// Waits for a slot, at most the queue deadline; counts a refusal.
    pub async fn enter(&self) -> Result<WritePermit, Throttled> {
        let slot = match self.slots.clone().try_acquire_owned() {
            Ok(s) => Some(s),
            Err(_) => tokio::time::timeout(self.timeout, self.slots.clone().acquire_owned())
                .await
                .ok()
                .and_then(Result::ok),
        };
        match slot {
            Some(slot) => {
                self.in_flight.fetch_add(1, Ordering::Relaxed);
                Ok(WritePermit {
                    _slot: slot,
                    in_flight: self.in_flight.clone(),
                })
            }
            None => {
                self.throttled.fetch_add(1, Ordering::Relaxed);
                Err(Throttled {
                    in_progress: self.in_flight(),
                    waited: self.timeout,
                })
            }
        }
    }

    /// Renders `argus_write_requests_throttled_total` and
    /// `argus_write_requests_in_flight` for `/metrics`.
    pub fn render(&self, out: &mut String) {
        argus_model::exposition::write_family(
            "argus_write_requests_throttled_total",
            "counter",
            "Write requests refused with 503 because all limits.max_concurrent_writes slots stayed busy for limits.write_queue_timeout.",
            self.throttled_total() as f64,
            out,
        );
        argus_model::exposition::write_family(
            "argus_write_requests_in_flight",
            "gauge",
            "Write requests being decoded and committed now.",
            self.in_flight() as f64,
            out,
        );
        argus_model::exposition::write_family(
            "argus_write_requests_max_concurrent",
            "gauge",
            "Write requests that may be decoded and committed at once (limits.max_concurrent_writes).",
            self.max as f64,
            out,
        );
    }

    /// Slots, as configured.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Writes holding a slot now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Writes refused for want of a slot since start.
    pub fn throttled_total(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }
}
