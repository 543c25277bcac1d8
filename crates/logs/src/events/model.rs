//! The event record: what happened, where, when, and of which kind.
//!
//! An [`Event`] follows the CloudEvents attribute names (`id`, `source`, `type`, `subject`,
//! `time`). Its [`EventKind`] sorts it into the families operators care about: deploys,
//! configuration changes, Kubernetes events, alerts, business events, and the rest.
//!
//! ```
//! use argus_logs::events::{Event, EventKind};
//! assert_eq!(EventKind::classify("com.example.service.deployed"), EventKind::Deploy);
//! assert_eq!(EventKind::classify("io.k8s.event.BackOff"), EventKind::Kubernetes);
//! assert_eq!(EventKind::classify("com.shop.order.created"), EventKind::Business);
//! let e = Event::new("1", "/ci", "com.example.service.deployed", 1_700_000_000_000_000_000);
//! let r = e.to_log_record();
//! assert_eq!(r.labels.get("kind"), Some("deploy"));
//! assert_eq!(r.labels.get("type"), Some("com.example.service.deployed"));
//! ```

use crate::record::LogRecord;
use argus_model::Labels;
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

/// The family an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// A release, deployment or rollout.
    Deploy,
    /// A configuration or feature-flag change.
    ConfigChange,
    /// A Kubernetes event (`Scheduled`, `BackOff`, `OOMKilled`, …).
    Kubernetes,
    /// An alert or incident raised by a monitoring system.
    Alert,
    /// A business event on a bus (an order placed, a payment refused).
    Business,
    /// Anything else.
    Other,
}

/// Words in an event type that mark a business event.
const BUSINESS_WORDS: &[&str] = &[
    "order",
    "payment",
    "checkout",
    "cart",
    "invoice",
    "customer",
    "user",
    "account",
    "signup",
    "login",
    "shipment",
    "subscription",
    "refund",
    "booking",
    "transaction",
    "purchase",
];

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 6] = [
        EventKind::Deploy,
        EventKind::ConfigChange,
        EventKind::Kubernetes,
        EventKind::Alert,
        EventKind::Business,
        EventKind::Other,
    ];

    /// The lower-case name used in labels: `deploy`, `config_change`, `kubernetes`, `alert`,
    /// `business`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Deploy => "deploy",
            EventKind::ConfigChange => "config_change",
            EventKind::Kubernetes => "kubernetes",
            EventKind::Alert => "alert",
            EventKind::Business => "business",
            EventKind::Other => "other",
        }
    }

    /// The kind an event type names, by the words in it (case does not matter):
    ///
    /// - `io.k8s.…`, `k8s.…`, or a type containing `kubernetes`: [`EventKind::Kubernetes`];
    /// - `deploy`, `rollout`, `release`, `rollback` anywhere: [`EventKind::Deploy`];
    /// - `config`, `featureflag`, `feature_flag`: [`EventKind::ConfigChange`];
    /// - `alert`, `alarm`, `incident`: [`EventKind::Alert`];
    /// - a segment naming a business object (`order`, `payment`, `checkout`, `cart`, `user`,
    ///   `account`, `invoice`, …): [`EventKind::Business`];
    /// - anything else: [`EventKind::Other`].
    pub fn classify(event_type: &str) -> EventKind {
        let t = event_type.to_ascii_lowercase();
        if t.starts_with("io.k8s.") || t.starts_with("k8s.") || t.contains("kubernetes") {
            return EventKind::Kubernetes;
        }
        let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
        if has(&["deploy", "rollout", "release", "rollback"]) {
            return EventKind::Deploy;
        }
        if has(&["config", "featureflag", "feature_flag", "feature-flag"]) {
            return EventKind::ConfigChange;
        }
        if has(&["alert", "alarm", "incident"]) {
            return EventKind::Alert;
        }
        let business = t
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|seg| BUSINESS_WORDS.iter().any(|w| seg.starts_with(w)));
        if business {
            EventKind::Business
        } else {
            EventKind::Other
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the [`EventKind`]s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not an event kind (deploy, config_change, kubernetes, alert, business, other)")]
pub struct UnknownKind(pub String);

impl FromStr for EventKind {
    type Err = UnknownKind;

    /// The kind named as [`EventKind::as_str`] writes it (also `configchange`, `config`, `k8s`).
    fn from_str(s: &str) -> Result<EventKind, UnknownKind> {
        let l = s.trim().to_ascii_lowercase();
        Ok(match l.as_str() {
            "deploy" | "deployment" => EventKind::Deploy,
            "config_change" | "configchange" | "config" => EventKind::ConfigChange,
            "kubernetes" | "k8s" => EventKind::Kubernetes,
            "alert" => EventKind::Alert,
            "business" => EventKind::Business,
            "other" => EventKind::Other,
            _ => return Err(UnknownKind(crate::push::short(s, 40))),
        })
    }
}

/// One event: a deploy, a configuration change, a Kubernetes event, a business event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The producer's id; with `source` it names the event uniquely.
    pub id: String,
    /// Who produced it (a URI reference: `/ci/github`, `k8s/kubelet`).
    pub source: String,
    /// Its family.
    pub kind: EventKind,
    /// The CloudEvents `type`: `com.shop.order.created`, `io.k8s.event.BackOff`.
    pub event_type: String,
    /// What it is about within the source (`deployment/api`, an order number).
    pub subject: Option<String>,
    /// Unix time in nanoseconds.
    pub ts_ns: i64,
    /// Labels: `service`, `namespace`, extension attributes.
    pub labels: Labels,
    /// The payload (`null` when there is none).
    pub data: Value,
}

