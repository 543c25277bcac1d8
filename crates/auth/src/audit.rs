//! The audit log: who changed what, when, and whether it was allowed.
//!
//! One JSON object per line in `<data>/audit.log`, written and flushed to
//! disk before the answer leaves (changes are rare: acknowledgements,
//! silences, reloads, sign-ins). Sample, alert and heartbeat ingestion is not
//! logged. At 16 MiB the file moves to `audit.log.1` and a new one starts.
//!
//! An entry that cannot be written (a full disk, say) waits in memory and is
//! written, in order, before the next entry, or when the server calls
//! [`AuditLog::flush_pending`]. At most [`MAX_PENDING`] entries wait; past
//! that the oldest are dropped (and logged). [`AuditLog::tail`] shows waiting
//! entries too, and three counters tell how the log fares.
//!
//! ```
//! use argus_auth::audit::{AuditLog, Entry};
//! let dir = tempfile::tempdir().unwrap();
//! let log = AuditLog::open(dir.path()).unwrap();
//! log.append(&Entry { ts_ms: 1, user: "alice".into(), role: "operator".into(),
//!     action: "POST /api/v2/silences".into(), status: 200, remote: "127.0.0.1".into() });
//! assert_eq!(log.tail(10)[0].user, "alice");
//! assert_eq!(log.flush_pending(), 0);
//! assert_eq!((log.pending_entries(), log.write_failures_total(), log.dropped_entries_total()), (0, 0, 0));
//! ```

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

const MAX_BYTES: u64 = 16 << 20;

/// The most entries kept in memory while the file cannot be written.
pub const MAX_PENDING: usize = 10_000;

/// One audited request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// When, in milliseconds since the epoch.
    pub ts_ms: i64,
    /// Who: a user or token name, `anonymous` when no one signed in.
    pub user: String,
    /// Their role, empty when anonymous.
    pub role: String,
    /// `METHOD path`, or `sign-in`/`sign-out`.
    pub action: String,
    /// The HTTP status of the answer.
    pub status: u16,
    /// The client's address.
    pub remote: String,
}

/// The log file, and the entries waiting to be written to it.
pub struct AuditLog {
    path: PathBuf,
    state: Mutex<State>,
    pending: AtomicUsize,
    write_failures: AtomicU64,
    dropped: AtomicU64,
}

struct State {
    /// Open for appending; `None` after a failure, so the next try reopens.
    file: Option<File>,
    /// The file ends in a partial line (a failed write, a crash): the next
    /// entry starts on a line of its own.
    mid_line: bool,
    /// Entries not yet written, oldest first.
    queue: VecDeque<Entry>,
    /// Whether the last try failed (to log the start and end of an outage once).
    failing: bool,
    max_pending: usize,
    max_bytes: u64,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .field("pending", &self.pending_entries())
            .finish()
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// True when `path` is a regular file whose last byte is not a newline.
fn ends_mid_line(path: &Path) -> bool {
    let check = || -> std::io::Result<bool> {
        let mut f = File::open(path)?;
        let m = f.metadata()?;
        if !m.is_file() || m.len() == 0 {
            return Ok(false);
        }
        f.seek(SeekFrom::End(-1))?;
        let mut last = [0u8];
        f.read_exact(&mut last)?;
        Ok(last[0] != b'\n')
    };
    check().unwrap_or(false)
}

/// `audit.log` → `audit.log.1`.
fn rotated(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".1");
    PathBuf::from(s)
}

impl AuditLog {
    /// Opens (creates) `dir/audit.log` for appending.
    pub fn open(dir: &Path) -> std::io::Result<AuditLog> {
        std::fs::create_dir_all(dir)?;
        AuditLog::open_file(&dir.join("audit.log"))
    }

