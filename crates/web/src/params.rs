//! Parameter parsing and response envelopes shared by the Prometheus-style API handlers.
//!
//! Times are RFC 3339 or Unix seconds (fractions allowed); durations are
//! Prometheus durations or float seconds; `match[]` selectors are parsed with
//! `promql-parser`. Errors use Prometheus's JSON envelope and error types.

use argus_model::Matcher;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The earliest time Prometheus's API accepts, in ms (its `minTime`).
pub const MIN_TIME_MS: i64 = -9_223_309_901_257_974;
/// The latest time, in ms (its `maxTime`).
pub const MAX_TIME_MS: i64 = 9_223_309_901_257_974;

/// Prometheus's error classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// Malformed request parameters (HTTP 400).
    BadData,
    /// Evaluation failed (HTTP 422).
    Execution,
    /// Internal problem (HTTP 500).
    Internal,
    /// The server cannot serve now (HTTP 503).
    Unavailable,
    /// Timed out (HTTP 503).
    Timeout,
    /// Canceled, e.g. the client went away (HTTP 503).
    Canceled,
    /// Unsupported media (HTTP 415).
    UnsupportedMediaType,
    /// Too large (HTTP 413).
    TooLarge,
}

impl ErrorType {
    fn as_str(self) -> &'static str {
        match self {
            ErrorType::BadData | ErrorType::UnsupportedMediaType | ErrorType::TooLarge => {
                "bad_data"
            }
            ErrorType::Execution => "execution",
            ErrorType::Internal => "internal",
            ErrorType::Unavailable => "unavailable",
            ErrorType::Timeout => "timeout",
            ErrorType::Canceled => "canceled",
        }
    }
    fn status(self) -> StatusCode {
        match self {
            ErrorType::BadData => StatusCode::BAD_REQUEST,
            ErrorType::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::Unavailable | ErrorType::Timeout | ErrorType::Canceled => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorType::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorType::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }
}

/// The `Retry-After` (seconds) of an `unavailable` answer: the server is busy
/// (every query slot taken, the queries' shared memory in use).
pub const RETRY_AFTER_UNAVAILABLE_S: &str = "5";

/// An API error rendered as `{"status":"error","errorType":..,"error":..}`.
#[derive(Debug)]
pub struct ApiError {
    /// The class.
    pub kind: ErrorType,
    /// The message.
    pub message: String,
}

impl ApiError {
    /// A `bad_data` error.
    pub fn bad_data(message: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorType::BadData,
            message: message.into(),
        }
    }
    /// An `internal` error.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorType::Internal,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "status": "error",
            "errorType": self.kind.as_str(),
            "error": self.message,
        });
        let mut r = (self.kind.status(), axum::Json(body)).into_response();
        if self.kind == ErrorType::Unavailable {
            // Busy now, not broken: tell clients when to come back.
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(RETRY_AFTER_UNAVAILABLE_S),
            );
        }
        r
    }
}