impl Event {
    /// An event with no subject, labels or data, its kind classified from its type.
    pub fn new(
        id: impl Into<String>,
        source: impl Into<String>,
        event_type: impl Into<String>,
        ts_ns: i64,
    ) -> Event {
        let event_type = event_type.into();
        Event {
            id: id.into(),
            source: source.into(),
            kind: EventKind::classify(&event_type),
            event_type,
            subject: None,
            ts_ns,
            labels: Labels::empty(),
            data: Value::Null,
        }
    }

    /// The labels of the log stream this event is stored in:
    /// `{source="…", type="…", kind="…"}`.
    pub fn stream_labels(&self) -> Labels {
        Labels::from_pairs(&[
            ("source", self.source.as_str()),
            ("type", self.event_type.as_str()),
            ("kind", self.kind.as_str()),
        ])
    }

    /// The event as a CloudEvents JSON object (structured mode), with `kind` and the labels
    /// as extra members (`"kind": "deploy"`, `"labels": {"service": "api"}`).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("specversion".into(), Value::from("1.0"));
        m.insert("id".into(), Value::from(self.id.as_str()));
        m.insert("source".into(), Value::from(self.source.as_str()));
        m.insert("type".into(), Value::from(self.event_type.as_str()));
        if let Some(s) = &self.subject {
            m.insert("subject".into(), Value::from(s.as_str()));
        }
        m.insert("time".into(), Value::from(rfc3339(self.ts_ns)));
        m.insert("kind".into(), Value::from(self.kind.as_str()));
        if !self.labels.is_empty() {
            let labels: Map<String, Value> = self
                .labels
                .iter()
                .map(|l| (l.name.clone(), Value::from(l.value.as_str())))
                .collect();
            m.insert("labels".into(), Value::Object(labels));
        }
        if !self.data.is_null() {
            m.insert("data".into(), self.data.clone());
        }
        Value::Object(m)
    }

    /// The event as a log record: the stream of [`Event::stream_labels`], the line
    /// [`Event::to_json`], and the id, subject and labels as structured metadata.
    pub fn to_log_record(&self) -> LogRecord {
        let mut r = LogRecord::new(self.stream_labels(), self.ts_ns, self.to_json().to_string());
        r.metadata.push(("event_id".into(), self.id.clone()));
        if let Some(s) = &self.subject {
            r.metadata.push(("subject".into(), s.clone()));
        }
        for l in self.labels.iter() {
            r.metadata.push((l.name.clone(), l.value.clone()));
        }
        r
    }
}

/// RFC 3339 with nanoseconds in UTC; times chrono cannot represent are written as 1970.
pub(crate) fn rfc3339(ts_ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ts_ns)
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_classified_from_the_type() {
        let cases = [
            ("com.github.deployment_status", EventKind::Deploy),
            ("dev.argo.rollout.completed", EventKind::Deploy),
            ("com.example.api.deploy.started", EventKind::Deploy),
            ("io.k8s.event.ScalingReplicaSet", EventKind::Kubernetes),
            ("io.k8s.apps.deployment.updated", EventKind::Kubernetes),
            ("dev.knative.kubernetes.event", EventKind::Kubernetes),
            ("com.example.config.changed", EventKind::ConfigChange),
            ("dev.flags.featureflag.toggled", EventKind::ConfigChange),
            ("io.prometheus.alert.firing", EventKind::Alert),
            ("com.shop.Order.Created", EventKind::Business),
            ("com.shop.payments.refused", EventKind::Business),
            ("com.example.heartbeat", EventKind::Other),
            ("", EventKind::Other),
        ];
        for (t, k) in cases {
            assert_eq!(EventKind::classify(t), k, "{t}");
        }
    }

    #[test]
    fn kind_names_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>(), Ok(k));
            assert_eq!(k.to_string(), k.as_str());
        }
        assert_eq!("K8s".parse::<EventKind>(), Ok(EventKind::Kubernetes));
        assert_eq!(
            "deploys".parse::<EventKind>().unwrap_err().to_string(),
            "\"deploys\" is not an event kind (deploy, config_change, kubernetes, alert, business, other)"
        );
    }

    #[test]
    fn log_record_has_stream_labels_json_line_and_metadata() {
        let mut e = Event::new("a1", "/ci", "com.example.deploy.finished", 1_500_000_000);
        e.subject = Some("deployment/api".into());
        e.labels = Labels::from_pairs(&[("service", "api"), ("namespace", "prod")]);
        e.data = serde_json::json!({"version": "1.2.3"});
        let r = e.to_log_record();
        assert_eq!(
            r.labels,
            Labels::from_pairs(&[
                ("kind", "deploy"),
                ("source", "/ci"),
                ("type", "com.example.deploy.finished")
            ])
        );
        assert_eq!(r.ts_ns, 1_500_000_000);
        let line: serde_json::Value = serde_json::from_str(&r.line).unwrap();
        assert_eq!(
            line,
            serde_json::json!({"data":{"version":"1.2.3"},"id":"a1","kind":"deploy",
                "labels":{"namespace":"prod","service":"api"},"source":"/ci","specversion":"1.0",
                "subject":"deployment/api","time":"1970-01-01T00:00:01.500Z",
                "type":"com.example.deploy.finished"})
        );
        assert_eq!(
            r.metadata,
            vec![
                ("event_id".to_string(), "a1".to_string()),
                ("subject".to_string(), "deployment/api".to_string()),
                ("namespace".to_string(), "prod".to_string()),
                ("service".to_string(), "api".to_string()),
            ]
        );
    }
}