    /// Opens (creates) the log at `path` for appending; it rotates to
    /// `path` with `.1` appended.
    pub fn open_file(path: &Path) -> std::io::Result<AuditLog> {
        let file = open_append(path)?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            state: Mutex::new(State {
                file: Some(file),
                mid_line: ends_mid_line(path),
                queue: VecDeque::new(),
                failing: false,
                max_pending: MAX_PENDING,
                max_bytes: MAX_BYTES,
            }),
            pending: AtomicUsize::new(0),
            write_failures: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        })
    }

    /// Appends one entry and syncs it, after the entries still waiting. A
    /// failure is logged, never returned (the action itself has already
    /// happened): the entry waits in memory for the next try.
    pub fn append(&self, e: &Entry) {
        let mut st = self.state.lock();
        st.queue.push_back(e.clone());
        self.write_queue(&mut st);
        while st.queue.len() > st.max_pending {
            let Some(old) = st.queue.pop_front() else {
                break;
            };
            self.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(path = %self.path.display(), ts_ms = old.ts_ms, user = %old.user, role = %old.role, action = %old.action, status = old.status, remote = %old.remote, "Dropped an audit log entry: too many are waiting to be written.");
        }
        self.pending.store(st.queue.len(), Ordering::Relaxed);
    }

    /// Writes the entries waiting after failed writes, if any; returns how
    /// many still wait. Blocks on the disk: call it where blocking is fine.
    pub fn flush_pending(&self) -> usize {
        if self.pending.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        let mut st = self.state.lock();
        self.write_queue(&mut st);
        self.pending.store(st.queue.len(), Ordering::Relaxed);
        st.queue.len()
    }

    /// Entries waiting in memory to be written (`argus_audit_pending_entries`).
    pub fn pending_entries(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Tries to write that failed since the start (`argus_audit_write_failures_total`).
    pub fn write_failures_total(&self) -> u64 {
        self.write_failures.load(Ordering::Relaxed)
    }

    /// Entries dropped unwritten because too many were waiting
    /// (`argus_audit_dropped_entries_total`).
    pub fn dropped_entries_total(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn write_queue(&self, st: &mut State) {
        if st.queue.is_empty() {
            return;
        }
        let waiting = st.queue.len();
        match self.write_entries(st) {
            Ok(()) => {
                if st.failing {
                    st.failing = false;
                    tracing::info!(path = %self.path.display(), entries = waiting, "The audit log is written again, including the entries that waited.");
                }
            }
            Err(err) => {
                st.file = None;
                self.write_failures.fetch_add(1, Ordering::Relaxed);
                if st.failing {
                    tracing::debug!(path = %self.path.display(), error = %err, waiting = st.queue.len(), "The audit log still cannot be written.");
                } else {
                    st.failing = true;
                    tracing::error!(path = %self.path.display(), error = %err, waiting = st.queue.len(), "Could not write the audit log; entries wait in memory and are written once it works again.");
                }
            }
        }
    }

    /// Writes the queue in order, removing each entry once it is on disk.
    fn write_entries(&self, st: &mut State) -> std::io::Result<()> {
        // Entries at the front of the queue written but not yet synced.
        let mut unsynced = 0;
        let res = self.write_lines(st, &mut unsynced);
        if unsynced > 0 {
            if let Some(f) = st.file.as_mut() {
                match f.sync_data() {
                    Ok(()) => drop(st.queue.drain(..unsynced)),
                    // On disk or not, they are written again (at least once).
                    Err(e) => return Err(res.err().unwrap_or(e)),
                }
            }
        }
        res
    }

    fn write_lines(&self, st: &mut State, unsynced: &mut usize) -> std::io::Result<()> {
        while let Some(e) = st.queue.get(*unsynced) {
            let json = serde_json::to_string(e).map_err(std::io::Error::other)?;
            let file = match &mut st.file {
                Some(f) => f,
                None => {
                    let f = open_append(&self.path)?;
                    st.mid_line = ends_mid_line(&self.path);
                    st.file.insert(f)
                }
            };
            let mut line = String::with_capacity(json.len() + 2);
            if st.mid_line {
                line.push('\n');
            }
            line.push_str(&json);
            line.push('\n');
            // A character device (or anything else) reports 0 and never rotates.
            let len = file.metadata()?.len();
            if len > 0 && len + line.len() as u64 > st.max_bytes {
                file.sync_data()?;
                st.queue.drain(..*unsynced);
                *unsynced = 0;
                std::fs::rename(&self.path, rotated(&self.path))?;
                st.file = None;
                // Reopened, as a new file, by the next round.
                continue;
            }
            if let Err(err) = file.write_all(line.as_bytes()) {
                // Part of the line may be in the file.
                st.mid_line = true;
                return Err(err);
            }
            st.mid_line = false;
            *unsynced += 1;
        }
        Ok(())
    }

    /// The last `n` entries, oldest first, ending with those still waiting
    /// to be written.
    pub fn tail(&self, n: usize) -> Vec<Entry> {
        let st = self.state.lock();
        // While entries wait, read under the lock, so none is written
        // between reading the files and copying the queue.
        let st = if st.queue.is_empty() {
            drop(st);
            None
        } else {
            Some(st)
        };
        let mut out = VecDeque::with_capacity(n.min(4096));
        let mut push = |e: Entry| {
            if out.len() == n {
                out.pop_front();
            }
            if n > 0 {
                out.push_back(e);
            }
        };
        for p in [rotated(&self.path), self.path.clone()] {
            let Ok(f) = File::open(&p) else { continue };
            if !f.metadata().is_ok_and(|m| m.is_file()) {
                continue;
            }
            for line in std::io::BufReader::new(f).lines().map_while(Result::ok) {
                if let Ok(e) = serde_json::from_str::<Entry>(&line) {
                    push(e);
                }
            }
        }
        if let Some(st) = &st {
            st.queue.iter().cloned().for_each(push);
        }
        out.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(i: i64) -> Entry {
        Entry {
            ts_ms: i,
            user: format!("u{i}"),
            role: "admin".into(),
            action: "POST /-/reload".into(),
            status: 200,
            remote: "127.0.0.1:1".into(),
        }
    }

    fn ts(entries: &[Entry]) -> Vec<i64> {
        entries.iter().map(|e| e.ts_ms).collect()
    }

    /// The entries in a file, in order; fails on a line that is not one.
    fn in_file(p: &Path) -> Vec<i64> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Entry>(l).unwrap().ts_ms)
            .collect()
    }

    fn counters(l: &AuditLog) -> (usize, u64, u64) {
        (
            l.pending_entries(),
            l.write_failures_total(),
            l.dropped_entries_total(),
        )
    }

    #[test]
    fn tail_keeps_the_last_in_order_across_reopen() {
        let d = tempfile::tempdir().unwrap();
        {
            let l = AuditLog::open(d.path()).unwrap();
            for i in 0..5 {
                l.append(&e(i));
            }
        }
        let l = AuditLog::open(d.path()).unwrap();
        l.append(&e(5));
        let t: Vec<i64> = l.tail(3).iter().map(|e| e.ts_ms).collect();
        assert_eq!(t, vec![3, 4, 5]);
        assert!(l.tail(0).is_empty());
        assert_eq!(counters(&l), (0, 0, 0));
    }

    /// `audit.log` as a link to `/dev/full` (every write fails with ENOSPC),
    /// and the function that "frees the disk" by pointing it at a real file.
    #[cfg(target_os = "linux")]
    fn full_disk(d: &Path) -> (PathBuf, impl Fn() -> PathBuf) {
        let link = d.join("audit.log");
        std::os::unix::fs::symlink("/dev/full", &link).unwrap();
        let real = d.join("disk.log");
        let free = {
            let (link, real) = (link.clone(), real.clone());
            move || {
                std::fs::remove_file(&link).unwrap();
                std::os::unix::fs::symlink(&real, &link).unwrap();
                real.clone()
            }
        };
        (link, free)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn entries_wait_out_a_full_disk_and_are_written_in_order() {
        let d = tempfile::tempdir().unwrap();
        let (link, free) = full_disk(d.path());
        let l = AuditLog::open_file(&link).unwrap();
        for i in 0..3 {
            l.append(&e(i));
        }
        assert_eq!(counters(&l), (3, 3, 0));
        assert_eq!(ts(&l.tail(10)), [0, 1, 2]);
        assert_eq!(ts(&l.tail(2)), [1, 2]);
        assert_eq!(l.flush_pending(), 3);
        assert_eq!(counters(&l), (3, 4, 0));
        // Nothing was rotated away: the device reports no length.
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("/dev/full"));
        assert!(!rotated(&link).exists());

        let real = free();
        assert_eq!(l.flush_pending(), 0);
        assert_eq!(in_file(&real), [0, 1, 2]);
        l.append(&e(3));
        assert_eq!(in_file(&real), [0, 1, 2, 3]);
        assert_eq!(counters(&l), (0, 4, 0));
        assert_eq!(ts(&l.tail(10)), [0, 1, 2, 3]);
        // No flush is needed either: the next entry writes those waiting first.
        let d2 = tempfile::tempdir().unwrap();
        let (link2, free2) = full_disk(d2.path());
        let l2 = AuditLog::open_file(&link2).unwrap();
        l2.append(&e(10));
        let real2 = free2();
        l2.append(&e(11));
        assert_eq!(in_file(&real2), [10, 11]);
        assert_eq!(counters(&l2), (0, 1, 0));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn past_the_bound_the_oldest_waiting_entries_are_dropped_and_counted() {
        let d = tempfile::tempdir().unwrap();
        let (link, free) = full_disk(d.path());
        let l = AuditLog::open_file(&link).unwrap();
        l.state.lock().max_pending = 3;
        for i in 0..5 {
            l.append(&e(i));
        }
        assert_eq!(counters(&l), (3, 5, 2));
        assert_eq!(ts(&l.tail(10)), [2, 3, 4]);
        let real = free();
        l.append(&e(5));
        assert_eq!(in_file(&real), [2, 3, 4, 5]);
        assert_eq!(counters(&l), (0, 5, 2));
    }

    #[test]
    fn the_default_bound_is_ten_thousand() {
        let d = tempfile::tempdir().unwrap();
        let l = AuditLog::open(d.path()).unwrap();
        assert_eq!(l.state.lock().max_pending, 10_000);
    }

    #[test]
    fn a_partial_last_line_is_not_glued_to_the_next_entry() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.log");
        let first = serde_json::to_string(&e(0)).unwrap();
        std::fs::write(&p, format!("{first}\n{{\"ts_ms\":1,\"us")).unwrap();
        let l = AuditLog::open(d.path()).unwrap();
        l.append(&e(2));
        l.append(&e(3));
        assert_eq!(ts(&l.tail(10)), [0, 2, 3]);
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[1], "{\"ts_ms\":1,\"us");
    }

    #[test]
    fn rotation_keeps_one_old_file_and_the_order() {
        let d = tempfile::tempdir().unwrap();
        let l = AuditLog::open(d.path()).unwrap();
        let line = serde_json::to_string(&e(0)).unwrap().len() as u64 + 1;
        l.state.lock().max_bytes = 3 * line;
        for i in 0..8 {
            l.append(&e(i));
        }
        let p = d.path().join("audit.log");
        assert_eq!(in_file(&rotated(&p)), [3, 4, 5]);
        assert_eq!(in_file(&p), [6, 7]);
        assert_eq!(ts(&l.tail(4)), [4, 5, 6, 7]);
        assert_eq!(counters(&l), (0, 0, 0));
    }
}
