//! `receivers:` and their integrations as written in alertmanager.yml. Integrations Argus does not
//! deliver yet are accepted (so the file loads unchanged) and reported by
//! [`ReceiverConfig::unsupported`].

use argus_model::PromDuration;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Prometheus's common HTTP client settings (`http_config`). Argus uses the auth settings;
/// the others are accepted.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// HTTP basic auth.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header.
    #[serde(default)]
    pub authorization: Option<Authorization>,
    /// Legacy bearer token.
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// Legacy bearer token file.
    #[serde(default)]
    pub bearer_token_file: Option<String>,
    /// OAuth 2 settings (accepted, not used).
    #[serde(default)]
    pub oauth2: Option<Value>,
    /// TLS settings (accepted, not used).
    #[serde(default)]
    pub tls_config: Option<Value>,
    /// Proxy URL (accepted, not used).
    #[serde(default)]
    pub proxy_url: Option<String>,
    /// Hosts that bypass the proxy (accepted, not used).
    #[serde(default)]
    pub no_proxy: Option<String>,
    /// Use the environment's proxy (accepted, not used).
    #[serde(default)]
    pub proxy_from_environment: Option<bool>,
    /// Headers for proxy CONNECT (accepted, not used).
    #[serde(default)]
    pub proxy_connect_header: Option<Value>,
    /// Follow redirects (accepted; redirects are followed).
    #[serde(default)]
    pub follow_redirects: Option<bool>,
    /// Allow HTTP/2 (accepted, not used).
    #[serde(default)]
    pub enable_http2: Option<bool>,
    /// Extra headers (accepted, not used).
    #[serde(default)]
    pub http_headers: Option<Value>,
}

/// Basic auth credentials.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    #[serde(default)]
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: Option<String>,
    /// File holding the password.
    #[serde(default)]
    pub password_file: Option<String>,
}

/// An `Authorization` header.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// Scheme; `Bearer` when unset.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Credentials.
    #[serde(default)]
    pub credentials: Option<String>,
    /// File holding the credentials.
    #[serde(default)]
    pub credentials_file: Option<String>,
}

/// One receiver: a name and its integrations.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    /// Unique name, referenced by routes.
    pub name: String,
    /// Webhooks (Alertmanager payload version 4).
    #[serde(default)]
    pub webhook_configs: Vec<WebhookConfig>,
    /// Email over SMTP.
    #[serde(default)]
    pub email_configs: Vec<EmailConfig>,
    /// Slack incoming webhooks.
    #[serde(default)]
    pub slack_configs: Vec<SlackConfig>,
    /// PagerDuty Events API v2.
    #[serde(default)]
    pub pagerduty_configs: Vec<PagerdutyConfig>,
    /// Accepted, not delivered.
    #[serde(default)]
    pub opsgenie_configs: Vec<Value>,
    /// WeChat Work (WeCom) application messages.
    #[serde(default)]
    pub wechat_configs: Vec<WechatConfig>,
    /// Accepted, not delivered.
    #[serde(default)]
    pub pushover_configs: Vec<Value>,
    /// Accepted, not delivered.
    #[serde(default)]
    pub victorops_configs: Vec<Value>,
    /// Accepted, not delivered.
    #[serde(default)]
    pub sns_configs: Vec<Value>,
    /// Accepted, not delivered.
    #[serde(default)]
    pub telegram_configs: Vec<Value>,
    /// Accepted, not delivered.
    #[serde(default)]
    pub webex_configs: Vec<Value>,
    /// Accepted, not delivered.
    #[serde(default)]
    pub discord_configs: Vec<Value>,
    /// Accepted, not delivered.
    #[serde(default)]
    pub msteams_configs: Vec<Value>,
    /// Accepted, not delivered.
    #[serde(default)]
    pub msteamsv2_configs: Vec<Value>,
    /// Accepted, not delivered.
    #[serde(default)]
    pub jira_configs: Vec<Value>,
    /// Accepted, not delivered.
    #[serde(default)]
    pub rocketchat_configs: Vec<Value>,
}

impl ReceiverConfig {
    /// Names of the integration kinds present that Argus accepts but does not deliver to.
    pub fn unsupported(&self) -> Vec<&'static str> {
        let all: [(&'static str, &Vec<Value>); 11] = [
            ("opsgenie_configs", &self.opsgenie_configs),
            ("pushover_configs", &self.pushover_configs),
            ("victorops_configs", &self.victorops_configs),
            ("sns_configs", &self.sns_configs),
            ("telegram_configs", &self.telegram_configs),
            ("webex_configs", &self.webex_configs),
            ("discord_configs", &self.discord_configs),
            ("msteams_configs", &self.msteams_configs),
            ("msteamsv2_configs", &self.msteamsv2_configs),
            ("jira_configs", &self.jira_configs),
            ("rocketchat_configs", &self.rocketchat_configs),
        ];
        all.iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, _)| *n)
            .collect()
    }
}

