//! The runbook routes (listed in the parent module), in the Prometheus
//! envelope.

use super::subject;
use argus_incident::service::IncidentService;
use argus_recover::exec::Execution;
use argus_recover::{RecoverError, RecoverService};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Clone)]
struct St {
    svc: RecoverService,
    incidents: IncidentService,
}

/// The routes.
pub fn router(svc: RecoverService, incidents: IncidentService) -> Router {
    Router::new()
        .route("/api/argus/v1/runbooks", get(list))
        .route("/api/argus/v1/runbooks/kill-switch", post(kill_switch))
        .route("/api/argus/v1/runbooks/audit", get(audit))
        .route("/api/argus/v1/runbooks/executions", get(executions))
        .route("/api/argus/v1/runbooks/executions/{id}", get(one))
        .route("/api/argus/v1/runbooks/executions/{id}/{action}", post(act))
        .route("/api/argus/v1/incidents/{id}/runbooks", get(for_incident))
        .route("/api/argus/v1/incidents/{id}/runbooks/{name}", post(run))
        .with_state(St { svc, incidents })
}

/// The Prometheus success envelope, as every API of the server answers.
fn ok(data: Value) -> Response {
    crate::api::params::success(data)
}

fn fail(status: StatusCode, kind: &str, msg: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"status": "error", "errorType": kind, "error": msg.into()})),
    )
        .into_response()
}

fn bfail(status: StatusCode, kind: &str, msg: impl Into<String>) -> Box<Response> {
    Box::new(fail(status, kind, msg))
}

