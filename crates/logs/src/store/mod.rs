//! The log store: a WAL that acknowledges, a head in memory, and chunk files on disk.
//!
//! Every accepted batch is one WAL frame, written before the append returns; the head keeps
//! the lines by stream, sorted by time; [`LogStore::maintain`] flushes the head into a chunk
//! file (one zstd block per stream) when it is large or old, then deletes the WAL segments the
//! chunk covers, and drops chunks past the retention or over the size limit. After `kill -9`
//! [`LogStore::open`] reads the chunks' indexes and replays the WAL, so nothing acknowledged is
//! lost. The store is a [`LogSource`](crate::record::LogSource), so the query engine reads it directly.
//!
//! ```
//! use argus_logs::record::{LogRecord, LogSource};
//! use argus_logs::store::{LogStore, StoreOptions};
//! use argus_model::{Labels, Matcher};
//! let dir = tempfile::tempdir().unwrap();
//! let now = 1_700_000_000_000_000_000;
//! let (store, _) = LogStore::open(dir.path(), StoreOptions::default()).unwrap();
//! let rec = LogRecord::new(Labels::from_pairs(&[("app", "api")]), now, "GET / 200");
//! assert_eq!(store.append(vec![rec], now).unwrap().accepted, 1);
//! store.flush().unwrap();
//! drop(store);
//! let (store, _) = LogStore::open(dir.path(), StoreOptions::default()).unwrap();
//! let mut lines = Vec::new();
//! store.scan(&[Matcher::eq("app", "api")], now, now + 1, &mut |_, es| {
//!     lines.extend(es.iter().map(|e| e.line.clone()));
//!     true
//! }).unwrap();
//! assert_eq!(lines, ["GET / 200"]);
//! ```

mod chunk;
mod codec;
mod read;
mod templated;
mod wal;

pub use codec::CodecError;
pub use wal::Fsync;

use crate::record::{Entry, LogRecord, Refusal};
use argus_model::Labels;
use chunk::ChunkFile;
use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use std::{fs, io};

