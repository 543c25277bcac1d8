//! The incidents API, in the Prometheus envelope (`{"status": "success",
//! "data": …}`); times are RFC 3339 and durations seconds.
//!
//! | endpoint | what |
//! |---|---|
//! | `GET /api/argus/v1/incidents` | `state` (repeatable or comma-separated), `start`/`end` (RFC 3339 or Unix seconds: active in that window), `limit` |
//! | `GET /api/argus/v1/incidents/{id}` | one incident: alerts, timeline, times, root, and the graph around it |
//! | `GET /api/argus/v1/incidents/{id}/evidence` | what else moved: the series of its services, instances and machines that changed against their baseline, ranked (gathered now; also kept in the incident, first gathered a minute after detection) |
//! | `GET /api/argus/v1/incidents/times` | median and p90 of the 1-5-10 times, last 7 days (`period` to change) |
//! | `POST /api/argus/v1/incidents/{id}/ack` | takes it; the actor is the `X-Argus-User` header or `{"who": …}` |
//! | `POST /api/argus/v1/incidents/{id}/state` | `{"state": "open"\|"acknowledged"\|"mitigated"\|"resolved"}` |
//! | `POST /api/argus/v1/incidents/{id}/resolve` | the same as `state` resolved |
//! | `POST /api/argus/v1/incidents/{id}/root` | confirms or corrects the root: `{"service": …, "node": …}` |
//! | `POST /api/argus/v1/incidents/{id}/note` | `{"text": …}` |
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use argus_incident::{api, config::IncidentsConfig, service::IncidentService};
//! use argus_model::ManualClock;
//! use std::sync::Arc;
//! use tower::ServiceExt;
//!
//! let svc = IncidentService::open(None, &IncidentsConfig::default(), Arc::new(ManualClock::new(0))).unwrap();
//! let app = api::router(svc);
//! let req = axum::http::Request::get("/api/argus/v1/incidents").body(axum::body::Body::empty()).unwrap();
//! let res = app.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), 200);
//! # }
//! ```

use crate::actions::ActionError;
use crate::model::{Incident, Root, State};
use crate::replay::{format_time, parse_time};
use crate::service::{IncidentService, ListQuery, ServiceError};
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The routes, over `svc`.
pub fn router(svc: IncidentService) -> Router {
    Router::new()
        .route("/api/argus/v1/incidents", get(list))
        .route("/api/argus/v1/incidents/times", get(times))
        .route("/api/argus/v1/incidents/{id}", get(one))
        .route(
            "/api/argus/v1/incidents/{id}/{action}",
            get(sub_get).post(act),
        )
        .with_state(svc)
}

fn ok(data: Value) -> Response {
    Json(json!({"status": "success", "data": data})).into_response()
}

fn fail(status: StatusCode, kind: &str, msg: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"status": "error", "errorType": kind, "error": msg.into()})),
    )
        .into_response()
}

fn bad(msg: impl Into<String>) -> Response {
    fail(StatusCode::BAD_REQUEST, "bad_data", msg)
}

fn time_param(name: &str, v: &str) -> Result<i64, Box<Response>> {
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_finite() {
            return Ok((secs * 1000.0) as i64);
        }
    }
    parse_time(v).ok_or_else(|| {
        Box::new(bad(format!(
            "{name}: {v:?} is neither RFC 3339 nor Unix seconds"
        )))
    })
}

type Pairs = Query<Vec<(String, String)>>;

async fn list(AxState(svc): AxState<IncidentService>, Query(q): Pairs) -> Response {
    let mut lq = ListQuery::default();
    for (k, v) in q {
        match k.as_str() {
            "state" => {
                for s in v.split(',').filter(|s| !s.is_empty()) {
                    match State::parse(s) {
                        Some(st) => lq.states.push(st),
                        None => {
                            return bad(format!(
                                "state: {s:?} is not open, acknowledged, mitigated or resolved"
                            ))
                        }
                    }
                }
            }
            "start" | "from" => match time_param(&k, &v) {
                Ok(t) => lq.from_ms = Some(t),
                Err(r) => return *r,
            },
            "end" | "to" => match time_param(&k, &v) {
                Ok(t) => lq.to_ms = Some(t),
                Err(r) => return *r,
            },
            "limit" => match v.parse::<usize>() {
                Ok(n) if n > 0 => lq.limit = Some(n.min(10_000)),
                _ => return bad(format!("limit: {v:?} is not a positive number")),
            },
            _ => {}
        }
    }
    let items: Vec<Value> = svc.list(&lq).iter().map(summary_json).collect();
    ok(Value::Array(items))
}

