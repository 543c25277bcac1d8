//! File tailing: the agent follows log files and ships their lines to the
//! server's `POST /api/v1/logs` through a disk queue.
//!
//! **Finding files.** Every `poll_interval` the globs of each group are
//! expanded (the `glob` crate, already in the workspace's lock file and
//! maintained by the Rust project; its `Pattern` also serves `exclude`).
//! Files are tracked by (device, inode), through a handle kept open, not by
//! path: polling only, no inotify, so it works on any Unix and filesystem.
//!
//! **Rotation.** By rename (`app.log` → `app.log.1`, a new `app.log`): the old
//! inode keeps its handle and is read to its end, lines written to it after
//! the rename included, and dropped once it has stopped growing for
//! [`file::IDLE_POLLS`] polls; the new `app.log` is a new inode, read from its
//! beginning. After a restart, a saved file that no glob matches any more is
//! looked for by inode in its old directory and read to its end. By truncate
//! (and copytruncate): a size below the read position, or first bytes that no
//! longer match the fingerprint (a CRC of the first 64 bytes), restarts at 0.
//! A file truncated and rewritten past the old position with the same first
//! bytes between two polls cannot be told apart from an appended one.
//!
//! **Lines.** Only complete lines (ending in `\n`, a trailing `\r` dropped)
//! are read. A partial last line is emitted as a line once the file has not
//! changed for [`file::IDLE_POLLS`] polls (if the writer finishes it later,
//! the rest becomes a line of its own). A line longer than `max_line_bytes`
//! is cut into pieces of that size (counted in
//! `argus_agent_log_lines_split_total`). With `multiline_start`, a line not
//! matching it is appended to the record before; a record is emitted when
//! the next one starts, when the file is idle, or when it would pass
//! `max_line_bytes`. Each record gets the group's labels and `filename`.
//!
//! **Exactly once across restarts.** A batch (at most `batch_lines` records)
//! is one queue record: a header line (sequence number, and for every file it
//! advanced the offset after it) followed by the JSON lines body. It is
//! appended and fsynced first; then `offsets.json` (all files, and the
//! sequence number) is replaced atomically (tmp, fsync, rename, directory
//! fsync). An offset of an open multiline record is its start, so a restart
//! reads it again whole. A crash between the two steps leaves the newest
//! queue record ahead of `offsets.json`; at start its header is read (the
//! newest record is always in the newest segment, which the queue never
//! deletes) and, when its sequence number is higher, its offsets win. So a
//! line is queued once and never skipped. The tailer never appends while an
//! offsets save is outstanding, so only the newest record can be ahead. On the
//! sending side, the queue's cursor is saved after each acknowledgement; the
//! batch in flight when the agent dies is sent again (the one window in
//! which a line can arrive twice).
//!
//! ```no_run
//! use argus_collect::tail::{FileGroup, LogTailConfig, LogShipper};
//! # async fn demo() -> Result<(), argus_collect::CollectError> {
//! let group = FileGroup { paths: vec!["/var/log/app/*.log".into()], labels: Default::default(),
//!                         exclude: vec![], multiline_start: None };
//! let cfg = LogTailConfig::new("http://argus:9797", vec![group], "/var/lib/argus-agent/logs");
//! let shipper = LogShipper::new(cfg)?;
//! shipper.run(async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(()) }
//! ```

pub mod config;
pub mod file;
pub mod ship;
pub mod state;

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use parking_lot::Mutex;

use config::Group;
pub use config::{FileGroup, LogTailConfig, StartAt};
use file::{Entry, ReadCtx, Tracked, IDLE_POLLS};
pub use ship::{LogShipper, LogStats};
use state::{same_start, BatchHeader, FileOffset, Offsets};

use crate::queue::DiskQueue;
use crate::CollectError;

/// Reads the files and queues their lines. Blocking; [`LogShipper`] runs it
/// on the blocking pool.
pub struct Tailer {
    cfg: LogTailConfig,
    groups: Vec<Group>,
    files: Vec<Tracked>,
    saved: HashMap<(u64, u64), FileOffset>,
    first_start: bool,
    restarted: bool,
    last_ts: i64,
    sink: Sink,
}

struct Sink {
    dir: PathBuf,
    queue: Arc<Mutex<DiskQueue>>,
    stats: Arc<LogStats>,
    seq: u64,
    dirty: bool,
}

impl std::fmt::Debug for Tailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tailer")
            .field("files", &self.files.len())
            .finish()
    }
}

fn next_ts(last: &mut i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    *last = now.max(*last + 1);
    *last
}

