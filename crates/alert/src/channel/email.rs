//! Email over SMTP with `lettre` (rustls with ring; no native TLS). Settings follow
//! Alertmanager's `email_configs`, with `global.smtp_*` as defaults:
//! - `smarthost` `host:port`; port 465 or `force_implicit_tls: true` is implicit TLS;
//! - otherwise `require_tls` (default true) demands STARTTLS, and `require_tls: false` uses
//!   STARTTLS only when the server offers it, so a plain local sink works;
//! - `auth_username` with `auth_password` (or `auth_password_file`) logs in with PLAIN or LOGIN.
//!
//! The subject is `headers.Subject`, else [`crate::template::DEFAULT_TITLE`]; the body has a
//! text part ([`DEFAULT_EMAIL_TEXT`], or `text`) and an HTML part ([`DEFAULT_EMAIL_HTML`], or
//! `html`). Set fields may be Alertmanager Go templates or `minijinja` (see [`crate::template`]).
//!
//! ```no_run
//! # async fn f(n: argus_alert::Notification) {
//! use argus_alert::channel::{Channel, EmailChannel};
//! use argus_alert::config::{EmailConfig, GlobalConfig};
//! let cfg = EmailConfig {
//!     to: Some("oncall@example.com".into()),
//!     from: Some("argus@example.com".into()),
//!     smarthost: Some("127.0.0.1:2525".into()),
//!     require_tls: Some(false),
//!     ..Default::default()
//! };
//! let ch = EmailChannel::from_config(&cfg, &GlobalConfig::default(), "http://argus:9093").unwrap();
//! ch.notify(&n).await.unwrap();
//! # }
//! ```

use super::{BoxFuture, Channel, ChannelError};
use crate::config::{EmailConfig, GlobalConfig};
use crate::notification::Notification;
use crate::template::{render_field, render_or, DEFAULT_TITLE};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// Default plain-text body: per alert its state, name, severity, value, summary, labels and
/// links.
pub const DEFAULT_EMAIL_TEXT: &str = "{{ firing }} firing, {{ resolved }} resolved for receiver {{ receiver }}.
{% for a in alerts %}
[{{ a.status|upper }}] {{ a.labels.alertname }}{% if a.labels.severity %} ({{ a.labels.severity }}){% endif %}
{% if a.annotations.summary %}Summary: {{ a.annotations.summary }}
{% endif %}{% if a.annotations.description %}Description: {{ a.annotations.description }}
{% endif %}{% if a.level %}Level: {{ a.level }}
{% endif %}{% if a.value %}Value: {{ a.value }}{% if a.expected %} (expected {{ a.expected }}){% endif %}
{% endif %}Labels:
{% for k, v in a.labels|items %}  {{ k }} = {{ v }}
{% endfor %}Started: {{ a.starts_at }}{% if a.status == 'resolved' %}, ended: {{ a.ends_at }}{% endif %}
{% if a.generator_url %}Source: {{ a.generator_url }}
{% endif %}Fingerprint: {{ a.fingerprint }}
{% if a.links.ack %}Acknowledge: {{ a.links.ack }}
Resolve: {{ a.links.resolve }}
Silence: {{ a.links.silence }}
{% endif %}{% for r in a.links.runbooks %}Run runbook {{ r.name }}: {{ r.url }}
{% endfor %}{% endfor %}{% if links.ack %}
Acknowledge all: {{ links.ack }}
{% endif %}{% if external_url %}
Sent by Argus: {{ external_url }}
{% endif %}";

