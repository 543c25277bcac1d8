//! The pusher's on-disk queue: a directory of segment files holding framed
//! records, and a persisted read cursor.
//!
//! Format (little-endian):
//! - `NNNNNNNNNNNNNNNNNNNN.seg` (20-digit segment number): records
//!   `[u32 payload length][u32 crc32 of payload][payload]`, appended. A new
//!   segment starts when the current one would pass `segment_bytes`.
//! - `cursor`: `[u64 segment][u64 byte offset][u32 crc32 of the 16 bytes]`,
//!   the first record not yet acknowledged, replaced atomically (write
//!   `cursor.tmp`, fsync, rename).
//!
//! Durability: every append is fsynced (`sync_data`) before it returns, so a
//! batch in the queue survives a crash or power loss; the pusher appends one
//! batch per gather interval, so this is one fsync per interval. The cursor is
//! fsynced on every acknowledgement. A torn record at the tail (crash during
//! an append) fails its length or CRC check at open and is cut off.
//!
//! Bound: when the segments total more than `max_bytes`, whole segments are
//! dropped from the oldest end (never the one being written) and their
//! unacknowledged records counted as dropped.
//!
//! ```
//! use argus_collect::queue::DiskQueue;
//! let dir = tempfile::tempdir().unwrap();
//! let mut q = DiskQueue::open(dir.path(), 1 << 20, 1 << 30).unwrap();
//! q.append(b"batch-1").unwrap();
//! let (pos, data) = q.peek().unwrap().unwrap();
//! assert_eq!(data, b"batch-1");
//! q.ack(pos).unwrap();
//! assert_eq!(q.depth(), 0);
//! ```

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::CollectError;

const HEADER: u64 = 8;
/// Largest accepted record payload (a corrupt length beyond this is rejected).
const MAX_RECORD: u64 = 256 << 20;

/// Where a record is: its segment, offset and payload length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    seg: u64,
    offset: u64,
    len: u64,
}

impl Position {
    fn end(&self) -> u64 {
        self.offset + HEADER + self.len
    }
}

#[derive(Debug)]
struct Segment {
    id: u64,
    len: u64,
    records: u64,
}

/// A durable FIFO of byte records.
#[derive(Debug)]
pub struct DiskQueue {
    dir: PathBuf,
    segment_bytes: u64,
    max_bytes: u64,
    segments: VecDeque<Segment>,
    writer: File,
    /// (segment, offset) of the first unacknowledged record.
    cursor: (u64, u64),
    /// Records of the cursor's segment that lie before the cursor.
    acked_in_first: u64,
    dropped: u64,
}

fn seg_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CollectError + '_ {
    move |e| CollectError::io(path, e)
}

/// Scans a segment: the valid length, the record boundaries' count, and how
/// many records end at or before `upto` (with the last boundary at or before it).
fn scan(path: &Path, upto: u64) -> Result<(u64, u64, u64, u64), CollectError> {
    let data = std::fs::read(path).map_err(io(path))?;
    let (mut off, mut records, mut before, mut boundary) = (0u64, 0u64, 0u64, 0u64);
    while off + HEADER <= data.len() as u64 {
        let o = off as usize;
        let len = u64::from(u32::from_le_bytes([
            data[o],
            data[o + 1],
            data[o + 2],
            data[o + 3],
        ]));
        let crc = u32::from_le_bytes([data[o + 4], data[o + 5], data[o + 6], data[o + 7]]);
        let end = off + HEADER + len;
        if len > MAX_RECORD
            || end > data.len() as u64
            || crc32fast::hash(&data[o + 8..end as usize]) != crc
        {
            break;
        }
        off = end;
        records += 1;
        if end <= upto {
            before += 1;
            boundary = end;
        }
    }
    if off < data.len() as u64 {
        tracing::warn!(path = %path.display(), valid = off, size = data.len(), "Push queue segment has a torn or corrupt tail; cutting it off.");
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io(path))?;
        f.set_len(off).map_err(io(path))?;
        f.sync_all().map_err(io(path))?;
    }
    Ok((off, records, before, boundary))
}

