//! The write-ahead log: numbered segment files of checksummed records, and
//! checkpoints that replace the oldest segments. The format is described in
//! `docs/format/wal.md`.
//!
//! ```text
//! let mut buf = Vec::new();
//! wal::encode_samples(&mut buf, &[(1, 1_000, 2.5)]);
//! wal.write(&buf)?; // one write per commit, fsync per policy
//! ```

use crate::enc::{put_bytes, put_uvarint, put_varint, Reader};
use crate::TsdbError;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Magic and version at the start of every segment and checkpoint file.
pub(crate) const FILE_MAGIC: &[u8; 8] = b"AWAL\x00\x00\x00\x01";
/// Bytes of a record header: length u32, crc32 u32, type u8.
pub(crate) const HEADER_LEN: usize = 9;
/// Largest payload a record may have; a larger length means corruption.
pub(crate) const MAX_RECORD: usize = 256 << 20;
/// Samples per samples record; bigger commits are split across records.
const SAMPLES_PER_RECORD: usize = 1 << 20;

/// Record type: series definitions (id and label pairs).
pub(crate) const REC_SERIES: u8 = 1;
/// Record type: a batch of samples.
pub(crate) const REC_SAMPLES: u8 = 2;
/// Record type: one series' Gorilla chunk (checkpoints only).
pub(crate) const REC_CHUNK: u8 = 3;
/// Record type: checkpoint metadata (the head's lower bound).
pub(crate) const REC_CHECKPOINT: u8 = 4;

/// When the WAL is fsynced. See `docs/format/wal.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// fsync inside every commit: an acknowledged sample survives power loss.
    Always,
    /// A commit fsyncs when the last fsync is older than this; a `kill -9`
    /// loses nothing, a power loss at most this much.
    Interval(Duration),
    /// Never in a commit or on rotation; only in `Db::sync_wal` and `Db::close`.
    /// A `kill -9` still loses nothing (the OS has the bytes); a power loss may.
    Never,
}

impl Default for FsyncPolicy {
    fn default() -> Self {
        FsyncPolicy::Interval(Duration::from_secs(1))
    }
}

/// One decoded record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Record {
    /// Series ids and their sorted label pairs.
    Series(Vec<(u64, Vec<(String, String)>)>),
    /// `(series id, t, v)` triples.
    Samples(Vec<(u64, i64, f64)>),
    /// A series id and a Gorilla chunk of its samples.
    Chunk(u64, Vec<u8>),
    /// A checkpoint's head lower bound.
    Checkpoint { min_valid: i64 },
}

/// Frames `payload` (already written after a reserved header at `start`).
fn finish_frame(out: &mut [u8], start: usize, typ: u8) {
    let len = (out.len() - start - HEADER_LEN) as u32;
    out[start + 8] = typ;
    let mut h = crc32fast::Hasher::new();
    h.update(&out[start + 8..]);
    let crc = h.finalize();
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn begin_frame(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0u8; HEADER_LEN]);
    start
}

/// Appends one framed series record for `series` (id and sorted pairs).
pub(crate) fn encode_series<'a, I, P>(out: &mut Vec<u8>, series: I)
where
    I: IntoIterator<Item = (u64, P)>,
    P: IntoIterator<Item = (&'a str, &'a str)>,
{
    let start = begin_frame(out);
    for (id, pairs) in series {
        put_uvarint(out, id);
        let at = out.len();
        out.push(0); // label count, patched below (at most 127 per series is checked)
        let mut n = 0u64;
        for (name, value) in pairs {
            put_bytes(out, name.as_bytes());
            put_bytes(out, value.as_bytes());
            n += 1;
        }
        if n < 0x80 {
            out[at] = n as u8;
        } else {
            let mut cnt = Vec::new();
            put_uvarint(&mut cnt, n);
            out.splice(at..at + 1, cnt);
        }
    }
    finish_frame(out, start, REC_SERIES);
}

