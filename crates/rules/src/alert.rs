//! [`Alert`]: one alert of an alerting rule, the plain struct handed to the
//! [`AlertSink`](crate::AlertSink) and kept in the state snapshot.

use std::collections::BTreeMap;

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

    /// Prometheus's `needsSending`: never pending; always when resolved since
    /// the last send; otherwise when the last send is older than `resend_delay_ms`.
    pub(crate) fn needs_sending(&self, ts: i64, resend_delay_ms: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        let last = self.last_sent_at_ms.unwrap_or(i64::MIN);
        if self.resolved_at_ms.is_some_and(|r| r > last) {
            return true;
        }
        self.last_sent_at_ms
            .is_none_or(|l| l + resend_delay_ms < ts)
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
