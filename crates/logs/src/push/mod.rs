//! Push decoders: request bodies of every log ingest protocol, turned into
//! [`LogRecord`](crate::record::LogRecord)s.
//!
//! Each decoder is a pure function from bytes to a [`Decoded`](crate::record::Decoded): the
//! good records, and the refused ones with where and why. A body that is not the protocol at
//! all (not protobuf, bad snappy or gzip, not JSON) is a [`PushError`]; a bad entry inside a
//! good body is a [`Refusal`] and the rest is kept. No input makes a decoder panic, and sizes
//! are capped by [`DecodeLimits`].
//!
//! - [`loki`]: `POST /loki/api/v1/push`, snappy protobuf or JSON.
//! - [`otlp`]: OTLP/HTTP `POST /v1/logs`, protobuf or the OTLP JSON encoding.
//! - [`jsonl`]: Argus's `POST /api/v1/logs`, JSON lines, and plain text.
//! - [`syslog`]: RFC 5424 and RFC 3164 messages, and the TCP framings of RFC 6587.
//!
//! ```
//! use argus_logs::push::{decode_loki, DecodeLimits};
//! let body = br#"{"streams":[{"stream":{"app":"api"},
//!   "values":[["1700000000000000000","GET / 200"],["soon","lost"]]}]}"#;
//! let d = decode_loki(body, Some("application/json"), None, &DecodeLimits::default()).unwrap();
//! assert_eq!(d.records.len(), 1);
//! assert_eq!(d.records[0].labels.get("app"), Some("api"));
//! assert_eq!(d.records[0].ts_ns, 1_700_000_000_000_000_000);
//! assert_eq!(
//!     d.summary(),
//!     "1 accepted, 1 refused (stream 1, entry 2: the timestamp \"soon\" is not a number of nanoseconds)"
//! );
//! ```

pub mod jsonl;
pub mod loki;
pub mod otlp;
pub mod syslog;

pub use jsonl::{decode_json_lines, decode_text, JsonLinesOptions};
pub use loki::{decode_loki, parse_label_set, LabelSetError};
pub use otlp::decode_otlp;
pub use syslog::{
    decode_syslog, parse_syslog, parse_syslog_with, FrameError, SyslogError, SyslogFramer,
};

use crate::record::Refusal;
use argus_model::{is_valid_label_name, Label, Labels};
use std::borrow::Cow;
use std::io::Read;

/// Size limits every decoder applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Longest line kept, in bytes; a longer one is refused, not cut.
    pub max_line_bytes: usize,
    /// Most labels a stream may have.
    pub max_labels: usize,
    /// Longest label value, in bytes.
    pub max_label_value_bytes: usize,
    /// Largest body after gzip or snappy decompression, in bytes.
    pub max_body_bytes: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_line_bytes: 256 * 1024,
            max_labels: 30,
            max_label_value_bytes: 2048,
            max_body_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Why a whole request body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The `Content-Encoding` is not one this endpoint reads.
    #[error("the content encoding \"{0}\" is not supported; send the body as is or gzip it")]
    UnsupportedEncoding(String),
    /// The body claims gzip but is not.
    #[error("the body is not valid gzip ({0})")]
    Gzip(String),
    /// The body claims snappy but is not.
    #[error("the body is not valid snappy block-format data ({0})")]
    Snappy(String),
    /// The body decompresses to more than the limit.
    #[error("the body is larger than {limit} bytes once decompressed")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not the expected protobuf message.
    #[error("the body is not a valid {message} protobuf message ({detail})")]
    Protobuf {
        /// The message expected, such as `logproto.PushRequest`.
        message: &'static str,
        /// What the protobuf decoder said.
        detail: String,
    },
    /// The body is not JSON, or not JSON of the expected shape.
    #[error("the body is not {expected}: {detail}")]
    Json {
        /// What was expected, such as "a Loki JSON push request".
        expected: &'static str,
        /// What is wrong and where.
        detail: String,
    },
}

/// Undoes `Content-Encoding` (none, `identity` or `gzip`), capping the decompressed size.
pub fn decode_content<'a>(
    body: &'a [u8],
    content_encoding: Option<&str>,
    limits: &DecodeLimits,
) -> Result<Cow<'a, [u8]>, PushError> {
    let enc = content_encoding.map(str::trim).unwrap_or("");
    if enc.is_empty() || enc.eq_ignore_ascii_case("identity") {
        if body.len() > limits.max_body_bytes {
            return Err(PushError::TooLarge {
                limit: limits.max_body_bytes,
            });
        }
        return Ok(Cow::Borrowed(body));
    }
    if enc.eq_ignore_ascii_case("gzip") || enc.eq_ignore_ascii_case("x-gzip") {
        return gunzip(body, limits.max_body_bytes).map(Cow::Owned);
    }
    Err(PushError::UnsupportedEncoding(short(enc, 40)))
}

