//! Chunk files: the flushed head, one zstd block per stream, with an index of the streams'
//! labels and time ranges at the end so a query opens only the blocks it needs. Chunks are
//! written with the templated block layout (`ALOGCHK2`); chunks of the first layout
//! (`ALOGCHK1`, whole lines) still read.

use super::codec::{
    decode_block, encode_block, put_labels, read_labels, Block, CodecError, Reader,
};
use crate::record::Entry;
use argus_model::Labels;
use prost::encoding::encode_varint;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The magic of chunks written now: blocks hold templates and values.
const MAGIC: &[u8; 8] = b"ALOGCHK2";
/// The magic of chunks of the first layout: blocks hold whole lines.
const MAGIC_PLAIN: &[u8; 8] = b"ALOGCHK1";
const FOOTER: usize = 8 + 8 + 4 + 8;

/// Where one stream's block lies in a chunk file, and what it holds.
#[derive(Debug, Clone)]
pub(crate) struct BlockMeta {
    pub(crate) labels: Labels,
    pub(crate) min_ts: i64,
    pub(crate) max_ts: i64,
    pub(crate) count: u64,
    offset: u64,
    len: u64,
    raw_len: u64,
}

/// A chunk file on disk and its index in memory.
#[derive(Debug)]
pub(crate) struct ChunkFile {
    pub(crate) path: PathBuf,
    pub(crate) seq: u64,
    pub(crate) min_ts: i64,
    pub(crate) max_ts: i64,
    pub(crate) bytes: u64,
    pub(crate) lines: u64,
    /// The last WAL segment whose lines this chunk holds: at start, segments up
    /// to it are not replayed (a crash between the chunk's rename and the
    /// segments' deletion would otherwise bring its lines back twice).
    pub(crate) wal_upto: u64,
    pub(crate) blocks: Vec<BlockMeta>,
    /// Whether the blocks hold templates and values (else whole lines).
    templated: bool,
}

pub(crate) fn chunk_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:012}.chunk"))
}

/// Writes `streams` (each with entries sorted by time) as chunk `seq` in `dir`: to a temporary
/// file, fsynced, then renamed, so a crash leaves either the whole chunk or none.
pub(crate) fn write(
    dir: &Path,
    seq: u64,
    wal_upto: u64,
    streams: &[(&Labels, &[Entry])],
) -> io::Result<ChunkFile> {
    write_as(dir, seq, wal_upto, streams, MAGIC, encode_block)
}

/// A block encoder: the compressed block and its uncompressed size.
type Encoder = fn(&[Entry]) -> io::Result<(Vec<u8>, usize)>;

/// Writes a chunk with `magic` and blocks made by `encode` (tests write the first layout).
fn write_as(
    dir: &Path,
    seq: u64,
    wal_upto: u64,
    streams: &[(&Labels, &[Entry])],
    magic: &[u8; 8],
    encode: Encoder,
) -> io::Result<ChunkFile> {
    let templated = magic == MAGIC;
    let path = chunk_path(dir, seq);
    let tmp = path.with_extension("tmp");
    let mut body = Vec::new();
    body.extend_from_slice(magic);
    let mut blocks = Vec::with_capacity(streams.len());
    for (labels, entries) in streams {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            continue;
        };
        let (block, raw_len) = encode(entries)?;
        blocks.push(BlockMeta {
            labels: (*labels).clone(),
            min_ts: first.ts_ns,
            max_ts: last.ts_ns,
            count: entries.len() as u64,
            offset: body.len() as u64,
            len: block.len() as u64,
            raw_len: raw_len as u64,
        });
        body.extend_from_slice(&block);
    }
    let index_at = body.len() as u64;
    let mut index = Vec::new();
    encode_varint(wal_upto, &mut index);
    encode_varint(blocks.len() as u64, &mut index);
    for b in &blocks {
        put_labels(&mut index, &b.labels);
        for v in [
            b.min_ts as u64,
            b.max_ts as u64,
            b.count,
            b.offset,
            b.len,
            b.raw_len,
        ] {
            encode_varint(v, &mut index);
        }
    }
    body.extend_from_slice(&index);
    body.extend_from_slice(&index_at.to_le_bytes());
    body.extend_from_slice(&(index.len() as u64).to_le_bytes());
    body.extend_from_slice(&crc32fast::hash(&index).to_le_bytes());
    body.extend_from_slice(magic);
    let written = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
        fs::rename(&tmp, &path)?;
        if let Ok(d) = File::open(dir) {
            d.sync_all()?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(summarise(
        path,
        seq,
        body.len() as u64,
        wal_upto,
        blocks,
        templated,
    ))
}

fn summarise(
    path: PathBuf,
    seq: u64,
    bytes: u64,
    wal_upto: u64,
    blocks: Vec<BlockMeta>,
    templated: bool,
) -> ChunkFile {
    ChunkFile {
        templated,
        path,
        seq,
        wal_upto,
        min_ts: blocks.iter().map(|b| b.min_ts).min().unwrap_or(0),
        max_ts: blocks.iter().map(|b| b.max_ts).max().unwrap_or(0),
        bytes,
        lines: blocks.iter().map(|b| b.count).sum(),
        blocks,
    }
}

fn corrupt(path: &Path, what: CodecError) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
}

