//! Notification templates. A receiver field written as an Alertmanager Go template (see
//! [`go::is_go_template`]) is rendered with Alertmanager's data model and functions and the
//! config's `templates:` files ([`go`]); any other field is a `minijinja` template. A field
//! left unset uses Argus's `minijinja` default below (not Alertmanager's default text); the
//! Alertmanager default names (`{{ template "slack.default.title" . }}`, ...) are defined by
//! Argus in [`go::DEFAULTS`] for configs that name them.
//!
//! `minijinja` variables:
//! `status`, `receiver`, `group_key`, `group_labels`, `common_labels`,
//! `common_annotations`, `external_url`, `firing` and `resolved` (counts), `escalation`,
//! `links` (group-wide signed `ack` and `resolve` URLs, empty without a signer) and `alerts`
//! (each with `status`, `labels`, `annotations`, `starts_at`, `ends_at`, `generator_url`,
//! `fingerprint`, and the derived `level`, `value`, `expected` and `links` with signed `ack`,
//! `resolve` and `silence` URLs while firing). `level` is the `level` label or annotation, else
//! `severity`; `value` the `value` annotation or label; `expected` the `expected` annotation or
//! label, else the band `[lower, upper]` from `lower`/`upper` (either may be missing).
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

pub mod go;
mod gotime;
pub use gotime::{in_zone, to_json};

use crate::channel::ChannelError;
use crate::links::{LinkAction, LinkSigner, LinkTarget};
use crate::notification::Notification;
use std::collections::BTreeMap;

/// What a template is rendered with besides the notification.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderEnv<'a> {
    /// Argus's external URL.
    pub external_url: &'a str,
    /// Signs one-click links; none means no links.
    pub links: Option<&'a LinkSigner>,
    /// The config's Go templates; none means Argus's built-in definitions only.
    pub templates: Option<&'a go::GoTemplates>,
}

impl<'a> From<&'a str> for RenderEnv<'a> {
    fn from(external_url: &'a str) -> Self {
        RenderEnv {
            external_url,
            links: None,
            templates: None,
        }
    }
}

impl<'a> From<&'a String> for RenderEnv<'a> {
    fn from(external_url: &'a String) -> Self {
        RenderEnv {
            external_url,
            links: None,
            templates: None,
        }
    }
}

/// Default Markdown body for chat robots (DingTalk, WeCom, Feishu): per alert its state, level,
/// value with the expected band, summary, labels, start, source and one-click links.
pub const DEFAULT_MARKDOWN: &str = "{% for a in alerts %}**{{ a.status|upper }}** {{ a.labels.alertname }}{% if a.level %} · level **{{ a.level }}**{% endif %}

{% if a.annotations.summary %}> {{ a.annotations.summary }}

{% endif %}{% if a.annotations.description %}{{ a.annotations.description }}

{% endif %}{% if a.value %}- value: **{{ a.value }}**{% if a.expected %} (expected {{ a.expected }}){% endif %}
{% endif %}- labels: {% for k, v in a.labels|items %}{{ k }}={{ v }}{% if not loop.last %}, {% endif %}{% endfor %}
- since {{ a.starts_at }}{% if a.status == 'resolved' %}, ended {{ a.ends_at }}{% endif %}
{% if a.generator_url %}- [source]({{ a.generator_url }})
{% endif %}{% if a.links.ack %}- [Acknowledge]({{ a.links.ack }}) · [Resolve]({{ a.links.resolve }}) · [Silence]({{ a.links.silence }})
{% endif %}{% for r in a.links.runbooks %}- [Run runbook {{ r.name }}]({{ r.url }})
{% endfor %}
{% endfor %}{% if escalation %}Escalation {{ escalation.policy }}, level {{ escalation.level + 1 }}{% if escalation.contacts %}: {{ escalation.contacts|join(', ') }}{% endif %}

{% endif %}{% if links.ack %}[Acknowledge all]({{ links.ack }}) · [Resolve all]({{ links.resolve }})
{% endif %}{% if external_url %}[Argus]({{ external_url }}){% endif %}";

/// Default title: status, count, alert name and severity.
pub const DEFAULT_TITLE: &str = "[{{ status|upper }}{% if status == 'firing' %}:{{ firing }}{% endif %}] {{ common_labels.alertname or group_labels.alertname or 'alerts' }}{% if common_labels.severity %} ({{ common_labels.severity }}){% endif %}";

/// Default body: one block per alert with its level, value, expected band, description and links.
pub const DEFAULT_TEXT: &str = "{% for a in alerts %}*{{ a.status|upper }}* {{ a.labels.alertname }}{% if a.labels.severity %} [{{ a.labels.severity }}]{% endif %}
{% if a.annotations.summary %}{{ a.annotations.summary }}
{% endif %}{% if a.annotations.description %}{{ a.annotations.description }}
{% endif %}{% if a.level %}level: {{ a.level }}
{% endif %}{% if a.value %}value: {{ a.value }}{% if a.expected %} (expected {{ a.expected }}){% endif %}
{% endif %}labels: {% for k, v in a.labels|items %}{{ k }}={{ v }}{% if not loop.last %}, {% endif %}{% endfor %}
since {{ a.starts_at }}{% if a.generator_url %} · <{{ a.generator_url }}|source>{% endif %}
{% if a.links.ack %}<{{ a.links.ack }}|Acknowledge> · <{{ a.links.resolve }}|Resolve> · <{{ a.links.silence }}|Silence>
{% endif %}{% for r in a.links.runbooks %}<{{ r.url }}|Run runbook {{ r.name }}>
{% endfor %}{% endfor %}{% if links.ack %}<{{ links.ack }}|Acknowledge all>
{% endif %}{% if external_url %}{{ external_url }}{% endif %}";