/// Alertmanager's `wechat_configs`: a message from a WeChat Work (WeCom) application, sent
/// with an access token from the corp id and the application's secret.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatConfig {
    /// Notify about resolved alerts (default false, as Alertmanager).
    #[serde(default)]
    pub send_resolved: Option<bool>,
    /// HTTP client settings (accepted; the API needs no authentication beyond the token).
    #[serde(default)]
    pub http_config: Option<HttpConfig>,
    /// The application's secret; `global.wechat_api_secret` when unset.
    #[serde(default)]
    pub api_secret: Option<String>,
    /// File holding the secret.
    #[serde(default)]
    pub api_secret_file: Option<String>,
    /// The corp id; `global.wechat_api_corp_id` when unset.
    #[serde(default)]
    pub corp_id: Option<String>,
    /// The message template; default `{{ template "wechat.default.message" . }}`.
    #[serde(default)]
    pub message: Option<String>,
    /// API base URL ending in `/`; `global.wechat_api_url`, else
    /// `https://qyapi.weixin.qq.com/cgi-bin/`.
    #[serde(default)]
    pub api_url: Option<String>,
    /// `touser` (template; default `{{ template "wechat.default.to_user" . }}`).
    #[serde(default)]
    pub to_user: Option<String>,
    /// `toparty` (template; default `{{ template "wechat.default.to_party" . }}`).
    #[serde(default)]
    pub to_party: Option<String>,
    /// `totag` (template; default `{{ template "wechat.default.to_tag" . }}`).
    #[serde(default)]
    pub to_tag: Option<String>,
    /// `agentid` (template; default `{{ template "wechat.default.agent_id" . }}`).
    #[serde(default)]
    pub agent_id: Option<String>,
    /// `text` (default) or `markdown`.
    #[serde(default)]
    pub message_type: Option<String>,
    /// Request timeout (default 10s; an Argus addition).
    #[serde(default)]
    pub timeout: Option<PromDuration>,
}

/// Alertmanager's default WeChat API base URL.
pub const WECHAT_API_URL: &str = "https://qyapi.weixin.qq.com/cgi-bin/";

impl WechatConfig {
    /// The message template in force.
    pub fn message(&self) -> &str {
        self.message
            .as_deref()
            .unwrap_or(r#"{{ template "wechat.default.message" . }}"#)
    }

    /// `(json key, template)` of the recipient fields, defaults filled in.
    pub fn recipients(&self) -> [(&'static str, String); 4] {
        let pick = |v: &Option<String>, name: &str| {
            v.clone()
                .unwrap_or_else(|| format!("{{{{ template \"wechat.default.{name}\" . }}}}"))
        };
        [
            ("touser", pick(&self.to_user, "to_user")),
            ("toparty", pick(&self.to_party, "to_party")),
            ("totag", pick(&self.to_tag, "to_tag")),
            ("agentid", pick(&self.agent_id, "agent_id")),
        ]
    }

    /// `text` or `markdown`.
    pub fn message_type(&self) -> &str {
        self.message_type.as_deref().unwrap_or("text")
    }
}

/// A webhook integration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Notify about resolved alerts (default true).
    #[serde(default)]
    pub send_resolved: Option<bool>,
    /// Endpoint.
    #[serde(default)]
    pub url: Option<String>,
    /// File holding the endpoint.
    #[serde(default)]
    pub url_file: Option<String>,
    /// HTTP client settings.
    #[serde(default)]
    pub http_config: Option<HttpConfig>,
    /// At most this many alerts per message; 0 is no limit.
    #[serde(default)]
    pub max_alerts: u64,
    /// Per-request timeout; 10s when unset.
    #[serde(default)]
    pub timeout: Option<PromDuration>,
}

/// An email integration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Notify about resolved alerts (default false).
    #[serde(default)]
    pub send_resolved: Option<bool>,
    /// Recipients.
    #[serde(default)]
    pub to: Option<String>,
    /// Sender; `global.smtp_from` when unset.
    #[serde(default)]
    pub from: Option<String>,
    /// SMTP HELO name.
    #[serde(default)]
    pub hello: Option<String>,
    /// `host:port`; `global.smtp_smarthost` when unset.
    #[serde(default)]
    pub smarthost: Option<String>,
    /// SMTP user.
    #[serde(default)]
    pub auth_username: Option<String>,
    /// SMTP password.
    #[serde(default)]
    pub auth_password: Option<String>,
    /// File holding the SMTP password.
    #[serde(default)]
    pub auth_password_file: Option<String>,
    /// CRAM-MD5 secret.
    #[serde(default)]
    pub auth_secret: Option<String>,
    /// PLAIN identity.
    #[serde(default)]
    pub auth_identity: Option<String>,
    /// Require STARTTLS.
    #[serde(default)]
    pub require_tls: Option<bool>,
    /// Use implicit TLS.
    #[serde(default)]
    pub force_implicit_tls: Option<bool>,
    /// TLS settings (accepted).
    #[serde(default)]
    pub tls_config: Option<Value>,
    /// HTML body template.
    #[serde(default)]
    pub html: Option<String>,
    /// Text body template.
    #[serde(default)]
    pub text: Option<String>,
    /// Extra headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Threading settings (accepted).
    #[serde(default)]
    pub threading: Option<Value>,
}

