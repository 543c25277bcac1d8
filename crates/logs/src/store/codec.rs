//! Byte layouts of the log store: a batch of records (one WAL frame) and a stream's block of
//! entries inside a chunk file (columns, then zstd). Described in `docs/format/logs.md`.

use super::templated::{self, Layout};
use crate::record::{Entry, LogRecord};
use argus_model::{Label, Labels};
use prost::encoding::{decode_varint, encode_varint};

/// A byte layout that could not be read back.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("corrupt log store data: {0}")]
pub struct CodecError(pub &'static str);

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    encode_varint(s.len() as u64, out);
    out.extend_from_slice(s.as_bytes());
}

pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// A cursor over bytes with varint and string reads that fail instead of panicking.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Bytes left to read.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn uvarint(&mut self) -> Result<u64, CodecError> {
        decode_varint(&mut self.buf).map_err(|_| CodecError("bad varint"))
    }

    pub(crate) fn len(&mut self, max: usize) -> Result<usize, CodecError> {
        let n = self.uvarint()?;
        if n > max as u64 {
            return Err(CodecError("count larger than the data"));
        }
        Ok(n as usize)
    }

    pub(crate) fn varint(&mut self) -> Result<i64, CodecError> {
        self.uvarint().map(unzigzag)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if n > self.buf.len() {
            return Err(CodecError("truncated"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// The bytes up to `end`, which is consumed and not returned.
    pub(crate) fn until(&mut self, end: u8) -> Result<&'a [u8], CodecError> {
        let at = self
            .buf
            .iter()
            .position(|&b| b == end)
            .ok_or(CodecError("truncated"))?;
        let head = &self.buf[..at];
        self.buf = &self.buf[at + 1..];
        Ok(head)
    }

    pub(crate) fn str(&mut self) -> Result<&'a str, CodecError> {
        let n = self.len(self.buf.len())?;
        std::str::from_utf8(self.bytes(n)?).map_err(|_| CodecError("string is not UTF-8"))
    }

    pub(crate) fn u64_le(&mut self) -> Result<u64, CodecError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

pub(crate) fn put_labels(out: &mut Vec<u8>, labels: &Labels) {
    encode_varint(labels.len() as u64, out);
    for l in labels.iter() {
        put_str(out, &l.name);
        put_str(out, &l.value);
    }
}

pub(crate) fn read_labels(r: &mut Reader<'_>) -> Result<Labels, CodecError> {
    let n = r.len(r.buf.len())?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.str()?.to_string();
        let value = r.str()?.to_string();
        v.push(Label { name, value });
    }
    Ok(Labels::from_vec(v))
}

fn put_pairs(out: &mut Vec<u8>, pairs: &[(String, String)]) {
    encode_varint(pairs.len() as u64, out);
    for (k, v) in pairs {
        put_str(out, k);
        put_str(out, v);
    }
}

fn read_pairs(r: &mut Reader<'_>) -> Result<Vec<(String, String)>, CodecError> {
    let n = r.len(r.buf.len())?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let k = r.str()?.to_string();
        v.push((k, r.str()?.to_string()));
    }
    Ok(v)
}

/// Appends one batch of records (a WAL frame's payload).
pub(crate) fn encode_batch(records: &[LogRecord], out: &mut Vec<u8>) {
    encode_varint(records.len() as u64, out);
    for r in records {
        put_labels(out, &r.labels);
        encode_varint(zigzag(r.ts_ns), out);
        put_str(out, &r.line);
        put_pairs(out, &r.metadata);
    }
}

/// Reads a batch written by [`encode_batch`].
pub(crate) fn decode_batch(buf: &[u8]) -> Result<Vec<LogRecord>, CodecError> {
    let mut r = Reader::new(buf);
    let n = r.len(buf.len())?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let labels = read_labels(&mut r)?;
        let ts_ns = r.varint()?;
        let line = r.str()?.to_string();
        let metadata = read_pairs(&mut r)?;
        out.push(LogRecord {
            labels,
            ts_ns,
            line,
            metadata,
        });
    }
    if !r.is_empty() {
        return Err(CodecError("bytes after the last record"));
    }
    Ok(out)
}

/// The compression level of chunk blocks (chunks are written in the background, so the slower
/// compression does not slow ingest).
const ZSTD_LEVEL: i32 = 9;

