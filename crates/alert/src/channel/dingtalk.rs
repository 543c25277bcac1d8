//! DingTalk custom robot: `msgtype: markdown` to the robot's webhook URL. With a `secret`, the
//! URL gets `timestamp` (ms) and `sign` = URL-encoded base64(HMAC-SHA256(secret,
//! "{timestamp}\n{secret}")). DingTalk answers HTTP 200 with `errcode`: 0 is success; 130101
//! (sending too fast) and -1 (busy) are retried; others (310000 signature/keyword/IP check,
//! 300001 bad token, 400xxx bad message) are not.
//!
//! ```
//! use argus_alert::channel::DingTalkChannel;
//! let url = DingTalkChannel::signed_url("https://oapi.dingtalk.com/robot/send?access_token=T", "SECx", 1_700_000_000_000);
//! assert!(url.starts_with("https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=1700000000000&sign="));
//! ```

use super::chat::{client, hmac_base64, inline_or_file, post, truncate_bytes, ChannelEnv, Vendor};
use super::{BoxFuture, Channel, ChannelError};
use crate::config::{ContactConfig, DingTalkConfig};
use crate::notification::Notification;
use crate::template::{render_or, DEFAULT_MARKDOWN, DEFAULT_TITLE};

const VENDOR: Vendor = Vendor {
    name: "DingTalk",
    code_fields: &["errcode"],
    msg_fields: &["errmsg"],
    retryable: |c| c == 130101 || c == -1,
};

/// Posts markdown messages to a DingTalk custom robot.
#[derive(Debug, Clone)]
pub struct DingTalkChannel {
    url: String,
    secret: Option<String>,
    cfg: DingTalkConfig,
    phones: Vec<(String, String)>,
    env: ChannelEnv,
    client: reqwest::Client,
    templates: std::sync::Arc<crate::template::go::GoTemplates>,
}

impl DingTalkChannel {
    /// Renders Go template fields with the config's `templates:`.
    pub fn with_templates(
        mut self,
        templates: std::sync::Arc<crate::template::go::GoTemplates>,
    ) -> Self {
        self.templates = templates;
        self
    }

    /// From an `argus.dingtalk_configs` entry; `contacts` give phones to @mention for
    /// escalation steps that name them.
    pub fn from_config(
        c: &DingTalkConfig,
        contacts: &[ContactConfig],
        env: ChannelEnv,
    ) -> Result<Self, ChannelError> {
        let url = inline_or_file(&c.url, &c.url_file)?
            .ok_or_else(|| ChannelError::Config("dingtalk needs url or url_file".into()))?;
        Ok(DingTalkChannel {
            url,
            secret: inline_or_file(&c.secret, &c.secret_file)?.filter(|s| !s.is_empty()),
            cfg: c.clone(),
            phones: contacts
                .iter()
                .filter_map(|p| p.phone.clone().map(|ph| (p.name.clone(), ph)))
                .collect(),
            client: client(c.timeout)?,
            env,
            templates: Default::default(),
        })
    }

    /// `url` with `timestamp` and `sign` appended for `secret` at `now_ms`.
    pub fn signed_url(url: &str, secret: &str, now_ms: i64) -> String {
        let sign = hmac_base64(secret.as_bytes(), format!("{now_ms}\n{secret}").as_bytes());
        let mut u = reqwest::Url::parse(url);
        match &mut u {
            Ok(u) => {
                u.query_pairs_mut()
                    .append_pair("timestamp", &now_ms.to_string())
                    .append_pair("sign", &sign);
                u.to_string()
            }
            Err(_) => url.to_string(),
        }
    }

    /// The message body for a notification.
    pub fn body(&self, n: &Notification) -> Result<serde_json::Value, ChannelError> {
        let env = crate::template::RenderEnv {
            templates: Some(&self.templates),
            ..self.env.render_env()
        };
        let title = render_or(self.cfg.title.as_deref(), DEFAULT_TITLE, n, env)?;
        let mut text = render_or(self.cfg.text.as_deref(), DEFAULT_MARKDOWN, n, env)?;
        let mut mobiles = self.cfg.at_mobiles.clone();
        if let Some(step) = &n.escalation {
            for (name, phone) in &self.phones {
                if step.contacts.contains(name) && !mobiles.contains(phone) {
                    mobiles.push(phone.clone());
                }
            }
        }
        // DingTalk only notifies @mentioned mobiles that also appear in the text.
        if !mobiles.is_empty() {
            text.push_str("\n\n");
            text.push_str(
                &mobiles
                    .iter()
                    .map(|m| format!("@{m}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        Ok(serde_json::json!({
            "msgtype": "markdown",
            "markdown": {"title": title, "text": truncate_bytes(text, 18_000)},
            "at": {"atMobiles": mobiles, "isAtAll": self.cfg.at_all},
        }))
    }
}

impl Channel for DingTalkChannel {
    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let body = self.body(n)?;
            let url = match &self.secret {
                Some(s) => Self::signed_url(&self.url, s, self.env.clock.now_ms()),
                None => self.url.clone(),
            };
            post(&self.client, &url, &body, &VENDOR).await
        })
    }
}
