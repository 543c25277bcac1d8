//! The integrations of a receiver, in the order their notifications are indexed.

use crate::config::{ArgusConfig, ReceiverConfig};
use crate::notification::IntegrationKind;

/// `(receiver, send_resolved)` of each entry of an `argus:` integration list.
type Entries<'a> = Vec<(&'a str, Option<bool>)>;

/// One integration of a receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Integration {
    /// Kind.
    pub kind: IntegrationKind,
    /// Index among the receiver's integrations of that kind.
    pub index: usize,
    /// Whether resolved alerts are sent.
    pub send_resolved: bool,
}

/// The integrations Argus delivers to, in notification order (webhook, email, Slack, PagerDuty,
/// then the `argus.forward_to_alertmanager`, `argus.dingtalk_configs`, `argus.wecom_configs` and
/// `argus.feishu_configs` entries naming this receiver, whose `index` is their position in that
/// list, then `wechat_configs`, last so that adding them keeps the other indices, which the
/// notification log's keys hold).
pub fn integrations(r: &ReceiverConfig, argus: &ArgusConfig) -> Vec<Integration> {
    let mut out = Vec::new();
    let mut add = |kind, sr: Vec<Option<bool>>, default| {
        for (index, s) in sr.into_iter().enumerate() {
            out.push(Integration {
                kind,
                index,
                send_resolved: s.unwrap_or(default),
            });
        }
    };
    add(
        IntegrationKind::Webhook,
        r.webhook_configs.iter().map(|c| c.send_resolved).collect(),
        true,
    );
    add(
        IntegrationKind::Email,
        r.email_configs.iter().map(|c| c.send_resolved).collect(),
        false,
    );
    add(
        IntegrationKind::Slack,
        r.slack_configs.iter().map(|c| c.send_resolved).collect(),
        false,
    );
    add(
        IntegrationKind::PagerDuty,
        r.pagerduty_configs
            .iter()
            .map(|c| c.send_resolved)
            .collect(),
        true,
    );
    let ext: [(IntegrationKind, Entries); 4] = [
        (
            IntegrationKind::Alertmanager,
            argus
                .forward_to_alertmanager
                .iter()
                .map(|c| (c.receiver.as_str(), c.send_resolved))
                .collect(),
        ),
        (
            IntegrationKind::DingTalk,
            argus
                .dingtalk_configs
                .iter()
                .map(|c| (c.receiver.as_str(), c.send_resolved))
                .collect(),
        ),
        (
            IntegrationKind::WeCom,
            argus
                .wecom_configs
                .iter()
                .map(|c| (c.receiver.as_str(), c.send_resolved))
                .collect(),
        ),
        (
            IntegrationKind::Feishu,
            argus
                .feishu_configs
                .iter()
                .map(|c| (c.receiver.as_str(), c.send_resolved))
                .collect(),
        ),
    ];
    for (kind, list) in ext {
        for (index, (recv, sr)) in list.into_iter().enumerate() {
            if recv == r.name {
                out.push(Integration {
                    kind,
                    index,
                    send_resolved: sr.unwrap_or(true),
                });
            }
        }
    }
    for (index, c) in r.wechat_configs.iter().enumerate() {
        out.push(Integration {
            kind: IntegrationKind::Wechat,
            index,
            send_resolved: c.send_resolved.unwrap_or(false),
        });
    }
    out
}
