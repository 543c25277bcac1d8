//! Alertmanager's `wechat_configs`: a message from a WeChat Work (WeCom) *application*.
//!
//! The channel gets an access token with `GET {api_url}gettoken?corpid=…&corpsecret=…` and keeps
//! it until shortly before its `expires_in`; then it posts
//! `{"touser", "toparty", "totag", "agentid", "msgtype", "text"|"markdown": {"content"}}` to
//! `POST {api_url}message/send?access_token=…`. WeCom answers HTTP 200 with `errcode`: 0 is
//! success; 40014 (invalid token) and 42001 (token expired) drop the cached token and the message
//! is sent once more with a fresh one (and, if that fails too, retried later); 45009 (frequency
//! limit), 45033 (too many concurrent calls) and -1 (busy) are retryable; others (40001 bad
//! secret, 60020 IP not allowed, 81013 no valid recipient, …) are not. The content is cut to
//! WeCom's limits: 2048 bytes for text, 4096 for markdown.
//!
//! The message and the recipient fields are Go templates, with Alertmanager's defaults
//! (`{{ template "wechat.default.message" . }}`, and empty recipients); `api_secret` and
//! `corp_id` fall back to `global.wechat_api_secret` and `global.wechat_api_corp_id`.
//!
//! ```
//! use argus_alert::channel::{ChannelEnv, WechatChannel};
//! use argus_alert::config::{GlobalConfig, WechatConfig};
//! let c = WechatConfig {
//!     api_secret: Some("s".into()),
//!     corp_id: Some("corp".into()),
//!     to_user: Some("@all".into()),
//!     agent_id: Some("1000002".into()),
//!     ..Default::default()
//! };
//! let ch = WechatChannel::from_config(&c, &GlobalConfig::default(), ChannelEnv::new("")).unwrap();
//! # let _ = ch;
//! ```

use super::chat::{client, inline_or_file, post, redact, truncate_bytes, ChannelEnv, Vendor};
use super::{BoxFuture, Channel, ChannelError};
use crate::config::{GlobalConfig, WechatConfig, WECHAT_API_URL};
use crate::notification::Notification;
use crate::template::go::GoTemplates;
use crate::template::{expand, render_field, RenderEnv};
use std::sync::Arc;

/// Codes that mean the access token is no longer good.
const TOKEN_CODES: [i64; 2] = [40014, 42001];

const VENDOR: Vendor = Vendor {
    name: "WeChat",
    code_fields: &["errcode"],
    msg_fields: &["errmsg"],
    retryable: |c| matches!(c, 45009 | 45033 | -1 | 40014 | 42001),
};

/// A token is renewed this long before WeCom says it expires.
const TOKEN_MARGIN_MS: i64 = 60_000;

#[derive(Debug, Clone)]
struct Token {
    value: String,
    /// Clock time after which it is fetched again.
    renew_at: i64,
}

/// Sends WeChat Work application messages.
#[derive(Debug)]
pub struct WechatChannel {
    api_url: String,
    secret: String,
    corp_id: String,
    cfg: WechatConfig,
    env: ChannelEnv,
    client: reqwest::Client,
    templates: Arc<GoTemplates>,
    token: tokio::sync::Mutex<Option<Token>>,
}

impl WechatChannel {
    /// Renders the message and recipients with the config's `templates:`.
    pub fn with_templates(mut self, templates: Arc<GoTemplates>) -> Self {
        self.templates = templates;
        self
    }

    /// From a `wechat_configs` entry, with `global`'s defaults.
    pub fn from_config(
        c: &WechatConfig,
        global: &GlobalConfig,
        env: ChannelEnv,
    ) -> Result<Self, ChannelError> {
        let secret = inline_or_file(&c.api_secret, &c.api_secret_file)?
            .or_else(|| global.wechat_api_secret.clone())
            .ok_or_else(|| {
                ChannelError::Config(
                    "wechat_configs needs api_secret or global.wechat_api_secret".into(),
                )
            })?;
        let corp_id = c
            .corp_id
            .clone()
            .or_else(|| global.wechat_api_corp_id.clone())
            .ok_or_else(|| {
                ChannelError::Config(
                    "wechat_configs needs corp_id or global.wechat_api_corp_id".into(),
                )
            })?;
        let mut api_url = c
            .api_url
            .clone()
            .or_else(|| global.wechat_api_url.clone())
            .unwrap_or_else(|| WECHAT_API_URL.to_string());
        if !api_url.ends_with('/') {
            api_url.push('/');
        }
        if !matches!(c.message_type(), "text" | "markdown") {
            return Err(ChannelError::Config(format!(
                "wechat_configs message_type {:?} is not \"text\" or \"markdown\"",
                c.message_type()
            )));
        }
        Ok(WechatChannel {
            api_url,
            secret,
            corp_id,
            cfg: c.clone(),
            client: client(c.timeout)?,
            env,
            templates: Default::default(),
            token: tokio::sync::Mutex::new(None),
        })
    }

