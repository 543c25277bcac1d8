//! Reading the WAL from outside the store while it is written: the
//! remote_write queue tails the segments from a saved position, and learns
//! the labels of series ids from series records (in segments and in the
//! newest checkpoint). Nothing here writes or deletes a file.
//!
//! A reader sees each record whole or not at all: a record the writer has
//! not finished yet reads as [`Next::End`], and the same call later returns
//! it. Segments the reader still needs are kept by a hold (see
//! [`crate::Db::hold_wal`]).
//!
//! ```
//! use argus_tsdb::wal_read::{list, Next, SegmentReader, WalRecord};
//! # use argus_tsdb::{Appender, Db, Options};
//! # let dir = tempfile::tempdir().unwrap();
//! # let clock = std::sync::Arc::new(argus_model::SystemClock);
//! # let db = Db::open(dir.path(), Options::default(), clock).unwrap();
//! # let mut app = db.appender();
//! # use argus_model::Clock;
//! # let now = argus_model::SystemClock.now_ms();
//! # app.append_pairs(&[("__name__", "up")], now, 1.0).unwrap();
//! # app.commit().unwrap();
//! let files = list(&db.wal_dir()).unwrap();
//! let seg = *files.segments.last().unwrap();
//! let mut r = SegmentReader::open(&db.wal_dir(), seg, 0).unwrap();
//! let mut samples = 0;
//! while let Next::Record { record, .. } = r.next_record().unwrap() {
//!     if let WalRecord::Samples(s) = record {
//!         samples += s.len();
//!     }
//! }
//! assert_eq!(samples, 1);
//! ```

use crate::wal::{self, Record, FILE_MAGIC, HEADER_LEN, MAX_RECORD};
use crate::TsdbError;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// One record as an outside reader sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum WalRecord {
    /// Series ids and their sorted label pairs.
    Series(Vec<(u64, Vec<(String, String)>)>),
    /// `(series id, timestamp ms, value)` triples.
    Samples(Vec<(u64, i64, f64)>),
    /// A record of checkpoints only (chunks, metadata): nothing to send.
    Other,
}

impl From<Record> for WalRecord {
    fn from(r: Record) -> Self {
        match r {
            Record::Series(s) => WalRecord::Series(s),
            Record::Samples(s) => WalRecord::Samples(s),
            Record::Chunk(..) | Record::Checkpoint { .. } => WalRecord::Other,
        }
    }
}

/// The WAL's files: segment numbers and the newest checkpoint, if any
/// (checkpoint `n` holds the live series of the segments below `n`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalFiles {
    /// Segment numbers, ascending.
    pub segments: Vec<u64>,
    /// The newest checkpoint's number.
    pub checkpoint: Option<u64>,
}

