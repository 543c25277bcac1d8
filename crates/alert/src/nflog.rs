//! The notification log: for each (receiver, integration, group key), the fingerprints of the
//! firing and resolved alerts last notified, and when. The dedup stage consults it so that a
//! notification is sent only when the group changed or `repeat_interval` has passed, across
//! retries and restarts (the log is persisted by the [`crate::store::Store`]).
//!
//! ```
//! use argus_alert::nflog::{NflogEntry, NotificationLog};
//! let mut log = NotificationLog::default();
//! let key = NotificationLog::key("team", 0, "{}:{}");
//! assert!(log.needs_update(&key, &[1], &[], true, 3_600_000, 0));
//! log.log(&key, NflogEntry::new(vec![1], vec![], 0, 3_600_000));
//! assert!(!log.needs_update(&key, &[1], &[], true, 3_600_000, 60_000));
//! assert!(log.needs_update(&key, &[1], &[], true, 3_600_000, 3_600_001));
//! ```

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Entries are kept for at most this long (Alertmanager's 120h), or twice `repeat_interval`.
pub const RETENTION_MS: i64 = 120 * 3_600_000;

/// What was last notified for one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NflogEntry {
    /// Sorted fingerprints of the firing alerts notified.
    pub firing: Vec<u64>,
    /// Sorted fingerprints of the resolved alerts notified.
    pub resolved: Vec<u64>,
    /// When, ms.
    pub timestamp: i64,
    /// When the entry may be dropped, ms.
    pub expires_at: i64,
}

impl NflogEntry {
    /// An entry logged at `now` for a route with `repeat_interval` ms.
    pub fn new(mut firing: Vec<u64>, mut resolved: Vec<u64>, now: i64, repeat: i64) -> Self {
        firing.sort_unstable();
        resolved.sort_unstable();
        NflogEntry {
            firing,
            resolved,
            timestamp: now,
            expires_at: now + RETENTION_MS.min(2 * repeat.max(1)),
        }
    }

    fn firing_subset(&self, set: &[u64]) -> bool {
        set.iter().all(|f| self.firing.binary_search(f).is_ok())
    }

    fn resolved_subset(&self, set: &[u64]) -> bool {
        set.iter().all(|f| self.resolved.binary_search(f).is_ok())
    }
}

/// The log in memory.
#[derive(Debug, Default)]
pub struct NotificationLog {
    entries: HashMap<String, NflogEntry>,
}

impl NotificationLog {
    /// The key for a receiver's integration and a group: a JSON array, unambiguous for any name.
    pub fn key(receiver: &str, integration: usize, group_key: &str) -> String {
        serde_json::json!([receiver, integration, group_key]).to_string()
    }

    /// The last entry for `key`.
    pub fn get(&self, key: &str) -> Option<&NflogEntry> {
        self.entries.get(key)
    }

    /// Records a notification.
    pub fn log(&mut self, key: &str, e: NflogEntry) {
        self.entries.insert(key.to_string(), e);
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Alertmanager's `DedupStage.needsUpdate`: notify when nothing was sent before and something
    /// fires; when a firing alert is new; when everything resolved that had been notified as
    /// firing; when `send_resolved` and a resolved alert is new; or when `repeat` has passed.
    pub fn needs_update(
        &self,
        key: &str,
        firing: &[u64],
        resolved: &[u64],
        send_resolved: bool,
        repeat: i64,
        now: i64,
    ) -> bool {
        let Some(e) = self.entries.get(key) else {
            return !firing.is_empty();
        };
        if !e.firing_subset(firing) {
            return true;
        }
        if firing.is_empty() {
            return !e.firing.is_empty();
        }
        if send_resolved && !e.resolved_subset(resolved) {
            return true;
        }
        e.timestamp < now - repeat
    }

    /// Drops expired entries; returns their keys.
    pub fn gc(&mut self, now: i64) -> Vec<String> {
        let old: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| e.expires_at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &old {
            self.entries.remove(k);
        }
        old
    }
}
