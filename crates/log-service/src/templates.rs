//! `GET /api/argus/v1/logs/templates`: the lines of a log query grouped by
//! their template (the message with its values written `<*>`, from
//! [`argus_logs::miner`]), for the Logs page's Templates view.
//!
//! Parameters: `query` (a LogQL log query), `start` and `end` (Unix seconds
//! or RFC 3339; the last hour by default), `limit` (the newest lines read,
//! 5000 by default, 20000 at most) and `buckets` (points of each template's
//! count series, 30 by default). The answer, in the usual envelope:
//!
//! ```json
//! {"lines": 812, "truncated": false, "start": 1.7e9, "end": 1.7e9, "step": 120,
//!  "templates": [{"template": "payment <*> failed", "filter": "failed", "count": 40,
//!                 "first": "2026-03-01T10:00:00Z", "last": "…", "series": [0, 3, …],
//!                 "examples": ["payment 17 failed", …]}]}
//! ```
//!
//! Templates come most frequent first; `filter` is the template's longest
//! constant part, a line filter (`|= "…"`) that finds its lines.

use crate::LogsRuntime;
use argus_logs::logql::{self, Direction, Limits, LogqlError, Query};
use argus_logs::miner::{mine, VAR};
use argus_logs::record::LogSource;
use argus_web::params::{collect_params, param, parse_time, success, ApiError};
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// Lines read when the request names no limit.
pub const DEFAULT_LIMIT: usize = 5_000;
/// Lines read at most.
pub const MAX_LIMIT: usize = 20_000;
/// Points of each template's series by default.
pub const DEFAULT_BUCKETS: usize = 30;
/// Example lines per template.
pub const EXAMPLES: usize = 3;

const NS_PER_MS: i64 = 1_000_000;

pub(super) fn router(rt: Arc<LogsRuntime>) -> Router {
    Router::new()
        .route("/api/argus/v1/logs/templates", get(templates))
        .with_state(rt)
}

/// One template and its lines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Template {
    /// The message with `<*>` for its values.
    pub template: String,
    /// Its longest constant part (empty when it has none): a line filter for its lines.
    pub filter: String,
    /// Lines of this template.
    pub count: usize,
    /// The oldest of them (RFC 3339).
    pub first: String,
    /// The newest of them (RFC 3339).
    pub last: String,
    /// Lines per bucket of the range, oldest bucket first.
    pub series: Vec<u32>,
    /// Up to [`EXAMPLES`] of its lines, newest first.
    pub examples: Vec<String>,
    #[serde(skip)]
    first_ns: i64,
    #[serde(skip)]
    last_ns: i64,
}

/// What the endpoint answers (the envelope's `data`).
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// Lines grouped.
    pub lines: usize,
    /// True when the limit cut the range: older lines were not read.
    pub truncated: bool,
    /// The range, in Unix seconds.
    pub start: f64,
    /// The range's end, in Unix seconds.
    pub end: f64,
    /// Seconds per bucket of the series.
    pub step: f64,
    /// The templates, most lines first.
    pub templates: Vec<Template>,
}

fn rfc3339(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The longest run of a template between its values, trimmed.
pub fn longest_constant(template: &str) -> String {
    template
        .split(VAR)
        .map(str::trim)
        .max_by_key(|p| p.chars().count())
        .unwrap_or("")
        .to_string()
}

/// Groups `lines` (time in ns and text, any order) by template over
/// `[start_ns, end_ns]` cut into `buckets`.
pub fn group(lines: &[(i64, &str)], start_ns: i64, end_ns: i64, buckets: usize) -> Vec<Template> {
    let buckets = buckets.max(1);
    let step = ((end_ns - start_ns).max(1) as u64)
        .div_ceil(buckets as u64)
        .max(1) as i64;
    let mut order: Vec<usize> = (0..lines.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lines[i].0));
    let texts: Vec<&str> = order.iter().map(|&i| lines[i].1).collect();
    let mined = mine(&texts);
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut out: Vec<Template> = Vec::new();
    for (k, &i) in order.iter().enumerate() {
        let (ts, line) = lines[i];
        let at = *index.entry(mined[k].as_str()).or_insert_with(|| {
            out.push(Template {
                template: mined[k].clone(),
                filter: longest_constant(&mined[k]),
                count: 0,
                first: String::new(),
                last: String::new(),
                series: vec![0; buckets],
                examples: Vec::new(),
                first_ns: ts,
                last_ns: ts,
            });
            out.len() - 1
        });
        let t = &mut out[at];
        t.count += 1;
        t.first_ns = t.first_ns.min(ts);
        t.last_ns = t.last_ns.max(ts);
        let b = ((ts - start_ns).max(0) / step) as usize;
        t.series[b.min(buckets - 1)] += 1;
        if t.examples.len() < EXAMPLES && !t.examples.iter().any(|e| e == line) {
            t.examples.push(line.to_string());
        }
    }
    for t in &mut out {
        t.first = rfc3339(t.first_ns);
        t.last = rfc3339(t.last_ns);
    }
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.template.cmp(&b.template))
    });
    out
}

