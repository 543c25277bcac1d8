//! The Prometheus remote_write 1.0 receiver.
//!
//! The body is a snappy block-compressed `prometheus.WriteRequest`. It is
//! decoded by a zero-copy protobuf walker rather than into prost structs: label
//! names and values stay `&str` slices of the decompressed buffer (validated as
//! UTF-8 once), and nothing is allocated per series.
//!
//! Decisions:
//! - **Corrupt framing refuses the whole request.** The body is fully decoded
//!   before the first sample is appended, so a truncated varint or a length
//!   past the end gives [`IngestError::BadProtobuf`] (HTTP 400) and nothing is
//!   staged: a sender must not believe half a request was stored.
//! - **Bad series are rejected one by one.** Invalid or duplicate label names,
//!   a missing or invalid `__name__`, labels that are not UTF-8, and native
//!   histograms are counted in [`IngestReport::rejected`]; the other series of
//!   the request are kept. NaN, ±Inf and the stale marker are legal values and
//!   are stored bit for bit.
//! - Unknown fields, exemplars and the request's metadata are skipped per the
//!   protobuf wire rules (groups included).
//! - Missing `Content-Type` and `Content-Encoding` default to remote_write 1.0
//!   and snappy, as Prometheus does.
//!
//! ```
//! use argus_ingest::remote_write::check_content_type;
//! assert!(check_content_type(Some("application/x-protobuf;proto=prometheus.WriteRequest")).is_ok());
//! let e = check_content_type(Some("application/x-protobuf;proto=io.prometheus.write.v2.Request")).unwrap_err();
//! assert_eq!(e.http_status(), 415);
//! ```

use crate::validate::{describe_pairs, validate_pairs};
use crate::{IngestError, IngestReport, MAX_BODY_BYTES};
use argus_tsdb::Appender;

/// The remote_write 1.0 proto message name.
pub const PROTO_V1: &str = "prometheus.WriteRequest";
/// The remote_write 2.0 proto message name (refused).
pub const PROTO_V2: &str = "io.prometheus.write.v2.Request";

/// Checks the `Content-Type` header: `application/x-protobuf`, optionally with
/// `proto=prometheus.WriteRequest`. A missing header means remote_write 1.0.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), IngestError> {
    let Some(ct) = content_type else {
        return Ok(());
    };
    let bad = |reason: String| IngestError::UnsupportedMediaType {
        content_type: ct.to_string(),
        reason,
    };
    let mut parts = ct.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/x-protobuf") {
        return Err(bad(format!(
            "remote_write expects application/x-protobuf (proto={PROTO_V1}), got media type {media:?}"
        )));
    }
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        if !k.trim().eq_ignore_ascii_case("proto") {
            continue;
        }
        let v = v.trim().trim_matches('"');
        if v == PROTO_V2 {
            return Err(bad(format!(
                "remote write 2.0 ({PROTO_V2}) is not supported; configure the sender for remote write 1.0 ({PROTO_V1})"
            )));
        }
        if v != PROTO_V1 {
            return Err(bad(format!(
                "unknown proto message {v:?}; only {PROTO_V1} is supported"
            )));
        }
    }
    Ok(())
}

/// Checks the `Content-Encoding` header: `snappy`, or missing.
pub fn check_content_encoding(content_encoding: Option<&str>) -> Result<(), IngestError> {
    match content_encoding.map(str::trim) {
        None | Some("") => Ok(()),
        Some(e) if e.eq_ignore_ascii_case("snappy") => Ok(()),
        Some(e) => Err(IngestError::UnsupportedEncoding(e.to_string())),
    }
}

/// Handles one remote_write 1.0 request: checks the headers and sizes,
/// decompresses, decodes and stages the samples in `app`. The caller commits.
pub fn ingest_remote_write<A: Appender>(
    app: &mut A,
    body: &[u8],
    content_type: Option<&str>,
    content_encoding: Option<&str>,
) -> Result<IngestReport, IngestError> {
    check_content_type(content_type)?;
    check_content_encoding(content_encoding)?;
    let buf = decompress(body)?;
    ingest_write_request(app, &buf)
}

