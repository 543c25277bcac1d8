//! A fake Kubernetes API server for the `kubernetes_sd_configs` tests (no
//! cluster can run where they run), and its answers, shaped like
//! `kubectl get pods -o json` (and services, endpoints, nodes) of a small
//! cluster. `METRICS_PORT` is replaced by the port of the test's target.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Router;
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

pub const TOKEN: &str = "k8s-token";
/// Objects per page the fake server answers, whatever `limit` asks.
const PAGE: usize = 2;

/// A request the fake server got: its path and query parameters.
pub type Request = (String, HashMap<String, String>);

#[derive(Clone)]
pub struct Fake {
    pub lists: Arc<Mutex<HashMap<String, String>>>,
    pub status: Arc<Mutex<u16>>,
    pub seen: Arc<Mutex<Vec<Request>>>,
}

fn k8s_status(code: u16, reason: &str) -> String {
    format!(
        r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"{reason}","reason":"{reason}","code":{code}}}"#
    )
}

/// `a=b`, `a==b`, `a!=b`, `a` and `!a` terms, comma-separated.
fn selector_matches(sel: &str, labels: &serde_json::Map<String, Value>) -> bool {
    sel.split(',').filter(|t| !t.is_empty()).all(|t| {
        let val = |k: &str| labels.get(k.trim()).and_then(|v| v.as_str());
        if let Some((k, v)) = t.split_once("!=") {
            val(k) != Some(v.trim())
        } else if let Some((k, v)) = t.split_once('=') {
            val(k) == Some(v.trim_start_matches('=').trim())
        } else if let Some(k) = t.strip_prefix('!') {
            val(k).is_none()
        } else {
            val(t).is_some()
        }
    })
}

fn answer(
    f: &Fake,
    uri: &Uri,
    headers: &HeaderMap,
    q: HashMap<String, String>,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    let path = uri.path().to_string();
    let rest = path
        .strip_prefix("/api/v1/")
        .or_else(|| path.strip_prefix("/apis/discovery.k8s.io/v1/"))
        .or_else(|| path.strip_prefix("/apis/networking.k8s.io/v1/"))
        .unwrap_or("");
    let (ns, resource) = match rest.strip_prefix("namespaces/") {
        Some(r) => match r.split_once('/') {
            Some((ns, res)) => (Some(ns.to_string()), res.to_string()),
            None => (None, String::new()),
        },
        None => (None, rest.to_string()),
    };
    f.seen.lock().push((path, q.clone()));
    let json = [("content-type", "application/json")];
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Bearer {TOKEN}")) {
        return (
            StatusCode::UNAUTHORIZED,
            json,
            k8s_status(401, "Unauthorized"),
        );
    }
    let status = *f.status.lock();
    if status != 200 {
        let code = StatusCode::from_u16(status).unwrap();
        return (code, json, k8s_status(status, "InternalError"));
    }
    let Some(text) = f.lists.lock().get(&resource).cloned() else {
        return (StatusCode::NOT_FOUND, json, k8s_status(404, "NotFound"));
    };
    let Ok(mut list) = serde_json::from_str::<Value>(&text) else {
        return (StatusCode::OK, json, text); // Deliberately broken answers.
    };
    let Some(items) = list.get("items").and_then(|i| i.as_array()).cloned() else {
        return (StatusCode::OK, json, text);
    };
    let empty = serde_json::Map::new();
    let kept: Vec<Value> = items
        .into_iter()
        .filter(|i| {
            let meta = i.get("metadata");
            let item_ns = meta
                .and_then(|m| m.get("namespace"))
                .and_then(|n| n.as_str());
            let labels = meta
                .and_then(|m| m.get("labels"))
                .and_then(|l| l.as_object())
                .unwrap_or(&empty);
            ns.as_deref().is_none_or(|n| item_ns == Some(n))
                && q.get("labelSelector")
                    .is_none_or(|s| selector_matches(s, labels))
        })
        .collect();
    let from: usize = q.get("continue").and_then(|c| c.parse().ok()).unwrap_or(0);
    let page: Vec<Value> = kept.iter().skip(from).take(PAGE).cloned().collect();
    let next = if from + PAGE < kept.len() {
        (from + PAGE).to_string()
    } else {
        String::new()
    };
    list["items"] = Value::Array(page);
    list["metadata"] = serde_json::json!({"resourceVersion": "918300", "continue": next});
    (StatusCode::OK, json, list.to_string())
}

