//! `kubernetes_sd_configs`: targets from the Kubernetes API, with
//! Prometheus's roles (`node`, `pod`, `service`, `endpoints`,
//! `endpointslice`, `ingress`) and its `__meta_kubernetes_*` labels.
//!
//! Argus lists the objects (`GET /api/v1/pods`...) every `refresh_interval`
//! (an Argus key, default `30s`) and, between lists, watches them
//! (`?watch=1&resourceVersion=...`), so changes show at once, as with
//! Prometheus's informers. A failed list keeps the last targets and is
//! logged; a watch whose connection fails is retried a few times, and one
//! the API server refuses waits for the next list. Without `api_server`, the
//! cluster Argus runs in is used (`KUBERNETES_SERVICE_HOST`/`_PORT` and the
//! service account's token and CA certificate), or the current context of
//! `kubeconfig_file`.
//!
//! ```
//! use argus_ingest::scrape::ScrapeConfig;
//! let yaml = r#"
//! job_name: pods
//! kubernetes_sd_configs:
//!   - role: pod
//!     api_server: https://kubernetes.example:6443
//!     bearer_token_file: /etc/argus/k8s-token
//!     namespaces: {names: [web]}
//!     selectors: [{role: pod, label: 'app=web'}]
//! relabel_configs:
//!   - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
//!     regex: 'true'
//!     action: keep
//! "#;
//! let cfg: ScrapeConfig = serde_saphyr::from_str(yaml).unwrap();
//! cfg.validate().unwrap();
//! ```

pub mod api;
pub mod ingress;
pub mod kubeconfig;
pub mod objects;
mod run;
pub mod slices;
pub mod targets;

pub(super) use run::task;

use super::config::{PromDuration, TargetGroup};
use super::http::{Authorization, BasicAuth, HttpClientConfig, TlsConfig};
use api::{Api, KubernetesSdError, Listed, Query};
use objects::{EndpointSlice, Endpoints, Ingress, Namespace, Node, Pod, Service};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

fn default_refresh() -> PromDuration {
    PromDuration(Duration::from_secs(30))
}

fn default_true() -> bool {
    true
}

/// A discovery role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// One target per node (the kubelet).
    Node,
    /// One target per declared container port of each pod.
    Pod,
    /// One target per service port.
    Service,
    /// One target per endpoint address and port.
    Endpoints,
    /// One target per endpoint and port of each EndpointSlice.
    EndpointSlice,
    /// One target per host and path of each ingress rule.
    Ingress,
}

impl Role {
    /// Parses a role name; the error says why it is refused.
    pub fn parse(s: &str) -> Result<Role, String> {
        match s {
            "node" => Ok(Role::Node),
            "pod" => Ok(Role::Pod),
            "service" => Ok(Role::Service),
            "endpoints" => Ok(Role::Endpoints),
            "endpointslice" => Ok(Role::EndpointSlice),
            "ingress" => Ok(Role::Ingress),
            _ => Err(format!(
                "kubernetes_sd_configs: role {s:?} is unknown: use node, pod, service, endpoints, endpointslice or ingress"
            )),
        }
    }

    /// The role names a selector may have under this role.
    fn selector_roles(self) -> &'static [&'static str] {
        match self {
            Role::Node => &["node"],
            Role::Pod => &["pod", "node"],
            Role::Service => &["service"],
            Role::Endpoints => &["endpoints", "pod", "service", "node"],
            Role::EndpointSlice => &["endpointslice", "pod", "service", "node"],
            Role::Ingress => &["ingress"],
        }
    }
}

/// `namespaces`: which namespaces to list (default all).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Namespaces {
    /// Add the namespace Argus's pod runs in.
    #[serde(default)]
    pub own_namespace: bool,
    /// The namespaces.
    #[serde(default)]
    pub names: Vec<String>,
}

/// One `selectors` entry: passed as `labelSelector`/`fieldSelector` to the
/// lists of `role`'s objects.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// The objects it filters: `node`, `pod`, `service`, `endpoints`,
    /// `endpointslice` or `ingress`.
    pub role: String,
    /// A label selector, e.g. `app=web,tier!=cache`.
    #[serde(default)]
    pub label: Option<String>,
    /// A field selector, e.g. `spec.nodeName=n1`.
    #[serde(default)]
    pub field: Option<String>,
}

