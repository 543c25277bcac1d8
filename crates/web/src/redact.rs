//! Secrets out of served configuration: the YAML shown by
//! `/api/v1/status/config` and `/api/v2/status` (`config.original`) is
//! re-written with every secret replaced by `<secret>`, as Prometheus and
//! Alertmanager do.
//!
//! A value is a secret when its key names one (`password`, `*secret*`,
//! `*token*`, `api_key`, `service_key`, `routing_key`, `credentials`), when it
//! is a receiver's URL (`url`, `api_url`, `webhook_url` under `receivers`:
//! chat and webhook URLs carry their access tokens) or Slack's global
//! `slack_api_url`; keys ending in `_file` name files and are kept. Any URL
//! with a password in it (`redis://:pw@host`) keeps everything but the
//! password. Key order is kept; comments are not.
//!
//! ```
//! let out = argus_web::redact::redact_yaml("global:\n  smtp_auth_password: hunter2\n  smtp_from: a@b\n");
//! assert!(out.contains("smtp_auth_password: <secret>"), "{out}");
//! assert!(out.contains("a@b"));
//! assert!(!out.contains("hunter2"));
//! ```

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::fmt;

/// What a secret value is replaced with.
pub const SECRET: &str = "<secret>";

/// Returns `text` with its secrets replaced. Text that does not parse as YAML
/// is not served at all: a note says so instead.
pub fn redact_yaml(text: &str) -> String {
    let mut node: Node = match serde_saphyr::from_str(text) {
        Ok(n) => n,
        Err(_) => return "# The configuration could not be parsed to hide its secrets, so it is not shown.\n".into(),
    };
    redact(&mut node, &mut Vec::new());
    match serde_saphyr::to_string(&node) {
        Ok(s) => s,
        Err(_) => "# The configuration could not be written back after hiding its secrets, so it is not shown.\n".into(),
    }
}

/// A YAML value that keeps its keys in order.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

fn is_secret_key(key: &str, path: &[String]) -> bool {
    let k = key.to_ascii_lowercase();
    if k.ends_with("_file") || k.ends_with("_files") {
        return false;
    }
    const NAMES: [&str; 7] = [
        "password",
        "secret",
        "token",
        "api_key",
        "service_key",
        "routing_key",
        "credentials",
    ];
    if NAMES.iter().any(|n| k.contains(n)) || k == "slack_api_url" {
        return true;
    }
    let in_receivers = path.iter().any(|p| p == "receivers");
    in_receivers && (k == "url" || k == "api_url" || k == "webhook_url")
}

/// `scheme://user:password@host/…` → `scheme://user:<secret>@host/…`.
fn redact_url_password(s: &str) -> Option<String> {
    let start = s.find("://")? + 3;
    let rest = &s[start..];
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..auth_end].rfind('@')?;
    let colon = rest[..at].find(':')?;
    Some(format!(
        "{}{}{}{}",
        &s[..start],
        &rest[..colon + 1],
        SECRET,
        &rest[at..]
    ))
}