/// Appends framed samples records: ids and timestamps delta-encoded against
/// the previous sample, values as raw bits.
pub(crate) fn encode_samples(out: &mut Vec<u8>, samples: &[(u64, i64, f64)]) {
    for part in samples.chunks(SAMPLES_PER_RECORD) {
        let start = begin_frame(out);
        put_uvarint(out, part.len() as u64);
        let (mut pid, mut pt) = (0i64, 0i64);
        for &(id, t, v) in part {
            put_varint(out, (id as i64).wrapping_sub(pid));
            put_varint(out, t.wrapping_sub(pt));
            out.extend_from_slice(&v.to_bits().to_le_bytes());
            pid = id as i64;
            pt = t;
        }
        finish_frame(out, start, REC_SAMPLES);
    }
}

/// Appends one framed chunk record.
pub(crate) fn encode_chunk(out: &mut Vec<u8>, id: u64, chunk: &[u8]) {
    let start = begin_frame(out);
    put_uvarint(out, id);
    out.extend_from_slice(chunk);
    finish_frame(out, start, REC_CHUNK);
}

/// Appends one framed checkpoint metadata record.
pub(crate) fn encode_checkpoint(out: &mut Vec<u8>, min_valid: i64) {
    let start = begin_frame(out);
    put_varint(out, min_valid);
    finish_frame(out, start, REC_CHECKPOINT);
}

pub(crate) fn decode_payload(typ: u8, p: &[u8]) -> Result<Record, &'static str> {
    let mut r = Reader::new(p);
    let rec = match typ {
        REC_SERIES => {
            let mut v = Vec::new();
            while !r.is_empty() {
                let id = r.uvarint()?;
                let n = r.count()?;
                let mut pairs = Vec::with_capacity(n);
                for _ in 0..n {
                    pairs.push((r.str()?.to_string(), r.str()?.to_string()));
                }
                v.push((id, pairs));
            }
            Record::Series(v)
        }
        REC_SAMPLES => {
            let n = r.count()?;
            let mut v = Vec::with_capacity(n);
            let (mut id, mut t) = (0i64, 0i64);
            for _ in 0..n {
                id = id.wrapping_add(r.varint()?);
                t = t.wrapping_add(r.varint()?);
                v.push((id as u64, t, f64::from_bits(r.u64_le()?)));
            }
            Record::Samples(v)
        }
        REC_CHUNK => {
            let id = r.uvarint()?;
            Record::Chunk(id, p[r.pos()..].to_vec())
        }
        REC_CHECKPOINT => Record::Checkpoint {
            min_valid: r.varint()?,
        },
        _ => return Err("unknown record type"),
    };
    if typ != REC_CHUNK && !r.is_empty() {
        return Err("trailing bytes after record");
    }
    Ok(rec)
}

/// How reading a file ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ReadEnd {
    /// Every byte was a valid record.
    Clean,
    /// A bad record at `offset`; everything before it was delivered.
    Corrupt {
        /// Byte offset of the first bad record.
        offset: u64,
        /// What was wrong.
        reason: &'static str,
    },
    /// The file ends in a torn write at `offset`: a header or record cut
    /// short by the end of the file, or zeros up to the end (space the
    /// filesystem allocated but the write never filled). Left by a crash or
    /// a full disk; never acknowledged, so not corruption.
    Torn {
        /// Byte offset of the incomplete record (or 0 for an incomplete header).
        offset: u64,
        /// What was cut short.
        reason: &'static str,
    },
}