/// `attach_metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AttachMetadata {
    /// Add the node's `__meta_kubernetes_node_*` labels to pod and endpoint targets.
    #[serde(default)]
    pub node: bool,
    /// Add the namespace's `__meta_kubernetes_namespace_label_*` and
    /// `_annotation_*` labels to the targets of namespaced roles.
    #[serde(default)]
    pub namespace: bool,
}

/// One `kubernetes_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSdConfig {
    /// `node`, `pod`, `service`, `endpoints`, `endpointslice` or `ingress`.
    pub role: String,
    /// The API server's URL; default: the cluster Argus runs in.
    #[serde(default)]
    pub api_server: Option<String>,
    /// A kubeconfig whose current context gives the API server and the
    /// credentials (instead of `api_server` and the client keys).
    #[serde(default)]
    pub kubeconfig_file: Option<String>,
    /// Which namespaces to list (default all).
    #[serde(default)]
    pub namespaces: Option<Namespaces>,
    /// Label and field selectors.
    #[serde(default)]
    pub selectors: Vec<Selector>,
    /// Extra metadata on the targets.
    #[serde(default)]
    pub attach_metadata: Option<AttachMetadata>,
    /// How often the objects are listed (an Argus key). Default `30s`.
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
    /// HTTP basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// An `Authorization` header.
    #[serde(default)]
    pub authorization: Option<Authorization>,
    /// Legacy bearer token.
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// Legacy bearer token file.
    #[serde(default)]
    pub bearer_token_file: Option<String>,
    /// TLS settings.
    #[serde(default)]
    pub tls_config: Option<TlsConfig>,
    /// An HTTP proxy.
    #[serde(default)]
    pub proxy_url: Option<String>,
    /// Hosts not sent through `proxy_url`.
    #[serde(default)]
    pub no_proxy: Option<String>,
    /// Use the proxy environment variables. Default false.
    #[serde(default)]
    pub proxy_from_environment: bool,
    /// Follow redirects. Default true.
    #[serde(default = "default_true")]
    pub follow_redirects: bool,
    /// Allow HTTP/2. Default true.
    #[serde(default = "default_true")]
    pub enable_http2: bool,
}

impl KubernetesSdConfig {
    /// The client settings of the API requests.
    pub fn http_client_config(&self) -> HttpClientConfig {
        HttpClientConfig {
            basic_auth: self.basic_auth.clone(),
            authorization: self.authorization.clone(),
            bearer_token: self.bearer_token.clone(),
            bearer_token_file: self.bearer_token_file.clone(),
            tls_config: self.tls_config.clone(),
            proxy_url: self.proxy_url.clone(),
            no_proxy: self.no_proxy.clone(),
            proxy_from_environment: self.proxy_from_environment,
            follow_redirects: self.follow_redirects,
            enable_http2: self.enable_http2,
            enable_compression: true,
        }
    }

    /// Checks the role, the selectors, the URL and the client settings
    /// (through [`super::ScrapeConfig::validate`]).
    pub(crate) fn validate(&self) -> Result<(), String> {
        let role = Role::parse(&self.role)?;
        let plain = HttpClientConfig {
            follow_redirects: true,
            enable_http2: true,
            enable_compression: true,
            ..HttpClientConfig::default()
        };
        if self.kubeconfig_file.is_some() {
            if self.api_server.is_some() {
                return Err("kubernetes_sd_configs: cannot use 'kubeconfig_file' and 'api_server' simultaneously".into());
            }
            if self.http_client_config() != plain {
                return Err("kubernetes_sd_configs: cannot use a custom HTTP client configuration together with 'kubeconfig_file'".into());
            }
        }
        match &self.api_server {
            Some(u) => {
                let url = reqwest::Url::parse(u)
                    .map_err(|e| format!("kubernetes_sd_configs: api_server {u:?}: {e}"))?;
                if url.scheme() != "http" && url.scheme() != "https" {
                    return Err(format!(
                        "kubernetes_sd_configs: api_server {u:?} must be http or https"
                    ));
                }
            }
            None => {
                if self.http_client_config() != plain {
                    return Err("kubernetes_sd_configs: to use custom HTTP client configuration please provide the 'api_server' URL explicitly".into());
                }
            }
        }
        let mut seen = HashSet::new();
        for s in &self.selectors {
            if !role.selector_roles().contains(&s.role.as_str()) {
                return Err(format!(
                    "kubernetes_sd_configs: selectors: role {} supports only {} selectors, not {:?}",
                    self.role,
                    role.selector_roles().join(", "),
                    s.role
                ));
            }
            if !seen.insert(s.role.as_str()) {
                return Err(format!(
                    "kubernetes_sd_configs: selectors: role {} appears more than once",
                    s.role
                ));
            }
        }
        if self.refresh_interval.0.is_zero() {
            return Err("kubernetes_sd_configs: refresh_interval must be greater than 0".into());
        }
        self.http_client_config()
            .validate()
            .map_err(|e| format!("kubernetes_sd_configs: {e}"))
    }

