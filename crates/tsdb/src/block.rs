//! Immutable blocks: one directory per time range holding `meta.json` and a
//! `data` file with pco-encoded series, a symbol table and the label sets.
//! Postings are rebuilt from the label sets at open. See `docs/format/block.md`.
//!
//! ```text
//! let mut w = BlockWriter::create(&blocks_dir, 0, 7_199_999)?;
//! w.add([("__name__", "up")], &[Sample::new(1, 1.0)])?;
//! let meta = w.finish()?;
//! let b = Block::open(&meta.unwrap().1)?;
//! ```

use crate::blockcodec;
use crate::enc::{put_uvarint, put_varint, Reader};
use crate::index::{Postings, Symbols};
use crate::wal::{io_err, sync_dir};
use crate::TsdbError;
use argus_model::{Labels, Matcher, Sample};
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"ARGBLK\x00\x01";
const FOOTER_LEN: usize = 8 * 4 + 4 * 2 + 8;
/// The block format version written to `meta.json`.
pub const BLOCK_VERSION: u32 = 1;

/// The contents of a block's `meta.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMeta {
    /// Format version ([`BLOCK_VERSION`]).
    pub version: u32,
    /// Oldest sample time, inclusive, in ms.
    pub mint: i64,
    /// Newest sample time, inclusive, in ms.
    pub maxt: i64,
    /// Number of series.
    pub series: u64,
    /// Number of samples.
    pub samples: u64,
    /// Size of the `data` file in bytes.
    pub data_bytes: u64,
}

struct Entry {
    labels: Vec<u32>,
    mint: i64,
    maxt: i64,
    samples: u64,
    off: u64,
    len: u64,
    crc: u32,
}

/// Writes a block into a temporary directory; [`BlockWriter::finish`] fsyncs
/// and renames it into place.
pub(crate) struct BlockWriter {
    parent: PathBuf,
    tmp: PathBuf,
    out: BufWriter<File>,
    pos: u64,
    syms: Symbols,
    series: Vec<Entry>,
    mint: i64,
    maxt: i64,
    samples: u64,
}

