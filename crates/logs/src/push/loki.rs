//! The Loki push API: the body of `POST /loki/api/v1/push`.
//!
//! Two encodings, chosen by `Content-Type`:
//!
//! - `application/json`:
//!   `{"streams":[{"stream":{"app":"api"},"values":[["<ns>","line"],["<ns>","line",{"k":"v"}]]}]}`
//!   with the timestamp a string of Unix nanoseconds (a JSON integer is taken too) and an
//!   optional third element of structured metadata.
//! - anything else (normally `application/x-protobuf`): a `logproto.PushRequest` in
//!   snappy *block* format, whose streams carry their labels as a Prometheus-style string
//!   `{app="api", env="prod"}` with Go string escapes.
//!
//! `Content-Encoding: gzip` is undone first for either.

use super::{
    check_line, decode_content, make_labels, media_type, refuse_all, short, unsnappy, DecodeLimits,
    PushError,
};
use crate::record::{Decoded, LogRecord, Refusal};
use prost::Message;
use serde_json::Value;

/// The `logproto` messages of Loki's `push.proto`, written by hand (field numbers as there).
pub mod proto {
    /// `logproto.PushRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PushRequest {
        /// The streams.
        #[prost(message, repeated, tag = "1")]
        pub streams: Vec<StreamAdapter>,
    }

    /// `logproto.StreamAdapter`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StreamAdapter {
        /// The labels as `{a="b", c="d"}`.
        #[prost(string, tag = "1")]
        pub labels: String,
        /// The entries.
        #[prost(message, repeated, tag = "2")]
        pub entries: Vec<EntryAdapter>,
        /// The sender's hash of the labels (unused).
        #[prost(uint64, tag = "3")]
        pub hash: u64,
    }

    /// `logproto.EntryAdapter`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EntryAdapter {
        /// When.
        #[prost(message, optional, tag = "1")]
        pub timestamp: Option<Timestamp>,
        /// The line.
        #[prost(string, tag = "2")]
        pub line: String,
        /// Structured metadata.
        #[prost(message, repeated, tag = "3")]
        pub structured_metadata: Vec<LabelPairAdapter>,
    }

    /// `logproto.LabelPairAdapter`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelPairAdapter {
        /// Name.
        #[prost(string, tag = "1")]
        pub name: String,
        /// Value.
        #[prost(string, tag = "2")]
        pub value: String,
    }

    /// `google.protobuf.Timestamp`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Timestamp {
        /// Seconds since the Unix epoch.
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        /// Nanoseconds within the second, 0 to 999 999 999.
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
}

/// Decodes a Loki push body: JSON when `content_type` is `application/json`, snappy
/// protobuf otherwise; gzip `content_encoding` is undone first.
pub fn decode_loki(
    body: &[u8],
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    limits: &DecodeLimits,
) -> Result<Decoded, PushError> {
    let body = decode_content(body, content_encoding, limits)?;
    if media_type(content_type) == "application/json" {
        decode_json(&body, limits)
    } else {
        decode_protobuf(&body, limits)
    }
}

fn decode_protobuf(body: &[u8], limits: &DecodeLimits) -> Result<Decoded, PushError> {
    let raw = unsnappy(body, limits.max_body_bytes)?;
    let req = proto::PushRequest::decode(raw.as_slice()).map_err(|e| PushError::Protobuf {
        message: "logproto.PushRequest",
        detail: e.to_string(),
    })?;
    let mut out = Decoded::default();
    for (si, stream) in req.streams.into_iter().enumerate() {
        let at = |ei: usize| format!("stream {}, entry {}", si + 1, ei + 1);
        let labels = match parse_label_set(&stream.labels) {
            Ok(pairs) => make_labels(pairs, limits),
            Err(e) => Err(format!(
                "the labels {:?} are not a label set: {e}",
                short(&stream.labels, 200)
            )),
        };
        let labels = match labels {
            Ok(l) => l,
            Err(reason) => {
                refuse_all(&mut out.refused, stream.entries.len(), at, &reason);
                continue;
            }
        };
        for (ei, e) in stream.entries.into_iter().enumerate() {
            let ts = match e.timestamp {
                None => Err("the entry has no timestamp".to_string()),
                Some(t) => timestamp_ns(t.seconds, t.nanos),
            };
            let r = ts.and_then(|ts| {
                check_line(&e.line, limits)?;
                Ok(LogRecord {
                    labels: labels.clone(),
                    ts_ns: ts,
                    line: e.line,
                    metadata: e
                        .structured_metadata
                        .into_iter()
                        .map(|p| (p.name, p.value))
                        .collect(),
                })
            });
            match r {
                Ok(r) => out.records.push(r),
                Err(reason) => out.refused.push(Refusal::new(at(ei), reason)),
            }
        }
    }
    Ok(out)
}

