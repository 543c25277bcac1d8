//! Argus's own log endpoint, `POST /api/v1/logs`: JSON lines, or plain text.
//!
//! JSON lines carry one object per line, in one of two shapes:
//!
//! - with a `line`: `{"ts": …, "labels": {"service": "api"}, "line": "GET / 200"}`, with
//!   optional `"metadata": {"k": "v"}`; any other field becomes structured metadata too;
//! - without a `line`: the whole object is the record. The line is the object as sent, and
//!   the fields the caller names in [`JsonLinesOptions::label_fields`] (`service`, `level`)
//!   become labels.
//!
//! `ts` is an RFC 3339 string (`"2026-12-06T10:00:00.5Z"`), a number of Unix seconds
//! (`1765015200.5`, exact to the microsecond), or a string of Unix nanoseconds
//! (`"1765015200500000000"`). Objects
//! without a line may name it `timestamp`, `time` or `@timestamp` instead. Without a time,
//! a record gets the caller's `now` plus one nanosecond per record, to keep the order.

use super::{check_line, decode_content, make_labels, short, DecodeLimits, PushError};
use crate::record::{Decoded, LogRecord, Refusal};
use argus_model::Labels;
use serde_json::{Map, Value};

/// How [`decode_json_lines`] makes labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonLinesOptions {
    /// Labels every record gets; a record's own labels of the same name win.
    pub labels: Labels,
    /// For objects without `line`: the fields that become labels.
    pub label_fields: Vec<String>,
}

/// Decodes a body of JSON lines; gzip `content_encoding` is undone first. Empty lines are
/// skipped. A body in which no line is JSON at all is an error; otherwise each bad line is
/// refused on its own.
pub fn decode_json_lines(
    body: &[u8],
    content_encoding: Option<&str>,
    opts: &JsonLinesOptions,
    now_ns: i64,
    limits: &DecodeLimits,
) -> Result<Decoded, PushError> {
    let body = decode_content(body, content_encoding, limits)?;
    let mut out = Decoded::default();
    let mut parsed_any = false;
    let mut first_error = None;
    let mut kept: i64 = 0;
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let at = format!("line {}", i + 1);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t.trim(),
            Err(_) => {
                out.refused
                    .push(Refusal::new(at, "the line is not UTF-8 text"));
                continue;
            }
        };
        let v: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                first_error.get_or_insert_with(|| format!("{at}: {e}"));
                out.refused
                    .push(Refusal::new(at, format!("the line is not JSON ({e})")));
                continue;
            }
        };
        parsed_any = true;
        let default_ts = now_ns.saturating_add(kept);
        match record(v, text, opts, default_ts, limits) {
            Ok(r) => {
                kept += 1;
                out.records.push(r);
            }
            Err(reason) => out.refused.push(Refusal::new(at, reason)),
        }
    }
    match first_error {
        Some(detail) if !parsed_any => Err(PushError::Json {
            expected: "JSON lines (one JSON object per line)",
            detail,
        }),
        _ => Ok(out),
    }
}

fn record(
    v: Value,
    text: &str,
    opts: &JsonLinesOptions,
    default_ts: i64,
    limits: &DecodeLimits,
) -> Result<LogRecord, String> {
    let Value::Object(mut obj) = v else {
        return Err("the line is not a JSON object".to_string());
    };
    let mut pairs: Vec<(String, String)> = opts
        .labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect();
    let mut metadata = Vec::new();
    let (ts, line) = if obj.contains_key("line") {
        let line = match obj.remove("line") {
            Some(Value::String(s)) => s,
            _ => return Err("\"line\" is not a string".to_string()),
        };
        let ts = obj.remove("ts");
        if let Some(l) = obj.remove("labels") {
            pairs.extend(string_map(l, "labels")?);
        }
        if let Some(m) = obj.remove("metadata") {
            metadata.extend(string_map(m, "metadata")?);
        }
        for (k, v) in obj {
            metadata.push((k, scalar_text(&v)));
        }
        (ts, line)
    } else {
        for name in &opts.label_fields {
            match obj.get(name) {
                None | Some(Value::Null) => {}
                Some(Value::Object(_) | Value::Array(_)) => {
                    return Err(format!(
                        "the label field \"{name}\" is not a string, number or boolean"
                    ))
                }
                Some(v) => pairs.push((name.clone(), scalar_text(v))),
            }
        }
        let ts = time_field(&mut obj);
        (ts, text.to_string())
    };
    let ts_ns = match ts {
        None | Some(Value::Null) => default_ts,
        Some(t) => parse_ts(&t)?,
    };
    check_line(&line, limits)?;
    Ok(LogRecord {
        labels: make_labels(pairs, limits)?,
        ts_ns,
        line,
        metadata,
    })
}

