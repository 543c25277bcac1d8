//! The log store's write-ahead log: numbered segment files of checksummed frames, one frame per
//! accepted batch. A batch is acknowledged only after its frame is written (and fsynced when the
//! policy says so); a segment is deleted once a chunk file holds everything in it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MAGIC: &[u8; 8] = b"ALOGWAL1";
/// Largest frame payload; a larger length in a file means a torn or corrupt frame.
pub(crate) const MAX_FRAME: usize = 64 << 20;

/// When the log WAL is fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// Before every acknowledgement: an acknowledged line survives power loss.
    Always,
    /// At most this long after a write; `kill -9` still loses nothing (the kernel has the bytes).
    Interval(Duration),
}

pub(crate) struct Wal {
    dir: PathBuf,
    file: File,
    seg: u64,
    len: u64,
    fsync: Fsync,
    last_sync: Instant,
    dirty: bool,
}

fn seg_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:08}.seg"))
}

/// Segment numbers in `dir`, ascending.
pub(crate) fn segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut v: Vec<u64> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".seg")?.parse().ok()
        })
        .collect();
    v.sort_unstable();
    Ok(v)
}

/// What replay found: each frame's payload, in order, and the frames it had to skip.
pub(crate) struct Replay {
    pub(crate) frames: Vec<Vec<u8>>,
    pub(crate) torn: Vec<String>,
}

/// Reads every segment of `dir` numbered above `after` in order. A torn or corrupt frame ends
/// its segment's replay (a crash mid-write leaves at most the last frame torn; it was never
/// acknowledged).
pub(crate) fn replay(dir: &Path, after: u64) -> io::Result<Replay> {
    let mut out = Replay {
        frames: Vec::new(),
        torn: Vec::new(),
    };
    for n in segments(dir)?.into_iter().filter(|&n| n > after) {
        let path = seg_path(dir, n);
        let mut buf = Vec::new();
        File::open(&path)?.read_to_end(&mut buf)?;
        if buf.len() < MAGIC.len() || &buf[..MAGIC.len()] != MAGIC {
            if !buf.is_empty() {
                out.torn.push(format!(
                    "{} does not start like a log WAL segment",
                    path.display()
                ));
            }
            continue;
        }
        let mut at = MAGIC.len();
        while at < buf.len() {
            let Some(head) = buf.get(at..at + 8) else {
                out.torn.push(format!(
                    "{} ends in a torn frame header at byte {at}",
                    path.display()
                ));
                break;
            };
            let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
            let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
            let body = if len <= MAX_FRAME {
                buf.get(at + 8..at + 8 + len)
            } else {
                None
            };
            match body {
                Some(b) if crc32fast::hash(b) == crc => {
                    out.frames.push(b.to_vec());
                    at += 8 + len;
                }
                _ => {
                    out.torn.push(format!(
                        "{} has a torn or corrupt frame at byte {at}; the rest of the segment is skipped",
                        path.display()
                    ));
                    break;
                }
            }
        }
    }
    Ok(out)
}

