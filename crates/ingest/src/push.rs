//! The JSON push receiver, `POST /api/v1/push`. The format is documented in
//! `docs/format/json-push.md`.
//!
//! A body is a JSON array of entries, or newline-delimited entries (one JSON
//! object per line). An entry is either
//! `{"labels": {...}, "samples": [[ts_ms, value], ...]}` or the shorthand
//! `{"labels": {...}, "value": v, "timestamp": ts_ms}` (timestamp optional:
//! the injected clock's now). Values are numbers or the strings `"NaN"`,
//! `"+Inf"`, `"-Inf"` and `"stale"` (a Prometheus stale marker).
//!
//! A bad entry is rejected whole, with its index (and line, for
//! newline-delimited bodies); the good entries are kept. Only an array body
//! that is not valid JSON refuses the whole request.
//!
//! ```
//! use argus_ingest::push::parse_entry;
//! let v = serde_json::json!({"labels": {"__name__": "cpu", "host": "a"}, "value": "stale"});
//! let (labels, samples) = parse_entry(&v, 42).unwrap();
//! assert_eq!(labels.len(), 2);
//! assert_eq!(samples[0].0, 42);
//! assert!(argus_model::is_stale_nan(samples[0].1));
//! ```

use crate::validate::{describe_pairs, validate_pairs};
use crate::{IngestError, IngestReport, MAX_BODY_BYTES};
use argus_model::{Clock, STALE_NAN};
use argus_tsdb::Appender;
use serde_json::Value;

/// Reads a push body and stages its samples in `app`. The caller commits.
pub fn ingest_json<A: Appender>(
    app: &mut A,
    body: &[u8],
    clock: &dyn Clock,
) -> Result<IngestReport, IngestError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(IngestError::TooLarge {
            what: "request body",
            size: body.len() as u64,
            limit: MAX_BODY_BYTES as u64,
        });
    }
    let now = clock.now_ms();
    let mut report = IngestReport::default();
    let start = body
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(body.len());
    if body.get(start) == Some(&b'[') {
        let entries: Vec<Value> =
            serde_json::from_slice(body).map_err(|e| IngestError::BadJson {
                line: e.line(),
                column: e.column(),
                reason: e.to_string(),
            })?;
        for (i, v) in entries.iter().enumerate() {
            stage(app, &mut report, v, now, &format!("entry {i}"));
        }
        return Ok(report);
    }
    let mut index = 0usize;
    for (n, line) in body.split(|&c| c == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let at = format!("entry {index} (line {})", n + 1);
        index += 1;
        match serde_json::from_slice::<Value>(line) {
            Ok(v) => stage(app, &mut report, &v, now, &at),
            Err(e) => report.reject(1, || {
                format!("{at}: malformed JSON at column {}: {e}", e.column())
            }),
        }
    }
    Ok(report)
}

fn stage<A: Appender>(app: &mut A, report: &mut IngestReport, v: &Value, now: i64, at: &str) {
    let (labels, samples) = match parse_entry(v, now) {
        Ok(x) => x,
        Err(reason) => {
            let n = v
                .get("samples")
                .and_then(Value::as_array)
                .map_or(1, |a| a.len().max(1));
            report.reject(n as u64, || format!("{at}: {reason}"));
            return;
        }
    };
    let mut pairs: Vec<(&str, &str)> = labels
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    if let Err(reason) = validate_pairs(&mut pairs) {
        report.reject(samples.len().max(1) as u64, || {
            format!("{at}: series {}: {reason}", describe_pairs(&pairs))
        });
        return;
    }
    for (t, v) in samples {
        match app.append_pairs(&pairs, t, v) {
            Ok(()) => report.accepted += 1,
            Err(e) => report.reject(1, || format!("{at}: {e}")),
        }
    }
}

/// One parsed entry: label pairs and `(timestamp_ms, value)` samples.
pub type Entry = (Vec<(String, String)>, Vec<(i64, f64)>);

