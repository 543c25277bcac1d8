//! What a runbook acts on (the [`Subject`], built by the server from an
//! incident) and whether a runbook's `match:` applies to it.
//!
//! ```
//! use argus_recover::config::Match;
//! use argus_recover::matching::{matches, Subject};
//! use std::collections::BTreeMap;
//! let s = Subject {
//!     incident: 7,
//!     alerts: vec![BTreeMap::from([("alertname".into(), "ApiDown".into()), ("service".into(), "api".into())])],
//!     root_service: Some("api".into()),
//!     ..Subject::default()
//! };
//! let m = Match { labels: BTreeMap::from([("alertname".into(), "Api.*".into())]), root_service: Some("api|web".into()), root_cause: None };
//! assert!(matches(&m, &s));
//! ```

use crate::config::Match;
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An incident as a runbook sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// The incident's id.
    pub incident: u64,
    /// Its title.
    #[serde(default)]
    pub title: String,
    /// Its severity (`critical`, `warning`, ...).
    #[serde(default)]
    pub severity: String,
    /// The label sets of its alerts, firing ones first.
    #[serde(default)]
    pub alerts: Vec<BTreeMap<String, String>>,
    /// The service at its root, if one is named.
    #[serde(default)]
    pub root_service: Option<String>,
    /// The located cause (the top likely cause, or a localisation), if any.
    #[serde(default)]
    pub root_cause: Option<String>,
    /// The root is named with enough confidence (or a person confirmed it).
    #[serde(default)]
    pub located: bool,
    /// When the incident was detected, ms.
    #[serde(default)]
    pub detected_ms: i64,
    /// When it last reopened (its alert fired again after it recovered), ms; 0 when it
    /// never did. A reopened incident is a new occurrence of its fault: its automatic
    /// runbooks may run again, and their `delay` counts from here.
    #[serde(default)]
    pub reopened_ms: i64,
}

/// `re` anchored at both ends, as Prometheus and Alertmanager anchor theirs.
pub fn anchored(re: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{re})$"))
}

/// Whether `v` matches the anchored `re`. Patterns come from the
/// configuration, so they are few: each is compiled once and kept.
fn is(re: &str, v: &str) -> bool {
    static CACHE: std::sync::OnceLock<
        parking_lot::Mutex<std::collections::HashMap<String, Option<Regex>>>,
    > = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut c = cache.lock();
    if c.len() > 10_000 {
        c.clear();
    }
    c.entry(re.to_string())
        .or_insert_with(|| anchored(re).ok())
        .as_ref()
        .is_some_and(|r| r.is_match(v))
}

/// The first of the subject's alerts that has every label of `m.labels`
/// matching (any alert when `m.labels` is empty).
pub fn matching_alert<'a>(m: &Match, s: &'a Subject) -> Option<&'a BTreeMap<String, String>> {
    s.alerts.iter().find(|a| {
        m.labels
            .iter()
            .all(|(k, re)| is(re, a.get(k).map_or("", String::as_str)))
    })
}

/// Whether `m` applies to `s`.
pub fn matches(m: &Match, s: &Subject) -> bool {
    let labels = m.labels.is_empty() || matching_alert(m, s).is_some();
    let root = |re: &Option<String>, v: &Option<String>| match re {
        None => true,
        Some(re) => is(re, v.as_deref().unwrap_or("")),
    };
    labels && root(&m.root_service, &s.root_service) && root(&m.root_cause, &s.root_cause)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        Subject {
            incident: 1,
            alerts: vec![
                BTreeMap::from([
                    ("alertname".into(), "Latency".into()),
                    ("service".into(), "web".into()),
                ]),
                BTreeMap::from([
                    ("alertname".into(), "Down".into()),
                    ("service".into(), "db".into()),
                ]),
            ],
            root_service: Some("db".into()),
            ..Subject::default()
        }
    }

    #[test]
    fn every_label_must_match_on_one_alert() {
        let s = subject();
        let m = |pairs: &[(&str, &str)]| Match {
            labels: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Match::default()
        };
        assert!(matches(&m(&[("alertname", "Down"), ("service", "db")]), &s));
        // Both labels exist, but on different alerts.
        assert!(!matches(
            &m(&[("alertname", "Down"), ("service", "web")]),
            &s
        ));
        // Anchored: "Dow" is not "Down".
        assert!(!matches(&m(&[("alertname", "Dow")]), &s));
        // A missing label is the empty string.
        assert!(matches(&m(&[("zone", "")]), &s));
        assert!(matches(&Match::default(), &s));
    }

    #[test]
    fn root_service_and_cause() {
        let s = subject();
        let m = Match {
            root_service: Some("db|cache".into()),
            ..Match::default()
        };
        assert!(matches(&m, &s));
        let m = Match {
            root_service: Some("web".into()),
            ..Match::default()
        };
        assert!(!matches(&m, &s));
        let m = Match {
            root_cause: Some(".*memory.*".into()),
            ..Match::default()
        };
        assert!(
            !matches(&m, &s),
            "no cause is located, so a cause match fails"
        );
    }
}
