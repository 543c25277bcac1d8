//! The incident page's runbooks, from
//! `GET /api/argus/v1/incidents/{id}/runbooks`.
//!
//! ```
//! use argus_ui::routes::data::runbooks::runbooks;
//! let v = serde_json::json!({"runbooks": [{"name": "restart", "mode": "manual", "steps": ["restart", "wait"], "rollback": []}], "executions": []});
//! let r = runbooks(&v).unwrap();
//! assert_eq!(r.available[0].steps, "restart → wait");
//! assert!(runbooks(&serde_json::json!({"runbooks": [], "executions": []})).is_none());
//! ```

use crate::model::{ExecutionRow, RunbookRow, RunbooksView, StepRow};
use serde_json::Value;

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn names(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" → ")
        })
        .unwrap_or_default()
}

fn verification(e: &Value) -> String {
    let v = &e["verification"];
    let mut need = Vec::new();
    if v["resolved"].as_bool().unwrap_or(false) {
        need.push("every alert of the incident resolved".to_string());
    }
    if let Some(c) = v["condition"].as_str() {
        need.push(format!("{c} returns a sample"));
    }
    let mut out = format!(
        "Needs {} for {} s, within {} s.",
        need.join(" and "),
        v["hold_seconds"],
        v["deadline_seconds"]
    );
    if let Some(t) = v["verified_at"].as_str() {
        out.push_str(&format!(" Verified at {t}."));
    } else if let Some(t) = v["holding_since"].as_str() {
        out.push_str(&format!(" Holding since {t}."));
    } else if let Some(l) = v["last"].as_str().filter(|l| !l.is_empty()) {
        out.push_str(&format!(" Last check: {l}."));
    }
    out
}

fn step(x: &Value, dry: bool) -> StepRow {
    let outcome = match (x["ok"].as_bool(), dry) {
        (_, true) => "would run",
        (Some(true), _) => "ok",
        (Some(false), _) => "failed",
        (None, _) => "running",
    };
    StepRow {
        phase: s(x, "phase"),
        name: s(x, "name"),
        kind: s(x, "kind"),
        inputs: x
            .get("inputs")
            .filter(|v| !v.is_null())
            .map(Value::to_string)
            .unwrap_or_default(),
        started_at: s(x, "started_at"),
        outcome: outcome.into(),
        output: s(x, "output"),
    }
}

/// The runbooks part of the page; `None` when no runbook applies and none ran.
pub fn runbooks(v: &Value) -> Option<RunbooksView> {
    let available: Vec<RunbookRow> = v["runbooks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| RunbookRow {
            name: s(r, "name"),
            description: s(r, "description"),
            mode: s(r, "mode"),
            steps: names(r, "steps"),
            rollback: names(r, "rollback"),
        })
        .collect();
    let executions: Vec<ExecutionRow> = v["executions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let state = s(e, "state");
            let dry = e["dry_run"].as_bool().unwrap_or(false);
            let mut who = s(e, "requested_by");
            if let Some(a) = e["approved_by"].as_str() {
                who.push_str(&format!(", approved by {a}"));
            }
            ExecutionRow {
                id: s(e, "id"),
                runbook: s(e, "runbook"),
                state_text: state.replace('_', " "),
                pending: state == "pending_approval",
                active: matches!(
                    state.as_str(),
                    "pending_approval" | "running" | "verifying" | "rolling_back"
                ),
                state,
                reason: s(e, "reason"),
                who,
                requested_at: s(e, "requested_at"),
                finished_at: s(e, "finished_at"),
                dry_run: dry,
                steps: e["steps"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|x| step(x, dry))
                    .collect(),
                verification: verification(e),
            }
        })
        .collect();
    if available.is_empty() && executions.is_empty() {
        return None;
    }
    Some(RunbooksView {
        paused_by: v["paused_by"].as_str().unwrap_or("").to_string(),
        available,
        executions,
    })
}
