//! Alertmanager API v2 (the subset `amtool`, Grafana and Prometheus use), with Alertmanager
//! 0.25's JSON shapes, status codes and error bodies (a JSON string), plus Argus's extensions:
//!
//! | endpoint | what |
//! |---|---|
//! | `GET /api/v2/alerts` | `filter` (repeatable matcher), `receiver` (regex), `silenced`, `inhibited`, `active`, `unprocessed` (default true) |
//! | `POST /api/v2/alerts` | a list of `postableAlert`; good alerts are kept, bad ones answer 400 with the reasons |
//! | `GET /api/v2/alerts/groups` | aggregation groups, same filters |
//! | `GET /api/v2/silences` | `filter`; sorted as Alertmanager sorts them |
//! | `POST /api/v2/silences` | create, or update when `id` is set; `{"silenceID": ..}` |
//! | `GET`/`DELETE /api/v2/silence/{id}` | one silence; expire it |
//! | `GET /api/v2/status` | cluster disabled, version, `config.original`, uptime |
//! | `GET /api/v2/receivers` | `[{"name": ..}]` |
//! | `POST /api/v2/alerts/{fingerprint}/ack` | Argus: acknowledges one alert and stops its escalation; actor from the `X-Argus-User` header or `{"who": .., "comment": ..}` |
//! | `POST /api/v2/alerts/{fingerprint}/unack`, `…/resolve` | Argus: withdraws the acknowledgement (escalation resumes); marks the alert resolved now |
//! | `GET`/`POST /api/argus/v1/link/{ack,resolve,silence}` | Argus: signed one-click links; `GET` shows a confirmation page, `POST` acts (403 when bad or expired) |
//! | `GET /api/argus/v1/alert-history` | Argus: history with `type` (`alerts`, `notifications`, `actions`; default all), `filter` (repeatable matcher on the record's labels), `start`/`end` (or `from`/`to`; RFC 3339 or Unix seconds), `limit` (default 1000), `kind`, `target`, `who` |

use crate::json::{
    gettable_alert, gettable_silence, silence_matches_filter, sort_silences, valid_label_name,
    AlertFilter, PostableSilence,
};
use crate::{AlertingError, Inner};
use argus_alert::alert::parse_rfc3339;
use argus_alert::silence::{Silence, SilenceError};
use argus_alert::{DispatchError, HistoryQuery, PostableAlert};
use argus_model::Matcher;
use argus_web::params::{collect_params, param, params_all, parse_time, success, ApiError};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

type St = State<Arc<Inner>>;

/// Builds the router over the service's shared state.
pub(crate) fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route("/api/v2/alerts", get(get_alerts).post(post_alerts))
        .route("/api/v2/alerts/groups", get(get_groups))
        .route(
            "/api/v2/alerts/{fingerprint}/{action}",
            post(crate::links::post_alert_action),
        )
        .route(
            "/api/argus/v1/link/{action}",
            get(crate::links::get_link).post(crate::links::post_link),
        )
        .route("/api/v2/silences", get(get_silences).post(post_silences))
        .route("/api/v2/silence/{id}", get(get_silence))
        .route("/api/v2/silence/{id}", delete(delete_silence))
        .route("/api/v2/status", get(get_status))
        .route("/api/v2/receivers", get(get_receivers))
        .route("/api/argus/v1/alert-history", get(get_history))
        .with_state(inner)
}

/// An Alertmanager-style error: the status and a JSON string body.
fn am_error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(Value::String(msg.into()))).into_response()
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "An alerting API call failed.");
    am_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// Seconds a client is asked to wait when the alert store cannot save a change.
pub(crate) const RETRY_AFTER_S: u64 = 5;

/// The answer for a change the dispatcher refused: 503 with `Retry-After` when the store is
/// failing (the change was not made, and trying again later will work), 500 otherwise.
pub(crate) fn dispatch_failed(e: DispatchError) -> Response {
    if e.is_retryable() {
        tracing::warn!(error = %e, "Refused a change the alert store cannot save now.");
        let mut r = am_error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
        r.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(RETRY_AFTER_S),
        );
        return r;
    }
    internal(e)
}

impl IntoResponse for AlertingError {
    fn into_response(self) -> Response {
        internal(self)
    }
}