/// Reads every valid record of a segment or checkpoint file in order, calling
/// `f` for each, and stops at the first bad one.
pub(crate) fn read_file(path: &Path, f: &mut dyn FnMut(Record)) -> Result<ReadEnd, TsdbError> {
    let buf = fs::read(path).map_err(|e| io_err(path, e))?;
    if buf.len() < FILE_MAGIC.len() && FILE_MAGIC.starts_with(&buf) {
        return Ok(ReadEnd::Torn {
            offset: 0,
            reason: "empty or incomplete file header",
        });
    }
    if buf.len() < FILE_MAGIC.len() || &buf[..FILE_MAGIC.len()] != FILE_MAGIC {
        return Ok(ReadEnd::Corrupt {
            offset: 0,
            reason: "missing or wrong file header",
        });
    }
    let mut pos = FILE_MAGIC.len();
    while pos < buf.len() {
        let end = match check_record(&buf, pos) {
            Ok(end) => end,
            Err(reason) => {
                let offset = pos as u64;
                let truncated = reason == "truncated record header" || reason == "truncated record";
                return Ok(if truncated {
                    ReadEnd::Torn { offset, reason }
                } else if buf[pos..].iter().all(|&b| b == 0) {
                    ReadEnd::Torn {
                        offset,
                        reason: "zero-filled tail",
                    }
                } else {
                    ReadEnd::Corrupt { offset, reason }
                });
            }
        };
        match decode_payload(buf[pos + 8], &buf[pos + HEADER_LEN..end]) {
            Ok(rec) => f(rec),
            Err(reason) => {
                return Ok(ReadEnd::Corrupt {
                    offset: pos as u64,
                    reason,
                })
            }
        }
        pos = end;
    }
    Ok(ReadEnd::Clean)
}

/// Validates the frame at `pos` and returns where it ends.
fn check_record(buf: &[u8], pos: usize) -> Result<usize, &'static str> {
    if buf.len() - pos < HEADER_LEN {
        return Err("truncated record header");
    }
    let mut w = [0u8; 4];
    w.copy_from_slice(&buf[pos..pos + 4]);
    let len = u32::from_le_bytes(w) as usize;
    w.copy_from_slice(&buf[pos + 4..pos + 8]);
    let crc = u32::from_le_bytes(w);
    if len > MAX_RECORD {
        return Err("record length too large");
    }
    let end = pos + HEADER_LEN + len;
    if end > buf.len() {
        return Err("truncated record");
    }
    if crc32fast::hash(&buf[pos + 8..end]) != crc {
        return Err("record checksum mismatch");
    }
    Ok(end)
}

pub(crate) fn io_err(path: &Path, source: std::io::Error) -> TsdbError {
    TsdbError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The path of segment `n`.
pub(crate) fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:08}"))
}

/// The path of checkpoint `n` (it replaces the segments numbered below `n`).
pub(crate) fn checkpoint_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("checkpoint.{n:08}"))
}

/// Segment numbers and checkpoint numbers in `dir`, sorted. Leftover
/// temporary files from an interrupted checkpoint are deleted.
pub(crate) fn list(dir: &Path) -> Result<(Vec<u64>, Vec<u64>), TsdbError> {
    let (mut segs, mut cps) = (Vec::new(), Vec::new());
    for e in fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let e = e.map_err(|e| io_err(dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp") {
            tracing::warn!(path = %e.path().display(), "Deleting a temporary WAL file left by an interrupted checkpoint.");
            fs::remove_file(e.path()).map_err(|err| io_err(&e.path(), err))?;
        } else if let Some(n) = name
            .strip_prefix("checkpoint.")
            .and_then(|s| s.parse().ok())
        {
            cps.push(n);
        } else if let Ok(n) = name.parse::<u64>() {
            segs.push(n);
        }
    }
    segs.sort_unstable();
    cps.sort_unstable();
    Ok((segs, cps))
}

/// fsyncs a directory so a created, renamed or deleted entry is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), TsdbError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))?;
    Ok(())
}

/// The WAL writer. Callers hold it under one lock.
#[derive(Debug)]
pub(crate) struct Wal {
    dir: PathBuf,
    seg: u64,
    /// The segment being written; `None` until segment `seg` could be
    /// created (the store opened on a full disk).
    file: Option<File>,
    seg_bytes: u64,
    max_seg_bytes: u64,
    policy: FsyncPolicy,
    last_sync: Instant,
    dirty: bool,
    /// A write failed part-way; the next write starts a fresh segment so no
    /// later record follows the torn one.
    broken: bool,
    /// fsyncs done so far.
    pub(crate) fsyncs: u64,
    /// Bytes of all segment files this writer knows of (not checkpoints).
    pub(crate) bytes: u64,
}

