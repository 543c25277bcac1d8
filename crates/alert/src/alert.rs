//! Alerts as the pipeline keeps them, their fingerprint and their time stamps.
//!
//! ```
//! use argus_alert::{fingerprint, Alert, AlertStatus};
//! use argus_model::Labels;
//! let a = Alert::firing(Labels::from_pairs(&[("alertname", "Down")]), 1_000);
//! assert_eq!(a.status(5_000), AlertStatus::Firing);
//! assert_eq!(format!("{:016x}", fingerprint(&a.labels)), a.fingerprint_hex());
//! ```

use argus_model::alert::AlertEvent;
use argus_model::Labels;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether an alert is firing or resolved at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// Active.
    Firing,
    /// Its `endsAt` has passed.
    Resolved,
}

impl AlertStatus {
    /// `"firing"` or `"resolved"`, as in Alertmanager's payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// The alert fingerprint: FNV-1a 64 over the label pairs sorted by name, each written as
/// `name 0xff value 0xff`. This is exactly Prometheus's `LabelSet.Fingerprint()`, so the hex form
/// (`%016x`) equals the fingerprint Alertmanager and `amtool` show for the same labels.
pub fn fingerprint(labels: &Labels) -> u64 {
    const OFFSET: u64 = 14_695_981_039_346_656_037;
    const PRIME: u64 = 1_099_511_628_211;
    let mut h = OFFSET;
    let mut add = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    };
    for l in labels.iter() {
        add(l.name.as_bytes());
        add(&[0xff]);
        add(l.value.as_bytes());
        add(&[0xff]);
    }
    h
}

/// One alert. Times are milliseconds since the Unix epoch; `ends_at == 0` means "not set".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Identifying labels.
    #[serde(with = "labels_map")]
    pub labels: Labels,
    /// Descriptive annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// When the alert started firing.
    pub starts_at: i64,
    /// When it ends (or ended); 0 when unknown.
    #[serde(default)]
    pub ends_at: i64,
    /// Link back to the rule that produced it.
    #[serde(default)]
    pub generator_url: String,
    /// When Argus last received it.
    #[serde(default)]
    pub updated_at: i64,
    /// True when `ends_at` was set by Argus from `resolve_timeout` rather than by the sender.
    #[serde(default)]
    pub timeout: bool,
}

impl Alert {
    /// A firing alert with the given labels that started at `starts_at`.
    pub fn firing(labels: Labels, starts_at: i64) -> Self {
        Alert {
            labels,
            annotations: BTreeMap::new(),
            starts_at,
            ends_at: 0,
            generator_url: String::new(),
            updated_at: starts_at,
            timeout: false,
        }
    }

    /// The same alert, resolved at `ends_at`.
    pub fn resolved_at(mut self, ends_at: i64) -> Self {
        self.ends_at = ends_at;
        self.updated_at = ends_at;
        self
    }

    /// With an annotation added.
    pub fn with_annotation(mut self, name: &str, value: &str) -> Self {
        self.annotations.insert(name.to_string(), value.to_string());
        self
    }

    /// The fingerprint of the labels (see [`fingerprint`]).
    pub fn fingerprint(&self) -> u64 {
        fingerprint(&self.labels)
    }

    /// The fingerprint as 16 hex digits.
    pub fn fingerprint_hex(&self) -> String {
        format!("{:016x}", self.fingerprint())
    }

    /// True when `ends_at` is set and not after `now`.
    pub fn is_resolved(&self, now: i64) -> bool {
        self.ends_at != 0 && self.ends_at <= now
    }

    /// Firing or resolved at `now`.
    pub fn status(&self, now: i64) -> AlertStatus {
        if self.is_resolved(now) {
            AlertStatus::Resolved
        } else {
            AlertStatus::Firing
        }
    }

