//! Argus's own settings, under the top-level `argus:` key so the rest of the file stays a valid
//! Alertmanager config.
//!
//! ```yaml
//! argus:
//!   external_url: https://argus.example.com
//!   history_retention: 90d                       # alert, notification and action history
//!   flap_damping: {enabled: true, window: 10m, max_transitions: 4, hold: 5m}
//!   retry: {initial: 1s, max: 1m, max_attempts: 8}
//!   links: {ttl: 24h, silence_for: 2h}          # secret: from the data dir unless set
//!   contacts:
//!     - {name: alice, email: alice@example.com, phone: "+86-138", priority: 1}
//!     - {name: bob, webhook_url: "http://pager/bob"}
//!   contact_groups:
//!     - name: dba
//!       members: [alice, {contact: bob, priority: 2}]
//!       tier_interval: 5m
//!   escalation_policies:
//!     - name: critical
//!       matchers: ['severity="critical"']
//!       levels:
//!         - {after: 10m, receivers: [team-lead], contacts: [dba]}
//!         - {after: 30m, receivers: [manager]}
//!       repeat: 1
//!   dingtalk_configs: [{receiver: team, url: "https://oapi.dingtalk.com/robot/send?access_token=T"}]
//!   forward_to_alertmanager:
//!     - {receiver: team, url: "http://alertmanager:9093"}
//! ```
//!
//! `forward_to_alertmanager` adds an integration to an existing receiver: every notification of
//! that receiver is also posted to the external Alertmanager's `POST /api/v2/alerts` (firing
//! alerts without `endsAt`, so the remote applies its own `resolve_timeout`; resolved alerts with
//! their end). Its integration index comes after the receiver's own integrations.

use super::chat::{DingTalkConfig, FeishuConfig, WeComConfig};
use super::matchers::MatcherList;
use argus_model::PromDuration;
use serde::Deserialize;

/// The default of [`ArgusConfig::history_retention`]: 90 days.
pub const DEFAULT_HISTORY_RETENTION_MS: i64 = 90 * 86_400_000;

impl ArgusConfig {
    /// The history retention in ms; 0 keeps the history forever.
    pub fn history_retention_ms(&self) -> i64 {
        self.history_retention
            .map_or(DEFAULT_HISTORY_RETENTION_MS, |d| d.as_millis())
    }
}

/// The `argus:` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgusConfig {
    /// URL of this Argus, used as `externalURL` in payloads.
    #[serde(default)]
    pub external_url: Option<String>,
    /// How long the alert history (alerts, notifications, actions) is kept
    /// (default 90d); `0s` keeps it forever.
    #[serde(default)]
    pub history_retention: Option<PromDuration>,
    /// Flap damping.
    #[serde(default)]
    pub flap_damping: FlapDampingConfig,
    /// Retries of failed deliveries.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Signed one-click links (acknowledge, resolve, silence) in notifications.
    #[serde(default)]
    pub links: LinksConfig,
    /// People (default none); see [`ContactConfig`].
    #[serde(default)]
    pub contacts: Vec<ContactConfig>,
    /// Groups of people with priorities (default none); see [`ContactGroupConfig`].
    #[serde(default)]
    pub contact_groups: Vec<ContactGroupConfig>,
    /// DingTalk custom robots (default none).
    #[serde(default)]
    pub dingtalk_configs: Vec<DingTalkConfig>,
    /// WeCom group robots (default none).
    #[serde(default)]
    pub wecom_configs: Vec<WeComConfig>,
    /// Feishu/Lark custom bots (default none).
    #[serde(default)]
    pub feishu_configs: Vec<FeishuConfig>,
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

