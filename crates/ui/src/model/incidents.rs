//! The incident pages' data: the list, one incident, and the overview's
//! 1-5-10 figures.
//!
//! ```
//! use argus_ui::model::{IncidentsPage, IncidentRow};
//! let p = IncidentsPage {
//!     filter: "active".into(),
//!     incidents: vec![IncidentRow { id: "7".into(), active: true, ..IncidentRow::default() }],
//!     ..IncidentsPage::default()
//! };
//! assert_eq!(p.incidents[0].id, "7");
//! ```

use crate::graph::Graph;
use serde::Serialize;

/// The 1-5-10 figures over recent incidents: detect in 1 minute, locate in
/// 5, recover in 10.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OneFiveTen {
    /// Incidents detected in the period.
    pub incidents: usize,
    /// The period, for people (`7 days`).
    pub period: String,
    /// Detect, locate and recover, in that order.
    pub figures: Vec<TimeFigure>,
}

/// One of the 1-5-10 times over many incidents.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TimeFigure {
    /// `Detect`, `Locate` or `Recover`.
    pub name: String,
    /// The goal, formatted (`1 min`).
    pub target: String,
    /// The median, formatted; empty when no incident has this time yet.
    pub p50: String,
    /// The 90th percentile, formatted; empty when none.
    pub p90: String,
    /// How many incidents have this time.
    pub count: usize,
    /// The median misses the goal.
    pub over: bool,
    /// How many incidents missed the goal (late, or not there yet and past it).
    pub missed: usize,
}

/// The incidents list.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IncidentsPage {
    /// The tab shown: `active`, `resolved` or `all`.
    pub filter: String,
    /// The incidents, most recent first.
    pub incidents: Vec<IncidentRow>,
    /// Errors while gathering the data.
    pub errors: Vec<String>,
}

/// One incident in the list.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IncidentRow {
    /// Its number.
    pub id: String,
    /// Its one-line summary.
    pub title: String,
    /// `open`, `acknowledged`, `mitigated` or `resolved`.
    pub state: String,
    /// `none`, `info`, `warning`, `error` or `critical`.
    pub severity: String,
    /// Who has it; empty when nobody took it.
    pub owner: String,
    /// The root: a service, or `machine NAME`; empty when unknown.
    pub root: String,
    /// Its alerts.
    pub alerts: u64,
    /// How many of them fire.
    pub firing: u64,
    /// When its first alert fired.
    pub detected: String,
    /// Fault start to detection, formatted.
    pub time_to_detect: String,
    /// Fault start to location, formatted; empty until located.
    pub time_to_locate: String,
    /// Fault start to recovery, formatted; empty until recovered.
    pub time_to_recover: String,
    /// Not resolved (the actions apply).
    pub active: bool,
}

/// One incident's page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IncidentPage {
    /// The number asked for.
    pub id: String,
    /// The incident; `None` when there is no such incident.
    pub incident: Option<IncidentView>,
    /// Errors while gathering the data.
    pub errors: Vec<String>,
}

/// One incident, everything about it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IncidentView {
    /// Its number.
    pub id: String,
    /// Its one-line summary.
    pub title: String,
    /// Its state.
    pub state: String,
    /// Its severity.
    pub severity: String,
    /// Who has it.
    pub owner: String,
    /// Not resolved (the actions apply).
    pub active: bool,
    /// What is believed to be at fault, when known.
    pub root: Option<RootView>,
    /// The 1-5-10 milestones, fault start first.
    pub times: Vec<Milestone>,
    /// What happened, oldest first.
    pub timeline: Vec<TimelineRow>,
    /// Its alerts, in the order they joined.
    pub alerts: Vec<IncidentAlertRow>,
    /// Its services.
    pub services: Vec<String>,
    /// Its services and their neighbours, laid out.
    pub graph: Graph,
    /// The incident it was merged into, if it was.
    pub merged_into: String,
    /// What else moved around it, best first.
    pub evidence: Vec<MoveRow>,
    /// Its likely causes, best first.
    pub suspects: Vec<SuspectRow>,
    /// What a language model made of it, when someone asked.
    pub assistant: Option<AssistantView>,
    /// True when a language model is configured to be asked.
    pub assistant_configured: bool,
    /// When that was gathered; empty when not yet.
    pub evidence_at: String,
    /// Deploys, configuration changes and other events of its services from
    /// half an hour before the fault on.
    pub changes: Vec<ChangeRow>,
    /// The runbooks that apply and their executions; `None` when no runbook
    /// is configured.
    pub runbooks: Option<super::RunbooksView>,
}

