//! PromQL endpoints: `/api/v1/query`, `/api/v1/query_range`,
//! `/api/v1/format_query` and `/api/v1/query_exemplars`, with Prometheus's
//! parameter checks, messages and JSON shapes.
//!
//! ```text
//! GET  /api/v1/query?query=up&time=1700000000&timeout=10s
//! POST /api/v1/query_range   query=sum(rate(x[5m]))by(job)&start=..&end=..&step=15
//! → {"status":"success","data":{"resultType":"matrix","result":[{"metric":{..},"values":[[1700000000,"1"]]}]}}
//! ```

use crate::exec::QueryJob;
use crate::QueryState;
use argus_promql::QueryResult;
use argus_web::params::{
    collect_params, opt_time, param, parse_duration_param, parse_time, success, ApiError,
    MAX_TIME_MS, MIN_TIME_MS,
};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::Value as Json;
use std::time::Duration;

/// Prometheus's limit on points per series in a range query.
pub const MAX_POINTS: i64 = 11_000;

/// The parameters shared by both query endpoints.
fn common_params(p: &[(String, String)]) -> Result<(Option<Duration>, Option<i64>), ApiError> {
    let timeout = match param(p, "timeout") {
        Some(s) if !s.is_empty() => {
            let ms = parse_duration_param("timeout", s)?;
            Some(Duration::from_millis(ms.max(0) as u64))
        }
        _ => None,
    };
    let lookback = match param(p, "lookback_delta") {
        Some(s) if !s.is_empty() => {
            let ms = parse_duration_param("lookback_delta", s)?;
            if ms <= 0 {
                return Err(ApiError::bad_data(
                    "invalid parameter \"lookback_delta\": must be positive",
                ));
            }
            Some(ms)
        }
        _ => None,
    };
    Ok((timeout, lookback))
}

/// Parses an instant query's parameters; `now_ms` is the default `time`.
pub fn instant_job(p: &[(String, String)], now_ms: i64) -> Result<QueryJob, ApiError> {
    let t = opt_time("time", param(p, "time"), now_ms)?;
    let (timeout, lookback_ms) = common_params(p)?;
    let expr = param(p, "query").cloned().unwrap_or_default();
    Ok(QueryJob {
        expr,
        start_ms: t,
        end_ms: t,
        step_ms: 0,
        timeout,
        lookback_ms,
    })
}