impl BlockWriter {
    /// Starts a block under `parent` (the `blocks/` directory).
    pub(crate) fn create(parent: &Path, tag: &str) -> Result<Self, TsdbError> {
        let tmp = parent.join(format!("{tag}.tmp"));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| io_err(&tmp, e))?;
        }
        fs::create_dir_all(&tmp).map_err(|e| io_err(&tmp, e))?;
        let path = tmp.join("data");
        let f = File::create(&path).map_err(|e| io_err(&path, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, f);
        out.write_all(MAGIC).map_err(|e| io_err(&path, e))?;
        Ok(BlockWriter {
            parent: parent.to_path_buf(),
            tmp,
            out,
            pos: MAGIC.len() as u64,
            syms: Symbols::default(),
            series: Vec::new(),
            mint: i64::MAX,
            maxt: i64::MIN,
            samples: 0,
        })
    }

    fn write(&mut self, b: &[u8]) -> Result<(), TsdbError> {
        let path = self.tmp.join("data");
        self.out.write_all(b).map_err(|e| io_err(&path, e))?;
        self.pos += b.len() as u64;
        Ok(())
    }

    /// Adds one series; callers add series in label-set order and samples in
    /// time order. A series without samples is skipped.
    pub(crate) fn add<'a>(
        &mut self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        samples: &[Sample],
    ) -> Result<(), TsdbError> {
        let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
            return Ok(());
        };
        let ts: Vec<i64> = samples.iter().map(|s| s.t).collect();
        let vs: Vec<f64> = samples.iter().map(|s| s.v).collect();
        let data = blockcodec::encode_series(&ts, &vs);
        let labels = pairs
            .into_iter()
            .flat_map(|(n, v)| [self.syms.intern(n), self.syms.intern(v)])
            .collect();
        let e = Entry {
            labels,
            mint: first.t,
            maxt: last.t,
            samples: samples.len() as u64,
            off: self.pos,
            len: data.len() as u64,
            crc: crc32fast::hash(&data),
        };
        self.write(&data)?;
        self.mint = self.mint.min(e.mint);
        self.maxt = self.maxt.max(e.maxt);
        self.samples += e.samples;
        self.series.push(e);
        Ok(())
    }

    /// Writes the index sections and `meta.json`, fsyncs, and renames the
    /// directory into place. Returns `None` (and removes the temporary
    /// directory) when no series had samples.
    pub(crate) fn finish(mut self) -> Result<Option<(BlockMeta, PathBuf)>, TsdbError> {
        if self.series.is_empty() {
            drop(self.out);
            fs::remove_dir_all(&self.tmp).map_err(|e| io_err(&self.tmp, e))?;
            return Ok(None);
        }
        let mut sym = Vec::new();
        put_uvarint(&mut sym, self.syms.len() as u64);
        for i in 0..self.syms.len() {
            let s = self.syms.str(i as u32);
            put_uvarint(&mut sym, s.len() as u64);
            sym.extend_from_slice(s.as_bytes());
        }
        let mut ser = Vec::new();
        put_uvarint(&mut ser, self.series.len() as u64);
        for e in &self.series {
            put_uvarint(&mut ser, (e.labels.len() / 2) as u64);
            for id in &e.labels {
                put_uvarint(&mut ser, u64::from(*id));
            }
            put_varint(&mut ser, e.mint);
            put_varint(&mut ser, e.maxt);
            put_uvarint(&mut ser, e.samples);
            put_uvarint(&mut ser, e.off);
            put_uvarint(&mut ser, e.len);
            ser.extend_from_slice(&e.crc.to_le_bytes());
        }
        let sym_off = self.pos;
        self.write(&sym)?;
        let ser_off = self.pos;
        self.write(&ser)?;
        let mut foot = Vec::with_capacity(FOOTER_LEN);
        for x in [sym_off, sym.len() as u64, ser_off, ser.len() as u64] {
            foot.extend_from_slice(&x.to_le_bytes());
        }
        foot.extend_from_slice(&crc32fast::hash(&sym).to_le_bytes());
        foot.extend_from_slice(&crc32fast::hash(&ser).to_le_bytes());
        foot.extend_from_slice(MAGIC);
        self.write(&foot)?;
        let data_path = self.tmp.join("data");
        let f = self
            .out
            .into_inner()
            .map_err(|e| io_err(&data_path, e.into_error()))?;
        f.sync_all().map_err(|e| io_err(&data_path, e))?;
        let meta = BlockMeta {
            version: BLOCK_VERSION,
            mint: self.mint,
            maxt: self.maxt,
            series: self.series.len() as u64,
            samples: self.samples,
            data_bytes: self.pos,
        };
        let meta_path = self.tmp.join("meta.json");
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| io_err(&meta_path, e.into()))?;
        let mut mf = File::create(&meta_path).map_err(|e| io_err(&meta_path, e))?;
        mf.write_all(&json)
            .and_then(|_| mf.sync_all())
            .map_err(|e| io_err(&meta_path, e))?;
        sync_dir(&self.tmp)?;
        let mut name = format!("{}-{}", meta.mint, meta.maxt);
        let mut n = 1;
        while self.parent.join(&name).exists() {
            n += 1;
            name = format!("{}-{}-{n}", meta.mint, meta.maxt);
        }
        let dst = self.parent.join(name);
        fs::rename(&self.tmp, &dst).map_err(|e| io_err(&dst, e))?;
        sync_dir(&self.parent)?;
        Ok(Some((meta, dst)))
    }
}

/// One series of a loaded block.
pub(crate) struct BlockSeries {
    pub(crate) labels: Box<[u32]>,
    pub(crate) mint: i64,
    pub(crate) maxt: i64,
    off: u64,
    len: u64,
    crc: u32,
}

/// A loaded, immutable block. Label sets and postings are in memory; sample
/// data is read from disk per series.
pub struct Block {
    dir: PathBuf,
    meta: BlockMeta,
    file: File,
    pub(crate) symbols: Symbols,
    pub(crate) series: Vec<BlockSeries>,
    pub(crate) postings: Postings,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("dir", &self.dir)
            .field("meta", &self.meta)
            .finish()
    }
}

