//! The threads the API's queries are evaluated on: as many as
//! `query.max_concurrent`, each at a lower scheduling priority than the rest
//! of the server (nice 10 on Linux). When heavy queries and writes compete for
//! the CPU, the writes, alert delivery and rule evaluation (all on threads at
//! the normal priority) run first, and the queries take what is left; on an
//! idle machine a query runs as fast as before.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let pool = argus_store_service::pool::QueryPool::new(2);
//! let answer = pool.run(|| 6 * 7).await.unwrap();
//! assert_eq!(answer, 42);
//! # });
//! ```

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The niceness of query threads: the kernel gives a thread at nice 10 about
/// a tenth of the CPU share of one at nice 0 when both want it.
const QUERY_NICE: i32 = 10;

/// A fixed set of lower-priority threads; dropping the pool stops them once
/// their current job ends.
#[derive(Debug)]
pub struct QueryPool {
    tx: Mutex<mpsc::Sender<Job>>,
}

/// The job's thread ended without an answer (it panicked).
#[derive(Debug, thiserror::Error)]
#[error("the query thread ended without an answer")]
pub struct Lost;

impl QueryPool {
    /// Starts `threads` (at least 1) query threads.
    pub fn new(threads: usize) -> QueryPool {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..threads.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argus-query-{n}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            // A panicking query loses its answer, not the thread.
                            Ok(job) => drop(catch_unwind(AssertUnwindSafe(job))),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "Could not start a query thread; queries run on fewer threads.");
            }
        }
        QueryPool { tx: Mutex::new(tx) }
    }

    /// Runs `f` on a query thread; its answer, or [`Lost`] if it panicked.
    pub async fn run<T, F>(&self, f: F) -> Result<T, Lost>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (done, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(f());
        });
        let sent = self.tx.lock().map_err(|_| Lost)?.send(job);
        sent.map_err(|_| Lost)?;
        answer.await.map_err(|_| Lost)
    }
}

/// Lowers the calling thread's scheduling priority (Linux: per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: setpriority on this thread's own id; no memory is touched.
        let tid = unsafe { libc::gettid() };
        let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, QUERY_NICE) };
        if rc != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), "Could not lower a query thread's priority.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_job_loses_its_answer_not_the_pool() {
        let pool = QueryPool::new(1);
        assert!(pool.run(|| panic!("boom")).await.is_err());
        assert_eq!(pool.run(|| 1 + 1).await.unwrap(), 2);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn query_threads_run_at_a_lower_priority() {
        let pool = QueryPool::new(1);
        let nice = pool
            .run(|| unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) })
            .await
            .unwrap();
        assert!(nice >= QUERY_NICE, "nice {nice}");
    }
}
