//! The plain data the pages show. The server fills these structs (from its
//! JSON APIs) and hands them to [`crate::Ui`]; nothing here knows where the
//! data came from.
//!
//! ```
//! use argus_ui::model::{LevelCount, Overview};
//! let o = Overview {
//!     firing_by_level: vec![LevelCount { level: "critical".into(), count: 2 }],
//!     ..Overview::default()
//! };
//! assert_eq!(o.firing_total(), 2);
//! ```

mod incidents;
mod logs;
mod runbooks;

pub use incidents::{
    AssistantView, ChangeRow, IncidentAlertRow, IncidentPage, IncidentRow, IncidentView,
    IncidentsPage, Milestone, MoveRow, OneFiveTen, RootView, SuspectRow, TimeFigure, TimelineRow,
};
pub use logs::LogsPage;
pub use runbooks::{ExecutionRow, RunbookRow, RunbooksView, StepRow};

use serde::Serialize;
use std::collections::BTreeMap;

/// One label pair, in display order.
pub type LabelSet = BTreeMap<String, String>;

/// The overview page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overview {
    /// One row per service, in the health API's order.
    pub services: Vec<ServiceRow>,
    /// Distinct node names among the services.
    pub nodes: Vec<NodeRow>,
    /// Firing (not resolved) alerts counted by level, highest first.
    pub firing_by_level: Vec<LevelCount>,
    /// The most severe firing alerts (at most a screenful).
    pub firing: Vec<AlertRow>,
    /// The 1-5-10 figures of recent incidents; `None` when there were none.
    pub one_five_ten: Option<OneFiveTen>,
    /// Series in the store's head block.
    pub head_series: u64,
    /// What went wrong while gathering the data (shown, never fatal).
    pub errors: Vec<String>,
}

impl Overview {
    /// Firing alerts over all levels.
    pub fn firing_total(&self) -> usize {
        self.firing_by_level.iter().map(|l| l.count).sum()
    }
}

/// A node and how its services are doing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NodeRow {
    /// The node name.
    pub node: String,
    /// Services on it.
    pub services: usize,
    /// Services on it whose status is neither `up` nor `normal`.
    pub unhealthy: usize,
    /// Whether an agent or node_exporter on it reports metrics
    /// (`node_uname_info`).
    pub reporting: bool,
}

/// One service's five-tuple.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServiceRow {
    /// The node.
    pub node: String,
    /// `software` or `hardware`.
    pub source: String,
    /// What was checked.
    pub content: String,
    /// `up`, `down`, `overloaded`, `normal`, `starved` or `unknown`.
    pub status: String,
    /// The value (saturation, 1/0), formatted; empty when unknown.
    pub value: String,
    /// The saturation class of the service's saturation check, if any.
    pub saturation: String,
    /// The service name.
    pub service: String,
}

/// Firing alerts of one level.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LevelCount {
    /// The `level` (or `severity`) label value, `none` when absent.
    pub level: String,
    /// How many.
    pub count: usize,
}

/// One alert as the pages show it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AlertRow {
    /// The 16-hex-digit fingerprint the action endpoints take.
    pub fingerprint: String,
    /// `alertname`.
    pub name: String,
    /// The level or severity label, `none` when absent.
    pub level: String,
    /// `active`, `suppressed` or `unprocessed`.
    pub state: String,
    /// Who acknowledged it, when someone did.
    pub acked_by: Option<String>,
    /// Whether `endsAt` has passed (resolved).
    pub resolved: bool,
    /// All labels.
    pub labels: LabelSet,
    /// The `summary` or `description` annotation.
    pub summary: String,
    /// `startsAt`.
    pub starts_at: String,
    /// Silences that mute it.
    pub silenced_by: Vec<String>,
    /// Matchers for a silence prefilled from the labels (`name="value"`, one per line).
    pub silence_matchers: String,
}

/// One aggregation group of the routing tree.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AlertGroup {
    /// The receiver the route sends to.
    pub receiver: String,
    /// The group-by labels.
    pub labels: LabelSet,
    /// Its alerts.
    pub alerts: Vec<AlertRow>,
}

/// The alerts page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AlertsPage {
    /// Groups as routed.
    pub groups: Vec<AlertGroup>,
    /// Errors while gathering the data.
    pub errors: Vec<String>,
}

/// One silence.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SilenceRow {
    /// Its id.
    pub id: String,
    /// `active`, `pending` or `expired`.
    pub state: String,
    /// Matchers, formatted (`name="value"`).
    pub matchers: Vec<String>,
    /// Start, RFC 3339.
    pub starts_at: String,
    /// End, RFC 3339.
    pub ends_at: String,
    /// Author.
    pub created_by: String,
    /// Comment.
    pub comment: String,
}

/// The silences page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SilencesPage {
    /// Silences, active first.
    pub silences: Vec<SilenceRow>,
    /// Matchers to prefill the form with (from an alert's "Silence" button).
    pub prefill_matchers: String,
    /// Errors while gathering the data.
    pub errors: Vec<String>,
}

/// One rule (static or dynamic).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleRow {
    /// The group (file) it belongs to, or `dynamic`.
    pub group: String,
    /// The rule's name.
    pub name: String,
    /// `alerting`, `recording` or `dynamic`.
    pub kind: String,
    /// The query or selector.
    pub query: String,
    /// `ok`, `err` or `unknown`.
    pub health: String,
    /// The last error, if any.
    pub last_error: String,
    /// The last evaluation time, RFC 3339, or empty.
    pub last_evaluation: String,
    /// How long it took, formatted.
    pub evaluation_time: String,
}

/// One (dynamic rule, series) model.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModelRow {
    /// The dynamic rule.
    pub rule: String,
    /// The series labels, formatted `{a="b"}`.
    pub series: String,
    /// A selector for the series (used by the retrain button).
    pub selector: String,
    /// `untrained`, `training` or `trained`.
    pub state: String,
    /// Training progress, `done/total stage`, when training.
    pub progress: String,
    /// The algorithm.
    pub algorithm: String,
    /// The model version.
    pub version: u64,
    /// Scores, formatted `name=value`.
    pub scores: String,
    /// When it was trained.
    pub trained_at: String,
    /// Points the detector has seen.
    pub points_seen: u64,
    /// The last training error.
    pub last_error: String,
}

/// The rules and models page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RulesPage {
    /// Static rules (from rule files).
    pub rules: Vec<RuleRow>,
    /// Models shown (at most `model_limit`).
    pub models: Vec<ModelRow>,
    /// Models in all (before the limit).
    pub models_total: usize,
    /// Dynamic rule names among the models shown (suggestions for the filter).
    pub dynamic_rules: Vec<String>,
    /// The rule filter in force, if any.
    pub rule_filter: String,
    /// Errors while gathering the data.
    pub errors: Vec<String>,
}

/// The explorer page (the browser fetches the data).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExplorerPage {
    /// The query to start with.
    pub query: String,
    /// The range to start with (`15m`, `1h`, …).
    pub range: String,
}
