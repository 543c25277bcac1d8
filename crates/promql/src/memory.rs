//! A memory budget shared by queries running at the same time.
//!
//! Each query is already held to its own limit (`max_memory_bytes`). A
//! [`MemoryPool`] bounds what all of them hold together: a query reserves
//! from the pool as its estimate grows and gives back as it shrinks and when
//! it ends. A query that would take the pool past its total fails at once
//! with [`PromqlError::Busy`](crate::PromqlError::Busy) instead of adding to
//! a memory peak that could take the whole process down; it may succeed when
//! retried a little later, once other queries have finished.
//!
//! ```
//! use argus_promql::MemoryPool;
//!
//! let pool = MemoryPool::new(1000);
//! let mut a = pool.reservation();
//! a.resize(600).unwrap();
//! let mut b = pool.reservation();
//! assert!(b.resize(600).is_err(), "600 + 600 is past the total");
//! assert_eq!(pool.used(), 600);
//! drop(a);
//! b.resize(600).unwrap();
//! assert_eq!(pool.used(), 600);
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::error::PromqlError;

/// The bytes all queries of one engine may hold together.
#[derive(Debug, Clone)]
pub struct MemoryPool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    total: usize,
    used: AtomicUsize,
}

impl MemoryPool {
    /// A pool of `total` bytes (at least 1).
    pub fn new(total: usize) -> MemoryPool {
        MemoryPool {
            inner: Arc::new(Inner {
                total: total.max(1),
                used: AtomicUsize::new(0),
            }),
        }
    }

    /// The pool's size in bytes.
    pub fn total(&self) -> usize {
        self.inner.total
    }

    /// Bytes reserved by the queries running now.
    pub fn used(&self) -> usize {
        self.inner.used.load(Ordering::Acquire)
    }

    /// An empty reservation; it gives back what it holds when dropped.
    pub fn reservation(&self) -> Reservation {
        Reservation {
            pool: self.clone(),
            held: 0,
        }
    }

    fn take(&self, n: usize) -> Result<(), PromqlError> {
        let total = self.inner.total;
        self.inner
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&after| after <= total)
            })
            .map(|_| ())
            .map_err(|used| PromqlError::Busy { used, limit: total })
    }

    fn give(&self, n: usize) {
        let _ = self
            .inner
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(n))
            });
    }
}

/// What one query holds of a [`MemoryPool`].
#[derive(Debug)]
pub struct Reservation {
    pool: MemoryPool,
    held: usize,
}

impl Reservation {
    /// Bytes this reservation holds.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Bytes this reservation could grow to now: what it holds plus what the
    /// pool has free.
    pub fn room(&self) -> usize {
        self.held
            .saturating_add(self.pool.total().saturating_sub(self.pool.used()))
    }

    /// The error of a query that found the pool too full: what is held by
    /// all running queries, and the pool's size.
    pub fn busy(&self) -> PromqlError {
        PromqlError::Busy {
            used: self.pool.used(),
            limit: self.pool.total(),
        }
    }

    /// Holds exactly `bytes`: takes the difference from the pool when
    /// growing (failing with `Busy`, holding what it held, when the pool
    /// lacks it), gives the difference back when shrinking.
    pub fn resize(&mut self, bytes: usize) -> Result<(), PromqlError> {
        if bytes > self.held {
            self.pool.take(bytes - self.held)?;
        } else {
            self.pool.give(self.held - bytes);
        }
        self.held = bytes;
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.pool.give(self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_growth_keeps_what_was_held() {
        let pool = MemoryPool::new(100);
        let mut r = pool.reservation();
        r.resize(40).unwrap();
        let mut other = pool.reservation();
        other.resize(50).unwrap();
        let err = r.resize(60).unwrap_err();
        assert_eq!(
            err,
            PromqlError::Busy {
                used: 90,
                limit: 100
            }
        );
        assert_eq!((r.held(), pool.used()), (40, 90));
        assert_eq!(r.room(), 50);
        r.resize(10).unwrap();
        assert_eq!(pool.used(), 60);
        drop(other);
        drop(r);
        assert_eq!(pool.used(), 0);
    }

    #[test]
    fn many_threads_never_take_the_pool_past_its_total() {
        let pool = MemoryPool::new(1000);
        let peak = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (pool, peak) = (pool.clone(), peak.clone());
                std::thread::spawn(move || {
                    let mut r = pool.reservation();
                    for k in 0..2000 {
                        let _ = r.resize((i * 37 + k * 13) % 400);
                        peak.fetch_max(pool.used(), Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!(peak.load(Ordering::Relaxed) <= 1000);
        assert_eq!(pool.used(), 0);
    }
}