/// Reads one entry into its label pairs and `(timestamp_ms, value)` samples;
/// `now` is the timestamp of a shorthand entry without one. The labels are
/// not validated here.
pub fn parse_entry(v: &Value, now: i64) -> Result<Entry, String> {
    let obj = v.as_object().ok_or("an entry must be a JSON object")?;
    for k in obj.keys() {
        if !matches!(k.as_str(), "labels" | "samples" | "value" | "timestamp") {
            return Err(format!(
                "unknown field {k:?} (expected labels, samples, value, timestamp)"
            ));
        }
    }
    let labels_v = obj.get("labels").ok_or("missing field \"labels\"")?;
    let labels_o = labels_v
        .as_object()
        .ok_or("\"labels\" must be an object of strings")?;
    let mut labels = Vec::with_capacity(labels_o.len());
    for (k, v) in labels_o {
        let s = v
            .as_str()
            .ok_or_else(|| format!("label {k:?} must have a string value"))?;
        labels.push((k.clone(), s.to_string()));
    }
    let samples = match (obj.get("samples"), obj.get("value")) {
        (Some(_), Some(_)) => return Err("give either \"samples\" or \"value\", not both".into()),
        (None, None) => return Err("missing \"samples\" or \"value\"".into()),
        (Some(s), None) => {
            if obj.contains_key("timestamp") {
                return Err("\"timestamp\" goes with \"value\"; samples carry their own".into());
            }
            let arr = s
                .as_array()
                .ok_or("\"samples\" must be an array of [timestamp_ms, value] pairs")?;
            let mut out = Vec::with_capacity(arr.len());
            for (i, p) in arr.iter().enumerate() {
                let pair = p.as_array().filter(|a| a.len() == 2);
                let pair =
                    pair.ok_or_else(|| format!("sample {i} must be a [timestamp_ms, value] pair"))?;
                let t = parse_ts(&pair[0]).map_err(|r| format!("sample {i}: {r}"))?;
                let v = parse_value(&pair[1]).map_err(|r| format!("sample {i}: {r}"))?;
                out.push((t, v));
            }
            out
        }
        (None, Some(v)) => {
            let t = match obj.get("timestamp") {
                None | Some(Value::Null) => now,
                Some(t) => parse_ts(t)?,
            };
            vec![(t, parse_value(v)?)]
        }
    };
    Ok((labels, samples))
}

fn parse_ts(v: &Value) -> Result<i64, String> {
    if let Some(t) = v.as_i64() {
        return Ok(t);
    }
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(f as i64),
        _ => Err(format!(
            "timestamp {v} must be an integer number of milliseconds"
        )),
    }
}

fn parse_value(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| format!("value {n} is not a number")),
        Value::String(s) => {
            if s.eq_ignore_ascii_case("stale") {
                return Ok(STALE_NAN);
            }
            let ok = !s.is_empty()
                && s.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-'));
            s.parse::<f64>().ok().filter(|_| ok).ok_or_else(|| {
                format!("value {s:?} is not a number, \"NaN\", \"+Inf\", \"-Inf\" or \"stale\"")
            })
        }
        other => Err(format!("value {other} must be a number or a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entry_forms() {
        let (_, s) = parse_entry(
            &json!({"labels": {"__name__": "a"}, "samples": [[1, 1.5], [2, "NaN"], [3, "-Inf"]]}),
            0,
        )
        .unwrap();
        assert_eq!(s.len(), 3);
        assert!(s[1].1.is_nan() && !argus_model::is_stale_nan(s[1].1));
        assert_eq!(s[2].1, f64::NEG_INFINITY);
        let (_, s) = parse_entry(
            &json!({"labels": {"__name__": "a"}, "value": 2, "timestamp": 7}),
            0,
        )
        .unwrap();
        assert_eq!(s, vec![(7, 2.0)]);
        let bad = [
            json!([]),
            json!({"labels": {"__name__": "a"}}),
            json!({"labels": {"__name__": 1}, "value": 1}),
            json!({"labels": {}, "value": 1, "samples": []}),
            json!({"labels": {}, "value": "x"}),
            json!({"labels": {}, "value": 1, "timestamp": 1.5}),
            json!({"labels": {}, "samples": [[1]]}),
            json!({"labels": {}, "value": 1, "extra": 1}),
        ];
        for b in bad {
            assert!(parse_entry(&b, 0).is_err(), "{b}");
        }
    }
}