impl Wal {
    /// Starts writing a fresh segment `seg` in `dir`.
    pub(crate) fn create(
        dir: &Path,
        seg: u64,
        max_seg_bytes: u64,
        policy: FsyncPolicy,
        bytes: u64,
    ) -> Result<Wal, TsdbError> {
        let file = new_segment(dir, seg, policy != FsyncPolicy::Never)?;
        let mut w = Wal::deferred(dir, seg, max_seg_bytes, policy, bytes);
        w.file = Some(file);
        w.bytes += FILE_MAGIC.len() as u64;
        Ok(w)
    }

    /// A writer that creates segment `seg` at its first write (used when the
    /// disk is full at open).
    pub(crate) fn deferred(
        dir: &Path,
        seg: u64,
        max_seg_bytes: u64,
        policy: FsyncPolicy,
        bytes: u64,
    ) -> Wal {
        Wal {
            dir: dir.to_path_buf(),
            seg,
            file: None,
            seg_bytes: FILE_MAGIC.len() as u64,
            max_seg_bytes: max_seg_bytes.max(4096),
            policy,
            last_sync: Instant::now(),
            dirty: false,
            broken: false,
            fsyncs: 0,
            bytes,
        }
    }

    /// The segment being written.
    #[cfg(test)]
    pub(crate) fn segment(&self) -> u64 {
        self.seg
    }

    /// Writes `buf` (whole records) with one `write` call, rotating first if the
    /// segment is full, and fsyncs per policy. On return the OS has the bytes.
    pub(crate) fn write(&mut self, buf: &[u8]) -> Result<(), TsdbError> {
        if buf.is_empty() {
            return Ok(());
        }
        if self.file.is_none() {
            let f = new_segment(&self.dir, self.seg, self.policy != FsyncPolicy::Never)?;
            self.file = Some(f);
            self.seg_bytes = FILE_MAGIC.len() as u64;
            self.bytes += FILE_MAGIC.len() as u64;
        } else if self.broken
            || (self.seg_bytes + buf.len() as u64 > self.max_seg_bytes
                && self.seg_bytes > FILE_MAGIC.len() as u64)
        {
            self.cut()?;
            self.broken = false;
        }
        let path = segment_path(&self.dir, self.seg);
        let Some(file) = self.file.as_mut() else {
            // Set just above or kept by `cut`, which only replaces it.
            unreachable!("WAL segment {} has no file after opening it", self.seg);
        };
        if let Err(e) = file.write_all(buf) {
            self.broken = true;
            return Err(io_err(&path, e));
        }
        self.seg_bytes += buf.len() as u64;
        self.bytes += buf.len() as u64;
        self.dirty = true;
        match self.policy {
            FsyncPolicy::Always => self.sync()?,
            FsyncPolicy::Interval(d) if self.last_sync.elapsed() >= d => self.sync()?,
            _ => {}
        }
        Ok(())
    }

