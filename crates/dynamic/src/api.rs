//! The models API:
//!
//! - `GET /api/v1/models[?rule=NAME]`: one entry per (rule, series): `rule`,
//!   `labels`, `state` (`untrained`, `training` with `progress`, `trained`),
//!   `algorithm`, `version`, `scores`, `trained_at`, `training_window`,
//!   `points_seen`, `previous` (the other kept version, with its score and
//!   whether it was a rejected candidate) and `last_error`.
//!   `limit=N` keeps the first N entries (by rule, then labels); the
//!   `X-Argus-Total-Count` header gives the count before the limit.
//! - `POST /api/v1/models/train` with `{"rule": NAME, "match": SELECTOR?}`:
//!   trains every stored series of the rule (and the selector) by hand;
//!   answers 202 with `{"id": N}`.
//! - `GET /api/v1/models/train/{id}`: the job's progress.
//! - `GET /api/v1/models/band?rule=NAME&series=SELECTOR&start=&end=&step=`:
//!   the band of one watched series over its stored history, computed now
//!   from the active model (so history imported after the fact is banded
//!   too), as a Prometheus matrix of `argus_baseline_expected`,
//!   `argus_baseline_lower`, `argus_baseline_upper` and `argus_anomaly_level`
//!   on the step grid (each point takes the latest sample within 5 minutes).
//!   `series` must name the series' every label with `=`. A series without
//!   a trained model answers an empty matrix with a warning; an unknown rule
//!   or series answers 404.
//!
//! Answers use the Prometheus envelope (`{"status":"success","data":…}`).
//!
//! ```no_run
//! # fn f(shared: std::sync::Arc<argus_dynamic::engine::Shared>) {
//! let app: axum::Router = argus_dynamic::api::router(shared);
//! # }
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use argus_detect::train::TrainedModel;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::engine::{SeriesState, Shared};
use crate::trainer;

/// The routes, with their own state.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/models", get(models))
        .route("/api/v1/models/train", post(start_train))
        .route("/api/v1/models/train/{id}", get(job_status))
        .route("/api/v1/models/band", get(band))
        .with_state(shared)
}

fn error(status: StatusCode, kind: &str, msg: String) -> Response {
    (
        status,
        Json(json!({"status": "error", "errorType": kind, "error": msg})),
    )
        .into_response()
}

fn ok(status: StatusCode, data: Value) -> Response {
    (status, Json(json!({"status": "success", "data": data}))).into_response()
}

fn rfc3339(ms: i64) -> Value {
    argus_model::time::format_rfc3339_ms(ms, argus_model::time::Fraction::Millis)
        .map_or(Value::Null, Value::String)
}

fn model_json(m: &TrainedModel) -> Value {
    json!({
        "algorithm": m.algorithm.as_str(),
        "version": m.version,
        "scores": m.score,
        "trained_at": rfc3339(m.trained_at_ms),
        "training_window": {"start": rfc3339(m.window.0), "end": rfc3339(m.window.1)},
        "points": m.points,
        "flagged": m.flagged,
        "period_ms": m.period.ms,
    })
}

fn series_json(rule: &str, labels: &argus_model::Labels, st: &SeriesState) -> Value {
    let lm: BTreeMap<&str, &str> = labels
        .iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect();
    let mut v = json!({
        "rule": rule,
        "labels": lm,
        "points_seen": st.det.state().seen,
        "last_error": st.last_error,
    });
    let state = if let Some(p) = &st.training {
        let (stage, done, total) = p.get();
        v["progress"] = json!({"stage": stage, "done": done, "total": total});
        "training"
    } else if st.det.model().is_some() {
        "trained"
    } else {
        "untrained"
    };
    v["state"] = json!(state);
    match st.det.model() {
        Some(m) => {
            if let (Value::Object(dst), Value::Object(src)) = (&mut v, model_json(m)) {
                dst.extend(src);
            }
        }
        None => {
            v["algorithm"] = json!("cold_start");
            v["version"] = json!(0);
        }
    }
    if let Some(o) = &st.other {
        let mut p = model_json(o);
        p["rejected_candidate"] = json!(st.other_rejected);
        v["previous"] = p;
    }
    v
}

#[derive(Deserialize)]
struct ModelsQuery {
    rule: Option<String>,
    limit: Option<usize>,
}

async fn models(State(sh): State<Arc<Shared>>, Query(q): Query<ModelsQuery>) -> Response {
    let all = sh.series.lock();
    let limit = q.limit.unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let mut total = 0usize;
    let rules = sh.rules();
    for (rule, map) in rules.iter().zip(all.iter()) {
        if q.rule.as_ref().is_some_and(|n| *n != rule.name) {
            continue;
        }
        total += map.len();
        if out.len() >= limit {
            continue;
        }
        let mut entries: Vec<_> = map.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        let room = limit - out.len();
        out.extend(
            entries
                .into_iter()
                .take(room)
                .map(|(l, st)| series_json(&rule.name, l, st)),
        );
    }
    drop(all);
    let mut resp = ok(StatusCode::OK, Value::Array(out));
    resp.headers_mut()
        .insert("x-argus-total-count", axum::http::HeaderValue::from(total));
    resp
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainBody {
    rule: String,
    #[serde(rename = "match")]
    matcher: Option<String>,
}

async fn start_train(State(sh): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let b: TrainBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_data",
                format!("invalid body: {e} (expected {{\"rule\": NAME, \"match\": SELECTOR}})"),
            )
        }
    };
    if sh.rule_named(&b.rule).is_none() {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no dynamic rule named {:?}", b.rule),
        );
    }
    let extra = match &b.matcher {
        None => Vec::new(),
        Some(m) => match crate::config::parse_selector(m) {
            Ok(s) => s,
            Err(e) => {
                return error(StatusCode::BAD_REQUEST, "bad_data", format!("match: {e}"));
            }
        },
    };
    let job = trainer::start_job(&sh, &b.rule, extra, b.matcher);
    ok(StatusCode::ACCEPTED, json!({"id": job.id()}))
}