fn time_field(obj: &mut Map<String, Value>) -> Option<Value> {
    ["ts", "timestamp", "time", "@timestamp"]
        .iter()
        .find_map(|k| obj.get(*k).cloned())
}

fn string_map(v: Value, what: &str) -> Result<Vec<(String, String)>, String> {
    let Value::Object(m) = v else {
        return Err(format!("\"{what}\" is not an object"));
    };
    m.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            _ => Err(format!(
                "the value of \"{}\" in \"{what}\" is not a string",
                short(&k, 64)
            )),
        })
        .collect()
}

/// A string as is; anything else as compact JSON.
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// RFC 3339, Unix seconds (a number), or Unix nanoseconds (a string of digits).
fn parse_ts(v: &Value) -> Result<i64, String> {
    const NS: i64 = 1_000_000_000;
    let out_of_range = || format!("the timestamp {v} is out of range");
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return i.checked_mul(NS).ok_or_else(out_of_range);
            }
            // Decimal seconds are read from the shortest text of the number, so the
            // microseconds a float holds at present-day times come out exact.
            let text = n.to_string();
            let (neg, digits) = match text.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, text.as_str()),
            };
            if let Some((whole, frac)) = digits.split_once('.') {
                if !frac.contains(['e', 'E']) {
                    let mut frac = frac.to_string();
                    frac.truncate(9);
                    while frac.len() < 9 {
                        frac.push('0');
                    }
                    let ns = whole
                        .parse::<i64>()
                        .ok()
                        .and_then(|w| w.checked_mul(NS))
                        .and_then(|w| w.checked_add(frac.parse::<i64>().ok()?))
                        .ok_or_else(out_of_range)?;
                    return Ok(if neg { -ns } else { ns });
                }
            }
            let f = n.as_f64().ok_or_else(out_of_range)? * 1e9;
            // i64::MAX as f64 rounds up to 2^63, so the upper bound is exclusive.
            if f.is_finite() && f >= i64::MIN as f64 && f < i64::MAX as f64 {
                Ok(f.round() as i64)
            } else {
                Err(out_of_range())
            }
        }
        Value::String(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                return s.parse::<i64>().map_err(|_| out_of_range());
            }
            let t = chrono::DateTime::parse_from_rfc3339(s).map_err(|_| {
                format!(
                    "the timestamp \"{}\" is not RFC 3339, Unix seconds or a string of Unix nanoseconds",
                    short(s, 64)
                )
            })?;
            t.timestamp_nanos_opt().ok_or_else(out_of_range)
        }
        _ => Err("the timestamp is not a string or a number".to_string()),
    }
}

