//! The Loki push API: the body of `POST /loki/api/v1/push`.
//!
//! Two encodings, chosen by `Content-Type`:
//!
//! - `application/json`:
//!   `{"streams":[{"stream":{"app":"api"},"values":[["<ns>","line"],["<ns>","line",{"k":"v"}]]}]}`
//!   with the timestamp a string of Unix nanoseconds and an optional third element of
//!   structured metadata.
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
mod tests {
    use super::proto::*;
    use super::*;
    use argus_model::Labels;

    fn snappy(b: &[u8]) -> Vec<u8> {
        snap::raw::Encoder::new().compress_vec(b).unwrap()
    }

    fn entry(s: i64, n: i32, line: &str) -> EntryAdapter {
        EntryAdapter {
            timestamp: Some(Timestamp {
                seconds: s,
                nanos: n,
            }),
            line: line.to_string(),
            structured_metadata: vec![],
        }
    }

    // PushRequest{streams:[{labels:`{a="b"}`, entries:[{timestamp:{1s,2ns}, line:"hi",
    // structuredMetadata:[{k,v}]}]}]}, encoded by hand from push.proto's field numbers.
    const FIXTURE: &[u8] = &[
        0x0a, 0x1d, // PushRequest.streams (1, LEN) 29 bytes
        0x0a, 0x07, // StreamAdapter.labels (1, LEN) 7 bytes
        b'{', b'a', b'=', b'"', b'b', b'"', b'}', //
        0x12, 0x12, // StreamAdapter.entries (2, LEN) 18 bytes
        0x0a, 0x04, // EntryAdapter.timestamp (1, LEN) 4 bytes
        0x08, 0x01, // Timestamp.seconds (1, varint) 1
        0x10, 0x02, // Timestamp.nanos (2, varint) 2
        0x12, 0x02, b'h', b'i', // EntryAdapter.line (2, LEN) "hi"
        0x1a, 0x06, // EntryAdapter.structuredMetadata (3, LEN) 6 bytes
        0x0a, 0x01, b'k', // LabelPairAdapter.name (1, LEN) "k"
        0x12, 0x01, b'v', // LabelPairAdapter.value (2, LEN) "v"
    ];

    #[test]
    fn byte_exact_protobuf_fixture() {
        let want = PushRequest {
            streams: vec![StreamAdapter {
                labels: r#"{a="b"}"#.to_string(),
                entries: vec![EntryAdapter {
                    structured_metadata: vec![LabelPairAdapter {
                        name: "k".into(),
                        value: "v".into(),
                    }],
                    ..entry(1, 2, "hi")
                }],
                hash: 0,
            }],
        };
        assert_eq!(want.encode_to_vec(), FIXTURE);
        // Snappy block format by hand too: length varint 31, one literal of 31 bytes.
        let mut body = vec![0x1f, 30 << 2];
        body.extend_from_slice(FIXTURE);
        let d = decode_loki(
            &body,
            Some("application/x-protobuf"),
            None,
            &DecodeLimits::default(),
        )
        .unwrap();
        assert_eq!(
            d.records,
            vec![LogRecord {
                labels: Labels::from_pairs(&[("a", "b")]),
                ts_ns: 1_000_000_002,
                line: "hi".into(),
                metadata: vec![("k".into(), "v".into())],
            }]
        );
        assert!(d.refused.is_empty());
    }

