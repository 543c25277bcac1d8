//! [`Store`]: the redb database, closed and opened again after I/O errors, with the changes
//! that wait for it (see the module docs of [`crate::store`]).

use super::health::{HealthHandle, StoreHealth};
use super::overlay::Overlay;
use super::pending::Pending;
use super::{db, describe, Action, Batch, StoreError, Table, CACHE_BYTES, FILE_NAME};
use argus_model::{Clock, SystemClock};
use redb::{Database, ReadableTable, StorageBackend};
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The first wait before opening a failed store again, ms; it doubles up to [`MAX_BACKOFF_MS`].
pub const MIN_BACKOFF_MS: i64 = 500;
/// The longest wait between attempts to open a failed store, ms.
pub const MAX_BACKOFF_MS: i64 = 5_000;

/// Makes the storage backend for the database file (tests inject faults with it); without
/// one the file is opened with redb's own file backend.
pub type BackendFactory =
    Arc<dyn Fn(&Path) -> std::io::Result<Box<dyn StorageBackend>> + Send + Sync>;

/// How a [`Store`] is opened.
#[derive(Clone)]
pub struct StoreOptions {
    /// Time for health reports and the reopen backoff.
    pub clock: Arc<dyn Clock>,
    /// The backend for writing; none is the plain file.
    pub backend: Option<BackendFactory>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            clock: Arc::new(SystemClock),
            backend: None,
        }
    }
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("clock", &self.clock)
            .field("backend", &self.backend.as_ref().map(|_| "custom"))
            .finish()
    }
}

#[derive(Debug)]
struct Boxed(Box<dyn StorageBackend>);

impl StorageBackend for Boxed {
    fn len(&self) -> std::io::Result<u64> {
        self.0.len()
    }
    fn read(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        self.0.read(offset, len)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self, eventual: bool) -> std::io::Result<()> {
        self.0.sync_data(eventual)
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.0.write(offset, data)
    }
}

#[derive(Debug)]
struct State {
    /// The database: writable, or read through the overlay, or none.
    db: Option<Database>,
    writable: bool,
    seq: u64,
    pending: Pending,
    next_retry_ms: i64,
    backoff_ms: i64,
}

/// The store.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    opts: StoreOptions,
    state: Mutex<State>,
    health: HealthHandle,
    commits: AtomicU64,
}

