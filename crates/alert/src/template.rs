//! Notification templates, rendered with `minijinja`. Alertmanager's Go templates are not
//! evaluated: a field that contains Go template syntax (`{{ .` or `{{ template`) falls back to
//! Argus's default for that field.
//!
//! Variables: `status`, `receiver`, `group_key`, `group_labels`, `common_labels`,
//! `common_annotations`, `external_url`, `firing` and `resolved` (counts), `escalation` and
//! `alerts` (each with `status`, `labels`, `annotations`, `starts_at`, `ends_at`,
//! `generator_url`, `fingerprint`).
//!
//! ```
//! use argus_alert::template::{render, DEFAULT_TITLE};
//! use argus_alert::{Alert, AlertStatus, IntegrationKind, Notification, NotifiedAlert};
//! use argus_model::Labels;
//! let a = Alert::firing(Labels::from_pairs(&[("alertname", "Down"), ("severity", "critical")]), 0);
//! let n = Notification::new("r", 0, IntegrationKind::Slack, "k", Labels::empty(),
//!     vec![NotifiedAlert::new(a, AlertStatus::Firing)], 0);
//! assert_eq!(render(DEFAULT_TITLE, &n, "").unwrap(), "[FIRING:1] Down (critical)");
//! ```

use crate::channel::ChannelError;
use crate::notification::Notification;

/// Default title: status, count, alert name and severity.
pub const DEFAULT_TITLE: &str = "[{{ status|upper }}{% if status == 'firing' %}:{{ firing }}{% endif %}] {{ common_labels.alertname or group_labels.alertname or 'alerts' }}{% if common_labels.severity %} ({{ common_labels.severity }}){% endif %}";

/// Default body: one block per alert with its level, value, expected band, description and links.
pub const DEFAULT_TEXT: &str = "{% for a in alerts %}*{{ a.status|upper }}* {{ a.labels.alertname }}{% if a.labels.severity %} [{{ a.labels.severity }}]{% endif %}
{% if a.annotations.summary %}{{ a.annotations.summary }}
{% endif %}{% if a.annotations.description %}{{ a.annotations.description }}
{% endif %}{% if a.annotations.value %}value: {{ a.annotations.value }}{% if a.annotations.expected %} (expected {{ a.annotations.expected }}){% endif %}
{% endif %}labels: {% for k, v in a.labels|items %}{{ k }}={{ v }}{% if not loop.last %}, {% endif %}{% endfor %}
since {{ a.starts_at }}{% if a.generator_url %} · source: {{ a.generator_url }}{% endif %}
{% endfor %}{% if external_url %}{{ external_url }}{% endif %}";

fn is_go_template(s: &str) -> bool {
    s.contains("{{ .") || s.contains("{{.") || s.contains("{{ template") || s.contains("{{template")
}

/// Renders `tpl` for a notification, or `default` when `tpl` is Go template syntax.
pub fn render_or(
    tpl: Option<&str>,
    default: &str,
    n: &Notification,
    external_url: &str,
) -> Result<String, ChannelError> {
    match tpl {
        Some(t) if !is_go_template(t) => render(t, n, external_url),
        _ => render(default, n, external_url),
    }
}

/// Renders a template for a notification.
pub fn render(tpl: &str, n: &Notification, external_url: &str) -> Result<String, ChannelError> {
    let msg = n.webhook_message(external_url, 0);
    let alerts: Vec<_> = msg
        .alerts
        .iter()
        .map(|a| {
            minijinja::context! {
                status => a.status, labels => a.labels, annotations => a.annotations,
                starts_at => a.starts_at, ends_at => a.ends_at,
                generator_url => a.generator_url, fingerprint => a.fingerprint,
            }
        })
        .collect();
    let ctx = minijinja::context! {
        status => msg.status, receiver => msg.receiver, group_key => msg.group_key,
        group_labels => msg.group_labels, common_labels => msg.common_labels,
        common_annotations => msg.common_annotations, external_url => msg.external_url,
        firing => n.firing.len(), resolved => n.resolved.len(),
        escalation => n.escalation, alerts => alerts,
    };
    let env = minijinja::Environment::new();
    env.render_str(tpl, ctx)
        .map_err(|e| ChannelError::Config(format!("template error: {e}")))
}
