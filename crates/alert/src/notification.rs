//! What the dispatcher hands to a channel, and the Alertmanager webhook payload (version 4).
//!
//! ```
//! use argus_alert::{Alert, AlertStatus, IntegrationKind, Notification, NotifiedAlert};
//! use argus_model::Labels;
//! let a = Alert::firing(Labels::from_pairs(&[("alertname", "Down"), ("job", "node")]), 1_000);
//! let n = Notification::new("team", 0, IntegrationKind::Webhook, "{}:{}", Labels::empty(),
//!     vec![NotifiedAlert::new(a, AlertStatus::Firing)], 2_000);
//! let p = serde_json::to_value(n.webhook_message("http://argus:9093", 0)).unwrap();
//! assert_eq!(p["version"], "4");
//! assert_eq!(p["commonLabels"]["job"], "node");
//! assert_eq!(p["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
//! ```

use crate::alert::{format_rfc3339, labels_map, Alert, AlertStatus, GO_ZERO_TIME};
use argus_model::Labels;
use serde::Serialize;
use std::collections::BTreeMap;

/// The kinds of integration Argus delivers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IntegrationKind {
    /// `webhook_configs`.
    Webhook,
    /// `email_configs`.
    Email,
    /// `slack_configs`.
    Slack,
    /// `pagerduty_configs`.
    PagerDuty,
    /// `argus.forward_to_alertmanager`: posting to an external Alertmanager.
    Alertmanager,
    /// `argus.dingtalk_configs`: a DingTalk custom robot.
    DingTalk,
    /// `argus.wecom_configs`: a WeCom group robot.
    WeCom,
    /// `argus.feishu_configs`: a Feishu/Lark custom bot.
    Feishu,
    /// `wechat_configs`: a WeChat Work (WeCom) application message.
    Wechat,
}

impl IntegrationKind {
    /// Alertmanager's integration name.
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::Webhook => "webhook",
            IntegrationKind::Email => "email",
            IntegrationKind::Slack => "slack",
            IntegrationKind::PagerDuty => "pagerduty",
            IntegrationKind::Alertmanager => "alertmanager",
            IntegrationKind::DingTalk => "dingtalk",
            IntegrationKind::WeCom => "wecom",
            IntegrationKind::Feishu => "feishu",
            IntegrationKind::Wechat => "wechat",
        }
    }
}

/// An alert as notified: its status at notification time. A firing alert has `ends_at == 0`,
/// as Alertmanager clears the end of alerts that have not resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotifiedAlert {
    /// The alert.
    pub alert: Alert,
    /// Its fingerprint.
    pub fingerprint: u64,
    /// Firing or resolved (flap damping may hold a resolved alert as firing).
    pub status: AlertStatus,
    /// The runbooks the notification offers a one-click link to (firing
    /// alerts only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runbooks: Vec<String>,
}

impl NotifiedAlert {
    /// Wraps an alert with its status; a firing alert's end is cleared.
    pub fn new(mut alert: Alert, status: AlertStatus) -> Self {
        if status == AlertStatus::Firing {
            alert.ends_at = 0;
        }
        NotifiedAlert {
            fingerprint: alert.fingerprint(),
            alert,
            status,
            runbooks: Vec::new(),
        }
    }
}

/// Where an escalation notification stands in its policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EscalationStep {
    /// Policy name.
    pub policy: String,
    /// Level index (0-based).
    pub level: usize,
    /// Round (0 is the first pass over the levels).
    pub round: u32,
    /// Contacts named by the level.
    pub contacts: Vec<String>,
}

/// One notification for one integration of one receiver about one aggregation group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    /// Unique within this dispatcher's lifetime.
    pub id: u64,
    /// Receiver name.
    pub receiver: String,
    /// Index of the integration in the receiver (webhooks, then emails, Slack, PagerDuty).
    pub integration: usize,
    /// The integration kind.
    pub kind: IntegrationKind,
    /// Alertmanager's group key.
    pub group_key: String,
    /// The group's labels.
    #[serde(with = "labels_map")]
    pub group_labels: Labels,
    /// Alerts, sorted like Alertmanager (by `job`, `instance`, then labels).
    pub alerts: Vec<NotifiedAlert>,
    /// When it was produced, ms.
    pub created_at: i64,
    /// Set for escalation notifications.
    pub escalation: Option<EscalationStep>,
    /// Route index of the group (internal bookkeeping).
    pub route: usize,
    /// Flush this belongs to (internal bookkeeping).
    pub flush: u64,
    /// Fingerprints of all firing alerts of the group after filtering (for the log).
    pub firing: Vec<u64>,
    /// Fingerprints of all resolved alerts of the group after filtering (for the log).
    pub resolved: Vec<u64>,
}

