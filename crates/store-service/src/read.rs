//! Metadata read endpoints: `/api/v1/series`, `/api/v1/labels` and
//! `/api/v1/label/<name>/values`, with `match[]` (any series selector,
//! `or` branches included), `start`, `end` and `limit`, by GET or form POST.
//!
//! ```text
//! GET /api/v1/label/job/values?match[]=up&start=1700000000&end=1700003600
//! → {"status":"success","data":["api","node"]}
//! ```

use crate::QueryState;
use argus_model::{Labels, Matcher};
use argus_tsdb::Querier;
use argus_web::params::{
    collect_params, match_sets, opt_time, param, success, ApiError, MAX_TIME_MS, MIN_TIME_MS,
};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde_json::{json, Map, Value};

fn labels_json(l: &Labels) -> Value {
    let mut m = Map::new();
    for lab in l.iter() {
        m.insert(lab.name.clone(), Value::String(lab.value.clone()));
    }
    Value::Object(m)
}

fn parse_limit(p: &[(String, String)]) -> Result<usize, ApiError> {
    match param(p, "limit") {
        None => Ok(0),
        Some(s) if s.is_empty() => Ok(0),
        Some(s) => s.parse::<usize>().map_err(|_| {
            ApiError::bad_data(format!("invalid parameter \"limit\": cannot parse {s:?}"))
        }),
    }
}

fn matcher_sets(p: &[(String, String)]) -> Result<Vec<Vec<Matcher>>, ApiError> {
    match_sets(p)
}

fn range(p: &[(String, String)]) -> Result<(i64, i64), ApiError> {
    let start = opt_time("start", param(p, "start"), MIN_TIME_MS)?;
    let end = opt_time("end", param(p, "end"), MAX_TIME_MS)?;
    if end < start {
        return Err(ApiError::bad_data(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    Ok((start, end))
}

fn with_limit<T>(mut v: Vec<T>, limit: usize) -> (Vec<T>, bool) {
    if limit > 0 && v.len() > limit {
        v.truncate(limit);
        return (v, true);
    }
    (v, false)
}

fn limited_success<T: serde::Serialize>(data: Vec<T>, truncated: bool, limit: usize) -> Response {
    if truncated {
        let body = json!({
            "status": "success",
            "data": data,
            "warnings": [format!("results truncated due to limit of {limit}")],
        });
        axum::response::IntoResponse::into_response(axum::Json(body))
    } else {
        success(data)
    }
}

/// `GET|POST /api/v1/series`.
pub async fn series(
    State(st): State<QueryState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = collect_params(q.as_deref(), &body);
    let sets = matcher_sets(&p)?;
    if sets.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let (start, end) = range(&p)?;
    let limit = parse_limit(&p)?;
    let mut all: Vec<Labels> = Vec::new();
    for m in &sets {
        all.extend(st.db.series(m, start, end)?);
    }
    all.sort();
    all.dedup();
    let (all, truncated) = with_limit(all, limit);
    let data: Vec<Value> = all.iter().map(labels_json).collect();
    Ok(limited_success(data, truncated, limit))
}

/// `GET|POST /api/v1/labels`.
pub async fn labels(
    State(st): State<QueryState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = collect_params(q.as_deref(), &body);
    let sets = matcher_sets(&p)?;
    let (start, end) = range(&p)?;
    let limit = parse_limit(&p)?;
    let mut names: Vec<String> = Vec::new();
    if sets.is_empty() {
        names = st.db.label_names(&[], start, end)?;
    } else {
        for m in &sets {
            names.extend(st.db.label_names(m, start, end)?);
        }
        names.sort();
        names.dedup();
    }
    let (names, truncated) = with_limit(names, limit);
    Ok(limited_success(names, truncated, limit))
}

/// `GET|POST /api/v1/label/<name>/values`.
pub async fn label_values(
    State(st): State<QueryState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = collect_params(q.as_deref(), &body);
    if !argus_model::is_valid_label_name(&name) && name != "__name__" {
        return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
    }
    let sets = matcher_sets(&p)?;
    let (start, end) = range(&p)?;
    let limit = parse_limit(&p)?;
    let mut vals: Vec<String> = Vec::new();
    if sets.is_empty() {
        vals = st.db.label_values(&name, &[], start, end)?;
    } else {
        for m in &sets {
            vals.extend(st.db.label_values(&name, m, start, end)?);
        }
        vals.sort();
        vals.dedup();
    }
    let (vals, truncated) = with_limit(vals, limit);
    Ok(limited_success(vals, truncated, limit))
}