fn secs(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |v| json!(v as f64 / 1000.0))
}

fn at(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |v| json!(format_time(v)))
}

/// The times of an incident as JSON: RFC 3339 stamps and seconds since the
/// fault started.
pub fn times_json(t: &crate::model::Times) -> Value {
    json!({
        "faultStart": format_time(t.fault_start_ms),
        "detected": format_time(t.detected_ms),
        "notified": at(t.notified_ms),
        "acknowledged": at(t.acknowledged_ms),
        "located": at(t.located_ms),
        "recovered": at(t.recovered_ms),
        "timeToDetect": t.time_to_detect_ms() as f64 / 1000.0,
        "timeToNotify": secs(t.time_to_notify_ms()),
        "timeToAcknowledge": secs(t.time_to_acknowledge_ms()),
        "timeToLocate": secs(t.time_to_locate_ms()),
        "timeToRecover": secs(t.time_to_recover_ms()),
    })
}

fn summary_json(s: &crate::service::Summary) -> Value {
    json!({
        "id": s.id.to_string(),
        "title": s.title,
        "state": s.state,
        "severity": s.severity,
        "owner": s.owner,
        "root": s.root,
        "times": times_json(&s.times),
        "alerts": s.alerts,
        "firing": s.firing,
        "services": s.services,
        "updated": format_time(s.updated_ms),
    })
}

/// The incident's services and their neighbours one call away, as edges.
fn neighbourhood(svc: &IncidentService, inc: &Incident) -> Value {
    let mine: BTreeSet<String> = inc.services().into_iter().map(str::to_string).collect();
    let (edges, _) = svc.topology();
    let near: Vec<Value> = edges
        .iter()
        .filter(|e| mine.contains(&e.caller) || mine.contains(&e.callee))
        .map(|e| json!({"caller": e.caller, "callee": e.callee}))
        .collect();
    json!({"services": mine, "edges": near})
}

/// The whole incident as the API shows it.
pub fn incident_json(svc: &IncidentService, inc: &Incident) -> Value {
    let alerts: Vec<Value> = inc
        .alerts
        .iter()
        .map(|a| {
            json!({
                "fingerprint": format!("{:016x}", a.key),
                "labels": a.labels,
                "annotations": a.annotations,
                "service": a.entities.service,
                "instance": a.entities.instance,
                "node": a.entities.node,
                "severity": a.severity,
                "startsAt": format_time(a.starts_at_ms),
                "joined": format_time(a.joined_ms),
                "changed": format_time(a.changed_ms),
                "firing": a.firing,
                "firings": a.firings,
            })
        })
        .collect();
    let timeline: Vec<Value> = inc
        .timeline
        .iter()
        .map(|e| {
            json!({
                "at": format_time(e.at_ms),
                "kind": e.kind,
                "text": e.text,
                "alert": e.alert.map(|k| format!("{k:016x}")),
            })
        })
        .collect();
    json!({
        "id": inc.id.to_string(),
        "title": inc.title,
        "state": inc.state,
        "severity": inc.severity,
        "owner": inc.owner,
        "root": inc.root,
        "times": times_json(&inc.times),
        "goals": inc.times.goals(svc.now_ms()),
        "alerts": alerts,
        "timeline": timeline,
        "mergedInto": inc.merged_into.map(|m| m.to_string()),
        "updated": format_time(inc.updated_ms),
        "topology": neighbourhood(svc, inc),
        "evidence": inc.evidence.iter().map(move_json).collect::<Vec<_>>(),
        "evidenceAt": at(inc.evidence_at_ms),
        "suspects": inc.suspects,
        "assistant": inc.assistant,
        "assistantConfigured": svc.assistant().is_some(),
        "changes": inc.changes.iter().map(|c| json!({
            "at": format_time(c.at_ms),
            "kind": c.kind,
            "service": c.service,
            "summary": c.summary,
        })).collect::<Vec<_>>(),
    })
}

fn parse_id(id: &str) -> Result<u64, Box<Response>> {
    id.parse::<u64>()
        .map_err(|_| Box::new(bad(format!("{id:?} is not an incident id"))))
}