/// Decompresses a snappy block, refusing bodies whose compressed size or
/// announced decompressed size exceeds [`MAX_BODY_BYTES`] before allocating.
pub fn decompress(body: &[u8]) -> Result<Vec<u8>, IngestError> {
    let limit = MAX_BODY_BYTES as u64;
    if body.len() > MAX_BODY_BYTES {
        return Err(IngestError::TooLarge {
            what: "request body",
            size: body.len() as u64,
            limit,
        });
    }
    let len = snap::raw::decompress_len(body).map_err(|e| IngestError::BadSnappy(e.to_string()))?;
    if len > MAX_BODY_BYTES {
        return Err(IngestError::TooLarge {
            what: "decompressed body (snappy length header)",
            size: len as u64,
            limit,
        });
    }
    let mut buf = vec![0u8; len];
    let n = snap::raw::Decoder::new()
        .decompress(body, &mut buf)
        .map_err(|e| IngestError::BadSnappy(e.to_string()))?;
    buf.truncate(n);
    Ok(buf)
}

/// Decodes an uncompressed `WriteRequest` and stages its samples in `app`.
/// Framing errors refuse the request before anything is staged.
pub fn ingest_write_request<A: Appender>(
    app: &mut A,
    buf: &[u8],
) -> Result<IngestReport, IngestError> {
    let decoded = decode(buf).map_err(|f| IngestError::BadProtobuf {
        offset: f.offset,
        reason: f.reason.to_string(),
    })?;
    let mut report = IngestReport::default();
    let mut scratch: Vec<(&str, &str)> = Vec::with_capacity(16);
    for s in &decoded.series {
        scratch.clear();
        scratch.extend_from_slice(&decoded.labels[s.labels.0 as usize..s.labels.1 as usize]);
        let samples = &decoded.samples[s.samples.0 as usize..s.samples.1 as usize];
        if s.histograms > 0 {
            report.reject(u64::from(s.histograms), || {
                format!(
                    "series {}: native histograms are not supported",
                    describe_pairs(&scratch)
                )
            });
        }
        if samples.is_empty() {
            continue;
        }
        if s.bad_utf8 {
            report.reject(samples.len() as u64, || {
                format!(
                    "series {}: a label name or value is not valid UTF-8",
                    describe_pairs(&scratch)
                )
            });
            continue;
        }
        if let Err(reason) = validate_pairs(&mut scratch) {
            report.reject(samples.len() as u64, || {
                format!("series {}: {reason}", describe_pairs(&scratch))
            });
            continue;
        }
        for &(t, v) in samples {
            match app.append_pairs(&scratch, t, v) {
                Ok(()) => report.accepted += 1,
                Err(e) => report.reject(1, || e.to_string()),
            }
        }
    }
    Ok(report)
}

/// A framing error: where and why.
#[derive(Debug)]
struct Frame {
    offset: usize,
    reason: &'static str,
}

type Res<T> = Result<T, Frame>;

/// One decoded series: ranges into the flat label and sample vectors.
struct SeriesRef {
    labels: (u32, u32),
    samples: (u32, u32),
    histograms: u32,
    bad_utf8: bool,
}

/// The whole request, decoded into flat vectors (one allocation each per request).
struct Decoded<'a> {
    labels: Vec<(&'a str, &'a str)>,
    samples: Vec<(i64, f64)>,
    series: Vec<SeriesRef>,
}

/// Placeholder for a label that is not UTF-8; the series is rejected anyway.
const NOT_UTF8: &str = "\u{fffd}";