/// Plain text: one record per line with the given labels, empty lines skipped. The
/// records get `now_ns`, plus one nanosecond per record to keep their order.
pub fn decode_text(body: &[u8], labels: &Labels, now_ns: i64, limits: &DecodeLimits) -> Decoded {
    let mut out = Decoded::default();
    let pairs = labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect();
    let labels = make_labels(pairs, limits);
    let mut kept: i64 = 0;
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let r = match (&labels, std::str::from_utf8(raw)) {
            (Err(reason), _) => Err(reason.clone()),
            (_, Err(_)) => Err("the line is not UTF-8 text".to_string()),
            (Ok(l), Ok(line)) => check_line(line, limits)
                .map(|()| LogRecord::new(l.clone(), now_ns.saturating_add(kept), line)),
        };
        match r {
            Ok(r) => {
                kept += 1;
                out.records.push(r);
            }
            Err(reason) => out
                .refused
                .push(Refusal::new(format!("line {}", i + 1), reason)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000_000_000;

    fn opts() -> JsonLinesOptions {
        JsonLinesOptions {
            labels: Labels::from_pairs(&[("source", "push")]),
            label_fields: vec!["service".into(), "level".into()],
        }
    }

    #[test]
    fn records_with_a_line() {
        let body = concat!(
            r#"{"ts":"2026-12-06T10:00:00.5Z","labels":{"service":"api"},"line":"GET / 200"}"#,
            "\n",
            r#"{"ts":1765015200,"line":"plain","metadata":{"trace_id":"abc"},"user":42}"#,
            "\r\n\n",
            r#"{"ts":"1765015200000000007","labels":{"source":"mine"},"line":"ns"}"#,
            "\n",
            r#"{"ts":1765015200.25,"line":"float secs"}"#,
            "\n",
            r#"{"line":"no time"}"#,
            "\n",
            r#"{"line":"no time either"}"#,
        );
        let d = decode_json_lines(
            body.as_bytes(),
            None,
            &opts(),
            NOW,
            &DecodeLimits::default(),
        )
        .unwrap();
        assert!(d.refused.is_empty(), "{}", d.summary());
        let r = &d.records;
        assert_eq!(r.len(), 6);
        assert_eq!(r[0].ts_ns, 1_796_551_200_500_000_000);
        assert_eq!(r[0].line, "GET / 200");
        assert_eq!(
            r[0].labels,
            Labels::from_pairs(&[("service", "api"), ("source", "push")])
        );
        assert_eq!(r[1].ts_ns, 1_765_015_200_000_000_000);
        assert_eq!(
            r[1].metadata,
            vec![
                ("trace_id".to_string(), "abc".to_string()),
                ("user".to_string(), "42".to_string())
            ]
        );
        assert_eq!(r[2].ts_ns, 1_765_015_200_000_000_007);
        assert_eq!(r[2].labels, Labels::from_pairs(&[("source", "mine")]));
        assert_eq!(r[3].ts_ns, 1_765_015_200_250_000_000);
        // Records without a time keep their order: now plus the count of records before.
        assert_eq!((r[4].ts_ns, r[5].ts_ns), (NOW + 4, NOW + 5));
    }

    #[test]
    fn whole_object_records() {
        let body = concat!(
            r#"{"time":"2026-12-06T10:00:00+01:00", "service":"db", "level":"warn", "msg":"slow query", "ms":900}"#,
            "\n",
            r#"{"service":{"name":"x"},"msg":"bad label"}"#,
            "\n",
            r#"{"level":3,"msg":"numeric level"}"#,
        );
        let d = decode_json_lines(
            body.as_bytes(),
            None,
            &opts(),
            NOW,
            &DecodeLimits::default(),
        )
        .unwrap();
        assert_eq!(d.records.len(), 2);
        let r = &d.records[0];
        assert_eq!(r.ts_ns, 1_796_547_600_000_000_000);
        assert_eq!(
            r.line,
            r#"{"time":"2026-12-06T10:00:00+01:00", "service":"db", "level":"warn", "msg":"slow query", "ms":900}"#
        );
        assert_eq!(
            r.labels,
            Labels::from_pairs(&[("level", "warn"), ("service", "db"), ("source", "push")])
        );
        assert_eq!(d.records[1].labels.get("level"), Some("3"));
        assert_eq!(d.records[1].ts_ns, NOW + 1);
        assert_eq!(
            d.refused,
            vec![Refusal::new(
                "line 2",
                "the label field \"service\" is not a string, number or boolean"
            )]
        );
    }

    #[test]
    fn mixed_good_and_bad_lines() {
        let body = concat!(
            r#"{"line":"ok","labels":{"a":"1"}}"#,
            "\n",
            "not json\n",
            r#"{"line":"bad ts","ts":"yesterday"}"#,
            "\n",
            r#"{"line":5}"#,
            "\n",
            "[1,2]\n",
            r#"{"line":"bad label","labels":{"a.b":"1"}}"#,
            "\n",
            r#"{"line":"too long xxxxxxxxxxxxxxxxxxxx"}"#,
            "\n",
            "\u{ff}\n"
        );
        let mut body = body.as_bytes().to_vec();
        body.extend_from_slice(b"\xff\xfe\n");
        let limits = DecodeLimits {
            max_line_bytes: 20,
            ..DecodeLimits::default()
        };
        let d = decode_json_lines(&body, None, &opts(), NOW, &limits).unwrap();
        assert_eq!(d.records.len(), 1);
        assert_eq!(d.records[0].line, "ok");
        let refused: Vec<String> = d.refused.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            refused,
            [
                "line 2: the line is not JSON (expected ident at line 1 column 2)",
                "line 3: the timestamp \"yesterday\" is not RFC 3339, Unix seconds or a string of Unix nanoseconds",
                "line 4: \"line\" is not a string",
                "line 5: the line is not a JSON object",
                "line 6: the label name \"a.b\" is not valid (letters, digits and _, not starting with a digit)",
                "line 7: the line is 29 bytes, over the limit of 20",
                "line 8: the line is not JSON (expected value at line 1 column 1)",
                "line 9: the line is not UTF-8 text",
            ]
        );
    }

    #[test]
    fn not_json_at_all_is_an_error() {
        let e = decode_json_lines(
            b"hello\nworld\n",
            None,
            &opts(),
            NOW,
            &DecodeLimits::default(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the body is not JSON lines (one JSON object per line): line 1: expected value at line 1 column 1"
        );
        // An empty body is no error and holds nothing.
        assert_eq!(
            decode_json_lines(b"\n\n", None, &opts(), NOW, &DecodeLimits::default()).unwrap(),
            Decoded::default()
        );
    }

    #[test]
    fn gzip_json_lines() {
        let gz = crate::push::tests::gzip(br#"{"line":"zipped"}"#);
        let d =
            decode_json_lines(&gz, Some("gzip"), &opts(), NOW, &DecodeLimits::default()).unwrap();
        assert_eq!(d.records[0].line, "zipped");
    }

    #[test]
    fn timestamps() {
        let p = |s: &str| parse_ts(&serde_json::from_str(s).unwrap());
        assert_eq!(p(r#""1970-01-01T00:00:01.000000002Z""#), Ok(1_000_000_002));
        assert_eq!(p("-1"), Ok(-1_000_000_000));
        assert_eq!(p(r#""-5""#), Ok(-5));
        assert_eq!(p("1.5"), Ok(1_500_000_000));
        assert_eq!(p("-1.25"), Ok(-1_250_000_000));
        assert_eq!(p("1765015200.123456"), Ok(1_765_015_200_123_456_000));
        assert_eq!(p("1.5e3"), Ok(1_500_000_000_000));
        assert_eq!(
            p("1e300"),
            Err("the timestamp 1e+300 is out of range".into())
        );
        assert_eq!(
            p("10000000000000"),
            Err("the timestamp 10000000000000 is out of range".into())
        );
        assert_eq!(
            p("true"),
            Err("the timestamp is not a string or a number".into())
        );
    }

    #[test]
    fn plain_text() {
        let labels = Labels::from_pairs(&[("job", "batch")]);
        let mut body = b"first\r\n\n  \nsecond\n".to_vec();
        body.extend_from_slice(b"\xc3\x28\nthird line that is long");
        let limits = DecodeLimits {
            max_line_bytes: 10,
            ..DecodeLimits::default()
        };
        let d = decode_text(&body, &labels, NOW, &limits);
        let got: Vec<(i64, &str)> = d
            .records
            .iter()
            .map(|r| (r.ts_ns, r.line.as_str()))
            .collect();
        assert_eq!(got, [(NOW, "first"), (NOW + 1, "second")]);
        assert_eq!(d.records[0].labels, labels);
        let refused: Vec<String> = d.refused.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            refused,
            [
                "line 5: the line is not UTF-8 text",
                "line 6: the line is 23 bytes, over the limit of 10"
            ]
        );
        let d = decode_text(b"x\ny", &Labels::empty(), NOW, &limits);
        assert_eq!(
            d.summary(),
            "0 accepted, 2 refused (line 1: the stream has no labels; give it at least one; line 2: the stream has no labels; give it at least one)"
        );
    }
}