    fn render_env(&self) -> RenderEnv<'_> {
        RenderEnv {
            templates: Some(&self.templates),
            ..self.env.render_env()
        }
    }

    /// The `message/send` body for a notification.
    pub fn body(&self, n: &Notification) -> Result<serde_json::Value, ChannelError> {
        let env = self.render_env();
        let mut body = serde_json::Map::new();
        for (key, tpl) in self.cfg.recipients() {
            let v = expand(Some(&tpl), n, env)?.unwrap_or_default();
            let v = v.trim();
            // Alertmanager leaves empty recipients out (`omitempty`).
            if !v.is_empty() {
                body.insert(key.into(), v.into());
            }
        }
        let kind = self.cfg.message_type();
        let limit = if kind == "markdown" { 4096 } else { 2048 };
        let content = truncate_bytes(render_field(self.cfg.message(), n, env)?, limit);
        body.insert("msgtype".into(), kind.into());
        body.insert("safe".into(), "0".into());
        body.insert(kind.into(), serde_json::json!({ "content": content }));
        Ok(serde_json::Value::Object(body))
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<String, ChannelError> {
        let base = format!("{}{path}", self.api_url);
        reqwest::Url::parse_with_params(&base, query)
            .map(String::from)
            .map_err(|e| ChannelError::Config(format!("wechat api_url {:?}: {e}", self.api_url)))
    }

    /// The cached token, or a new one when there is none, it is due for renewal, or `stale`
    /// is the token that was just refused.
    async fn token(&self, stale: Option<&str>) -> Result<String, ChannelError> {
        let mut cached = self.token.lock().await;
        let now = self.env.clock.now_ms();
        if let Some(t) = cached.as_ref() {
            if now < t.renew_at && stale != Some(t.value.as_str()) {
                return Ok(t.value.clone());
            }
        }
        *cached = None;
        let t = self.fetch_token(now).await?;
        let value = t.value.clone();
        *cached = Some(t);
        Ok(value)
    }

    async fn fetch_token(&self, now: i64) -> Result<Token, ChannelError> {
        let url = self.url(
            "gettoken",
            &[("corpid", &self.corp_id), ("corpsecret", &self.secret)],
        )?;
        let shown = redact(&url);
        let resp = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| super::webhook::send_error(&shown, &e))?;
        let status = resp.status();
        let mut text = resp.text().await.unwrap_or_default();
        text.truncate(512);
        if !status.is_success() {
            return Err(ChannelError::Status {
                url: shown,
                status: status.as_u16(),
                body: text,
            });
        }
        let j: serde_json::Value =
            serde_json::from_str(&text).map_err(|_| ChannelError::Request {
                url: shown.clone(),
                reason: format!(
                    "WeChat gettoken answered 200 with a body that is not JSON: {text:?}"
                ),
            })?;
        let code = j
            .get("errcode")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0);
        if code != 0 {
            return Err(ChannelError::Vendor {
                vendor: VENDOR.name,
                url: shown,
                code,
                message: j["errmsg"].as_str().unwrap_or("").to_string(),
                // A bad token is not the answer to gettoken; busy and rate limits are.
                retryable: matches!(code, 45009 | 45033 | -1),
            });
        }
        let value = j
            .get("access_token")
            .and_then(serde_json::Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ChannelError::Request {
                url: shown.clone(),
                reason: format!("WeChat gave no access_token for corp id {:?}", self.corp_id),
            })?
            .to_string();
        let expires_ms = j
            .get("expires_in")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(7200)
            .saturating_mul(1000);
        Ok(Token {
            value,
            renew_at: now + (expires_ms - TOKEN_MARGIN_MS).max(0),
        })
    }

    async fn send(&self, body: &serde_json::Value, token: &str) -> Result<(), ChannelError> {
        let url = self.url("message/send", &[("access_token", token)])?;
        post(&self.client, &url, body, &VENDOR).await
    }
}

impl Channel for WechatChannel {
    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            let body = self.body(n)?;
            let token = self.token(None).await?;
            match self.send(&body, &token).await {
                Err(ChannelError::Vendor { code, .. }) if TOKEN_CODES.contains(&code) => {
                    let fresh = self.token(Some(&token)).await?;
                    self.send(&body, &fresh).await
                }
                other => other,
            }
        })
    }
}
