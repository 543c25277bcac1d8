//! The parts of the Kubernetes API objects that discovery reads: `Pod`,
//! `Service`, `Endpoints` and `Node` (core/v1), as the API server encodes
//! them in JSON. Every field has a default, so a missing or `null` field is
//! never an error; a field of the wrong type makes that one object unreadable
//! (it is skipped by [`super::api`]), never the whole list.
//!
//! ```
//! use argus_ingest::scrape::kubernetes::objects::Pod;
//! let p: Pod = serde_json::from_str(r#"{"metadata":{"name":"web-0"},"status":{"podIP":"10.0.0.7"}}"#).unwrap();
//! assert_eq!(p.metadata.name, "web-0");
//! assert_eq!(p.status.pod_ip, "10.0.0.7");
//! ```

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// Treats JSON `null` as the type's default (the API server writes `null`
/// for some empty lists and maps).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `metadata` of an object.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectMeta {
    /// The name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// The namespace (empty for nodes).
    #[serde(deserialize_with = "null_default")]
    pub namespace: String,
    /// The UID.
    #[serde(deserialize_with = "null_default")]
    pub uid: String,
    /// Labels.
    #[serde(deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(deserialize_with = "null_default")]
    pub annotations: BTreeMap<String, String>,
    /// Owners (a ReplicaSet, a StatefulSet...).
    #[serde(deserialize_with = "null_default")]
    pub owner_references: Vec<OwnerReference>,
}

/// One entry of `metadata.ownerReferences`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OwnerReference {
    /// The owner's kind.
    #[serde(deserialize_with = "null_default")]
    pub kind: String,
    /// The owner's name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// True for the managing controller.
    #[serde(deserialize_with = "null_default")]
    pub controller: bool,
}

/// A pod.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Pod {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: PodSpec,
    /// Status.
    pub status: PodStatus,
}

/// `spec` of a pod.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodSpec {
    /// The node the pod is scheduled on.
    #[serde(deserialize_with = "null_default")]
    pub node_name: String,
    /// The containers.
    #[serde(deserialize_with = "null_default")]
    pub containers: Vec<Container>,
    /// The init containers.
    #[serde(deserialize_with = "null_default")]
    pub init_containers: Vec<Container>,
}

/// A container of a pod spec.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Container {
    /// The name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// The image.
    #[serde(deserialize_with = "null_default")]
    pub image: String,
    /// The declared ports.
    #[serde(deserialize_with = "null_default")]
    pub ports: Vec<ContainerPort>,
}

/// A declared container port.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerPort {
    /// The port's name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// The port number.
    pub container_port: u32,
    /// `TCP`, `UDP` or `SCTP`.
    #[serde(deserialize_with = "null_default")]
    pub protocol: String,
}

/// `status` of a pod.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodStatus {
    /// `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    #[serde(deserialize_with = "null_default")]
    pub phase: String,
    /// The pod's IP address (empty until it has one).
    #[serde(rename = "podIP", deserialize_with = "null_default")]
    pub pod_ip: String,
    /// The node's IP address.
    #[serde(rename = "hostIP", deserialize_with = "null_default")]
    pub host_ip: String,
    /// Conditions (`Ready`...).
    #[serde(deserialize_with = "null_default")]
    pub conditions: Vec<Condition>,
    /// Container statuses (for the container IDs).
    #[serde(deserialize_with = "null_default")]
    pub container_statuses: Vec<ContainerStatus>,
    /// Init container statuses.
    #[serde(deserialize_with = "null_default")]
    pub init_container_statuses: Vec<ContainerStatus>,
}

/// A pod condition.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Condition {
    /// The condition, e.g. `Ready`.
    #[serde(rename = "type", deserialize_with = "null_default")]
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    #[serde(deserialize_with = "null_default")]
    pub status: String,
}

/// A container status.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerStatus {
    /// The container's name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// `<runtime>://<id>`.
    #[serde(rename = "containerID", deserialize_with = "null_default")]
    pub container_id: String,
}

/// A service.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Service {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: ServiceSpec,
    /// Status.
    pub status: ServiceStatus,
}

/// `spec` of a service.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServiceSpec {
    /// `ClusterIP`, `NodePort`, `LoadBalancer` or `ExternalName`.
    #[serde(rename = "type", deserialize_with = "null_default")]
    pub kind: String,
    /// The cluster IP (`None` for headless services).
    #[serde(rename = "clusterIP", deserialize_with = "null_default")]
    pub cluster_ip: String,
    /// The DNS name of an `ExternalName` service.
    #[serde(deserialize_with = "null_default")]
    pub external_name: String,
    /// The ports.
    #[serde(deserialize_with = "null_default")]
    pub ports: Vec<ServicePort>,
}

/// A service port.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ServicePort {
    /// The port's name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// The port number.
    pub port: u32,
    /// `TCP`, `UDP` or `SCTP`.
    #[serde(deserialize_with = "null_default")]
    pub protocol: String,
}

/// `status` of a service.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServiceStatus {
    /// The load balancer's ingress points.
    pub load_balancer: LoadBalancerStatus,
}

/// `status.loadBalancer` of a service.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LoadBalancerStatus {
    /// The ingress points.
    #[serde(deserialize_with = "null_default")]
    pub ingress: Vec<LoadBalancerIngress>,
}

/// One load balancer ingress point.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LoadBalancerIngress {
    /// Its IP address.
    #[serde(deserialize_with = "null_default")]
    pub ip: String,
}

/// An `Endpoints` object.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Endpoints {
    /// Metadata (the service's name and namespace).
    pub metadata: ObjectMeta,
    /// The address sets.
    #[serde(deserialize_with = "null_default")]
    pub subsets: Vec<EndpointSubset>,
}