fn refused(e: &RecoverError) -> Response {
    let status = match e {
        RecoverError::NoRunbook(_) | RecoverError::NotFound(_) => StatusCode::NOT_FOUND,
        RecoverError::Journal(_) => StatusCode::SERVICE_UNAVAILABLE,
        RecoverError::NotMatching { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        RecoverError::RateLimited { .. }
        | RecoverError::Cooldown { .. }
        | RecoverError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::CONFLICT,
    };
    fail(status, "refused", e.to_string())
}

fn rfc3339(ms: i64) -> String {
    use argus_model::time::{format_rfc3339_ms, Fraction};
    format_rfc3339_ms(ms, Fraction::MillisIfAny).unwrap_or_else(|| ms.to_string())
}

/// An execution in the API: times as RFC 3339.
pub fn execution_json(e: &Execution) -> Value {
    let t = |ms: Option<i64>| ms.map(rfc3339);
    json!({
        "id": e.id,
        "runbook": e.runbook.name,
        "description": e.runbook.description,
        "mode": e.runbook.mode.as_str(),
        "incident": e.subject.incident,
        "state": e.state.as_str(),
        "reason": e.reason,
        "dry_run": e.dry_run,
        "requested_by": e.requested_by,
        "requested_at": rfc3339(e.requested_ms),
        "approved_by": e.approved_by,
        "finished_at": t(e.finished_ms),
        "labels": e.labels,
        "steps": e.steps.iter().map(|s| json!({
            "phase": s.phase,
            "index": s.index,
            "name": s.name,
            "kind": s.kind,
            "inputs": s.inputs,
            "started_at": if e.dry_run { None } else { Some(rfc3339(s.started_ms)) },
            "finished_at": t(s.finished_ms),
            "ok": s.ok,
            "output": s.output,
        })).collect::<Vec<_>>(),
        "verification": {
            "resolved": e.runbook.verify.resolved,
            "condition": e.runbook.verify.condition,
            "hold_seconds": e.runbook.verify.hold.as_millis() / 1000,
            "deadline_seconds": e.runbook.verify.deadline.as_millis() / 1000,
            "started_at": t(e.verification.started_ms),
            "holding_since": t(e.verification.holding_since_ms),
            "verified_at": t(e.verification.verified_ms),
            "last": e.verification.last,
        },
    })
}

fn runbook_json(rb: &argus_recover::Runbook) -> Value {
    json!({
        "name": rb.name,
        "description": rb.description,
        "mode": rb.mode.as_str(),
        "match": rb.matches,
        "steps": rb.steps.iter().map(|s| s.display_name()).collect::<Vec<_>>(),
        "rollback": rb.rollback.iter().map(|s| s.display_name()).collect::<Vec<_>>(),
        "verify": rb.verify,
        "rate_limit": rb.rate_limit,
        "cooldown": rb.cooldown,
    })
}

async fn list(State(st): State<St>) -> Response {
    let cfg = st.svc.config();
    ok(json!({
        "runbooks": cfg.runbooks.iter().map(runbook_json).collect::<Vec<_>>(),
        "paused_by": st.svc.paused(),
        "max_concurrent": cfg.max_concurrent,
    }))
}

#[derive(Deserialize, Default)]
struct Body {
    #[serde(default)]
    who: Option<String>,
    #[serde(default)]
    on: Option<bool>,
    #[serde(default)]
    dry_run: bool,
}

fn body(b: &Bytes) -> Result<Body, Box<Response>> {
    if b.iter().all(u8::is_ascii_whitespace) {
        return Ok(Body::default());
    }
    serde_json::from_slice(b).map_err(|e| {
        bfail(
            StatusCode::BAD_REQUEST,
            "bad_data",
            format!("invalid body: {e}"),
        )
    })
}

fn actor(headers: &HeaderMap, b: &Body) -> Result<String, Box<Response>> {
    crate::alerting::api_who(headers, b.who.as_deref()).ok_or_else(|| {
        bfail(
            StatusCode::BAD_REQUEST,
            "bad_data",
            "say who: the X-Argus-User header or \"who\" in the body",
        )
    })
}

/// The body, and who acts (the signed-in user, else the body's `who`).
fn body_and_actor(raw: &Bytes, headers: &HeaderMap) -> Result<(Body, String), Box<Response>> {
    let b = body(raw)?;
    let who = actor(headers, &b)?;
    Ok((b, who))
}

async fn kill_switch(State(st): State<St>, headers: HeaderMap, raw: Bytes) -> Response {
    let (b, who) = match body_and_actor(&raw, &headers) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let Some(on) = b.on else {
        return fail(
            StatusCode::BAD_REQUEST,
            "bad_data",
            "say {\"on\": true} or {\"on\": false}",
        );
    };
    match st.svc.set_paused(on, &who) {
        Ok(()) => ok(json!({"paused_by": st.svc.paused()})),
        Err(e) => refused(&e),
    }
}

#[derive(Deserialize)]
struct Limit {
    limit: Option<usize>,
    incident: Option<u64>,
}

async fn audit(State(st): State<St>, Query(q): Query<Limit>) -> Response {
    match st.svc.audit(q.limit.unwrap_or(200).min(10_000)) {
        Ok(evs) => ok(json!({"events": evs})),
        Err(e) => fail(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        ),
    }
}

async fn executions(State(st): State<St>, Query(q): Query<Limit>) -> Response {
    let list = st.svc.list(q.incident);
    let n = q.limit.unwrap_or(500);
    ok(json!({"executions": list.iter().take(n).map(execution_json).collect::<Vec<_>>()}))
}

async fn one(State(st): State<St>, Path(id): Path<u64>) -> Response {
    match st.svc.get(id) {
        Some(e) => ok(execution_json(&e)),
        None => refused(&RecoverError::NotFound(id)),
    }
}

async fn act(
    State(st): State<St>,
    Path((id, action)): Path<(u64, String)>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let (_, who) = match body_and_actor(&raw, &headers) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let res = match action.as_str() {
        "approve" => st.svc.approve(id, &who),
        "cancel" => st.svc.cancel(id, &who),
        _ => {
            return fail(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no action {action:?}: approve or cancel"),
            )
        }
    };
    match res {
        Ok(()) => ok(st
            .svc
            .get(id)
            .map(|e| execution_json(&e))
            .unwrap_or(Value::Null)),
        Err(e) => refused(&e),
    }
}

fn incident_of(st: &St, id: &str) -> Result<argus_incident::model::Incident, Box<Response>> {
    let n: u64 = id.parse().map_err(|_| {
        bfail(
            StatusCode::BAD_REQUEST,
            "bad_data",
            format!("{id:?} is not an incident id"),
        )
    })?;
    let inc = st.incidents.get(n).ok_or_else(|| {
        bfail(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no incident {n}"),
        )
    })?;
    Ok(match inc.merged_into.and_then(|to| st.incidents.get(to)) {
        Some(into) => into,
        None => inc,
    })
}

async fn for_incident(State(st): State<St>, Path(id): Path<String>) -> Response {
    let inc = match incident_of(&st, &id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let s = subject(&inc);
    ok(json!({
        "incident": inc.id,
        "runbooks": st.svc.runbooks_for(&s).iter().map(runbook_json).collect::<Vec<_>>(),
        "executions": st.svc.list(Some(inc.id)).iter().map(execution_json).collect::<Vec<_>>(),
        "paused_by": st.svc.paused(),
    }))
}

async fn run(
    State(st): State<St>,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let (b, who) = match body_and_actor(&raw, &headers) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let inc = match incident_of(&st, &id) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    match st.svc.request(&name, &subject(&inc), &who, b.dry_run) {
        Ok(e) => ok(execution_json(&e)),
        Err(e) => refused(&e),
    }
}
