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

use crate::config::{all_match, ArgusConfig, EscalationLevelConfig, EscalationPolicyConfig};
use argus_model::Labels;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

/// The policies with contact groups expanded into their priority tiers, as the dispatcher runs
/// them. A level that names contacts or groups becomes one step per distinct delay: the level's
/// own receivers and directly named contacts at `after`; tier `k` of a group at
/// `after + k * tier_interval`. Every contact `c` is delivered through receiver `contact:c`, and
/// the step's `contacts` lists the contacts of that step. Errors name the policy when a name is
/// unknown or the expanded steps are not strictly increasing.
///
/// ```
/// use argus_alert::config::Config;
/// let cfg = Config::parse(r#"
/// route: {receiver: r}
/// receivers: [{name: r}]
/// argus:
///   contacts: [{name: a, webhook_url: "http://x/a"}, {name: b, webhook_url: "http://x/b"}]
///   contact_groups: [{name: g, members: [{contact: b, priority: 2}, a], tier_interval: 5m}]
///   escalation_policies:
///     - {name: p, levels: [{after: 10m, receivers: [r], contacts: [g]}, {after: 30m, receivers: [r]}]}
/// "#, "am.yml").unwrap();
/// let p = argus_alert::escalation::expand_policies(&cfg.argus).unwrap();
/// let steps: Vec<_> = p[0].levels.iter()
///     .map(|l| (l.after.as_millis() / 60_000, l.receivers.clone())).collect();
/// assert_eq!(steps, vec![
///     (10, vec!["r".to_string(), "contact:a".into()]),
///     (15, vec!["contact:b".into()]),
///     (30, vec!["r".into()]),
/// ]);
/// ```
pub fn expand_policies(cfg: &ArgusConfig) -> Result<Vec<EscalationPolicyConfig>, String> {
    let contact_prio: BTreeMap<&str, u32> = cfg
        .contacts
        .iter()
        .map(|c| (c.name.as_str(), c.priority.unwrap_or(1)))
        .collect();
    let mut out = Vec::with_capacity(cfg.escalation_policies.len());
    for p in &cfg.escalation_policies {
        let mut levels = Vec::new();
        for l in &p.levels {
            // offset ms → contacts notified at that offset, in order.
            let mut at: BTreeMap<i64, Vec<String>> = BTreeMap::new();
            at.insert(0, Vec::new());
            for name in &l.contacts {
                if contact_prio.contains_key(name.as_str()) {
                    push_unique(at.entry(0).or_default(), name);
                    continue;
                }
                let Some(g) = cfg.contact_groups.iter().find(|g| &g.name == name) else {
                    return Err(format!(
                        "escalation policy {:?} names {name:?}, which is neither a contact nor a contact group",
                        p.name
                    ));
                };
                let mut tiers: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
                for m in &g.members {
                    let prio = match m {
                        crate::config::GroupMember::Entry(e) => e.priority,
                        crate::config::GroupMember::Name(_) => None,
                    }
                    .or_else(|| contact_prio.get(m.contact()).copied())
                    .unwrap_or(1);
                    tiers.entry(prio).or_default().push(m.contact());
                }
                for (k, members) in tiers.values().enumerate() {
                    let off = k as i64 * g.tier_interval().as_millis();
                    for c in members {
                        push_unique(at.entry(off).or_default(), c);
                    }
                }
            }
            for (off, contacts) in at {
                let mut receivers = if off == 0 {
                    l.receivers.clone()
                } else {
                    Vec::new()
                };
                receivers.extend(contacts.iter().map(|c| format!("contact:{c}")));
                levels.push(EscalationLevelConfig {
                    after: argus_model::PromDuration(l.after.as_millis() + off),
                    receivers,
                    contacts,
                });
            }
        }
        for w in levels.windows(2) {
            if w[1].after.as_millis() <= w[0].after.as_millis() {
                return Err(format!(
                    "escalation policy {:?}: with contact-group tiers, steps at {} and {} are not strictly increasing (shorten tier_interval or space the levels)",
                    p.name, w[0].after, w[1].after
                ));
            }
        }
        out.push(EscalationPolicyConfig {
            name: p.name.clone(),
            matchers: p.matchers.clone(),
            levels,
            repeat: p.repeat,
        });
    }
    Ok(out)
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}
