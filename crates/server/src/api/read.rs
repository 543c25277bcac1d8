//! Read endpoints: series, labels, label values, and a raw `query` for bare
//! selectors (the PromQL engine replaces it later).

use super::params::{
    collect_params, format_value, opt_time, param, params_all, parse_selector, parse_time, success,
    ts_json, ApiError, MAX_TIME_MS, MIN_TIME_MS,
};
use super::AppState;
use argus_model::{is_stale_nan, Labels, Matcher};
use argus_tsdb::Querier;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde_json::{json, Map, Value};

/// Prometheus's default lookback for instant selectors.
const LOOKBACK_MS: i64 = 5 * 60_000;

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
    params_all(p, "match[]")
        .into_iter()
        .map(|s| parse_selector(s).map(|sel| sel.matchers))
        .collect()
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
    State(st): State<AppState>,
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
    State(st): State<AppState>,
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

/// `GET /api/v1/label/<name>/values`.
pub async fn label_values(
    State(st): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = collect_params(q.as_deref(), &[]);
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

/// `GET|POST /api/v1/query` for bare selectors: `up{job="x"}` gives an instant
/// vector (latest sample within the 5-minute lookback, stale series left out);
/// `up[5m]` gives a range vector.
pub async fn query(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = collect_params(q.as_deref(), &body);
    let expr = param(&p, "query")
        .ok_or_else(|| ApiError::bad_data("invalid parameter \"query\": query is empty"))?;
    let t = match param(&p, "time") {
        Some(s) if !s.is_empty() => parse_time("time", s)?,
        _ => st.clock.now_ms(),
    };
    let sel = parse_selector(expr).map_err(|e| {
        ApiError::bad_data(format!(
            "{}; this build answers bare series selectors only (with an optional [range])",
            e.message
        ))
    })?;
    match sel.range_ms {
        Some(r) => {
            // Range selectors are left-open: (t - r, t].
            let got = st.db.select(&sel.matchers, t - r + 1, t)?;
            let result: Vec<Value> = got
                .into_iter()
                .filter_map(|s| {
                    let values: Vec<Value> = s
                        .samples
                        .iter()
                        .filter(|x| !is_stale_nan(x.v))
                        .map(|x| json!([ts_json(x.t), format_value(x.v)]))
                        .collect();
                    (!values.is_empty())
                        .then(|| json!({"metric": labels_json(&s.labels), "values": values}))
                })
                .collect();
            Ok(success(json!({"resultType": "matrix", "result": result})))
        }
        None => {
            let got = st.db.select(&sel.matchers, t - LOOKBACK_MS + 1, t)?;
            let result: Vec<Value> = got
                .into_iter()
                .filter_map(|s| {
                    let last = s.samples.last()?;
                    if is_stale_nan(last.v) {
                        return None;
                    }
                    Some(json!({
                        "metric": labels_json(&s.labels),
                        "value": [ts_json(t), format_value(last.v)],
                    }))
                })
                .collect();
            Ok(success(json!({"resultType": "vector", "result": result})))
        }
    }
}
