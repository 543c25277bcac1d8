//! Loki's JSON answers: `streams`, `matrix`, `vector`, label names and values, series.

use super::eval::{Series, Stats, Steps};
use super::{parse_selector, LogqlError};
use crate::record::LogSource;
use argus_model::Labels;
use serde_json::{json, Map, Value};

fn labels_obj(l: &Labels) -> Value {
    let mut m = Map::new();
    for x in l.iter() {
        m.insert(x.name.clone(), Value::String(x.value.clone()));
    }
    Value::Object(m)
}

/// Unix seconds as a JSON number, at millisecond resolution like Prometheus: a whole second
/// is an integer, otherwise a fraction.
fn seconds(ns: i64) -> Value {
    let ms = ns.div_euclid(1_000_000);
    if ms.rem_euclid(1000) == 0 {
        Value::from(ms.div_euclid(1000))
    } else {
        Value::from(ms as f64 / 1000.0)
    }
}

/// A sample value as Prometheus writes it: shortest form, `NaN`, `+Inf`, `-Inf`.
pub(crate) fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

fn stats_json(stats: &Stats) -> Value {
    let secs = stats.started.elapsed().as_secs_f64();
    let per_sec = |n: usize| {
        if secs > 0.0 {
            (n as f64 / secs) as u64
        } else {
            0
        }
    };
    json!({
        "summary": {
            "bytesProcessedPerSecond": per_sec(stats.bytes),
            "linesProcessedPerSecond": per_sec(stats.lines),
            "totalBytesProcessed": stats.bytes,
            "totalLinesProcessed": stats.lines,
            "totalEntriesReturned": stats.returned,
            "execTime": secs,
            "queueTime": 0,
        }
    })
}

fn success(result_type: &str, result: Vec<Value>, stats: &Stats) -> Value {
    json!({
        "status": "success",
        "data": {
            "resultType": result_type,
            "result": result,
            "stats": stats_json(stats),
        }
    })
}

pub(crate) fn streams_json(streams: &[(Labels, Vec<(i64, String)>)], stats: &Stats) -> Value {
    let result = streams
        .iter()
        .map(|(l, entries)| {
            let values: Vec<Value> = entries
                .iter()
                .map(|(ts, line)| json!([ts.to_string(), line]))
                .collect();
            json!({"stream": labels_obj(l), "values": values})
        })
        .collect();
    success("streams", result, stats)
}

fn sorted(series: &[Series]) -> Vec<&Series> {
    let mut v: Vec<&Series> = series.iter().filter(|s| !s.points.is_empty()).collect();
    v.sort_by(|a, b| a.labels.cmp(&b.labels));
    v
}

pub(crate) fn matrix_json(series: &[Series], steps: Steps, stats: &mut Stats) -> Value {
    let rows = sorted(series);
    stats.returned = rows.iter().map(|s| s.points.len()).sum();
    let result = rows
        .into_iter()
        .map(|s| {
            let values: Vec<Value> = s
                .points
                .iter()
                .map(|(i, v)| json!([seconds(steps.at(*i)), fmt_value(*v)]))
                .collect();
            json!({"metric": labels_obj(&s.labels), "values": values})
        })
        .collect();
    success("matrix", result, stats)
}

/// `keep_order`: the series are already in the order asked for (`sort`, `sort_desc`); else
/// they are ordered by labels.
pub(crate) fn vector_json(
    series: &[Series],
    time_ns: i64,
    keep_order: bool,
    stats: &mut Stats,
) -> Value {
    let rows = if keep_order {
        series.iter().collect()
    } else {
        sorted(series)
    };
    stats.returned = rows.len();
    let result = rows
        .into_iter()
        .filter_map(|s| {
            let (_, v) = s.points.first()?;
            Some(json!({"metric": labels_obj(&s.labels), "value": [seconds(time_ns), fmt_value(*v)]}))
        })
        .collect();
    success("vector", result, stats)
}

/// `{"status":"success","data":["a","b"]}`: the answer of `/labels` and
/// `/label/<name>/values`.
pub fn labels_response(names: &[String]) -> Value {
    json!({"status": "success", "data": names})
}

/// `{"status":"success","data":[{…labels…}]}`: the answer of `/series`.
pub fn series_response(series: &[Labels]) -> Value {
    let data: Vec<Value> = series.iter().map(labels_obj).collect();
    json!({"status": "success", "data": data})
}

/// The `/labels` answer: label names of streams with entries in `[start_ns, end_ns)`.
pub fn label_names(src: &dyn LogSource, start_ns: i64, end_ns: i64) -> Result<Value, LogqlError> {
    Ok(labels_response(&src.label_names(start_ns, end_ns)?))
}

/// The `/label/<name>/values` answer; `query` is an optional stream selector narrowing the
/// streams, as Loki's `query` parameter.
pub fn label_values(
    src: &dyn LogSource,
    name: &str,
    query: Option<&str>,
    start_ns: i64,
    end_ns: i64,
) -> Result<Value, LogqlError> {
    let matchers = match query {
        Some(q) if !q.trim().is_empty() => parse_selector(q)?,
        _ => Vec::new(),
    };
    Ok(labels_response(
        &src.label_values(name, &matchers, start_ns, end_ns)?,
    ))
}

/// The `/series` answer for one or more `match[]` selectors: the union of the matching label
/// sets, sorted, without duplicates.
pub fn series(
    src: &dyn LogSource,
    selectors: &[&str],
    start_ns: i64,
    end_ns: i64,
) -> Result<Value, LogqlError> {
    if selectors.is_empty() {
        return Err(LogqlError::BadParam(
            "at least one match[] selector is required".into(),
        ));
    }
    let mut all = Vec::new();
    for s in selectors {
        let m = parse_selector(s)?;
        all.extend(src.series(&m, start_ns, end_ns)?);
    }
    all.sort();
    all.dedup();
    Ok(series_response(&all))
}