/// Default HTML body, the same content as [`DEFAULT_EMAIL_TEXT`].
pub const DEFAULT_EMAIL_HTML: &str = "<html><body style=\"font-family: sans-serif\">
<p>{{ firing }} firing, {{ resolved }} resolved for receiver <b>{{ receiver|e }}</b>.</p>
{% for a in alerts %}<div style=\"border-left: 4px solid {% if a.status == 'firing' %}#d33{% else %}#3a3{% endif %}; padding-left: 8px; margin: 12px 0\">
<h3>[{{ a.status|upper }}] {{ a.labels.alertname|e }}{% if a.labels.severity %} ({{ a.labels.severity|e }}){% endif %}</h3>
{% if a.annotations.summary %}<p>{{ a.annotations.summary|e }}</p>{% endif %}
{% if a.annotations.description %}<p>{{ a.annotations.description|e }}</p>{% endif %}
{% if a.level %}<p>Level: <b>{{ a.level|e }}</b></p>{% endif %}
{% if a.value %}<p>Value: <b>{{ a.value|e }}</b>{% if a.expected %} (expected {{ a.expected|e }}){% endif %}</p>{% endif %}
<table>{% for k, v in a.labels|items %}<tr><td>{{ k|e }}</td><td>{{ v|e }}</td></tr>{% endfor %}</table>
<p>Started {{ a.starts_at }}{% if a.status == 'resolved' %}, ended {{ a.ends_at }}{% endif %}</p>
{% if a.generator_url %}<p><a href=\"{{ a.generator_url|e }}\">Source</a></p>{% endif %}
{% if a.links.ack %}<p><a href=\"{{ a.links.ack|e }}\">Acknowledge</a> · <a href=\"{{ a.links.resolve|e }}\">Resolve</a> · <a href=\"{{ a.links.silence|e }}\">Silence</a></p>{% endif %}{% for r in a.links.runbooks %}<p><a href=\"{{ r.url|e }}\">Run runbook {{ r.name }}</a></p>{% endfor %}
</div>
{% endfor %}{% if links.ack %}<p><a href=\"{{ links.ack|e }}\">Acknowledge all</a></p>{% endif %}{% if external_url %}<p><a href=\"{{ external_url|e }}\">Argus</a></p>{% endif %}
</body></html>";

/// Sends notifications as email.
#[derive(Debug, Clone)]
pub struct EmailChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    server: String,
    from: Mailbox,
    to: Vec<Mailbox>,
    subject: Option<String>,
    headers: Vec<(String, String)>,
    text: Option<String>,
    html: Option<String>,
    external_url: String,
    links: Option<std::sync::Arc<crate::links::LinkSigner>>,
    templates: std::sync::Arc<crate::template::go::GoTemplates>,
}

fn bad(what: impl std::fmt::Display) -> ChannelError {
    ChannelError::Config(format!("email: {what}"))
}

