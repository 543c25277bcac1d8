//! [`Alert`]: one alert of an alerting rule, the plain struct handed to the
//! [`AlertSink`](crate::AlertSink) and kept in the state snapshot.

use std::collections::BTreeMap;

use argus_model::alert::AlertEvent;
use argus_model::Labels;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An alert's state, as in Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Resolved (kept for 15 minutes so the resolution is resent).
    Inactive,
    /// The expression returns the series but `for` has not passed yet.
    Pending,
    /// Firing.
    Firing,
}

impl AlertState {
    /// `inactive`, `pending` or `firing` (the `alertstate` label and the API's `state`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert. Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Identifying labels: the series' labels without `__name__`, plus the
    /// rule's (templated) labels and `alertname`.
    #[serde(with = "labels_map")]
    pub labels: Labels,
    /// Templated annotations.
    #[serde(with = "labels_map")]
    pub annotations: Labels,
    /// Current state.
    pub state: AlertState,
    /// The expression's value at the last evaluation.
    #[serde(with = "float_str")]
    pub value: f64,
    /// When the expression first returned this series (the start of `for`).
    pub active_at_ms: i64,
    /// When it started firing.
    #[serde(default)]
    pub fired_at_ms: Option<i64>,
    /// When it was resolved.
    #[serde(default)]
    pub resolved_at_ms: Option<i64>,
    /// When it was last handed to the sink.
    #[serde(default)]
    pub last_sent_at_ms: Option<i64>,
    /// Until when the last send is valid (Alertmanager's `endsAt` for a firing alert).
    #[serde(default)]
    pub valid_until_ms: Option<i64>,
    /// Since when a firing alert is kept firing by `keep_firing_for` although
    /// the expression no longer returns it.
    #[serde(default)]
    pub keep_firing_since_ms: Option<i64>,
    /// A link back to the expression (`<external_url>/graph?g0.expr=...&g0.tab=1`).
    #[serde(default)]
    pub generator_url: String,
}

impl Alert {
    /// Alertmanager's `startsAt`: when it fired (or became active, if it never fired).
    pub fn starts_at_ms(&self) -> i64 {
        self.fired_at_ms.unwrap_or(self.active_at_ms)
    }

    /// Alertmanager's `endsAt`: the resolution time, else the validity of the last send.
    pub fn ends_at_ms(&self) -> Option<i64> {
        self.resolved_at_ms.or(self.valid_until_ms)
    }

    /// The `alertname` label.
    pub fn name(&self) -> &str {
        self.labels.get("alertname").unwrap_or("")
    }

    /// The alert as the alert pipeline takes it (Prometheus's `sendAlerts`):
    /// it starts when it fired and ends at its resolution, else at the
    /// validity of its last send. `None` for an alert that never fired.
    ///
    /// ```
    /// use argus_model::Labels;
    /// use argus_rules::{Alert, AlertState};
    /// let a = Alert {
    ///     labels: Labels::from_pairs(&[("alertname", "Down")]),
    ///     annotations: Labels::from_pairs(&[("summary", "down")]),
    ///     state: AlertState::Firing,
    ///     value: 1.0,
    ///     active_at_ms: 0,
    ///     fired_at_ms: Some(60_000),
    ///     resolved_at_ms: None,
    ///     last_sent_at_ms: Some(60_000),
    ///     valid_until_ms: Some(300_000),
    ///     keep_firing_since_ms: None,
    ///     generator_url: String::new(),
    /// };
    /// let ev = a.event().unwrap();
    /// assert_eq!((ev.starts_at_ms, ev.ends_at_ms), (60_000, Some(300_000)));
    /// assert_eq!(ev.annotations["summary"], "down");
    /// ```
    pub fn event(&self) -> Option<AlertEvent> {
        let fired = self.fired_at_ms?;
        Some(AlertEvent {
            labels: self.labels.clone(),
            annotations: self
                .annotations
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect(),
            starts_at_ms: fired,
            ends_at_ms: self.ends_at_ms(),
            generator_url: self.generator_url.clone(),
        })
    }
}

/// Serializes [`Labels`] as a JSON/YAML map.
pub(crate) mod labels_map {
    use super::*;

    pub fn serialize<S: Serializer>(l: &Labels, s: S) -> Result<S::Ok, S::Error> {
        let m: BTreeMap<&str, &str> = l
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        m.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Labels, D::Error> {
        let m = BTreeMap::<String, String>::deserialize(d)?;
        let pairs: Vec<(String, String)> = m.into_iter().collect();
        Ok(Labels::from_pairs(&pairs))
    }
}

/// Serializes an `f64` as Go's `%v` string, so NaN and ±Inf survive JSON.
pub(crate) mod float_str {
    use super::*;

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::template::fmt_v(*v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let s = String::deserialize(d)?;
        crate::template::Value::Str(s)
            .to_float()
            .map_err(serde::de::Error::custom)
    }
}
