//! WeCom (WeChat Work) group robot: `msgtype: markdown` to `…/cgi-bin/webhook/send?key=…`.
//! WeCom answers HTTP 200 with `errcode`: 0 is success; 45009 (API frequency limit), 45033
//! (too many concurrent calls) and -1 (busy) are retried; others (93000 bad key, 40008 bad
//! message type, 40058 bad content…) are not. Markdown content is cut to 4096 bytes, WeCom's
//! limit.
//!
//! Alertmanager's `wechat_configs` (the WeCom *application* API with corp id and secret) is a
//! different integration: it is accepted in `receivers:` but not delivered to.
//!
//! ```
//! use argus_alert::channel::{ChannelEnv, WeComChannel};
//! use argus_alert::config::WeComConfig;
//! let c = WeComConfig { receiver: "r".into(), key: Some("k".into()), ..Default::default() };
//! let ch = WeComChannel::from_config(&c, ChannelEnv::new("")).unwrap();
//! # let _ = ch;
//! ```

use super::chat::{client, inline_or_file, post, truncate_bytes, ChannelEnv, Vendor};
use super::{BoxFuture, Channel, ChannelError};
use crate::config::WeComConfig;
use crate::notification::Notification;
use crate::template::{render, render_or, DEFAULT_MARKDOWN, DEFAULT_TITLE};

const VENDOR: Vendor = Vendor {
    name: "WeCom",
    code_fields: &["errcode"],
    msg_fields: &["errmsg"],
    retryable: |c| c == 45009 || c == 45033 || c == -1,
};

/// Posts markdown messages to a WeCom group robot.
#[derive(Debug, Clone)]
pub struct WeComChannel {
    url: String,
    cfg: WeComConfig,
    env: ChannelEnv,
    client: reqwest::Client,
    templates: std::sync::Arc<crate::template::go::GoTemplates>,
}

impl WeComChannel {
    /// Renders Go template fields with the config's `templates:`.
    pub fn with_templates(
        mut self,
        templates: std::sync::Arc<crate::template::go::GoTemplates>,
    ) -> Self {
        self.templates = templates;
        self
    }

    /// From an `argus.wecom_configs` entry.
    pub fn from_config(c: &WeComConfig, env: ChannelEnv) -> Result<Self, ChannelError> {
        let url = match c.webhook_url() {
            Some(u) => u,
            None => inline_or_file(&None, &c.url_file)?
                .ok_or_else(|| ChannelError::Config("wecom needs url, key or url_file".into()))?,
        };
        Ok(WeComChannel {
            url,
            cfg: c.clone(),
            client: client(c.timeout)?,
            env,
            templates: Default::default(),
        })
    }

    /// The message body for a notification.
    pub fn body(&self, n: &Notification) -> Result<serde_json::Value, ChannelError> {
        let env = crate::template::RenderEnv {
            templates: Some(&self.templates),
            ..self.env.render_env()
        };
        let title = render(DEFAULT_TITLE, n, env)?;
        let text = render_or(self.cfg.text.as_deref(), DEFAULT_MARKDOWN, n, env)?;
        let text = match self.cfg.text {
            Some(_) => text,
            None => format!("### {title}\n{text}"),
        };
        Ok(serde_json::json!({
            "msgtype": "markdown",
            "markdown": {"content": truncate_bytes(text, 4096)},
        }))
    }
}

impl Channel for WeComChannel {
    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let body = self.body(n)?;
            post(&self.client, &self.url, &body, &VENDOR).await
        })
    }
}