/// How the store keeps and flushes lines.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Lines older than this are dropped (whole chunks at a time) and refused on arrival.
    pub retention: Duration,
    /// Chunk files beyond this many bytes are dropped, oldest first; 0 means no limit.
    pub max_bytes: u64,
    /// When the WAL is fsynced.
    pub fsync: Fsync,
    /// The head is flushed into a chunk file when it holds this many bytes of lines...
    pub head_max_bytes: usize,
    /// ...or when its first line is this old.
    pub head_max_age: Duration,
    /// Lines stamped further than this in the future are refused.
    pub max_future: Duration,
    /// A read that would gather more lines than this fails instead of exhausting memory.
    pub max_read_lines: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            retention: Duration::from_secs(7 * 86_400),
            max_bytes: 0,
            fsync: Fsync::Interval(Duration::from_secs(1)),
            head_max_bytes: 64 << 20,
            head_max_age: Duration::from_secs(15 * 60),
            max_future: Duration::from_secs(10 * 60),
            max_read_lines: 5_000_000,
        }
    }
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory or its chunks could not be read at start.
    #[error("could not open the log store in {dir}: {source}")]
    Open {
        /// The store's directory.
        dir: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A batch could not be written to the WAL; it was not accepted.
    #[error("could not write to the log WAL in {dir}: {source}; the lines were not accepted")]
    Wal {
        /// The WAL's directory.
        dir: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The head could not be written as a chunk; it stays in memory and in the WAL.
    #[error("could not write a log chunk in {dir}: {source}; the lines stay in the WAL")]
    Flush {
        /// The chunks' directory.
        dir: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// What an append kept and refused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppendReport {
    /// Lines written.
    pub accepted: usize,
    /// Lines refused, with where and why.
    pub refused: Vec<Refusal>,
}

/// What opening found.
#[derive(Debug, Clone, Default)]
pub struct OpenReport {
    /// Lines replayed from the WAL into the head.
    pub replayed: usize,
    /// Chunk files read.
    pub chunks: usize,
    /// Problems met and worked around: torn WAL frames, unreadable chunks set aside.
    pub warnings: Vec<String>,
}

/// Sizes for self-metrics and the status page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreStats {
    /// Streams in the head.
    pub head_streams: usize,
    /// Lines in the head (not yet in a chunk).
    pub head_lines: usize,
    /// Chunk files.
    pub chunks: usize,
    /// Bytes of chunk files on disk.
    pub chunk_bytes: u64,
    /// Lines in chunk files.
    pub chunk_lines: u64,
    /// Lines accepted since start.
    pub appended: u64,
    /// Lines refused since start.
    pub refused: u64,
}

#[derive(Default)]
pub(crate) struct HeadStream {
    pub(crate) labels: Labels,
    pub(crate) entries: Vec<Entry>,
}

#[derive(Default)]
pub(crate) struct Head {
    pub(crate) streams: Vec<HeadStream>,
    by_hash: FxHashMap<u64, Vec<usize>>,
    bytes: usize,
    lines: usize,
    since: Option<Instant>,
}

impl Head {
    fn insert(&mut self, labels: Labels, e: Entry) {
        let h = labels.stable_hash();
        let slot = self.by_hash.entry(h).or_default();
        let i = match slot.iter().find(|&&i| self.streams[i].labels == labels) {
            Some(&i) => i,
            None => {
                self.streams.push(HeadStream {
                    labels,
                    entries: Vec::new(),
                });
                slot.push(self.streams.len() - 1);
                self.streams.len() - 1
            }
        };
        self.bytes += 32
            + e.line.len()
            + e.metadata
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
        self.lines += 1;
        self.since.get_or_insert_with(Instant::now);
        let entries = &mut self.streams[i].entries;
        if entries.last().is_none_or(|l| l.ts_ns <= e.ts_ns) {
            entries.push(e);
        } else {
            let at = entries.partition_point(|x| x.ts_ns <= e.ts_ns);
            entries.insert(at, e);
        }
    }
}

pub(crate) struct State {
    pub(crate) head: Head,
    /// The head being written as a chunk: still read from until the chunk is in `chunks`.
    pub(crate) flushing: Option<Arc<Head>>,
    pub(crate) chunks: Vec<Arc<ChunkFile>>,
}

/// The log store. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct LogStore {
    dir: PathBuf,
    opts: StoreOptions,
    wal: Mutex<wal::Wal>,
    pub(crate) state: RwLock<State>,
    flush_lock: Mutex<()>,
    next_seq: AtomicU64,
    appended: AtomicU64,
    refused: AtomicU64,
}

fn chunks_dir(dir: &Path) -> PathBuf {
    dir.join("chunks")
}

