//! Turns listed Kubernetes objects into target groups with Prometheus's
//! `__meta_kubernetes_*` labels, one group per target (the targets of one
//! object differ in their port labels).
//!
//! ```
//! use argus_ingest::scrape::kubernetes::objects::Node;
//! use argus_ingest::scrape::kubernetes::targets::node_groups;
//! let n: Node = serde_json::from_str(r#"{"metadata":{"name":"n1"},
//!   "status":{"addresses":[{"type":"InternalIP","address":"10.0.0.1"}],
//!             "daemonEndpoints":{"kubeletEndpoint":{"Port":10250}}}}"#).unwrap();
//! let g = node_groups(&[n]);
//! assert_eq!(g[0].targets, ["10.0.0.1:10250"]);
//! assert_eq!(g[0].labels["instance"], "n1");
//! ```

use super::objects::{
    Container, ContainerStatus, Endpoints, Namespace, Node, ObjectMeta, ObjectReference, Pod,
    Service,
};
use crate::scrape::TargetGroup;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub(super) type LabelMap = BTreeMap<String, String>;

pub(super) const P: &str = "__meta_kubernetes_";

/// A label name as Prometheus sanitizes it: every character outside
/// `[a-zA-Z0-9_]` becomes `_`.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// `host:port`, with brackets around an IPv6 host.
pub fn join_host_port(host: &str, port: u32) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Sets `k` unless `v` is empty (an empty label is no label).
pub(super) fn put(l: &mut LabelMap, k: &str, v: &str) {
    if !v.is_empty() {
        l.insert(k.to_string(), v.to_string());
    }
}

/// `<prefix>label_<name>`, `labelpresent_`, `annotation_`, `annotationpresent_`.
pub(super) fn object_labels(l: &mut LabelMap, kind: &str, meta: &ObjectMeta) {
    for (what, map) in [("label", &meta.labels), ("annotation", &meta.annotations)] {
        for (k, v) in map {
            let name = sanitize(k);
            put(l, &format!("{P}{kind}_{what}_{name}"), v);
            l.insert(format!("{P}{kind}_{what}present_{name}"), "true".into());
        }
    }
}

pub(super) fn group(address: String, labels: LabelMap) -> TargetGroup {
    TargetGroup {
        targets: vec![address],
        labels,
    }
}

/// Sorts groups so equal discoveries compare equal.
pub(super) fn sort_groups(g: &mut [TargetGroup]) {
    g.sort_by(|a, b| (&a.targets, &a.labels).cmp(&(&b.targets, &b.labels)));
}

/// The node labels `attach_metadata: {node: true}` adds.
pub(super) fn node_meta(l: &mut LabelMap, node_name: &str, nodes: Option<&HashMap<&str, &Node>>) {
    let Some(n) = nodes.and_then(|m| m.get(node_name)) else {
        return;
    };
    put(l, &format!("{P}node_name"), &n.metadata.name);
    object_labels(l, "node", &n.metadata);
}

/// The labels of a pod shared by all its targets (without the namespace).
fn pod_labels(p: &Pod) -> LabelMap {
    let mut l = LabelMap::new();
    put(&mut l, &format!("{P}pod_name"), &p.metadata.name);
    put(&mut l, &format!("{P}pod_ip"), &p.status.pod_ip);
    let ready = p
        .status
        .conditions
        .iter()
        .find(|c| c.kind == "Ready")
        .map_or("unknown".to_string(), |c| c.status.to_ascii_lowercase());
    put(&mut l, &format!("{P}pod_ready"), &ready);
    put(&mut l, &format!("{P}pod_phase"), &p.status.phase);
    put(&mut l, &format!("{P}pod_node_name"), &p.spec.node_name);
    put(&mut l, &format!("{P}pod_host_ip"), &p.status.host_ip);
    put(&mut l, &format!("{P}pod_uid"), &p.metadata.uid);
    if let Some(o) = p.metadata.owner_references.iter().find(|o| o.controller) {
        put(&mut l, &format!("{P}pod_controller_kind"), &o.kind);
        put(&mut l, &format!("{P}pod_controller_name"), &o.name);
    }
    object_labels(&mut l, "pod", &p.metadata);
    l
}

