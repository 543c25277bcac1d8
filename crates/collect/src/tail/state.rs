//! Saved offsets, and the header that each queued batch carries.
//!
//! `offsets.json` in the state directory holds the sequence number of the
//! last batch whose offsets it includes, and per file (device, inode) the
//! byte offset up to which every line is in the queue, with the path last
//! seen and a fingerprint of the file's first bytes. It is replaced
//! atomically: written to `offsets.json.tmp`, fsynced, renamed, and the
//! directory fsynced.
//!
//! ```
//! use argus_collect::tail::state::{Offsets, FileOffset};
//! let dir = tempfile::tempdir().unwrap();
//! let mut o = Offsets::default();
//! o.seq = 3;
//! o.files.push(FileOffset { dev: 1, ino: 2, path: "/var/log/a.log".into(), offset: 10, fp_len: 0, fp: 0 });
//! o.save(dir.path()).unwrap();
//! assert_eq!(Offsets::load(dir.path()).unwrap(), Some(o));
//! ```

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::CollectError;

/// Bytes at the start of a file whose CRC tells one file's content from another's.
pub const FP_BYTES: u64 = 64;

/// Where one file is read up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileOffset {
    /// Device of the file.
    pub dev: u64,
    /// Inode of the file.
    pub ino: u64,
    /// The path it was last seen at.
    pub path: PathBuf,
    /// Every line before this byte offset is queued.
    pub offset: u64,
    /// How many leading bytes `fp` covers (0: none yet).
    pub fp_len: u64,
    /// CRC32 of the first `fp_len` bytes.
    pub fp: u32,
}

/// The saved offsets of all tracked files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offsets {
    /// Sequence number of the last batch included.
    pub seq: u64,
    /// Per file.
    pub files: Vec<FileOffset>,
}

/// The header line of a queued batch: its sequence number, the offsets of the
/// files it advanced, and its line count. The JSON lines body follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchHeader {
    /// Sequence number (one more than the batch before).
    pub seq: u64,
    /// The files this batch advanced, with their offsets after it.
    pub files: Vec<FileOffset>,
    /// Lines in the body.
    pub lines: u64,
}

impl BatchHeader {
    /// Splits a queued record into its header and its body.
    pub fn split(record: &[u8]) -> Option<(BatchHeader, &[u8])> {
        let nl = record.iter().position(|&b| b == b'\n')?;
        let h = serde_json::from_slice(&record[..nl]).ok()?;
        Some((h, &record[nl + 1..]))
    }
}

fn io(p: &Path) -> impl FnOnce(std::io::Error) -> CollectError + '_ {
    move |e| CollectError::io(p, e)
}

impl Offsets {
    /// Reads `offsets.json` in `dir`; `None` when there is none (a first start).
    pub fn load(dir: &Path) -> Result<Option<Offsets>, CollectError> {
        let p = dir.join("offsets.json");
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| CollectError::Parse {
                    path: p,
                    reason: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CollectError::io(p, e)),
        }
    }

    /// Replaces `offsets.json` in `dir` atomically and durably.
    pub fn save(&self, dir: &Path) -> Result<(), CollectError> {
        let tmp = dir.join("offsets.json.tmp");
        let body = serde_json::to_vec(self).map_err(|e| CollectError::Config(e.to_string()))?;
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&body).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        let dst = dir.join("offsets.json");
        std::fs::rename(&tmp, &dst).map_err(io(&dst))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
    }
}

/// The fingerprint of an open file: `(length, crc32)` of its first bytes, up
/// to [`FP_BYTES`] and at most `size`.
pub fn fingerprint(f: &File, size: u64) -> std::io::Result<(u64, u32)> {
    let n = size.min(FP_BYTES);
    let mut b = vec![0u8; n as usize];
    let got = f.read_at(&mut b, 0)?;
    b.truncate(got);
    Ok((got as u64, crc32fast::hash(&b)))
}

/// Whether a file still starts with the bytes fingerprinted as `(len, crc)`.
pub fn same_start(f: &File, len: u64, crc: u32) -> std::io::Result<bool> {
    if len == 0 {
        return Ok(true);
    }
    let mut b = vec![0u8; len as usize];
    let got = f.read_at(&mut b, 0)?;
    Ok(got as u64 == len && crc32fast::hash(&b) == crc)
}
