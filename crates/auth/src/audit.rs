//! The audit log: who changed what, when, and whether it was allowed.
//!
//! One JSON object per line in `<data>/audit.log`, written and flushed to
//! disk before the answer leaves (changes are rare: acknowledgements,
//! silences, reloads, sign-ins). Sample, alert and heartbeat ingestion is not
//! logged. At 16 MiB the file moves to `audit.log.1` and a new one starts.
//!
//! ```
//! use argus_auth::audit::{AuditLog, Entry};
//! let dir = tempfile::tempdir().unwrap();
//! let log = AuditLog::open(dir.path()).unwrap();
//! log.append(&Entry { ts_ms: 1, user: "alice".into(), role: "operator".into(),
//!     action: "POST /api/v2/silences".into(), status: 200, remote: "127.0.0.1".into() });
//! assert_eq!(log.tail(10)[0].user, "alice");
//! ```

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

const MAX_BYTES: u64 = 16 << 20;

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

/// The log file.
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish()
    }
}

impl AuditLog {
    /// Opens (creates) `dir/audit.log` for appending.
    pub fn open(dir: &Path) -> std::io::Result<AuditLog> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("audit.log");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        Ok(AuditLog {
            path,
            file: Mutex::new(Some(f)),
        })
    }

    /// Appends one entry and syncs it. A failure is logged, never returned:
    /// the action itself has already happened.
    pub fn append(&self, e: &Entry) {
        let mut line = serde_json::to_string(e).unwrap_or_default();
        line.push('\n');
        let mut g = self.file.lock();
        let res = (|| -> std::io::Result<()> {
            if g.is_none() {
                *g = Some(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&self.path)?,
                );
            }
            let f = g.as_mut().expect("opened above");
            if f.metadata()?.len() + line.len() as u64 > MAX_BYTES {
                std::fs::rename(&self.path, self.path.with_extension("log.1"))?;
                *f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?;
            }
            f.write_all(line.as_bytes())?;
            f.sync_data()
        })();
        if let Err(err) = res {
            *g = None;
            tracing::error!(path = %self.path.display(), error = %err, user = %e.user, action = %e.action, "Could not write the audit log.");
        }
    }

    /// The last `n` entries, oldest first.
    pub fn tail(&self, n: usize) -> Vec<Entry> {
        let mut out = std::collections::VecDeque::with_capacity(n.min(4096));
        for p in [self.path.with_extension("log.1"), self.path.clone()] {
            let Ok(f) = File::open(&p) else { continue };
            for line in std::io::BufReader::new(f).lines().map_while(Result::ok) {
                if let Ok(e) = serde_json::from_str::<Entry>(&line) {
                    if out.len() == n {
                        out.pop_front();
                    }
                    if n > 0 {
                        out.push_back(e);
                    }
                }
            }
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
    }
}
