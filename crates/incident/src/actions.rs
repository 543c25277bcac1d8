//! What people and the notification pipeline do to incidents: acknowledge,
//! change the state, confirm a root, add a note, and record deliveries.
//!
//! ```
//! use argus_incident::correlate::{Correlator, Settings, Signal};
//! use argus_incident::model::State;
//! use argus_incident::topology::Topology;
//! use argus_model::Labels;
//!
//! let mut c = Correlator::new(Settings::default(), Topology::default());
//! let sig = Signal::firing(Labels::from_pairs(&[("alertname", "Down"), ("service", "db")]), 1_000);
//! let key = sig.key;
//! let id = c.observe(sig).unwrap();
//! c.notified(&[key], "oncall", 2_000);
//! c.acknowledge(id, "alice", 3_000).unwrap();
//! let inc = c.incident(id).unwrap();
//! assert_eq!((inc.state, inc.owner.as_deref()), (State::Acknowledged, Some("alice")));
//! assert_eq!(inc.times.notified_ms, Some(2_000));
//! ```

use crate::correlate::{place, Correlator};
use crate::model::{EntryKind, Root, State};
use std::collections::BTreeSet;

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// No incident has this id.
    #[error("no incident {0}")]
    NotFound(u64),
    /// It was merged into another; act on that one.
    #[error("incident {0} was merged into incident {1}")]
    Merged(u64, u64),
}

impl Correlator {
    fn active_mut(&mut self, id: u64) -> Result<&mut crate::model::Incident, ActionError> {
        let inc = self.incident_mut(id).ok_or(ActionError::NotFound(id))?;
        match inc.merged_into {
            Some(to) => Err(ActionError::Merged(id, to)),
            None => Ok(inc),
        }
    }

    /// `who` takes the incident: it becomes acknowledged (unless already
    /// further along) and theirs.
    pub fn acknowledge(&mut self, id: u64, who: &str, at_ms: i64) -> Result<(), ActionError> {
        let inc = self.active_mut(id)?;
        if inc.state == State::Open {
            inc.state = State::Acknowledged;
        }
        inc.owner = Some(who.to_string());
        if inc.times.acknowledged_ms.is_none() {
            inc.times.acknowledged_ms = Some(at_ms);
        }
        inc.log(
            at_ms,
            EntryKind::Acknowledged,
            format!("Acknowledged by {who}."),
            None,
        );
        Ok(())
    }

    /// `who` sets the state. Resolving closes it (its alerts start a new
    /// incident if they fire again); moving a resolved one back reopens it.
    pub fn set_state(
        &mut self,
        id: u64,
        state: State,
        who: &str,
        at_ms: i64,
    ) -> Result<(), ActionError> {
        let inc = self.active_mut(id)?;
        let was = inc.state;
        if was == state {
            return Ok(());
        }
        inc.state = state;
        if state != State::Open && inc.owner.is_none() {
            inc.owner = Some(who.to_string());
        }
        if state == State::Acknowledged && inc.times.acknowledged_ms.is_none() {
            inc.times.acknowledged_ms = Some(at_ms);
        }
        if state == State::Resolved && inc.times.recovered_ms.is_none() {
            inc.times.recovered_ms = Some(at_ms);
        }
        if was == State::Resolved {
            inc.times.recovered_ms = None;
        }
        let kind = if was == State::Resolved {
            EntryKind::Reopened
        } else {
            EntryKind::StateChanged
        };
        inc.log(
            at_ms,
            kind,
            format!("{who} set it {} (was {}).", state.as_str(), was.as_str()),
            None,
        );
        if state == State::Resolved {
            self.close(id);
        } else if was == State::Resolved {
            self.reactivate(id);
        }
        Ok(())
    }

    /// A runbook execution changed: `text` goes on the timeline and, for a
    /// verified execution, `recovered_at_ms` becomes the recovery time
    /// (unless one is set). An incident merged away passes it on.
    pub fn runbook(
        &mut self,
        id: u64,
        text: String,
        recovered_at_ms: Option<i64>,
        at_ms: i64,
    ) -> Result<(), ActionError> {
        let id = match self
            .incident(id)
            .ok_or(ActionError::NotFound(id))?
            .merged_into
        {
            Some(to) => to,
            None => id,
        };
        let inc = self.incident_mut(id).ok_or(ActionError::NotFound(id))?;
        if let (Some(t), None) = (recovered_at_ms, inc.times.recovered_ms) {
            inc.times.recovered_ms = Some(t);
        }
        inc.log(at_ms, EntryKind::Runbook, text, None);
        Ok(())
    }

    /// `who` confirms (or corrects) the root; the incident counts as located
    /// from now if it was not yet.
    pub fn confirm_root(
        &mut self,
        id: u64,
        mut root: Root,
        who: &str,
        at_ms: i64,
    ) -> Result<(), ActionError> {
        let inc = self.active_mut(id)?;
        root.confirmed_by = Some(who.to_string());
        root.confidence = 1.0;
        if inc.times.located_ms.is_none() {
            inc.times.located_ms = Some(at_ms);
        }
        inc.log(
            at_ms,
            EntryKind::Located,
            format!("{who} confirmed the root: {}.", place(&root)),
            None,
        );
        inc.root = Some(root);
        Ok(())
    }

    /// Adds a note from `who` to the timeline.
    pub fn note(&mut self, id: u64, who: &str, text: &str, at_ms: i64) -> Result<(), ActionError> {
        let inc = self.active_mut(id)?;
        inc.log(at_ms, EntryKind::Note, format!("{who}: {text}"), None);
        Ok(())
    }

    /// A notification about the alerts `keys` was delivered to `receiver`:
    /// each incident they are in records it (the first one sets the
    /// notified time). Returns the incidents touched.
    pub fn notified(&mut self, keys: &[u64], receiver: &str, at_ms: i64) -> Vec<u64> {
        let ids: BTreeSet<u64> = keys.iter().filter_map(|k| self.incident_of(*k)).collect();
        for id in &ids {
            if let Some(inc) = self.incident_mut(*id) {
                if inc.times.notified_ms.is_none() {
                    inc.times.notified_ms = Some(at_ms);
                }
                let n = keys.len();
                inc.log(
                    at_ms,
                    EntryKind::Notified,
                    format!(
                        "Notified {receiver} ({n} alert{}).",
                        if n == 1 { "" } else { "s" }
                    ),
                    None,
                );
            }
        }
        ids.into_iter().collect()
    }

    /// An alert was acknowledged in the alert pipeline: its incident counts
    /// as acknowledged too.
    pub fn alert_acknowledged(&mut self, key: u64, who: &str, at_ms: i64) -> Option<u64> {
        let id = self.incident_of(key)?;
        self.acknowledge(id, who, at_ms).ok()?;
        Some(id)
    }

    /// Moves the estimated fault start earlier (evidence found a series that
    /// moved before the first alert).
    pub fn set_fault_start(&mut self, id: u64, at_ms: i64) -> Result<(), ActionError> {
        let inc = self.active_mut(id)?;
        if at_ms < inc.times.fault_start_ms {
            inc.times.fault_start_ms = at_ms;
        }
        Ok(())
    }
}
