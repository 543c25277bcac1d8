//! Forwarding to an external Alertmanager: `POST {base}/api/v2/alerts` with the notification's
//! alerts in the API's postable form. Firing alerts are sent without `endsAt`, so the remote
//! applies its own `resolve_timeout`; resolved alerts carry their end.

use super::{BoxFuture, Channel, ChannelError};
use crate::alert::{format_rfc3339, AlertStatus};
use crate::notification::Notification;

/// Forwards alerts to an Alertmanager's API v2.
#[derive(Debug, Clone)]
pub struct AlertmanagerChannel {
    url: String,
    client: reqwest::Client,
}

impl AlertmanagerChannel {
    /// Forwards to the Alertmanager at `base_url` (for example `http://am:9093`).
    pub fn new(base_url: &str) -> Result<Self, ChannelError> {
        Ok(AlertmanagerChannel {
            url: format!("{}/api/v2/alerts", base_url.trim_end_matches('/')),
            client: super::webhook::client(std::time::Duration::from_secs(10))?,
        })
    }
}

impl Channel for AlertmanagerChannel {
    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let body: Vec<serde_json::Value> = n
                .alerts
                .iter()
                .map(|a| {
                    let labels: std::collections::BTreeMap<&str, &str> = a
                        .alert
                        .labels
                        .iter()
                        .map(|l| (l.name.as_str(), l.value.as_str()))
                        .collect();
                    let mut v = serde_json::json!({
                        "labels": labels,
                        "annotations": a.alert.annotations,
                        "startsAt": format_rfc3339(a.alert.starts_at),
                        "generatorURL": a.alert.generator_url,
                    });
                    if a.status == AlertStatus::Resolved {
                        v["endsAt"] = format_rfc3339(a.alert.ends_at).into();
                    }
                    v
                })
                .collect();
            super::webhook::post_json(
                &self.client,
                &self.url,
                &Default::default(),
                &serde_json::Value::Array(body),
                None,
            )
            .await
        })
    }
}