/// The containers of a pod, init containers last, with their init flag.
fn containers(p: &Pod) -> impl Iterator<Item = (&Container, bool)> {
    let main = p.spec.containers.iter().map(|c| (c, false));
    main.chain(p.spec.init_containers.iter().map(|c| (c, true)))
}

/// The labels of one container (without its port).
fn container_labels(l: &mut LabelMap, p: &Pod, c: &Container, init: bool) {
    let statuses: &[ContainerStatus] = if init {
        &p.status.init_container_statuses
    } else {
        &p.status.container_statuses
    };
    put(l, &format!("{P}pod_container_name"), &c.name);
    put(l, &format!("{P}pod_container_image"), &c.image);
    put(l, &format!("{P}pod_container_init"), &init.to_string());
    if let Some(s) = statuses.iter().find(|s| s.name == c.name) {
        put(l, &format!("{P}pod_container_id"), &s.container_id);
    }
}

fn port_labels(l: &mut LabelMap, name: &str, number: u32, protocol: &str) {
    put(l, &format!("{P}pod_container_port_name"), name);
    put(
        l,
        &format!("{P}pod_container_port_number"),
        &number.to_string(),
    );
    put(l, &format!("{P}pod_container_port_protocol"), protocol);
}

/// Role `pod`: one target per declared container port (`podIP:port`), and
/// one per container without ports (`podIP`). Pods without an IP have none.
pub fn pod_groups(pods: &[Pod], nodes: Option<&HashMap<&str, &Node>>) -> Vec<TargetGroup> {
    let mut out = Vec::new();
    for p in pods.iter().filter(|p| !p.status.pod_ip.is_empty()) {
        let mut base = pod_labels(p);
        put(&mut base, &format!("{P}namespace"), &p.metadata.namespace);
        node_meta(&mut base, &p.spec.node_name, nodes);
        for (c, init) in containers(p) {
            let mut l = base.clone();
            container_labels(&mut l, p, c, init);
            if c.ports.is_empty() {
                out.push(group(p.status.pod_ip.clone(), l));
                continue;
            }
            for port in &c.ports {
                let mut l = l.clone();
                port_labels(&mut l, &port.name, port.container_port, &port.protocol);
                let addr = join_host_port(&p.status.pod_ip, port.container_port);
                out.push(group(addr, l));
            }
        }
    }
    sort_groups(&mut out);
    out
}

/// The labels of a service shared by the `service` and `endpoints` roles.
pub(super) fn service_labels(l: &mut LabelMap, s: &Service) {
    put(l, &format!("{P}service_name"), &s.metadata.name);
    put(l, &format!("{P}namespace"), &s.metadata.namespace);
    object_labels(l, "service", &s.metadata);
}

/// Role `service`: one target per service port, `<name>.<namespace>.svc:<port>`.
pub fn service_groups(services: &[Service]) -> Vec<TargetGroup> {
    let mut out = Vec::new();
    for s in services {
        let mut base = LabelMap::new();
        service_labels(&mut base, s);
        let host = format!("{}.{}.svc", s.metadata.name, s.metadata.namespace);
        for port in &s.spec.ports {
            let mut l = base.clone();
            put(&mut l, &format!("{P}service_port_name"), &port.name);
            put(
                &mut l,
                &format!("{P}service_port_number"),
                &port.port.to_string(),
            );
            put(&mut l, &format!("{P}service_port_protocol"), &port.protocol);
            put(&mut l, &format!("{P}service_type"), &s.spec.kind);
            if s.spec.kind == "ExternalName" {
                put(
                    &mut l,
                    &format!("{P}service_external_name"),
                    &s.spec.external_name,
                );
            } else {
                put(
                    &mut l,
                    &format!("{P}service_cluster_ip"),
                    &s.spec.cluster_ip,
                );
            }
            if s.spec.kind == "LoadBalancer" {
                if let Some(i) = s.status.load_balancer.ingress.first() {
                    put(&mut l, &format!("{P}service_loadbalancer_ip"), &i.ip);
                }
            }
            out.push(group(join_host_port(&host, port.port), l));
        }
    }
    sort_groups(&mut out);
    out
}

/// What the `endpoints` role joins its addresses with.
pub struct EndpointsJoin<'a> {
    /// Services by `namespace/name`.
    pub services: HashMap<String, &'a Service>,
    /// Pods by `namespace/name`.
    pub pods: HashMap<String, &'a Pod>,
    /// Nodes by name, when `attach_metadata: {node: true}`.
    pub nodes: Option<HashMap<&'a str, &'a Node>>,
}

