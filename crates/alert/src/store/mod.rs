//! The embedded store: one `redb` file, `alert.redb`, in the data directory. A change is
//! committed (durably, fsync) before the call that made it returns, so state survives `kill -9`.
//!
//! The store heals itself. When the disk fails (full, say), redb refuses every later call
//! until the database is closed and opened again: the store then closes it, keeps what the
//! pipeline commits with [`Store::commit_or_defer`] in memory, and retries opening the file
//! with a backoff on later calls ([`Store::heal`], which the dispatcher calls at every tick).
//! Once it opens, the kept changes are committed first, in one transaction. Changes that
//! must not be acknowledged before they are on disk (silences, acknowledgements) use
//! [`Store::commit`], which fails with [`StoreError::Unavailable`] meanwhile. While the file
//! cannot be written it is read through an in-memory overlay, so a start with a full disk
//! still loads the alerts and silences that exist. [`Store::health`] reports all this.
//!
//! Tables, all `&str → JSON bytes`:
//! - `alerts`: alert fingerprint (16 hex digits) → [`crate::dispatch::AlertRecord`]
//! - `flap`: fingerprint → [`crate::flap::FlapState`]
//! - `silences`: silence id → [`crate::silence::Silence`]
//! - `nflog`: [`crate::nflog::NotificationLog::key`] → [`crate::nflog::NflogEntry`]
//! - `escalations`: group id → [`crate::escalation::EscalationState`]
//! - `actions`: `{at:020}{seq:010}` → [`Action`], the audit history
//!
//! ```
//! use argus_alert::store::{Batch, Store, Table};
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path()).unwrap();
//! let mut b = Batch::default();
//! b.put(Table::Silences, "id-1", &serde_json::json!({"x": 1})).unwrap();
//! store.commit(b).unwrap();
//! let back: Vec<(String, serde_json::Value)> = store.load(Table::Silences).unwrap();
//! assert_eq!(back[0].0, "id-1");
//! ```

mod db;
mod health;
mod overlay;
mod pending;
#[cfg(test)]
mod tests;

pub use db::{BackendFactory, Store, StoreOptions, MAX_BACKOFF_MS, MIN_BACKOFF_MS};
pub use health::{HealthHandle, StoreHealth};

use redb::TableDefinition;
use serde::{Deserialize, Serialize};

/// The file name inside the data directory.
pub const FILE_NAME: &str = "alert.redb";

/// redb's page cache for the store, in bytes. redb's default is 1 GiB, and it
/// keeps every page it touched up to that: with the history table growing by
/// every alert, notification and action, the server's resident memory crept up
/// by about 1 MiB per 1000 failures in `argus-lab failures`. Everything the
/// pipeline needs is loaded into memory at start, so the store is written far
/// more than it is read, and history queries read through the OS page cache.
pub const CACHE_BYTES: usize = 4 << 20;

/// A store error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Creating the directory failed.
    #[error("cannot create alert store directory {path}: {source}")]
    Dir {
        /// The directory.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The database reported an error.
    #[error("alert store error: {0}")]
    Db(Box<redb::Error>),
    /// The store is failing (the disk is full, say) and the change needs to be on disk before
    /// it is acknowledged; nothing was changed.
    #[error("alert store unavailable: {reason} (failing since {since}); nothing was changed, try again once it recovers")]
    Unavailable {
        /// Why, from the last error.
        reason: String,
        /// When it started failing, RFC 3339.
        since: String,
    },
    /// A record could not be encoded or decoded.
    #[error("alert store record {key:?} in table {table}: {source}")]
    Codec {
        /// The table.
        table: &'static str,
        /// The key.
        key: String,
        /// The JSON error.
        source: serde_json::Error,
    },
}

impl StoreError {
    /// True for I/O failures that may pass (disk full, say); false for corruption or bad data.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Db(e) => matches!(**e, redb::Error::Io(_) | redb::Error::PreviousIo),
            StoreError::Dir { .. } | StoreError::Unavailable { .. } => true,
            StoreError::Codec { .. } => false,
        }
    }
}