    /// Alertmanager's merge of a stored alert (`self`) with a newer copy `o`: the earliest start
    /// wins, and an explicit end wins over a timeout.
    pub fn merge(&self, o: &Alert, now: i64) -> Alert {
        if o.updated_at < self.updated_at {
            return o.merge(self, now);
        }
        let mut res = o.clone();
        if self.starts_at < o.starts_at {
            res.starts_at = self.starts_at;
        }
        if o.is_resolved(now) {
            if self.is_resolved(now) && self.ends_at > o.ends_at {
                res.ends_at = self.ends_at;
            }
        } else if self.ends_at > o.ends_at && !self.timeout && o.ends_at != 0 {
            res.ends_at = self.ends_at;
        }
        res
    }

    /// True when the activity ranges of the stored alert `self` and the new `o` overlap, the
    /// condition under which Alertmanager merges rather than replaces.
    pub fn overlaps(&self, o: &Alert) -> bool {
        let old_end = if self.ends_at == 0 {
            i64::MAX
        } else {
            self.ends_at
        };
        let new_end = if o.ends_at == 0 { i64::MAX } else { o.ends_at };
        (new_end > self.starts_at && new_end < old_end)
            || (o.starts_at >= self.starts_at && o.starts_at < old_end)
    }
}

/// An alert as posted to Alertmanager's `POST /api/v2/alerts` (and sent by Prometheus).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableAlert {
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339 start; now when absent.
    #[serde(default)]
    pub starts_at: Option<String>,
    /// RFC 3339 end; `now + resolve_timeout` when absent.
    #[serde(default)]
    pub ends_at: Option<String>,
    /// Link to the source.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: Option<String>,
}

/// Why a posted alert was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AlertError {
    /// The alert has no labels.
    #[error("alert has no labels")]
    NoLabels,
    /// A time stamp is not RFC 3339.
    #[error("invalid time stamp {0:?}: expected RFC 3339")]
    BadTime(String),
    /// `endsAt` is before `startsAt`.
    #[error("alert ends before it starts")]
    EndBeforeStart,
}

impl PostableAlert {
    /// Converts to an [`Alert`] the way Alertmanager's API does: a missing start is `now`, a
    /// missing end is `now + resolve_timeout_ms` with the timeout flag set.
    pub fn into_alert(self, now: i64, resolve_timeout_ms: i64) -> Result<Alert, AlertError> {
        let labels = Labels::from_pairs(&self.labels.into_iter().collect::<Vec<_>>());
        if labels.is_empty() {
            return Err(AlertError::NoLabels);
        }
        let parse = |s: Option<String>| -> Result<Option<i64>, AlertError> {
            match s.filter(|s| !s.is_empty() && !s.starts_with("0001-01-01")) {
                None => Ok(None),
                Some(s) => parse_rfc3339(&s).map(Some),
            }
        };
        let starts = parse(self.starts_at)?;
        let ends = parse(self.ends_at)?;
        let starts_at = starts.unwrap_or(match ends {
            Some(e) if e < now => e,
            _ => now,
        });
        let (ends_at, timeout) = match ends {
            Some(e) => (e, false),
            None => (now + resolve_timeout_ms, true),
        };
        if ends_at < starts_at {
            return Err(AlertError::EndBeforeStart);
        }
        Ok(Alert {
            labels,
            annotations: self.annotations,
            starts_at,
            ends_at,
            generator_url: self.generator_url.unwrap_or_default(),
            updated_at: now,
            timeout,
        })
    }
}

impl Alert {
    /// Converts an alert from a source inside Argus (a rule, a health check, a dynamic rule),
    /// received at `now`: a missing end is `now + resolve_timeout_ms` with the timeout flag set,
    /// as for a posted alert.
    ///
    /// ```
    /// use argus_alert::Alert;
    /// use argus_model::{alert::AlertEvent, Labels};
    /// let ev = AlertEvent::new(Labels::from_pairs(&[("alertname", "Down")]), 1_000).ending_at(9_000);
    /// let a = Alert::from_event(ev, 2_000, 300_000).unwrap();
    /// assert_eq!((a.starts_at, a.ends_at, a.updated_at, a.timeout), (1_000, 9_000, 2_000, false));
    /// ```
    pub fn from_event(
        ev: AlertEvent,
        now: i64,
        resolve_timeout_ms: i64,
    ) -> Result<Alert, AlertError> {
        if ev.labels.is_empty() {
            return Err(AlertError::NoLabels);
        }
        let (ends_at, timeout) = match ev.ends_at_ms {
            Some(e) => (e, false),
            None => (now + resolve_timeout_ms, true),
        };
        if ends_at < ev.starts_at_ms {
            return Err(AlertError::EndBeforeStart);
        }
        Ok(Alert {
            labels: ev.labels,
            annotations: ev.annotations,
            starts_at: ev.starts_at_ms,
            ends_at,
            generator_url: ev.generator_url,
            updated_at: now,
            timeout,
        })
    }
}