/// Renders the field `tpl` for a notification (Go or `minijinja`, see the module docs), or the
/// `minijinja` `default` when the field is unset.
pub fn render_or<'a>(
    tpl: Option<&str>,
    default: &str,
    n: &Notification,
    env: impl Into<RenderEnv<'a>>,
) -> Result<String, ChannelError> {
    match tpl {
        Some(t) => render_field(t, n, env),
        None => render(default, n, env),
    }
}

/// A field Argus passes on as text unless it is a Go template, which is rendered.
pub fn expand<'a>(
    tpl: Option<&str>,
    n: &Notification,
    env: impl Into<RenderEnv<'a>>,
) -> Result<Option<String>, ChannelError> {
    match tpl {
        Some(t) if go::is_go_template(t) => render_field(t, n, env).map(Some),
        other => Ok(other.map(String::from)),
    }
}

/// Renders one receiver field: an Alertmanager Go template or a `minijinja` one.
pub fn render_field<'a>(
    tpl: &str,
    n: &Notification,
    env: impl Into<RenderEnv<'a>>,
) -> Result<String, ChannelError> {
    let env = env.into();
    if !go::is_go_template(tpl) {
        return render(tpl, n, env);
    }
    let msg = n.webhook_message(env.external_url, 0);
    let dot = go::data(&msg);
    let fallback;
    let set = match env.templates {
        Some(t) => t,
        None => {
            fallback = go::GoTemplates::builtin();
            &fallback
        }
    };
    set.render(tpl, &dot)
        .map_err(|e| ChannelError::Config(format!("template error: {e}")))
}

fn pick<'m>(
    labels: &'m BTreeMap<String, String>,
    ann: &'m BTreeMap<String, String>,
    keys: &[&str],
) -> Option<&'m String> {
    keys.iter()
        .find_map(|k| ann.get(*k).or_else(|| labels.get(*k)))
        .filter(|v| !v.is_empty())
}

/// The recipient a link is signed for: the contact for `contact:<name>`, else the receiver.
pub fn recipient(n: &Notification) -> &str {
    n.receiver.strip_prefix("contact:").unwrap_or(&n.receiver)
}

/// Renders a template for a notification.
pub fn render<'a>(
    tpl: &str,
    n: &Notification,
    env: impl Into<RenderEnv<'a>>,
) -> Result<String, ChannelError> {
    let env = env.into();
    let msg = n.webhook_message(env.external_url, 0);
    let who = recipient(n);
    let link = |a: LinkAction, t: &LinkTarget| env.links.map(|s| s.url(a, t, who, n.created_at));
    let alerts: Vec<_> = msg
        .alerts
        .iter()
        .zip(n.alerts.iter())
        .map(|(a, na)| {
            let (l, an) = (&a.labels, &a.annotations);
            let expected = pick(l, an, &["expected"]).cloned().or_else(|| {
                let (lo, hi) = (pick(l, an, &["lower"]), pick(l, an, &["upper"]));
                (lo.is_some() || hi.is_some()).then(|| {
                    format!(
                        "[{}, {}]",
                        lo.map_or("-∞", |s| s.as_str()),
                        hi.map_or("+∞", |s| s.as_str())
                    )
                })
            });
            let t = LinkTarget::Alert(na.fingerprint);
            let links = if a.status == "firing" {
                let runbooks: Vec<_> = na
                    .runbooks
                    .iter()
                    .filter_map(|name| {
                        let target = LinkTarget::Runbook {
                            alert: na.fingerprint,
                            runbook: name.clone(),
                        };
                        let url = link(LinkAction::Run, &target)?;
                        Some(minijinja::context! { name => name, url => url })
                    })
                    .collect();
                minijinja::context! {
                    ack => link(LinkAction::Ack, &t),
                    resolve => link(LinkAction::Resolve, &t),
                    silence => link(LinkAction::Silence, &t),
                    runbooks => runbooks,
                }
            } else {
                minijinja::context! {}
            };
            minijinja::context! {
                status => a.status, labels => a.labels, annotations => a.annotations,
                starts_at => a.starts_at, ends_at => a.ends_at,
                generator_url => a.generator_url, fingerprint => a.fingerprint,
                level => pick(l, an, &["level", "severity"]),
                value => pick(l, an, &["value"]),
                expected => expected, links => links,
            }
        })
        .collect();
    let g = LinkTarget::Group(n.group_key.clone());
    let links = if n.firing.is_empty() || n.group_key.is_empty() {
        minijinja::context! {}
    } else {
        minijinja::context! {
            ack => link(LinkAction::Ack, &g),
            resolve => link(LinkAction::Resolve, &g),
        }
    };
    let ctx = minijinja::context! {
        status => msg.status, receiver => msg.receiver, group_key => msg.group_key,
        group_labels => msg.group_labels, common_labels => msg.common_labels,
        common_annotations => msg.common_annotations, external_url => msg.external_url,
        firing => n.firing.len(), resolved => n.resolved.len(),
        escalation => n.escalation, alerts => alerts, links => links,
    };
    let env = minijinja::Environment::new();
    env.render_str(tpl, ctx)
        .map_err(|e| ChannelError::Config(format!("template error: {e}")))
}