impl Store {
    /// Opens or creates `dir/alert.redb` (see [`Store::open_with`]).
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(dir, StoreOptions::default())
    }

    /// Opens or creates `dir/alert.redb`. When the disk fails (full, say) the store still
    /// opens: it reads the file as it is, reports itself failing, and becomes writable when
    /// the disk lets it. Only errors that waiting cannot fix (a corrupt file) are returned.
    pub fn open_with(dir: &Path, opts: StoreOptions) -> Result<Store, StoreError> {
        let store = Store {
            path: dir.join(FILE_NAME),
            opts,
            state: Mutex::new(State {
                db: None,
                writable: false,
                seq: 0,
                pending: Pending::default(),
                next_retry_ms: 0,
                backoff_ms: MIN_BACKOFF_MS,
            }),
            health: HealthHandle::default(),
            commits: AtomicU64::new(0),
        };
        let mut st = store.lock();
        let r = std::fs::create_dir_all(dir)
            .map_err(|source| StoreError::Dir {
                path: dir.display().to_string(),
                source,
            })
            .and_then(|()| store.open_writable());
        match r {
            Ok((database, seq)) => {
                st.db = Some(database);
                st.writable = true;
                st.seq = seq;
            }
            Err(e) if e.is_retryable() => {
                tracing::error!(file = %store.path.display(), error = %e, "Cannot write the alert store; starting from what it holds, and keeping changes in memory until it can be written.");
                store.fail(&mut st, &e);
            }
            Err(e) => return Err(e),
        }
        drop(st);
        Ok(store)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every method leaves the state consistent before anything can fail.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens the file for writing and makes sure every table exists; returns the database and
    /// the next history sequence number.
    fn open_writable(&self) -> Result<(Database, u64), StoreError> {
        let mut b = redb::Builder::new();
        b.set_cache_size(CACHE_BYTES);
        let database = match &self.opts.backend {
            Some(f) => {
                let backend = f(&self.path).map_err(db)?;
                b.create_with_backend(Boxed(backend)).map_err(db)?
            }
            None => b.create(&self.path).map_err(db)?,
        };
        let tx = database.begin_write().map_err(db)?;
        for t in Table::ALL {
            tx.open_table(t.def()).map_err(db)?;
        }
        tx.commit().map_err(db)?;
        let seq = next_seq(&database)?;
        Ok((database, seq))
    }

    /// Opens the file read-only through the in-memory overlay, if it exists.
    fn open_overlay(&self) -> Option<Database> {
        let overlay = Overlay::open(&self.path).ok()?;
        let mut b = redb::Builder::new();
        b.set_cache_size(CACHE_BYTES);
        match b.create_with_backend(overlay) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!(file = %self.path.display(), error = %e, "Cannot read the alert store either.");
                None
            }
        }
    }

    /// Closes the database after `e` (redb must be reopened after an I/O error), opens it for
    /// reading, and schedules the next attempt to write.
    fn fail(&self, st: &mut State, e: &StoreError) {
        st.db = None;
        st.writable = false;
        st.db = self.open_overlay();
        let now = self.opts.clock.now_ms();
        st.next_retry_ms = now + st.backoff_ms;
        st.backoff_ms = (st.backoff_ms * 2).min(MAX_BACKOFF_MS);
        let reason = describe(e);
        let mut first = false;
        self.health.update(|h| {
            first = h.healthy;
            h.healthy = false;
            h.failing_since_ms.get_or_insert(now);
            h.last_error = Some(reason.clone());
            h.errors_total += 1;
            h.read_only = st.db.is_some();
            h.pending_changes = st.pending.len();
        });
        if first {
            tracing::error!(error = %reason, "The alert store failed; alerts keep flowing and changes are kept in memory until it can write again.");
        }
    }

    fn recovered(&self, st: &mut State, saved: usize) {
        st.backoff_ms = MIN_BACKOFF_MS;
        let mut was_failing = false;
        self.health.update(|h| {
            was_failing = !h.healthy;
            h.healthy = true;
            h.failing_since_ms = None;
            h.last_error = None;
            h.read_only = false;
            h.pending_changes = 0;
        });
        if was_failing {
            tracing::info!(
                changes = saved,
                "The alert store recovered; the changes kept in memory are saved."
            );
        }
    }

    /// Opens the database for writing again when it failed and the backoff has passed.
    fn reopen_if_due(&self, st: &mut State) {
        if st.writable || self.opts.clock.now_ms() < st.next_retry_ms {
            return;
        }
        // Close the read-only view first: one file, one open database.
        st.db = None;
        match self.open_writable() {
            Ok((database, seq)) => {
                st.db = Some(database);
                st.writable = true;
                st.seq = st.seq.max(seq);
            }
            Err(e) => self.fail(st, &e),
        }
    }

    /// Writes `changes` in one transaction on the writable database.
    fn write(&self, st: &mut State, changes: &Pending) -> Result<(), StoreError> {
        let Some(database) = st.db.as_ref().filter(|_| st.writable) else {
            return Err(self.unavailable());
        };
        let tx = database.begin_write().map_err(db)?;
        for t in Table::ALL {
            let mut table = tx.open_table(t.def()).map_err(db)?;
            for ((ti, k), v) in &changes.ops {
                if *ti != t.index() {
                    continue;
                }
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
                for (k, v) in &changes.actions {
                    table.insert(k.as_str(), v.as_slice()).map_err(db)?;
                }
            }
        }
        tx.commit().map_err(db)?;
        self.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The error for a change refused while the store fails.
    fn unavailable(&self) -> StoreError {
        let h = self.health.get();
        StoreError::Unavailable {
            reason: h
                .last_error
                .unwrap_or_else(|| "the database is not open".into()),
            since: crate::alert::format_rfc3339(
                h.failing_since_ms
                    .unwrap_or_else(|| self.opts.clock.now_ms()),
            ),
        }
    }

    /// Writes what waits in memory, if the store can; true when nothing waits any more.
    fn flush_pending(&self, st: &mut State) -> bool {
        if !st.writable {
            return false;
        }
        if !st.pending.is_empty() {
            let pending = std::mem::take(&mut st.pending);
            if let Err(e) = self.write(st, &pending) {
                st.pending = pending;
                self.fail(st, &e);
                return false;
            }
            if pending.dropped_actions > 0 {
                tracing::warn!(
                    dropped = pending.dropped_actions,
                    "History records made while the alert store failed were dropped to bound memory."
                );
            }
            self.recovered(st, pending.len());
        } else if !self.health.get().healthy {
            self.recovered(st, 0);
        }
        true
    }

    /// Commits a batch durably, with every change kept in memory before it. When the store
    /// fails, nothing is changed and the error says why ([`StoreError::Unavailable`] while
    /// it is down): for changes that must be on disk before they are acknowledged.
    pub fn commit(&self, b: Batch) -> Result<(), StoreError> {
        if b.is_empty() {
            return Ok(());
        }
        let mut st = self.lock();
        let changes = Pending::from_batch(b, &mut st.seq)?;
        self.reopen_if_due(&mut st);
        if !self.flush_pending(&mut st) {
            return Err(self.unavailable());
        }
        if let Err(e) = self.write(&mut st, &changes) {
            self.fail(&mut st, &e);
            return Err(self.unavailable());
        }
        Ok(())
    }

    /// Commits a batch durably if the store can; otherwise keeps it in memory, to be committed
    /// (after everything kept before it) once the store writes again, and returns `Ok(false)`.
    /// For the pipeline's own state, which lives in memory and must keep flowing. Errors only
    /// for records that cannot be encoded.
    pub fn commit_or_defer(&self, b: Batch) -> Result<bool, StoreError> {
        if b.is_empty() {
            return Ok(true);
        }
        let mut st = self.lock();
        let changes = Pending::from_batch(b, &mut st.seq)?;
        self.reopen_if_due(&mut st);
        st.pending.absorb(changes);
        let n = st.pending.len();
        if self.flush_pending(&mut st) {
            return Ok(true);
        }
        self.health.update(|h| h.pending_changes = n);
        Ok(false)
    }

    /// Retries a failed store when its backoff has passed and writes what waits in memory;
    /// true when the store is healthy. Cheap when it is: the dispatcher calls it every tick.
    pub fn heal(&self) -> bool {
        let mut st = self.lock();
        if st.writable && st.pending.is_empty() {
            return true;
        }
        self.reopen_if_due(&mut st);
        self.flush_pending(&mut st)
    }

    /// The store's health now.
    pub fn health(&self) -> StoreHealth {
        self.health.get()
    }

    /// A view of the health that outlives the borrow, for readiness checks and metrics.
    pub fn health_handle(&self) -> HealthHandle {
        self.health.clone()
    }

    /// Deletes at most `max` history records older than `before_ms`, oldest
    /// first, in one transaction; returns how many went. Called by the
    /// dispatcher's garbage collection with the history retention. Does nothing while the
    /// store fails.
    pub fn prune_actions_before(&self, before_ms: i64, max: usize) -> Result<usize, StoreError> {
        let mut st = self.lock();
        if !st.writable {
            return Ok(0);
        }
        let r = self.prune(&st, before_ms, max);
        if let Err(e) = &r {
            if e.is_retryable() {
                self.fail(&mut st, e);
            }
        }
        r
    }

    fn prune(&self, st: &State, before_ms: i64, max: usize) -> Result<usize, StoreError> {
        let Some(database) = st.db.as_ref() else {
            return Ok(0);
        };
        let hi = format!("{:020}", before_ms.max(0));
        let tx = database.begin_write().map_err(db)?;
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

    /// Runs `f` on the database for reading: the writable one, or the read-only view while
    /// the store fails. Changes kept in memory are not visible here. Without any database
    /// (the disk was full before the file was made), or without the table, there is nothing
    /// to read.
    fn read<T: Default>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut st = self.lock();
        if st.db.is_none() {
            st.db = self.open_overlay();
        }
        match st.db.as_ref() {
            Some(d) => match f(d) {
                Err(StoreError::Db(e)) if matches!(*e, redb::Error::TableDoesNotExist(_)) => {
                    Ok(T::default())
                }
                r => r,
            },
            None => Ok(T::default()),
        }
    }

    /// Every record of a table, decoded.
    pub fn load<T: DeserializeOwned>(&self, t: Table) -> Result<Vec<(String, T)>, StoreError> {
        self.read(|d| {
            let rtx = d.begin_read().map_err(db)?;
            let table = rtx.open_table(t.def()).map_err(db)?;
            let mut out = Vec::new();
            for r in table.iter().map_err(db)? {
                let (k, v) = r.map_err(db)?;
                let key = k.value().to_string();
                let val =
                    serde_json::from_slice(v.value()).map_err(|source| StoreError::Codec {
                        table: t.name(),
                        key: key.clone(),
                        source,
                    })?;
                out.push((key, val));
            }
            Ok(out)
        })
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
        self.read(|d| {
            let rtx = d.begin_read().map_err(db)?;
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
        })
    }
}

/// The next history sequence number: one past the last key's.
fn next_seq(d: &Database) -> Result<u64, StoreError> {
    let rtx = d.begin_read().map_err(db)?;
    let t = rtx.open_table(Table::Actions.def()).map_err(db)?;
    let last = t.last().map_err(db)?;
    Ok(last
        .and_then(|(k, _)| k.value().get(20..).and_then(|s| s.parse::<u64>().ok()))
        .map_or(0, |s| s + 1))
}