/// A set of addresses sharing ports.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EndpointSubset {
    /// Ready addresses.
    #[serde(deserialize_with = "null_default")]
    pub addresses: Vec<EndpointAddress>,
    /// Addresses not ready yet.
    #[serde(deserialize_with = "null_default")]
    pub not_ready_addresses: Vec<EndpointAddress>,
    /// The ports.
    #[serde(deserialize_with = "null_default")]
    pub ports: Vec<ServicePort>,
}

/// One endpoint address.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EndpointAddress {
    /// The IP address.
    #[serde(deserialize_with = "null_default")]
    pub ip: String,
    /// The host name.
    #[serde(deserialize_with = "null_default")]
    pub hostname: String,
    /// The node hosting it.
    #[serde(deserialize_with = "null_default")]
    pub node_name: String,
    /// The object behind it (usually a pod).
    pub target_ref: Option<ObjectReference>,
}

/// A reference to an object.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ObjectReference {
    /// Its kind.
    #[serde(deserialize_with = "null_default")]
    pub kind: String,
    /// Its name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Its namespace.
    #[serde(deserialize_with = "null_default")]
    pub namespace: String,
}

/// A node.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Node {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: NodeSpec,
    /// Status.
    pub status: NodeStatus,
}

/// `spec` of a node.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NodeSpec {
    /// The cloud provider's ID of the machine.
    #[serde(rename = "providerID", deserialize_with = "null_default")]
    pub provider_id: String,
}

/// `status` of a node.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NodeStatus {
    /// The addresses (`InternalIP`, `ExternalIP`, `Hostname`...).
    #[serde(deserialize_with = "null_default")]
    pub addresses: Vec<NodeAddress>,
    /// The kubelet's endpoint.
    pub daemon_endpoints: DaemonEndpoints,
}

/// A node address.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NodeAddress {
    /// Its type.
    #[serde(rename = "type", deserialize_with = "null_default")]
    pub kind: String,
    /// The address.
    #[serde(deserialize_with = "null_default")]
    pub address: String,
}

/// `status.daemonEndpoints` of a node.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DaemonEndpoints {
    /// The kubelet's port.
    pub kubelet_endpoint: KubeletEndpoint,
}

/// The kubelet's endpoint.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct KubeletEndpoint {
    /// The port (`Port` in the API).
    pub port: u32,
}

/// An `EndpointSlice` (discovery.k8s.io/v1).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EndpointSlice {
    /// Metadata (the `kubernetes.io/service-name` label names the service).
    pub metadata: ObjectMeta,
    /// `IPv4`, `IPv6` or `FQDN`.
    #[serde(deserialize_with = "null_default")]
    pub address_type: String,
    /// The endpoints.
    #[serde(deserialize_with = "null_default")]
    pub endpoints: Vec<SliceEndpoint>,
    /// The ports.
    #[serde(deserialize_with = "null_default")]
    pub ports: Vec<SlicePort>,
}

/// One endpoint of a slice.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SliceEndpoint {
    /// Its addresses (discovery uses the first).
    #[serde(deserialize_with = "null_default")]
    pub addresses: Vec<String>,
    /// Ready, serving, terminating.
    pub conditions: SliceConditions,
    /// The host name.
    #[serde(deserialize_with = "null_default")]
    pub hostname: String,
    /// The node hosting it.
    #[serde(deserialize_with = "null_default")]
    pub node_name: String,
    /// The zone.
    #[serde(deserialize_with = "null_default")]
    pub zone: String,
    /// The object behind it (usually a pod).
    pub target_ref: Option<ObjectReference>,
    /// Topology labels (deprecated by Kubernetes, still read by Prometheus).
    #[serde(deserialize_with = "null_default")]
    pub deprecated_topology: BTreeMap<String, String>,
}

/// `conditions` of a slice endpoint; absent means unknown.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SliceConditions {
    /// Ready for traffic.
    pub ready: Option<bool>,
    /// Serving (even while terminating).
    pub serving: Option<bool>,
    /// Terminating.
    pub terminating: Option<bool>,
}

/// A port of a slice.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SlicePort {
    /// The port's name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// The port number (absent: all ports).
    pub port: Option<u32>,
    /// `TCP`, `UDP` or `SCTP`.
    #[serde(deserialize_with = "null_default")]
    pub protocol: String,
    /// The application protocol.
    #[serde(deserialize_with = "null_default")]
    pub app_protocol: String,
}

/// An `Ingress` (networking.k8s.io/v1).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Ingress {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: IngressSpec,
}

/// `spec` of an ingress.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct IngressSpec {
    /// The ingress class.
    #[serde(deserialize_with = "null_default")]
    pub ingress_class_name: String,
    /// The rules.
    #[serde(deserialize_with = "null_default")]
    pub rules: Vec<IngressRule>,
    /// The TLS sections (the hosts served over HTTPS).
    #[serde(deserialize_with = "null_default")]
    pub tls: Vec<IngressTls>,
}

/// One ingress rule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct IngressRule {
    /// The host (may hold a leading `*.` wildcard).
    #[serde(deserialize_with = "null_default")]
    pub host: String,
    /// The HTTP paths.
    pub http: Option<IngressHttp>,
}

/// `http` of an ingress rule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct IngressHttp {
    /// The paths.
    #[serde(deserialize_with = "null_default")]
    pub paths: Vec<IngressPath>,
}

/// One path of an ingress rule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct IngressPath {
    /// The path (empty means `/`).
    #[serde(deserialize_with = "null_default")]
    pub path: String,
}

/// One TLS section of an ingress.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct IngressTls {
    /// The hosts it covers.
    #[serde(deserialize_with = "null_default")]
    pub hosts: Vec<String>,
}

/// A namespace (only its metadata is read).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Namespace {
    /// Metadata.
    pub metadata: ObjectMeta,
}