impl DiskQueue {
    /// Opens (creating if needed) the queue in `dir`, recovering from a crash:
    /// torn tails are cut, the cursor is read back, acknowledged segments removed.
    pub fn open(dir: &Path, segment_bytes: u64, max_bytes: u64) -> Result<DiskQueue, CollectError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut ids: Vec<u64> = std::fs::read_dir(dir)
            .map_err(io(dir))?
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".seg")?.parse().ok())
            .collect();
        ids.sort_unstable();
        let cursor_path = dir.join("cursor");
        let saved = std::fs::read(&cursor_path).ok().and_then(|b| {
            if b.len() != 20 || crc32fast::hash(&b[..16]).to_le_bytes() != b[16..20] {
                return None;
            }
            let mut s = [0u8; 8];
            s.copy_from_slice(&b[..8]);
            let mut o = [0u8; 8];
            o.copy_from_slice(&b[8..16]);
            Some((u64::from_le_bytes(s), u64::from_le_bytes(o)))
        });
        let first = ids.first().copied().unwrap_or(0);
        let mut cursor = match saved {
            Some(c) if ids.contains(&c.0) => c,
            Some(c) if c.0 < first => (first, 0),
            Some(_) | None => {
                if !ids.is_empty() && saved.is_some() {
                    tracing::warn!(dir = %dir.display(), "Push queue cursor names a missing segment; resending from the oldest.");
                }
                (first, 0)
            }
        };
        let mut segments = VecDeque::new();
        let mut acked_in_first = 0;
        for id in ids {
            let p = seg_path(dir, id);
            if id < cursor.0 {
                std::fs::remove_file(&p).map_err(io(&p))?;
                continue;
            }
            let upto = if id == cursor.0 { cursor.1 } else { 0 };
            let (len, records, before, boundary) = scan(&p, upto)?;
            if id == cursor.0 {
                acked_in_first = before;
                cursor.1 = boundary;
            }
            segments.push_back(Segment { id, len, records });
        }
        if segments.is_empty() {
            segments.push_back(Segment {
                id: cursor.0,
                len: 0,
                records: 0,
            });
        }
        // Invariant: `segments` is non-empty here (pushed just above when empty).
        let last = segments.back().map(|s| s.id).unwrap_or(0);
        let lp = seg_path(dir, last);
        let writer = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&lp)
            .map_err(io(&lp))?;
        Ok(DiskQueue {
            dir: dir.to_path_buf(),
            segment_bytes: segment_bytes.max(HEADER + 1),
            max_bytes,
            segments,
            writer,
            cursor,
            acked_in_first,
            dropped: 0,
        })
    }

    /// Records not yet acknowledged.
    pub fn depth(&self) -> u64 {
        self.segments.iter().map(|s| s.records).sum::<u64>() - self.acked_in_first
    }

    /// Bytes of segment files on disk.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.len).sum()
    }

    /// Records dropped so far because the queue went over its size bound.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Appends one record and fsyncs it. Returns how many old records were
    /// dropped to stay within the size bound.
    pub fn append(&mut self, payload: &[u8]) -> Result<u64, CollectError> {
        let rec_len = HEADER + payload.len() as u64;
        if payload.len() as u64 > MAX_RECORD {
            return Err(CollectError::Config(format!(
                "push batch of {} bytes exceeds the {MAX_RECORD}-byte record limit",
                payload.len()
            )));
        }
        let (last_id, last_len) = match self.segments.back() {
            Some(s) => (s.id, s.len),
            None => (self.cursor.0, 0),
        };
        if last_len > 0 && last_len + rec_len > self.segment_bytes {
            let id = last_id + 1;
            let p = seg_path(&self.dir, id);
            self.writer = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .map_err(io(&p))?;
            self.segments.push_back(Segment {
                id,
                len: 0,
                records: 0,
            });
        }
        let mut rec = Vec::with_capacity(rec_len as usize);
        rec.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        rec.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        rec.extend_from_slice(payload);
        let id = self.segments.back().map(|s| s.id).unwrap_or(0);
        let p = seg_path(&self.dir, id);
        self.writer.write_all(&rec).map_err(io(&p))?;
        self.writer.sync_data().map_err(io(&p))?;
        if let Some(s) = self.segments.back_mut() {
            s.len += rec_len;
            s.records += 1;
        }
        let mut dropped = 0;
        while self.bytes() > self.max_bytes && self.segments.len() > 1 {
            if let Some(s) = self.segments.pop_front() {
                let lost = if s.id == self.cursor.0 {
                    s.records - self.acked_in_first
                } else {
                    s.records
                };
                dropped += lost;
                let p = seg_path(&self.dir, s.id);
                std::fs::remove_file(&p).map_err(io(&p))?;
                if let Some(next) = self.segments.front() {
                    self.cursor = (next.id, 0);
                    self.acked_in_first = 0;
                }
                tracing::warn!(
                    segment = s.id,
                    records = lost,
                    "Push queue is over its size bound; dropped its oldest segment."
                );
            }
        }
        if dropped > 0 {
            self.save_cursor()?;
        }
        self.dropped += dropped;
        Ok(dropped)
    }

    /// The oldest unacknowledged record, or `None` when all are acknowledged.
    pub fn peek(&mut self) -> Result<Option<(Position, Vec<u8>)>, CollectError> {
        loop {
            let Some(first) = self.segments.front() else {
                return Ok(None);
            };
            if self.cursor.1 >= first.len {
                if self.segments.len() == 1 {
                    return Ok(None);
                }
                self.retire_first()?;
                continue;
            }
            let p = seg_path(&self.dir, first.id);
            let f = File::open(&p).map_err(io(&p))?;
            let mut h = [0u8; 8];
            f.read_exact_at(&mut h, self.cursor.1).map_err(io(&p))?;
            let len = u64::from(u32::from_le_bytes([h[0], h[1], h[2], h[3]]));
            let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
            let mut data = vec![0u8; len.min(MAX_RECORD) as usize];
            f.read_exact_at(&mut data, self.cursor.1 + HEADER)
                .map_err(io(&p))?;
            if crc32fast::hash(&data) != crc {
                return Err(CollectError::Corrupt {
                    path: p,
                    offset: self.cursor.1,
                    reason: "CRC mismatch".into(),
                });
            }
            let pos = Position {
                seg: first.id,
                offset: self.cursor.1,
                len,
            };
            return Ok(Some((pos, data)));
        }
    }

    /// The newest record, acknowledged or not; `None` when the newest segment
    /// is empty. The log tailer reads it at start to find offsets that were
    /// queued but not yet saved.
    pub fn last_record(&self) -> Result<Option<Vec<u8>>, CollectError> {
        let Some(s) = self.segments.back() else {
            return Ok(None);
        };
        let p = seg_path(&self.dir, s.id);
        let data = std::fs::read(&p).map_err(io(&p))?;
        let valid = data.len().min(s.len as usize);
        let (mut off, mut last) = (0usize, None);
        while off + HEADER as usize <= valid {
            let len = u32::from_le_bytes([data[off], data[off + 1], data[off + 2], data[off + 3]]);
            let end = off + HEADER as usize + len as usize;
            if end > valid {
                break;
            }
            last = Some(off + HEADER as usize..end);
            off = end;
        }
        Ok(last.map(|r| data[r].to_vec()))
    }

    /// Acknowledges the record at `pos` (from [`DiskQueue::peek`]) and persists
    /// the cursor. A stale position (its record was dropped meanwhile) is ignored.
    pub fn ack(&mut self, pos: Position) -> Result<(), CollectError> {
        if (pos.seg, pos.offset) != self.cursor {
            return Ok(());
        }
        self.cursor.1 = pos.end();
        self.acked_in_first += 1;
        let retire = self.segments.len() > 1
            && self
                .segments
                .front()
                .is_some_and(|s| self.cursor.1 >= s.len);
        if retire {
            self.retire_first()
        } else {
            self.save_cursor()
        }
    }

    /// Skips a record that cannot be read (after [`CollectError::Corrupt`]):
    /// the rest of its segment is dropped. Returns the records dropped.
    pub fn skip_corrupt_segment(&mut self) -> Result<u64, CollectError> {
        let Some(first) = self.segments.front() else {
            return Ok(0);
        };
        let lost = first.records - self.acked_in_first;
        if self.segments.len() == 1 {
            // The segment being written: move the cursor to its end.
            self.cursor.1 = first.len;
            self.acked_in_first = first.records;
            self.save_cursor()?;
        } else {
            self.retire_first()?;
        }
        self.dropped += lost;
        Ok(lost)
    }

    fn retire_first(&mut self) -> Result<(), CollectError> {
        if let Some(s) = self.segments.pop_front() {
            if let Some(next) = self.segments.front() {
                self.cursor = (next.id, 0);
                self.acked_in_first = 0;
            }
            self.save_cursor()?;
            let p = seg_path(&self.dir, s.id);
            std::fs::remove_file(&p).map_err(io(&p))?;
        }
        Ok(())
    }

    fn save_cursor(&self) -> Result<(), CollectError> {
        let mut b = Vec::with_capacity(20);
        b.extend_from_slice(&self.cursor.0.to_le_bytes());
        b.extend_from_slice(&self.cursor.1.to_le_bytes());
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        let tmp = self.dir.join("cursor.tmp");
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&b).map_err(io(&tmp))?;
        f.sync_data().map_err(io(&tmp))?;
        let dst = self.dir.join("cursor");
        std::fs::rename(&tmp, &dst).map_err(io(&dst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut DiskQueue) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        while let Some((pos, d)) = q.peek().unwrap() {
            q.ack(pos).unwrap();
            v.push(d);
        }
        v
    }

    #[test]
    fn fifo_across_segments_and_reopen() {
        let d = tempfile::tempdir().unwrap();
        let mut q = DiskQueue::open(d.path(), 40, 1 << 30).unwrap();
        for i in 0..10u8 {
            q.append(&[i; 20]).unwrap();
        }
        assert_eq!(q.depth(), 10);
        assert!(
            q.segments.len() >= 5,
            "rolled segments: {}",
            q.segments.len()
        );
        for _ in 0..4 {
            let (pos, _) = q.peek().unwrap().unwrap();
            q.ack(pos).unwrap();
        }
        // In-flight (peeked, not acked) record comes back after reopen.
        let (_, inflight) = q.peek().unwrap().unwrap();
        drop(q);
        let mut q = DiskQueue::open(d.path(), 40, 1 << 30).unwrap();
        assert_eq!(q.depth(), 6);
        let got = drain(&mut q);
        assert_eq!(got[0], inflight);
        assert_eq!(
            got.iter().map(|r| r[0]).collect::<Vec<_>>(),
            vec![4, 5, 6, 7, 8, 9]
        );
        assert_eq!(q.depth(), 0);
        drop(q);
        let mut q = DiskQueue::open(d.path(), 40, 1 << 30).unwrap();
        assert!(q.peek().unwrap().is_none());
        q.append(b"after").unwrap();
        assert_eq!(drain(&mut q), vec![b"after".to_vec()]);
    }

    #[test]
    fn torn_tail_and_bad_cursor_are_recovered() {
        let d = tempfile::tempdir().unwrap();
        let mut q = DiskQueue::open(d.path(), 1 << 20, 1 << 30).unwrap();
        q.append(b"one").unwrap();
        q.append(b"two").unwrap();
        drop(q);
        let seg = seg_path(d.path(), 0);
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2]).unwrap(); // torn header of a third record
        std::fs::write(d.path().join("cursor"), b"garbage").unwrap();
        let mut q = DiskQueue::open(d.path(), 1 << 20, 1 << 30).unwrap();
        assert_eq!(drain(&mut q), vec![b"one".to_vec(), b"two".to_vec()]);
        q.append(b"three").unwrap();
        assert_eq!(drain(&mut q), vec![b"three".to_vec()]);
    }

    #[test]
    fn size_bound_drops_oldest_segments() {
        let d = tempfile::tempdir().unwrap();
        let mut q = DiskQueue::open(d.path(), 100, 300).unwrap();
        let mut dropped = 0;
        for i in 0..20u8 {
            dropped += q.append(&[i; 42]).unwrap();
        }
        assert!(q.bytes() <= 300, "{}", q.bytes());
        assert_eq!(dropped, q.dropped());
        assert_eq!(dropped + q.depth(), 20);
        let got = drain(&mut q);
        assert_eq!(got.last().unwrap()[0], 19);
        assert!(got.windows(2).all(|w| w[0][0] + 1 == w[1][0]));
    }

    #[test]
    fn stale_ack_is_ignored_and_corruption_is_reported() {
        let d = tempfile::tempdir().unwrap();
        let mut q = DiskQueue::open(d.path(), 1 << 20, 1 << 30).unwrap();
        q.append(b"aaaa").unwrap();
        let (pos, _) = q.peek().unwrap().unwrap();
        q.ack(pos).unwrap();
        q.ack(pos).unwrap();
        q.append(b"bbbb").unwrap();
        q.append(b"cccc").unwrap();
        // Flip a payload byte of "bbbb" behind the queue's back.
        let seg = seg_path(d.path(), 0);
        let f = OpenOptions::new().write(true).open(&seg).unwrap();
        f.write_all_at(b"X", 12 + 8).unwrap();
        assert!(matches!(q.peek(), Err(CollectError::Corrupt { .. })));
        assert_eq!(q.skip_corrupt_segment().unwrap(), 2);
        assert!(q.peek().unwrap().is_none());
    }
}
