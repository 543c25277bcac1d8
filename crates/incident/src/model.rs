//! The incident as stored and shown: its alerts, root candidate, state,
//! owner, severity, the 1-5-10 times and the timeline.
//!
//! ```
//! use argus_incident::model::{Severity, State, Times};
//! assert!(Severity::Critical > Severity::Warning);
//! assert_eq!(Severity::parse("page"), Severity::Critical);
//! let t = Times { fault_start_ms: 0, detected_ms: 45_000, located_ms: Some(200_000), ..Times::default() };
//! assert_eq!(t.time_to_detect_ms(), 45_000);
//! assert_eq!(t.time_to_locate_ms(), Some(200_000));
//! assert_eq!(State::Open.as_str(), "open");
//! ```

use crate::entity::Entities;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where an incident is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Alerts fire and nobody has taken it.
    Open,
    /// A person has taken it.
    Acknowledged,
    /// A person says the impact is stopped; alerts may still fire.
    Mitigated,
    /// Every alert resolved and stayed resolved, or a person closed it.
    Resolved,
}

impl State {
    /// The lower-case name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Acknowledged => "acknowledged",
            State::Mitigated => "mitigated",
            State::Resolved => "resolved",
        }
    }

    /// Parses the API's name.
    pub fn parse(s: &str) -> Option<State> {
        Some(match s {
            "open" => State::Open,
            "acknowledged" => State::Acknowledged,
            "mitigated" => State::Mitigated,
            "resolved" => State::Resolved,
            _ => return None,
        })
    }
}

/// How bad an alert or incident is, from the alert's `severity` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// No or an unknown severity.
    None,
    /// `info`.
    Info,
    /// `warning`.
    Warning,
    /// `error`, `major`, `high`.
    Error,
    /// `critical`, `page`, `emergency`, `disaster`.
    Critical,
}

impl Severity {
    /// Reads a `severity` label's value, case-insensitively, with the common
    /// synonyms and the alert levels 1–4 of dynamic rules.
    pub fn parse(s: &str) -> Severity {
        match s.to_ascii_lowercase().as_str() {
            "critical" | "page" | "emergency" | "disaster" | "fatal" | "p1" | "4" => {
                Severity::Critical
            }
            "error" | "major" | "high" | "p2" | "3" => Severity::Error,
            "warning" | "warn" | "minor" | "average" | "medium" | "p3" | "2" => Severity::Warning,
            "info" | "information" | "low" | "notice" | "p4" | "1" => Severity::Info,
            _ => Severity::None,
        }
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }
}

/// What the incident's fault is believed to be.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Root {
    /// The service at the root, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The instance, when one instance stands out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The machine, for a machine's fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The alert (or metric) that shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// 0–1: how well this root explains the incident's other alerts.
    pub confidence: f64,
    /// Who confirmed it, when a person did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<String>,
}

/// The 1-5-10 times, in milliseconds since the epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Times {
    /// When the fault began, estimated from the root's signals (the start of
    /// its earliest alert, or earlier where its series moved before).
    pub fault_start_ms: i64,
    /// When the first alert of the incident fired.
    pub detected_ms: i64,
    /// When the first notification about it was delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified_ms: Option<i64>,
    /// When a person first took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_ms: Option<i64>,
    /// When a root was named with enough confidence, or confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub located_ms: Option<i64>,
    /// When the last alert resolved, once every alert stayed resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_ms: Option<i64>,
}

/// The 1-5-10 goals: detected within a minute of the fault, located within
/// five, recovered within ten.
pub const GOALS_MS: [i64; 3] = [60_000, 300_000, 600_000];

/// Whether each 1-5-10 goal was met: `Some(true)` met, `Some(false)` missed
/// (late, or not yet reached and already past the goal), `None` not reached
/// and still within it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Goals {
    /// Detected within a minute.
    pub detect: Option<bool>,
    /// Located within five minutes.
    pub locate: Option<bool>,
    /// Recovered within ten minutes.
    pub recover: Option<bool>,
}

impl Times {
    /// Which goals were met, as of `now_ms`.
    ///
    /// ```
    /// use argus_incident::model::Times;
    /// let t = Times { fault_start_ms: 0, detected_ms: 45_000, located_ms: Some(400_000), ..Times::default() };
    /// let g = t.goals(500_000);
    /// assert_eq!((g.detect, g.locate, g.recover), (Some(true), Some(false), None));
    /// assert_eq!(t.goals(700_000).recover, Some(false));
    /// ```
    pub fn goals(&self, now_ms: i64) -> Goals {
        let judge = |took: Option<i64>, goal: i64| match took {
            Some(ms) => Some(ms <= goal),
            None => (now_ms - self.fault_start_ms > goal).then_some(false),
        };
        Goals {
            detect: judge(Some(self.time_to_detect_ms()), GOALS_MS[0]),
            locate: judge(self.time_to_locate_ms(), GOALS_MS[1]),
            recover: judge(self.time_to_recover_ms(), GOALS_MS[2]),
        }
    }

    /// Fault start to detection.
    pub fn time_to_detect_ms(&self) -> i64 {
        (self.detected_ms - self.fault_start_ms).max(0)
    }

