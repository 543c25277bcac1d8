//! What an alert is about: the service, instance and node its labels name,
//! however the source spells them.
//!
//! Sources disagree: a rule writes `service="checkout"`, a Kubernetes rule
//! `pod="checkout-7d9f8c6b5-x2k4q"`, a scrape job `job="checkout"` and
//! `instance="10.0.0.7:8080"`, node_exporter `instance="10.0.0.7:9100"` with
//! `job="node"`, a syslog source `host="node-3"`. [`AliasBook`] learns which
//! of these name the same thing from label sets that carry several at once
//! (the alerts themselves, and the series in the store), and
//! [`AliasBook::resolve`] turns any label set into canonical [`Entities`].
//!
//! ```
//! use argus_incident::entity::AliasBook;
//! use argus_model::Labels;
//!
//! let mut book = AliasBook::default();
//! // A series that carries both the pod and the node, and one that maps the
//! // node exporter's address to the node's name.
//! book.learn(&Labels::from_pairs(&[("service", "checkout"), ("pod", "checkout-7d9f8c6b5-x2k4q"), ("node", "node-3")]));
//! book.learn(&Labels::from_pairs(&[("job", "node"), ("instance", "10.0.0.7:9100"), ("nodename", "node-3")]));
//!
//! let e = book.resolve(&Labels::from_pairs(&[("pod", "checkout-7d9f8c6b5-x2k4q")]));
//! assert_eq!(e.service.as_deref(), Some("checkout"));
//! assert_eq!(e.node.as_deref(), Some("node-3"));
//! let n = book.resolve(&Labels::from_pairs(&[("alertname", "NodeDown"), ("job", "node"), ("instance", "10.0.0.7:9100")]));
//! assert_eq!((n.service, n.node.as_deref()), (None, Some("node-3")));
//! ```

use argus_model::Labels;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// Labels that name a service, most specific first. Besides Prometheus's
/// and kube-state-metrics' names: OpenTelemetry's resource attributes as
/// Prometheus writes them (`k8s.deployment.name` → `k8s_deployment_name`)
/// and the classic Kubernetes scrape configs' `kubernetes_name`.
pub const SERVICE_KEYS: &[&str] = &[
    "service",
    "service_name",
    "app_kubernetes_io_name",
    "app",
    "k8s_app",
    "workload",
    "deployment",
    "statefulset",
    "daemonset",
    "k8s_deployment_name",
    "k8s_statefulset_name",
    "k8s_daemonset_name",
    "kubernetes_name",
];
/// Labels that name a pod; an instance of a service is a pod, else a scrape
/// target (`instance`).
pub const POD_KEYS: &[&str] = &["pod", "pod_name", "k8s_pod_name", "kubernetes_pod_name"];
/// Labels that name a machine.
pub const NODE_KEYS: &[&str] = &[
    "node",
    "nodename",
    "kubernetes_node",
    "node_name",
    "k8s_node_name",
    "kubernetes_io_hostname",
    "host",
    "hostname",
    "host_name",
];
/// `job` values that name a kind of exporter, not a service: their `instance`
/// is a machine.
pub const NODE_JOBS: &[&str] = &[
    "node",
    "node_exporter",
    "node-exporter",
    "nodes",
    "kubernetes-nodes",
    "kubelet",
    "cadvisor",
];
/// `job` values that scrape many services, so they name none.
pub const GENERIC_JOBS: &[&str] = &[
    "kubernetes-pods",
    "kubernetes-service-endpoints",
    "kubernetes-apiservers",
    "kube-state-metrics",
    "blackbox",
    "prometheus",
    "pushgateway",
    "federate",
    "argus",
];

/// The canonical names an alert's labels resolve to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Entities {
    /// The service (workload), if any label names one.
    pub service: Option<String>,
    /// The instance (pod, or `host:port` target).
    pub instance: Option<String>,
    /// The machine it runs on.
    pub node: Option<String>,
}