async fn job_status(State(sh): State<Arc<Shared>>, Path(id): Path<u64>) -> Response {
    let job = sh.jobs.lock().get(&id).cloned();
    match job {
        Some(j) => ok(
            StatusCode::OK,
            serde_json::to_value(j.snapshot()).unwrap_or(Value::Null),
        ),
        None => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no training job {id}"),
        ),
    }
}

#[derive(Deserialize)]
struct BandQuery {
    rule: String,
    series: String,
    start: String,
    end: String,
    step: String,
}

/// Seconds (or RFC 3339) as in the query API, to ms.
fn time_ms(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        return f.is_finite().then(|| (f * 1000.0).round() as i64);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// A step: seconds, or a Prometheus duration.
fn step_ms(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        return (f.is_finite() && f > 0.0).then(|| (f * 1000.0).round() as i64);
    }
    s.parse::<argus_model::PromDuration>()
        .ok()
        .map(|d| d.as_millis())
        .filter(|ms| *ms > 0)
}

/// Lookback of a grid point, as PromQL's.
const LOOKBACK_MS: i64 = 5 * 60_000;
/// The most grid points one answer holds, as the query API's.
const MAX_GRID: i64 = 11_000;

async fn band(State(sh): State<Arc<Shared>>, Query(q): Query<BandQuery>) -> Response {
    let bad = |m: String| error(StatusCode::BAD_REQUEST, "bad_data", m);
    let (Some(start), Some(end), Some(step)) =
        (time_ms(&q.start), time_ms(&q.end), step_ms(&q.step))
    else {
        return bad(
            "start, end (seconds or RFC 3339) and step (seconds or a duration) are required".into(),
        );
    };
    if end < start || (end - start) / step > MAX_GRID {
        return bad(format!(
            "the range must end after it starts and hold at most {MAX_GRID} steps"
        ));
    }
    let matchers = match crate::config::parse_selector(&q.series) {
        Ok(mut sets) if sets.len() == 1 => sets.remove(0),
        Ok(_) => return bad("series: one selector, not several".into()),
        Err(e) => return bad(format!("series: {e}")),
    };
    let mut labels = argus_model::Labels::default();
    for m in &matchers {
        if m.op != argus_model::MatchOp::Eq {
            return bad("series: name every label with = (one series)".into());
        }
        labels.set(&m.name, &m.value);
    }
    let (rule, shared) = (q.rule.clone(), sh.clone());
    let res = tokio::task::spawn_blocking(move || {
        crate::band::history_band(
            &shared,
            &rule,
            &labels,
            start - LOOKBACK_MS,
            end,
            usize::MAX,
        )
    })
    .await;
    let points = match res {
        Ok(Ok(Some(p))) => p,
        Ok(Ok(None)) => {
            return (
                StatusCode::OK,
                Json(json!({"status": "success",
                    "data": {"resultType": "matrix", "result": []},
                    "warnings": [format!("the series has no trained model under the rule {:?} yet", q.rule)]})),
            )
                .into_response()
        }
        Ok(Err(e)) => return error(StatusCode::NOT_FOUND, "not_found", e.to_string()),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    };
    // Each grid point takes the latest sample within the lookback.
    let names = [
        "argus_baseline_expected",
        "argus_baseline_lower",
        "argus_baseline_upper",
        "argus_anomaly_level",
    ];
    let mut cols: [Vec<Value>; 4] = Default::default();
    let mut k = 0;
    let mut t = start;
    while t <= end {
        while k + 1 < points.len() && points[k + 1].t <= t {
            k += 1;
        }
        if let Some(p) = points.get(k).filter(|p| p.t <= t && t - p.t <= LOOKBACK_MS) {
            let secs = json!(t as f64 / 1000.0);
            for (c, v) in cols
                .iter_mut()
                .zip([p.expected, p.lower, p.upper, f64::from(p.level)])
            {
                if v.is_finite() {
                    c.push(json!([secs, v.to_string()]));
                }
            }
        }
        t += step;
    }
    let mut base: BTreeMap<String, String> = matchers
        .iter()
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect();
    let metric = base.remove("__name__").unwrap_or_default();
    base.insert("metric".into(), metric);
    base.insert("rule".into(), q.rule.clone());
    let result: Vec<Value> = names
        .iter()
        .zip(cols)
        .map(|(n, values)| {
            let mut m = base.clone();
            m.insert("__name__".into(), (*n).to_string());
            json!({"metric": m, "values": values})
        })
        .collect();
    ok(
        StatusCode::OK,
        json!({"resultType": "matrix", "result": result}),
    )
}