impl Tailer {
    /// Opens the state directory: the queue, the saved offsets, and the
    /// offsets of a batch queued just before a crash.
    pub fn open(cfg: LogTailConfig, stats: Arc<LogStats>) -> Result<Tailer, CollectError> {
        let groups = cfg.compile()?;
        let dir = cfg.state_dir.clone().unwrap_or_default();
        std::fs::create_dir_all(&dir).map_err(|e| CollectError::io(&dir, e))?;
        let queue = DiskQueue::open(&dir.join("queue"), cfg.segment_bytes, cfg.max_queue_bytes)?;
        let loaded = Offsets::load(&dir)?;
        let mut first_start = loaded.is_none();
        let mut off = loaded.unwrap_or_default();
        if let Some((h, _)) = queue.last_record()?.as_deref().and_then(BatchHeader::split) {
            first_start = false;
            if h.seq > off.seq {
                tracing::info!(seq = h.seq, "Log offsets of the newest queued batch were not saved; taking them from the queue.");
                for f in h.files {
                    off.files.retain(|o| (o.dev, o.ino) != (f.dev, f.ino));
                    off.files.push(f);
                }
                off.seq = h.seq;
            }
        }
        stats.queue_bytes.store(queue.bytes(), Ordering::Relaxed);
        stats.queue_batches.store(queue.depth(), Ordering::Relaxed);
        Ok(Tailer {
            groups,
            files: Vec::new(),
            saved: off.files.into_iter().map(|f| ((f.dev, f.ino), f)).collect(),
            restarted: !first_start,
            first_start,
            last_ts: 0,
            sink: Sink {
                dir,
                queue: Arc::new(Mutex::new(queue)),
                stats,
                seq: off.seq,
                dirty: false,
            },
            cfg,
        })
    }

    /// The queue the sender drains.
    pub fn queue(&self) -> Arc<Mutex<DiskQueue>> {
        Arc::clone(&self.sink.queue)
    }

    /// Paths of the files being followed.
    pub fn watched(&self) -> Vec<PathBuf> {
        self.files.iter().map(|t| t.path.clone()).collect()
    }

    fn expand(&self) -> Vec<(PathBuf, usize)> {
        let mut out: Vec<(PathBuf, usize)> = Vec::new();
        for (gi, g) in self.groups.iter().enumerate() {
            for pat in &g.paths {
                let Ok(paths) = glob::glob(pat) else { continue };
                for p in paths.flatten() {
                    if g.exclude.iter().any(|x| x.matches_path(&p))
                        || out.iter().any(|(q, _)| *q == p)
                    {
                        continue;
                    }
                    out.push((p, gi));
                }
            }
        }
        out
    }

    fn start_offset(&mut self, f: &File, id: (u64, u64), size: u64) -> u64 {
        if let Some(s) = self.saved.remove(&id) {
            if same_start(f, s.fp_len, s.fp).unwrap_or(false) {
                return s.offset;
            }
            tracing::info!(path = %s.path.display(), "A saved log file's inode now holds another file; reading it from its start.");
            return 0;
        }
        if self.first_start && self.cfg.start_at == StartAt::End {
            size
        } else {
            0
        }
    }

    fn track(&mut self, path: PathBuf, group: usize, matched: bool) -> std::io::Result<()> {
        let f = File::open(&path)?;
        let md = f.metadata()?;
        if !md.is_file() {
            return Ok(());
        }
        let id = (md.dev(), md.ino());
        let at = self.start_offset(&f, id, md.len());
        let mut t = Tracked::new(f, id.0, id.1, path, group, at);
        t.matched = matched;
        t.fp = state::fingerprint(&t.file, md.len())?;
        self.files.push(t);
        Ok(())
    }

    /// After a restart: saved files that no glob matches any more (rotated by
    /// rename while the agent was down) are looked for by inode in their directory.
    fn find_moved(&mut self) {
        let left: Vec<FileOffset> = self.saved.values().cloned().collect();
        for s in left {
            let Some(dir) = s.path.parent() else { continue };
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            for e in rd.flatten() {
                let Ok(md) = std::fs::metadata(e.path()) else {
                    continue;
                };
                if (md.dev(), md.ino()) == (s.dev, s.ino) && md.is_file() {
                    let group = self.group_of(&s.path);
                    if let Err(err) = self.track(e.path(), group, false) {
                        tracing::warn!(path = %e.path().display(), error = %err, "Cannot read a rotated log file.");
                    }
                    break;
                }
            }
        }
    }

    fn group_of(&self, path: &Path) -> usize {
        self.groups
            .iter()
            .position(|g| {
                g.paths
                    .iter()
                    .any(|p| glob::Pattern::new(p).is_ok_and(|p| p.matches_path(path)))
            })
            .unwrap_or(0)
    }