/// A stream's lines read back from a chunk block.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Block {
    /// The lines, sorted by time.
    pub(crate) entries: Vec<Entry>,
    /// The block's templates (none when the block keeps whole lines).
    pub(crate) templates: Vec<String>,
    /// Each entry's template, an index into `templates` (empty when `templates` is).
    pub(crate) template_of: Vec<u32>,
}

/// Encodes a stream's entries (sorted by time) as columns: time deltas, the lines as templates
/// and values ([`templated`]), metadata; then compresses the whole with zstd. Returns the block
/// and its uncompressed size.
pub(crate) fn encode_block(entries: &[Entry]) -> std::io::Result<(Vec<u8>, usize)> {
    // Times and metadata come before the lines, so counting reads no line.
    let mut head = Vec::new();
    encode_varint(entries.len() as u64, &mut head);
    put_times(entries, &mut head);
    put_metadata(entries, &mut head);
    let lines: Vec<&str> = entries.iter().map(|e| e.line.as_str()).collect();
    let (whole, templated) = templated::encode(&lines);
    let raw = |layout: Layout, body: &[u8]| {
        let mut raw = Vec::with_capacity(1 + head.len() + body.len());
        raw.push(layout as u8);
        raw.extend_from_slice(&head);
        raw.extend_from_slice(body);
        raw
    };
    // Which layout is smaller is judged at zstd's fastest level; the winner is then packed hard.
    let trial = |b: &[u8]| zstd::bulk::compress(b, 1).map(|c| c.len());
    let raw = if trial(&templated)? <= trial(&whole)? {
        raw(Layout::Templated, &templated)
    } else {
        raw(Layout::Lines, &whole)
    };
    Ok((zstd::bulk::compress(&raw, ZSTD_LEVEL)?, raw.len()))
}

fn put_times(entries: &[Entry], raw: &mut Vec<u8>) {
    let mut prev = 0i64;
    for e in entries {
        encode_varint(zigzag(e.ts_ns.wrapping_sub(prev)), raw);
        prev = e.ts_ns;
    }
}

fn put_metadata(entries: &[Entry], raw: &mut Vec<u8>) {
    let with_meta = entries.iter().any(|e| !e.metadata.is_empty());
    raw.push(u8::from(with_meta));
    if with_meta {
        for e in entries {
            put_pairs(raw, &e.metadata);
        }
    }
}

/// The first layout, written by earlier versions: the line lengths, then the lines back to back.
#[cfg(test)]
pub(crate) fn encode_block_plain(entries: &[Entry]) -> std::io::Result<(Vec<u8>, usize)> {
    let mut raw = Vec::new();
    encode_varint(entries.len() as u64, &mut raw);
    put_times(entries, &mut raw);
    for e in entries {
        encode_varint(e.line.len() as u64, &mut raw);
    }
    for e in entries {
        raw.extend_from_slice(e.line.as_bytes());
    }
    put_metadata(entries, &mut raw);
    Ok((zstd::bulk::compress(&raw, ZSTD_LEVEL)?, raw.len()))
}

/// Reads a block written by [`encode_block`] (`templated`: with a layout byte and templates)
/// or by the first layout; `raw_len` is its uncompressed size. Without `with_lines` the entries'
/// lines are left empty (and, in the current layout, not read at all).
pub(crate) fn decode_block(
    buf: &[u8],
    raw_len: usize,
    templated: bool,
    with_lines: bool,
) -> Result<Block, CodecError> {
    let raw = zstd::bulk::decompress(buf, raw_len).map_err(|_| CodecError("bad zstd block"))?;
    let mut r = Reader::new(&raw);
    let layout = if templated {
        Some(Layout::from_byte(r.bytes(1)?[0])?)
    } else {
        None
    };
    let n = r.len(raw.len())?;
    let mut ts = Vec::with_capacity(n);
    let mut prev = 0i64;
    for _ in 0..n {
        prev = prev.wrapping_add(r.varint()?);
        ts.push(prev);
    }
    let mut block = Block {
        entries: ts
            .into_iter()
            .map(|ts_ns| Entry {
                ts_ns,
                line: String::new(),
                metadata: Vec::new(),
            })
            .collect(),
        ..Block::default()
    };
    let Some(layout) = layout else {
        return first_layout(&mut r, block, with_lines);
    };
    read_metadata(&mut r, &mut block.entries)?;
    if with_lines {
        let d = templated::decode(&mut r, n, raw.len(), layout)?;
        block.templates = d.templates;
        block.template_of = d.template_of;
        for (e, line) in block.entries.iter_mut().zip(d.lines) {
            e.line = line;
        }
    }
    Ok(block)
}