impl Notification {
    /// A stable key for this notification's content: receiver, integration,
    /// group and the firing and resolved alert sets. A retry, or a resend after
    /// a crash between the receiver's 2xx and the notification-log commit
    /// (ADR 0005), carries the same key, so a receiver that keeps recent keys
    /// can drop the duplicate. Sent as the `Idempotency-Key` HTTP header.
    pub fn idempotency_key(&self) -> String {
        use sha2::Digest;
        let mut firing = self.firing.clone();
        let mut resolved = self.resolved.clone();
        firing.sort_unstable();
        resolved.sort_unstable();
        let mut h = sha2::Sha256::new();
        h.update(self.receiver.as_bytes());
        h.update(b"\0");
        h.update(self.integration.to_le_bytes());
        h.update(self.group_key.as_bytes());
        h.update(b"\0");
        for f in &firing {
            h.update(f.to_le_bytes());
        }
        h.update(b"\0");
        for r in &resolved {
            h.update(r.to_le_bytes());
        }
        h.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// A notification outside any dispatcher (for tests and tools).
    pub fn new(
        receiver: &str,
        integration: usize,
        kind: IntegrationKind,
        group_key: &str,
        group_labels: Labels,
        mut alerts: Vec<NotifiedAlert>,
        created_at: i64,
    ) -> Self {
        sort_alerts(&mut alerts);
        let pick = |s: AlertStatus| {
            alerts
                .iter()
                .filter(|a| a.status == s)
                .map(|a| a.fingerprint)
                .collect()
        };
        Notification {
            id: 0,
            receiver: receiver.to_string(),
            integration,
            kind,
            group_key: group_key.to_string(),
            group_labels,
            firing: pick(AlertStatus::Firing),
            resolved: pick(AlertStatus::Resolved),
            alerts,
            created_at,
            escalation: None,
            route: 0,
            flush: 0,
        }
    }

    /// `firing` when any alert fires, else `resolved`.
    pub fn status(&self) -> AlertStatus {
        if self.alerts.iter().any(|a| a.status == AlertStatus::Firing) {
            AlertStatus::Firing
        } else {
            AlertStatus::Resolved
        }
    }

    /// Labels shared, with equal values, by every alert.
    pub fn common_labels(&self) -> BTreeMap<String, String> {
        let mut it = self.alerts.iter();
        let Some(first) = it.next() else {
            return BTreeMap::new();
        };
        let mut common: BTreeMap<String, String> = first
            .alert
            .labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect();
        for a in it {
            common.retain(|k, v| a.alert.labels.get(k) == Some(v.as_str()));
        }
        common
    }

    /// Annotations shared, with equal values, by every alert.
    pub fn common_annotations(&self) -> BTreeMap<String, String> {
        let mut it = self.alerts.iter();
        let Some(first) = it.next() else {
            return BTreeMap::new();
        };
        let mut common = first.alert.annotations.clone();
        for a in it {
            common.retain(|k, v| a.alert.annotations.get(k) == Some(v));
        }
        common
    }

    /// The Alertmanager webhook payload, version 4. `max_alerts` 0 means no limit.
    pub fn webhook_message(&self, external_url: &str, max_alerts: usize) -> WebhookMessage {
        let n = if max_alerts == 0 {
            self.alerts.len()
        } else {
            max_alerts.min(self.alerts.len())
        };
        WebhookMessage {
            version: "4".to_string(),
            group_key: self.group_key.clone(),
            truncated_alerts: (self.alerts.len() - n) as u64,
            status: self.status().as_str().to_string(),
            receiver: self.receiver.clone(),
            group_labels: self
                .group_labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect(),
            common_labels: self.common_labels(),
            common_annotations: self.common_annotations(),
            external_url: external_url.to_string(),
            alerts: self.alerts[..n]
                .iter()
                .map(|a| WebhookAlert {
                    status: a.status.as_str().to_string(),
                    labels: a
                        .alert
                        .labels
                        .iter()
                        .map(|l| (l.name.clone(), l.value.clone()))
                        .collect(),
                    annotations: a.alert.annotations.clone(),
                    starts_at: format_rfc3339(a.alert.starts_at),
                    ends_at: if a.alert.ends_at == 0 {
                        GO_ZERO_TIME.to_string()
                    } else {
                        format_rfc3339(a.alert.ends_at)
                    },
                    generator_url: a.alert.generator_url.clone(),
                    fingerprint: format!("{:016x}", a.fingerprint),
                })
                .collect(),
        }
    }
}

/// Sorts alerts like Alertmanager's `AlertSlice`: by `job`, then `instance`, then labels.
pub fn sort_alerts(alerts: &mut [NotifiedAlert]) {
    alerts.sort_by(|a, b| {
        for k in ["job", "instance"] {
            let (x, y) = (a.alert.labels.get(k), b.alert.labels.get(k));
            if x != y {
                return x.unwrap_or("").cmp(y.unwrap_or(""));
            }
        }
        a.alert.labels.cmp(&b.alert.labels)
    });
}

/// Alertmanager's webhook message, field for field.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookMessage {
    /// Always `"4"`.
    pub version: String,
    /// The group key.
    pub group_key: String,
    /// Alerts left out because of `max_alerts`.
    pub truncated_alerts: u64,
    /// `firing` or `resolved`.
    pub status: String,
    /// Receiver name.
    pub receiver: String,
    /// Group labels.
    pub group_labels: BTreeMap<String, String>,
    /// Labels common to all alerts.
    pub common_labels: BTreeMap<String, String>,
    /// Annotations common to all alerts.
    pub common_annotations: BTreeMap<String, String>,
    /// Link back to Argus.
    #[serde(rename = "externalURL")]
    pub external_url: String,
    /// The alerts.
    pub alerts: Vec<WebhookAlert>,
}

/// One alert in a webhook message.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    /// `firing` or `resolved`.
    pub status: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339; Go's zero time while firing.
    pub ends_at: String,
    /// Source link.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// Fingerprint, 16 hex digits.
    pub fingerprint: String,
}