/// Reads a chunk file's index.
pub(crate) fn open(path: &Path, seq: u64) -> io::Result<ChunkFile> {
    let mut f = File::open(path)?;
    let size = f.metadata()?.len();
    if size < (MAGIC.len() + FOOTER) as u64 {
        return Err(corrupt(path, CodecError("shorter than a chunk file")));
    }
    f.seek(SeekFrom::End(-(FOOTER as i64)))?;
    let mut foot = [0u8; FOOTER];
    f.read_exact(&mut foot)?;
    let mut r = Reader::new(&foot);
    let bad = |e| corrupt(path, e);
    let index_at = r.u64_le().map_err(bad)?;
    let index_len = r.u64_le().map_err(bad)?;
    let crc = u32::from_le_bytes([foot[16], foot[17], foot[18], foot[19]]);
    let templated = &foot[20..] == MAGIC;
    if !(templated || &foot[20..] == MAGIC_PLAIN)
        || index_at.checked_add(index_len) != Some(size - FOOTER as u64)
    {
        return Err(corrupt(path, CodecError("bad footer")));
    }
    f.seek(SeekFrom::Start(index_at))?;
    let mut index = vec![0u8; index_len as usize];
    f.read_exact(&mut index)?;
    if crc32fast::hash(&index) != crc {
        return Err(corrupt(path, CodecError("index checksum mismatch")));
    }
    let mut r = Reader::new(&index);
    let wal_upto = r.uvarint().map_err(bad)?;
    let n = r.len(index.len()).map_err(bad)?;
    let mut blocks = Vec::with_capacity(n);
    for _ in 0..n {
        let labels = read_labels(&mut r).map_err(bad)?;
        let mut v = [0u64; 6];
        for x in &mut v {
            *x = r.uvarint().map_err(bad)?;
        }
        if v[3].checked_add(v[4]).is_none_or(|end| end > index_at) {
            return Err(corrupt(path, CodecError("block outside the file")));
        }
        blocks.push(BlockMeta {
            labels,
            min_ts: v[0] as i64,
            max_ts: v[1] as i64,
            count: v[2],
            offset: v[3],
            len: v[4],
            raw_len: v[5],
        });
    }
    Ok(summarise(
        path.to_path_buf(),
        seq,
        size,
        wal_upto,
        blocks,
        templated,
    ))
}

impl ChunkFile {
    /// Reads and decompresses one block; without `with_lines`, its entries' lines are empty.
    pub(crate) fn read_block(&self, b: &BlockMeta, with_lines: bool) -> io::Result<Block> {
        let mut f = File::open(&self.path)?;
        f.seek(SeekFrom::Start(b.offset))?;
        let mut buf = vec![0u8; b.len as usize];
        f.read_exact(&mut buf)?;
        // An uncompressed size beyond a sane bound means corruption, not a real block.
        let raw = usize::try_from(b.raw_len)
            .ok()
            .filter(|n| *n <= 1 << 31)
            .ok_or_else(|| corrupt(&self.path, CodecError("block too large")))?;
        decode_block(&buf, raw, self.templated, with_lines).map_err(|e| corrupt(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_of_the_first_layout_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let a = Labels::from_pairs(&[("service", "api")]);
        let ea: Vec<Entry> = (0..20)
            .map(|i| Entry {
                ts_ns: i,
                line: format!("took {i} ms"),
                metadata: vec![],
            })
            .collect();
        let plain = super::super::codec::encode_block_plain;
        let c = write_as(dir.path(), 1, 0, &[(&a, &ea)], MAGIC_PLAIN, plain).unwrap();
        let back = open(&c.path, 1).unwrap();
        assert!(!back.templated);
        let b = back.read_block(&back.blocks[0], true).unwrap();
        assert_eq!((b.entries, b.templates.len()), (ea.clone(), 0));
        let c = write(dir.path(), 2, 0, &[(&a, &ea)]).unwrap();
        let back = open(&c.path, 2).unwrap();
        assert!(back.templated);
        assert_eq!(
            back.read_block(&back.blocks[0], true).unwrap().templates,
            vec!["took <*> ms"]
        );
    }

    #[test]
    fn a_chunk_reads_back_and_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = Labels::from_pairs(&[("service", "api")]);
        let b = Labels::from_pairs(&[("service", "db")]);
        let ea: Vec<Entry> = (0..50)
            .map(|i| Entry {
                ts_ns: 100 + i,
                line: format!("line {i}"),
                metadata: vec![],
            })
            .collect();
        let eb = vec![Entry {
            ts_ns: 7,
            line: "db up".into(),
            metadata: vec![("k".into(), "v".into())],
        }];
        let c = write(dir.path(), 3, 9, &[(&a, &ea), (&b, &eb)]).unwrap();
        assert_eq!((c.min_ts, c.max_ts, c.lines), (7, 149, 51));
        let back = open(&c.path, 3).unwrap();
        assert_eq!(back.blocks.len(), 2);
        assert_eq!(back.wal_upto, 9);
        assert_eq!(back.blocks[1].labels, b);
        assert_eq!(back.read_block(&back.blocks[0], true).unwrap().entries, ea);
        assert_eq!(back.read_block(&back.blocks[1], true).unwrap().entries, eb);
        let mut bytes = fs::read(&c.path).unwrap();
        let n = bytes.len();
        bytes[n - FOOTER - 2] ^= 1;
        fs::write(&c.path, &bytes).unwrap();
        assert!(open(&c.path, 3).is_err());
        fs::write(&c.path, &bytes[..10]).unwrap();
        assert!(open(&c.path, 3).is_err());
    }
}
