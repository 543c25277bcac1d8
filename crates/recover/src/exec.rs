//! Executions and the events that change them. Every change is an
//! [`Event`], written to the journal before it is applied, so replaying the
//! journal after a restart gives back every execution exactly as it was.
//!
//! ```
//! use argus_recover::exec::{Event, Execution, State};
//! use argus_recover::config::Runbook;
//! let rb: Runbook = serde_saphyr::from_str("name: r\nsteps: [{wait: 1s}]\n").unwrap();
//! let mut e = Execution::new(1, rb, Default::default(), Default::default(), "alice", 1_000, false);
//! assert_eq!(e.state, State::Running);
//! Event::Finished { at: 2_000, id: 1, state: State::Succeeded, reason: "verified".into() }.apply_to(&mut e);
//! assert!(e.state.is_final());
//! ```

use crate::config::{Mode, Runbook};
use crate::matching::Subject;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where an execution is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for someone other than the requester to approve.
    PendingApproval,
    /// Running its steps.
    Running,
    /// Steps done; waiting for verification to hold.
    Verifying,
    /// Running its rollback steps.
    RollingBack,
    /// Verified: the fault is recovered.
    Succeeded,
    /// Verification did not hold (or a step failed); rollback ran.
    RolledBack,
    /// It failed and could not be rolled back (no rollback steps, a rollback
    /// step failed, or a restart interrupted a step).
    Failed,
    /// Someone cancelled it, or the kill switch stopped it.
    Cancelled,
    /// Nobody approved it in time.
    Expired,
    /// A dry run: the plan is shown, nothing ran.
    DryRun,
}

impl State {
    /// Nothing more happens to it.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            State::PendingApproval | State::Running | State::Verifying | State::RollingBack
        )
    }

    /// It holds a place among the concurrent executions.
    pub fn is_active(self) -> bool {
        matches!(self, State::Running | State::Verifying | State::RollingBack)
    }

    /// The name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            State::PendingApproval => "pending_approval",
            State::Running => "running",
            State::Verifying => "verifying",
            State::RollingBack => "rolling_back",
            State::Succeeded => "succeeded",
            State::RolledBack => "rolled_back",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
            State::Expired => "expired",
            State::DryRun => "dry_run",
        }
    }
}

/// Which list a step belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The runbook's steps.
    Steps,
    /// Its rollback.
    Rollback,
}

/// One step as it ran (or, in a dry run, as it would run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRun {
    /// Steps or rollback.
    pub phase: Phase,
    /// Its place in its list, from 0.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// Its action's kind.
    pub kind: String,
    /// What it was given, rendered (secrets are named, never shown).
    pub inputs: serde_json::Value,
    /// When it started.
    pub started_ms: i64,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_ms: Option<i64>,
    /// Whether it succeeded, once ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    /// What it printed or answered (the first 8 KiB), or why it failed.
    #[serde(default)]
    pub output: String,
}

/// Verification's progress.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<i64>,
    /// Since when it has held without a break.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holding_since_ms: Option<i64>,
    /// When it was verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_ms: Option<i64>,
    /// The last check, in words.
    #[serde(default)]
    pub last: String,
}

/// One execution of a runbook for an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    /// Its id.
    pub id: u64,
    /// The runbook as it was when requested (a reload does not change an
    /// execution under way).
    pub runbook: Runbook,
    /// The incident.
    pub subject: Subject,
    /// The labels templates see (the first matching alert's).
    pub labels: BTreeMap<String, String>,
    /// Who asked (`argus` for automatic runs, `link:<who>` for links).
    pub requested_by: String,
    /// When.
    pub requested_ms: i64,
    /// Who approved, when approval was needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// A dry run.
    #[serde(default)]
    pub dry_run: bool,
    /// Where it is.
    pub state: State,
    /// Why it ended as it did.
    #[serde(default)]
    pub reason: String,
    /// The steps that ran (or would run), in order.
    #[serde(default)]
    pub steps: Vec<StepRun>,
    /// Verification.
    #[serde(default)]
    pub verification: Verification,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_ms: Option<i64>,
}

impl Execution {
    /// A new execution; it waits for approval when the runbook needs it.
    pub fn new(
        id: u64,
        runbook: Runbook,
        subject: Subject,
        labels: BTreeMap<String, String>,
        who: &str,
        at_ms: i64,
        dry_run: bool,
    ) -> Execution {
        let state = if dry_run {
            State::DryRun
        } else if runbook.mode == Mode::Approval {
            State::PendingApproval
        } else {
            State::Running
        };
        Execution {
            id,
            runbook,
            subject,
            labels,
            requested_by: who.to_string(),
            requested_ms: at_ms,
            approved_by: None,
            dry_run,
            state,
            reason: String::new(),
            steps: Vec::new(),
            verification: Verification::default(),
            finished_ms: if dry_run { Some(at_ms) } else { None },
        }
    }