impl From<argus_tsdb::TsdbError> for ApiError {
    fn from(e: argus_tsdb::TsdbError) -> Self {
        match e {
            argus_tsdb::TsdbError::Limit(m) => ApiError {
                kind: ErrorType::Execution,
                message: m,
            },
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<argus_promql::PromqlError> for ApiError {
    /// Maps an engine error onto Prometheus's API error: parse and type errors
    /// are `bad_data` about the `query` parameter, as Prometheus words them.
    fn from(e: argus_promql::PromqlError) -> Self {
        use argus_promql::PromqlError as P;
        let kind = match &e {
            P::Parse(_) => ErrorType::BadData,
            P::Execution(_) | P::TooManySamples | P::TooMuchMemory { .. } => ErrorType::Execution,
            P::Timeout => ErrorType::Timeout,
            P::Canceled => ErrorType::Canceled,
            P::Busy { .. } => ErrorType::Unavailable,
            P::Storage(_) => ErrorType::Internal,
        };
        let message = match &e {
            P::Parse(m) => format!("invalid parameter \"query\": {m}"),
            other => other.to_string(),
        };
        ApiError { kind, message }
    }
}

/// A header's value when it is text.
pub fn header_str(h: &axum::http::HeaderMap, name: axum::http::header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// A plain-text answer, as the write endpoints give (Prometheus's remote
/// write and Loki's push answer errors as text).
pub fn plain(status: StatusCode, msg: String) -> Response {
    (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        msg,
    )
        .into_response()
}

/// A success envelope `{"status":"success","data":..}`.
pub fn success<T: Serialize>(data: T) -> Response {
    axum::Json(serde_json::json!({ "status": "success", "data": data })).into_response()
}

/// Parses a time parameter: Unix seconds (float) or RFC 3339. Returns ms.
pub fn parse_time(name: &str, s: &str) -> Result<i64, ApiError> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() {
            return Err(ApiError::bad_data(format!(
                "invalid parameter {name:?}: cannot parse {s:?} to a valid timestamp"
            )));
        }
        let ms = (f * 1000.0).round();
        return Ok(ms.clamp(MIN_TIME_MS as f64, MAX_TIME_MS as f64) as i64);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp_millis())
        .map_err(|_| {
            ApiError::bad_data(format!(
                "invalid parameter {name:?}: cannot parse {s:?} to a valid timestamp"
            ))
        })
}

/// Parses an optional time parameter with a default.
pub fn opt_time(name: &str, s: Option<&String>, default: i64) -> Result<i64, ApiError> {
    match s {
        None => Ok(default),
        Some(v) if v.is_empty() => Ok(default),
        Some(v) => parse_time(name, v),
    }
}

/// Parses a duration parameter: float seconds or a Prometheus duration. Returns ms.
/// Negative float seconds parse (as in Prometheus); callers check the sign.
pub fn parse_duration_param(name: &str, s: &str) -> Result<i64, ApiError> {
    if let Ok(f) = s.parse::<f64>() {
        let ms = f * 1000.0;
        if !ms.is_finite() || ms >= i64::MAX as f64 || ms <= i64::MIN as f64 {
            return Err(ApiError::bad_data(format!(
                "invalid parameter {name:?}: cannot parse {s:?} to a valid duration"
            )));
        }
        return Ok(ms.round() as i64);
    }
    argus_model::parse_duration(s).map_err(|_| {
        ApiError::bad_data(format!(
            "invalid parameter {name:?}: cannot parse {s:?} to a valid duration"
        ))
    })
}

pub use argus_promql::Selector;

/// Parses a series selector such as `up{job="node"}`, `{__name__=~"up|x"}`,
/// `{job="a" or job="b"}` or `rate_me{a=~"x.*"}[5m]`
/// ([`argus_promql::parse_selector`]). Like Prometheus, refuses selectors
/// whose every matcher matches the empty string. Errors are `bad_data`, named
/// after the `match[]` parameter.
pub fn parse_selector(s: &str) -> Result<Selector, ApiError> {
    argus_promql::parse_selector(s).map_err(|e| match e {
        argus_promql::SelectorError::Matcher(e) => ApiError::bad_data(e.to_string()),
        e => ApiError::bad_data(format!("invalid parameter \"match[]\": {e}")),
    })
}

/// All `match[]` parameters as matcher sets (a series matches if it matches any set).
pub fn match_sets(p: &[(String, String)]) -> Result<Vec<Vec<Matcher>>, ApiError> {
    let mut out = Vec::new();
    for s in params_all(p, "match[]") {
        out.extend(parse_selector(s)?.sets);
    }
    Ok(out)
}

/// Collects the query string and form body into (name, value) pairs, so GET and
/// form POST behave alike.
pub fn collect_params(query: Option<&str>, body: &[u8]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    if let Some(q) = query {
        out.extend(form_urlencoded_pairs(q.as_bytes()));
    }
    out.extend(form_urlencoded_pairs(body));
    out
}

fn form_urlencoded_pairs(b: &[u8]) -> Vec<(String, String)> {
    b.split(|c| *c == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut it = p.splitn(2, |c| *c == b'=');
            let k = it.next().unwrap_or_default();
            let v = it.next().unwrap_or_default();
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(b: &[u8]) -> String {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first value of parameter `name`.
pub fn param<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a String> {
    p.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// All values of parameter `name` (for `match[]`).
pub fn params_all<'a>(p: &'a [(String, String)], name: &str) -> Vec<&'a String> {
    p.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v)
        .collect()
}

/// Formats a float the way Prometheus's JSON does (`"NaN"`, `"+Inf"`, shortest round-trip form).
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        let s = format!("{v}");
        // Like Prometheus's jsonutil.MarshalValue: Go's exponent form below 1e-6 and from 1e21 on.
        if v != 0.0 && (v.abs() >= 1e21 || v.abs() < 1e-6) {
            let e = format!("{v:e}");
            // Go's form is 1e+21 / 1e-05.
            match e.split_once('e') {
                Some((m, x)) => {
                    let (sign, digits) = match x.strip_prefix('-') {
                        Some(d) => ("-", d),
                        None => ("+", x),
                    };
                    format!("{m}e{sign}{digits:0>2}")
                }
                None => e,
            }
        } else {
            s
        }
    }
}

/// Formats a ms timestamp as Prometheus's JSON number of seconds.
pub fn ts_json(ms: i64) -> serde_json::Value {
    if ms % 1000 == 0 {
        serde_json::json!(ms / 1000)
    } else {
        serde_json::json!(ms as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_query_is_a_503_with_retry_after_and_a_timeout_is_not() {
        let busy = ApiError::from(argus_promql::PromqlError::Busy {
            used: 10,
            limit: 10,
        });
        assert_eq!(busy.kind, ErrorType::Unavailable);
        let r = busy.into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[axum::http::header::RETRY_AFTER], "5");
        let r = ApiError::from(argus_promql::PromqlError::Timeout).into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers().get(axum::http::header::RETRY_AFTER).is_none());
    }

    #[test]
    fn times_and_durations() {
        assert_eq!(parse_time("t", "1.5").unwrap(), 1500);
        assert_eq!(
            parse_time("t", "2015-07-01T20:10:51.781Z").unwrap(),
            1435781451781
        );
        assert!(parse_time("t", "yesterday").is_err());
        assert!(parse_time("t", "NaN").is_err());
        assert_eq!(parse_duration_param("step", "15").unwrap(), 15000);
        assert_eq!(parse_duration_param("step", "1m").unwrap(), 60000);
        assert_eq!(parse_duration_param("step", "-1").unwrap(), -1000);
        assert_eq!(parse_duration_param("step", "0.001").unwrap(), 1);
        assert_eq!(parse_duration_param("step", "1h30m").unwrap(), 5_400_000);
        assert!(parse_duration_param("step", "1e300").is_err());
        assert!(parse_duration_param("step", "Inf").is_err());
        assert!(parse_duration_param("step", "").is_err());
        assert!(parse_duration_param("step", "5 minutes").is_err());
        assert_eq!(parse_time("t", "-1.5").unwrap(), -1500);
        assert_eq!(
            parse_time("t", "2015-07-01T20:10:51+02:00").unwrap(),
            1435774251000
        );
        assert!(parse_time("t", "").is_err());
    }

    #[test]
    fn selector_errors_name_the_parameter() {
        // Parsing itself is tested in argus_promql::selector; here, the
        // wrapper's answers: bad_data naming `match[]`.
        assert_eq!(parse_selector("up{job=\"a\"}").unwrap().sets.len(), 1);
        for bad in ["up{", "sum(up)", "up offset 5m", r#"{job=~".*"}"#] {
            let e = parse_selector(bad).unwrap_err();
            assert_eq!(e.kind, ErrorType::BadData, "{bad}");
            assert!(
                e.message.starts_with("invalid parameter \"match[]\""),
                "{bad}: {}",
                e.message
            );
        }
    }

    #[test]
    fn form_decoding() {
        let p = collect_params(Some("match%5B%5D=up&match[]=a%20b"), b"x=1+2");
        assert_eq!(params_all(&p, "match[]"), vec!["up", "a b"]);
        assert_eq!(param(&p, "x").unwrap(), "1 2");
        assert_eq!(percent_decode(b"%"), "%");
        assert_eq!(percent_decode(b"%4"), "%4");
    }

    #[test]
    fn values_like_go() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(0.5), "0.5");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(1e21), "1e+21");
        assert_eq!(format_value(1.5e-5), "0.000015");
        assert_eq!(format_value(1.5e-7), "1.5e-07");
    }
}