impl Wal {
    /// Opens a new segment after the existing ones (which replay has read) and after
    /// `at_least - 1` (segments a chunk already covers, even when deleted).
    pub(crate) fn open(dir: &Path, fsync: Fsync, at_least: u64) -> io::Result<Wal> {
        fs::create_dir_all(dir)?;
        let next = segments(dir)?.last().map_or(1, |n| n + 1).max(at_least);
        let (file, len) = create_segment(dir, next)?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            file,
            seg: next,
            len,
            fsync,
            last_sync: Instant::now(),
            dirty: false,
        })
    }

    /// The segment now written to.
    #[cfg(test)]
    pub(crate) fn current(&self) -> u64 {
        self.seg
    }

    /// Writes one frame. On failure the segment is cut back to its last whole frame (or, if
    /// even that fails, a new segment is started), so a full disk leaves no torn frame behind.
    pub(crate) fn append(&mut self, payload: &[u8]) -> io::Result<()> {
        if payload.len() > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a batch of {} bytes is larger than the log WAL's frame limit",
                    payload.len()
                ),
            ));
        }
        let mut frame = Vec::with_capacity(payload.len() + 8);
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        frame.extend_from_slice(payload);
        let wrote = self.file.write_all(&frame).and_then(|()| match self.fsync {
            Fsync::Always => self.file.sync_data(),
            Fsync::Interval(_) => Ok(()),
        });
        match wrote {
            Ok(()) => {
                self.len += frame.len() as u64;
                self.dirty = true;
                self.sync_if_due();
                Ok(())
            }
            Err(e) => {
                if self.file.set_len(self.len).is_err() {
                    // The next frame must not follow a torn one: leave this segment behind.
                    let _ = self.cut();
                }
                Err(e)
            }
        }
    }

    fn sync_if_due(&mut self) {
        if let Fsync::Interval(d) = self.fsync {
            if self.dirty && self.last_sync.elapsed() >= d {
                self.sync();
            }
        }
    }

    /// fsyncs the current segment if anything was written since the last fsync.
    pub(crate) fn sync(&mut self) {
        if self.dirty && self.file.sync_data().is_ok() {
            self.dirty = false;
            self.last_sync = Instant::now();
        }
    }

    /// Closes the current segment and starts the next; returns the number of the closed one.
    pub(crate) fn cut(&mut self) -> io::Result<u64> {
        self.sync();
        let closed = self.seg;
        let (file, len) = create_segment(&self.dir, closed + 1)?;
        self.file = file;
        self.seg = closed + 1;
        self.len = len;
        Ok(closed)
    }

    /// Deletes every segment numbered `upto` or lower.
    pub(crate) fn remove_upto(&self, upto: u64) -> io::Result<()> {
        for n in segments(&self.dir)? {
            if n <= upto && n != self.seg {
                fs::remove_file(seg_path(&self.dir, n))?;
            }
        }
        Ok(())
    }
}

fn create_segment(dir: &Path, n: u64) -> io::Result<(File, u64)> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(seg_path(dir, n))?;
    f.write_all(MAGIC)?;
    f.sync_data()?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok((f, MAGIC.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_reopen_and_a_torn_tail_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::open(dir.path(), Fsync::Always, 1).unwrap();
        w.append(b"one").unwrap();
        w.append(b"two").unwrap();
        let seg = w.current();
        drop(w);
        // A crash mid-write: half a frame at the end.
        let mut f = OpenOptions::new()
            .append(true)
            .open(seg_path(dir.path(), seg))
            .unwrap();
        f.write_all(&[9, 0, 0, 0, 1, 2]).unwrap();
        let r = replay(dir.path(), 0).unwrap();
        assert_eq!(r.frames, vec![b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(r.torn.len(), 1, "{:?}", r.torn);
        let mut w = Wal::open(dir.path(), Fsync::Interval(Duration::from_secs(1)), 1).unwrap();
        assert_eq!(w.current(), seg + 1);
        w.append(b"three").unwrap();
        let r = replay(dir.path(), 0).unwrap();
        assert_eq!(r.frames.len(), 3);
        let closed = w.cut().unwrap();
        w.remove_upto(closed).unwrap();
        assert_eq!(segments(dir.path()).unwrap(), vec![closed + 1]);
        assert!(replay(dir.path(), 0).unwrap().frames.is_empty());
    }

    #[test]
    fn a_corrupt_frame_is_not_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::open(dir.path(), Fsync::Always, 1).unwrap();
        w.append(b"good").unwrap();
        w.append(b"flipped").unwrap();
        let path = seg_path(dir.path(), w.current());
        drop(w);
        let mut bytes = fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 1] ^= 0xff;
        fs::write(&path, bytes).unwrap();
        let r = replay(dir.path(), 0).unwrap();
        assert_eq!(r.frames, vec![b"good".to_vec()]);
        assert_eq!(r.torn.len(), 1);
    }
}
