//! Holds on WAL segments: a reader outside the store (the remote_write
//! queue) names the oldest segment it still needs, and checkpoints delete
//! only the segments below every hold. A hold is bounded: when the held
//! segments together exceed `Options::wal_hold_max_bytes`, the oldest are
//! deleted anyway, with an error log and a counter, so a receiver that is
//! down for days cannot fill the disk.
//!
//! ```
//! # use argus_tsdb::{Db, Options};
//! # let dir = tempfile::tempdir().unwrap();
//! # let db = Db::open(dir.path(), Options::default(), std::sync::Arc::new(argus_model::SystemClock)).unwrap();
//! db.hold_wal("remote_write/vm", 1); // keep segment 1 and later
//! db.release_wal("remote_write/vm");
//! ```

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// The holds of one store.
#[derive(Debug, Default)]
pub(crate) struct Holds {
    by_reader: Mutex<BTreeMap<String, u64>>,
    /// Held segments deleted because the holds exceeded the size bound.
    pub(crate) dropped_segments: AtomicU64,
}

impl Holds {
    pub(crate) fn set(&self, reader: &str, segment: u64) {
        self.by_reader.lock().insert(reader.to_string(), segment);
    }

    pub(crate) fn release(&self, reader: &str) {
        self.by_reader.lock().remove(reader);
    }

    /// The lowest held segment, if any reader holds one.
    pub(crate) fn floor(&self) -> Option<u64> {
        self.by_reader.lock().values().min().copied()
    }

    /// The first segment a checkpoint numbered `n` must keep: `n`, or lower
    /// when a hold needs older segments, as long as those (with their
    /// `sizes`, ascending by segment) stay within `max_bytes`.
    pub(crate) fn cut(&self, n: u64, sizes: &[(u64, u64)], max_bytes: Option<u64>) -> u64 {
        let Some(floor) = self.floor().filter(|&f| f < n) else {
            return n;
        };
        let held: Vec<(u64, u64)> = sizes
            .iter()
            .copied()
            .filter(|&(s, _)| s >= floor && s < n)
            .collect();
        let mut total: u64 = held.iter().map(|x| x.1).sum();
        let mut cut = floor;
        let Some(limit) = max_bytes else {
            return cut;
        };
        let mut dropped = 0;
        for &(s, b) in &held {
            if total <= limit {
                break;
            }
            total -= b;
            cut = s + 1;
            dropped += 1;
        }
        if dropped > 0 {
            self.dropped_segments.fetch_add(dropped, Ordering::Relaxed);
            tracing::error!(
                segments = dropped,
                first_kept = cut,
                max_bytes = limit,
                "Deleting WAL segments a remote_write queue has not sent yet: the unsent WAL exceeds the bound. The samples in them will never reach the remote."
            );
        }
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_keeps_segments_up_to_the_bound() {
        let h = Holds::default();
        let sizes = [(1, 100), (2, 100), (3, 100), (4, 100)];
        assert_eq!(h.cut(4, &sizes, Some(1000)), 4);
        h.set("a", 2);
        h.set("b", 3);
        assert_eq!(h.cut(4, &sizes, None), 2);
        assert_eq!(h.cut(4, &sizes, Some(1000)), 2);
        assert_eq!(h.cut(4, &sizes, Some(150)), 3);
        assert_eq!(h.dropped_segments.load(Ordering::Relaxed), 1);
        h.release("a");
        assert_eq!(h.cut(4, &sizes, None), 3);
        h.release("b");
        assert_eq!(h.cut(4, &sizes, None), 4);
    }
}
