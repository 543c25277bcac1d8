//! Argus's chat-robot integrations, under `argus:` so `receivers:` stays valid Alertmanager YAML:
//! `argus.dingtalk_configs`, `argus.wecom_configs` and `argus.feishu_configs`. Each entry names
//! the receiver it belongs to (like `forward_to_alertmanager`); its integration index comes after
//! the receiver's own integrations.
//!
//! ```
//! use argus_alert::config::Config;
//! let cfg = Config::parse(r#"
//! route: {receiver: team}
//! receivers: [{name: team}]
//! argus:
//!   dingtalk_configs:
//!     - {receiver: team, url: "https://oapi.dingtalk.com/robot/send?access_token=T", secret: SECabc}
//!   wecom_configs:
//!     - {receiver: team, key: "693a91f6-7xxx"}
//!   feishu_configs:
//!     - {receiver: team, url: "https://open.feishu.cn/open-apis/bot/v2/hook/H", msg_type: text}
//! "#, "am.yml").unwrap();
//! assert_eq!(cfg.argus.wecom_configs[0].webhook_url().unwrap(),
//!     "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx");
//! ```

use argus_model::PromDuration;
use serde::Deserialize;

/// The WeCom group-robot endpoint a bare `key` is appended to.
pub const WECOM_WEBHOOK_BASE: &str = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=";

/// A DingTalk custom robot (`msgtype: markdown`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DingTalkConfig {
    /// The receiver (under `receivers:`) this integration belongs to.
    pub receiver: String,
    /// Robot webhook URL with its `access_token` (or use `url_file`).
    #[serde(default)]
    pub url: Option<String>,
    /// File holding the URL.
    #[serde(default)]
    pub url_file: Option<String>,
    /// The robot's signing secret (`SEC…`); when set, `timestamp` and `sign` are added to the
    /// URL. Default: unsigned.
    #[serde(default)]
    pub secret: Option<String>,
    /// File holding the secret.
    #[serde(default)]
    pub secret_file: Option<String>,
    /// Notify about resolved alerts (default true).
    #[serde(default)]
    pub send_resolved: Option<bool>,
    /// Title template (minijinja); default [`crate::template::DEFAULT_TITLE`].
    #[serde(default)]
    pub title: Option<String>,
    /// Markdown body template (minijinja); default [`crate::template::DEFAULT_MARKDOWN`].
    #[serde(default)]
    pub text: Option<String>,
    /// Mobile numbers to @mention (default none). Contacts named by an escalation level are
    /// mentioned by their `phone` as well.
    #[serde(default)]
    pub at_mobiles: Vec<String>,
    /// @mention everyone (default false).
    #[serde(default)]
    pub at_all: bool,
    /// Request timeout (default 10s).
    #[serde(default)]
    pub timeout: Option<PromDuration>,
}

/// A WeCom (WeChat Work) group robot (`msgtype: markdown`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeComConfig {
    /// The receiver this integration belongs to.
    pub receiver: String,
    /// Full webhook URL (`…/cgi-bin/webhook/send?key=…`); or give `key` or `url_file`.
    #[serde(default)]
    pub url: Option<String>,
    /// File holding the URL.
    #[serde(default)]
    pub url_file: Option<String>,
    /// The robot key; the URL is then [`WECOM_WEBHOOK_BASE`] + key.
    #[serde(default)]
    pub key: Option<String>,
    /// Notify about resolved alerts (default true).
    #[serde(default)]
    pub send_resolved: Option<bool>,
    /// Markdown body template (minijinja); default [`crate::template::DEFAULT_MARKDOWN`].
    #[serde(default)]
    pub text: Option<String>,
    /// Request timeout (default 10s).
    #[serde(default)]
    pub timeout: Option<PromDuration>,
}

impl WeComConfig {
    /// The URL to post to, from `url` or `key` (`url_file` is read by the channel).
    pub fn webhook_url(&self) -> Option<String> {
        self.url.clone().or_else(|| {
            self.key
                .as_ref()
                .map(|k| format!("{WECOM_WEBHOOK_BASE}{k}"))
        })
    }
}

/// A Feishu/Lark custom bot.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeishuConfig {
    /// The receiver this integration belongs to.
    pub receiver: String,
    /// Bot webhook URL (`…/open-apis/bot/v2/hook/…`, on `open.feishu.cn` or `open.larksuite.com`).
    #[serde(default)]
    pub url: Option<String>,
    /// File holding the URL.
    #[serde(default)]
    pub url_file: Option<String>,
    /// Signature-verification secret; when set, `timestamp` and `sign` go into the body.
    /// Default: unsigned.
    #[serde(default)]
    pub secret: Option<String>,
    /// File holding the secret.
    #[serde(default)]
    pub secret_file: Option<String>,
    /// `interactive` (a card, default) or `text`.
    #[serde(default)]
    pub msg_type: Option<String>,
    /// Notify about resolved alerts (default true).
    #[serde(default)]
    pub send_resolved: Option<bool>,
    /// Title template (minijinja); default [`crate::template::DEFAULT_TITLE`].
    #[serde(default)]
    pub title: Option<String>,
    /// Body template (minijinja, Lark markdown); default [`crate::template::DEFAULT_MARKDOWN`].
    #[serde(default)]
    pub text: Option<String>,
    /// Request timeout (default 10s).
    #[serde(default)]
    pub timeout: Option<PromDuration>,
}