/// A change around an incident.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChangeRow {
    /// When it happened.
    pub at: String,
    /// `deploy`, `config_change`, `kubernetes`.
    pub kind: String,
    /// The service it changed.
    pub service: String,
    /// What happened.
    pub summary: String,
}

/// A language model's reading of an incident.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AssistantView {
    /// The model.
    pub model: String,
    /// When it was asked.
    pub at: String,
    /// Who asked.
    pub who: String,
    /// Its answer.
    pub answer: String,
    /// Why it failed, when it did.
    pub error: String,
    /// The instructions sent.
    pub system: String,
    /// The evidence sent.
    pub evidence: String,
}

/// One likely cause of an incident.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SuspectRow {
    /// The service.
    pub service: String,
    /// What kind of fault it looks like: cpu, memory, network, code.
    pub kind: String,
    /// The metric that points there.
    pub metric: String,
    /// The score, formatted.
    pub score: String,
    /// What was seen.
    pub evidence: String,
}

/// One series that moved around an incident.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MoveRow {
    /// The series, as PromQL selects it.
    pub series: String,
    /// A link to it in the explorer.
    pub explore: String,
    /// When it moved.
    pub moved_at: String,
    /// `up` or `down`.
    pub direction: String,
    /// From (its baseline) and to (its most extreme value), formatted.
    pub change: String,
    /// How strongly, as a robust z-score, formatted.
    pub strength: String,
    /// How far from the root: `root`, `1 call`, `2 calls`, or empty.
    pub distance: String,
}

/// The incident's root.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RootView {
    /// What is at fault, for people (`service db`, `machine db-1`).
    pub what: String,
    /// The service, if one.
    pub service: String,
    /// The instance, if one stands out.
    pub instance: String,
    /// The machine, if one.
    pub node: String,
    /// The alert or metric that shows it.
    pub metric: String,
    /// How well it explains the other alerts, as a percentage (`80%`).
    pub confidence: String,
    /// Who confirmed it; empty unless a person did.
    pub confirmed_by: String,
}

/// One of the incident's 1-5-10 moments.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Milestone {
    /// `Fault start`, `Detected`, `Notified`, `Acknowledged`, `Located` or `Recovered`.
    pub name: String,
    /// When; empty when it has not happened.
    pub at: String,
    /// How long after the fault started, formatted; empty for the start itself.
    pub since_fault: String,
    /// The goal, formatted, for detect, locate and recover; empty otherwise.
    pub target: String,
    /// It happened later than the goal.
    pub over: bool,
}

/// One line of the timeline.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TimelineRow {
    /// When.
    pub at: String,
    /// What kind of entry, as the API names it (`alert_firing`).
    pub kind: String,
    /// The kind for people (`alert firing`).
    pub kind_text: String,
    /// The sentence.
    pub text: String,
    /// The fingerprint of the alert it is about; empty when none.
    pub alert: String,
    /// When, in Unix milliseconds (0 when unknown): the Logs page's `at`.
    pub at_ms: i64,
}

/// One alert of an incident.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IncidentAlertRow {
    /// Its fingerprint.
    pub fingerprint: String,
    /// `alertname`.
    pub name: String,
    /// The `summary` or `description` annotation.
    pub summary: String,
    /// The service its labels name.
    pub service: String,
    /// The instance.
    pub instance: String,
    /// The machine.
    pub node: String,
    /// Its severity.
    pub severity: String,
    /// True while it fires.
    pub firing: bool,
    /// How many times it fired in the incident.
    pub firings: u64,
    /// Its `startsAt`.
    pub starts_at: String,
    /// Where its KPI's deviation lies over the KPI's dimensions (the
    /// `root_cause_detail` annotation of a localised alert); empty when
    /// not localised.
    pub located: String,
}