/// Runs the log query `q` over `[start_ns, end_ns]` (its newest `limit`
/// lines) and groups the lines by template.
pub fn templates_of(
    src: &dyn LogSource,
    q: &Query,
    start_ns: i64,
    end_ns: i64,
    limit: usize,
    buckets: usize,
    limits: &Limits,
) -> Result<Answer, LogqlError> {
    let Query::Log(_) = q else {
        return Err(LogqlError::BadParam(
            "templates group log lines: give a log query such as {service=\"pay\"} |= \"error\", not a metric query".into(),
        ));
    };
    let v = logql::query_range(
        src,
        q,
        start_ns,
        end_ns,
        0,
        limit,
        Direction::Backward,
        limits,
    )?;
    let mut lines: Vec<(i64, &str)> = Vec::new();
    for s in v["data"]["result"].as_array().into_iter().flatten() {
        for e in s["values"].as_array().into_iter().flatten() {
            let ts = e[0].as_str().and_then(|t| t.parse::<i64>().ok());
            if let (Some(ts), Some(line)) = (ts, e[1].as_str()) {
                lines.push((ts, line));
            }
        }
    }
    let step = ((end_ns - start_ns).max(1) as u64).div_ceil(buckets.max(1) as u64) as f64;
    Ok(Answer {
        lines: lines.len(),
        truncated: lines.len() >= limit,
        start: start_ns as f64 / 1e9,
        end: end_ns as f64 / 1e9,
        step: step / 1e9,
        templates: group(&lines, start_ns, end_ns, buckets),
    })
}

fn number(p: &[(String, String)], name: &str, dflt: usize, max: usize) -> Result<usize, ApiError> {
    match param(p, name).filter(|s| !s.is_empty()) {
        None => Ok(dflt),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n.min(max)),
            _ => Err(ApiError::bad_data(format!(
                "invalid parameter {name:?}: {s:?} is not a whole number above zero"
            ))),
        },
    }
}

