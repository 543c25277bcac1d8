//! Feishu/Lark custom bot: `msg_type: interactive` (a card with a coloured header and a
//! markdown element, the default) or `text`. With a `secret`, the body gets `timestamp`
//! (seconds, as a string) and `sign` = base64(HMAC-SHA256(key = "{timestamp}\n{secret}",
//! message = empty)). Feishu answers HTTP 200 with `code` (older deployments `StatusCode`):
//! 0 is success; 11232 (frequency limited) and -1 (busy) are retried; 19021 (signature or
//! timestamp), 19024 (keyword), 19036 (too large), 9499 (bad request) and the rest are not.
//!
//! ```
//! use argus_alert::channel::FeishuChannel;
//! // The signature of an empty message keyed by "1599360473\nsecret".
//! let s = FeishuChannel::sign("secret", 1_599_360_473);
//! assert_eq!(s.len(), 44);
//! ```

use super::chat::{client, hmac_base64, inline_or_file, post, truncate_bytes, ChannelEnv, Vendor};
use super::{BoxFuture, Channel, ChannelError};
use crate::alert::AlertStatus;
use crate::config::FeishuConfig;
use crate::notification::Notification;
use crate::template::{render_or, DEFAULT_MARKDOWN, DEFAULT_TITLE};

const VENDOR: Vendor = Vendor {
    name: "Feishu",
    code_fields: &["code", "StatusCode"],
    msg_fields: &["msg", "StatusMessage"],
    retryable: |c| c == 11232 || c == -1,
};

/// Posts cards or text to a Feishu/Lark custom bot.
#[derive(Debug, Clone)]
pub struct FeishuChannel {
    url: String,
    secret: Option<String>,
    cfg: FeishuConfig,
    env: ChannelEnv,
    client: reqwest::Client,
    templates: std::sync::Arc<crate::template::go::GoTemplates>,
}

impl FeishuChannel {
    /// Renders Go template fields with the config's `templates:`.
    pub fn with_templates(
        mut self,
        templates: std::sync::Arc<crate::template::go::GoTemplates>,
    ) -> Self {
        self.templates = templates;
        self
    }

    /// From an `argus.feishu_configs` entry.
    pub fn from_config(c: &FeishuConfig, env: ChannelEnv) -> Result<Self, ChannelError> {
        let url = inline_or_file(&c.url, &c.url_file)?
            .ok_or_else(|| ChannelError::Config("feishu needs url or url_file".into()))?;
        Ok(FeishuChannel {
            url,
            secret: inline_or_file(&c.secret, &c.secret_file)?.filter(|s| !s.is_empty()),
            cfg: c.clone(),
            client: client(c.timeout)?,
            env,
            templates: Default::default(),
        })
    }

    /// The signature for `timestamp` (seconds).
    pub fn sign(secret: &str, timestamp: i64) -> String {
        hmac_base64(format!("{timestamp}\n{secret}").as_bytes(), b"")
    }

    /// The body for a notification at `now_ms` (the signature's time).
    pub fn body(&self, n: &Notification, now_ms: i64) -> Result<serde_json::Value, ChannelError> {
        let env = crate::template::RenderEnv {
            templates: Some(&self.templates),
            ..self.env.render_env()
        };
        let title = render_or(self.cfg.title.as_deref(), DEFAULT_TITLE, n, env)?;
        let text = truncate_bytes(
            render_or(self.cfg.text.as_deref(), DEFAULT_MARKDOWN, n, env)?,
            28_000,
        );
        let mut body = if self.cfg.msg_type.as_deref() == Some("text") {
            serde_json::json!({"msg_type": "text", "content": {"text": format!("{title}\n{text}")}})
        } else {
            let color = match n.status() {
                AlertStatus::Firing => "red",
                AlertStatus::Resolved => "green",
            };
            serde_json::json!({
                "msg_type": "interactive",
                "card": {
                    "config": {"wide_screen_mode": true},
                    "header": {"template": color, "title": {"tag": "plain_text", "content": title}},
                    "elements": [{"tag": "markdown", "content": text}],
                },
            })
        };
        if let Some(s) = &self.secret {
            let ts = now_ms.div_euclid(1000);
            body["timestamp"] = serde_json::Value::String(ts.to_string());
            body["sign"] = serde_json::Value::String(Self::sign(s, ts));
        }
        Ok(body)
    }
}

impl Channel for FeishuChannel {
    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let body = self.body(n, self.env.clock.now_ms())?;
            post(&self.client, &self.url, &body, &VENDOR).await
        })
    }
}