/// A 400 answer with Alertmanager's JSON string body.
struct BadRequest(String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        am_error(StatusCode::BAD_REQUEST, self.0)
    }
}

fn bool_param(p: &[(String, String)], name: &str) -> Result<bool, BadRequest> {
    match param(p, name).map(String::as_str) {
        None | Some("") => Ok(true),
        Some(v) => v
            .parse::<bool>()
            .map_err(|_| BadRequest(format!("{name} in query must be of type boolean: {v:?}"))),
    }
}

fn filter_matchers(p: &[(String, String)]) -> Result<Vec<Matcher>, BadRequest> {
    let mut out = Vec::new();
    for f in params_all(p, "filter") {
        let ms = argus_alert::config::parse_matchers(f).map_err(BadRequest)?;
        out.extend(ms);
    }
    Ok(out)
}

fn alert_filter(q: Option<&str>) -> Result<AlertFilter, BadRequest> {
    let p = collect_params(q, &[]);
    let receiver = match param(&p, "receiver").filter(|r| !r.is_empty()) {
        None => None,
        Some(r) => Some(
            regex::Regex::new(&format!("^(?:{r})$"))
                .map_err(|e| BadRequest(format!("failed to parse receiver param: {e}")))?,
        ),
    };
    Ok(AlertFilter {
        matchers: filter_matchers(&p)?,
        receiver,
        silenced: bool_param(&p, "silenced")?,
        inhibited: bool_param(&p, "inhibited")?,
        active: {
            // Argus processes alerts on receipt, so `unprocessed` selects nothing; it is still
            // validated like Alertmanager does.
            bool_param(&p, "unprocessed")?;
            bool_param(&p, "active")?
        },
    })
}

async fn get_alerts(State(st): St, RawQuery(q): RawQuery) -> Response {
    let f = match alert_filter(q.as_deref()) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let now = st.clock.now_ms();
    let alerts = match st.run(|d| d.alerts()).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let out: Vec<Value> = alerts
        .iter()
        .filter(|a| f.keeps(a, now))
        .filter(|a| f.receiver.is_none() || a.receivers.iter().any(|r| f.keeps_receiver(r)))
        .map(gettable_alert)
        .collect();
    Json(out).into_response()
}

/// Most alerts one `POST /api/v2/alerts` may carry. Prometheus sends at
/// most `max_batch_size` (default 1,000) per request; more is a runaway
/// sender, refused whole before anything reaches the pipeline.
pub(crate) const MAX_ALERTS_PER_POST: usize = 10_000;

/// Longest label value of a posted alert, in bytes: the store's
/// default label value limit (`limits.max_label_value_length`).
fn max_alert_value_bytes() -> usize {
    argus_tsdb::LabelLimits::default().max_value_bytes
}

/// The posted labels for an error message, cut to a readable length.
fn labels_text(labels: &impl std::fmt::Debug) -> String {
    let mut s = format!("{labels:?}");
    if s.len() > 256 {
        let mut cut = 256;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

async fn post_alerts(State(st): St, body: Bytes) -> Response {
    let posted: Vec<PostableAlert> = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return am_error(
                StatusCode::BAD_REQUEST,
                format!("invalid postable alerts: {e}"),
            )
        }
    };
    if posted.len() > MAX_ALERTS_PER_POST {
        return am_error(
            StatusCode::BAD_REQUEST,
            format!(
                "too many alerts in one request: {} posted, at most {MAX_ALERTS_PER_POST} are accepted per POST; send them in smaller batches",
                posted.len()
            ),
        );
    }
    let now = st.clock.now_ms();
    let max_value = max_alert_value_bytes();
    let res = st
        .run(move |d| {
            let timeout = d.config().global.resolve_timeout().as_millis();
            let mut good = Vec::new();
            let mut errs = Vec::new();
            for p in posted {
                if let Some(n) = p.labels.keys().find(|n| !valid_label_name(n)) {
                    errs.push(format!("invalid label name {n:?}"));
                    continue;
                }
                if let Some(n) = p.annotations.keys().find(|n| !valid_label_name(n)) {
                    errs.push(format!("invalid annotation name {n:?}"));
                    continue;
                }
                if let Some((n, v)) = p.labels.iter().find(|(_, v)| v.len() > max_value) {
                    errs.push(format!(
                        "the value of label {} is {} bytes long, more than the limit of {max_value} bytes: {}",
                        labels_text(n),
                        v.len(),
                        labels_text(&p.labels)
                    ));
                    continue;
                }
                let labels = labels_text(&p.labels);
                match p.into_alert(now, timeout) {
                    Ok(a) => good.push(a),
                    Err(e) => errs.push(format!("{e}: {labels}")),
                }
            }
            d.put_alerts(good).map(|()| errs)
        })
        .await;
    match res {
        Ok(Ok(errs)) => {
            st.handle.wake();
            if errs.is_empty() {
                StatusCode::OK.into_response()
            } else {
                am_error(StatusCode::BAD_REQUEST, errs.join("; "))
            }
        }
        Ok(Err(e)) => dispatch_failed(e),
        Err(e) => e.into_response(),
    }
}