impl Entities {
    /// True when the alert is about a machine and no service: a node-level
    /// alert (`NodeDown`, a full disk).
    pub fn is_node_level(&self) -> bool {
        self.service.is_none() && self.node.is_some()
    }

    /// True when nothing is named.
    pub fn is_empty(&self) -> bool {
        self.service.is_none() && self.instance.is_none() && self.node.is_none()
    }
}

/// The raw names one label set carries, before aliases are applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Raw {
    service: Option<String>,
    job: Option<String>,
    workload: Option<String>,
    instance: Option<String>,
    host: Option<String>,
    node: Option<String>,
    node_job: bool,
}

fn first<'a>(labels: &'a Labels, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .filter_map(|k| labels.get(k))
        .find(|v| !v.is_empty())
}

/// A machine's name as compared: lower case, no port, and for a DNS name its
/// first label (`node-3.example.com` and `node-3` are one machine).
pub fn normalize_host(s: &str) -> String {
    let s = s.trim().to_ascii_lowercase();
    let host = if let Some(rest) = s.strip_prefix('[') {
        // `[v6]:port`
        rest.split(']').next().unwrap_or(rest)
    } else {
        match s.rsplit_once(':') {
            // An IPv6 address without brackets has several colons: keep it whole.
            Some((h, p)) if !h.contains(':') && p.chars().all(|c| c.is_ascii_digit()) => h,
            _ => s.as_str(),
        }
    };
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    if is_ip {
        host.to_string()
    } else {
        host.split('.').next().unwrap_or(host).to_string()
    }
}

/// The characters Kubernetes uses in generated name suffixes.
fn k8s_suffix_char(c: char) -> bool {
    "bcdfghjklmnpqrstvwxz2456789".contains(c)
}

/// The workload a pod belongs to, from its generated name: a Deployment's
/// `name-<hash>-<5>`, a DaemonSet's or Job's `name-<5>`, a StatefulSet's
/// `name-<n>`. `None` for a name that has no such suffix.
///
/// ```
/// use argus_incident::entity::workload_of_pod;
/// assert_eq!(workload_of_pod("checkout-7d9f8c6b5-x2k4q").as_deref(), Some("checkout"));
/// assert_eq!(workload_of_pod("redis-cart-0").as_deref(), Some("redis-cart"));
/// assert_eq!(workload_of_pod("fluentd-xz2kp").as_deref(), Some("fluentd"));
/// assert_eq!(workload_of_pod("checkout"), None);
/// ```
pub fn workload_of_pod(pod: &str) -> Option<String> {
    let parts: Vec<&str> = pod.split('-').collect();
    let n = parts.len();
    if n < 2 {
        return None;
    }
    let suffix5 = |s: &str| s.len() == 5 && s.chars().all(k8s_suffix_char);
    // The pair of a Deployment's suffixes is specific enough to accept any
    // lower-case letters and digits (generated names seen in the wild do).
    let alnum = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    let pair = |h: &str, t: &str| {
        (6..=10).contains(&h.len())
            && t.len() == 5
            && alnum(h)
            && alnum(t)
            && h.chars().any(|c| c.is_ascii_digit())
    };
    let cut = if n >= 3 && pair(parts[n - 2], parts[n - 1]) {
        n - 2
    } else if suffix5(parts[n - 1]) || parts[n - 1].chars().all(|c| c.is_ascii_digit()) {
        n - 1
    } else {
        return None;
    };
    Some(parts[..cut].join("-"))
}

fn raw(labels: &Labels) -> Raw {
    let job = labels.get("job").filter(|j| !j.is_empty());
    let node_job = job.is_some_and(|j| NODE_JOBS.contains(&j));
    let generic = job.is_some_and(|j| GENERIC_JOBS.contains(&j));
    let pod = first(labels, POD_KEYS);
    let instance = pod.or_else(|| first(labels, &["instance"]));
    Raw {
        service: first(labels, SERVICE_KEYS).map(str::to_string),
        job: job
            .filter(|_| !node_job && !generic)
            .map(|j| j.rsplit('/').next().unwrap_or(j).to_string()),
        workload: pod.and_then(workload_of_pod),
        instance: instance.map(str::to_string),
        host: labels
            .get("instance")
            .filter(|i| !i.is_empty())
            .map(normalize_host),
        node: first(labels, NODE_KEYS).map(normalize_host),
        node_job,
    }
}