/// `n` line lengths, then the lines back to back (left empty without `keep`, but still checked).
pub(crate) fn read_lines(
    r: &mut Reader<'_>,
    n: usize,
    keep: bool,
) -> Result<Vec<String>, CodecError> {
    let limit = r.remaining();
    let mut lens = Vec::with_capacity(n);
    for _ in 0..n {
        lens.push(r.len(limit)?);
    }
    let mut lines = Vec::with_capacity(n);
    for len in lens {
        let l = std::str::from_utf8(r.bytes(len)?).map_err(|_| CodecError("line is not UTF-8"))?;
        lines.push(if keep { l.to_string() } else { String::new() });
    }
    Ok(lines)
}

fn read_metadata(r: &mut Reader<'_>, entries: &mut [Entry]) -> Result<(), CodecError> {
    if r.bytes(1)?[0] == 1 {
        for e in entries {
            e.metadata = read_pairs(r)?;
        }
    }
    Ok(())
}

/// The rest of a block of the first layout: the lines, then the metadata.
fn first_layout(
    r: &mut Reader<'_>,
    mut block: Block,
    with_lines: bool,
) -> Result<Block, CodecError> {
    let lines = read_lines(r, block.entries.len(), with_lines)?;
    for (e, line) in block.entries.iter_mut().zip(lines) {
        e.line = line;
    }
    read_metadata(r, &mut block.entries)?;
    Ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ts: i64, line: &str, meta: &[(&str, &str)]) -> Entry {
        Entry {
            ts_ns: ts,
            line: line.to_string(),
            metadata: meta
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn batches_round_trip() {
        let mut r = LogRecord::new(Labels::from_pairs(&[("a", "b")]), -5, "x ü");
        r.metadata.push(("trace_id".into(), "abc".into()));
        let recs = vec![r, LogRecord::new(Labels::empty(), i64::MAX, "")];
        let mut buf = Vec::new();
        encode_batch(&recs, &mut buf);
        assert_eq!(decode_batch(&buf).unwrap(), recs);
        assert!(decode_batch(&buf[..buf.len() - 1]).is_err());
        buf.push(0);
        assert!(decode_batch(&buf).is_err());
    }

    #[test]
    fn blocks_round_trip_and_compress() {
        let entries: Vec<Entry> = (0..1000)
            .map(|i| {
                entry(
                    1_000_000 * i,
                    &format!("GET /api/v1/items/{i} 200 {} ms", i % 17),
                    &[],
                )
            })
            .collect();
        let (block, raw_len) = encode_block(&entries).unwrap();
        let raw: usize = entries.iter().map(|e| e.line.len()).sum();
        assert!(
            block.len() * 4 < raw,
            "{} bytes for {raw} of lines",
            block.len()
        );
        let back = decode_block(&block, raw_len, true, true).unwrap();
        assert_eq!(back.entries, entries);
        // These lines compress smaller as templates and values, so they are kept so.
        assert_eq!(back.templates, vec!["GET /api/<*>/items/<*> <*> <*> ms"]);
        assert_eq!(back.template_of, vec![0; 1000]);
        let with_meta = vec![entry(5, "a", &[("k", "v")]), entry(3, "b", &[])];
        let (b, n) = encode_block(&with_meta).unwrap();
        assert_eq!(decode_block(&b, n, true, true).unwrap().entries, with_meta);
        assert!(decode_block(&b[..b.len() / 2], 100, true, true).is_err());
        // Blocks of the first layout still read.
        let (b, n) = encode_block_plain(&with_meta).unwrap();
        let back = decode_block(&b, n, false, true).unwrap();
        assert_eq!((back.entries, back.templates.len()), (with_meta.clone(), 0));
        // Without lines: the times and metadata, in both layouts.
        let bare: Vec<Entry> = with_meta
            .iter()
            .map(|e| Entry {
                line: String::new(),
                ..e.clone()
            })
            .collect();
        assert_eq!(decode_block(&b, n, false, false).unwrap().entries, bare);
        let (b, n) = encode_block(&with_meta).unwrap();
        let back = decode_block(&b, n, true, false).unwrap();
        assert_eq!((back.entries, back.templates.len()), (bare, 0));
    }
}
