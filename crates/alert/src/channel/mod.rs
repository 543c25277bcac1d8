//! Channels deliver notifications. A channel says whether its error is retryable; [`deliver`]
//! retries retryable errors with exponential backoff.
//!
//! ```no_run
//! # async fn f(n: argus_alert::Notification) {
//! use argus_alert::channel::{deliver, Channel, WebhookChannel};
//! use argus_alert::config::RetryConfig;
//! let ch = WebhookChannel::new("http://127.0.0.1:5001/hook", "http://argus:9093").unwrap();
//! let attempts = deliver(&ch, &n, &RetryConfig::default()).await.unwrap();
//! # }
//! ```

mod chat;
mod dingtalk;
mod email;
mod feishu;
mod forward;
mod webhook;
mod wechat;
mod wecom;

pub use chat::{hmac_base64, ChannelEnv};
pub use dingtalk::DingTalkChannel;
pub use email::{EmailChannel, DEFAULT_EMAIL_HTML, DEFAULT_EMAIL_TEXT};
pub use feishu::FeishuChannel;
pub use forward::AlertmanagerChannel;
pub use webhook::{PagerDutyChannel, SlackChannel, WebhookChannel};
pub use wechat::WechatChannel;
pub use wecom::WeComChannel;

use crate::config::{Config, RetryConfig};
use crate::dispatch::integrations;
use crate::notification::{IntegrationKind, Notification};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future, so that channels can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A delivery failure.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The remote answered with a non-success status.
    #[error("{url} answered HTTP {status}: {body}")]
    Status {
        /// The endpoint.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The connection failed or timed out.
    #[error("cannot reach {url}: {reason}")]
    Connect {
        /// The endpoint.
        url: String,
        /// Why.
        reason: String,
    },
    /// The request could not be built or sent for another reason.
    #[error("request to {url} failed: {reason}")]
    Request {
        /// The endpoint.
        url: String,
        /// Why.
        reason: String,
    },
    /// A chat vendor answered HTTP 200 with a non-zero error code in the body.
    #[error("{vendor} at {url} answered error code {code}: {message}")]
    Vendor {
        /// DingTalk, WeCom or Feishu.
        vendor: &'static str,
        /// The endpoint, without its query.
        url: String,
        /// `errcode` or `code`.
        code: i64,
        /// `errmsg` or `msg`.
        message: String,
        /// Rate limits and "busy" codes are retryable.
        retryable: bool,
    },
    /// The channel is misconfigured.
    #[error("channel misconfigured: {0}")]
    Config(String),
    /// The SMTP server refused the message or could not be reached.
    #[error("SMTP via {server} failed: {reason}")]
    Smtp {
        /// The smarthost.
        server: String,
        /// Why.
        reason: String,
        /// Transient replies, timeouts and connection failures are retryable.
        retryable: bool,
    },
}

impl ChannelError {
    /// 5xx, 429 and connection failures are retryable; other 4xx and config errors are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            ChannelError::Status { status, .. } => *status >= 500 || *status == 429,
            ChannelError::Connect { .. } => true,
            ChannelError::Smtp { retryable, .. } | ChannelError::Vendor { retryable, .. } => {
                *retryable
            }
            ChannelError::Request { .. } | ChannelError::Config(_) => false,
        }
    }
}

/// Something that delivers notifications: `async fn notify(&self, n) -> Result<(), ChannelError>`
/// in a form usable as `dyn Channel`.
pub trait Channel: Send + Sync + std::fmt::Debug {
    /// Delivers one notification once (no retries).
    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>>;
}

/// Delivers with retries: attempts up to `retry.max_attempts`, sleeping `initial`, doubled each
/// time up to `max`, between attempts; stops at the first non-retryable error. Returns the
/// number of attempts made.
pub async fn deliver(
    ch: &dyn Channel,
    n: &Notification,
    retry: &RetryConfig,
) -> Result<u32, ChannelError> {
    let mut delay = retry.initial.as_millis().max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match ch.notify(n).await {
            Ok(()) => return Ok(attempt),
            Err(e) if e.is_retryable() && attempt < retry.max_attempts.max(1) => {
                tracing::warn!(receiver = %n.receiver, attempt, error = %e, "Notification failed; retrying.");
                tokio::time::sleep(std::time::Duration::from_millis(delay as u64)).await;
                delay = (delay * 2).min(retry.max.as_millis().max(1));
            }
            Err(e) => return Err(e),
        }
    }
}

/// The channels of every receiver, indexed like [`crate::dispatch::integrations`].
#[derive(Debug, Default, Clone)]
pub struct Channels {
    map: HashMap<(String, usize), Arc<dyn Channel>>,
}