impl<'a> EndpointsJoin<'a> {
    /// Indexes the listed services and pods.
    pub fn new(services: &'a [Service], pods: &'a [Pod], nodes: Option<&'a [Node]>) -> Self {
        let key = |m: &ObjectMeta| format!("{}/{}", m.namespace, m.name);
        EndpointsJoin {
            services: services.iter().map(|s| (key(&s.metadata), s)).collect(),
            pods: pods.iter().map(|p| (key(&p.metadata), p)).collect(),
            nodes: nodes.map(|n| n.iter().map(|n| (n.metadata.name.as_str(), n)).collect()),
        }
    }
}

/// Role `endpoints`: one target per address and port of each Endpoints
/// object, with the service's labels and, for addresses backed by a pod,
/// the pod's and the matching container's labels; then one target per
/// container port of those pods that no endpoint port covers.
pub fn endpoints_groups(eps: &[Endpoints], join: &EndpointsJoin<'_>) -> Vec<TargetGroup> {
    let mut out = Vec::new();
    for e in eps {
        let ns = &e.metadata.namespace;
        let mut base = LabelMap::new();
        put(&mut base, &format!("{P}namespace"), ns);
        put(&mut base, &format!("{P}endpoints_name"), &e.metadata.name);
        object_labels(&mut base, "endpoints", &e.metadata);
        if let Some(s) = join.services.get(&format!("{ns}/{}", e.metadata.name)) {
            service_labels(&mut base, s);
        }
        let mut seen = Covered::new();
        for sub in &e.subsets {
            let addrs = sub.addresses.iter().map(|a| (a, "true"));
            let addrs = addrs.chain(sub.not_ready_addresses.iter().map(|a| (a, "false")));
            for (a, ready) in addrs {
                for port in &sub.ports {
                    let mut l = base.clone();
                    put(&mut l, &format!("{P}endpoint_port_name"), &port.name);
                    let protocol = &port.protocol;
                    put(&mut l, &format!("{P}endpoint_port_protocol"), protocol);
                    put(&mut l, &format!("{P}endpoint_ready"), ready);
                    put(&mut l, &format!("{P}endpoint_hostname"), &a.hostname);
                    put(&mut l, &format!("{P}endpoint_node_name"), &a.node_name);
                    node_meta(&mut l, &a.node_name, join.nodes.as_ref());
                    if let Some(r) = &a.target_ref {
                        put(&mut l, &format!("{P}endpoint_address_target_kind"), &r.kind);
                        put(&mut l, &format!("{P}endpoint_address_target_name"), &r.name);
                        join_pod(&mut l, join, ns, r, (port.port, protocol), &mut seen);
                    }
                    out.push(group(join_host_port(&a.ip, port.port), l));
                }
            }
        }
        uncovered_ports(&base, join, &seen, &mut out);
    }
    sort_groups(&mut out);
    out
}

/// Pods seen behind endpoints (`namespace/name`), and the (port, protocol)
/// pairs the endpoints cover.
pub(super) type Covered = BTreeMap<String, BTreeSet<(u32, String)>>;

/// Adds the labels of the pod `r` names (when it is a listed pod) and of its
/// container serving `port`, and records the pod in `seen`.
pub(super) fn join_pod(
    l: &mut LabelMap,
    join: &EndpointsJoin<'_>,
    ns: &str,
    r: &ObjectReference,
    (port, protocol): (u32, &str),
    seen: &mut Covered,
) {
    let rns = if r.namespace.is_empty() {
        ns
    } else {
        &r.namespace
    };
    let key = format!("{rns}/{}", r.name);
    let Some(p) = join.pods.get(&key).filter(|_| r.kind == "Pod") else {
        return;
    };
    l.extend(pod_labels(p));
    let hit = containers(p).find_map(|(c, init)| {
        let cp = c
            .ports
            .iter()
            .find(|cp| cp.container_port == port && cp.protocol == protocol)?;
        Some((c, init, cp))
    });
    if let Some((c, init, cp)) = hit {
        container_labels(l, p, c, init);
        port_labels(l, &cp.name, cp.container_port, &cp.protocol);
    }
    seen.entry(key)
        .or_default()
        .insert((port, protocol.to_string()));
}