/// Parses an RFC 3339 time stamp into milliseconds.
pub fn parse_rfc3339(s: &str) -> Result<i64, AlertError> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| AlertError::BadTime(s.to_string()))
}

/// Go's zero time, which Alertmanager writes for an unset `endsAt`.
pub use argus_model::time::GO_ZERO_TIME;

/// Formats milliseconds like Go's `time.Time` JSON (RFC 3339, UTC, trailing zeros of the fraction
/// trimmed); [`GO_ZERO_TIME`] beyond the representable years.
pub fn format_rfc3339(ms: i64) -> String {
    argus_model::time::format_rfc3339_ms(ms, argus_model::time::Fraction::Trimmed)
        .unwrap_or_else(|| GO_ZERO_TIME.to_string())
}

/// Serde helpers that write [`Labels`] as a JSON object.
pub mod labels_map {
    use argus_model::Labels;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::collections::BTreeMap;

    /// Writes the labels as a map.
    pub fn serialize<S: Serializer>(l: &Labels, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(l.iter().map(|l| (&l.name, &l.value)))
    }

    /// Reads the labels from a map.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Labels, D::Error> {
        let m = BTreeMap::<String, String>::deserialize(d)?;
        Ok(Labels::from_pairs(&m.into_iter().collect::<Vec<_>>()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_matches_prometheus() {
        // FNV-1a offset basis for the empty set, as in prometheus/common.
        assert_eq!(fingerprint(&Labels::empty()), 14_695_981_039_346_656_037);
        let a = Labels::from_pairs(&[("b", "2"), ("a", "1")]);
        let b = Labels::from_pairs(&[("a", "1"), ("b", "2")]);
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(
            fingerprint(&a),
            fingerprint(&Labels::from_pairs(&[("a", "12")]))
        );
    }

    #[test]
    fn times_format_like_go() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_000), "1970-01-01T00:00:01Z");
        assert_eq!(format_rfc3339(1_120), "1970-01-01T00:00:01.12Z");
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.12Z"), Ok(1_120));
    }

    #[test]
    fn postable_defaults_like_alertmanager() {
        let p = PostableAlert {
            labels: [("alertname".to_string(), "x".to_string())].into(),
            ..Default::default()
        };
        let a = p.into_alert(10_000, 300_000).unwrap();
        assert_eq!((a.starts_at, a.ends_at, a.timeout), (10_000, 310_000, true));
        assert_eq!(
            PostableAlert::default().into_alert(0, 1).unwrap_err(),
            AlertError::NoLabels
        );
    }

    #[test]
    fn events_convert_without_text() {
        let l = Labels::from_pairs(&[("alertname", "x")]);
        let open = Alert::from_event(AlertEvent::new(l.clone(), 1_000), 10_000, 300_000).unwrap();
        assert_eq!((open.ends_at, open.timeout), (310_000, true));
        let bad = AlertEvent::new(l, 5_000).ending_at(4_000);
        assert_eq!(
            Alert::from_event(bad, 0, 1).unwrap_err(),
            AlertError::EndBeforeStart
        );
        assert_eq!(
            Alert::from_event(AlertEvent::default(), 0, 1).unwrap_err(),
            AlertError::NoLabels
        );
    }

    #[test]
    fn merge_keeps_earliest_start() {
        let l = Labels::from_pairs(&[("a", "1")]);
        let old = Alert::firing(l.clone(), 1_000);
        let mut new = Alert::firing(l, 5_000);
        new.updated_at = 6_000;
        assert!(old.overlaps(&new));
        assert_eq!(old.merge(&new, 6_000).starts_at, 1_000);
    }
}
