//! Loki's query API over the log store, so Grafana's Loki data source and
//! `logcli` work unchanged: `query_range`, `query`, `labels`,
//! `label/{name}/values`, `series`, `index/stats`, `patterns` and `status/buildinfo`,
//! by GET or form POST, answered in Loki's JSON shapes. Queries run on a
//! blocking thread.

use crate::LogsRuntime;
use argus_logs::logql::{self, Direction, Limits, LogqlError};
use argus_logs::patterns::PatternCounter;
use argus_logs::record::LogSource;
use argus_web::params::{collect_params, param, params_all};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

const SEC: i64 = 1_000_000_000;

pub(super) fn router(rt: Arc<LogsRuntime>) -> Router {
    Router::new()
        .route(
            "/loki/api/v1/query_range",
            get(query_range).post(query_range),
        )
        .route("/loki/api/v1/query", get(query).post(query))
        .route("/loki/api/v1/labels", get(labels).post(labels))
        .route("/loki/api/v1/label", get(labels).post(labels))
        .route(
            "/loki/api/v1/label/{name}/values",
            get(label_values).post(label_values),
        )
        .route("/loki/api/v1/series", get(series).post(series))
        .route("/loki/api/v1/index/stats", get(stats).post(stats))
        .route("/loki/api/v1/patterns", get(patterns).post(patterns))
        .route("/loki/api/v1/status/buildinfo", get(buildinfo))
        .with_state(rt)
}

/// A request parameter that cannot be read: 400 in Loki's plain-text form.
#[derive(Debug)]
struct Bad(String);

impl From<LogqlError> for Bad {
    fn from(e: LogqlError) -> Bad {
        Bad(e.to_string())
    }
}

fn error_response(e: LogqlError) -> Response {
    let status = if e.is_bad_request() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    (status, format!("{e}\n")).into_response()
}

/// A Loki timestamp: nanoseconds since the epoch (an integer; ten digits or
/// fewer are read as seconds), fractional seconds, or RFC 3339.
fn parse_ts(name: &str, s: &str) -> Result<i64, Bad> {
    let bad = || {
        Bad(format!(
            "invalid parameter {name:?}: cannot parse {s:?} as a timestamp (nanoseconds since the epoch, seconds, or RFC 3339)"
        ))
    };
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        let digits = s.trim_start_matches('-').len();
        return Ok(if digits <= 10 {
            n.saturating_mul(SEC)
        } else {
            n
        });
    }
    if let Ok(f) = s.parse::<f64>() {
        let ns = f * 1e9;
        if !ns.is_finite() || ns.abs() >= i64::MAX as f64 {
            return Err(bad());
        }
        return Ok(ns.round() as i64);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|d| d.timestamp_nanos_opt())
        .ok_or_else(bad)
}

/// A Loki duration (`step`, `since`): a Prometheus duration or seconds.
fn parse_dur(name: &str, s: &str) -> Result<i64, Bad> {
    if let Ok(f) = s.trim().parse::<f64>() {
        let ns = f * 1e9;
        if ns.is_finite() && ns.abs() < i64::MAX as f64 {
            return Ok(ns.round() as i64);
        }
    }
    argus_model::parse_duration(s.trim())
        .map(|ms| ms.saturating_mul(1_000_000))
        .map_err(|_| {
            Bad(format!(
                "invalid parameter {name:?}: cannot parse {s:?} as a duration"
            ))
        })
}

struct Params(Vec<(String, String)>);

impl Params {
    fn new(q: Option<String>, body: &[u8]) -> Params {
        Params(collect_params(q.as_deref(), body))
    }

