//! The Alertmanager configuration file, accepted unchanged, plus Argus's `argus:` section.
//!
//! Unknown keys are rejected with their line, as Alertmanager rejects them; integrations that
//! Argus does not deliver to yet are accepted and listed by [`Config::unsupported`].
//!
//! ```
//! use argus_alert::config::Config;
//! let cfg = Config::parse(r#"
//! route:
//!   receiver: team
//!   group_by: [alertname]
//! receivers:
//!   - name: team
//!     webhook_configs: [{url: "http://127.0.0.1:5001/"}]
//! "#, "alertmanager.yml").unwrap();
//! assert_eq!(cfg.global.resolve_timeout().as_millis(), 300_000);
//! let err = Config::parse("route:\n  receiver: x\n  grup_by: [a]\n", "am.yml").unwrap_err();
//! assert!(err.to_string().contains("grup_by") && err.to_string().contains("line 3"));
//! ```

mod argus;
mod chat;
mod global;
mod matchers;
mod receiver;
mod route;
mod templates;
mod time;

pub use argus::{
    ArgusConfig, ContactConfig, ContactGroupConfig, EscalationLevelConfig, EscalationPolicyConfig,
    FlapDampingConfig, ForwardConfig, GroupMember, LinksConfig, MemberEntry, RetryConfig,
};
pub use chat::{DingTalkConfig, FeishuConfig, WeComConfig, WECOM_WEBHOOK_BASE};
pub use global::GlobalConfig;
pub use matchers::{all_match, combine, parse_matchers, MatcherList};
pub use receiver::{
    Authorization, BasicAuth, EmailConfig, HttpConfig, PagerdutyConfig, ReceiverConfig,
    SlackConfig, WebhookConfig, WechatConfig, WECHAT_API_URL,
};
pub use route::{InhibitRuleConfig, RouteConfig};
pub use time::{Location, Range, TimeInterval, TimeIntervalConfig, TimeRange};

use serde::Deserialize;
use std::collections::HashSet;
use std::path::Path;

/// A configuration error, naming the file and, where known, the key and line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read alertmanager config {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML is malformed or does not fit the schema.
    #[error("invalid alertmanager config {origin}: {message}")]
    Syntax {
        /// The file.
        origin: String,
        /// The parser's message with key and line.
        message: String,
    },
    /// The YAML is well formed but inconsistent (an undefined receiver, say).
    #[error("invalid alertmanager config {origin}{}: {message}", .line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Invalid {
        /// The file.
        origin: String,
        /// The first line that mentions the offending name, when found.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Defaults shared by receivers.
    #[serde(default)]
    pub global: GlobalConfig,
    /// The routing tree.
    pub route: RouteConfig,
    /// Inhibition rules.
    #[serde(default)]
    pub inhibit_rules: Vec<InhibitRuleConfig>,
    /// Receivers.
    #[serde(default)]
    pub receivers: Vec<ReceiverConfig>,
    /// Go template files (globs, relative to the config file's directory; default none). Their
    /// `define`s serve the receiver fields written as Go templates (`config/templates.rs`).
    #[serde(default)]
    pub templates: Vec<String>,
    /// Named time intervals.
    #[serde(default)]
    pub time_intervals: Vec<TimeIntervalConfig>,
    /// Legacy name of `time_intervals`.
    #[serde(default)]
    pub mute_time_intervals: Vec<TimeIntervalConfig>,
    /// Argus's extensions.
    #[serde(default)]
    pub argus: ArgusConfig,
    /// The text the config was parsed from (empty when built in code); `GET /api/v2/status`
    /// shows it as `config.original`.
    #[serde(skip)]
    pub original: String,
    /// The loaded `templates:` plus the receivers' Go template fields, parsed.
    #[serde(skip)]
    pub go_templates: std::sync::Arc<crate::template::go::GoTemplates>,
}