impl EmailChannel {
    /// Builds the channel from an `email_configs` entry and the `global:` defaults.
    pub fn from_config(
        c: &EmailConfig,
        g: &GlobalConfig,
        external_url: &str,
    ) -> Result<Self, ChannelError> {
        let smarthost = c
            .smarthost
            .clone()
            .or_else(|| g.smtp_smarthost.clone())
            .ok_or_else(|| bad("no smarthost"))?;
        let (host, port) = smarthost
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
            .ok_or_else(|| bad(format!("smarthost {smarthost:?} is not host:port")))?;
        let from_s = c
            .from
            .clone()
            .or_else(|| g.smtp_from.clone())
            .ok_or_else(|| bad("no 'from' address in email_configs or global.smtp_from"))?;
        let from: Mailbox = from_s
            .parse()
            .map_err(|e| bad(format!("from {from_s:?}: {e}")))?;
        let to_s = c.to.clone().ok_or_else(|| bad("no 'to' address"))?;
        let to = to_s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<Mailbox>()
                    .map_err(|e| bad(format!("to {s:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(bad("empty 'to'"));
        }
        let implicit = c
            .force_implicit_tls
            .or(g.smtp_force_implicit_tls)
            .unwrap_or(port == 465);
        let require = c.require_tls.or(g.smtp_require_tls).unwrap_or(true);
        let params = TlsParameters::new(host.to_string()).map_err(|e| bad(format!("TLS: {e}")))?;
        let tls = if implicit {
            Tls::Wrapper(params)
        } else if require {
            Tls::Required(params)
        } else {
            Tls::Opportunistic(params)
        };
        let hello = c
            .hello
            .clone()
            .or_else(|| g.smtp_hello.clone())
            .unwrap_or_else(|| "localhost".into());
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .hello_name(ClientId::Domain(hello))
            .timeout(Some(Duration::from_secs(10)));
        let user = c
            .auth_username
            .clone()
            .or_else(|| g.smtp_auth_username.clone());
        if let Some(user) = user {
            let password = match (
                c.auth_password
                    .clone()
                    .or_else(|| g.smtp_auth_password.clone()),
                c.auth_password_file
                    .clone()
                    .or_else(|| g.smtp_auth_password_file.clone()),
            ) {
                (Some(p), _) => p,
                (None, Some(f)) => std::fs::read_to_string(&f)
                    .map_err(|e| bad(format!("auth_password_file {f}: {e}")))?
                    .trim_end()
                    .to_string(),
                (None, None) => String::new(),
            };
            b = b
                .credentials(Credentials::new(user, password))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        let mut subject = None;
        let mut headers = Vec::new();
        for (k, v) in &c.headers {
            match k.to_ascii_lowercase().as_str() {
                "subject" => subject = Some(v.clone()),
                "to" | "from" => {}
                _ => headers.push((k.clone(), v.clone())),
            }
        }
        Ok(EmailChannel {
            transport: b.build(),
            server: smarthost,
            from,
            to,
            subject,
            headers,
            text: c.text.clone(),
            html: c.html.clone(),
            external_url: external_url.to_string(),
            links: None,
            templates: Default::default(),
        })
    }

    /// Renders Go template fields with the config's `templates:`.
    pub fn with_templates(mut self, t: std::sync::Arc<crate::template::go::GoTemplates>) -> Self {
        self.templates = t;
        self
    }

    /// Puts signed one-click links into the default templates.
    pub fn with_links(mut self, links: Option<std::sync::Arc<crate::links::LinkSigner>>) -> Self {
        self.links = links;
        self
    }

    /// Builds the message for a notification (exposed for tests and previews).
    pub fn message(&self, n: &Notification) -> Result<Message, ChannelError> {
        let ext = crate::template::RenderEnv {
            external_url: &self.external_url,
            links: self.links.as_deref(),
            templates: Some(&self.templates),
        };
        let subject = render_or(self.subject.as_deref(), DEFAULT_TITLE, n, ext)?;
        let text = render_or(self.text.as_deref(), DEFAULT_EMAIL_TEXT, n, ext)?;
        let html = render_or(self.html.as_deref(), DEFAULT_EMAIL_HTML, n, ext)?;
        let mut b = Message::builder()
            .from(self.from.clone())
            .subject(subject.replace(['\r', '\n'], " "));
        for t in &self.to {
            b = b.to(t.clone());
        }
        for (k, v) in &self.headers {
            let v = render_field(v, n, ext).unwrap_or_else(|_| v.clone());
            let name = HeaderName::new_from_ascii(k.clone())
                .map_err(|e| bad(format!("header {k:?}: {e}")))?;
            b = b.raw_header(HeaderValue::new(name, v));
        }
        b.multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )
        .map_err(|e| bad(format!("message: {e}")))
    }
}

impl Channel for EmailChannel {
    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let msg = self.message(n)?;
            self.transport.send(msg).await.map(|_| ()).map_err(|e| {
                // Permanent (5xx) SMTP replies and client-side errors will fail again; transient
                // replies, timeouts and connection failures may pass.
                let retryable = !e.is_permanent() && !e.is_client();
                ChannelError::Smtp {
                    server: self.server.clone(),
                    reason: e.to_string(),
                    retryable,
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Alert, AlertStatus, IntegrationKind, NotifiedAlert};
    use argus_model::Labels;

    #[test]
    fn builds_a_message_with_default_templates() {
        let cfg = EmailConfig {
            to: Some("a@example.com, b@example.com".into()),
            from: Some("argus@example.com".into()),
            smarthost: Some("127.0.0.1:2525".into()),
            require_tls: Some(false),
            ..Default::default()
        };
        let ch = EmailChannel::from_config(&cfg, &GlobalConfig::default(), "http://argus").unwrap();
        let a = Alert::firing(
            Labels::from_pairs(&[("alertname", "DiskFull"), ("severity", "page")]),
            0,
        )
        .with_annotation("value", "97%");
        let n = Notification::new(
            "mail",
            0,
            IntegrationKind::Email,
            "{}:{}",
            Labels::empty(),
            vec![NotifiedAlert::new(a, AlertStatus::Firing)],
            0,
        );
        let raw = String::from_utf8(ch.message(&n).unwrap().formatted()).unwrap();
        assert!(raw.contains("Subject: [FIRING:1] DiskFull (page)"), "{raw}");
        assert!(raw.contains("Value: 97%"), "{raw}");
        assert!(raw.contains("b@example.com"), "{raw}");
    }

    #[test]
    fn rejects_bad_smarthost() {
        let cfg = EmailConfig {
            to: Some("a@example.com".into()),
            from: Some("argus@example.com".into()),
            smarthost: Some("nohost".into()),
            ..Default::default()
        };
        assert!(EmailChannel::from_config(&cfg, &GlobalConfig::default(), "").is_err());
    }
}