    fn selector(&self, role: &str) -> (Option<&str>, Option<&str>) {
        let s = self.selectors.iter().find(|s| s.role == role);
        (
            s.and_then(|s| s.label.as_deref()),
            s.and_then(|s| s.field.as_deref()),
        )
    }

    fn attach_node(&self) -> bool {
        self.attach_metadata.as_ref().is_some_and(|a| a.node)
    }

    fn attach_namespace(&self) -> bool {
        self.attach_metadata.as_ref().is_some_and(|a| a.namespace)
    }

    /// The namespaces to list: `[None]` for all of them. `own` gives the
    /// namespace of `own_namespace`.
    fn namespaces(
        &self,
        own: impl FnOnce() -> Result<String, KubernetesSdError>,
    ) -> Result<Vec<Option<String>>, KubernetesSdError> {
        let Some(n) = &self.namespaces else {
            return Ok(vec![None]);
        };
        let mut out: Vec<String> = n.names.clone();
        if n.own_namespace {
            out.push(own()?);
        }
        if out.is_empty() {
            return Ok(vec![None]);
        }
        out.sort();
        out.dedup();
        Ok(out.into_iter().map(Some).collect())
    }
}

/// The lists a discovery needs: the role's objects in each namespace, the
/// services and pods the `endpoints` role joins, the nodes of `node` and
/// `attach_metadata`.
pub fn plan(
    sd: &KubernetesSdConfig,
    own: impl FnOnce() -> Result<String, KubernetesSdError>,
) -> Result<Vec<Query>, KubernetesSdError> {
    let role = Role::parse(&sd.role).map_err(KubernetesSdError::Config)?;
    let query = |resource: &'static str, selector_role: &str, namespace: Option<String>| {
        let (label, field) = sd.selector(selector_role);
        Query {
            resource,
            namespace,
            label: label.map(str::to_string),
            field: field.map(str::to_string),
        }
    };
    let mut out = Vec::new();
    if role == Role::Node || sd.attach_node() {
        out.push(query("nodes", "node", None));
    }
    if role != Role::Node && sd.attach_namespace() {
        out.push(query("namespaces", "", None));
    }
    let namespaced: &[(&'static str, &str)] = match role {
        Role::Node => &[],
        Role::Pod => &[("pods", "pod")],
        Role::Service => &[("services", "service")],
        Role::Endpoints => &[
            ("endpoints", "endpoints"),
            ("services", "service"),
            ("pods", "pod"),
        ],
        Role::Ingress => &[("ingresses", "ingress")],
        Role::EndpointSlice => &[
            ("endpointslices", "endpointslice"),
            ("services", "service"),
            ("pods", "pod"),
        ],
    };
    if !namespaced.is_empty() {
        let nss = sd.namespaces(own)?;
        for (resource, selector_role) in namespaced {
            for ns in &nss {
                out.push(query(resource, selector_role, ns.clone()));
            }
        }
    }
    Ok(out)
}

/// The objects of `resource` in the lists.
fn objects<T: serde::de::DeserializeOwned>(lists: &[(Query, Listed)], resource: &str) -> Vec<T> {
    let items = lists
        .iter()
        .filter(|(q, _)| q.resource == resource)
        .flat_map(|(_, l)| l.items.values());
    api::decode(resource, items)
}

/// Builds the target groups of the role from the lists of [`plan`].
pub fn build(sd: &KubernetesSdConfig, lists: &[(Query, Listed)]) -> Vec<TargetGroup> {
    let Ok(role) = Role::parse(&sd.role) else {
        return Vec::new();
    };
    let mut groups = build_role(sd, role, lists);
    if role != Role::Node && sd.attach_namespace() {
        let nss: Vec<Namespace> = objects(lists, "namespaces");
        targets::namespace_meta(&mut groups, &nss);
    }
    groups
}