fn db<E: Into<redb::Error>>(e: E) -> StoreError {
    StoreError::Db(Box::new(e.into()))
}

/// The reason to show for a failure: "disk full" first when that is what it is.
fn describe(e: &StoreError) -> String {
    let full = match e {
        StoreError::Db(b) => matches!(&**b, redb::Error::Io(io) if is_disk_full(io)),
        StoreError::Dir { source, .. } => is_disk_full(source),
        _ => false,
    };
    match e {
        StoreError::Db(b) if full => format!("disk full: {b}"),
        StoreError::Db(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn is_disk_full(e: &std::io::Error) -> bool {
    // ENOSPC (28) and EDQUOT (122) on Linux.
    e.kind() == std::io::ErrorKind::StorageFull || matches!(e.raw_os_error(), Some(28 | 122))
}

/// The tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Alerts with their state.
    Alerts,
    /// Flap histories.
    Flap,
    /// Silences.
    Silences,
    /// The notification log.
    Nflog,
    /// Escalation states.
    Escalations,
    /// The audit history.
    Actions,
}

impl Table {
    pub(crate) const ALL: [Table; 6] = [
        Table::Alerts,
        Table::Flap,
        Table::Silences,
        Table::Nflog,
        Table::Escalations,
        Table::Actions,
    ];

    /// The table's name in the file.
    pub fn name(self) -> &'static str {
        match self {
            Table::Alerts => "alerts",
            Table::Flap => "flap",
            Table::Silences => "silences",
            Table::Nflog => "nflog",
            Table::Escalations => "escalations",
            Table::Actions => "actions",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Table::Alerts => 0,
            Table::Flap => 1,
            Table::Silences => 2,
            Table::Nflog => 3,
            Table::Escalations => 4,
            Table::Actions => 5,
        }
    }

    pub(crate) fn def(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(self.name())
    }
}

/// One recorded action: who did what, when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// When, ms.
    pub at: i64,
    /// Who (`argus` for the system itself).
    pub who: String,
    /// What: `alert_firing`, `alert_resolved`, `notify`, `notify_failed`, `escalate`,
    /// `escalate_failed`, `ack`, `unack`, `resolve`, `silence_set`, `silence_expire`.
    pub kind: String,
    /// What it was done to: a fingerprint, group key or silence id.
    pub target: String,
    /// Free text.
    #[serde(default)]
    pub comment: String,
    /// The labels it concerns (an alert's labels; a notification's group and common labels),
    /// for filtering by matchers. Empty for silences.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

impl Action {
    /// `alerts` (alert state changes), `notifications` (deliveries and escalations) or
    /// `actions` (what people did: ack, unack, resolve, silences).
    pub fn category(&self) -> &'static str {
        match self.kind.as_str() {
            "alert_firing" | "alert_resolved" => "alerts",
            "notify" | "notify_failed" | "escalate" | "escalate_failed" => "notifications",
            _ => "actions",
        }
    }
}

/// A set of changes committed together.
#[derive(Debug, Default)]
pub struct Batch {
    ops: Vec<(Table, String, Option<Vec<u8>>)>,
    actions: Vec<Action>,
}

impl Batch {
    /// Writes `value` under `key`.
    pub fn put<T: Serialize>(&mut self, t: Table, key: &str, value: &T) -> Result<(), StoreError> {
        let v = serde_json::to_vec(value).map_err(|source| StoreError::Codec {
            table: t.name(),
            key: key.to_string(),
            source,
        })?;
        self.ops.push((t, key.to_string(), Some(v)));
        Ok(())
    }

    /// Deletes `key`.
    pub fn delete(&mut self, t: Table, key: &str) {
        self.ops.push((t, key.to_string(), None));
    }

    /// Appends an action to the history.
    pub fn action(&mut self, a: Action) {
        self.actions.push(a);
    }

    /// True when there is nothing to commit.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.actions.is_empty()
    }
}
