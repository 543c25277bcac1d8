//! One-click links from notifications (`/api/argus/v1/link/{ack,resolve,silence}`), and the
//! acting endpoints of the API that record who did it.
//!
//! `GET` never changes anything: it verifies the link and shows a small page with one button
//! that `POST`s the same signed fields. Mail scanners and chat unfurlers fetch links with `GET`,
//! so an acknowledgement (which stops paging) must not happen on `GET`; see
//! `docs/adr/0007-one-click-links.md`. A bad or expired link answers 403 with the reason.
//! Acknowledge is idempotent: a second click reports who acknowledged first.

use crate::{AlertingError, Inner, RunbookAnswer};
use argus_alert::links::{LinkAction, LinkError, LinkQuery, LinkTarget};
use argus_alert::silence::{Silence, SilenceMatcher};
use argus_alert::{AckTarget, DispatchError};
use argus_web::params::collect_params;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;

type St = State<Arc<Inner>>;

use argus_model::html::escape as esc;

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\">\
         <title>{t} · Argus</title></head><body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\">\
         <h2>{t}</h2>{body}</body></html>",
        t = esc(title)
    );
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(html),
    )
        .into_response()
}

fn refused(e: &LinkError) -> Response {
    let status = match e {
        LinkError::Malformed(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::FORBIDDEN,
    };
    page(
        status,
        "Link refused",
        &format!("<p>{}</p>", esc(&e.to_string())),
    )
}

/// Verifies the signed fields in `pairs` for `action`.
fn verify(
    st: &Inner,
    action: &str,
    pairs: &[(String, String)],
) -> Result<(LinkQuery, LinkTarget), LinkError> {
    let q = LinkQuery::from_pairs(action, pairs)?;
    st.links.read().0.verify(&q, st.clock.now_ms())?;
    let t = LinkTarget::decode(&q.target)
        .ok_or_else(|| LinkError::Malformed(format!("bad target {:?}", q.target)))?;
    Ok((q, t))
}

fn describe(t: &LinkTarget) -> String {
    match t {
        LinkTarget::Alert(fp) => format!("alert {fp:016x}"),
        LinkTarget::Group(k) => format!("alert group {k}"),
        LinkTarget::Runbook { alert, runbook } => {
            format!("runbook {runbook} for the incident of alert {alert:016x}")
        }
    }
}

/// `POST` of a runbook link: asks for the runbook on the alert's incident
/// as `who`; the guards and approval apply as in the UI.
fn run_runbook(st: &Inner, alert: u64, runbook: &str, who: &str) -> Response {
    let Some(runbooks) = st.runbooks.get() else {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Runbooks are not running",
            "<p>Try again in a moment.</p>",
        );
    };
    let link = |incident: &str| {
        format!(
            "<p><a href=\"/ui/incidents/{i}\">Incident {i}</a></p>",
            i = esc(incident)
        )
    };
    match runbooks.request(alert, runbook, who) {
        RunbookAnswer::NoIncident => page(
            StatusCode::NOT_FOUND,
            "No incident",
            "<p>This alert is in no incident (any more).</p>",
        ),
        RunbookAnswer::Requested {
            incident,
            execution,
            pending_approval,
        } => {
            let what = if pending_approval {
                format!(
                    "Asked for runbook {runbook} (execution {execution}); someone else must approve it."
                )
            } else {
                format!("Started runbook {runbook} (execution {execution}) as {who}.")
            };
            page(
                StatusCode::OK,
                "Runbook",
                &format!("<p>{}</p>{}", esc(&what), link(&incident)),
            )
        }
        RunbookAnswer::Refused { incident, reason } => page(
            StatusCode::CONFLICT,
            "Runbook refused",
            &format!("<p>{}</p>{}", esc(&reason), link(&incident)),
        ),
    }
}

/// `GET`: a confirmation page with one button.
pub(crate) async fn get_link(
    State(st): St,
    Path(action): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let pairs = collect_params(q.as_deref(), &[]);
    let (lq, t) = match verify(&st, &action, &pairs) {
        Ok(x) => x,
        Err(e) => return refused(&e),
    };
    let hidden: String = ["target", "exp", "to", "sig"]
        .iter()
        .filter_map(|k| pairs.iter().find(|(n, _)| n == k))
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                esc(k),
                esc(v)
            )
        })
        .collect();
    let verb = match lq.action {
        LinkAction::Ack => "Acknowledge".to_string(),
        LinkAction::Resolve => "Resolve".to_string(),
        LinkAction::Silence => format!(
            "Silence for {}",
            argus_model::PromDuration(st.links.read().1)
        ),
        LinkAction::Run => "Run".to_string(),
    };
    page(
        StatusCode::OK,
        &format!("{verb} {}?", describe(&t)),
        &format!(
            "<p>As <b>{}</b>.</p><form method=\"post\">{hidden}<button type=\"submit\">{verb}</button></form>",
            esc(&lq.recipient)
        ),
    )
}