/// Parses a range query's parameters, with Prometheus's checks in its order.
pub fn range_job(p: &[(String, String)]) -> Result<QueryJob, ApiError> {
    let get = |n: &str| param(p, n).map(String::as_str).unwrap_or("");
    let start = parse_time("start", get("start"))?;
    let end = parse_time("end", get("end"))?;
    if end < start {
        return Err(ApiError::bad_data(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    let step = parse_duration_param("step", get("step"))?;
    if step <= 0 {
        return Err(ApiError::bad_data(
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    // For safety, limit the number of returned points per time series.
    if (end - start) / step > MAX_POINTS {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let (timeout, lookback_ms) = common_params(p)?;
    Ok(QueryJob {
        expr: get("query").to_string(),
        start_ms: start,
        end_ms: end,
        step_ms: step,
        timeout,
        lookback_ms,
    })
}

/// The success envelope with `warnings`/`infos` when there are any, written
/// straight into one buffer (see [`crate::json_out`]).
fn query_response(r: &QueryResult) -> Response {
    use crate::json_out::{estimate_len, write_data, write_str};
    let mut out = String::with_capacity(estimate_len(&r.value) + 64);
    out.push_str("{\"status\":\"success\",\"data\":");
    write_data(&mut out, &r.value);
    for (key, list) in [
        ("warnings", &r.annotations.warnings),
        ("infos", &r.annotations.infos),
    ] {
        if list.is_empty() {
            continue;
        }
        out.push_str(",\"");
        out.push_str(key);
        out.push_str("\":[");
        for (i, w) in list.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_str(&mut out, w);
        }
        out.push(']');
    }
    out.push('}');
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        out,
    )
        .into_response()
}

/// `GET|POST /api/v1/query`: `query`, `time` (default now), `timeout`, `lookback_delta`.
pub async fn query(
    State(st): State<QueryState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = collect_params(q.as_deref(), &body);
    let job = instant_job(&p, st.clock.now_ms())?;
    let r = st.query.run(job).await?;
    Ok(query_response(&r))
}

/// `GET|POST /api/v1/query_range`: `query`, `start`, `end`, `step` (all
/// required), `timeout`, `lookback_delta`.
pub async fn query_range(
    State(st): State<QueryState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = collect_params(q.as_deref(), &body);
    let job = range_job(&p)?;
    let r = st.query.run(job).await?;
    Ok(query_response(&r))
}

/// Parses the `query` parameter within the configured limits, on a blocking
/// thread (parsing a long query is real work) with a stack that fits it.
async fn with_parsed<T: Send + 'static>(
    st: &QueryState,
    p: &[(String, String)],
    then: impl FnOnce(&promql_parser::parser::Expr) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let q = param(p, "query").cloned().unwrap_or_default();
    let limits = st.query.options().parse;
    tokio::task::spawn_blocking(move || {
        argus_promql::parse(&q, &limits)
            .map(|e| {
                argus_promql::with_stack(|| {
                    let out = then(&e);
                    drop(e);
                    out
                })
            })
            .map_err(|e| ApiError::bad_data(format!("invalid parameter \"query\": {e}")))
    })
    .await
    .map_err(|e| ApiError::internal(format!("parsing the query failed: {e}")))?
}

/// `GET|POST /api/v1/format_query`: the query pretty-printed.
pub async fn format_query(
    State(st): State<QueryState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = collect_params(q.as_deref(), &body);
    let text = with_parsed(&st, &p, |e| e.prettify()).await?;
    Ok(success(text))
}

/// `GET|POST /api/v1/query_exemplars`: validates like Prometheus, answers `[]`
/// (Argus stores no exemplars).
pub async fn query_exemplars(
    State(st): State<QueryState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = collect_params(q.as_deref(), &body);
    let start = opt_time("start", param(&p, "start"), MIN_TIME_MS)?;
    let end = opt_time("end", param(&p, "end"), MAX_TIME_MS)?;
    if end < start {
        return Err(ApiError::bad_data(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    with_parsed(&st, &p, |_| ()).await?;
    Ok(success(Vec::<Json>::new()))
}

#[cfg(test)]
mod tests {
    use argus_model::Labels;
    use argus_promql::Value;
    use argus_web::params::{format_value, ts_json};
    use serde_json::{json, Map};

    fn labels_json(l: &Labels) -> Json {
        let mut m = Map::new();
        for lab in l.iter() {
            m.insert(lab.name.clone(), Json::String(lab.value.clone()));
        }
        Json::Object(m)
    }

    /// Renders a result's `data` object in Prometheus's shape as a JSON tree: the
    /// reference the fast writer in `json_out` is tested against.
    fn result_json(v: &Value) -> Json {
        let result = match v {
            Value::Scalar { t, v } => json!([ts_json(*t), format_value(*v)]),
            Value::String { t, s } => json!([ts_json(*t), s]),
            Value::Vector(samples) => Json::Array(
                samples
                    .iter()
                    .map(|s| {
                        json!({
                            "metric": labels_json(&s.labels),
                            "value": [ts_json(s.t), format_value(s.v)],
                        })
                    })
                    .collect(),
            ),
            Value::Matrix(series) => Json::Array(
                series
                    .iter()
                    .filter(|s| !s.samples.is_empty())
                    .map(|s| {
                        let values: Vec<Json> = s
                            .samples
                            .iter()
                            .map(|x| json!([ts_json(x.t), format_value(x.v)]))
                            .collect();
                        json!({"metric": labels_json(&s.labels), "values": values})
                    })
                    .collect(),
            ),
        };
        json!({"resultType": v.type_name(), "result": result})
    }

    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn err(r: Result<QueryJob, ApiError>) -> String {
        r.unwrap_err().message
    }

    #[test]
    fn range_params_like_prometheus() {
        let j = range_job(&p(&[
            ("query", "up"),
            ("start", "1435781400.5"),
            ("end", "2015-07-01T20:10:51.781Z"),
            ("step", "15"),
        ]))
        .unwrap();
        assert_eq!(
            (j.start_ms, j.end_ms, j.step_ms),
            (1435781400500, 1435781451781, 15_000)
        );
        let j = range_job(&p(&[("start", "0"), ("end", "60"), ("step", "1m30s")])).unwrap();
        assert_eq!(j.step_ms, 90_000);
        let j = range_job(&p(&[("start", "0"), ("end", "1"), ("step", "0.5")])).unwrap();
        assert_eq!(j.step_ms, 500);

        assert!(err(range_job(&p(&[("end", "1"), ("step", "1")]))).contains("\"start\""));
        assert!(err(range_job(&p(&[("start", "1"), ("step", "1")]))).contains("\"end\""));
        let e = err(range_job(&p(&[("start", "0"), ("end", "1")])));
        assert!(e.starts_with("invalid parameter \"step\""), "{e}");
        let e = err(range_job(&p(&[
            ("start", "10"),
            ("end", "1"),
            ("step", "1"),
        ])));
        assert!(
            e.contains("end timestamp must not be before start time"),
            "{e}"
        );
        for s in ["0", "-5", "0s"] {
            let e = err(range_job(&p(&[("start", "0"), ("end", "1"), ("step", s)])));
            assert!(
                e.contains("zero or negative query resolution step"),
                "{s}: {e}"
            );
        }
        let e = err(range_job(&p(&[
            ("start", "0"),
            ("end", "11001"),
            ("step", "1"),
        ])));
        assert!(
            e.starts_with("exceeded maximum resolution of 11,000 points"),
            "{e}"
        );
        // Exactly 11,000 intervals (11,001 points) is still allowed, as in Prometheus.
        assert!(range_job(&p(&[("start", "0"), ("end", "11000"), ("step", "1")])).is_ok());
        let e = err(range_job(&p(&[
            ("start", "0"),
            ("end", "1"),
            ("step", "1"),
            ("timeout", "x"),
        ])));
        assert!(e.starts_with("invalid parameter \"timeout\""), "{e}");
    }

    #[test]
    fn instant_params() {
        let j = instant_job(&p(&[("query", "up")]), 42_000).unwrap();
        assert_eq!((j.start_ms, j.end_ms, j.step_ms), (42_000, 42_000, 0));
        assert_eq!(j.timeout, None);
        let j = instant_job(
            &p(&[("query", "up"), ("time", ""), ("timeout", "250ms")]),
            7,
        )
        .unwrap();
        assert_eq!(j.start_ms, 7);
        assert_eq!(j.timeout, Some(Duration::from_millis(250)));
        let j = instant_job(&p(&[("time", "1.5"), ("lookback_delta", "1m")]), 0).unwrap();
        assert_eq!((j.start_ms, j.lookback_ms), (1500, Some(60_000)));
        assert!(err(instant_job(&p(&[("time", "soon")]), 0)).contains("\"time\""));
        assert!(instant_job(&p(&[("lookback_delta", "0")]), 0).is_err());
    }

    fn fast(v: &Value) -> Json {
        let mut s = String::new();
        crate::json_out::write_data(&mut s, v);
        serde_json::from_str(&s).unwrap()
    }

    #[test]
    fn result_shapes() {
        let v = Value::Scalar { t: 1500, v: 2.0 };
        assert_eq!(
            result_json(&v),
            json!({"resultType": "scalar", "result": [1.5, "2"]})
        );
        let v = Value::String {
            t: 1000,
            s: "hi".into(),
        };
        assert_eq!(
            result_json(&v),
            json!({"resultType": "string", "result": [1, "hi"]})
        );
        let l = Labels::from_pairs(&[("__name__", "up"), ("job", "a")]);
        let v = Value::Vector(vec![argus_promql::VectorSample {
            labels: l.clone(),
            t: 2000,
            v: f64::INFINITY,
        }]);
        assert_eq!(
            result_json(&v),
            json!({"resultType": "vector", "result": [
                {"metric": {"__name__": "up", "job": "a"}, "value": [2, "+Inf"]}
            ]})
        );
        let v = Value::Matrix(vec![
            argus_promql::Series {
                labels: l,
                samples: vec![
                    argus_model::Sample::new(0, 1.0),
                    argus_model::Sample::new(15_000, 0.25),
                ],
            },
            argus_promql::Series {
                labels: Labels::empty(),
                samples: vec![],
            },
        ]);
        assert_eq!(fast(&v), result_json(&v));
        assert_eq!(
            result_json(&v),
            json!({"resultType": "matrix", "result": [
                {"metric": {"__name__": "up", "job": "a"}, "values": [[0, "1"], [15, "0.25"]]}
            ]})
        );
    }
}