async fn templates(State(rt): State<Arc<LogsRuntime>>, RawQuery(q): RawQuery) -> Response {
    let p = collect_params(q.as_deref(), &[]);
    let parsed = (|| {
        let text = param(&p, "query")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::bad_data("the parameter \"query\" is missing"))?;
        let query = logql::parse(text).map_err(|e| ApiError::bad_data(e.to_string()))?;
        let now_ms = rt.now_ns() / NS_PER_MS;
        let end = match param(&p, "end").filter(|s| !s.is_empty()) {
            Some(s) => parse_time("end", s)?,
            None => now_ms,
        };
        let start = match param(&p, "start").filter(|s| !s.is_empty()) {
            Some(s) => parse_time("start", s)?,
            None => end - 3_600_000,
        };
        if end < start {
            return Err(ApiError::bad_data(
                "the end time must not be before the start time",
            ));
        }
        let limit = number(&p, "limit", DEFAULT_LIMIT, MAX_LIMIT)?;
        let buckets = number(&p, "buckets", DEFAULT_BUCKETS, 200)?;
        Ok((query, start * NS_PER_MS, end * NS_PER_MS, limit, buckets))
    })();
    let (query, start, end, limit, buckets) = match parsed {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let r = rt.clone();
    let res = tokio::task::spawn_blocking(move || {
        // `end` is inclusive here, as on the other range endpoints.
        templates_of(
            &**r.store(),
            &query,
            start,
            end + 1,
            limit,
            buckets,
            &r.limits(),
        )
    })
    .await;
    match res {
        Ok(Ok(a)) => success(a),
        Ok(Err(e)) if e.is_bad_request() => ApiError::bad_data(e.to_string()).into_response(),
        Ok(Err(e)) => ApiError::internal(e.to_string()).into_response(),
        Err(e) => {
            ApiError::internal(format!("the query failed inside the server: {e}")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_logs::record::{LogRecord, MemorySource};
    use argus_model::Labels;

    const S: i64 = 1_000_000_000;

    fn source() -> MemorySource {
        let pay = Labels::from_pairs(&[("service", "pay"), ("level", "error")]);
        let web = Labels::from_pairs(&[("service", "web"), ("level", "info")]);
        let mut recs = Vec::new();
        for i in 0..6 {
            recs.push(LogRecord::new(
                pay.clone(),
                (10 + i * 10) * S,
                format!("payment {} failed: card declined", 100 + i),
            ));
        }
        for i in 0..3 {
            recs.push(LogRecord::new(
                web.clone(),
                (15 + i * 20) * S,
                format!("GET /orders/{} 200 in {} ms", i, 5 + i),
            ));
        }
        recs.push(LogRecord::new(web, 50 * S, "cache warmed"));
        MemorySource::from_records(recs)
    }

    fn run(query: &str, limit: usize) -> Result<Answer, LogqlError> {
        let q = logql::parse(query).unwrap();
        templates_of(&source(), &q, 0, 100 * S, limit, 10, &Limits::default())
    }

    #[test]
    fn lines_are_grouped_by_template_most_frequent_first() {
        let a = run(r#"{service=~".+"}"#, 5000).unwrap();
        assert_eq!(a.lines, 10);
        assert!(!a.truncated);
        assert_eq!(a.step, 10.0);
        let t: Vec<(&str, usize)> = a
            .templates
            .iter()
            .map(|t| (t.template.as_str(), t.count))
            .collect();
        assert_eq!(
            t,
            vec![
                ("payment <*> failed: card declined", 6),
                ("GET /orders/<*> <*> in <*> ms", 3),
                ("cache warmed", 1),
            ]
        );
        let pay = &a.templates[0];
        assert_eq!(pay.filter, "failed: card declined");
        assert_eq!(pay.first, "1970-01-01T00:00:10.000Z");
        assert_eq!(pay.last, "1970-01-01T00:01:00.000Z");
        assert_eq!(pay.series, vec![0, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
        assert_eq!(pay.series.iter().sum::<u32>(), 6);
        // Newest first, three at most.
        assert_eq!(
            pay.examples,
            vec![
                "payment 105 failed: card declined",
                "payment 104 failed: card declined",
                "payment 103 failed: card declined",
            ]
        );
        assert_eq!(a.templates[2].examples, vec!["cache warmed"]);
        assert_eq!(a.templates[2].filter, "cache warmed");
    }

    #[test]
    fn the_query_filters_and_the_limit_keeps_the_newest_lines() {
        let a = run(r#"{service="web"} != "cache""#, 5000).unwrap();
        assert_eq!(a.lines, 3);
        assert_eq!(a.templates.len(), 1);
        let a = run(r#"{service="pay"}"#, 2).unwrap();
        assert!(a.truncated);
        assert_eq!(a.templates[0].count, 2);
        assert_eq!(a.templates[0].first, "1970-01-01T00:00:50.000Z");
    }

    #[test]
    fn metric_queries_are_refused_in_plain_words() {
        let e = run(r#"count_over_time({service="pay"}[1m])"#, 10).unwrap_err();
        assert!(e.is_bad_request());
        assert!(e.to_string().contains("give a log query"), "{e}");
    }

    #[test]
    fn the_longest_constant_part_is_the_filter() {
        assert_eq!(longest_constant("took <*> ms to write <*>"), "ms to write");
        assert_eq!(longest_constant("<*>"), "");
        assert_eq!(longest_constant("disk full"), "disk full");
    }

    #[test]
    fn lines_at_the_range_end_fall_in_the_last_bucket() {
        let t = group(&[(100 * S, "a b"), (-5, "a b")], 0, 100 * S, 4);
        assert_eq!(t[0].series, vec![1, 0, 0, 1]);
    }
}
