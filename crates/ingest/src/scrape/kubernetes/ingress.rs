//! Role `ingress`: one target per host and path of each ingress rule, with
//! Prometheus's `__meta_kubernetes_ingress_*` labels; the scheme is `https`
//! when a TLS section of the ingress covers the host.
//!
//! ```
//! use argus_ingest::scrape::kubernetes::ingress::ingress_groups;
//! use argus_ingest::scrape::kubernetes::objects::Ingress;
//! let i: Ingress = serde_json::from_str(r#"{"metadata":{"name":"shop","namespace":"web"},
//!   "spec":{"tls":[{"hosts":["*.example.com"]}],
//!           "rules":[{"host":"shop.example.com","http":{"paths":[{"path":"/api"}]}}]}}"#).unwrap();
//! let g = ingress_groups(&[i]);
//! assert_eq!(g[0].targets, ["shop.example.com"]);
//! assert_eq!(g[0].labels["__meta_kubernetes_ingress_scheme"], "https");
//! assert_eq!(g[0].labels["__meta_kubernetes_ingress_path"], "/api");
//! ```

use super::objects::Ingress;
use super::targets::{group, object_labels, put, sort_groups, LabelMap, P};
use crate::scrape::TargetGroup;

/// True when `pattern` (a TLS host, maybe `*.domain`) covers `host`.
fn host_matches(pattern: &str, host: &str) -> bool {
    if pattern == host {
        return true;
    }
    let (p, h): (Vec<&str>, Vec<&str>) = (pattern.split('.').collect(), host.split('.').collect());
    p.first() == Some(&"*") && p.len() == h.len() && p[1..] == h[1..]
}

/// The targets of the ingresses.
pub fn ingress_groups(ingresses: &[Ingress]) -> Vec<TargetGroup> {
    let mut out = Vec::new();
    for i in ingresses {
        let mut base = LabelMap::new();
        put(&mut base, &format!("{P}namespace"), &i.metadata.namespace);
        put(&mut base, &format!("{P}ingress_name"), &i.metadata.name);
        object_labels(&mut base, "ingress", &i.metadata);
        let class = &i.spec.ingress_class_name;
        put(&mut base, &format!("{P}ingress_class_name"), class);
        let tls_hosts: Vec<&str> = i
            .spec
            .tls
            .iter()
            .flat_map(|t| &t.hosts)
            .map(String::as_str)
            .collect();
        for rule in &i.spec.rules {
            let https = tls_hosts.iter().any(|p| host_matches(p, &rule.host));
            let mut paths: Vec<&str> = match &rule.http {
                Some(h) => h.paths.iter().map(|p| p.path.as_str()).collect(),
                None => Vec::new(),
            };
            if paths.is_empty() {
                paths.push("/");
            }
            for path in paths {
                let mut l = base.clone();
                put(
                    &mut l,
                    &format!("{P}ingress_scheme"),
                    if https { "https" } else { "http" },
                );
                put(&mut l, &format!("{P}ingress_host"), &rule.host);
                put(
                    &mut l,
                    &format!("{P}ingress_path"),
                    if path.is_empty() { "/" } else { path },
                );
                out.push(group(rule.host.clone(), l));
            }
        }
    }
    sort_groups(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::host_matches;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(host_matches("*.example.com", "a.example.com"));
        assert!(!host_matches("*.example.com", "a.b.example.com"));
        assert!(!host_matches("a.example.com", "b.example.com"));
        assert!(host_matches("example.com", "example.com"));
    }
}