/// Remembers, for a name, the names it was seen beside; a name seen beside
/// several answers none (a generic job, a shared address).
#[derive(Debug, Clone, Default)]
struct Partners(HashMap<String, BTreeSet<String>>);

/// Beyond this many partners a name is generic and not kept growing.
const MAX_PARTNERS: usize = 4;

impl Partners {
    fn add(&mut self, from: &str, to: &str) {
        if from == to {
            return;
        }
        let set = self.0.entry(from.to_string()).or_default();
        if set.len() < MAX_PARTNERS {
            set.insert(to.to_string());
        }
    }

    /// The one name `from` was seen beside, if exactly one.
    fn unique(&self, from: &str) -> Option<&str> {
        let set = self.0.get(from)?;
        (set.len() == 1).then(|| set.iter().next().map(String::as_str))?
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// What has been learned about which names name the same thing.
#[derive(Debug, Clone, Default)]
pub struct AliasBook {
    /// `job` or pod-derived workload → explicit service name.
    service_alias: Partners,
    /// instance → service.
    instance_service: Partners,
    /// instance → node.
    instance_node: Partners,
    /// host part of an address → node name.
    host_node: Partners,
    /// service → the machines its instances were seen on.
    service_nodes: HashMap<String, BTreeSet<String>>,
}

impl AliasBook {
    /// Learns from one label set that carries several names at once.
    pub fn learn(&mut self, labels: &Labels) {
        let r = raw(labels);
        if let Some(svc) = &r.service {
            for alias in [&r.job, &r.workload].into_iter().flatten() {
                self.service_alias.add(alias, svc);
            }
        }
        let svc = r.service.clone().or_else(|| self.service_of(&r));
        if let Some(inst) = &r.instance {
            if let (Some(s), false) = (&svc, r.node_job) {
                self.instance_service.add(inst, s);
            }
            if let Some(n) = &r.node {
                self.instance_node.add(inst, n);
            }
        }
        if let (Some(h), Some(n)) = (&r.host, &r.node) {
            self.host_node.add(h, n);
        }
        if let (Some(s), Some(n), false) = (&svc, &r.node, r.node_job) {
            let set = self.service_nodes.entry(s.clone()).or_default();
            if set.len() < 64 {
                set.insert(n.clone());
            }
        }
    }

    /// True when some machine of `service` is known.
    pub fn placed(&self, service: &str) -> bool {
        self.service_nodes.contains_key(service)
    }

    /// True when an instance of `service` was seen on machine `node`.
    pub fn placed_on(&self, service: &str, node: &str) -> bool {
        self.service_nodes
            .get(service)
            .is_some_and(|s| s.contains(node))
    }

    fn service_of(&self, r: &Raw) -> Option<String> {
        let alias = |name: &String| {
            self.service_alias
                .unique(name)
                .map(str::to_string)
                .unwrap_or_else(|| name.clone())
        };
        if let Some(s) = &r.service {
            return Some(s.clone());
        }
        if let Some(s) = r
            .instance
            .as_deref()
            .and_then(|i| self.instance_service.unique(i))
        {
            return Some(s.to_string());
        }
        r.job.as_ref().or(r.workload.as_ref()).map(alias)
    }

    /// The canonical entities `labels` name.
    pub fn resolve(&self, labels: &Labels) -> Entities {
        let r = raw(labels);
        let service = if r.node_job {
            None
        } else {
            self.service_of(&r)
        };
        let node = r
            .node
            .clone()
            .or_else(|| {
                r.instance
                    .as_deref()
                    .and_then(|i| self.instance_node.unique(i))
                    .map(str::to_string)
            })
            .or_else(|| {
                let h = r.host.as_deref()?;
                match self.host_node.unique(h) {
                    Some(n) => Some(n.to_string()),
                    // A machine's exporter names the machine by its address.
                    None if r.node_job => Some(h.to_string()),
                    None => None,
                }
            });
        let instance = if r.node_job { None } else { r.instance };
        Entities {
            service,
            instance,
            node,
        }
    }

    /// How many names have been learned (for the status page).
    pub fn len(&self) -> usize {
        self.service_alias.len()
            + self.instance_service.len()
            + self.instance_node.len()
            + self.host_node.len()
    }

    /// True when nothing has been learned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p)
    }

    #[test]
    fn hosts_compare_without_port_and_domain() {
        assert_eq!(normalize_host("Node-3.example.com:9100"), "node-3");
        assert_eq!(normalize_host("10.0.0.7:9100"), "10.0.0.7");
        assert_eq!(normalize_host("[::1]:9100"), "::1");
        assert_eq!(normalize_host("fe80::1"), "fe80::1");
    }

    #[test]
    fn a_job_that_scrapes_many_services_names_none() {
        let mut b = AliasBook::default();
        b.learn(&l(&[("job", "api"), ("service", "checkout")]));
        assert_eq!(
            b.resolve(&l(&[("job", "api")])).service.as_deref(),
            Some("checkout")
        );
        b.learn(&l(&[("job", "api"), ("service", "cart")]));
        // Seen beside two services: the job is its own name again, never either service.
        assert_eq!(
            b.resolve(&l(&[("job", "api")])).service.as_deref(),
            Some("api")
        );
        assert_eq!(
            b.resolve(&l(&[("job", "kubernetes-pods"), ("instance", "x:1")]))
                .service,
            None
        );
    }

    #[test]
    fn instances_learn_their_service_and_node() {
        let mut b = AliasBook::default();
        b.learn(&l(&[
            ("service", "db"),
            ("instance", "10.0.0.9:5432"),
            ("node", "n1"),
        ]));
        let e = b.resolve(&l(&[
            ("instance", "10.0.0.9:5432"),
            ("job", "kubernetes-pods"),
        ]));
        assert_eq!(e.service.as_deref(), Some("db"));
        assert_eq!(e.node.as_deref(), Some("n1"));
        assert!(!e.is_node_level());
        let n = b.resolve(&l(&[("host", "N1.lan")]));
        assert!(n.is_node_level());
        assert_eq!(n.node.as_deref(), Some("n1"));
    }

    #[test]
    fn opentelemetry_and_kubernetes_label_names_resolve() {
        let mut b = AliasBook::default();
        // A series exported by an OpenTelemetry collector with its resource
        // attributes as labels, and an alert from the classic scrape config.
        b.learn(&l(&[
            ("k8s_deployment_name", "checkout"),
            ("k8s_pod_name", "checkout-7d9f8c6b5-x2k4q"),
            ("k8s_node_name", "node-3"),
        ]));
        let e = b.resolve(&l(&[
            ("alertname", "PodRestarting"),
            ("kubernetes_pod_name", "checkout-7d9f8c6b5-x2k4q"),
        ]));
        assert_eq!(e.service.as_deref(), Some("checkout"));
        assert_eq!(e.instance.as_deref(), Some("checkout-7d9f8c6b5-x2k4q"));
        assert_eq!(e.node.as_deref(), Some("node-3"));
        let n = b.resolve(&l(&[
            ("alertname", "HostDown"),
            ("host_name", "Node-3.lan"),
        ]));
        assert!(n.is_node_level());
        assert_eq!(n.node.as_deref(), Some("node-3"));
        let k = b.resolve(&l(&[("kubernetes_io_hostname", "node-3")]));
        assert_eq!(k.node.as_deref(), Some("node-3"));
    }
}
