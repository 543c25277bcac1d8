//! The `route:` tree and `inhibit_rules:` as written in alertmanager.yml.

use super::matchers::MatcherList;
use argus_model::PromDuration;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One node of the routing tree. Unset fields inherit from the parent; the root's defaults are
/// `group_wait: 200ms` (Alertmanager: 30s; ADR 0011), `group_interval: 5m`, `repeat_interval: 4h` and no grouping.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Receiver name; required on the root.
    #[serde(default)]
    pub receiver: Option<String>,
    /// Labels to group by; `['...']` groups by all labels.
    #[serde(default)]
    pub group_by: Option<Vec<String>>,
    /// Keep matching siblings after this route matched.
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
    /// Legacy equality matchers.
    #[serde(default, rename = "match")]
    pub match_eq: BTreeMap<String, String>,
    /// Legacy regex matchers.
    #[serde(default)]
    pub match_re: BTreeMap<String, String>,
    /// Matchers in string form.
    #[serde(default)]
    pub matchers: MatcherList,
    /// Wait before the first notification of a new group.
    #[serde(default)]
    pub group_wait: Option<PromDuration>,
    /// Wait between notifications about changes in a group.
    #[serde(default)]
    pub group_interval: Option<PromDuration>,
    /// Wait before resending an unchanged notification.
    #[serde(default)]
    pub repeat_interval: Option<PromDuration>,
    /// Named time intervals during which notifications are muted.
    #[serde(default)]
    pub mute_time_intervals: Vec<String>,
    /// Named time intervals outside of which notifications are muted.
    #[serde(default)]
    pub active_time_intervals: Vec<String>,
    /// Child routes.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
}

/// An inhibition rule: a firing source alert mutes target alerts that agree on `equal` labels.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitRuleConfig {
    /// Legacy source equality matchers.
    #[serde(default)]
    pub source_match: BTreeMap<String, String>,
    /// Legacy source regex matchers.
    #[serde(default)]
    pub source_match_re: BTreeMap<String, String>,
    /// Source matchers.
    #[serde(default)]
    pub source_matchers: MatcherList,
    /// Legacy target equality matchers.
    #[serde(default)]
    pub target_match: BTreeMap<String, String>,
    /// Legacy target regex matchers.
    #[serde(default)]
    pub target_match_re: BTreeMap<String, String>,
    /// Target matchers.
    #[serde(default)]
    pub target_matchers: MatcherList,
    /// Labels that must be equal on source and target.
    #[serde(default)]
    pub equal: Vec<String>,
}
