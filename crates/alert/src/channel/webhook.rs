//! HTTP channels: the Alertmanager webhook (payload version 4), Slack incoming webhooks and
//! PagerDuty Events API v2.

use super::{BoxFuture, Channel, ChannelError};
use crate::config::{GlobalConfig, HttpConfig, PagerdutyConfig, SlackConfig, WebhookConfig};
use crate::notification::Notification;
use crate::template::{expand, render_or, DEFAULT_TEXT, DEFAULT_TITLE};
use std::time::Duration;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Credentials for a request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Auth {
    basic: Option<(String, Option<String>)>,
    header: Option<String>,
}

fn read_secret(
    inline: &Option<String>,
    file: &Option<String>,
) -> Result<Option<String>, ChannelError> {
    if let Some(v) = inline {
        return Ok(Some(v.clone()));
    }
    match file {
        Some(f) => std::fs::read_to_string(f)
            .map(|s| Some(s.trim().to_string()))
            .map_err(|e| ChannelError::Config(format!("cannot read {f}: {e}"))),
        None => Ok(None),
    }
}

fn auth(h: Option<&HttpConfig>) -> Result<Auth, ChannelError> {
    let Some(h) = h else {
        return Ok(Auth::default());
    };
    let mut a = Auth::default();
    if let Some(b) = &h.basic_auth {
        a.basic = Some((
            b.username.clone(),
            read_secret(&b.password, &b.password_file)?,
        ));
    }
    if let Some(z) = &h.authorization {
        if let Some(c) = read_secret(&z.credentials, &z.credentials_file)? {
            a.header = Some(format!(
                "{} {c}",
                z.kind.clone().unwrap_or_else(|| "Bearer".into())
            ));
        }
    } else if let Some(t) = read_secret(&h.bearer_token, &h.bearer_token_file)? {
        a.header = Some(format!("Bearer {t}"));
    }
    Ok(a)
}

pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, ChannelError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("Argus/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ChannelError::Config(format!("cannot build HTTP client: {e}")))
}

pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: &str,
    auth: &Auth,
    body: &serde_json::Value,
    idempotency_key: Option<&str>,
) -> Result<(), ChannelError> {
    let mut req = client.post(url).json(body);
    if let Some(k) = idempotency_key {
        req = req.header("Idempotency-Key", k);
    }
    if let Some((u, p)) = &auth.basic {
        req = req.basic_auth(u, p.as_ref());
    }
    if let Some(h) = &auth.header {
        req = req.header(reqwest::header::AUTHORIZATION, h);
    }
    let resp = req.send().await.map_err(|e| send_error(url, &e))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let mut body = resp.text().await.unwrap_or_default();
    body.truncate(512);
    Err(ChannelError::Status {
        url: url.to_string(),
        status: status.as_u16(),
        body,
    })
}

/// Maps a failed HTTP send: connection, timeout and request-building
/// failures are [`ChannelError::Connect`] (retryable), anything else
/// [`ChannelError::Request`]. `url` is the address as it may be shown
/// (secrets already removed).
pub(crate) fn send_error(url: &str, e: &reqwest::Error) -> ChannelError {
    if e.is_connect() || e.is_timeout() || e.is_request() {
        ChannelError::Connect {
            url: url.to_string(),
            reason: e.to_string(),
        }
    } else {
        ChannelError::Request {
            url: url.to_string(),
            reason: e.to_string(),
        }
    }
}

/// Posts the Alertmanager webhook payload (version 4).
#[derive(Debug, Clone)]
pub struct WebhookChannel {
    url: String,
    external_url: String,
    max_alerts: usize,
    auth: Auth,
    client: reqwest::Client,
}

impl WebhookChannel {
    /// A webhook to `url`, with `external_url` in the payload.
    pub fn new(url: &str, external_url: &str) -> Result<Self, ChannelError> {
        Ok(WebhookChannel {
            url: url.to_string(),
            external_url: external_url.to_string(),
            max_alerts: 0,
            auth: Auth::default(),
            client: client(DEFAULT_TIMEOUT)?,
        })
    }