/// A cursor over `buf[pos..end]`; offsets are absolute in the decompressed body.
struct Pb<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Pb<'a> {
    fn err<T>(&self, offset: usize, reason: &'static str) -> Res<T> {
        Err(Frame { offset, reason })
    }

    #[inline]
    fn varint(&mut self) -> Res<u64> {
        let start = self.pos;
        let mut v: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos).filter(|_| self.pos < self.end) else {
                return self.err(start, "truncated varint");
            };
            self.pos += 1;
            if i == 9 && b > 1 {
                return self.err(start, "varint overflows 64 bits");
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        self.err(start, "varint longer than 10 bytes")
    }

    #[inline]
    fn key(&mut self) -> Res<(u64, u8)> {
        let at = self.pos;
        let k = self.varint()?;
        let (field, wt) = (k >> 3, (k & 7) as u8);
        if field == 0 {
            return self.err(at, "field number 0 is not allowed");
        }
        if wt > 5 {
            return self.err(at, "invalid wire type");
        }
        Ok((field, wt))
    }

    /// A length-delimited field: the sub-cursor over its bytes.
    #[inline]
    fn sub(&mut self) -> Res<Pb<'a>> {
        let at = self.pos;
        let len = self.varint()?;
        if len > (self.end - self.pos) as u64 {
            return self.err(
                at,
                "length-delimited field runs past the end of its message",
            );
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(Pb {
            buf: self.buf,
            pos: start,
            end: self.pos,
        })
    }

    fn fixed(&mut self, n: usize) -> Res<&'a [u8]> {
        if self.end - self.pos < n {
            return self.err(self.pos, "truncated fixed-width field");
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn fixed64(&mut self) -> Res<u64> {
        let s = self.fixed(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }

    /// Skips one field of wire type `wt` whose key has just been read.
    fn skip(&mut self, field: u64, wt: u8, depth: u32) -> Res<()> {
        match wt {
            0 => self.varint().map(|_| ()),
            1 => self.fixed(8).map(|_| ()),
            2 => self.sub().map(|_| ()),
            5 => self.fixed(4).map(|_| ()),
            3 => {
                if depth > 32 {
                    return self.err(self.pos, "groups nested too deeply");
                }
                loop {
                    if self.pos >= self.end {
                        return self.err(self.pos, "group without its end-group tag");
                    }
                    let at = self.pos;
                    let (f, w) = self.key()?;
                    if w == 4 {
                        if f != field {
                            return self
                                .err(at, "end-group tag does not match its start-group tag");
                        }
                        return Ok(());
                    }
                    self.skip(f, w, depth + 1)?;
                }
            }
            _ => self.err(self.pos, "unexpected end-group tag"),
        }
    }

    fn more(&self) -> bool {
        self.pos < self.end
    }
}

fn decode(buf: &[u8]) -> Res<Decoded<'_>> {
    let mut d = Decoded {
        labels: Vec::with_capacity(buf.len() / 24),
        samples: Vec::with_capacity(buf.len() / 64),
        series: Vec::with_capacity(buf.len() / 128),
    };
    let mut top = Pb {
        buf,
        pos: 0,
        end: buf.len(),
    };
    while top.more() {
        let at = top.pos;
        let (field, wt) = top.key()?;
        match (field, wt) {
            (1, 2) => {
                let ts = top.sub()?;
                decode_series(ts, &mut d)?;
            }
            (1, _) => return top.err(at, "field 1 (timeseries) must be length-delimited"),
            _ => top.skip(field, wt, 0)?,
        }
    }
    Ok(d)
}