    #[test]
    fn protobuf_mixed_good_and_bad() {
        let req = PushRequest {
            streams: vec![
                StreamAdapter {
                    labels: r#"{service="api", env="prod"}"#.into(),
                    entries: vec![
                        entry(1_700_000_000, 5, "ok 1"),
                        EntryAdapter {
                            timestamp: None,
                            ..entry(0, 0, "no time")
                        },
                        entry(1_700_000_001, -1, "bad nanos"),
                        entry(1_700_000_002, 0, &"x".repeat(300)),
                        entry(1_700_000_003, 0, "ok 2"),
                    ],
                    hash: 7,
                },
                StreamAdapter {
                    labels: "{}".into(),
                    entries: vec![entry(1, 0, "a"), entry(2, 0, "b")],
                    hash: 0,
                },
                StreamAdapter {
                    labels: r#"{service.name="x"}"#.into(),
                    entries: vec![entry(1, 0, "a")],
                    hash: 0,
                },
                StreamAdapter {
                    labels: r#"{service="x""#.into(),
                    entries: vec![entry(1, 0, "a")],
                    hash: 0,
                },
            ],
        };
        let limits = DecodeLimits {
            max_line_bytes: 100,
            ..DecodeLimits::default()
        };
        let d = decode_loki(&snappy(&req.encode_to_vec()), None, None, &limits).unwrap();
        let lines: Vec<&str> = d.records.iter().map(|r| r.line.as_str()).collect();
        assert_eq!(lines, ["ok 1", "ok 2"]);
        assert_eq!(d.records[0].ts_ns, 1_700_000_000_000_000_005);
        assert_eq!(
            d.records[0].labels,
            Labels::from_pairs(&[("env", "prod"), ("service", "api")])
        );
        let refused: Vec<String> = d.refused.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            refused,
            [
                "stream 1, entry 2: the entry has no timestamp",
                "stream 1, entry 3: the timestamp's nanoseconds -1 are not between 0 and 999999999",
                "stream 1, entry 4: the line is 300 bytes, over the limit of 100",
                "stream 2, entry 1: the stream has no labels; give it at least one",
                "stream 2, entry 2: the stream has no labels; give it at least one",
                "stream 3, entry 1: the label name \"service.name\" is not valid (letters, digits and _, not starting with a digit)",
                "stream 4, entry 1: the labels \"{service=\\\"x\\\"\" are not a label set: expected ',' or '}' at byte 12",
            ]
        );
    }

    #[test]
    fn protobuf_whole_body_errors() {
        let l = DecodeLimits::default();
        let e = decode_loki(b"not snappy at all", None, None, &l).unwrap_err();
        assert!(matches!(e, PushError::Snappy(_)), "{e}");
        // Valid snappy, not protobuf (a field with wire type 7).
        let e = decode_loki(&snappy(&[0x0f, 0x01]), None, None, &l).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("the body is not a valid logproto.PushRequest protobuf message"),
            "{e}"
        );
    }

    #[test]
    fn gzip_json_push() {
        // The shape of the example in Loki's HTTP API documentation.
        let body = br#"{
          "streams": [
            {
              "stream": { "label": "value" },
              "values": [
                  [ "1570818238000000000", "fizzbuzz" ],
                  [ "1570818239000000000", "with metadata", {"trace_id": "0242ac120002", "user_id": "superUser123"} ]
              ]
            }
          ]
        }"#;
        let gz = crate::push::tests::gzip(body);
        let d = decode_loki(
            &gz,
            Some("application/json; charset=utf-8"),
            Some("gzip"),
            &DecodeLimits::default(),
        )
        .unwrap();
        assert_eq!(d.records.len(), 2);
        assert_eq!(d.records[0].ts_ns, 1_570_818_238_000_000_000);
        assert_eq!(d.records[0].line, "fizzbuzz");
        assert_eq!(
            d.records[1].metadata,
            vec![
                ("trace_id".to_string(), "0242ac120002".to_string()),
                ("user_id".to_string(), "superUser123".to_string())
            ]
        );
        assert_eq!(d.records[1].labels.get("label"), Some("value"));
    }

    #[test]
    fn json_mixed_good_and_bad() {
        let body = br#"{"streams":[
            {"stream":{"app":"a"},"values":[["1","one"],["abc","x"],[2,"two"],["3"],["4","m",{"k":1}]]},
            {"stream":{"app":5},"values":[["1","x"]]},
            {"stream":{"app":"b"}}
        ]}"#;
        let d = decode_loki(
            body,
            Some("application/json"),
            None,
            &DecodeLimits::default(),
        )
        .unwrap();
        let lines: Vec<(&str, i64)> = d
            .records
            .iter()
            .map(|r| (r.line.as_str(), r.ts_ns))
            .collect();
        assert_eq!(lines, [("one", 1), ("two", 2)]);
        let refused: Vec<String> = d.refused.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            refused,
            [
                "stream 1, entry 2: the timestamp \"abc\" is not a number of nanoseconds",
                "stream 1, entry 4: the entry is not [\"<ns>\", \"<line>\"] or [\"<ns>\", \"<line>\", {metadata}]",
                "stream 1, entry 5: the structured metadata \"k\" is not a string",
                "stream 2, entry 1: the value of label \"app\" is not a string",
                "stream 3: the stream has no \"values\" array",
            ]
        );
    }

    #[test]
    fn json_whole_body_errors() {
        let l = DecodeLimits::default();
        let e = decode_loki(b"{nope", Some("application/json"), None, &l).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("the body is not a Loki JSON push request: "));
        let e = decode_loki(b"[]", Some("application/json"), None, &l).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the body is not a Loki JSON push request: it has no \"streams\" array"
        );
    }

    #[test]
    fn label_set_parsing() {
        let p = |s: &str| parse_label_set(s);
        let pairs = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(p("{}").unwrap(), pairs(&[]));
        assert_eq!(
            p(r#" { a = "b" , c="d", } "#).unwrap(),
            pairs(&[("a", "b"), ("c", "d")])
        );
        assert_eq!(
            p(r#"{a="\x41\101\u00e9\U0001F600\t\\\"", b='it\'s'}"#).unwrap(),
            pairs(&[("a", "AAé😀\t\\\""), ("b", "it's")])
        );
        assert_eq!(p(r#"{a="日本"}"#).unwrap(), pairs(&[("a", "日本")]));
        assert_eq!(
            p(r#"{a="b"#).unwrap_err(),
            LabelSetError {
                offset: 5,
                reason: "the value has no closing quote"
            }
        );
        assert_eq!(p(r#"a="b""#).unwrap_err().reason, "expected '{'");
        assert_eq!(
            p(r#"{a="\q"}"#).unwrap_err().reason,
            "an unknown escape sequence"
        );
        assert_eq!(
            p(r#"{a="\xff"}"#).unwrap_err().reason,
            "a byte escape that is not UTF-8 text"
        );
        assert_eq!(
            p(r#"{a="\u12"}"#).unwrap_err().reason,
            "a bad escape sequence"
        );
        assert_eq!(
            p(r#"{a="\u12"#).unwrap_err().reason,
            "a short escape sequence"
        );
        assert_eq!(
            p(r#"{"service.name"="x", b="y"}"#).unwrap(),
            pairs(&[("service.name", "x"), ("b", "y")])
        );
        assert_eq!(p(r#"{,}"#).unwrap_err().reason, "expected a label name");
        assert_eq!(
            p(r#"{a="\uD800"}"#).unwrap_err().reason,
            "an escape that is not a Unicode character"
        );
        assert_eq!(
            p(r#"{a=b}"#).unwrap_err().reason,
            "expected a quoted label value"
        );
        assert_eq!(
            p(r#"{a="b"} x"#).unwrap_err().reason,
            "unexpected text after '}'"
        );
        assert_eq!(
            p(r#"{a!="b"}"#).unwrap_err().reason,
            "expected '=' after the label name"
        );
    }
}