    /// From a `webhook_configs` entry.
    pub fn from_config(c: &WebhookConfig, external_url: &str) -> Result<Self, ChannelError> {
        let url = read_secret(&c.url, &c.url_file)?
            .ok_or_else(|| ChannelError::Config("webhook needs url or url_file".into()))?;
        Ok(WebhookChannel {
            url,
            external_url: external_url.to_string(),
            max_alerts: c.max_alerts as usize,
            auth: auth(c.http_config.as_ref())?,
            client: client(c.timeout.map(|t| t.to_std()).unwrap_or(DEFAULT_TIMEOUT))?,
        })
    }
}

impl Channel for WebhookChannel {
    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let body = serde_json::to_value(n.webhook_message(&self.external_url, self.max_alerts))
                .map_err(|e| ChannelError::Config(e.to_string()))?;
            let key = n.idempotency_key();
            post_json(&self.client, &self.url, &self.auth, &body, Some(&key)).await
        })
    }
}

/// Posts a message with one attachment to a Slack incoming webhook.
#[derive(Debug, Clone)]
pub struct SlackChannel {
    url: String,
    cfg: SlackConfig,
    external_url: String,
    links: Option<std::sync::Arc<crate::links::LinkSigner>>,
    auth: Auth,
    client: reqwest::Client,
    templates: std::sync::Arc<crate::template::go::GoTemplates>,
}

impl SlackChannel {
    /// From a `slack_configs` entry, falling back to `global.slack_api_url`.
    pub fn from_config(
        c: &SlackConfig,
        g: &GlobalConfig,
        external_url: &str,
    ) -> Result<Self, ChannelError> {
        let url = match read_secret(&c.api_url, &c.api_url_file)? {
            Some(u) => u,
            None => read_secret(&g.slack_api_url, &g.slack_api_url_file)?.ok_or_else(|| {
                ChannelError::Config("slack needs api_url or global.slack_api_url".into())
            })?,
        };
        Ok(SlackChannel {
            url,
            cfg: c.clone(),
            external_url: external_url.to_string(),
            links: None,
            auth: auth(c.http_config.as_ref().or(g.http_config.as_ref()))?,
            client: client(c.timeout.map(|t| t.to_std()).unwrap_or(DEFAULT_TIMEOUT))?,
            templates: Default::default(),
        })
    }
}

impl SlackChannel {
    /// Renders Go template fields with the config's `templates:`.
    pub fn with_templates(mut self, t: std::sync::Arc<crate::template::go::GoTemplates>) -> Self {
        self.templates = t;
        self
    }

    /// Puts signed one-click links into the default text.
    pub fn with_links(mut self, links: Option<std::sync::Arc<crate::links::LinkSigner>>) -> Self {
        self.links = links;
        self
    }
}

impl Channel for SlackChannel {
    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let c = &self.cfg;
            let env = crate::template::RenderEnv {
                external_url: &self.external_url,
                links: self.links.as_deref(),
                templates: Some(&self.templates),
            };
            let title = render_or(c.title.as_deref(), DEFAULT_TITLE, n, env)?;
            let text = render_or(c.text.as_deref(), DEFAULT_TEXT, n, env)?;
            let x = |f: &Option<String>| expand(f.as_deref(), n, env);
            let color = x(&c.color)?.unwrap_or_else(|| {
                match n.status() {
                    crate::alert::AlertStatus::Firing => "danger",
                    crate::alert::AlertStatus::Resolved => "good",
                }
                .to_string()
            });
            let mut attachment = serde_json::json!({
                "title": title,
                "title_link": x(&c.title_link)?.unwrap_or_else(|| self.external_url.clone()),
                "text": text, "fallback": x(&c.fallback)?.unwrap_or_else(|| title.clone()),
                "color": color, "footer": x(&c.footer)?, "mrkdwn_in": ["fallback", "pretext", "text"],
            });
            if let Some(p) = x(&c.pretext)? {
                attachment["pretext"] = p.into();
            }
            if let Some(fields) = c.fields.as_ref().and_then(|v| v.as_array()) {
                let mut out = Vec::with_capacity(fields.len());
                for f in fields {
                    let get = |k: &str| f.get(k).and_then(|v| v.as_str()).map(String::from);
                    out.push(serde_json::json!({
                        "title": x(&get("title"))?, "value": x(&get("value"))?,
                        "short": f.get("short").and_then(|v| v.as_bool()).or(c.short_fields),
                    }));
                }
                attachment["fields"] = out.into();
            }
            let body = serde_json::json!({
                "channel": x(&c.channel)?,
                "username": x(&c.username)?.unwrap_or_else(|| "Argus".into()),
                "icon_emoji": c.icon_emoji, "icon_url": c.icon_url,
                "attachments": [attachment],
            });
            post_json(&self.client, &self.url, &self.auth, &body, None).await
        })
    }
}