impl Config {
    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Parses and validates YAML text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let mut cfg: Config = serde_saphyr::from_str(text).map_err(|e| ConfigError::Syntax {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        cfg.original = text.to_string();
        cfg.validate()
            .map_err(|(needle, message)| ConfigError::Invalid {
                origin: origin.to_string(),
                line: needle.and_then(|n| locate(text, &n)),
                message,
            })?;
        cfg.go_templates = std::sync::Arc::new(templates::load(&cfg, text, origin)?);
        Ok(cfg)
    }

    /// All named time intervals, from both `time_intervals` and `mute_time_intervals`.
    pub fn all_time_intervals(&self) -> impl Iterator<Item = &TimeIntervalConfig> {
        self.time_intervals
            .iter()
            .chain(self.mute_time_intervals.iter())
    }

    /// The receivers of contacts (`contact:<name>`), one integration per address: email (to
    /// `email`, sender and smarthost from `global`), then webhook (`webhook_url`).
    pub fn contact_receivers(&self) -> Vec<ReceiverConfig> {
        self.argus
            .contacts
            .iter()
            .map(|c| ReceiverConfig {
                name: c.receiver_name(),
                email_configs: c
                    .email
                    .iter()
                    .map(|e| EmailConfig {
                        to: Some(e.clone()),
                        send_resolved: Some(false),
                        ..Default::default()
                    })
                    .collect(),
                webhook_configs: c
                    .webhook_url
                    .iter()
                    .map(|u| WebhookConfig {
                        url: Some(u.clone()),
                        send_resolved: Some(false),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect()
    }

    /// Every receiver notifications can go to: `receivers:` then the contacts' receivers.
    pub fn all_receivers(&self) -> Vec<ReceiverConfig> {
        let mut v = self.receivers.clone();
        v.extend(self.contact_receivers());
        v
    }

    /// `(receiver, integration kind)` for every integration Argus accepts but does not deliver.
    pub fn unsupported(&self) -> Vec<(String, &'static str)> {
        self.receivers
            .iter()
            .flat_map(|r| r.unsupported().into_iter().map(|k| (r.name.clone(), k)))
            .collect()
    }

    /// Semantic checks like Alertmanager's. The error carries a name to look up the line by.
    fn validate(&self) -> Result<(), (Option<String>, String)> {
        let mut names = HashSet::new();
        for r in &self.receivers {
            if !names.insert(r.name.as_str()) {
                return Err((
                    Some(format!("name: {}", r.name)),
                    format!("receiver {:?} is defined more than once", r.name),
                ));
            }
            for w in &r.webhook_configs {
                if w.url.is_none() && w.url_file.is_none() {
                    return Err((
                        Some("webhook_configs".into()),
                        format!(
                            "receiver {:?}: webhook_configs needs url or url_file",
                            r.name
                        ),
                    ));
                }
            }
            for e in &r.email_configs {
                if e.to.is_none() {
                    return Err((
                        Some("email_configs".into()),
                        format!("receiver {:?}: email_configs needs 'to'", r.name),
                    ));
                }
                if e.smarthost.is_none() && self.global.smtp_smarthost.is_none() {
                    return Err((
                        Some("email_configs".into()),
                        format!(
                            "receiver {:?}: no smarthost in email_configs or global.smtp_smarthost",
                            r.name
                        ),
                    ));
                }
            }
            for w in &r.wechat_configs {
                self.check_wechat(&r.name, w)?;
            }
        }
        let mut intervals = HashSet::new();
        for t in self.all_time_intervals() {
            if !intervals.insert(t.name.as_str()) {
                return Err((
                    Some(format!("name: {}", t.name)),
                    format!("time interval {:?} is defined more than once", t.name),
                ));
            }
        }
        let root = &self.route;
        if root.receiver.is_none() {
            return Err((
                Some("route:".into()),
                "root route must specify a default receiver".into(),
            ));
        }
        if !root.matchers.0.is_empty() || !root.match_eq.is_empty() || !root.match_re.is_empty() {
            return Err((
                Some("route:".into()),
                "root route must not have any matchers".into(),
            ));
        }
        if root.continue_matching {
            return Err((
                Some("continue".into()),
                "cannot have continue in root route".into(),
            ));
        }
        if !root.mute_time_intervals.is_empty() || !root.active_time_intervals.is_empty() {
            return Err((
                Some("route:".into()),
                "root route must not have any mute or active time intervals".into(),
            ));
        }
        self.check_route(root, &names, &intervals)?;
        for f in &self.argus.forward_to_alertmanager {
            if !names.contains(f.receiver.as_str()) {
                return Err((
                    Some(format!("receiver: {}", f.receiver)),
                    format!(
                        "forward_to_alertmanager names undefined receiver {:?}",
                        f.receiver
                    ),
                ));
            }
            if !(f.url.starts_with("http://") || f.url.starts_with("https://")) {
                return Err((
                    Some(f.url.clone()),
                    format!("forward_to_alertmanager url {:?} is not http(s)", f.url),
                ));
            }
        }
        self.check_people(&names)?;
        for p in &self.argus.escalation_policies {
            if p.levels.is_empty() {
                return Err((
                    Some(p.name.clone()),
                    format!("escalation policy {:?} has no levels", p.name),
                ));
            }
            let mut last = 0;
            for l in &p.levels {
                if l.after.as_millis() <= last {
                    return Err((
                        Some(p.name.clone()),
                        format!(
                            "escalation policy {:?}: level delays must be positive and increasing",
                            p.name
                        ),
                    ));
                }
                last = l.after.as_millis();
                for r in &l.receivers {
                    if !names.contains(r.as_str())
                        && !self.argus.contacts.iter().any(|c| c.receiver_name() == *r)
                    {
                        return Err((
                            Some(r.clone()),
                            format!(
                                "escalation policy {:?} names undefined receiver {r:?}",
                                p.name
                            ),
                        ));
                    }
                }
            }
        }
        crate::escalation::expand_policies(&self.argus)
            .map_err(|m| (Some("escalation_policies".to_string()), m))?;
        Ok(())
    }

    /// A `wechat_configs` entry: a known message type, and a secret and corp id (its own or
    /// global), as Alertmanager requires.
    fn check_wechat(
        &self,
        receiver: &str,
        w: &WechatConfig,
    ) -> Result<(), (Option<String>, String)> {
        let at = Some("wechat_configs".to_string());
        if !matches!(w.message_type(), "text" | "markdown") {
            return Err((
                at,
                format!(
                    "receiver {receiver:?}: wechat_configs message_type {:?} is not \"text\" or \"markdown\"",
                    w.message_type()
                ),
            ));
        }
        if w.api_secret.is_none()
            && w.api_secret_file.is_none()
            && self.global.wechat_api_secret.is_none()
        {
            return Err((
                at,
                format!("receiver {receiver:?}: wechat_configs has no api_secret and no global.wechat_api_secret is set"),
            ));
        }
        if w.corp_id.is_none() && self.global.wechat_api_corp_id.is_none() {
            return Err((
                at,
                format!("receiver {receiver:?}: wechat_configs has no corp_id and no global.wechat_api_corp_id is set"),
            ));
        }
        let url = w
            .api_url
            .as_deref()
            .or(self.global.wechat_api_url.as_deref());
        if let Some(u) = url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err((
                    Some(u.to_string()),
                    format!("receiver {receiver:?}: wechat api_url {u:?} is not http(s)"),
                ));
            }
        }
        Ok(())
    }

    /// Contacts, contact groups and the chat integrations.
    fn check_people(&self, receivers: &HashSet<&str>) -> Result<(), (Option<String>, String)> {
        let a = &self.argus;
        let mut seen = HashSet::new();
        for c in &a.contacts {
            if !seen.insert(c.name.as_str()) {
                return Err((
                    Some(format!("name: {}", c.name)),
                    format!("contact {:?} is defined more than once", c.name),
                ));
            }
            if receivers.contains(c.receiver_name().as_str()) {
                return Err((
                    Some(c.receiver_name()),
                    format!(
                        "receiver name {:?} is reserved for contact {:?}",
                        c.receiver_name(),
                        c.name
                    ),
                ));
            }
            if c.email.is_some() && self.global.smtp_smarthost.is_none() {
                return Err((
                    Some(format!("name: {}", c.name)),
                    format!(
                        "contact {:?} has an email address but global.smtp_smarthost is not set",
                        c.name
                    ),
                ));
            }
        }
        let contacts: HashSet<&str> = a.contacts.iter().map(|c| c.name.as_str()).collect();
        for g in &a.contact_groups {
            if !seen.insert(g.name.as_str()) {
                return Err((
                    Some(format!("name: {}", g.name)),
                    format!(
                        "contact group {:?} is defined more than once or clashes with a contact",
                        g.name
                    ),
                ));
            }
            if let Some(m) = g.members.iter().find(|m| !contacts.contains(m.contact())) {
                return Err((
                    Some(m.contact().to_string()),
                    format!(
                        "contact group {:?} names undefined contact {:?}",
                        g.name,
                        m.contact()
                    ),
                ));
            }
            if g.tier_interval().as_millis() <= 0 {
                return Err((
                    Some("tier_interval".into()),
                    format!("contact group {:?}: tier_interval must be positive", g.name),
                ));
            }
        }
        let chat = a
            .dingtalk_configs
            .iter()
            .map(|c| {
                (
                    "dingtalk_configs",
                    &c.receiver,
                    c.url.is_some() || c.url_file.is_some(),
                )
            })
            .chain(a.wecom_configs.iter().map(|c| {
                (
                    "wecom_configs",
                    &c.receiver,
                    c.webhook_url().is_some() || c.url_file.is_some(),
                )
            }))
            .chain(a.feishu_configs.iter().map(|c| {
                (
                    "feishu_configs",
                    &c.receiver,
                    c.url.is_some() || c.url_file.is_some(),
                )
            }));
        for (what, r, has_url) in chat {
            if !receivers.contains(r.as_str()) {
                return Err((
                    Some(format!("receiver: {r}")),
                    format!("argus.{what} names undefined receiver {r:?}"),
                ));
            }
            if !has_url {
                return Err((
                    Some(what.into()),
                    format!(
                        "argus.{what} for receiver {r:?} needs url, url_file (or key for WeCom)"
                    ),
                ));
            }
        }
        for c in &a.feishu_configs {
            if let Some(t) = c
                .msg_type
                .as_deref()
                .filter(|t| *t != "interactive" && *t != "text")
            {
                return Err((
                    Some(format!("msg_type: {t}")),
                    format!("argus.feishu_configs: msg_type {t:?} is not 'interactive' or 'text'"),
                ));
            }
        }
        Ok(())
    }

    fn check_route(
        &self,
        r: &RouteConfig,
        receivers: &HashSet<&str>,
        intervals: &HashSet<&str>,
    ) -> Result<(), (Option<String>, String)> {
        if let Some(name) = &r.receiver {
            if !receivers.contains(name.as_str()) {
                return Err((
                    Some(format!("receiver: {name}")),
                    format!("undefined receiver {name:?} used in route"),
                ));
            }
        }
        if let Some(g) = &r.group_by {
            if g.iter().any(|l| l == "...") && g.len() > 1 {
                return Err((
                    Some("group_by".into()),
                    "cannot have wildcard group_by (`...`) and other labels at the same time"
                        .into(),
                ));
            }
            let mut seen = HashSet::new();
            for l in g {
                if !seen.insert(l) {
                    return Err((
                        Some("group_by".into()),
                        format!("duplicated label {l:?} in group_by"),
                    ));
                }
            }
        }
        for (what, d) in [
            ("group_interval", r.group_interval),
            ("repeat_interval", r.repeat_interval),
        ] {
            if d.is_some_and(|d| d.as_millis() <= 0) {
                return Err((Some(what.into()), format!("{what} cannot be zero")));
            }
        }
        for t in r
            .mute_time_intervals
            .iter()
            .chain(r.active_time_intervals.iter())
        {
            if !intervals.contains(t.as_str()) {
                return Err((
                    Some(t.clone()),
                    format!("undefined time interval {t:?} used in route"),
                ));
            }
        }
        for c in &r.routes {
            self.check_route(c, receivers, intervals)?;
        }
        Ok(())
    }
}

/// The 1-based line of the first occurrence of `needle`.
fn locate(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}
