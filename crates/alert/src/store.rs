//! The embedded store: one `redb` file, `alert.redb`, in the data directory. Every change is
//! committed (durably, fsync) before the call that made it returns, so state survives `kill -9`.
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

use redb::{Database, ReadableTable, TableDefinition};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The file name inside the data directory.
pub const FILE_NAME: &str = "alert.redb";

/// redb's page cache for the store, in bytes. redb's default is 1 GiB, and it
/// keeps every page it touched up to that: with the history table growing by
/// every alert, notification and action, the server's resident memory crept up
/// by about 1 MiB per 1000 failures in `argus eval failures`. Everything the
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
            StoreError::Db(e) => matches!(**e, redb::Error::Io(_)),
            StoreError::Dir { .. } => true,
            StoreError::Codec { .. } => false,
        }
    }
}

fn db<E: Into<redb::Error>>(e: E) -> StoreError {
    StoreError::Db(Box::new(e.into()))
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
    const ALL: [Table; 6] = [
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

    fn def(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
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

/// The store.
#[derive(Debug)]
pub struct Store {
    db: Database,
    seq: AtomicU64,
    commits: AtomicU64,
}

impl Store {
    /// Opens or creates `dir/alert.redb`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
            path: dir.display().to_string(),
            source,
        })?;
        let database = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(dir.join(FILE_NAME))
            .map_err(db)?;
        let tx = database.begin_write().map_err(db)?;
        for t in Table::ALL {
            tx.open_table(t.def()).map_err(db)?;
        }
        tx.commit().map_err(db)?;
        let seq = {
            let rtx = database.begin_read().map_err(db)?;
            let t = rtx.open_table(Table::Actions.def()).map_err(db)?;
            let last = t.last().map_err(db)?;
            last.and_then(|(k, _)| k.value().get(20..).and_then(|s| s.parse::<u64>().ok()))
                .map_or(0, |s| s + 1)
        };
        Ok(Store {
            db: database,
            seq: AtomicU64::new(seq),
            commits: AtomicU64::new(0),
        })
    }

    /// Commits a batch durably.
    pub fn commit(&self, b: Batch) -> Result<(), StoreError> {
        if b.is_empty() {
            return Ok(());
        }
        let tx = self.db.begin_write().map_err(db)?;
        for t in Table::ALL {
            let mut table = tx.open_table(t.def()).map_err(db)?;
            for (_, k, v) in b.ops.iter().filter(|(tt, _, _)| *tt == t) {
                match v {
                    Some(v) => {
                        table.insert(k.as_str(), v.as_slice()).map_err(db)?;
                    }
                    None => {
                        table.remove(k.as_str()).map_err(db)?;
                    }
                }
            }
            if t == Table::Actions {
                for a in &b.actions {
                    let seq = self.seq.fetch_add(1, Ordering::Relaxed);
                    let key = format!("{:020}{:010}", a.at.max(0), seq);
                    let v = serde_json::to_vec(a).map_err(|source| StoreError::Codec {
                        table: t.name(),
                        key: key.clone(),
                        source,
                    })?;
                    table.insert(key.as_str(), v.as_slice()).map_err(db)?;
                }
            }
        }
        tx.commit().map_err(db)?;
        self.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Deletes at most `max` history records older than `before_ms`, oldest
    /// first, in one transaction; returns how many went. Called by the
    /// dispatcher's garbage collection with the history retention.
    pub fn prune_actions_before(&self, before_ms: i64, max: usize) -> Result<usize, StoreError> {
        let hi = format!("{:020}", before_ms.max(0));
        let tx = self.db.begin_write().map_err(db)?;
        let n = {
            let mut table = tx.open_table(Table::Actions.def()).map_err(db)?;
            let keys: Vec<String> = table
                .range(..hi.as_str())
                .map_err(db)?
                .take(max)
                .map(|r| r.map(|(k, _)| k.value().to_string()).map_err(db))
                .collect::<Result<_, _>>()?;
            for k in &keys {
                table.remove(k.as_str()).map_err(db)?;
            }
            keys.len()
        };
        if n == 0 {
            tx.abort().map_err(db)?;
            return Ok(0);
        }
        tx.commit().map_err(db)?;
        self.commits.fetch_add(1, Ordering::Relaxed);
        Ok(n)
    }

    /// Write transactions committed since [`Store::open`] (empty batches are not committed).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Every record of a table, decoded.
    pub fn load<T: DeserializeOwned>(&self, t: Table) -> Result<Vec<(String, T)>, StoreError> {
        let rtx = self.db.begin_read().map_err(db)?;
        let table = rtx.open_table(t.def()).map_err(db)?;
        let mut out = Vec::new();
        for r in table.iter().map_err(db)? {
            let (k, v) = r.map_err(db)?;
            let key = k.value().to_string();
            let val = serde_json::from_slice(v.value()).map_err(|source| StoreError::Codec {
                table: t.name(),
                key: key.clone(),
                source,
            })?;
            out.push((key, val));
        }
        Ok(out)
    }

    /// Actions with `from <= at < to`, oldest first, at most `limit`.
    pub fn actions(&self, from: i64, to: i64, limit: usize) -> Result<Vec<Action>, StoreError> {
        self.actions_where(from, to, limit, |_| true)
    }

    /// Actions with `from <= at < to` that `keep` accepts, oldest first, at most `limit`.
    pub fn actions_where(
        &self,
        from: i64,
        to: i64,
        limit: usize,
        keep: impl Fn(&Action) -> bool,
    ) -> Result<Vec<Action>, StoreError> {
        let rtx = self.db.begin_read().map_err(db)?;
        let table = rtx.open_table(Table::Actions.def()).map_err(db)?;
        let lo = format!("{:020}", from.max(0));
        let hi = format!("{:020}", to.max(0));
        let mut out = Vec::new();
        for r in table.range(lo.as_str()..hi.as_str()).map_err(db)? {
            if out.len() >= limit {
                break;
            }
            let (k, v) = r.map_err(db)?;
            let a: Action =
                serde_json::from_slice(v.value()).map_err(|source| StoreError::Codec {
                    table: "actions",
                    key: k.value().to_string(),
                    source,
                })?;
            if keep(&a) {
                out.push(a);
            }
        }
        Ok(out)
    }
}