fn gunzip(body: &[u8], max: usize) -> Result<Vec<u8>, PushError> {
    let mut out = Vec::new();
    let dec = flate2::read::MultiGzDecoder::new(body);
    dec.take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| PushError::Gzip(e.to_string()))?;
    if out.len() > max {
        return Err(PushError::TooLarge { limit: max });
    }
    Ok(out)
}

/// Undoes snappy block format, capping the decompressed size.
pub(crate) fn unsnappy(body: &[u8], max: usize) -> Result<Vec<u8>, PushError> {
    let len = snap::raw::decompress_len(body).map_err(|e| PushError::Snappy(e.to_string()))?;
    if len > max {
        return Err(PushError::TooLarge { limit: max });
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| PushError::Snappy(e.to_string()))
}

/// The media type of a `Content-Type` header, lower case, without parameters.
pub(crate) fn media_type(content_type: Option<&str>) -> String {
    content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Checks stream labels against the limits; the reason is a sentence fragment for a refusal.
pub(crate) fn make_labels(
    pairs: Vec<(String, String)>,
    limits: &DecodeLimits,
) -> Result<Labels, String> {
    for (n, v) in &pairs {
        if !is_valid_label_name(n) {
            return Err(format!(
                "the label name \"{}\" is not valid (letters, digits and _, not starting with a digit)",
                short(n, 64)
            ));
        }
        if v.len() > limits.max_label_value_bytes {
            return Err(format!(
                "the value of label \"{n}\" is {} bytes, over the limit of {}",
                v.len(),
                limits.max_label_value_bytes
            ));
        }
    }
    let labels = Labels::from_vec(
        pairs
            .into_iter()
            .map(|(name, value)| Label { name, value })
            .collect(),
    );
    if labels.is_empty() {
        return Err("the stream has no labels; give it at least one".to_string());
    }
    if labels.len() > limits.max_labels {
        return Err(format!(
            "the stream has {} labels, over the limit of {}",
            labels.len(),
            limits.max_labels
        ));
    }
    Ok(labels)
}

/// Refuses a line over the length limit.
pub(crate) fn check_line(line: &str, limits: &DecodeLimits) -> Result<(), String> {
    if line.len() > limits.max_line_bytes {
        return Err(format!(
            "the line is {} bytes, over the limit of {}",
            line.len(),
            limits.max_line_bytes
        ));
    }
    Ok(())
}

/// A name made fit for a label or metadata name: characters outside `[a-zA-Z0-9_]` become
/// `_` (so `service.name` is `service_name`), and a leading digit gets a `_` in front.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    for c in name.chars() {
        out.push(if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        });
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// At most `max` bytes of `s` (on a character boundary), with `…` when cut: for messages.
pub(crate) fn short(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A refusal for each of `n` entries, all for the same reason.
pub(crate) fn refuse_all(
    refused: &mut Vec<Refusal>,
    n: usize,
    at: impl Fn(usize) -> String,
    reason: &str,
) {
    for i in 0..n {
        refused.push(Refusal::new(at(i), reason));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn content_encoding_gzip_identity_and_unknown() {
        let l = DecodeLimits::default();
        assert_eq!(&*decode_content(b"abc", None, &l).unwrap(), b"abc");
        assert_eq!(
            &*decode_content(b"abc", Some("identity"), &l).unwrap(),
            b"abc"
        );
        assert_eq!(
            &*decode_content(&gzip(b"abc"), Some("gzip"), &l).unwrap(),
            b"abc"
        );
        assert!(matches!(
            decode_content(b"abc", Some("gzip"), &l),
            Err(PushError::Gzip(_))
        ));
        assert_eq!(
            decode_content(b"abc", Some("br"), &l)
                .unwrap_err()
                .to_string(),
            "the content encoding \"br\" is not supported; send the body as is or gzip it"
        );
    }

    #[test]
    fn decompression_is_capped() {
        let l = DecodeLimits {
            max_body_bytes: 1000,
            ..DecodeLimits::default()
        };
        let big = vec![b'a'; 5000];
        assert_eq!(
            decode_content(&gzip(&big), Some("gzip"), &l),
            Err(PushError::TooLarge { limit: 1000 })
        );
        let snappy = snap::raw::Encoder::new().compress_vec(&big).unwrap();
        assert_eq!(
            unsnappy(&snappy, 1000),
            Err(PushError::TooLarge { limit: 1000 })
        );
        assert_eq!(unsnappy(&snappy, 5000).unwrap(), big);
    }

    #[test]
    fn names_are_normalized() {
        assert_eq!(normalize_name("service.name"), "service_name");
        assert_eq!(normalize_name("k8s.pod.name"), "k8s_pod_name");
        assert_eq!(normalize_name("1a-b"), "_1a_b");
        assert_eq!(normalize_name(""), "_");
    }

    #[test]
    fn labels_are_checked() {
        let l = DecodeLimits {
            max_labels: 2,
            max_label_value_bytes: 4,
            ..DecodeLimits::default()
        };
        let p = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            make_labels(p(&[("b", "1"), ("a", "2")]), &l).unwrap(),
            Labels::from_pairs(&[("a", "2"), ("b", "1")])
        );
        assert!(make_labels(p(&[("a.b", "1")]), &l)
            .unwrap_err()
            .starts_with("the label name \"a.b\" is not valid"));
        assert_eq!(
            make_labels(p(&[("a", "12345")]), &l).unwrap_err(),
            "the value of label \"a\" is 5 bytes, over the limit of 4"
        );
        assert_eq!(
            make_labels(p(&[("a", "1"), ("b", "1"), ("c", "1")]), &l).unwrap_err(),
            "the stream has 3 labels, over the limit of 2"
        );
        assert_eq!(
            make_labels(p(&[("a", "")]), &l).unwrap_err(),
            "the stream has no labels; give it at least one"
        );
    }

    mod no_panics {
        use super::super::*;
        use proptest::prelude::*;

        fn all_decoders(body: &[u8]) {
            let l = DecodeLimits {
                max_line_bytes: 64,
                ..DecodeLimits::default()
            };
            let json = Some("application/json");
            for enc in [None, Some("gzip")] {
                let _ = decode_loki(body, None, enc, &l);
                let _ = decode_loki(body, json, enc, &l);
                let _ = decode_otlp(body, None, enc, 0, &l);
                let _ = decode_otlp(body, json, enc, 0, &l);
                let _ = decode_json_lines(body, enc, &JsonLinesOptions::default(), 0, &l);
            }
            // Snappy-wrapped, so the protobuf decoder sees the bytes.
            if let Ok(z) = snap::raw::Encoder::new().compress_vec(body) {
                let _ = decode_loki(&z, None, None, &l);
            }
            let _ = decode_text(body, &Labels::from_pairs(&[("a", "b")]), i64::MAX, &l);
            let _ = decode_syslog(body, i64::MIN, &l);
            let _ = parse_syslog(body, 0);
            if let Ok(s) = std::str::from_utf8(body) {
                let _ = parse_label_set(s);
            }
            let mut f = SyslogFramer::new(16);
            for chunk in body.chunks(3) {
                f.push(chunk);
                while f.next_frame().is_some() {}
            }
            let _ = f.finish();
        }

        /// Bytes that look like the protocols more often than uniform noise does.
        fn shaped() -> impl Strategy<Value = Vec<u8>> {
            let piece = prop_oneof![
                any::<u8>().prop_map(|b| vec![b]),
                Just(b"{\"streams\":[{\"stream\":{\"a\":\"b\"},\"values\":[[".to_vec()),
                Just(b"{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{".to_vec()),
                Just(b"{\"line\":\"x\",\"ts\":".to_vec()),
                Just(b"\"1700000000000000000\"".to_vec()),
                Just(b"<13>1 2026-12-06T10:00:00Z h a - - [x@1 a=\"".to_vec()),
                Just(b"<30>Dec  6 10:00:00 h sshd[1]: ".to_vec()),
                Just(b"12 ".to_vec()),
                Just(b"\n".to_vec()),
                Just(b"{a=\"\\x".to_vec()),
                Just(vec![0x0a, 0x05, 0x12, 0x03, 0x0a, 0x01]),
            ];
            proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
                all_decoders(&body);
            }

            #[test]
            fn protocol_shaped_bytes(body in shaped()) {
                all_decoders(&body);
            }
        }
    }
}
