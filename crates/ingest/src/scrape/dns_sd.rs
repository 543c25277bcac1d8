//! `dns_sd_configs`, as in Prometheus: every refresh interval each name is
//! looked up and becomes target groups labelled `__meta_dns_name`.
//! - `SRV` (the default): one target `host:port` per record, the host being
//!   the record's target without its final dot, labelled
//!   `__meta_dns_srv_record_target` (as the record gives it) and
//!   `__meta_dns_srv_record_port`;
//! - `MX` and `NS`: one target per record at the configured `port`, labelled
//!   `__meta_dns_mx_record_target` or `__meta_dns_ns_record_target`;
//! - `A` and `AAAA`: one target `address:port` per address, through the
//!   system resolver (so `/etc/hosts` counts too).
//!
//! SRV, MX and NS records are asked of the name servers in
//! `/etc/resolv.conf`, read at each refresh, with its search domains. A name
//! that does not exist gives no targets; a lookup that fails keeps the last
//! targets (the caller's rule for every refresh).
//!
//! ```
//! use argus_ingest::scrape::{DnsRecordType, DnsSdConfig};
//! let c: DnsSdConfig = serde_saphyr::from_str("names: [_node._tcp.example.com]\n").unwrap();
//! assert_eq!(c.kind, DnsRecordType::Srv);
//! ```

use super::config::{PromDuration, TargetGroup};
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// A DNS record type of `dns_sd_configs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum DnsRecordType {
    /// SRV records (Prometheus's default): host and port from each record.
    #[default]
    #[serde(rename = "SRV")]
    Srv,
    /// IPv4 addresses.
    A,
    /// IPv6 addresses.
    #[serde(rename = "AAAA")]
    Aaaa,
    /// MX records: each mail exchanger at the configured port.
    #[serde(rename = "MX")]
    Mx,
    /// NS records: each name server at the configured port.
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
    /// The record type. Default `SRV`.
    #[serde(default, rename = "type")]
    pub kind: DnsRecordType,
    /// The port of every target. Required for every type but `SRV`, whose
    /// records carry their own.
    #[serde(default)]
    pub port: Option<u16>,
    /// How often the names are resolved. Default `30s`.
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
}

impl DnsSdConfig {
    /// Checks the type, the port and the interval (through [`super::ScrapeConfig::validate`]).
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.kind != DnsRecordType::Srv && self.port.is_none() {
            return Err(format!(
                "dns_sd_configs: a port is required for {} records",
                self.kind.name()
            ));
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

impl DnsRecordType {
    /// The type as the configuration spells it.
    pub fn name(self) -> &'static str {
        match self {
            DnsRecordType::Srv => "SRV",
            DnsRecordType::A => "A",
            DnsRecordType::Aaaa => "AAAA",
            DnsRecordType::Mx => "MX",
            DnsRecordType::Ns => "NS",
        }
    }
}

/// Resolves one name into its target groups, each labelled `__meta_dns_name`.
pub(crate) async fn resolve(sd: &DnsSdConfig, name: &str) -> Result<Vec<TargetGroup>, String> {
    match sd.kind {
        DnsRecordType::A | DnsRecordType::Aaaa => resolve_addresses(sd, name).await,
        DnsRecordType::Srv | DnsRecordType::Mx | DnsRecordType::Ns => {
            let resolver = TokioResolver::builder_tokio()
                .and_then(|b| b.build())
                .map_err(|e| format!("cannot read the resolver configuration: {e}"))?;
            resolve_records(&resolver, sd, name).await
        }
    }
}

/// `A` and `AAAA` through the system resolver: one group of every address.
async fn resolve_addresses(sd: &DnsSdConfig, name: &str) -> Result<Vec<TargetGroup>, String> {
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

/// `SRV`, `MX` and `NS` records of `name` from `resolver`: one group per
/// record (their labels differ), sorted by address. A name that does not
/// exist, or has no record of the type, gives none.
pub(crate) async fn resolve_records(
    resolver: &TokioResolver,
    sd: &DnsSdConfig,
    name: &str,
) -> Result<Vec<TargetGroup>, String> {
    let lookup = match sd.kind {
        DnsRecordType::Srv => resolver.srv_lookup(name).await,
        DnsRecordType::Mx => resolver.mx_lookup(name).await,
        DnsRecordType::Ns => resolver.ns_lookup(name).await,
        DnsRecordType::A | DnsRecordType::Aaaa => return resolve_addresses(sd, name).await,
    };
    let lookup = match lookup {
        Ok(l) => l,
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => return Ok(Vec::new()),
        Err(e) => {
            return Err(format!(
                "cannot look up the {} records of {name}: {e}",
                sd.kind.name()
            ))
        }
    };
    let port = sd.port.unwrap_or(0);
    let mut groups: Vec<TargetGroup> = lookup
        .answers()
        .iter()
        .filter_map(|r| {
            let (host, port, extra) = match &r.data {
                RData::SRV(srv) => {
                    let target = srv.target.to_string();
                    let extra = [
                        ("__meta_dns_srv_record_target", target.clone()),
                        ("__meta_dns_srv_record_port", srv.port.to_string()),
                    ];
                    (target, srv.port, extra.to_vec())
                }
                RData::MX(mx) => {
                    let target = mx.exchange.to_string();
                    (
                        target.clone(),
                        port,
                        vec![("__meta_dns_mx_record_target", target)],
                    )
                }
                RData::NS(ns) => {
                    let target = ns.0.to_string();
                    (
                        target.clone(),
                        port,
                        vec![("__meta_dns_ns_record_target", target)],
                    )
                }
                // A CNAME on the way to the records, say.
                _ => return None,
            };
            let mut labels = BTreeMap::from([("__meta_dns_name".to_string(), name.to_string())]);
            labels.extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
            Some(TargetGroup {
                targets: vec![host_port(host.trim_end_matches('.'), port)],
                labels,
            })
        })
        .collect();
    groups.sort_by(|a, b| a.targets.cmp(&b.targets));
    groups.dedup();
    Ok(groups)
}

/// `host:port`, with an IPv6 address in brackets.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_but_srv_needs_a_port() {
        let c: DnsSdConfig = serde_saphyr::from_str("names: [_node._tcp.example.com]\n").unwrap();
        assert_eq!(c.kind, DnsRecordType::Srv);
        c.validate().unwrap();
        for t in ["A", "AAAA", "MX", "NS"] {
            let c: DnsSdConfig =
                serde_saphyr::from_str(&format!("names: [example.com]\ntype: {t}\n")).unwrap();
            let e = c.validate().unwrap_err();
            assert!(e.contains(&format!("port is required for {t}")), "{e}");
        }
    }

