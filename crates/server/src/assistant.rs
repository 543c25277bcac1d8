//! The incident assistant: with `incidents.assistant` configured (an
//! OpenAI-compatible chat completions endpoint, such as a local Ollama,
//! vLLM or llama.cpp server), `POST /api/argus/v1/incidents/{id}/assistant`
//! sends the incident's evidence (its alerts, timeline, likely causes, what
//! else moved, changes, and a few error lines of its likely causes' logs)
//! with fixed instructions, and keeps the model's answer with the incident,
//! beside exactly what was sent. Nothing is sent anywhere unless it is
//! configured and someone asks; the page labels the answer as a language
//! model's.

use argus_incident::config::AssistantConfig;
use argus_incident::model::{AssistantNote, Incident};
use argus_incident::service::IncidentService;
use argus_logs::record::LogSource;
use argus_model::{MatchOp, Matcher};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::sync::Arc;

/// The instructions sent before the evidence.
pub const SYSTEM: &str = "You are an experienced site reliability engineer helping the person on call. \
You get the evidence a monitoring system gathered about one incident: its alerts, timeline, the services \
it ranked as likely causes with what their metrics did, other series that moved, recent changes and a few \
log lines. Write a short summary of what is happening (three sentences at most), then up to three \
hypotheses for the root cause, most likely first, each with the evidence for it and one check that would \
confirm or refute it. Use only the evidence given; say so when it is not enough. Plain text, no tables.";

/// The most log lines sent.
const MAX_LOG_LINES: usize = 20;

/// The route, over the incident service and the log store when there is one.
pub fn router(svc: IncidentService, logs: Option<Arc<argus_logs::store::LogStore>>) -> Router {
    Router::new()
        .route("/api/argus/v1/incidents/{id}/assistant", post(ask))
        .with_state((svc, logs))
}

type AppState = (IncidentService, Option<Arc<argus_logs::store::LogStore>>);

fn fail(status: StatusCode, kind: &str, msg: String) -> Response {
    (
        status,
        Json(json!({"status": "error", "errorType": kind, "error": msg})),
    )
        .into_response()
}

#[derive(Debug, Default, serde::Deserialize)]
struct Ask {
    #[serde(default)]
    who: Option<String>,
}

async fn ask(
    State((svc, logs)): State<AppState>,
    Path(id): Path<String>,
    body: Option<Json<Ask>>,
) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return fail(
            StatusCode::BAD_REQUEST,
            "bad_data",
            format!("{id:?} is not an incident id"),
        );
    };
    let Some(cfg) = svc.assistant() else {
        return fail(
            StatusCode::NOT_FOUND,
            "not_configured",
            "no assistant is configured (incidents.assistant); nothing was sent".into(),
        );
    };
    let Some(inc) = svc.get(id) else {
        return fail(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no incident {id}"),
        );
    };
    let lines = match logs {
        Some(store) => {
            let inc = inc.clone();
            tokio::task::spawn_blocking(move || log_lines(&store, &inc))
                .await
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    let evidence = evidence(&inc, &lines);
    let who = body
        .and_then(|b| b.0.who)
        .unwrap_or_else(|| "api".to_string());
    let (answer, error) = match complete(&cfg, &evidence).await {
        Ok(a) => (a, None),
        Err(e) => {
            tracing::warn!(incident = id, error = %e, "The assistant did not answer.");
            (String::new(), Some(e))
        }
    };
    let note = AssistantNote {
        at_ms: chrono::Utc::now().timestamp_millis(),
        model: cfg.model.clone(),
        who,
        system: SYSTEM.to_string(),
        evidence,
        answer,
        error: error.clone(),
    };
    if let Err(e) = svc.set_assistant_note(id, note.clone()).await {
        return fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the answer could not be kept: {e}"),
        );
    }
    match error {
        None => Json(json!({"status": "success", "data": note})).into_response(),
        Some(e) => fail(
            StatusCode::BAD_GATEWAY,
            "unavailable",
            format!("the assistant did not answer: {e}"),
        ),
    }
}