/// Starts the fake API server with the fixtures, `METRICS_PORT` replaced.
pub async fn fake_api(metrics_port: u16) -> (String, Fake) {
    let port = metrics_port.to_string();
    let lists = [
        ("pods", PODS),
        ("services", SERVICES),
        ("endpoints", ENDPOINTS),
        ("nodes", NODES),
        ("endpointslices", ENDPOINT_SLICES),
        ("ingresses", INGRESSES),
        ("namespaces", NAMESPACES),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.replace("METRICS_PORT", &port)))
    .collect();
    let fake = Fake {
        lists: Arc::new(Mutex::new(lists)),
        status: Arc::new(Mutex::new(200)),
        seen: Arc::new(Mutex::new(Vec::new())),
    };
    let app = Router::new()
        .fallback(
            |State(f): State<Fake>, uri: Uri, h: HeaderMap, Query(q)| async move {
                answer(&f, &uri, &h, q)
            },
        )
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), fake)
}

/// Pods: two `web` replicas (one annotated for scraping, with a sidecar and
/// an init container), a `web` pod without an IP yet, a `kube-system` pod.
pub const PODS: &str = r#"{
  "apiVersion": "v1",
  "kind": "List",
  "metadata": {"resourceVersion": ""},
  "items": [
    {
      "apiVersion": "v1",
      "kind": "Pod",
      "metadata": {
        "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "METRICS_PORT"},
        "creationTimestamp": "2026-11-30T09:12:44Z",
        "generateName": "web-7d9f8c6b5d-",
        "labels": {"app.kubernetes.io/name": "web", "app": "web", "pod-template-hash": "7d9f8c6b5d"},
        "name": "web-7d9f8c6b5d-x2x7k",
        "namespace": "web",
        "ownerReferences": [
          {"apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true,
           "kind": "ReplicaSet", "name": "web-7d9f8c6b5d", "uid": "0d1c9a8e-6a4e-4a55-9d43-5b1f8e2f6a10"}
        ],
        "resourceVersion": "918273",
        "uid": "4f6e2b9c-1a7d-4c3e-8f21-9b0d7e6a5c41"
      },
      "spec": {
        "containers": [
          {
            "image": "registry.example/web:1.4.2",
            "imagePullPolicy": "IfNotPresent",
            "name": "web",
            "ports": [
              {"containerPort": METRICS_PORT, "name": "http-metrics", "protocol": "TCP"},
              {"containerPort": 8443, "name": "https", "protocol": "TCP"}
            ],
            "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
            "terminationMessagePath": "/dev/termination-log",
            "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access-7xq2m", "readOnly": true}]
          },
          {"image": "registry.example/log-shipper:0.9", "name": "log-shipper", "resources": {}}
        ],
        "initContainers": [
          {"image": "busybox:1.36", "name": "migrate", "command": ["sh", "-c", "true"]}
        ],
        "dnsPolicy": "ClusterFirst",
        "nodeName": "node-a",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "serviceAccountName": "default"
      },
      "status": {
        "conditions": [
          {"lastTransitionTime": "2026-11-30T09:12:46Z", "status": "True", "type": "Initialized"},
          {"lastTransitionTime": "2026-11-30T09:12:51Z", "status": "True", "type": "Ready"},
          {"lastTransitionTime": "2026-11-30T09:12:51Z", "status": "True", "type": "ContainersReady"},
          {"lastTransitionTime": "2026-11-30T09:12:44Z", "status": "True", "type": "PodScheduled"}
        ],
        "containerStatuses": [
          {"containerID": "containerd://7c1e0d4b2a", "image": "registry.example/web:1.4.2", "name": "web", "ready": true, "restartCount": 0, "started": true, "state": {"running": {"startedAt": "2026-11-30T09:12:47Z"}}},
          {"containerID": "containerd://99ab12cd34", "image": "registry.example/log-shipper:0.9", "name": "log-shipper", "ready": true, "restartCount": 0}
        ],
        "initContainerStatuses": [
          {"containerID": "containerd://5e5e5e5e5e", "image": "busybox:1.36", "name": "migrate", "ready": true, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
        ],
        "hostIP": "192.168.10.11",
        "hostIPs": [{"ip": "192.168.10.11"}],
        "phase": "Running",
        "podIP": "127.0.0.1",
        "podIPs": [{"ip": "127.0.0.1"}],
        "qosClass": "Burstable",
        "startTime": "2026-11-30T09:12:44Z"
      }
    },
    {
      "apiVersion": "v1",
      "kind": "Pod",
      "metadata": {
        "annotations": {"prometheus.io/scrape": "false"},
        "labels": {"app": "web", "pod-template-hash": "7d9f8c6b5d"},
        "name": "web-7d9f8c6b5d-q9wzt",
        "namespace": "web",
        "ownerReferences": [{"apiVersion": "apps/v1", "controller": true, "kind": "ReplicaSet", "name": "web-7d9f8c6b5d", "uid": "0d1c9a8e-6a4e-4a55-9d43-5b1f8e2f6a10"}],
        "uid": "a7b1c3d5-0000-4e1f-9a2b-3c4d5e6f7a8b"
      },
      "spec": {
        "containers": [
          {"image": "registry.example/web:1.4.2", "name": "web",
           "ports": [{"containerPort": 9101, "name": "http-metrics", "protocol": "TCP"}]}
        ],
        "nodeName": "node-b"
      },
      "status": {
        "conditions": [{"status": "False", "type": "Ready"}],
        "hostIP": "192.168.10.12",
        "phase": "Running",
        "podIP": "127.0.0.2"
      }
    },
    {
      "apiVersion": "v1",
      "kind": "Pod",
      "metadata": {"labels": {"app": "web"}, "name": "web-7d9f8c6b5d-pending", "namespace": "web", "uid": "b0b0b0b0-1111-2222-3333-444455556666"},
      "spec": {"containers": [{"image": "registry.example/web:1.4.2", "name": "web", "ports": [{"containerPort": 9100, "protocol": "TCP"}]}]},
      "status": {"conditions": [{"status": "False", "type": "PodScheduled", "reason": "Unschedulable"}], "phase": "Pending", "qosClass": "BestEffort"}
    },
    {
      "apiVersion": "v1",
      "kind": "Pod",
      "metadata": {
        "labels": {"k8s-app": "kube-dns"},
        "name": "coredns-5d78c9869d-abcde",
        "namespace": "kube-system",
        "ownerReferences": [{"apiVersion": "apps/v1", "controller": true, "kind": "ReplicaSet", "name": "coredns-5d78c9869d", "uid": "c0c0c0c0-0000-0000-0000-000000000001"}],
        "uid": "d1d1d1d1-0000-0000-0000-000000000002"
      },
      "spec": {
        "containers": [{"image": "registry.k8s.io/coredns/coredns:v1.11.1", "name": "coredns",
          "ports": [{"containerPort": 53, "name": "dns", "protocol": "UDP"}, {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"}, {"containerPort": 9153, "name": "metrics", "protocol": "TCP"}]}],
        "nodeName": "node-a"
      },
      "status": {"conditions": [{"status": "True", "type": "Ready"}], "hostIP": "192.168.10.11", "phase": "Running", "podIP": "10.244.0.3"}
    }
  ]
}"#;

/// Services: `web` (ClusterIP, two ports) and `kube-dns`.
pub const SERVICES: &str = r#"{
  "apiVersion": "v1",
  "kind": "List",
  "metadata": {"resourceVersion": ""},
  "items": [
    {
      "apiVersion": "v1",
      "kind": "Service",
      "metadata": {
        "annotations": {"prometheus.io/probe": "true"},
        "creationTimestamp": "2026-11-01T10:00:00Z",
        "labels": {"app": "web"},
        "name": "web",
        "namespace": "web",
        "resourceVersion": "1200",
        "uid": "e2e2e2e2-0000-0000-0000-000000000003"
      },
      "spec": {
        "clusterIP": "10.96.12.34",
        "clusterIPs": ["10.96.12.34"],
        "internalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"],
        "ports": [
          {"name": "http-metrics", "port": 9100, "protocol": "TCP", "targetPort": "http-metrics"},
          {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}
        ],
        "selector": {"app": "web"},
        "sessionAffinity": "None",
        "type": "ClusterIP"
      },
      "status": {"loadBalancer": {}}
    },
    {
      "apiVersion": "v1",
      "kind": "Service",
      "metadata": {"labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}, "name": "kube-dns", "namespace": "kube-system"},
      "spec": {"clusterIP": "10.96.0.10", "ports": [{"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}], "type": "ClusterIP"},
      "status": {"loadBalancer": {}}
    }
  ]
}"#;

/// Endpoints of the `web` service: one ready pod, one not ready.
pub const ENDPOINTS: &str = r#"{
  "apiVersion": "v1",
  "kind": "List",
  "metadata": {"resourceVersion": ""},
  "items": [
    {
      "apiVersion": "v1",
      "kind": "Endpoints",
      "metadata": {
        "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "2026-11-30T09:12:51Z"},
        "labels": {"app": "web"},
        "name": "web",
        "namespace": "web"
      },
      "subsets": [
        {
          "addresses": [
            {"ip": "127.0.0.1", "nodeName": "node-a", "targetRef": {"kind": "Pod", "name": "web-7d9f8c6b5d-x2x7k", "namespace": "web", "uid": "4f6e2b9c-1a7d-4c3e-8f21-9b0d7e6a5c41"}}
          ],
          "notReadyAddresses": [
            {"ip": "127.0.0.2", "nodeName": "node-b", "targetRef": {"kind": "Pod", "name": "web-7d9f8c6b5d-q9wzt", "namespace": "web"}}
          ],
          "ports": [{"name": "http-metrics", "port": METRICS_PORT, "protocol": "TCP"}]
        }
      ]
    }
  ]
}"#;

/// Nodes: a control-plane node and a worker with an external IP.
pub const NODES: &str = r#"{
  "apiVersion": "v1",
  "kind": "List",
  "metadata": {"resourceVersion": ""},
  "items": [
    {
      "apiVersion": "v1",
      "kind": "Node",
      "metadata": {
        "annotations": {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
        "labels": {"beta.kubernetes.io/arch": "amd64", "kubernetes.io/hostname": "node-a", "node-role.kubernetes.io/control-plane": ""},
        "name": "node-a",
        "uid": "f3f3f3f3-0000-0000-0000-000000000004"
      },
      "spec": {"podCIDR": "10.244.0.0/24", "providerID": "kind://docker/kind/node-a"},
      "status": {
        "addresses": [{"address": "192.168.10.11", "type": "InternalIP"}, {"address": "node-a", "type": "Hostname"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {"kubeletVersion": "v1.31.2", "osImage": "Debian GNU/Linux 12 (bookworm)"}
      }
    },
    {
      "apiVersion": "v1",
      "kind": "Node",
      "metadata": {"labels": {"kubernetes.io/hostname": "node-b"}, "name": "node-b"},
      "spec": {},
      "status": {
        "addresses": [{"address": "203.0.113.7", "type": "ExternalIP"}, {"address": "192.168.10.12", "type": "InternalIP"}, {"address": "node-b", "type": "Hostname"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}
      }
    }
  ]
}"#;

/// The EndpointSlice of the `web` service (what `endpoints` shows, as
/// Kubernetes 1.21+ also publishes it), with zones and conditions.
pub const ENDPOINT_SLICES: &str = r#"{
  "apiVersion": "v1",
  "kind": "List",
  "metadata": {"resourceVersion": ""},
  "items": [
    {
      "addressType": "IPv4",
      "apiVersion": "discovery.k8s.io/v1",
      "kind": "EndpointSlice",
      "metadata": {
        "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "2026-11-30T09:12:51Z"},
        "generateName": "web-",
        "labels": {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io", "kubernetes.io/service-name": "web"},
        "name": "web-7xk2p",
        "namespace": "web",
        "ownerReferences": [{"apiVersion": "v1", "blockOwnerDeletion": true, "controller": true, "kind": "Service", "name": "web", "uid": "e2e2e2e2-0000-0000-0000-000000000003"}]
      },
      "endpoints": [
        {"addresses": ["127.0.0.1"], "conditions": {"ready": true, "serving": true, "terminating": false}, "nodeName": "node-a",
         "targetRef": {"kind": "Pod", "name": "web-7d9f8c6b5d-x2x7k", "namespace": "web", "uid": "4f6e2b9c-1a7d-4c3e-8f21-9b0d7e6a5c41"}, "zone": "eu-west-1a"},
        {"addresses": ["127.0.0.2"], "conditions": {"ready": false, "serving": false, "terminating": false}, "nodeName": "node-b",
         "targetRef": {"kind": "Pod", "name": "web-7d9f8c6b5d-q9wzt", "namespace": "web"}, "zone": "eu-west-1b"}
      ],
      "ports": [{"name": "http-metrics", "port": METRICS_PORT, "protocol": "TCP"}]
    }
  ]
}"#;

/// An ingress with a TLS wildcard host, a plain host without paths, and a
/// rule without a host.
pub const INGRESSES: &str = r#"{
  "apiVersion": "v1",
  "kind": "List",
  "metadata": {"resourceVersion": ""},
  "items": [
    {
      "apiVersion": "networking.k8s.io/v1",
      "kind": "Ingress",
      "metadata": {
        "annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/"},
        "labels": {"app": "web"},
        "name": "web",
        "namespace": "web"
      },
      "spec": {
        "ingressClassName": "nginx",
        "tls": [{"hosts": ["*.example.com"], "secretName": "example-tls"}],
        "rules": [
          {"host": "shop.example.com", "http": {"paths": [
            {"backend": {"service": {"name": "web", "port": {"number": 9100}}}, "path": "/", "pathType": "Prefix"},
            {"backend": {"service": {"name": "web", "port": {"number": 9100}}}, "path": "/api", "pathType": "Prefix"}
          ]}},
          {"host": "web.internal"}
        ]
      },
      "status": {"loadBalancer": {"ingress": [{"ip": "192.168.10.50"}]}}
    }
  ]
}"#;

/// Namespaces, as `kubectl get namespaces -o json` shows them.
pub const NAMESPACES: &str = r#"{
  "apiVersion": "v1",
  "kind": "List",
  "metadata": {"resourceVersion": ""},
  "items": [
    {"apiVersion": "v1", "kind": "Namespace",
     "metadata": {"annotations": {"owner.example.com/team": "shop"}, "labels": {"kubernetes.io/metadata.name": "web", "tenant": "shop"}, "name": "web"},
     "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}},
    {"apiVersion": "v1", "kind": "Namespace",
     "metadata": {"labels": {"kubernetes.io/metadata.name": "kube-system"}, "name": "kube-system"},
     "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
  ]
}"#;
