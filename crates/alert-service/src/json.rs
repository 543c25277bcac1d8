//! Alertmanager 0.25's API v2 JSON shapes (`gettableAlert`, `alertGroup`, `gettableSilence`,
//! `postableSilence`) and its filters, as pure functions over the dispatcher's views.

use argus_alert::alert::{format_rfc3339, GO_ZERO_TIME};
use argus_alert::silence::{Silence, SilenceMatcher, SilenceState};
use argus_alert::AlertInfo;
use argus_model::{Labels, Matcher};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The filters of `GET /api/v2/alerts` and `GET /api/v2/alerts/groups`.
#[derive(Debug)]
pub(crate) struct AlertFilter {
    pub matchers: Vec<Matcher>,
    pub receiver: Option<regex::Regex>,
    pub silenced: bool,
    pub inhibited: bool,
    pub active: bool,
}

fn labels_json(l: &Labels) -> BTreeMap<&str, &str> {
    l.iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect()
}

fn time(ms: i64) -> String {
    if ms == 0 {
        GO_ZERO_TIME.to_string()
    } else {
        format_rfc3339(ms)
    }
}

/// `suppressed` when silenced or inhibited, else `active` (Argus processes alerts on receipt, so
/// none is `unprocessed`).
fn state(a: &AlertInfo) -> &'static str {
    if a.silenced_by.is_empty() && a.inhibited_by.is_none() {
        "active"
    } else {
        "suppressed"
    }
}

impl AlertFilter {
    /// Alertmanager's `alertFilter`: resolved alerts are left out, then the state flags and the
    /// label matchers apply.
    pub fn keeps(&self, a: &AlertInfo, now: i64) -> bool {
        if a.alert.is_resolved(now) {
            return false;
        }
        let st = state(a);
        if !self.active && st == "active" {
            return false;
        }
        if !self.silenced && !a.silenced_by.is_empty() {
            return false;
        }
        if !self.inhibited && a.inhibited_by.is_some() {
            return false;
        }
        argus_alert::config::all_match(&self.matchers, &a.alert.labels)
    }

    /// True when the receiver filter (a regex anchored at both ends) lets `name` through.
    pub fn keeps_receiver(&self, name: &str) -> bool {
        self.receiver.as_ref().is_none_or(|r| r.is_match(name))
    }
}

/// A `gettableAlert`.
pub(crate) fn gettable_alert(a: &AlertInfo) -> Value {
    let mut receivers: Vec<&str> = a.receivers.iter().map(String::as_str).collect();
    receivers.dedup();
    let mut v = json!({
        "labels": labels_json(&a.alert.labels),
        "annotations": a.alert.annotations,
        "startsAt": time(a.alert.starts_at),
        "endsAt": time(a.alert.ends_at),
        "updatedAt": time(a.alert.updated_at),
        "generatorURL": a.alert.generator_url,
        "fingerprint": format!("{:016x}", a.fingerprint),
        "receivers": receivers.iter().map(|r| json!({"name": r})).collect::<Vec<_>>(),
        "status": {
            "state": state(a),
            "silencedBy": a.silenced_by,
            "inhibitedBy": a.inhibited_by.iter().map(|f| format!("{f:016x}")).collect::<Vec<_>>(),
        },
    });
    if let Some(ack) = &a.ack {
        // Argus's extension; clients that do not know it ignore it.
        v["acknowledged"] = json!({"by": ack.who, "at": time(ack.at), "comment": ack.comment});
    }
    v
}

/// A `gettableSilence`.
pub(crate) fn gettable_silence(s: &Silence, now: i64) -> Value {
    let state = match s.state(now) {
        SilenceState::Pending => "pending",
        SilenceState::Active => "active",
        SilenceState::Expired => "expired",
    };
    json!({
        "id": s.id,
        "status": {"state": state},
        "updatedAt": time(s.updated_at),
        "matchers": s.matchers,
        "startsAt": time(s.starts_at),
        "endsAt": time(s.ends_at),
        "createdBy": s.created_by,
        "comment": s.comment,
    })
}

/// Alertmanager's `SortSilences`: active by end ascending, then pending by start ascending,
/// then expired by end descending.
pub(crate) fn sort_silences(v: &mut [Silence], now: i64) {
    let rank = |s: &Silence| match s.state(now) {
        SilenceState::Active => (0, s.ends_at),
        SilenceState::Pending => (1, s.starts_at),
        SilenceState::Expired => (2, -s.ends_at),
    };
    v.sort_by_key(rank);
}

/// Alertmanager's `CheckSilenceMatchesFilterLabels`: every filter matcher must find a silence
/// matcher of the same name whose value it matches (a regex silence matcher must have the
/// filter's value as its pattern).
pub(crate) fn silence_matches_filter(s: &Silence, filter: &[Matcher]) -> bool {
    filter.iter().all(|f| {
        s.matchers.iter().any(|m| {
            m.name == f.name
                && if m.is_regex {
                    m.value == f.value
                } else {
                    f.matches(&m.value)
                }
        })
    })
}

/// A `postableSilence`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PostableSilence {
    #[serde(default)]
    pub id: Option<String>,
    pub matchers: Vec<SilenceMatcher>,
    pub starts_at: String,
    pub ends_at: String,
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub comment: String,
}

/// Checks a label name the way Alertmanager's `model.LabelName.IsValid` does.
pub(crate) fn valid_label_name(n: &str) -> bool {
    let mut c = n.chars();
    matches!(c.next(), Some(ch) if ch == '_' || ch.is_ascii_alphabetic())
        && c.all(|ch| ch == '_' || ch.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_alert::Alert;

    fn info(silenced: bool) -> AlertInfo {
        AlertInfo {
            alert: Alert::firing(Labels::from_pairs(&[("alertname", "X")]), 1_000),
            fingerprint: 1,
            silenced_by: if silenced { vec!["s".into()] } else { vec![] },
            inhibited_by: None,
            receivers: vec!["r".into(), "r".into()],
            ack: None,
        }
    }

    #[test]
    fn gettable_alert_has_alertmanager_fields() {
        let v = gettable_alert(&info(true));
        assert_eq!(v["status"]["state"], "suppressed");
        assert_eq!(v["receivers"], json!([{"name": "r"}]));
        assert_eq!(v["fingerprint"], "0000000000000001");
        assert_eq!(v["endsAt"], GO_ZERO_TIME);
    }

    #[test]
    fn filter_drops_silenced_when_asked() {
        let f = AlertFilter {
            matchers: vec![],
            receiver: None,
            silenced: false,
            inhibited: true,
            active: true,
        };
        assert!(!f.keeps(&info(true), 2_000));
        assert!(f.keeps(&info(false), 2_000));
        assert!(valid_label_name("a_1") && !valid_label_name("1a") && !valid_label_name(""));
    }
}
