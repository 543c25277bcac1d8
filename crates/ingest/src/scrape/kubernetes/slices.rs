//! Role `endpointslice`: targets from `EndpointSlice` objects
//! (discovery.k8s.io/v1), joined with their service (the
//! `kubernetes.io/service-name` label) and the pods behind them, with
//! Prometheus's `__meta_kubernetes_endpointslice_*` labels.
//!
//! ```
//! use argus_ingest::scrape::kubernetes::objects::EndpointSlice;
//! use argus_ingest::scrape::kubernetes::slices::endpointslice_groups;
//! use argus_ingest::scrape::kubernetes::targets::EndpointsJoin;
//! let s: EndpointSlice = serde_json::from_str(r#"{"metadata":{"name":"web-x","namespace":"web"},
//!   "addressType":"IPv4","endpoints":[{"addresses":["10.1.0.5"],"conditions":{"ready":true}}],
//!   "ports":[{"name":"http","port":8080,"protocol":"TCP"}]}"#).unwrap();
//! let g = endpointslice_groups(&[s], &EndpointsJoin::new(&[], &[], None));
//! assert_eq!(g[0].targets, ["10.1.0.5:8080"]);
//! assert_eq!(g[0].labels["__meta_kubernetes_endpointslice_endpoint_conditions_ready"], "true");
//! ```

use super::objects::EndpointSlice;
use super::targets::{
    group, join_host_port, join_pod, node_meta, object_labels, put, sanitize, service_labels,
    sort_groups, uncovered_ports, Covered, EndpointsJoin, LabelMap, P,
};
use crate::scrape::TargetGroup;

/// The label of a slice naming its service.
const SERVICE_NAME: &str = "kubernetes.io/service-name";

fn flag(l: &mut LabelMap, name: &str, v: Option<bool>) {
    if let Some(v) = v {
        put(
            l,
            &format!("{P}endpointslice_endpoint_conditions_{name}"),
            &v.to_string(),
        );
    }
}

/// One target per endpoint (its first address) and port of each slice,
/// with the service's labels and, for endpoints backed by a pod, the pod's
/// and the matching container's labels; then one target per container port
/// of those pods that no slice port covers.
pub fn endpointslice_groups(
    slices: &[EndpointSlice],
    join: &EndpointsJoin<'_>,
) -> Vec<TargetGroup> {
    let mut out = Vec::new();
    for s in slices {
        let ns = &s.metadata.namespace;
        let mut base = LabelMap::new();
        put(&mut base, &format!("{P}namespace"), ns);
        put(
            &mut base,
            &format!("{P}endpointslice_name"),
            &s.metadata.name,
        );
        object_labels(&mut base, "endpointslice", &s.metadata);
        put(
            &mut base,
            &format!("{P}endpointslice_address_type"),
            &s.address_type,
        );
        if let Some(svc) = s.metadata.labels.get(SERVICE_NAME) {
            if let Some(svc) = join.services.get(&format!("{ns}/{svc}")) {
                service_labels(&mut base, svc);
            }
        }
        let mut seen = Covered::new();
        for port in &s.ports {
            let Some(number) = port.port else { continue };
            for e in &s.endpoints {
                let Some(addr) = e.addresses.first() else {
                    continue;
                };
                let mut l = base.clone();
                put(&mut l, &format!("{P}endpointslice_port_name"), &port.name);
                put(
                    &mut l,
                    &format!("{P}endpointslice_port_protocol"),
                    &port.protocol,
                );
                put(
                    &mut l,
                    &format!("{P}endpointslice_port"),
                    &number.to_string(),
                );
                put(
                    &mut l,
                    &format!("{P}endpointslice_port_app_protocol"),
                    &port.app_protocol,
                );
                flag(&mut l, "ready", e.conditions.ready);
                flag(&mut l, "serving", e.conditions.serving);
                flag(&mut l, "terminating", e.conditions.terminating);
                put(
                    &mut l,
                    &format!("{P}endpointslice_endpoint_hostname"),
                    &e.hostname,
                );
                put(
                    &mut l,
                    &format!("{P}endpointslice_endpoint_node_name"),
                    &e.node_name,
                );
                put(&mut l, &format!("{P}endpointslice_endpoint_zone"), &e.zone);
                for (k, v) in &e.deprecated_topology {
                    let k = sanitize(k);
                    put(
                        &mut l,
                        &format!("{P}endpointslice_endpoint_topology_{k}"),
                        v,
                    );
                    put(
                        &mut l,
                        &format!("{P}endpointslice_endpoint_topology_present_{k}"),
                        "true",
                    );
                }
                node_meta(&mut l, &e.node_name, join.nodes.as_ref());
                if let Some(r) = &e.target_ref {
                    put(
                        &mut l,
                        &format!("{P}endpointslice_address_target_kind"),
                        &r.kind,
                    );
                    put(
                        &mut l,
                        &format!("{P}endpointslice_address_target_name"),
                        &r.name,
                    );
                    join_pod(&mut l, join, ns, r, (number, &port.protocol), &mut seen);
                }
                out.push(group(join_host_port(addr, number), l));
            }
        }
        uncovered_ports(&base, join, &seen, &mut out);
    }
    sort_groups(&mut out);
    out
}
