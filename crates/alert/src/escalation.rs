//! Escalation policies and acknowledgement.
//!
//! An aggregation group whose firing alerts match a policy starts escalating when its first
//! firing notification is delivered. Level `i` of round `r` is due at
//! `started_at + r * last_after + levels[i].after`, for `r` in `0..=repeat`. An acknowledgement of
//! the group (or of every firing alert in it) stops the escalation, as does the group having no
//! firing alert left.
//!
//! ```
//! use argus_alert::config::{EscalationLevelConfig, EscalationPolicyConfig};
//! use argus_alert::escalation::EscalationState;
//! use argus_model::PromDuration;
//! let p = EscalationPolicyConfig {
//!     name: "p".into(),
//!     levels: vec![
//!         EscalationLevelConfig { after: PromDuration::from_secs(600), ..Default::default() },
//!         EscalationLevelConfig { after: PromDuration::from_secs(1800), ..Default::default() },
//!     ],
//!     repeat: 1,
//!     ..Default::default()
//! };
//! let mut s = EscalationState::new(0, "{}:{}", "p", 0);
//! let mut due = vec![];
//! while let Some((at, level, round)) = s.due(&p) { due.push((at / 60_000, level, round)); s.next_step += 1; }
//! assert_eq!(due, vec![(10, 0, 0), (30, 1, 0), (40, 0, 1), (60, 1, 1)]);
//! ```

use crate::config::{all_match, EscalationPolicyConfig};
use argus_model::Labels;
use serde::{Deserialize, Serialize};

/// Who acknowledged, when and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// Who.
    pub who: String,
    /// When, ms.
    pub at: i64,
    /// Why.
    #[serde(default)]
    pub comment: String,
}

/// What an acknowledgement is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckTarget {
    /// One alert, by fingerprint.
    Alert(u64),
    /// One aggregation group, by group key.
    Group(String),
}

/// The escalation of one aggregation group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationState {
    /// Route index of the group.
    pub route: usize,
    /// Group key.
    pub group_key: String,
    /// Policy name.
    pub policy: String,
    /// When the group was first notified, ms.
    pub started_at: i64,
    /// Steps already taken (`round * levels + level`).
    pub next_step: u32,
    /// Set once acknowledged.
    pub acked: Option<Ack>,
}

impl EscalationState {
    /// A fresh escalation.
    pub fn new(route: usize, group_key: &str, policy: &str, started_at: i64) -> Self {
        EscalationState {
            route,
            group_key: group_key.to_string(),
            policy: policy.to_string(),
            started_at,
            next_step: 0,
            acked: None,
        }
    }

    /// The store key.
    pub fn store_key(&self) -> String {
        serde_json::json!([self.route, self.group_key]).to_string()
    }

    /// `(due time, level, round)` of the next step, or `None` when finished or acknowledged.
    pub fn due(&self, p: &EscalationPolicyConfig) -> Option<(i64, usize, u32)> {
        if self.acked.is_some() || p.levels.is_empty() {
            return None;
        }
        let n = p.levels.len() as u32;
        let (round, level) = (self.next_step / n, (self.next_step % n) as usize);
        if round > p.repeat {
            return None;
        }
        let last = p.levels[p.levels.len() - 1].after.as_millis();
        Some((
            self.started_at + i64::from(round) * last + p.levels[level].after.as_millis(),
            level,
            round,
        ))
    }
}

/// The first policy that covers any of the firing alerts' label sets.
pub fn policy_for<'a, 'b>(
    policies: &'a [EscalationPolicyConfig],
    firing: impl Iterator<Item = &'b Labels> + Clone,
) -> Option<&'a EscalationPolicyConfig> {
    policies
        .iter()
        .find(|p| firing.clone().any(|l| all_match(&p.matchers.0, l)))
}