fn read_at(file: &File, off: u64, buf: &mut [u8]) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, off)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = file.try_clone()?;
        f.seek(SeekFrom::Start(off))?;
        f.read_exact(buf)
    }
}

impl Block {
    /// Opens the block in `dir`, verifying the index checksums.
    pub(crate) fn open(dir: &Path) -> Result<Block, TsdbError> {
        let meta_path = dir.join("meta.json");
        let raw = fs::read(&meta_path).map_err(|e| io_err(&meta_path, e))?;
        let meta: BlockMeta = serde_json::from_slice(&raw)
            .map_err(|e| corrupt(&meta_path, 0, format!("bad meta.json: {e}")))?;
        if meta.version != BLOCK_VERSION {
            return Err(corrupt(
                &meta_path,
                0,
                format!("unsupported block version {}", meta.version),
            ));
        }
        let path = dir.join("data");
        let file = File::open(&path).map_err(|e| io_err(&path, e))?;
        let size = file.metadata().map_err(|e| io_err(&path, e))?.len();
        if size < (MAGIC.len() + FOOTER_LEN) as u64 || size != meta.data_bytes {
            return Err(corrupt(
                &path,
                0,
                format!("file is {size} bytes, meta.json says {}", meta.data_bytes),
            ));
        }
        let mut foot = vec![0u8; FOOTER_LEN];
        let foot_off = size - FOOTER_LEN as u64;
        read_at(&file, foot_off, &mut foot).map_err(|e| io_err(&path, e))?;
        if &foot[FOOTER_LEN - 8..] != MAGIC {
            return Err(corrupt(&path, foot_off, "bad footer magic".into()));
        }
        let u = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&foot[i * 8..i * 8 + 8]);
            u64::from_le_bytes(a)
        };
        let c = |i: usize| {
            let mut a = [0u8; 4];
            a.copy_from_slice(&foot[32 + i * 4..36 + i * 4]);
            u32::from_le_bytes(a)
        };
        let section = |off: u64, len: u64, crc: u32| -> Result<Vec<u8>, TsdbError> {
            if off.checked_add(len).is_none_or(|e| e > foot_off) {
                return Err(corrupt(&path, foot_off, "section outside the file".into()));
            }
            let mut b = vec![0u8; len as usize];
            read_at(&file, off, &mut b).map_err(|e| io_err(&path, e))?;
            if crc32fast::hash(&b) != crc {
                return Err(corrupt(&path, off, "section checksum mismatch".into()));
            }
            Ok(b)
        };
        let (sym_off, ser_off) = (u(0), u(2));
        let sym = section(sym_off, u(1), c(0))?;
        let ser = section(ser_off, u(3), c(1))?;
        let path_ref = &path;
        let bad = |off: u64| move |r: &'static str| corrupt(path_ref, off, r.into());
        let mut symbols = Symbols::default();
        let mut r = Reader::new(&sym);
        for _ in 0..r.count().map_err(bad(sym_off))? {
            symbols.intern(r.str().map_err(bad(sym_off))?);
        }
        let mut r = Reader::new(&ser);
        let n = r.count().map_err(bad(ser_off))?;
        let mut series = Vec::with_capacity(n);
        let mut postings = Postings::default();
        for i in 0..n {
            let mut read = || -> Result<BlockSeries, &'static str> {
                let nl = r.count()?;
                let mut labels = Vec::with_capacity(nl * 2);
                for _ in 0..nl * 2 {
                    let s = r.uvarint()?;
                    if s >= symbols.len() as u64 {
                        return Err("symbol id out of range");
                    }
                    labels.push(s as u32);
                }
                let (mint, maxt) = (r.varint()?, r.varint()?);
                let _samples = r.uvarint()?;
                let (off, len) = (r.uvarint()?, r.uvarint()?);
                let mut crc = [0u8; 4];
                crc.copy_from_slice(r.take(4)?);
                Ok(BlockSeries {
                    labels: labels.into_boxed_slice(),
                    mint,
                    maxt,
                    off,
                    len,
                    crc: u32::from_le_bytes(crc),
                })
            };
            let s = read().map_err(bad(ser_off))?;
            let id = u32::try_from(i)
                .map_err(|_| "more than 2^32 series")
                .map_err(bad(ser_off))?;
            postings.add(id, &s.labels);
            series.push(s);
        }
        Ok(Block {
            dir: dir.to_path_buf(),
            meta,
            file,
            symbols,
            series,
            postings,
        })
    }

    /// The block's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The block's metadata.
    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// Indexes of series matching `matchers`.
    pub(crate) fn select_ids(&self, matchers: &[Matcher]) -> Vec<u64> {
        self.postings
            .select(matchers, &self.symbols)
            .into_iter()
            .map(u64::from)
            .collect()
    }

    /// The label set of series `i`.
    pub(crate) fn labels(&self, i: usize) -> Labels {
        self.series
            .get(i)
            .map(|s| self.symbols.labels(&s.labels))
            .unwrap_or_default()
    }

    /// Reads and decodes the samples of series `i` (all of them).
    pub(crate) fn read_series(&self, i: usize) -> Result<Vec<Sample>, TsdbError> {
        let path = self.dir.join("data");
        let Some(s) = self.series.get(i) else {
            return Ok(Vec::new());
        };
        let mut b = vec![0u8; s.len as usize];
        read_at(&self.file, s.off, &mut b).map_err(|e| io_err(&path, e))?;
        if crc32fast::hash(&b) != s.crc {
            return Err(corrupt(
                &path,
                s.off,
                "series data checksum mismatch".into(),
            ));
        }
        let (ts, vs) = blockcodec::decode_series(&b)
            .map_err(|e| corrupt(&path, s.off, format!("cannot decode series data: {e}")))?;
        if ts.len() != vs.len() {
            return Err(corrupt(
                &path,
                s.off,
                "timestamp and value counts differ".into(),
            ));
        }
        Ok(ts
            .into_iter()
            .zip(vs)
            .map(|(t, v)| Sample::new(t, v))
            .collect())
    }
}