async fn get_groups(State(st): St, RawQuery(q): RawQuery) -> Response {
    let f = match alert_filter(q.as_deref()) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let now = st.clock.now_ms();
    let (groups, alerts) = match st.run(|d| (d.groups(), d.alerts())).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let by_fp: BTreeMap<u64, _> = alerts.iter().map(|a| (a.fingerprint, a)).collect();
    let mut out: Vec<(String, Value)> = groups
        .iter()
        .filter(|g| f.keeps_receiver(&g.receiver))
        .filter_map(|g| {
            let alerts: Vec<Value> = g
                .alerts
                .iter()
                .filter_map(|fp| by_fp.get(fp))
                .filter(|a| f.keeps(a, now))
                .map(|a| gettable_alert(a))
                .collect();
            if alerts.is_empty() {
                return None;
            }
            let labels: BTreeMap<&str, &str> = g
                .labels
                .iter()
                .map(|l| (l.name.as_str(), l.value.as_str()))
                .collect();
            let key = format!("{labels:?}{}", g.receiver);
            Some((
                key,
                json!({"labels": labels, "receiver": {"name": g.receiver}, "alerts": alerts}),
            ))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Json(out.into_iter().map(|(_, v)| v).collect::<Vec<_>>()).into_response()
}

async fn get_silences(State(st): St, RawQuery(q): RawQuery) -> Response {
    let p = collect_params(q.as_deref(), &[]);
    let filter = match filter_matchers(&p) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let now = st.clock.now_ms();
    let mut sils: Vec<Silence> = match st
        .run(move |d| {
            d.silences()
                .iter()
                .filter(|s| silence_matches_filter(s, &filter))
                .cloned()
                .collect()
        })
        .await
    {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    sort_silences(&mut sils, now);
    Json(
        sils.iter()
            .map(|s| gettable_silence(s, now))
            .collect::<Vec<_>>(),
    )
    .into_response()
}

async fn post_silences(State(st): St, body: Bytes) -> Response {
    let p: PostableSilence = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return am_error(StatusCode::BAD_REQUEST, format!("invalid silence: {e}")),
    };
    let (starts, ends) = match (parse_rfc3339(&p.starts_at), parse_rfc3339(&p.ends_at)) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return am_error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    if starts >= ends {
        return am_error(
            StatusCode::BAD_REQUEST,
            "Failed to create silence: start time must be before end time",
        );
    }
    if ends < st.clock.now_ms() {
        return am_error(
            StatusCode::BAD_REQUEST,
            "Failed to create silence: end time can't be in the past",
        );
    }
    let mut s = Silence::new(p.matchers, starts, ends, &p.created_by, &p.comment);
    s.id = p.id.unwrap_or_default();
    match st.run(move |d| d.set_silence(s)).await {
        Ok(Ok(id)) => {
            st.handle.wake();
            Json(json!({ "silenceID": id })).into_response()
        }
        Ok(Err(DispatchError::Silence(e @ SilenceError::NotFound(_)))) => {
            am_error(StatusCode::NOT_FOUND, e.to_string())
        }
        Ok(Err(DispatchError::Silence(e))) => am_error(StatusCode::BAD_REQUEST, e.to_string()),
        Ok(Err(e)) => dispatch_failed(e),
        Err(e) => e.into_response(),
    }
}

async fn get_silence(State(st): St, Path(id): Path<String>) -> Response {
    let now = st.clock.now_ms();
    match st.run(move |d| d.silences().get(&id).cloned()).await {
        Ok(Some(s)) => Json(gettable_silence(&s, now)).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn delete_silence(State(st): St, Path(id): Path<String>) -> Response {
    match st.run(move |d| d.expire_silence(&id, "api")).await {
        Ok(Ok(())) => {
            st.handle.wake();
            StatusCode::OK.into_response()
        }
        Ok(Err(DispatchError::Silence(SilenceError::NotFound(_)))) => {
            StatusCode::NOT_FOUND.into_response()
        }
        Ok(Err(e)) if e.is_retryable() => dispatch_failed(e),
        // Alertmanager answers 500 for an already expired silence; so do we.
        Ok(Err(e)) => am_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => e.into_response(),
    }
}

async fn get_status(State(st): St) -> Response {
    let original = match st.run(|d| d.config().original.clone()).await {
        // Secrets (SMTP password, tokens, the link key) are never served.
        Ok(o) => argus_web::redact::redact_yaml(&o),
        Err(e) => return e.into_response(),
    };
    Json(json!({
        "cluster": {"status": "disabled", "peers": []},
        "versionInfo": {
            "version": env!("CARGO_PKG_VERSION"),
            "branch": "",
            "revision": "",
            "buildUser": "argus",
            "buildDate": "",
            "goVersion": "none (Argus, Rust)",
        },
        "config": {"original": original},
        "uptime": argus_alert::alert::format_rfc3339(st.started_ms),
    }))
    .into_response()
}

async fn get_receivers(State(st): St) -> Response {
    match st
        .run(|d| {
            d.config()
                .receivers
                .iter()
                .map(|r| json!({"name": r.name}))
                .collect::<Vec<_>>()
        })
        .await
    {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

fn time_param(p: &[(String, String)], names: [&str; 2], default: i64) -> Result<i64, ApiError> {
    for n in names {
        if let Some(s) = param(p, n).filter(|s| !s.is_empty()) {
            return parse_time(n, s);
        }
    }
    Ok(default)
}

async fn get_history(State(st): St, RawQuery(q): RawQuery) -> Response {
    let p = collect_params(q.as_deref(), &[]);
    let now = st.clock.now_ms();
    let (from, to) = match (
        time_param(&p, ["start", "from"], 0),
        time_param(&p, ["end", "to"], now + 1),
    ) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let limit = match param(&p, "limit").map(|s| s.parse::<usize>()) {
        None => 1000,
        Some(Ok(n)) => n,
        Some(Err(_)) => return ApiError::bad_data("invalid parameter \"limit\"").into_response(),
    };
    let matchers = match filter_matchers(&p) {
        Ok(m) => m,
        Err(BadRequest(m)) => return ApiError::bad_data(m).into_response(),
    };
    let category = match param(&p, "type").map(String::as_str) {
        None | Some("") | Some("all") => None,
        Some(t @ ("alerts" | "notifications" | "actions")) => Some(t.to_string()),
        Some(t) => {
            return ApiError::bad_data(format!(
                "invalid parameter \"type\": {t:?} (want alerts, notifications or actions)"
            ))
            .into_response()
        }
    };
    let want = |k: &str| param(&p, k).filter(|s| !s.is_empty()).cloned();
    let (kind, target, who) = (want("kind"), want("target"), want("who"));
    let filtered = kind.is_some() || target.is_some() || who.is_some();
    let query = HistoryQuery {
        from,
        to,
        category,
        matchers,
        limit: if filtered { 100_000 } else { limit },
    };
    let actions = match st.run(move |d| d.history_query(&query)).await {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => return ApiError::internal(e.to_string()).into_response(),
        Err(e) => return ApiError::internal(e.to_string()).into_response(),
    };
    let out: Vec<Value> = actions
        .into_iter()
        .filter(|a| kind.as_ref().is_none_or(|k| &a.kind == k))
        .filter(|a| target.as_ref().is_none_or(|t| &a.target == t))
        .filter(|a| who.as_ref().is_none_or(|w| &a.who == w))
        .take(limit)
        .map(|a| {
            json!({
                "time": argus_alert::alert::format_rfc3339(a.at),
                "type": a.category(),
                "who": a.who, "kind": a.kind, "target": a.target, "comment": a.comment,
                "labels": a.labels,
            })
        })
        .collect();
    success(out)
}