async fn one(AxState(svc): AxState<IncidentService>, Path(id): Path<String>) -> Response {
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    match svc.get(id) {
        Some(inc) => ok(incident_json(&svc, &inc)),
        None => fail(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no incident {id}"),
        ),
    }
}

async fn times(AxState(svc): AxState<IncidentService>, Query(q): Pairs) -> Response {
    let mut period = 7 * 86_400_000;
    for (k, v) in q {
        if k == "period" {
            match argus_model::parse_duration(&v) {
                Ok(ms) if ms > 0 => period = ms,
                _ => return bad(format!("period: {v:?} is not a duration such as 7d")),
            }
        }
    }
    ok(json!(svc.times_report(period)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActBody {
    #[serde(default)]
    who: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    instance: Option<String>,
    #[serde(default)]
    node: Option<String>,
}

fn who(headers: &HeaderMap, body: Option<&str>) -> Option<String> {
    headers
        .get("x-argus-user")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.trim().to_string())
        .or_else(|| {
            body.filter(|w| !w.trim().is_empty())
                .map(|w| w.trim().to_string())
        })
}

async fn act(
    AxState(svc): AxState<IncidentService>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let b: ActBody = if body.iter().all(u8::is_ascii_whitespace) {
        ActBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return bad(format!("invalid body: {e}")),
        }
    };
    let Some(actor) = who(&headers, b.who.as_deref()) else {
        return bad("say who: the X-Argus-User header or \"who\" in the body");
    };
    let res = match action.as_str() {
        "ack" => svc.act(move |c, now| c.acknowledge(id, &actor, now)).await,
        "resolve" => {
            svc.act(move |c, now| c.set_state(id, State::Resolved, &actor, now))
                .await
        }
        "state" => {
            let Some(st) = b.state.as_deref().and_then(State::parse) else {
                return bad("\"state\" must be open, acknowledged, mitigated or resolved");
            };
            svc.act(move |c, now| c.set_state(id, st, &actor, now))
                .await
        }
        "root" => {
            if b.service.is_none() && b.node.is_none() {
                return bad("name the root: \"service\" and/or \"node\"");
            }
            let root = Root {
                service: b.service,
                instance: b.instance,
                node: b.node,
                ..Root::default()
            };
            svc.act(move |c, now| c.confirm_root(id, root, &actor, now))
                .await
        }
        "note" => {
            let Some(text) = b.text.filter(|t| !t.trim().is_empty()) else {
                return bad("\"text\" is empty");
            };
            svc.act(move |c, now| c.note(id, &actor, &text, now)).await
        }
        other => {
            return fail(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no action {other:?}: ack, resolve, state, root or note"),
            )
        }
    };
    match res {
        Ok(()) => match svc.get(id) {
            Some(inc) => ok(incident_json(&svc, &inc)),
            None => fail(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no incident {id}"),
            ),
        },
        Err(e) => service_error(id, e),
    }
}

/// The answer for a failed call on incident `id`.
fn service_error(id: u64, e: ServiceError) -> Response {
    match e {
        ServiceError::Action(ActionError::NotFound(_)) => fail(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no incident {id}"),
        ),
        ServiceError::Action(e @ ActionError::Merged(..)) => {
            fail(StatusCode::CONFLICT, "merged", e.to_string())
        }
        e @ (ServiceError::Unsaved(_) | ServiceError::Source(_)) => {
            let mut r = fail(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            );
            r.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("5"));
            r
        }
        e @ ServiceError::NoSource => {
            fail(StatusCode::NOT_IMPLEMENTED, "unavailable", e.to_string())
        }
    }
}

/// `GET /api/argus/v1/incidents/{id}/evidence`: what else moved, gathered
/// now from the store.
async fn sub_get(
    AxState(svc): AxState<IncidentService>,
    Path((id, what)): Path<(String, String)>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    if what != "evidence" {
        return fail(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no {what:?} of an incident: evidence"),
        );
    }
    match svc.gather_evidence(id).await {
        Ok(moves) => ok(Value::Array(moves.iter().map(move_json).collect())),
        Err(e) => service_error(id, e),
    }
}

/// One moved series as JSON.
pub fn move_json(m: &crate::evidence::Move) -> Value {
    json!({
        "labels": m.labels,
        "movedAt": format_time(m.moved_at_ms),
        "strength": m.strength,
        "direction": if m.up { "up" } else { "down" },
        "baseline": m.baseline,
        "peak": m.peak,
        "hops": m.hops,
        "score": m.score,
    })
}