/// `POST`: verifies again and acts; the actor is `link:<recipient>`.
pub(crate) async fn post_link(
    State(st): St,
    Path(action): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let pairs = collect_params(q.as_deref(), &body);
    let (lq, t) = match verify(&st, &action, &pairs) {
        Ok(x) => x,
        Err(e) => return refused(&e),
    };
    let who = format!("link:{}", lq.recipient);
    let what = describe(&t);
    let target = match &t {
        LinkTarget::Alert(fp) => AckTarget::Alert(*fp),
        LinkTarget::Group(k) => AckTarget::Group(k.clone()),
        LinkTarget::Runbook { alert, runbook } if lq.action == LinkAction::Run => {
            return run_runbook(&st, *alert, runbook, &who);
        }
        LinkTarget::Runbook { .. } => {
            return refused(&LinkError::Malformed(
                "a runbook target needs the run action".into(),
            ));
        }
    };
    let now = st.clock.now_ms();
    let silence_for = st.links.read().1;
    let res: Result<Result<String, DispatchError>, AlertingError> = match lq.action {
        LinkAction::Run => {
            return refused(&LinkError::Malformed(
                "a run link needs a runbook target".into(),
            ));
        }
        LinkAction::Ack => {
            st.run(move |d| {
                if let Some(a) = d.ack_of(&target) {
                    return Ok(format!(
                        "Already acknowledged by {} at {}.",
                        a.who,
                        argus_alert::alert::format_rfc3339(a.at)
                    ));
                }
                d.ack(target, &who, "one-click link")
                    .map(|()| format!("Acknowledged by {who}."))
            })
            .await
        }
        LinkAction::Resolve => {
            st.run(move |d| {
                d.resolve(target, &who, "one-click link")
                    .map(|n| format!("Resolved {n} alert(s) as {who}."))
            })
            .await
        }
        LinkAction::Silence => {
            st.run(move |d| {
                let labels = match &target {
                    AckTarget::Alert(fp) => d
                        .alerts()
                        .into_iter()
                        .find(|a| a.fingerprint == *fp)
                        .map(|a| a.alert.labels),
                    AckTarget::Group(_) => None,
                };
                let Some(labels) = labels else {
                    return Err(DispatchError::NotFound(
                        "alert (only single alerts can be silenced by link)".into(),
                    ));
                };
                let ms: Vec<SilenceMatcher> = labels
                    .iter()
                    .map(|l| SilenceMatcher::equal(&l.name, &l.value))
                    .collect();
                // The link acts once: posting it again (a second click, a
                // retried form) finds the silence it made.
                let made = d.silences().iter().find(|s| {
                    s.created_by == who
                        && s.comment == "one-click link"
                        && s.matchers == ms
                        && s.state(now) == argus_alert::silence::SilenceState::Active
                });
                if let Some(s) = made {
                    return Ok(format!(
                        "Already silenced until {} (silence {}).",
                        argus_alert::alert::format_rfc3339(s.ends_at),
                        s.id
                    ));
                }
                let s = Silence::new(ms, now, now + silence_for, &who, "one-click link");
                d.set_silence(s).map(|id| {
                    format!(
                        "Silenced until {} (silence {id}).",
                        argus_alert::alert::format_rfc3339(now + silence_for)
                    )
                })
            })
            .await
        }
    };
    match res {
        Ok(Ok(msg)) => {
            st.handle.wake();
            page(
                StatusCode::OK,
                "Done",
                &format!("<p>{}</p><p>{}</p>", esc(&what), esc(&msg)),
            )
        }
        Ok(Err(DispatchError::NotFound(x))) => page(
            StatusCode::NOT_FOUND,
            "Nothing to do",
            &format!("<p>No active {} found: {}</p>", esc(&what), esc(&x)),
        ),
        Ok(Err(e)) if e.is_retryable() => page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again shortly",
            &format!("<p>{}</p>", esc(&e.to_string())),
        ),
        Ok(Err(e)) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Failed",
            &format!("<p>{}</p>", esc(&e.to_string())),
        ),
        Err(e) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Failed",
            &format!("<p>{}</p>", esc(&e.to_string())),
        ),
    }
}

/// The API actor: the `X-Argus-User` header, else the body's `who`.
pub fn api_who(headers: &HeaderMap, body_who: Option<&str>) -> Option<String> {
    headers
        .get("x-argus-user")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| body_who.map(str::to_string))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

#[derive(Debug, Default, serde::Deserialize)]
struct ActBody {
    #[serde(default)]
    who: Option<String>,
    #[serde(default)]
    comment: String,
}

/// `POST /api/v2/alerts/{fingerprint}/{ack|unack|resolve}` with `{"who": .., "comment": ..}`
/// or the `X-Argus-User` header.
pub(crate) async fn post_alert_action(
    State(st): St,
    Path((fp, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bad = |m: String| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::Value::String(m)),
        )
            .into_response()
    };
    let Ok(fpn) = u64::from_str_radix(&fp, 16) else {
        return bad(format!("invalid fingerprint {fp:?}"));
    };
    let b: ActBody = if body.iter().all(u8::is_ascii_whitespace) {
        ActBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => {
                return bad(format!(
                    "invalid body (want {{\"who\":..,\"comment\":..}}): {e}"
                ))
            }
        }
    };
    let Some(who) = api_who(&headers, b.who.as_deref()) else {
        return bad("say who: the X-Argus-User header or 'who' in the body".into());
    };
    let (w, c) = (who.clone(), b.comment);
    let t = AckTarget::Alert(fpn);
    let res = match action.as_str() {
        "ack" => st.run(move |d| d.ack(t, &w, &c)).await,
        "unack" => st.run(move |d| d.unack(t, &w, &c)).await,
        "resolve" => st.run(move |d| d.resolve(t, &w, &c).map(|_| ())).await,
        other => {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(serde_json::Value::String(format!(
                    "unknown action {other:?}"
                ))),
            )
                .into_response()
        }
    };
    match res {
        Ok(Ok(())) => {
            st.handle.wake();
            let key = match action.as_str() {
                "ack" => "acknowledgedBy",
                "unack" => "unacknowledgedBy",
                _ => "resolvedBy",
            };
            axum::Json(serde_json::json!({"fingerprint": fp, key: who})).into_response()
        }
        Ok(Err(DispatchError::NotFound(what))) => (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::Value::String(format!(
                "nothing to {action} for alert {what}"
            ))),
        )
            .into_response(),
        Ok(Err(e)) if e.is_retryable() => crate::api::dispatch_failed(e),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(serde_json::Value::String(e.to_string())),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}