fn decode_series<'a>(mut ts: Pb<'a>, d: &mut Decoded<'a>) -> Res<()> {
    let l0 = d.labels.len() as u32;
    let s0 = d.samples.len() as u32;
    let mut histograms = 0u32;
    let mut bad_utf8 = false;
    while ts.more() {
        let at = ts.pos;
        let (field, wt) = ts.key()?;
        match (field, wt) {
            (1, 2) => {
                let mut l = ts.sub()?;
                let (mut name, mut value): (&[u8], &[u8]) = (&[], &[]);
                while l.more() {
                    let at = l.pos;
                    let (f, w) = l.key()?;
                    match (f, w) {
                        (1, 2) | (2, 2) => {
                            let s = l.sub()?;
                            let bytes = &buf_of(&l)[s.pos..s.end];
                            if f == 1 {
                                name = bytes;
                            } else {
                                value = bytes;
                            }
                        }
                        (1, _) | (2, _) => {
                            return l
                                .err(at, "label name and value must be length-delimited strings")
                        }
                        _ => l.skip(f, w, 0)?,
                    }
                }
                let (n, v) = match (std::str::from_utf8(name), std::str::from_utf8(value)) {
                    (Ok(n), Ok(v)) => (n, v),
                    (n, v) => {
                        bad_utf8 = true;
                        (n.unwrap_or(NOT_UTF8), v.unwrap_or(NOT_UTF8))
                    }
                };
                d.labels.push((n, v));
            }
            (2, 2) => {
                let mut s = ts.sub()?;
                let (mut v, mut t) = (0f64, 0i64);
                while s.more() {
                    let at = s.pos;
                    let (f, w) = s.key()?;
                    match (f, w) {
                        (1, 1) => v = f64::from_bits(s.fixed64()?),
                        (2, 0) => t = s.varint()? as i64,
                        (1, _) => {
                            return s.err(at, "sample value must be a 64-bit double (wire type 1)")
                        }
                        (2, _) => {
                            return s.err(at, "sample timestamp must be a varint (wire type 0)")
                        }
                        _ => s.skip(f, w, 0)?,
                    }
                }
                d.samples.push((t, v));
            }
            (4, 2) => {
                ts.sub()?;
                histograms += 1;
            }
            (1, _) | (2, _) | (4, _) => {
                return ts.err(
                    at,
                    "labels, samples and histograms must be length-delimited",
                )
            }
            _ => ts.skip(field, wt, 0)?,
        }
    }
    d.series.push(SeriesRef {
        labels: (l0, d.labels.len() as u32),
        samples: (s0, d.samples.len() as u32),
        histograms,
        bad_utf8,
    });
    Ok(())
}

/// The whole buffer behind a cursor, with the cursor's lifetime.
fn buf_of<'a>(p: &Pb<'a>) -> &'a [u8] {
    p.buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_edges() {
        let b = [0xff; 11];
        let mut p = Pb {
            buf: &b,
            pos: 0,
            end: b.len(),
        };
        assert_eq!(p.varint().unwrap_err().reason, "varint overflows 64 bits");
        let b = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        let mut p = Pb {
            buf: &b,
            pos: 0,
            end: b.len(),
        };
        assert_eq!(p.varint().unwrap(), u64::MAX);
        let b = [0x80];
        let mut p = Pb {
            buf: &b,
            pos: 0,
            end: 1,
        };
        assert_eq!(p.varint().unwrap_err().reason, "truncated varint");
    }

    #[test]
    fn groups_are_skipped() {
        // field 9 start-group, inside: field 1 varint 5, field 9 end-group; then nothing.
        let b = [(9 << 3) | 3, 1 << 3, 5, (9 << 3) | 4];
        assert!(decode(&b).unwrap().series.is_empty());
        let b = [(9 << 3) | 3, 1 << 3, 5, (8 << 3) | 4];
        assert!(decode(&b).is_err());
    }

    #[test]
    fn content_type_and_encoding() {
        assert!(check_content_type(None).is_ok());
        assert!(check_content_type(Some("application/x-protobuf")).is_ok());
        assert!(check_content_type(Some(
            "Application/X-Protobuf; proto=\"prometheus.WriteRequest\""
        ))
        .is_ok());
        assert_eq!(
            check_content_type(Some("application/json"))
                .unwrap_err()
                .http_status(),
            415
        );
        let e = check_content_type(Some(
            "application/x-protobuf;proto=io.prometheus.write.v2.Request",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("remote write 2.0"));
        assert!(check_content_encoding(Some("snappy")).is_ok());
        assert!(check_content_encoding(None).is_ok());
        assert_eq!(
            check_content_encoding(Some("gzip"))
                .unwrap_err()
                .http_status(),
            415
        );
    }

    #[test]
    fn announced_size_checked_before_allocating() {
        // A snappy header announcing 1 GiB (varint) and nothing else.
        let mut body = Vec::new();
        let mut n: u64 = 1 << 30;
        while n >= 0x80 {
            body.push((n as u8) | 0x80);
            n >>= 7;
        }
        body.push(n as u8);
        let e = decompress(&body).unwrap_err();
        assert_eq!(e.http_status(), 413);
    }
}