fn corrupt(path: &Path, offset: u64, reason: String) -> TsdbError {
    TsdbError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_model::MatchOp;

    #[test]
    fn write_open_read_and_detect_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = BlockWriter::create(dir.path(), "x").unwrap();
        let a: Vec<Sample> = (0..500)
            .map(|i| Sample::new(i * 15_000, (i % 7) as f64 * 0.5))
            .collect();
        let b = vec![
            Sample::new(5, argus_model::STALE_NAN),
            Sample::new(9, -1.25),
        ];
        w.add([("__name__", "up"), ("job", "a")], &a).unwrap();
        w.add([("__name__", "up"), ("job", "b")], &b).unwrap();
        w.add([("__name__", "empty")], &[]).unwrap();
        let (meta, path) = w.finish().unwrap().unwrap();
        assert_eq!(
            (meta.mint, meta.maxt, meta.series, meta.samples),
            (0, 499 * 15_000, 2, 502)
        );
        let blk = Block::open(&path).unwrap();
        let ids = blk.select_ids(&[Matcher::new(MatchOp::Re, "job", "b").unwrap()]);
        assert_eq!(ids, vec![1]);
        assert_eq!(blk.labels(1).to_string(), r#"up{job="b"}"#);
        let got = blk.read_series(1).unwrap();
        assert!(got.iter().zip(&b).all(|(x, y)| x.bit_eq(y)) && got.len() == 2);
        assert_eq!(blk.read_series(0).unwrap(), a);
        // Flip a byte in the first series' data: reading it fails with the path.
        let data = path.join("data");
        let mut raw = fs::read(&data).unwrap();
        raw[MAGIC.len() + 3] ^= 0xff;
        fs::write(&data, &raw).unwrap();
        let blk = Block::open(&path).unwrap();
        let err = blk.read_series(0).unwrap_err().to_string();
        assert!(err.contains("data") && err.contains("checksum"), "{err}");
        // Damage the index: opening fails.
        let n = raw.len();
        raw[n - FOOTER_LEN - 2] ^= 0xff;
        fs::write(&data, &raw).unwrap();
        assert!(matches!(Block::open(&path), Err(TsdbError::Corrupt { .. })));
    }
}