    /// A real DNS server, dnsmasq, on a free loopback port, serving the
    /// records of the tests; stopped when dropped.
    struct Dnsmasq {
        child: std::process::Child,
        port: u16,
    }

    impl Drop for Dnsmasq {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn dnsmasq(records: &[&str]) -> Dnsmasq {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("dnsmasq")
            .args([
                "--no-daemon",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                "--pid-file=",
                "--user=root",
            ])
            .arg(format!("--port={port}"))
            .args(records)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("dnsmasq is needed for the DNS discovery tests (Debian: dnsmasq-base; scripts/test.sh installs it)");
        Dnsmasq { child, port }
    }

    fn resolver_of(port: u16) -> TokioResolver {
        use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
        let mut udp = ConnectionConfig::udp();
        udp.port = port;
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = port;
        let server = NameServerConfig::new("127.0.0.1".parse().unwrap(), true, vec![udp, tcp]);
        let config = ResolverConfig::from_parts(None, vec![], vec![server]);
        let mut b = TokioResolver::builder_with_config(
            config,
            hickory_resolver::net::runtime::TokioRuntimeProvider::default(),
        );
        b.options_mut().timeout = Duration::from_millis(500);
        b.options_mut().attempts = 1;
        b.build().unwrap()
    }

    /// Looks up until the server answers (it takes a moment to start).
    async fn records(port: u16, sd: &DnsSdConfig, name: &str) -> Vec<TargetGroup> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match resolve_records(&resolver_of(port), sd, name).await {
                Ok(g) if !g.is_empty() => return g,
                other if std::time::Instant::now() > deadline => {
                    panic!("dnsmasq never answered {name}: {other:?}")
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    #[tokio::test]
    async fn srv_and_mx_records_from_a_real_dns_server() {
        let dns = dnsmasq(&[
            "--srv-host=_node._tcp.argus.test,web-2.argus.test,9101,0,10",
            "--srv-host=_node._tcp.argus.test,web-1.argus.test,9100,0,10",
            "--mx-host=argus.test,mail.argus.test,10",
            // Answers for the domain itself: a name it does not hold is NXDOMAIN.
            "--local=/argus.test/",
            "--host-record=web-1.argus.test,127.0.0.1",
        ]);
        let srv: DnsSdConfig = serde_saphyr::from_str("names: [_node._tcp.argus.test]\n").unwrap();
        let g = records(dns.port, &srv, "_node._tcp.argus.test").await;
        let targets: Vec<&str> = g.iter().map(|t| t.targets[0].as_str()).collect();
        assert_eq!(targets, ["web-1.argus.test:9100", "web-2.argus.test:9101"]);
        assert_eq!(g[0].labels["__meta_dns_name"], "_node._tcp.argus.test");
        assert_eq!(
            g[0].labels["__meta_dns_srv_record_target"],
            "web-1.argus.test."
        );
        assert_eq!(g[1].labels["__meta_dns_srv_record_port"], "9101");

        let mx: DnsSdConfig =
            serde_saphyr::from_str("names: [argus.test]\ntype: MX\nport: 25\n").unwrap();
        let g = records(dns.port, &mx, "argus.test").await;
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].targets, ["mail.argus.test:25"]);
        assert_eq!(
            g[0].labels["__meta_dns_mx_record_target"],
            "mail.argus.test."
        );

        // A name with no records gives no targets, not an error.
        let none = resolve_records(&resolver_of(dns.port), &srv, "_none._tcp.argus.test").await;
        assert_eq!(none, Ok(Vec::new()));
    }

    #[tokio::test]
    async fn an_unreachable_server_is_an_error_so_the_last_targets_stay() {
        // A port where nothing answers: the lookup fails rather than
        // reporting no targets, which would drop every target of the job.
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let srv: DnsSdConfig = serde_saphyr::from_str("names: [_node._tcp.argus.test]\n").unwrap();
        let e = resolve_records(&resolver_of(port), &srv, "_node._tcp.argus.test")
            .await
            .unwrap_err();
        assert!(
            e.contains("cannot look up the SRV records of _node._tcp.argus.test"),
            "{e}"
        );
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