fn timestamp_ns(seconds: i64, nanos: i32) -> Result<i64, String> {
    if !(0..1_000_000_000).contains(&nanos) {
        return Err(format!(
            "the timestamp's nanoseconds {nanos} are not between 0 and 999999999"
        ));
    }
    seconds
        .checked_mul(1_000_000_000)
        .and_then(|s| s.checked_add(i64::from(nanos)))
        .ok_or_else(|| format!("the timestamp of {seconds} seconds is out of range"))
}

fn json_err(detail: impl Into<String>) -> PushError {
    PushError::Json {
        expected: "a Loki JSON push request",
        detail: detail.into(),
    }
}

fn decode_json(body: &[u8], limits: &DecodeLimits) -> Result<Decoded, PushError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| json_err(e.to_string()))?;
    let streams = v
        .get("streams")
        .and_then(Value::as_array)
        .ok_or_else(|| json_err("it has no \"streams\" array"))?;
    let mut out = Decoded::default();
    for (si, stream) in streams.iter().enumerate() {
        let at = |ei: usize| format!("stream {}, entry {}", si + 1, ei + 1);
        let values = match stream.get("values").and_then(Value::as_array) {
            Some(v) => v,
            None => {
                out.refused.push(Refusal::new(
                    format!("stream {}", si + 1),
                    "the stream has no \"values\" array",
                ));
                continue;
            }
        };
        let labels = match stream.get("stream") {
            Some(Value::Object(m)) => {
                let mut pairs = Vec::with_capacity(m.len());
                let mut bad = None;
                for (k, v) in m {
                    match v.as_str() {
                        Some(s) => pairs.push((k.clone(), s.to_string())),
                        None => {
                            bad = Some(format!(
                                "the value of label \"{}\" is not a string",
                                short(k, 64)
                            ));
                            break;
                        }
                    }
                }
                match bad {
                    Some(b) => Err(b),
                    None => make_labels(pairs, limits),
                }
            }
            Some(_) => Err("\"stream\" is not an object of labels".to_string()),
            None => Err("the stream has no labels; give it at least one".to_string()),
        };
        let labels = match labels {
            Ok(l) => l,
            Err(reason) => {
                refuse_all(&mut out.refused, values.len(), at, &reason);
                continue;
            }
        };
        for (ei, entry) in values.iter().enumerate() {
            match json_entry(entry, limits) {
                Ok((ts_ns, line, metadata)) => out.records.push(LogRecord {
                    labels: labels.clone(),
                    ts_ns,
                    line,
                    metadata,
                }),
                Err(reason) => out.refused.push(Refusal::new(at(ei), reason)),
            }
        }
    }
    Ok(out)
}

type JsonEntry = (i64, String, Vec<(String, String)>);

fn json_entry(entry: &Value, limits: &DecodeLimits) -> Result<JsonEntry, String> {
    let a = entry
        .as_array()
        .filter(|a| a.len() == 2 || a.len() == 3)
        .ok_or("the entry is not [\"<ns>\", \"<line>\"] or [\"<ns>\", \"<line>\", {metadata}]")?;
    let ts = match &a[0] {
        Value::String(s) => s.parse::<i64>().map_err(|_| {
            format!(
                "the timestamp \"{}\" is not a number of nanoseconds",
                short(s, 64)
            )
        })?,
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| format!("the timestamp {n} is not a whole number of nanoseconds"))?,
        _ => return Err("the timestamp is not a string of nanoseconds".to_string()),
    };
    let line = a[1].as_str().ok_or("the line is not a string")?;
    check_line(line, limits)?;
    let mut metadata = Vec::new();
    if let Some(m) = a.get(2) {
        let m = m
            .as_object()
            .ok_or("the structured metadata is not an object")?;
        for (k, v) in m {
            let v = v.as_str().ok_or_else(|| {
                format!(
                    "the structured metadata \"{}\" is not a string",
                    short(k, 64)
                )
            })?;
            metadata.push((k.clone(), v.to_string()));
        }
    }
    Ok((ts, line.to_string(), metadata))
}

/// Why a label set string such as `{a="b"}` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} at byte {offset}")]
pub struct LabelSetError {
    /// Byte offset in the string where reading stopped.
    pub offset: usize,
    /// What was wrong.
    pub reason: &'static str,
}