/// A Slack integration. Fields beyond those listed as used are accepted and passed through.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Notify about resolved alerts (default false).
    #[serde(default)]
    pub send_resolved: Option<bool>,
    /// Incoming webhook URL; `global.slack_api_url` when unset.
    #[serde(default)]
    pub api_url: Option<String>,
    /// File holding the URL.
    #[serde(default)]
    pub api_url_file: Option<String>,
    /// HTTP client settings.
    #[serde(default)]
    pub http_config: Option<HttpConfig>,
    /// Channel.
    #[serde(default)]
    pub channel: Option<String>,
    /// Bot user name.
    #[serde(default)]
    pub username: Option<String>,
    /// Attachment colour.
    #[serde(default)]
    pub color: Option<String>,
    /// Title template.
    #[serde(default)]
    pub title: Option<String>,
    /// Title link.
    #[serde(default)]
    pub title_link: Option<String>,
    /// Pretext.
    #[serde(default)]
    pub pretext: Option<String>,
    /// Text template.
    #[serde(default)]
    pub text: Option<String>,
    /// Fields (accepted).
    #[serde(default)]
    pub fields: Option<Value>,
    /// Short fields (accepted).
    #[serde(default)]
    pub short_fields: Option<bool>,
    /// Footer.
    #[serde(default)]
    pub footer: Option<String>,
    /// Fallback text.
    #[serde(default)]
    pub fallback: Option<String>,
    /// Callback id.
    #[serde(default)]
    pub callback_id: Option<String>,
    /// Emoji icon.
    #[serde(default)]
    pub icon_emoji: Option<String>,
    /// Icon URL.
    #[serde(default)]
    pub icon_url: Option<String>,
    /// Image URL.
    #[serde(default)]
    pub image_url: Option<String>,
    /// Thumbnail URL.
    #[serde(default)]
    pub thumb_url: Option<String>,
    /// Link names.
    #[serde(default)]
    pub link_names: Option<bool>,
    /// Markdown fields.
    #[serde(default)]
    pub mrkdwn_in: Option<Vec<String>>,
    /// Actions (accepted).
    #[serde(default)]
    pub actions: Option<Value>,
    /// Request timeout.
    #[serde(default)]
    pub timeout: Option<PromDuration>,
}

/// A PagerDuty integration (Events API v2 with `routing_key`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerdutyConfig {
    /// Notify about resolved alerts (default true).
    #[serde(default)]
    pub send_resolved: Option<bool>,
    /// Events v2 integration key.
    #[serde(default)]
    pub routing_key: Option<String>,
    /// File holding the routing key.
    #[serde(default)]
    pub routing_key_file: Option<String>,
    /// Events v1 service key (accepted).
    #[serde(default)]
    pub service_key: Option<String>,
    /// File holding the service key.
    #[serde(default)]
    pub service_key_file: Option<String>,
    /// Events endpoint; `global.pagerduty_url` when unset.
    #[serde(default)]
    pub url: Option<String>,
    /// Client name.
    #[serde(default)]
    pub client: Option<String>,
    /// Client URL.
    #[serde(default)]
    pub client_url: Option<String>,
    /// Summary template.
    #[serde(default)]
    pub description: Option<String>,
    /// Custom details.
    #[serde(default)]
    pub details: BTreeMap<String, String>,
    /// Images (accepted).
    #[serde(default)]
    pub images: Option<Value>,
    /// Links (accepted).
    #[serde(default)]
    pub links: Option<Value>,
    /// Severity.
    #[serde(default)]
    pub severity: Option<String>,
    /// Class.
    #[serde(default)]
    pub class: Option<String>,
    /// Component.
    #[serde(default)]
    pub component: Option<String>,
    /// Group.
    #[serde(default)]
    pub group: Option<String>,
    /// Source.
    #[serde(default)]
    pub source: Option<String>,
    /// HTTP client settings.
    #[serde(default)]
    pub http_config: Option<HttpConfig>,
    /// Request timeout.
    #[serde(default)]
    pub timeout: Option<PromDuration>,
}