fn build_role(sd: &KubernetesSdConfig, role: Role, lists: &[(Query, Listed)]) -> Vec<TargetGroup> {
    let nodes: Option<Vec<Node>> =
        (role == Role::Node || sd.attach_node()).then(|| objects(lists, "nodes"));
    match role {
        Role::Node => targets::node_groups(nodes.as_deref().unwrap_or_default()),
        Role::Pod => {
            let node_map: Option<HashMap<&str, &Node>> = nodes
                .as_ref()
                .map(|v| v.iter().map(|n| (n.metadata.name.as_str(), n)).collect());
            let pods: Vec<Pod> = objects(lists, "pods");
            targets::pod_groups(&pods, node_map.as_ref())
        }
        Role::Service => targets::service_groups(&objects::<Service>(lists, "services")),
        Role::Endpoints => {
            let eps: Vec<Endpoints> = objects(lists, "endpoints");
            let svcs: Vec<Service> = objects(lists, "services");
            let pods: Vec<Pod> = objects(lists, "pods");
            let join = targets::EndpointsJoin::new(&svcs, &pods, nodes.as_deref());
            targets::endpoints_groups(&eps, &join)
        }
        Role::EndpointSlice => {
            let slices: Vec<EndpointSlice> = objects(lists, "endpointslices");
            let svcs: Vec<Service> = objects(lists, "services");
            let pods: Vec<Pod> = objects(lists, "pods");
            let join = targets::EndpointsJoin::new(&svcs, &pods, nodes.as_deref());
            slices::endpointslice_groups(&slices, &join)
        }
        Role::Ingress => ingress::ingress_groups(&objects::<Ingress>(lists, "ingresses")),
    }
}

/// Lists what the role needs once ([`plan`]).
pub async fn list_all(
    api: &Api,
    sd: &KubernetesSdConfig,
) -> Result<Vec<(Query, Listed)>, KubernetesSdError> {
    let mut out = Vec::new();
    for q in plan(sd, || api.own_namespace())? {
        let l = api.list_raw(&q).await?;
        out.push((q, l));
    }
    Ok(out)
}

/// Lists the objects of the role once and builds the target groups.
pub async fn discover(
    api: &Api,
    sd: &KubernetesSdConfig,
) -> Result<Vec<TargetGroup>, KubernetesSdError> {
    Ok(build(sd, &list_all(api, sd).await?))
}

/// The key of the `i`-th entry's groups in the job's discovered groups; a
/// changed entry gets a new key, so its old targets go.
pub(super) fn sd_key(i: usize, sd: &KubernetesSdConfig) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    format!("{sd:?}").hash(&mut h);
    format!("kubernetes:{i}:{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sd(yaml: &str) -> KubernetesSdConfig {
        let sd: KubernetesSdConfig = serde_saphyr::from_str(yaml).unwrap();
        sd.validate().unwrap();
        sd
    }

    #[test]
    fn plan_lists_what_the_role_joins_with_its_selectors() {
        let sd = sd("role: endpoints\napi_server: http://k\nnamespaces: {names: [b, a, a]}\nattach_metadata: {node: true}\nselectors: [{role: pod, label: app=web}, {role: endpoints, field: metadata.name=web}]\n");
        let p = plan(&sd, || Ok("own".into())).unwrap();
        let got: Vec<String> = p
            .iter()
            .map(|q| {
                format!(
                    "{} {:?} {:?} {:?}",
                    q.resource, q.namespace, q.label, q.field
                )
            })
            .collect();
        let web = r#"Some("metadata.name=web")"#;
        let app = r#"Some("app=web")"#;
        assert_eq!(
            got,
            [
                "nodes None None None".to_string(),
                format!(r#"endpoints Some("a") None {web}"#),
                format!(r#"endpoints Some("b") None {web}"#),
                r#"services Some("a") None None"#.to_string(),
                r#"services Some("b") None None"#.to_string(),
                format!(r#"pods Some("a") {app} None"#),
                format!(r#"pods Some("b") {app} None"#),
            ]
        );
        let sd = self::sd("role: node\napi_server: http://k\nnamespaces: {names: [a]}\n");
        let node = plan(&sd, || Ok("own".into()));
        assert_eq!(node.unwrap().len(), 1);
    }

    #[test]
    fn without_api_server_outside_a_cluster_the_error_says_so() {
        if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
            return; // Running in a pod: in-cluster discovery would work.
        }
        let e = Api::new(&sd("role: pod\n")).unwrap_err().to_string();
        assert!(e.contains("KUBERNETES_SERVICE_HOST"), "{e}");
    }
}