/// Signed, expiring one-click links. They are put into notifications only when an external URL
/// is known (`argus.external_url` or the server's). See `docs/adr/0007-one-click-links.md`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinksConfig {
    /// HMAC key. Default: a random key generated once and kept in `<data dir>/alerting/link.secret`
    /// (mode 0600).
    #[serde(default)]
    pub secret: Option<String>,
    /// File holding the HMAC key (instead of `secret`).
    #[serde(default)]
    pub secret_file: Option<String>,
    /// How long a link stays valid after its notification was produced (default 24h).
    #[serde(default)]
    pub ttl: Option<PromDuration>,
    /// How long a silence made from a link lasts (default 2h).
    #[serde(default)]
    pub silence_for: Option<PromDuration>,
    /// Put links into notifications (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
}

impl LinksConfig {
    /// `ttl`, 24h when unset.
    pub fn ttl(&self) -> PromDuration {
        self.ttl.unwrap_or(PromDuration::from_secs(24 * 3600))
    }
    /// `silence_for`, 2h when unset.
    pub fn silence_for(&self) -> PromDuration {
        self.silence_for
            .unwrap_or(PromDuration::from_secs(2 * 3600))
    }
}

/// A person and their addresses. A contact that an escalation level names (directly or through
/// a group) is notified through a receiver of its own, `contact:<name>`, with one integration
/// per address: `email` (needs `global.smtp_smarthost` and `global.smtp_from`), then
/// `webhook_url` (Alertmanager webhook payload). `phone` is @mentioned in DingTalk messages of
/// that escalation step; `chat` is informational.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactConfig {
    /// Unique name (also unique among contact groups).
    pub name: String,
    /// Email address (default none).
    #[serde(default)]
    pub email: Option<String>,
    /// Webhook URL that receives the Alertmanager payload (default none).
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Phone number, @mentioned on DingTalk (default none).
    #[serde(default)]
    pub phone: Option<String>,
    /// Chat handle, shown in notifications (default none).
    #[serde(default)]
    pub chat: Option<String>,
    /// Priority used when a group lists this contact by name only (default 1; lower is
    /// contacted first).
    #[serde(default)]
    pub priority: Option<u32>,
}

impl ContactConfig {
    /// The name of the contact's own receiver.
    pub fn receiver_name(&self) -> String {
        format!("contact:{}", self.name)
    }
}

/// A member of a contact group: a contact name, or `{contact, priority}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum GroupMember {
    /// A contact by name; its priority is the contact's own `priority` (default 1).
    Name(String),
    /// A contact with an explicit priority.
    Entry(MemberEntry),
}

/// `{contact, priority}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberEntry {
    /// Contact name.
    pub contact: String,
    /// Lower is contacted first (default 1).
    #[serde(default)]
    pub priority: Option<u32>,
}

impl GroupMember {
    /// The contact's name.
    pub fn contact(&self) -> &str {
        match self {
            GroupMember::Name(n) => n,
            GroupMember::Entry(e) => &e.contact,
        }
    }
}

/// A contact group: members ordered by priority into *tiers*.
///
/// Members with the same priority form one tier; tiers go from the lowest priority number up
/// (1 = primary on-call, 2 = secondary, …), ties keep list order. When an escalation level names
/// the group, its first tier is notified at the level's time, and each further tier
/// `tier_interval` later, unless the alert or group is acknowledged (or resolves) first. So
/// with `tier_interval: 5m`, primary gets paged at the level's `after`, secondary 5 minutes
/// later. Tiers count as escalation steps: they must all fall before the next level.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactGroupConfig {
    /// Unique name (also unique among contacts).
    pub name: String,
    /// Members (default none).
    #[serde(default)]
    pub members: Vec<GroupMember>,
    /// Delay between one tier and the next (default 5m).
    #[serde(default)]
    pub tier_interval: Option<PromDuration>,
}

impl ContactGroupConfig {
    /// `tier_interval`, 5m when unset.
    pub fn tier_interval(&self) -> PromDuration {
        self.tier_interval.unwrap_or(PromDuration::from_secs(300))
    }
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
    /// Contacts or contact groups to notify (default none): each contact through its own
    /// receiver `contact:<name>`, a group tier by tier (see [`ContactGroupConfig`]). They are
    /// also named in the notification's `escalation.contacts`.
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