impl Channels {
    /// Builds channels for every integration in the config (no one-click links, system clock);
    /// see [`Channels::from_config_with`].
    pub fn from_config(cfg: &Config) -> Result<Channels, ChannelError> {
        let ext = cfg.argus.external_url.clone().unwrap_or_default();
        Channels::from_config_with(cfg, &ChannelEnv::new(&ext))
    }

    /// Builds channels for every integration of every receiver, the contacts' receivers
    /// included: webhook, email, Slack, PagerDuty, `argus.forward_to_alertmanager`, DingTalk,
    /// WeCom, Feishu and `wechat_configs`. `env` gives the external URL, the link signer and the
    /// clock.
    pub fn from_config_with(cfg: &Config, env: &ChannelEnv) -> Result<Channels, ChannelError> {
        let ext = env.external_url.clone();
        let links = env.links.clone();
        let a = &cfg.argus;
        let tpl = cfg.go_templates.clone();
        let mut map: HashMap<(String, usize), Arc<dyn Channel>> = HashMap::new();
        for r in &cfg.all_receivers() {
            for (i, integ) in integrations(r, &cfg.argus).iter().enumerate() {
                let ch: Option<Arc<dyn Channel>> = match integ.kind {
                    IntegrationKind::Webhook => Some(Arc::new(WebhookChannel::from_config(
                        &r.webhook_configs[integ.index],
                        &ext,
                    )?)),
                    // Every other channel renders its Go template fields with `tpl`.
                    IntegrationKind::Slack => Some(Arc::new(
                        SlackChannel::from_config(
                            &r.slack_configs[integ.index],
                            &cfg.global,
                            &ext,
                        )?
                        .with_links(links.clone())
                        .with_templates(tpl.clone()),
                    )),
                    IntegrationKind::PagerDuty => Some(Arc::new(
                        PagerDutyChannel::from_config(
                            &r.pagerduty_configs[integ.index],
                            &cfg.global,
                            &ext,
                        )?
                        .with_templates(tpl.clone()),
                    )),
                    IntegrationKind::Email => Some(Arc::new(
                        EmailChannel::from_config(
                            &r.email_configs[integ.index],
                            &cfg.global,
                            &ext,
                        )?
                        .with_links(links.clone())
                        .with_templates(tpl.clone()),
                    )),
                    IntegrationKind::Alertmanager => Some(Arc::new(AlertmanagerChannel::new(
                        &a.forward_to_alertmanager[integ.index].url,
                    )?)),
                    IntegrationKind::DingTalk => Some(Arc::new(
                        DingTalkChannel::from_config(
                            &a.dingtalk_configs[integ.index],
                            &a.contacts,
                            env.clone(),
                        )?
                        .with_templates(tpl.clone()),
                    )),
                    IntegrationKind::WeCom => Some(Arc::new(
                        WeComChannel::from_config(&a.wecom_configs[integ.index], env.clone())?
                            .with_templates(tpl.clone()),
                    )),
                    IntegrationKind::Wechat => Some(Arc::new(
                        WechatChannel::from_config(
                            &r.wechat_configs[integ.index],
                            &cfg.global,
                            env.clone(),
                        )?
                        .with_templates(tpl.clone()),
                    )),
                    IntegrationKind::Feishu => Some(Arc::new(
                        FeishuChannel::from_config(&a.feishu_configs[integ.index], env.clone())?
                            .with_templates(tpl.clone()),
                    )),
                };
                if let Some(ch) = ch {
                    map.insert((r.name.clone(), i), ch);
                }
            }
        }
        Ok(Channels { map })
    }

    /// Sets the channel for a receiver's integration (tests use this to plug in fakes).
    pub fn insert(&mut self, receiver: &str, integration: usize, ch: Arc<dyn Channel>) {
        self.map.insert((receiver.to_string(), integration), ch);
    }

    /// The channel for a notification.
    pub fn get(&self, receiver: &str, integration: usize) -> Option<Arc<dyn Channel>> {
        self.map.get(&(receiver.to_string(), integration)).cloned()
    }

    /// `(receiver, integration)` pairs in the config that have no channel.
    pub fn missing(&self, cfg: &Config) -> Vec<(String, usize)> {
        cfg.all_receivers()
            .into_iter()
            .flat_map(|r| (0..integrations(&r, &cfg.argus).len()).map(move |i| (r.name.clone(), i)))
            .filter(|k| !self.map.contains_key(k))
            .collect()
    }
}
