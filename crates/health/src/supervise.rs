//! Supervision of the health service's long-running tasks: a task that panics
//! (a probe answer that trips a bug, say) is built again and restarted after a
//! pause, instead of ending that check silently. Each restart is logged and
//! counted, and the counts are written as `argus_health_task_restarts_total`.
//!
//! ```
//! # async fn f() {
//! use argus_health::supervise::{supervise, Restarts};
//! let restarts = Restarts::default();
//! let task = supervise("probe api/0".into(), restarts.clone(), std::time::Duration::from_secs(1), || async {
//!     // one loop of checks; it returns only when the check is done for good
//! });
//! task.await;
//! assert_eq!(restarts.total(), 0);
//! # }
//! ```

use futures::FutureExt;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

/// Restart counts by task name, shared between the supervisors and the writer
/// of the series.
#[derive(Debug, Clone, Default)]
pub struct Restarts(Arc<Mutex<BTreeMap<String, u64>>>);

impl Restarts {
    fn bump(&self, task: &str) -> u64 {
        let mut m = self.0.lock();
        let n = m.entry(task.to_string()).or_insert(0);
        *n += 1;
        *n
    }

    /// Every task that was restarted at least once, with its count.
    pub fn counts(&self) -> Vec<(String, u64)> {
        self.0.lock().iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Restarts of all tasks together.
    pub fn total(&self) -> u64 {
        self.0.lock().values().sum()
    }
}

/// Runs the future `make` builds; when it panics, logs the panic, counts it
/// under `name`, waits `pause` and runs a freshly built one. Returns when a
/// run ends normally. Aborting the task that awaits this aborts the run too
/// (it is polled inline, not spawned).
pub async fn supervise<F, Fut>(name: String, restarts: Restarts, pause: Duration, make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        match AssertUnwindSafe(make()).catch_unwind().await {
            Ok(()) => return,
            Err(panic) => {
                let n = restarts.bump(&name);
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".into());
                tracing::error!(task = %name, restarts = n, panic = %msg, "A health task panicked; it is restarted after {pause:?}.");
                tokio::time::sleep(pause).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_panicking_task_is_restarted_and_counted() {
        let runs = Arc::new(AtomicU32::new(0));
        let restarts = Restarts::default();
        let r = runs.clone();
        supervise(
            "probe x/0".into(),
            restarts.clone(),
            Duration::from_secs(1),
            move || {
                let r = r.clone();
                async move {
                    let n = r.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    if n < 2 {
                        panic!("bad answer {n}");
                    }
                }
            },
        )
        .await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            3,
            "two panics, then a clean run"
        );
        assert_eq!(restarts.counts(), vec![("probe x/0".to_string(), 2)]);
        assert_eq!(restarts.total(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_clean_task_runs_once() {
        let restarts = Restarts::default();
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        supervise("t".into(), restarts.clone(), Duration::ZERO, move || {
            let r = r.clone();
            async move {
                r.fetch_add(1, Ordering::SeqCst);
            }
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(restarts.counts().is_empty());
    }
}
