//! The `global:` section of the Alertmanager config: defaults shared by receivers.
//!
//! ```
//! use argus_alert::config::GlobalConfig;
//! assert_eq!(GlobalConfig::default().resolve_timeout().as_millis(), 300_000);
//! ```

use argus_model::PromDuration;
use serde::Deserialize;
use serde_json::Value;

use super::HttpConfig;

/// The `global:` section. Keys Argus uses are typed; the rest are accepted.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    /// End time given to alerts posted without one (default 5m).
    #[serde(default)]
    pub resolve_timeout: Option<PromDuration>,
    /// Default HTTP client settings.
    #[serde(default)]
    pub http_config: Option<HttpConfig>,
    /// Default email sender.
    #[serde(default)]
    pub smtp_from: Option<String>,
    /// Default HELO name (default `localhost`).
    #[serde(default)]
    pub smtp_hello: Option<String>,
    /// Default SMTP `host:port`.
    #[serde(default)]
    pub smtp_smarthost: Option<String>,
    /// Default SMTP user.
    #[serde(default)]
    pub smtp_auth_username: Option<String>,
    /// Default SMTP password.
    #[serde(default)]
    pub smtp_auth_password: Option<String>,
    /// File holding the default SMTP password.
    #[serde(default)]
    pub smtp_auth_password_file: Option<String>,
    /// Default CRAM-MD5 secret.
    #[serde(default)]
    pub smtp_auth_secret: Option<String>,
    /// Default PLAIN identity.
    #[serde(default)]
    pub smtp_auth_identity: Option<String>,
    /// Require STARTTLS (default true).
    #[serde(default)]
    pub smtp_require_tls: Option<bool>,
    /// Implicit TLS.
    #[serde(default)]
    pub smtp_force_implicit_tls: Option<bool>,
    /// SMTP TLS settings (accepted).
    #[serde(default)]
    pub smtp_tls_config: Option<Value>,
    /// Default Slack webhook URL.
    #[serde(default)]
    pub slack_api_url: Option<String>,
    /// File holding the Slack URL.
    #[serde(default)]
    pub slack_api_url_file: Option<String>,
    /// PagerDuty events URL (default `https://events.pagerduty.com/v2/enqueue`).
    #[serde(default)]
    pub pagerduty_url: Option<String>,
    /// Accepted.
    #[serde(default)]
    pub opsgenie_api_key: Option<Value>,
    /// Accepted.
    #[serde(default)]
    pub opsgenie_api_key_file: Option<Value>,
    /// Accepted.
    #[serde(default)]
    pub opsgenie_api_url: Option<Value>,
    /// Default `api_url` of `wechat_configs`.
    #[serde(default)]
    pub wechat_api_url: Option<String>,
    /// Default `api_secret` of `wechat_configs`.
    #[serde(default)]
    pub wechat_api_secret: Option<String>,
    /// Default `corp_id` of `wechat_configs`.
    #[serde(default)]
    pub wechat_api_corp_id: Option<String>,
    /// Accepted.
    #[serde(default)]
    pub victorops_api_key: Option<Value>,
    /// Accepted.
    #[serde(default)]
    pub victorops_api_key_file: Option<Value>,
    /// Accepted.
    #[serde(default)]
    pub victorops_api_url: Option<Value>,
    /// Accepted.
    #[serde(default)]
    pub telegram_api_url: Option<Value>,
    /// Accepted.
    #[serde(default)]
    pub webex_api_url: Option<Value>,
    /// Accepted.
    #[serde(default)]
    pub jira_api_url: Option<Value>,
    /// Accepted.
    #[serde(default)]
    pub rocketchat_api_url: Option<Value>,
    /// Accepted.
    #[serde(default)]
    pub rocketchat_token: Option<Value>,
    /// Accepted.
    #[serde(default)]
    pub rocketchat_token_id: Option<Value>,
}

impl GlobalConfig {
    /// `resolve_timeout`, 5m when unset.
    pub fn resolve_timeout(&self) -> PromDuration {
        self.resolve_timeout.unwrap_or(PromDuration::from_secs(300))
    }
}
