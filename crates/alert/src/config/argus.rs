//! Argus's own settings, under the top-level `argus:` key so the rest of the file stays a valid
//! Alertmanager config.
//!
//! ```yaml
//! argus:
//!   external_url: https://argus.example.com
//!   flap_damping: {enabled: true, window: 10m, max_transitions: 4, hold: 5m}
//!   retry: {initial: 1s, max: 1m, max_attempts: 8}
//!   contacts:
//!     - {name: alice, email: alice@example.com, priority: 1}
//!   contact_groups:
//!     - {name: dba, members: [alice], priority: 1}
//!   escalation_policies:
//!     - name: critical
//!       matchers: ['severity="critical"']
//!       levels:
//!         - {after: 10m, receivers: [team-lead]}
//!         - {after: 30m, receivers: [manager]}
//!       repeat: 1
//!   forward_to_alertmanager:
//!     - {receiver: team, url: "http://alertmanager:9093"}
//! ```
//!
//! `forward_to_alertmanager` adds an integration to an existing receiver: every notification of
//! that receiver is also posted to the external Alertmanager's `POST /api/v2/alerts` (firing
//! alerts without `endsAt`, so the remote applies its own `resolve_timeout`; resolved alerts with
//! their end). Its integration index comes after the receiver's own integrations.

use super::matchers::MatcherList;
use argus_model::PromDuration;
use serde::Deserialize;

/// The `argus:` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgusConfig {
    /// URL of this Argus, used as `externalURL` in payloads.
    #[serde(default)]
    pub external_url: Option<String>,
    /// Flap damping.
    #[serde(default)]
    pub flap_damping: FlapDampingConfig,
    /// Retries of failed deliveries.
    #[serde(default)]
    pub retry: RetryConfig,
    /// People.
    #[serde(default)]
    pub contacts: Vec<ContactConfig>,
    /// Groups of people.
    #[serde(default)]
    pub contact_groups: Vec<ContactGroupConfig>,
    /// Escalation policies.
    #[serde(default)]
    pub escalation_policies: Vec<EscalationPolicyConfig>,
    /// Receivers whose notifications are also forwarded to an external Alertmanager.
    #[serde(default)]
    pub forward_to_alertmanager: Vec<ForwardConfig>,
}

/// Forwarding one receiver's alerts to an external Alertmanager (API v2).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardConfig {
    /// The receiver (defined under `receivers:`) whose notifications are forwarded.
    pub receiver: String,
    /// Base URL of the Alertmanager, for example `http://alertmanager:9093`.
    pub url: String,
    /// Forward resolved alerts too (default true).
    #[serde(default)]
    pub send_resolved: Option<bool>,
}

/// Flap damping. An alert that changed state (firing ↔ resolved) more than `max_transitions`
/// times within `window` is *flapping*; a flapping alert that resolves is still reported as
/// firing until it has stayed resolved for `hold`. Defaults: enabled, 10m, 4, 5m.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlapDampingConfig {
    /// On or off (default on).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Window over which transitions are counted (default 10m).
    #[serde(default = "ten_minutes")]
    pub window: PromDuration,
    /// More transitions than this in the window is flapping (default 4).
    #[serde(default = "four")]
    pub max_transitions: usize,
    /// How long a flapping alert must stay resolved before it is reported resolved (default 5m).
    #[serde(default = "five_minutes")]
    pub hold: PromDuration,
}

impl Default for FlapDampingConfig {
    fn default() -> Self {
        FlapDampingConfig {
            enabled: true,
            window: ten_minutes(),
            max_transitions: 4,
            hold: five_minutes(),
        }
    }
}

/// Exponential backoff for failed deliveries: `initial`, doubled each attempt up to `max`, for
/// at most `max_attempts` attempts. Only errors that say `is_retryable()` are retried.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// First delay (default 1s).
    #[serde(default = "one_second")]
    pub initial: PromDuration,
    /// Largest delay (default 1m).
    #[serde(default = "one_minute")]
    pub max: PromDuration,
    /// Attempts in all, the first included (default 8).
    #[serde(default = "eight")]
    pub max_attempts: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            initial: one_second(),
            max: one_minute(),
            max_attempts: 8,
        }
    }
}

/// A person.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactConfig {
    /// Unique name.
    pub name: String,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// Chat handle.
    #[serde(default)]
    pub chat: Option<String>,
    /// Lower is contacted first.
    #[serde(default)]
    pub priority: u32,
}

/// A group of contacts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactGroupConfig {
    /// Unique name.
    pub name: String,
    /// Contact names.
    #[serde(default)]
    pub members: Vec<String>,
    /// Lower is contacted first.
    #[serde(default)]
    pub priority: u32,
}

/// An escalation policy. It applies to an aggregation group when any of its firing alerts
/// matches `matchers`. Level `i` is notified `levels[i].after` after the group's first
/// notification unless acknowledged; after the last level the levels repeat `repeat` more
/// times, each round shifted by the last level's `after`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationPolicyConfig {
    /// Unique name.
    pub name: String,
    /// Which alerts it covers; empty covers all.
    #[serde(default)]
    pub matchers: MatcherList,
    /// Levels, with strictly increasing `after`.
    pub levels: Vec<EscalationLevelConfig>,
    /// Extra rounds after the last level (default 0).
    #[serde(default)]
    pub repeat: u32,
}

/// One escalation level.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationLevelConfig {
    /// Delay after the first notification.
    pub after: PromDuration,
    /// Receivers to notify.
    #[serde(default)]
    pub receivers: Vec<String>,
    /// Contacts or contact groups to name in the notification.
    #[serde(default)]
    pub contacts: Vec<String>,
}

fn yes() -> bool {
    true
}
fn four() -> usize {
    4
}
fn eight() -> u32 {
    8
}
fn one_second() -> PromDuration {
    PromDuration::from_secs(1)
}
fn one_minute() -> PromDuration {
    PromDuration::from_secs(60)
}
fn five_minutes() -> PromDuration {
    PromDuration::from_secs(300)
}
fn ten_minutes() -> PromDuration {
    PromDuration::from_secs(600)
}