    fn get(&self, name: &str) -> Option<&str> {
        param(&self.0, name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// `start`/`end`/`since` as Loki reads them: end defaults to now, start
    /// to end minus `since` (default `default_since`).
    fn range(&self, now: i64, default_since: i64) -> Result<(i64, i64), Bad> {
        // Without an end, a line stamped this very nanosecond is included.
        let end = self
            .get("end")
            .map(|s| parse_ts("end", s))
            .transpose()?
            .unwrap_or(now.saturating_add(1));
        let since = self
            .get("since")
            .map(|s| parse_dur("since", s))
            .transpose()?
            .unwrap_or(default_since);
        let start = self
            .get("start")
            .map(|s| parse_ts("start", s))
            .transpose()?
            .unwrap_or(end.saturating_sub(since));
        if end < start {
            return Err(Bad("the end time must not be before the start time".into()));
        }
        Ok((start, end))
    }

    /// The range of a query over time (Loki's default: the last hour) and
    /// its `step`.
    fn stepped_range(&self, now: i64) -> Result<(i64, i64, i64), Bad> {
        let (start, end) = self.range(now, QUERY_SINCE)?;
        Ok((start, end, self.step(start, end)?))
    }

    /// `step`, or Loki's default for the range; it must be positive.
    fn step(&self, start: i64, end: i64) -> Result<i64, Bad> {
        let step = match self.get("step") {
            Some(s) => parse_dur("step", s)?,
            None => default_step(start, end),
        };
        if step <= 0 {
            return Err(Bad(
                "zero or negative query resolution step widths are not accepted. Try a positive integer"
                    .into(),
            ));
        }
        Ok(step)
    }

    fn limit(&self) -> Result<usize, Bad> {
        match self.get("limit") {
            None => Ok(100),
            Some(s) => s.parse::<usize>().map_err(|_| {
                Bad(format!(
                    "invalid parameter \"limit\": {s:?} is not a whole number"
                ))
            }),
        }
    }

    fn direction(&self) -> Result<Direction, Bad> {
        Ok(match self.get("direction") {
            None => Direction::Backward,
            Some(d) => Direction::parse(d)?,
        })
    }

    fn query(&self) -> Result<&str, Bad> {
        self.get("query")
            .ok_or_else(|| Bad("the parameter \"query\" is missing".into()))
    }
}

impl LogsRuntime {
    pub(super) fn limits(&self) -> Limits {
        Limits {
            max_lines_scanned: self.cfg.max_query_lines,
            ..Limits::default()
        }
    }

    /// Runs `f` over the store on a blocking thread and answers in JSON.
    async fn read<F>(self: Arc<Self>, f: F) -> Response
    where
        F: FnOnce(&LogsRuntime) -> Result<Value, LogqlError> + Send + 'static,
    {
        let rt = self.clone();
        match tokio::task::spawn_blocking(move || f(&rt)).await {
            Ok(Ok(v)) => Json(v).into_response(),
            Ok(Err(e)) => error_response(e),
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the query failed inside the server: {e}\n"),
            )
                .into_response(),
        }
    }
}

fn bad(b: Bad) -> Response {
    (StatusCode::BAD_REQUEST, format!("{}\n", b.0)).into_response()
}

/// How far back a query reaches without `start` or `since`: Loki's hour.
const QUERY_SINCE: i64 = 3_600 * SEC;

/// Loki's default step: the range over 250 points, at least one second.
fn default_step(start: i64, end: i64) -> i64 {
    let secs = ((end - start) as f64 / SEC as f64 / 250.0).ceil().max(1.0);
    secs as i64 * SEC
}

async fn query_range(
    State(rt): State<Arc<LogsRuntime>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = Params::new(q, &body);
    let parsed = (|| {
        let query = logql::parse(p.query()?)?;
        let (start, end, step) = p.stepped_range(rt.now_ns())?;
        Ok::<_, Bad>((query, start, end, step, p.limit()?, p.direction()?))
    })();
    let (query, start, end, step, limit, dir) = match parsed {
        Ok(x) => x,
        Err(b) => return bad(b),
    };
    rt.read(move |rt| {
        logql::query_range(
            &**rt.store(),
            &query,
            start,
            end,
            step,
            limit,
            dir,
            &rt.limits(),
        )
    })
    .await
}

async fn query(State(rt): State<Arc<LogsRuntime>>, RawQuery(q): RawQuery, body: Bytes) -> Response {
    let p = Params::new(q, &body);
    let parsed = (|| {
        let query = logql::parse(p.query()?)?;
        let time = match p.get("time") {
            Some(t) => parse_ts("time", t)?,
            None => rt.now_ns(),
        };
        Ok::<_, Bad>((query, time))
    })();
    let (query, time) = match parsed {
        Ok(x) => x,
        Err(b) => return bad(b),
    };
    rt.read(move |rt| logql::query_instant(&**rt.store(), &query, time, &rt.limits()))
        .await
}

/// Label browsing covers the last six hours unless asked otherwise, as Loki.
const LABELS_SINCE: i64 = 6 * 3_600 * SEC;

async fn labels(
    State(rt): State<Arc<LogsRuntime>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = Params::new(q, &body);
    let (start, end) = match p.range(rt.now_ns(), LABELS_SINCE) {
        Ok(r) => r,
        Err(b) => return bad(b),
    };
    rt.read(move |rt| logql::label_names(&**rt.store(), start, end.saturating_add(1)))
        .await
}

async fn label_values(
    State(rt): State<Arc<LogsRuntime>>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = Params::new(q, &body);
    let (start, end) = match p.range(rt.now_ns(), LABELS_SINCE) {
        Ok(r) => r,
        Err(b) => return bad(b),
    };
    let query = p.get("query").map(str::to_string);
    rt.read(move |rt| {
        logql::label_values(
            &**rt.store(),
            &name,
            query.as_deref(),
            start,
            end.saturating_add(1),
        )
    })
    .await
}

async fn series(
    State(rt): State<Arc<LogsRuntime>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = Params::new(q, &body);
    let (start, end) = match p.range(rt.now_ns(), LABELS_SINCE) {
        Ok(r) => r,
        Err(b) => return bad(b),
    };
    let mut selectors: Vec<String> = params_all(&p.0, "match[]").into_iter().cloned().collect();
    selectors.extend(params_all(&p.0, "match").into_iter().cloned());
    rt.read(move |rt| {
        let s: Vec<&str> = selectors.iter().map(String::as_str).collect();
        logql::series(&**rt.store(), &s, start, end.saturating_add(1))
    })
    .await
}

/// `index/stats`: streams, chunks, lines and bytes a selector covers, which
/// Grafana asks for before running a query.
async fn stats(State(rt): State<Arc<LogsRuntime>>, RawQuery(q): RawQuery, body: Bytes) -> Response {
    let p = Params::new(q, &body);
    let parsed = (|| {
        let matchers = logql::parse_selector(p.query()?)?;
        let (start, end) = p.range(rt.now_ns(), QUERY_SINCE)?;
        Ok::<_, Bad>((matchers, start, end))
    })();
    let (matchers, start, end) = match parsed {
        Ok(x) => x,
        Err(b) => return bad(b),
    };
    rt.read(move |rt| {
        let (mut streams, mut entries, mut bytes) = (0u64, 0u64, 0u64);
        rt.store()
            .scan(&matchers, start, end.saturating_add(1), &mut |_, es| {
                streams += 1;
                entries += es.len() as u64;
                bytes += es.iter().map(|e| e.line.len() as u64).sum::<u64>();
                true
            })
            .map_err(LogqlError::from)?;
        Ok(json!({"streams": streams, "chunks": streams, "entries": entries, "bytes": bytes}))
    })
    .await
}

/// Patterns answered at most (the most frequent).
const MAX_PATTERNS: usize = 1_000;

/// `patterns`: a selector's lines counted per template over the range, each template with
/// Loki's `<_>` for its values (Grafana's Logs Drilldown shows them on its Patterns tab).
async fn patterns(
    State(rt): State<Arc<LogsRuntime>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = Params::new(q, &body);
    let parsed = (|| {
        let matchers = logql::parse_selector(p.query()?)?;
        let (start, end, step) = p.stepped_range(rt.now_ns())?;
        Ok::<_, Bad>((matchers, start, end, step))
    })();
    let (matchers, start, end, step) = match parsed {
        Ok(x) => x,
        Err(b) => return bad(b),
    };
    rt.read(move |rt| {
        let mut counter = PatternCounter::new(start, end.saturating_add(1), step);
        rt.store()
            .patterns(&matchers, &mut counter)
            .map_err(LogqlError::from)?;
        let data: Vec<Value> = counter
            .finish(MAX_PATTERNS)
            .into_iter()
            .map(|p| {
                let samples: Vec<Value> =
                    p.samples.iter().map(|(t, n)| json!([t / SEC, n])).collect();
                json!({"pattern": p.pattern, "samples": samples})
            })
            .collect();
        Ok(json!({"status": "success", "data": data}))
    })
    .await
}

/// `status/buildinfo`: Grafana reads the version to pick the features it uses.
async fn buildinfo() -> Response {
    Json(json!({
        "version": "3.0.0",
        "revision": env!("CARGO_PKG_VERSION"),
        "branch": "argus",
        "buildUser": "argus",
        "buildDate": "",
        "goVersion": "",
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_durations_read_as_loki_reads_them() {
        assert_eq!(
            parse_ts("t", "1700000000000000000").unwrap(),
            1_700_000_000 * SEC
        );
        assert_eq!(parse_ts("t", "1700000000").unwrap(), 1_700_000_000 * SEC);
        assert_eq!(
            parse_ts("t", "1700000000.5").unwrap(),
            1_700_000_000 * SEC + SEC / 2
        );
        assert_eq!(
            parse_ts("t", "2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000 * SEC
        );
        assert!(parse_ts("start", "yesterday")
            .unwrap_err()
            .0
            .contains("\"start\""));
        assert!(parse_ts("t", "1e400").is_err());
        assert_eq!(parse_dur("step", "15s").unwrap(), 15 * SEC);
        assert_eq!(parse_dur("step", "0.5").unwrap(), SEC / 2);
        assert!(parse_dur("step", "soon").is_err());
        assert_eq!(default_step(0, 3_600 * SEC), 15 * SEC);
        assert_eq!(default_step(0, 10 * SEC), SEC);
    }

    #[test]
    fn ranges_default_like_loki() {
        let p = Params(vec![("since".into(), "1h".into())]);
        assert_eq!(
            p.range(10_000 * SEC, 0).unwrap(),
            (6_400 * SEC + 1, 10_000 * SEC + 1)
        );
        let p = Params(vec![
            ("start".into(), "20".into()),
            ("end".into(), "10".into()),
        ]);
        assert!(p.range(0, 0).is_err());
        let p = Params(vec![("limit".into(), "x".into())]);
        assert!(p.limit().is_err());
    }
}