    /// Fault start to location.
    pub fn time_to_locate_ms(&self) -> Option<i64> {
        self.located_ms.map(|t| (t - self.fault_start_ms).max(0))
    }

    /// Fault start to recovery.
    pub fn time_to_recover_ms(&self) -> Option<i64> {
        self.recovered_ms.map(|t| (t - self.fault_start_ms).max(0))
    }

    /// Fault start to the first delivered notification.
    pub fn time_to_notify_ms(&self) -> Option<i64> {
        self.notified_ms.map(|t| (t - self.fault_start_ms).max(0))
    }

    /// Fault start to the first acknowledgement.
    pub fn time_to_acknowledge_ms(&self) -> Option<i64> {
        self.acknowledged_ms
            .map(|t| (t - self.fault_start_ms).max(0))
    }
}

/// One alert in an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentAlert {
    /// The alert's identity (the fingerprint of its labels).
    pub key: u64,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its annotations as last seen.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// What its labels resolve to.
    pub entities: Entities,
    /// Its severity.
    pub severity: Severity,
    /// The alert's own start (`startsAt`) of its first firing in the incident.
    pub starts_at_ms: i64,
    /// When it first joined the incident.
    pub joined_ms: i64,
    /// When it last fired or resolved.
    pub changed_ms: i64,
    /// True while it fires.
    pub firing: bool,
    /// How many times it fired in this incident.
    pub firings: u32,
    /// While firing: when its last send stops being valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<i64>,
}

/// What a timeline entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// The incident opened.
    Opened,
    /// An alert fired (or fired again).
    AlertFiring,
    /// An alert resolved.
    AlertResolved,
    /// A notification was delivered.
    Notified,
    /// A person acknowledged it.
    Acknowledged,
    /// The root candidate changed or was confirmed.
    Located,
    /// Another incident was merged into this one.
    Merged,
    /// A person changed its state.
    StateChanged,
    /// Every alert resolved and stayed resolved.
    Recovered,
    /// It opened again after being resolved.
    Reopened,
    /// A note from a person.
    Note,
    /// A runbook execution started, was verified, or failed.
    Runbook,
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// When, in ms since the epoch.
    pub at_ms: i64,
    /// What happened.
    pub kind: EntryKind,
    /// A sentence for people.
    pub text: String,
    /// The alert it is about, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<u64>,
}

/// The most timeline entries an incident keeps; the oldest alert entries go
/// first beyond this.
pub const MAX_TIMELINE: usize = 1000;

/// One incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Its number, unique in this Argus.
    pub id: u64,
    /// A one-line summary.
    pub title: String,
    /// Where it is in its life.
    pub state: State,
    /// Who has it, once someone took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The worst severity among its alerts.
    pub severity: Severity,
    /// The root candidate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<Root>,
    /// The 1-5-10 times.
    pub times: Times,
    /// Its alerts, in the order they joined.
    pub alerts: Vec<IncidentAlert>,
    /// What happened, oldest first.
    pub timeline: Vec<Entry>,
    /// Set when it was merged into another incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<u64>,
    /// What else moved around it, best first ([`crate::evidence`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<crate::evidence::Move>,
    /// When the evidence was last gathered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_at_ms: Option<i64>,
    /// Deploys, configuration changes and other events of its services from
    /// half an hour before the fault on, gathered with the evidence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<crate::changes::Change>,
    /// Its likely causes, best first ([`crate::suspects`]), ranked with the
    /// evidence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suspects: Vec<crate::suspects::Suspect>,
    /// What a language model made of the evidence, when someone asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistant: Option<AssistantNote>,
    /// The last time anything changed.
    pub updated_ms: i64,
}

/// A language model's reading of an incident, with what it was sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistantNote {
    /// When it was asked, ms.
    pub at_ms: i64,
    /// The model that answered.
    pub model: String,
    /// Who asked.
    pub who: String,
    /// The instructions sent.
    pub system: String,
    /// The evidence sent.
    pub evidence: String,
    /// Its answer; empty when it failed.
    pub answer: String,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Incident {
    /// True while any of its alerts fires.
    pub fn firing(&self) -> bool {
        self.alerts.iter().any(|a| a.firing)
    }

    /// True unless resolved or merged away.
    pub fn is_active(&self) -> bool {
        self.state != State::Resolved && self.merged_into.is_none()
    }

    /// Appends a timeline entry, dropping the oldest alert entries beyond
    /// [`MAX_TIMELINE`].
    pub fn log(&mut self, at_ms: i64, kind: EntryKind, text: String, alert: Option<u64>) {
        self.timeline.push(Entry {
            at_ms,
            kind,
            text,
            alert,
        });
        if self.timeline.len() > MAX_TIMELINE {
            let drop = self
                .timeline
                .iter()
                .position(|e| matches!(e.kind, EntryKind::AlertFiring | EntryKind::AlertResolved))
                .unwrap_or(0);
            self.timeline.remove(drop);
        }
        self.updated_ms = self.updated_ms.max(at_ms);
    }

    /// The distinct services of its alerts.
    pub fn services(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .alerts
            .iter()
            .filter_map(|a| a.entities.service.as_deref())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}