/// Reads a Prometheus-style label set, `{a="b", c="d"}`, as name/value pairs in order.
///
/// Values are quoted with `"`, `'` (both with Go escapes: `\n`, `\t`, `\\`, `\"`, `\xHH`,
/// octal `\123`, `\uHHHH`, `\UHHHHHHHH`, …) or backquotes (raw). Names are returned
/// as written (bare or quoted) and not checked here. A trailing comma and spaces are allowed.
///
/// ```
/// use argus_logs::push::parse_label_set;
/// let p = parse_label_set(r#"{app="api", msg="a\"b\n", x=`c\d`}"#).unwrap();
/// assert_eq!(p[1], ("msg".to_string(), "a\"b\n".to_string()));
/// assert_eq!(p[2].1, r"c\d");
/// ```
pub fn parse_label_set(s: &str) -> Result<Vec<(String, String)>, LabelSetError> {
    let b = s.as_bytes();
    let mut i = 0;
    let err = |offset, reason| Err(LabelSetError { offset, reason });
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    if b.get(i) != Some(&b'{') {
        return err(i, "expected '{'");
    }
    i += 1;
    let mut out = Vec::new();
    loop {
        skip_ws(&mut i);
        match b.get(i) {
            None => return err(i, "expected '}'"),
            Some(b'}') => {
                i += 1;
                break;
            }
            _ => {}
        }
        let name = if matches!(b[i], b'"' | b'\'' | b'`') {
            // A quoted name, as Prometheus 3 writes names outside the classic charset.
            let (name, next) = quoted(s, i)?;
            i = next;
            name
        } else {
            let start = i;
            while i < b.len()
                && !b[i].is_ascii_whitespace()
                && !matches!(
                    b[i],
                    b'=' | b'!' | b'~' | b',' | b'{' | b'}' | b'"' | b'\'' | b'`'
                )
            {
                i += 1;
            }
            if start == i {
                return err(i, "expected a label name");
            }
            s[start..i].to_string()
        };
        skip_ws(&mut i);
        if b.get(i) != Some(&b'=') {
            return err(i, "expected '=' after the label name");
        }
        i += 1;
        skip_ws(&mut i);
        let (value, next) = quoted(s, i)?;
        out.push((name, value));
        i = next;
        skip_ws(&mut i);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => {}
            _ => return err(i, "expected ',' or '}'"),
        }
    }
    skip_ws(&mut i);
    if i != b.len() {
        return err(i, "unexpected text after '}'");
    }
    Ok(out)
}

/// Reads a quoted string starting at `i`; returns it and the offset after the closing quote.
fn quoted(s: &str, i: usize) -> Result<(String, usize), LabelSetError> {
    let b = s.as_bytes();
    let err = |offset, reason| Err(LabelSetError { offset, reason });
    let q = match b.get(i) {
        Some(&q @ (b'"' | b'\'' | b'`')) => q,
        _ => return err(i, "expected a quoted label value"),
    };
    let mut out = String::new();
    let mut j = i + 1;
    if q == b'`' {
        return match s[j..].find('`') {
            Some(end) => Ok((s[j..j + end].to_string(), j + end + 1)),
            None => err(b.len(), "the value has no closing quote"),
        };
    }
    loop {
        let c = match s[j..].chars().next() {
            None => return err(b.len(), "the value has no closing quote"),
            Some(c) => c,
        };
        if c as u32 == u32::from(q) {
            return Ok((out, j + 1));
        }
        if c == '\n' {
            return err(j, "a newline inside a quoted value");
        }
        if c != '\\' {
            out.push(c);
            j += c.len_utf8();
            continue;
        }
        j += 1;
        let e = match b.get(j) {
            None => return err(j, "the value has no closing quote"),
            Some(&e) => e,
        };
        j += 1;
        let simple = match e {
            b'a' => Some('\u{7}'),
            b'b' => Some('\u{8}'),
            b'f' => Some('\u{c}'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b't' => Some('\t'),
            b'v' => Some('\u{b}'),
            b'\\' => Some('\\'),
            b'"' | b'\'' => Some(e as char),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            continue;
        }
        let (digits, radix) = match e {
            b'x' => (2, 16),
            b'u' => (4, 16),
            b'U' => (8, 16),
            b'0'..=b'7' => {
                j -= 1;
                (3, 8)
            }
            _ => return err(j - 1, "an unknown escape sequence"),
        };
        let text = match s.get(j..j + digits) {
            Some(t) => t,
            None => return err(j, "a short escape sequence"),
        };
        let n = match u32::from_str_radix(text, radix) {
            Ok(n) if text.bytes().all(|c| c.is_ascii_hexdigit()) => n,
            _ => return err(j, "a bad escape sequence"),
        };
        j += digits;
        if e == b'x' || radix == 8 {
            // A byte escape: Go strings are bytes, we keep the text valid UTF-8.
            if n > 0xff {
                return err(j - digits, "an octal escape over \\377");
            }
            if n >= 0x80 {
                return err(j - digits, "a byte escape that is not UTF-8 text");
            }
        }
        match char::from_u32(n) {
            Some(c) => out.push(c),
            None => return err(j - digits, "an escape that is not a Unicode character"),
        }
    }
}

#[cfg(test)]
#[path = "loki_tests.rs"]
mod tests;
