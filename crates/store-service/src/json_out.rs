//! A direct JSON writer for query results: one `String` buffer, no
//! intermediate `serde_json::Value` tree (which costs several allocations
//! per point and dominated large `query_range` answers).
//!
//! The output is the same JSON as [`crate::query::result_json`] builds:
//! values as Go formats them, timestamps as seconds with the millisecond
//! fraction trimmed, as Prometheus's `jsonutil` writes them.
//!
//! ```text
//! {"resultType":"matrix","result":[{"metric":{"job":"a"},"values":[[15.5,"1"]]}]}
//! ```

use argus_model::Labels;
use argus_promql::Value;
use std::fmt::Write;

/// Appends `s` as a JSON string literal.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{:04x}", b);
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends a millisecond timestamp as seconds: `15`, `15.5`, `-0.001`.
pub fn write_ts(out: &mut String, ms: i64) {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    if frac == 0 {
        let _ = write!(out, "{secs}");
        return;
    }
    // Negative times print as the float they are: -1.5 s, not -2 s + 0.5.
    if ms < 0 {
        let _ = write!(out, "{}", ms as f64 / 1000.0);
        return;
    }
    let _ = write!(out, "{secs}.{frac:03}");
    while out.ends_with('0') {
        out.pop();
    }
}

/// Appends a sample value the way Prometheus's JSON does (a quoted Go float).
pub fn write_value(out: &mut String, v: f64) {
    out.push('"');
    if v.is_finite() && v != 0.0 && (v.abs() < 1e-6 || v.abs() >= 1e21) {
        out.push_str(&argus_web::params::format_value(v));
    } else if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
    out.push('"');
}

fn write_labels(out: &mut String, l: &Labels) {
    out.push('{');
    for (i, lab) in l.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, &lab.name);
        out.push(':');
        write_str(out, &lab.value);
    }
    out.push('}');
}

fn write_point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    write_ts(out, t);
    out.push(',');
    write_value(out, v);
    out.push(']');
}

/// Appends the `data` object of a query answer.
pub fn write_data(out: &mut String, v: &Value) {
    out.push_str("{\"resultType\":\"");
    out.push_str(v.type_name());
    out.push_str("\",\"result\":");
    match v {
        Value::Scalar { t, v } => write_point(out, *t, *v),
        Value::String { t, s } => {
            out.push('[');
            write_ts(out, *t);
            out.push(',');
            write_str(out, s);
            out.push(']');
        }
        Value::Vector(samples) => {
            out.push('[');
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(out, &s.labels);
                out.push_str(",\"value\":");
                write_point(out, s.t, s.v);
                out.push('}');
            }
            out.push(']');
        }
        Value::Matrix(series) => {
            out.push('[');
            let mut first = true;
            for s in series.iter().filter(|s| !s.samples.is_empty()) {
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str("{\"metric\":");
                write_labels(out, &s.labels);
                out.push_str(",\"values\":[");
                for (j, x) in s.samples.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    write_point(out, x.t, x.v);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
    out.push('}');
}

/// Rough output size, to size the buffer once.
pub fn estimate_len(v: &Value) -> usize {
    match v {
        Value::Matrix(series) => {
            series
                .iter()
                .map(|s| 64 + s.labels.len() * 32 + s.samples.len() * 28)
                .sum::<usize>()
                + 64
        }
        Value::Vector(samples) => samples.len() * 128 + 64,
        _ => 128,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_values_like_prometheus() {
        let mut s = String::new();
        for ms in [0, 1500, 15_000, 1_700_000_000_123, 10, -1500] {
            s.clear();
            write_ts(&mut s, ms);
            let back: f64 = s.parse().unwrap();
            assert_eq!((back * 1000.0).round() as i64, ms, "{s}");
        }
        s.clear();
        write_ts(&mut s, 1_700_000_000_120);
        assert_eq!(s, "1700000000.12");
        for (v, want) in [
            (1.0, "\"1\""),
            (0.25, "\"0.25\""),
            (f64::NAN, "\"NaN\""),
            (f64::NEG_INFINITY, "\"-Inf\""),
            (1e-5, "\"0.00001\""),
            (1.5e-7, "\"1.5e-07\""),
            (1e21, "\"1e+21\""),
            (123456789.0, "\"123456789\""),
        ] {
            s.clear();
            write_value(&mut s, v);
            assert_eq!(s, want);
        }
    }

    #[test]
    fn strings_are_escaped() {
        let mut s = String::new();
        write_str(&mut s, "a\"b\\c\nd\u{1}é");
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é");
    }
}
