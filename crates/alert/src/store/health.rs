//! What the store reports about itself: healthy, or failing since a time with the last error,
//! and how many changes wait in memory for the disk. A [`HealthHandle`] reads it without
//! locking the dispatcher, for readiness checks, metrics and the UI.
//!
//! ```
//! use argus_alert::store::Store;
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path()).unwrap();
//! let h = store.health_handle();
//! assert!(h.get().healthy);
//! assert_eq!(h.get().errors_total, 0);
//! ```

use serde::Serialize;
use std::sync::{Arc, Mutex};

/// The store's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreHealth {
    /// True when the last write reached the disk and nothing waits in memory.
    pub healthy: bool,
    /// When the current failure started, ms; none when healthy.
    pub failing_since_ms: Option<i64>,
    /// The error of the current failure ("disk full: …"); none when healthy.
    pub last_error: Option<String>,
    /// Failed writes and reopen attempts since the store was opened.
    pub errors_total: u64,
    /// Changes kept in memory until the store can write them.
    pub pending_changes: usize,
    /// True while the file is only read (through an in-memory overlay).
    pub read_only: bool,
}

impl Default for StoreHealth {
    fn default() -> Self {
        StoreHealth {
            healthy: true,
            failing_since_ms: None,
            last_error: None,
            errors_total: 0,
            pending_changes: 0,
            read_only: false,
        }
    }
}

/// A shared, cheap view of a store's [`StoreHealth`].
#[derive(Debug, Clone, Default)]
pub struct HealthHandle(Arc<Mutex<StoreHealth>>);

impl HealthHandle {
    /// The health now.
    pub fn get(&self) -> StoreHealth {
        // The guarded value is replaced field by field under the lock; a panic cannot tear it.
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut StoreHealth)) {
        // As above.
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }
}