    /// fsyncs the current segment if anything was written since the last fsync.
    pub(crate) fn sync(&mut self) -> Result<(), TsdbError> {
        if let (true, Some(file)) = (self.dirty, self.file.as_ref()) {
            let path = segment_path(&self.dir, self.seg);
            file.sync_data().map_err(|e| io_err(&path, e))?;
            self.fsyncs += 1;
            self.dirty = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Closes the current segment (fsynced unless the policy is `Never`) and
    /// starts the next one. Returns the new segment number.
    pub(crate) fn cut(&mut self) -> Result<u64, TsdbError> {
        if self.policy != FsyncPolicy::Never {
            self.sync()?;
        }
        let next = self.seg + 1;
        self.file = Some(new_segment(
            &self.dir,
            next,
            self.policy != FsyncPolicy::Never,
        )?);
        self.seg = next;
        self.seg_bytes = FILE_MAGIC.len() as u64;
        self.bytes += FILE_MAGIC.len() as u64;
        Ok(next)
    }
}

/// Creates segment `n` with its header. On failure (a full disk) the
/// partial file is removed, so it is never replayed as a damaged segment.
fn new_segment(dir: &Path, n: u64, sync: bool) -> Result<File, TsdbError> {
    let path = segment_path(dir, n);
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .map_err(|e| io_err(&path, e))?;
    let header = f
        .write_all(FILE_MAGIC)
        .and_then(|()| if sync { f.sync_all() } else { Ok(()) });
    if let Err(e) = header {
        drop(f);
        let _ = fs::remove_file(&path);
        return Err(io_err(&path, e));
    }
    if sync {
        sync_dir(dir)?;
    }
    Ok(f)
}

/// Writes a checkpoint to a temporary file; [`CheckpointWriter::finish`]
/// fsyncs and renames it into place.
pub(crate) struct CheckpointWriter {
    tmp: PathBuf,
    dst: PathBuf,
    out: BufWriter<File>,
    buf: Vec<u8>,
}

impl CheckpointWriter {
    /// Starts checkpoint `n` in `dir`.
    pub(crate) fn create(dir: &Path, n: u64) -> Result<Self, TsdbError> {
        let dst = checkpoint_path(dir, n);
        let tmp = dir.join(format!("checkpoint.{n:08}.tmp"));
        let f = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, f);
        out.write_all(FILE_MAGIC).map_err(|e| io_err(&tmp, e))?;
        Ok(CheckpointWriter {
            tmp,
            dst,
            out,
            buf: Vec::new(),
        })
    }

    /// A scratch buffer to encode records into; pass it back with [`Self::flush_buf`].
    pub(crate) fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Writes out the scratch buffer.
    pub(crate) fn flush_buf(&mut self) -> Result<(), TsdbError> {
        self.out
            .write_all(&self.buf)
            .map_err(|e| io_err(&self.tmp, e))?;
        self.buf.clear();
        Ok(())
    }

    /// Flushes, fsyncs and renames the checkpoint into place.
    pub(crate) fn finish(mut self) -> Result<PathBuf, TsdbError> {
        self.flush_buf()?;
        let f = self
            .out
            .into_inner()
            .map_err(|e| io_err(&self.tmp, e.into_error()))?;
        f.sync_all().map_err(|e| io_err(&self.tmp, e))?;
        drop(f);
        fs::rename(&self.tmp, &self.dst).map_err(|e| io_err(&self.dst, e))?;
        if let Some(dir) = self.dst.parent() {
            sync_dir(dir)?;
        }
        Ok(self.dst)
    }
}

/// Segment numbers and their sizes in bytes, ascending.
pub(crate) fn segment_sizes(dir: &Path) -> Result<Vec<(u64, u64)>, TsdbError> {
    let (segs, _) = list(dir)?;
    Ok(segs
        .into_iter()
        .map(|s| {
            let len = fs::metadata(segment_path(dir, s)).map_or(0, |m| m.len());
            (s, len)
        })
        .collect())
}

/// Deletes segments numbered below `cut` and checkpoints other than `n`.
/// Returns the bytes freed from segments.
pub(crate) fn remove_before(dir: &Path, n: u64, cut: u64) -> Result<u64, TsdbError> {
    let (segs, cps) = list(dir)?;
    let mut freed = 0;
    for s in segs.into_iter().filter(|&s| s < cut) {
        let p = segment_path(dir, s);
        freed += fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        fs::remove_file(&p).map_err(|e| io_err(&p, e))?;
    }
    for c in cps.into_iter().filter(|&c| c != n) {
        let p = checkpoint_path(dir, c);
        fs::remove_file(&p).map_err(|e| io_err(&p, e))?;
    }
    sync_dir(dir)?;
    Ok(freed)
}

#[cfg(test)]
#[path = "wal_tests.rs"]
mod tests;