    /// One poll: finds files, reads new lines, queues them in batches and saves
    /// the offsets. Returns the records queued.
    pub fn poll(&mut self) -> Result<usize, CollectError> {
        if self.sink.dirty {
            self.sink.save(&self.files)?;
        }
        for t in &mut self.files {
            t.matched = false;
        }
        for (path, group) in self.expand() {
            let Ok(md) = std::fs::metadata(&path) else {
                continue;
            };
            if !md.is_file() {
                continue;
            }
            let id = (md.dev(), md.ino());
            if let Some(t) = self.files.iter_mut().find(|t| (t.dev, t.ino) == id) {
                t.matched = true;
                t.path = path;
                continue;
            }
            if let Err(e) = self.track(path.clone(), group, true) {
                tracing::warn!(path = %path.display(), error = %e, "Cannot open a log file.");
            }
        }
        if std::mem::take(&mut self.restarted) {
            self.find_moved();
        }
        self.saved.clear();
        self.first_start = false;
        let max_line = self.cfg.max_line_bytes;
        let batch = self.cfg.batch_lines;
        let mut out: Vec<Entry> = Vec::new();
        let mut queued = 0;
        let mut split = 0;
        let mut gone = Vec::new();
        for i in 0..self.files.len() {
            let mut ctx = ReadCtx {
                max_line,
                multiline: self.groups[self.files[i].group].multiline.as_ref(),
                last_ts: &mut self.last_ts,
                split: 0,
            };
            let size = match self.files[i].check(&mut ctx, &mut out) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(path = %self.files[i].path.display(), error = %e, "Cannot read a log file; it is dropped.");
                    gone.push(i);
                    continue;
                }
            };
            let flush = self.files[i].idle >= IDLE_POLLS;
            loop {
                let budget = batch.saturating_sub(out.len());
                if let Err(e) = self.files[i].read(&mut ctx, size, budget, flush, &mut out) {
                    tracing::warn!(path = %self.files[i].path.display(), error = %e, "Cannot read a log file; it is dropped.");
                    gone.push(i);
                    break;
                }
                if out.len() < batch {
                    break;
                }
                queued += out.len();
                self.sink.commit(&mut self.files, &self.groups, &mut out)?;
            }
            split += ctx.split;
            let t = &self.files[i];
            let idle_done = t.idle >= IDLE_POLLS && t.pos >= size && t.pending.is_none();
            if !t.matched && idle_done && gone.last() != Some(&i) {
                gone.push(i);
            }
        }
        self.sink
            .stats
            .lines_split
            .fetch_add(split, Ordering::Relaxed);
        queued += out.len();
        self.sink.commit(&mut self.files, &self.groups, &mut out)?;
        if !gone.is_empty() {
            for i in gone.into_iter().rev() {
                let t = self.files.remove(i);
                tracing::debug!(path = %t.path.display(), "Stopped following a log file.");
            }
            self.sink.save(&self.files)?;
        }
        self.sink
            .stats
            .files_watched
            .store(self.files.len() as u64, Ordering::Relaxed);
        Ok(queued)
    }
}

impl Sink {
    fn save(&mut self, files: &[Tracked]) -> Result<(), CollectError> {
        self.dirty = true;
        let off = Offsets {
            seq: self.seq,
            files: files.iter().map(Tracked::saved).collect(),
        };
        off.save(&self.dir)?;
        self.dirty = false;
        Ok(())
    }

    /// Queues `out` as one batch with the offsets it reaches, then saves the offsets.
    fn commit(
        &mut self,
        files: &mut [Tracked],
        groups: &[Group],
        out: &mut Vec<Entry>,
    ) -> Result<(), CollectError> {
        let moved = files.iter().any(|t| t.touched);
        if out.is_empty() {
            if moved {
                for t in files.iter_mut().filter(|t| t.touched) {
                    t.committed = t.commit_point();
                    t.touched = false;
                }
                self.save(files)?;
            }
            return Ok(());
        }
        let mut header = BatchHeader {
            seq: self.seq + 1,
            files: Vec::new(),
            lines: out.len() as u64,
        };
        for t in files.iter().filter(|t| t.touched) {
            let mut o = t.saved();
            o.offset = t.commit_point();
            header.files.push(o);
        }
        let mut payload = serde_json::to_vec(&header).unwrap_or_default();
        payload.push(b'\n');
        for e in out.iter() {
            let mut labels = serde_json::Map::new();
            for (k, v) in &groups[e.group].labels {
                labels.insert(k.clone(), v.clone().into());
            }
            labels.insert(
                "filename".into(),
                e.path.to_string_lossy().into_owned().into(),
            );
            let rec = serde_json::json!({"ts": e.ts.to_string(), "labels": labels, "line": e.line});
            payload.extend_from_slice(rec.to_string().as_bytes());
            payload.push(b'\n');
        }
        let appended = {
            let mut q = self.queue.lock();
            let r = q.append(&payload);
            self.stats.queue_bytes.store(q.bytes(), Ordering::Relaxed);
            self.stats.queue_batches.store(q.depth(), Ordering::Relaxed);
            r
        };
        match appended {
            Ok(dropped) => {
                self.stats
                    .dropped_overflow
                    .fetch_add(dropped, Ordering::Relaxed);
            }
            Err(e) => {
                for t in files.iter_mut() {
                    t.rewind();
                }
                out.clear();
                return Err(e);
            }
        }
        self.stats
            .lines_read
            .fetch_add(out.len() as u64, Ordering::Relaxed);
        out.clear();
        self.seq += 1;
        for t in files.iter_mut().filter(|t| t.touched) {
            t.committed = t.commit_point();
            t.touched = false;
        }
        self.save(files)
    }
}

#[cfg(test)]
mod tests;