/// Calls `<url>/chat/completions`; the answer's text.
async fn complete(cfg: &AssistantConfig, evidence: &str) -> Result<String, String> {
    let key = match &cfg.api_key_file {
        Some(f) => Some(
            std::fs::read_to_string(f)
                .map_err(|e| format!("cannot read {}: {e}", f.display()))?
                .trim()
                .to_string(),
        ),
        None => None,
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(
            cfg.timeout.as_millis() as u64
        ))
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("{}/chat/completions", cfg.url.trim_end_matches('/'));
    let mut req = client.post(&url).json(&json!({
        "model": cfg.model,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": evidence},
        ],
        "max_tokens": cfg.max_tokens,
        "temperature": 0.2,
        "stream": false,
    }));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .map_err(|e| format!("{url}: the answer is not JSON: {e}"))?;
    if !status.is_success() {
        return Err(format!("{url}: {status}: {body}"));
    }
    body["choices"][0]["message"]["content"]
        .as_str()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("{url}: no choices[0].message.content in the answer"))
}

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// A few error lines of the likely causes' logs around the fault.
fn log_lines(store: &argus_logs::store::LogStore, inc: &Incident) -> Vec<String> {
    let services: Vec<String> = inc
        .suspects
        .iter()
        .take(3)
        .map(|s| s.service.clone())
        .collect();
    if services.is_empty() {
        return Vec::new();
    }
    let alt = services
        .iter()
        .map(|s| regex::escape(s))
        .collect::<Vec<_>>()
        .join("|");
    let Ok(m) = Matcher::new(MatchOp::Re, "service", &alt) else {
        return Vec::new();
    };
    let error = regex::Regex::new(
        r"(?i)\b(error|err|fail(ed|ure)?|exception|panic|fatal|timeout|refused)\b",
    )
    .expect("a valid pattern");
    let from = (inc.times.fault_start_ms - 5 * 60_000).saturating_mul(1_000_000);
    let to = (inc.times.detected_ms + 10 * 60_000).saturating_mul(1_000_000);
    let mut out = Vec::new();
    let _ = store.scan(&[m], from, to, &mut |labels, entries| {
        let svc = labels.get("service").unwrap_or_default();
        for e in entries {
            if error.is_match(&e.line) {
                let line: String = e.line.chars().take(300).collect();
                out.push(format!(
                    "{} {svc}: {line}",
                    time(e.ts_ns.div_euclid(1_000_000))
                ));
                if out.len() >= MAX_LOG_LINES {
                    return false;
                }
            }
        }
        true
    });
    out
}

/// The evidence sent, as text.
pub fn evidence(inc: &Incident, log_lines: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Incident {}: {}", inc.id, inc.title);
    let _ = writeln!(
        s,
        "Severity {:?}, state {:?}; the fault started about {}, detected {}.",
        inc.severity,
        inc.state,
        time(inc.times.fault_start_ms),
        time(inc.times.detected_ms)
    );
    if let Some(r) = &inc.root {
        let what = r
            .service
            .as_deref()
            .or(r.instance.as_deref())
            .or(r.node.as_deref())
            .unwrap_or("unknown");
        let _ = writeln!(
            s,
            "Root candidate from alert correlation: {what} (confidence {:.2}).",
            r.confidence
        );
    }
    let _ = writeln!(s, "\nAlerts:");
    for a in inc.alerts.iter().take(30) {
        let labels: Vec<String> = a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = write!(
            s,
            "- {} ({}) since {}",
            labels.join(", "),
            if a.firing { "firing" } else { "resolved" },
            time(a.starts_at_ms)
        );
        for k in ["summary", "description", "root_cause_detail"] {
            if let Some(v) = a.annotations.get(k) {
                let _ = write!(s, "; {k}: {v}");
            }
        }
        s.push('\n');
    }
    if !inc.suspects.is_empty() {
        let _ = writeln!(
            s,
            "\nLikely causes ranked from every service's metrics and the call graph:"
        );
        for (i, x) in inc.suspects.iter().enumerate() {
            let _ = writeln!(
                s,
                "{}. {} (kind {}, metric {}, score {:.2}): {}",
                i + 1,
                x.service,
                x.kind,
                x.metric,
                x.score,
                x.evidence
            );
        }
    }
    if !inc.evidence.is_empty() {
        let _ = writeln!(s, "\nOther series that moved:");
        for m in inc.evidence.iter().take(10) {
            let labels: Vec<String> = m.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(
                s,
                "- {{{}}} went {} at {} from about {:.4} to {:.4}",
                labels.join(", "),
                if m.up { "up" } else { "down" },
                time(m.moved_at_ms),
                m.baseline,
                m.peak
            );
        }
    }
    if !inc.changes.is_empty() {
        let _ = writeln!(s, "\nChanges:");
        for c in inc.changes.iter().take(10) {
            let _ = writeln!(
                s,
                "- {} {} of {}: {}",
                time(c.at_ms),
                c.kind,
                c.service,
                c.summary
            );
        }
    }
    if !log_lines.is_empty() {
        let _ = writeln!(s, "\nError lines from the likely causes' logs:");
        for l in log_lines {
            let _ = writeln!(s, "- {l}");
        }
    }
    let _ = writeln!(s, "\nTimeline:");
    for e in inc
        .timeline
        .iter()
        .rev()
        .take(20)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        let _ = writeln!(s, "- {} {}", time(e.at_ms), e.text);
    }
    s
}