/// One target per container port of the `seen` pods that no endpoint
/// covers, with `base` and the pod's labels.
pub(super) fn uncovered_ports(
    base: &LabelMap,
    join: &EndpointsJoin<'_>,
    seen: &Covered,
    out: &mut Vec<TargetGroup>,
) {
    for (key, covered) in seen {
        let Some(p) = join.pods.get(key).filter(|p| !p.status.pod_ip.is_empty()) else {
            continue;
        };
        for (c, init) in containers(p) {
            for cp in &c.ports {
                if covered.contains(&(cp.container_port, cp.protocol.clone())) {
                    continue;
                }
                let mut l = base.clone();
                l.extend(pod_labels(p));
                node_meta(&mut l, &p.spec.node_name, join.nodes.as_ref());
                container_labels(&mut l, p, c, init);
                port_labels(&mut l, &cp.name, cp.container_port, &cp.protocol);
                let addr = join_host_port(&p.status.pod_ip, cp.container_port);
                out.push(group(addr, l));
            }
        }
    }
}

/// Adds the labels and annotations of each group's namespace
/// (`attach_metadata: {namespace: true}`).
pub fn namespace_meta(groups: &mut [TargetGroup], namespaces: &[Namespace]) {
    let by_name: HashMap<&str, &Namespace> = namespaces
        .iter()
        .map(|n| (n.metadata.name.as_str(), n))
        .collect();
    for g in groups {
        let ns = g.labels.get(&format!("{P}namespace"));
        if let Some(n) = ns.and_then(|ns| by_name.get(ns.as_str())) {
            object_labels(&mut g.labels, "namespace", &n.metadata);
        }
    }
}

/// The address types tried for a node's `__address__`, in order.
const NODE_ADDRESS_ORDER: [&str; 4] = ["InternalIP", "ExternalIP", "LegacyHostIP", "Hostname"];

/// Role `node`: one target per node, at its first address of the types
/// InternalIP, ExternalIP, LegacyHostIP, Hostname and the kubelet's port;
/// `instance` is the node's name. Nodes without such an address are skipped.
pub fn node_groups(nodes: &[Node]) -> Vec<TargetGroup> {
    let mut out = Vec::new();
    for n in nodes {
        let mut first: BTreeMap<&str, &str> = BTreeMap::new();
        for a in &n.status.addresses {
            first.entry(a.kind.as_str()).or_insert(a.address.as_str());
        }
        let Some(addr) = NODE_ADDRESS_ORDER.iter().find_map(|t| first.get(t)) else {
            tracing::debug!(node = %n.metadata.name, "Kubernetes node without a usable address skipped.");
            continue;
        };
        let mut l = LabelMap::new();
        put(&mut l, &format!("{P}node_name"), &n.metadata.name);
        put(&mut l, &format!("{P}node_provider_id"), &n.spec.provider_id);
        object_labels(&mut l, "node", &n.metadata);
        put(&mut l, "instance", &n.metadata.name);
        for (t, a) in &first {
            put(&mut l, &format!("{P}node_address_{}", sanitize(t)), a);
        }
        let port = n.status.daemon_endpoints.kubelet_endpoint.port;
        out.push(group(join_host_port(addr, port), l));
    }
    sort_groups(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_and_ipv6() {
        assert_eq!(sanitize("app.kubernetes.io/name"), "app_kubernetes_io_name");
        assert_eq!(join_host_port("fd00::1", 80), "[fd00::1]:80");
    }

    #[test]
    fn pod_without_ip_or_ports() {
        let pods: Vec<Pod> = serde_json::from_str(
            r#"[{"metadata":{"name":"a","namespace":"n"},"spec":{"containers":[{"name":"c"}]}},
                {"metadata":{"name":"b","namespace":"n","labels":{"x.y":""}},
                 "spec":{"containers":[{"name":"c","ports":null}]},"status":{"podIP":"10.1.1.1"}}]"#,
        )
        .unwrap();
        let g = pod_groups(&pods, None);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].targets, ["10.1.1.1"]);
        assert_eq!(g[0].labels["__meta_kubernetes_pod_ready"], "unknown");
        assert_eq!(
            g[0].labels["__meta_kubernetes_pod_labelpresent_x_y"],
            "true"
        );
        assert!(!g[0].labels.contains_key("__meta_kubernetes_pod_label_x_y"));
    }
}
