//! `dns_sd_configs` with A and AAAA records, through the system resolver.
//! SRV, MX and NS records are refused for now (the default type is SRV, as
//! in Prometheus, so a job must say `type: A` or `type: AAAA`).

use super::config::{PromDuration, TargetGroup};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// A DNS record type of `dns_sd_configs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum DnsRecordType {
    /// SRV records (Prometheus's default). Not supported yet.
    #[default]
    #[serde(rename = "SRV")]
    Srv,
    /// IPv4 addresses.
    A,
    /// IPv6 addresses.
    #[serde(rename = "AAAA")]
    Aaaa,
    /// MX records. Not supported yet.
    #[serde(rename = "MX")]
    Mx,
    /// NS records. Not supported yet.
    #[serde(rename = "NS")]
    Ns,
}

fn default_refresh() -> PromDuration {
    PromDuration(Duration::from_secs(30))
}

/// One `dns_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsSdConfig {
    /// The names to resolve.
    pub names: Vec<String>,
    /// The record type. Default `SRV` (refused: use `A` or `AAAA`).
    #[serde(default, rename = "type")]
    pub kind: DnsRecordType,
    /// The port of every target. Required for `A` and `AAAA`.
    #[serde(default)]
    pub port: Option<u16>,
    /// How often the names are resolved. Default `30s`.
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
}

impl DnsSdConfig {
    /// Checks the type, the port and the interval (through [`super::ScrapeConfig::validate`]).
    pub(crate) fn validate(&self) -> Result<(), String> {
        let name = match self.kind {
            DnsRecordType::A | DnsRecordType::Aaaa => None,
            DnsRecordType::Srv => Some("SRV"),
            DnsRecordType::Mx => Some("MX"),
            DnsRecordType::Ns => Some("NS"),
        };
        if let Some(t) = name {
            return Err(format!(
                "dns_sd_configs: type {t} is not supported yet: only A and AAAA records are resolved; set type: A (or AAAA) and port"
            ));
        }
        if self.port.is_none() {
            return Err("dns_sd_configs: a port is required for A and AAAA records".into());
        }
        if self.names.is_empty() {
            return Err("dns_sd_configs: names must not be empty".into());
        }
        if self.refresh_interval.0.is_zero() {
            return Err("dns_sd_configs: refresh_interval must be greater than 0".into());
        }
        Ok(())
    }
}

/// Resolves one name into one target group labelled `__meta_dns_name`.
pub(crate) async fn resolve(sd: &DnsSdConfig, name: &str) -> Result<Vec<TargetGroup>, String> {
    let port = sd.port.unwrap_or(0);
    let addrs = tokio::net::lookup_host((name, port))
        .await
        .map_err(|e| format!("cannot resolve {name}: {e}"))?;
    let mut targets: Vec<String> = addrs
        .filter(|a| match sd.kind {
            DnsRecordType::Aaaa => a.is_ipv6(),
            _ => a.is_ipv4(),
        })
        .map(|a| a.to_string())
        .collect();
    targets.sort();
    targets.dedup();
    Ok(vec![TargetGroup {
        targets,
        labels: BTreeMap::from([("__meta_dns_name".to_string(), name.to_string())]),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srv_is_refused_by_name_and_a_needs_a_port() {
        let c: DnsSdConfig = serde_saphyr::from_str("names: [_node._tcp.example.com]\n").unwrap();
        let e = c.validate().unwrap_err();
        assert!(e.contains("type SRV is not supported yet"), "{e}");
        let c: DnsSdConfig = serde_saphyr::from_str("names: [localhost]\ntype: A\n").unwrap();
        assert!(c.validate().unwrap_err().contains("port"));
    }

    #[tokio::test]
    async fn a_records_of_localhost() {
        let c: DnsSdConfig =
            serde_saphyr::from_str("names: [localhost]\ntype: A\nport: 9100\n").unwrap();
        c.validate().unwrap();
        let g = resolve(&c, "localhost").await.unwrap();
        assert_eq!(g[0].targets, ["127.0.0.1:9100"]);
        assert_eq!(g[0].labels["__meta_dns_name"], "localhost");
    }
}
