//! What the incident page shows of runbooks: those that apply, and every
//! execution with its steps, outputs and verification.

use serde::Serialize;

/// The runbooks part of an incident page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunbooksView {
    /// Who turned the kill switch on; empty while it is off.
    pub paused_by: String,
    /// The runbooks that apply to the incident.
    pub available: Vec<RunbookRow>,
    /// Its executions, newest first.
    pub executions: Vec<ExecutionRow>,
}

/// A runbook that applies.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunbookRow {
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// `manual`, `approval` or `auto`.
    pub mode: String,
    /// Its steps' names, joined.
    pub steps: String,
    /// Its rollback steps' names, joined; empty when none.
    pub rollback: String,
}

/// One execution.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExecutionRow {
    /// Its number.
    pub id: String,
    /// The runbook.
    pub runbook: String,
    /// Its state as the API names it (`rolled_back`).
    pub state: String,
    /// The state for people (`rolled back`).
    pub state_text: String,
    /// Why it ended as it did.
    pub reason: String,
    /// Who asked, and who approved.
    pub who: String,
    /// When it was asked for.
    pub requested_at: String,
    /// When it ended; empty while it runs.
    pub finished_at: String,
    /// A dry run.
    pub dry_run: bool,
    /// Waiting for approval.
    pub pending: bool,
    /// Not over (it can be cancelled).
    pub active: bool,
    /// Its steps.
    pub steps: Vec<StepRow>,
    /// What verification needs and where it is, in words.
    pub verification: String,
}

/// One step of an execution.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StepRow {
    /// `steps` or `rollback`.
    pub phase: String,
    /// Its name.
    pub name: String,
    /// Its action's kind.
    pub kind: String,
    /// Its rendered inputs, as compact JSON.
    pub inputs: String,
    /// When it started; empty in a dry run.
    pub started_at: String,
    /// `ok`, `failed`, `running` or `would run`.
    pub outcome: String,
    /// What it printed or answered.
    pub output: String,
}