/// Lists the WAL's files without touching any (unlike the store's own
/// listing, temporary files are only skipped).
pub fn list(wal_dir: &Path) -> Result<WalFiles, TsdbError> {
    let mut out = WalFiles::default();
    for e in fs::read_dir(wal_dir).map_err(|e| wal::io_err(wal_dir, e))? {
        let e = e.map_err(|e| wal::io_err(wal_dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp") {
            continue;
        }
        if let Some(n) = name
            .strip_prefix("checkpoint.")
            .and_then(|s| s.parse::<u64>().ok())
        {
            out.checkpoint = Some(out.checkpoint.map_or(n, |c| c.max(n)));
        } else if let Ok(n) = name.parse::<u64>() {
            out.segments.push(n);
        }
    }
    out.segments.sort_unstable();
    Ok(out)
}

/// Calls `f` with every series record of checkpoint `n` (its chunks are
/// skipped). Returns false when the checkpoint is gone (a newer one
/// replaced it meanwhile).
pub fn checkpoint_series(
    wal_dir: &Path,
    n: u64,
    f: &mut dyn FnMut(u64, Vec<(String, String)>),
) -> Result<bool, TsdbError> {
    let path = wal::checkpoint_path(wal_dir, n);
    if !path.exists() {
        return Ok(false);
    }
    let res = wal::read_file(&path, &mut |r| {
        if let Record::Series(list) = r {
            for (id, pairs) in list {
                f(id, pairs);
            }
        }
    });
    match res {
        Ok(_) => Ok(true),
        Err(TsdbError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// What [`SegmentReader::next_record`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// A whole record starting at byte `offset`; the next starts at `end`.
    Record {
        /// Where the record starts.
        offset: u64,
        /// Where the next record starts.
        end: u64,
        /// The record.
        record: WalRecord,
    },
    /// No whole record after the current offset (yet): the writer may still
    /// add one, unless a newer segment exists.
    End,
    /// A damaged record at `offset`; nothing after it in this segment can be read.
    Corrupt {
        /// Where the damage starts.
        offset: u64,
        /// What was wrong.
        reason: &'static str,
    },
}

/// Reads one segment's records from a byte offset, again and again as the
/// writer appends.
#[derive(Debug)]
pub struct SegmentReader {
    path: PathBuf,
    segment: u64,
    file: File,
    /// Bytes read from the file but not yet returned; `buf[0]` is at `offset`.
    buf: Vec<u8>,
    start: usize,
    offset: u64,
}

impl SegmentReader {
    /// Opens segment `segment` to read from `offset` (0: its first record).
    /// `offset` must be a record boundary returned by an earlier read.
    pub fn open(wal_dir: &Path, segment: u64, offset: u64) -> Result<SegmentReader, TsdbError> {
        let path = wal::segment_path(wal_dir, segment);
        let mut file = File::open(&path).map_err(|e| wal::io_err(&path, e))?;
        let mut magic = [0u8; FILE_MAGIC.len()];
        let got = read_full(&mut file, &mut magic).map_err(|e| wal::io_err(&path, e))?;
        if got == magic.len() && &magic != FILE_MAGIC {
            return Err(TsdbError::Corrupt {
                path,
                offset: 0,
                reason: "missing or wrong WAL file header".into(),
            });
        }
        let offset = offset.max(FILE_MAGIC.len() as u64);
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| wal::io_err(&path, e))?;
        Ok(SegmentReader {
            path,
            segment,
            file,
            buf: Vec::new(),
            start: 0,
            offset,
        })
    }

    /// The segment's number.
    pub fn segment(&self) -> u64 {
        self.segment
    }

    /// Where the next record starts.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next whole record, reading more of the file when needed.
    pub fn next_record(&mut self) -> Result<Next, TsdbError> {
        if let Some(n) = self.take()? {
            return Ok(n);
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            let n = self
                .file
                .read(&mut chunk)
                .map_err(|e| wal::io_err(&self.path, e))?;
            if n == 0 {
                break;
            }
            self.buf.extend_from_slice(&chunk[..n]);
            if self.buf.len() >= 4 << 20 {
                break;
            }
        }
        Ok(self.take()?.unwrap_or(Next::End))
    }

    /// Decodes the record at the front of the buffer, if it is whole.
    fn take(&mut self) -> Result<Option<Next>, TsdbError> {
        let b = &self.buf[self.start..];
        if b.len() < HEADER_LEN {
            return Ok(None);
        }
        let len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        let crc = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        if len > MAX_RECORD {
            return Ok(Some(self.corrupt("record length too large")));
        }
        if b.len() < HEADER_LEN + len {
            return Ok(None);
        }
        if crc32fast::hash(&b[8..HEADER_LEN + len]) != crc {
            return Ok(Some(self.corrupt("record checksum mismatch")));
        }
        let rec = match wal::decode_payload(b[8], &b[HEADER_LEN..HEADER_LEN + len]) {
            Ok(r) => r,
            Err(reason) => return Ok(Some(self.corrupt(reason))),
        };
        let offset = self.offset;
        let used = HEADER_LEN + len;
        self.start += used;
        self.offset += used as u64;
        Ok(Some(Next::Record {
            offset,
            end: self.offset,
            record: rec.into(),
        }))
    }

    fn corrupt(&self, reason: &'static str) -> Next {
        Next::Corrupt {
            offset: self.offset,
            reason,
        }
    }
}

fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_record_written_in_two_parts_is_read_once_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = wal::segment_path(dir.path(), 3);
        let mut f = File::create(&path).unwrap();
        f.write_all(FILE_MAGIC).unwrap();
        let mut buf = Vec::new();
        wal::encode_series(&mut buf, [(7u64, [("__name__", "up")])]);
        wal::encode_samples(&mut buf, &[(7, 1_000, 1.5), (7, 2_000, 2.5)]);
        let cut = buf.len() - 5;
        f.write_all(&buf[..cut]).unwrap();
        f.flush().unwrap();
        let mut r = SegmentReader::open(dir.path(), 3, 0).unwrap();
        assert!(matches!(
            r.next_record().unwrap(),
            Next::Record {
                record: WalRecord::Series(_),
                ..
            }
        ));
        let before = r.offset();
        assert_eq!(r.next_record().unwrap(), Next::End);
        assert_eq!(r.offset(), before);
        f.write_all(&buf[cut..]).unwrap();
        f.flush().unwrap();
        match r.next_record().unwrap() {
            Next::Record {
                offset,
                end,
                record: WalRecord::Samples(s),
            } => {
                assert_eq!(offset, before);
                assert_eq!(end, (FILE_MAGIC.len() + buf.len()) as u64);
                assert_eq!(s, vec![(7, 1_000, 1.5), (7, 2_000, 2.5)]);
            }
            other => panic!("unexpected {other:?}"),
        }
        // Reopened at a saved offset, the reader starts there.
        let mut r2 = SegmentReader::open(dir.path(), 3, before).unwrap();
        assert!(matches!(
            r2.next_record().unwrap(),
            Next::Record {
                record: WalRecord::Samples(_),
                ..
            }
        ));
        assert_eq!(list(dir.path()).unwrap().segments, vec![3]);
    }

    #[test]
    fn damage_is_reported_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = wal::segment_path(dir.path(), 1);
        let mut buf = FILE_MAGIC.to_vec();
        wal::encode_samples(&mut buf, &[(1, 1, 1.0)]);
        let last = buf.len() - 1;
        buf[last] ^= 0xff;
        fs::write(&path, &buf).unwrap();
        let mut r = SegmentReader::open(dir.path(), 1, 0).unwrap();
        assert!(matches!(
            r.next_record().unwrap(),
            Next::Corrupt { offset: 8, .. }
        ));
    }
}