fn redact(node: &mut Node, path: &mut Vec<String>) {
    match node {
        Node::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                let key = match k {
                    Node::Str(s) => s.clone(),
                    _ => String::new(),
                };
                if is_secret_key(&key, path) && !matches!(v, Node::Null) {
                    *v = Node::Str(SECRET.into());
                    continue;
                }
                path.push(key);
                redact(v, path);
                path.pop();
            }
        }
        Node::Seq(items) => items.iter_mut().for_each(|i| redact(i, path)),
        Node::Str(s) => {
            if let Some(r) = redact_url_password(s) {
                *s = r;
            }
        }
        _ => {}
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::UInt(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Node, E> {
                Ok(Node::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut out = Vec::new();
                while let Some(n) = a.next_element()? {
                    out.push(n);
                }
                Ok(Node::Seq(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry()? {
                    out.push((k, v));
                }
                Ok(Node::Map(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => s.serialize_unit(),
            Node::Bool(b) => s.serialize_bool(*b),
            Node::Int(i) => s.serialize_i64(*i),
            Node::UInt(u) => s.serialize_u64(*u),
            Node::Float(f) => s.serialize_f64(*f),
            Node::Str(v) => s.serialize_str(v),
            Node::Seq(items) => {
                let mut q = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    q.serialize_element(i)?;
                }
                q.end()
            }
            Node::Map(entries) => {
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AM: &str = r#"
global:
  smtp_smarthost: mail:587
  smtp_auth_username: alerts
  smtp_auth_password: "hunter2"
  slack_api_url: https://hooks.slack.com/services/T/B/XYZ
argus:
  links:
    secret: s3cr3t-link-key
    base_url: http://argus:9797
route:
  receiver: ops
receivers:
- name: ops
  webhook_configs:
  - url: http://hook.example/alert?token=abc
    http_config:
      authorization: { type: Bearer, credentials: bearer-xyz }
      basic_auth: { username: u, password: pw1, password_file: /etc/pw }
  dingtalk_configs:
  - webhook_url: https://oapi.dingtalk.com/robot/send?access_token=ding
    secret: SECdead
  pagerduty_configs:
  - routing_key: rk-123
    service_key: sk-456
"#;

    #[test]
    fn alertmanager_secrets_are_hidden_and_the_rest_kept_in_order() {
        let out = redact_yaml(AM);
        for leaked in [
            "hunter2",
            "XYZ",
            "s3cr3t-link-key",
            "token=abc",
            "bearer-xyz",
            "pw1",
            "access_token=ding",
            "SECdead",
            "rk-123",
            "sk-456",
        ] {
            assert!(!out.contains(leaked), "{leaked} leaked:\n{out}");
        }
        for kept in [
            "mail:587",
            "alerts",
            "http://argus:9797",
            "/etc/pw",
            "ops",
            "Bearer",
        ] {
            assert!(out.contains(kept), "{kept} lost:\n{out}");
        }
        // Order kept: global before route before receivers.
        let (g, r, x) = (
            out.find("global").unwrap(),
            out.find("route").unwrap(),
            out.find("receivers").unwrap(),
        );
        assert!(g < r && r < x, "{out}");
    }

    #[test]
    fn passwords_inside_urls_are_hidden() {
        let out = redact_yaml("health:\n  redis:\n    url: redis://:pa55@127.0.0.1:6379/0\n");
        assert!(out.contains("redis://:<secret>@127.0.0.1:6379/0"), "{out}");
        assert_eq!(
            redact_url_password("postgres://me:pw@db/x?a=b@c").as_deref(),
            Some("postgres://me:<secret>@db/x?a=b@c")
        );
        assert_eq!(redact_url_password("http://host/a@b"), None);
        assert_eq!(redact_url_password("http://user@host/"), None);
    }

    #[test]
    fn scrape_urls_outside_receivers_stay_readable() {
        let out = redact_yaml("scrape_configs:\n- job_name: n\n  static_configs:\n  - targets: ['a:9100']\nremote_write:\n- url: http://vm:8428/api/v1/write\n");
        assert!(out.contains("http://vm:8428/api/v1/write"), "{out}");
    }

    #[test]
    fn scrape_job_secrets_are_hidden_and_file_names_kept() {
        let text = "scrape_configs:\n- job_name: n\n  basic_auth:\n    username: prom\n    password: pw1\n    password_file: /etc/pw\n  authorization:\n    type: Bearer\n    credentials: cred2\n    credentials_file: /etc/cred\n  bearer_token: tok3\n  bearer_token_file: /etc/tok\n  tls_config:\n    key_file: /etc/client.key\n  proxy_url: http://u:pw4@proxy:3128\n";
        let out = redact_yaml(text);
        for secret in ["pw1", "cred2", "tok3", "pw4"] {
            assert!(!out.contains(secret), "{secret} shown: {out}");
        }
        for kept in [
            "prom",
            "/etc/pw",
            "/etc/cred",
            "/etc/tok",
            "/etc/client.key",
            "Bearer",
            "proxy:3128",
        ] {
            assert!(out.contains(kept), "{kept} hidden: {out}");
        }
    }

    #[test]
    fn unparsable_text_is_not_served() {
        let out = redact_yaml("a: [unclosed\npassword: x");
        assert!(!out.contains("password: x"), "{out}");
    }
}