/// Sends trigger/resolve events to PagerDuty Events API v2.
#[derive(Debug, Clone)]
pub struct PagerDutyChannel {
    url: String,
    routing_key: String,
    cfg: PagerdutyConfig,
    external_url: String,
    client: reqwest::Client,
    templates: std::sync::Arc<crate::template::go::GoTemplates>,
}

impl PagerDutyChannel {
    /// From a `pagerduty_configs` entry (Events v2, `routing_key`).
    pub fn from_config(
        c: &PagerdutyConfig,
        g: &GlobalConfig,
        external_url: &str,
    ) -> Result<Self, ChannelError> {
        let routing_key = read_secret(&c.routing_key, &c.routing_key_file)?
            .or(read_secret(&c.service_key, &c.service_key_file)?)
            .ok_or_else(|| ChannelError::Config("pagerduty needs routing_key".into()))?;
        Ok(PagerDutyChannel {
            url: c
                .url
                .clone()
                .or_else(|| g.pagerduty_url.clone())
                .unwrap_or_else(|| "https://events.pagerduty.com/v2/enqueue".into()),
            routing_key,
            cfg: c.clone(),
            external_url: external_url.to_string(),
            client: client(c.timeout.map(|t| t.to_std()).unwrap_or(DEFAULT_TIMEOUT))?,
            templates: Default::default(),
        })
    }

    /// Renders Go template fields with the config's `templates:`.
    pub fn with_templates(mut self, t: std::sync::Arc<crate::template::go::GoTemplates>) -> Self {
        self.templates = t;
        self
    }
}

impl Channel for PagerDutyChannel {
    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let c = &self.cfg;
            let action = match n.status() {
                crate::alert::AlertStatus::Firing => "trigger",
                crate::alert::AlertStatus::Resolved => "resolve",
            };
            let env = crate::template::RenderEnv {
                external_url: &self.external_url,
                links: None,
                templates: Some(&self.templates),
            };
            let summary = render_or(c.description.as_deref(), DEFAULT_TITLE, n, env)?;
            let x = |f: &Option<String>| expand(f.as_deref(), n, env);
            let mut details = serde_json::Map::new();
            for (k, v) in &c.details {
                details.insert(k.clone(), x(&Some(v.clone()))?.into());
            }
            let body = serde_json::json!({
                "routing_key": self.routing_key,
                "event_action": action,
                "dedup_key": format!("{:016x}", crate::alert::fingerprint(&argus_model::Labels::from_pairs(&[("group_key", n.group_key.as_str())]))),
                "client": x(&c.client)?.unwrap_or_else(|| "Argus".into()),
                "client_url": x(&c.client_url)?.unwrap_or_else(|| self.external_url.clone()),
                "payload": {
                    "summary": summary.chars().take(1024).collect::<String>(),
                    "source": x(&c.source)?.or(x(&c.client)?).unwrap_or_else(|| "Argus".into()),
                    "severity": x(&c.severity)?.unwrap_or_else(|| "error".into()),
                    "class": x(&c.class)?, "component": x(&c.component)?, "group": x(&c.group)?,
                    "custom_details": {
                        "firing": n.firing.len(), "resolved": n.resolved.len(),
                        "common_labels": n.common_labels(), "details": details,
                    },
                },
            });
            post_json(&self.client, &self.url, &Auth::default(), &body, None).await
        })
    }
}
