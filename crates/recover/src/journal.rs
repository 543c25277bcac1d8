//! The append-only journal: one JSON [`Event`] per line, each written and
//! synced to disk before it takes effect. It is both the audit log (who
//! did what, when, with which inputs and outputs, and how it ended) and the
//! state executions are rebuilt from after a restart.
//!
//! ```
//! use argus_recover::exec::Event;
//! use argus_recover::journal::Journal;
//! let dir = tempfile::tempdir().unwrap();
//! let (mut j, old) = Journal::open(&dir.path().join("recover.journal")).unwrap();
//! assert!(old.is_empty());
//! j.append(&Event::KillSwitch { at: 1, who: "alice".into(), on: true }).unwrap();
//! let (_, events) = Journal::open(&dir.path().join("recover.journal")).unwrap();
//! assert_eq!(events.len(), 1);
//! ```

use crate::exec::Event;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Why the journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An I/O error on the file.
    #[error("recovery journal {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A line in the middle of the file is not an event.
    #[error("recovery journal {path}:{line}: not a journal event: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// Why.
        reason: String,
    },
}

/// The journal file, open for appending (or, without a file, in memory).
#[derive(Debug)]
pub struct Journal {
    path: Option<PathBuf>,
    file: Option<File>,
}

impl Journal {
    /// A journal that keeps nothing (for a server without a data directory).
    pub fn in_memory() -> Journal {
        Journal {
            path: None,
            file: None,
        }
    }

    /// Opens (or creates) `path` and reads its events. A last line cut short
    /// by a crash is dropped (it was never acknowledged); a bad line before
    /// the last is an error.
    pub fn open(path: &Path) -> Result<(Journal, Vec<Event>), JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(io)?;
        let total = bytes.len() as u64;
        // Everything after the last newline was cut short by a crash.
        let good_len = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if good_len < bytes.len() {
            tracing::warn!(
                journal = %path.display(),
                "dropping an incomplete last line of the recovery journal (written during a crash)"
            );
        }
        let mut events = Vec::new();
        for (i, raw) in bytes[..good_len].split(|b| *b == b'\n').enumerate() {
            if raw.is_empty() {
                continue;
            }
            let ev = serde_json::from_slice::<Event>(raw).map_err(|e| JournalError::Corrupt {
                path: path.to_path_buf(),
                line: i + 1,
                reason: e.to_string(),
            })?;
            events.push(ev);
        }
        let good_len = good_len as u64;
        if good_len < total {
            file.set_len(good_len).map_err(io)?;
            file.seek(SeekFrom::End(0)).map_err(io)?;
        }
        Ok((
            Journal {
                path: Some(path.to_path_buf()),
                file: Some(file),
            },
            events,
        ))
    }

    /// Writes `ev` and syncs it to disk.
    pub fn append(&mut self, ev: &Event) -> Result<(), JournalError> {
        let (Some(file), Some(path)) = (&mut self.file, &self.path) else {
            return Ok(());
        };
        let io = |source| JournalError::Io {
            path: path.clone(),
            source,
        };
        let mut line = serde_json::to_vec(ev).expect("events serialise");
        line.push(b'\n');
        file.write_all(&line).map_err(io)?;
        file.sync_data().map_err(io)
    }

    /// The file, when there is one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The last `limit` events on file, oldest first (none in memory).
    pub fn tail(&self, limit: usize) -> Result<Vec<Event>, JournalError> {
        let Some(path) = &self.path else {
            return Ok(Vec::new());
        };
        let file = File::open(path).map_err(|source| JournalError::Io {
            path: path.clone(),
            source,
        })?;
        let mut out = std::collections::VecDeque::with_capacity(limit.min(10_000));
        for line in BufReader::new(file).lines() {
            let Ok(line) = line else { break };
            if let Ok(ev) = serde_json::from_str::<Event>(&line) {
                if out.len() == limit {
                    out.pop_front();
                }
                out.push_back(ev);
            }
        }
        Ok(out.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_dropped_and_appends_continue() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j");
        {
            let (mut j, _) = Journal::open(&p).unwrap();
            j.append(&Event::KillSwitch {
                at: 1,
                who: "a".into(),
                on: true,
            })
            .unwrap();
        }
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"event\":\"kill_sw").unwrap();
        drop(f);
        let (mut j, evs) = Journal::open(&p).unwrap();
        assert_eq!(evs.len(), 1);
        j.append(&Event::KillSwitch {
            at: 2,
            who: "b".into(),
            on: false,
        })
        .unwrap();
        let (_, evs) = Journal::open(&p).unwrap();
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[1].at(), 2);
    }

    #[test]
    fn a_bad_line_in_the_middle_is_an_error_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j");
        std::fs::write(
            &p,
            "nonsense\n{\"event\":\"kill_switch\",\"at\":1,\"who\":\"a\",\"on\":true}\n",
        )
        .unwrap();
        let e = Journal::open(&p).unwrap_err();
        assert!(e.to_string().contains(":1:"), "{e}");
    }
}