impl LogStore {
    /// Opens (or creates) the store in `dir`: reads the chunks' indexes and replays the WAL.
    /// A chunk that cannot be read is renamed `*.corrupt` and named in the report.
    pub fn open(dir: &Path, opts: StoreOptions) -> Result<(LogStore, OpenReport), StoreError> {
        let err = |source| StoreError::Open {
            dir: dir.to_path_buf(),
            source,
        };
        let cdir = chunks_dir(dir);
        fs::create_dir_all(&cdir).map_err(err)?;
        let mut report = OpenReport::default();
        let mut chunks = Vec::new();
        for e in fs::read_dir(&cdir).map_err(err)? {
            let path = e.map_err(err)?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".tmp") {
                let _ = fs::remove_file(&path);
                continue;
            }
            let Some(seq) = name
                .strip_suffix(".chunk")
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            match chunk::open(&path, seq) {
                Ok(c) => chunks.push(Arc::new(c)),
                Err(e) => {
                    let aside = path.with_extension("corrupt");
                    let _ = fs::rename(&path, &aside);
                    report.warnings.push(format!(
                        "the log chunk {} could not be read ({e}); it was set aside as {}",
                        path.display(),
                        aside.display()
                    ));
                }
            }
        }
        chunks.sort_by_key(|c| c.seq);
        report.chunks = chunks.len();
        let next_seq = chunks.last().map_or(1, |c| c.seq + 1);
        let wdir = dir.join("wal");
        fs::create_dir_all(&wdir).map_err(err)?;
        // Segments a chunk already holds are not replayed, and are deleted.
        let covered = chunks.iter().map(|c| c.wal_upto).max().unwrap_or(0);
        let replay = wal::replay(&wdir, covered).map_err(err)?;
        report.warnings.extend(replay.torn);
        let mut head = Head::default();
        for (i, frame) in replay.frames.iter().enumerate() {
            match codec::decode_batch(frame) {
                Ok(records) => {
                    report.replayed += records.len();
                    for r in records {
                        head.insert(r.labels, entry_of(r.line, r.ts_ns, r.metadata));
                    }
                }
                Err(e) => report
                    .warnings
                    .push(format!("log WAL frame {i} could not be decoded: {e}")),
            }
        }
        let wal = wal::Wal::open(&wdir, opts.fsync, covered + 1).map_err(err)?;
        let _ = wal.remove_upto(covered);
        Ok((
            LogStore {
                dir: dir.to_path_buf(),
                opts,
                wal: Mutex::new(wal),
                state: RwLock::new(State {
                    head,
                    flushing: None,
                    chunks,
                }),
                flush_lock: Mutex::new(()),
                next_seq: AtomicU64::new(next_seq),
                appended: AtomicU64::new(0),
                refused: AtomicU64::new(0),
            },
            report,
        ))
    }

    /// The times a line may carry at `now_ns` to be accepted: `(oldest, newest)`.
    pub fn accepted_window(&self, now_ns: i64) -> (i64, i64) {
        (
            now_ns.saturating_sub(nanos(self.opts.retention)),
            now_ns.saturating_add(nanos(self.opts.max_future)),
        )
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &StoreOptions {
        &self.opts
    }

    /// Appends records stamped `now_ns` or earlier: refuses those outside the retention or too
    /// far in the future (named in the report), writes the rest as one WAL frame, then makes
    /// them readable. Returns only after the frame is written, so an `Ok` is an acknowledgement.
    pub fn append(&self, records: Vec<LogRecord>, now_ns: i64) -> Result<AppendReport, StoreError> {
        let (oldest, newest) = self.accepted_window(now_ns);
        let mut report = AppendReport::default();
        let mut keep = Vec::with_capacity(records.len());
        for r in records {
            if r.ts_ns < oldest || r.ts_ns > newest {
                let when = if r.ts_ns < oldest {
                    format!("older than the retention of {}", human(self.opts.retention))
                } else {
                    format!("more than {} in the future", human(self.opts.max_future))
                };
                report.refused.push(Refusal::new(
                    format!("line of {} at {}", r.labels, when_text(r.ts_ns)),
                    format!("the timestamp is {when}"),
                ));
            } else {
                keep.push(r);
            }
        }
        self.refused
            .fetch_add(report.refused.len() as u64, Ordering::Relaxed);
        if keep.is_empty() {
            return Ok(report);
        }
        let mut payload = Vec::new();
        codec::encode_batch(&keep, &mut payload);
        let mut wal = self.wal.lock();
        wal.append(&payload).map_err(|source| StoreError::Wal {
            dir: self.dir.join("wal"),
            source,
        })?;
        report.accepted = keep.len();
        let mut st = self.state.write();
        for r in keep {
            st.head
                .insert(r.labels, entry_of(r.line, r.ts_ns, r.metadata));
        }
        drop(st);
        drop(wal);
        self.appended
            .fetch_add(report.accepted as u64, Ordering::Relaxed);
        Ok(report)
    }

    /// Flushes the head if it is due, fsyncs the WAL, and applies retention and the size limit.
    /// Call it every few seconds from a blocking thread.
    pub fn maintain(&self, now_ns: i64) -> Result<(), StoreError> {
        let due = {
            let st = self.state.read();
            st.head.bytes >= self.opts.head_max_bytes
                || st
                    .head
                    .since
                    .is_some_and(|t| t.elapsed() >= self.opts.head_max_age)
        };
        self.wal.lock().sync();
        if due {
            self.flush()?;
        }
        self.enforce_retention(now_ns);
        Ok(())
    }

    /// Writes the whole head as a chunk file and deletes the WAL segments it covered. On failure
    /// the lines go back into the head, and the WAL keeps them.
    pub fn flush(&self) -> Result<(), StoreError> {
        let _one = self.flush_lock.lock();
        let (old, closed) = {
            let mut wal = self.wal.lock();
            let closed = wal.cut().map_err(|source| StoreError::Flush {
                dir: self.dir.join("wal"),
                source,
            })?;
            let mut st = self.state.write();
            let old = Arc::new(std::mem::take(&mut st.head));
            st.flushing = Some(old.clone());
            (old, closed)
        };
        let streams: Vec<(&Labels, &[Entry])> = old
            .streams
            .iter()
            .map(|s| (&s.labels, s.entries.as_slice()))
            .collect();
        let written = if streams.is_empty() {
            Ok(None)
        } else {
            let seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
            chunk::write(&chunks_dir(&self.dir), seq, closed, &streams).map(Some)
        };
        match written {
            Ok(c) => {
                let mut st = self.state.write();
                if let Some(c) = c {
                    st.chunks.push(Arc::new(c));
                }
                st.flushing = None;
                drop(st);
                let _ = self.wal.lock().remove_upto(closed);
                Ok(())
            }
            Err(source) => {
                let mut st = self.state.write();
                st.flushing = None;
                let newer = std::mem::take(&mut st.head);
                if let Ok(old) = Arc::try_unwrap(old) {
                    st.head = old;
                }
                for s in newer.streams {
                    for e in s.entries {
                        st.head.insert(s.labels.clone(), e);
                    }
                }
                Err(StoreError::Flush {
                    dir: chunks_dir(&self.dir),
                    source,
                })
            }
        }
    }

    /// Drops chunks whose newest line is past the retention, then the oldest chunks while the
    /// total is over `max_bytes`. Returns how many chunk files were deleted.
    pub fn enforce_retention(&self, now_ns: i64) -> usize {
        let oldest = now_ns.saturating_sub(nanos(self.opts.retention));
        let mut st = self.state.write();
        let mut gone: Vec<Arc<ChunkFile>> = Vec::new();
        st.chunks.retain(|c| {
            let keep = c.max_ts >= oldest;
            if !keep {
                gone.push(c.clone());
            }
            keep
        });
        if self.opts.max_bytes > 0 {
            let mut total: u64 = st.chunks.iter().map(|c| c.bytes).sum();
            while total > self.opts.max_bytes && st.chunks.len() > 1 {
                let c = st.chunks.remove(0);
                total -= c.bytes;
                gone.push(c);
            }
        }
        drop(st);
        for c in &gone {
            let _ = fs::remove_file(&c.path);
        }
        gone.len()
    }

    /// Sizes for self-metrics.
    pub fn stats(&self) -> StoreStats {
        let st = self.state.read();
        StoreStats {
            head_streams: st.head.streams.len(),
            head_lines: st.head.lines + st.flushing.as_ref().map_or(0, |h| h.lines),
            chunks: st.chunks.len(),
            chunk_bytes: st.chunks.iter().map(|c| c.bytes).sum(),
            chunk_lines: st.chunks.iter().map(|c| c.lines).sum(),
            appended: self.appended.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }

    /// fsyncs the WAL: call before a clean shutdown.
    pub fn sync(&self) {
        self.wal.lock().sync();
    }
}

fn entry_of(line: String, ts_ns: i64, metadata: Vec<(String, String)>) -> Entry {
    Entry {
        ts_ns,
        line,
        metadata,
    }
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn human(d: Duration) -> String {
    argus_model::format_duration(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn when_text(ts_ns: i64) -> String {
    use argus_model::time::{format_rfc3339_ms, Fraction};
    format_rfc3339_ms(ts_ns.div_euclid(1_000_000), Fraction::MillisIfAny)
        .unwrap_or_else(|| format!("{ts_ns} ns"))
}

#[cfg(test)]
mod tests;
