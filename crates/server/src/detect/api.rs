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
//!
//! Answers use the Prometheus envelope (`{"status":"success","data":…}`).
//!
//! ```no_run
//! # fn f(shared: std::sync::Arc<argus_dynamic::engine::Shared>) {
//! let app: axum::Router = argus_server::detect::api::router(shared);
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

use argus_dynamic::engine::{SeriesState, Shared};
use argus_dynamic::trainer;

/// The routes, with their own state.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/models", get(models))
        .route("/api/v1/models/train", post(start_train))
        .route("/api/v1/models/train/{id}", get(job_status))
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
        Some(m) => match argus_dynamic::config::parse_selector(m) {
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