    /// The step now running, if one is.
    pub fn in_flight(&self) -> Option<&StepRun> {
        self.steps.last().filter(|s| s.finished_ms.is_none())
    }

    /// The next step of `phase` to run: one past the last finished.
    pub fn next_index(&self, phase: Phase) -> usize {
        self.steps
            .iter()
            .filter(|s| s.phase == phase && s.finished_ms.is_some())
            .map(|s| s.index + 1)
            .max()
            .unwrap_or(0)
    }
}

/// One change, as written to the journal (one JSON line each).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Someone (or the automatic mode) asked for an execution.
    Requested {
        /// When.
        at: i64,
        /// The execution as created (dry runs carry their plan).
        execution: Box<Execution>,
    },
    /// A request was refused by a guard.
    Refused {
        /// When.
        at: i64,
        /// The runbook.
        runbook: String,
        /// The incident.
        incident: u64,
        /// Who asked.
        who: String,
        /// Why.
        reason: String,
    },
    /// Someone approved it.
    Approved {
        /// When.
        at: i64,
        /// The execution.
        id: u64,
        /// Who.
        who: String,
    },
    /// A step started.
    StepStarted {
        /// When.
        at: i64,
        /// The execution.
        id: u64,
        /// Steps or rollback.
        phase: Phase,
        /// Its index in its list.
        index: usize,
        /// Its name.
        name: String,
        /// Its kind.
        kind: String,
        /// Its rendered inputs.
        inputs: serde_json::Value,
    },
    /// A step ended.
    StepFinished {
        /// When.
        at: i64,
        /// The execution.
        id: u64,
        /// Whether it succeeded.
        ok: bool,
        /// Its output, or why it failed.
        output: String,
    },
    /// Steps done; verification starts.
    Verifying {
        /// When.
        at: i64,
        /// The execution.
        id: u64,
    },
    /// Verification failed or a step failed: the rollback starts.
    RollingBack {
        /// When.
        at: i64,
        /// The execution.
        id: u64,
        /// Why.
        reason: String,
    },
    /// It ended.
    Finished {
        /// When.
        at: i64,
        /// The execution.
        id: u64,
        /// How.
        state: State,
        /// Why.
        reason: String,
    },
    /// The kill switch was turned on or off.
    KillSwitch {
        /// When.
        at: i64,
        /// Who.
        who: String,
        /// On (everything stops) or off.
        on: bool,
    },
}

impl Event {
    /// When it happened.
    pub fn at(&self) -> i64 {
        match self {
            Event::Requested { at, .. }
            | Event::Refused { at, .. }
            | Event::Approved { at, .. }
            | Event::StepStarted { at, .. }
            | Event::StepFinished { at, .. }
            | Event::Verifying { at, .. }
            | Event::RollingBack { at, .. }
            | Event::Finished { at, .. }
            | Event::KillSwitch { at, .. } => *at,
        }
    }

    /// The execution it changes, if one.
    pub fn execution(&self) -> Option<u64> {
        match self {
            Event::Requested { execution, .. } => Some(execution.id),
            Event::Approved { id, .. }
            | Event::StepStarted { id, .. }
            | Event::StepFinished { id, .. }
            | Event::Verifying { id, .. }
            | Event::RollingBack { id, .. }
            | Event::Finished { id, .. } => Some(*id),
            Event::Refused { .. } | Event::KillSwitch { .. } => None,
        }
    }

    /// Applies it to its execution (a `Requested` event replaces `e`).
    pub fn apply_to(&self, e: &mut Execution) {
        match self {
            Event::Requested { execution, .. } => *e = (**execution).clone(),
            Event::Approved { who, .. } => {
                e.approved_by = Some(who.clone());
                e.state = State::Running;
            }
            Event::StepStarted {
                at,
                phase,
                index,
                name,
                kind,
                inputs,
                ..
            } => e.steps.push(StepRun {
                phase: *phase,
                index: *index,
                name: name.clone(),
                kind: kind.clone(),
                inputs: inputs.clone(),
                started_ms: *at,
                finished_ms: None,
                ok: None,
                output: String::new(),
            }),
            Event::StepFinished { at, ok, output, .. } => {
                if let Some(s) = e.steps.last_mut().filter(|s| s.finished_ms.is_none()) {
                    s.finished_ms = Some(*at);
                    s.ok = Some(*ok);
                    s.output.clone_from(output);
                }
            }
            Event::Verifying { at, .. } => {
                e.state = State::Verifying;
                e.verification.started_ms = Some(*at);
            }
            Event::RollingBack { reason, .. } => {
                e.state = State::RollingBack;
                e.reason.clone_from(reason);
            }
            Event::Finished {
                at, state, reason, ..
            } => {
                e.state = *state;
                e.reason.clone_from(reason);
                e.finished_ms = Some(*at);
                if *state == State::Succeeded {
                    e.verification.verified_ms = Some(*at);
                }
            }
            Event::Refused { .. } | Event::KillSwitch { .. } => {}
        }
    }
}
