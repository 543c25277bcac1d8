//! `kubernetes_sd_configs` against a fake Kubernetes API server.
//!
//! No Kubernetes cluster can run where these tests run, so a small axum
//! server plays the API server: it answers `GET /api/v1/<resource>` and
//! `GET /api/v1/namespaces/<ns>/<resource>` with the lists of
//! `k8s_fixtures.rs` (shaped like `kubectl get ... -o json`), filters them by
//! namespace and `labelSelector`, pages them with `continue` tokens, and
//! refuses requests without the bearer token. Everything on the Argus side
//! (client, decoding, target groups, the scrape manager) is the real code.

use crate::common::{get, VecFactory};
use crate::k8s_fixtures::{fake_api, TOKEN};
use argus_ingest::scrape::kubernetes::{self, api::Api, KubernetesSdConfig};
use argus_ingest::scrape::{Health, ScrapeConfig, ScrapeManager, TargetGroup};
use argus_model::SystemClock;
use axum::routing::get as route_get;
use axum::Router;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Validates one `kubernetes_sd_configs` entry (through a job) and discovers once.
async fn discover(yaml: &str) -> Result<Vec<TargetGroup>, String> {
    let indented = yaml.replace('\n', "\n    ");
    let job = format!("job_name: k\nkubernetes_sd_configs:\n  - {indented}\n");
    let cfg: ScrapeConfig = serde_saphyr::from_str(&job).map_err(|e| e.to_string())?;
    cfg.validate().map_err(|e| e.to_string())?;
    let sd: &KubernetesSdConfig = &cfg.kubernetes_sd_configs[0];
    let api = Api::new(sd).map_err(|e| e.to_string())?;
    kubernetes::discover(&api, sd)
        .await
        .map_err(|e| e.to_string())
}

fn labels_of<'a>(
    groups: &'a [TargetGroup],
    addr: &str,
    pred: &str,
) -> &'a BTreeMap<String, String> {
    let found = groups
        .iter()
        .find(|g| g.targets == [addr] && (pred.is_empty() || g.labels.values().any(|v| v == pred)));
    &found
        .unwrap_or_else(|| panic!("no target {addr} ({pred}) in {groups:#?}"))
        .labels
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (format!("__meta_kubernetes_{k}"), v.to_string()))
        .collect()
}

fn addresses(groups: &[TargetGroup]) -> Vec<&str> {
    groups.iter().map(|g| g.targets[0].as_str()).collect()
}

#[tokio::test]
async fn pod_role_has_prometheus_meta_labels() {
    let (api, _) = fake_api(9100).await;
    let g = discover(&format!(
        "role: pod\napi_server: {api}\nbearer_token: {TOKEN}"
    ))
    .await
    .unwrap();
    // The pod without an IP has no targets; a container without ports has one
    // at the pod IP; the two coredns ports 53 (UDP, TCP) are two targets.
    assert_eq!(
        addresses(&g),
        [
            "10.244.0.3:53",
            "10.244.0.3:53",
            "10.244.0.3:9153",
            "127.0.0.1",
            "127.0.0.1",
            "127.0.0.1:8443",
            "127.0.0.1:9100",
            "127.0.0.2:9101"
        ]
    );
    let mut want = expect(&[
        ("namespace", "web"),
        ("pod_name", "web-7d9f8c6b5d-x2x7k"),
        ("pod_ip", "127.0.0.1"),
        ("pod_ready", "true"),
        ("pod_phase", "Running"),
        ("pod_node_name", "node-a"),
        ("pod_host_ip", "192.168.10.11"),
        ("pod_uid", "4f6e2b9c-1a7d-4c3e-8f21-9b0d7e6a5c41"),
        ("pod_controller_kind", "ReplicaSet"),
        ("pod_controller_name", "web-7d9f8c6b5d"),
        ("pod_label_app", "web"),
        ("pod_labelpresent_app", "true"),
        ("pod_label_app_kubernetes_io_name", "web"),
        ("pod_labelpresent_app_kubernetes_io_name", "true"),
        ("pod_label_pod_template_hash", "7d9f8c6b5d"),
        ("pod_labelpresent_pod_template_hash", "true"),
        ("pod_annotation_prometheus_io_scrape", "true"),
        ("pod_annotationpresent_prometheus_io_scrape", "true"),
        ("pod_annotation_prometheus_io_port", "9100"),
        ("pod_annotationpresent_prometheus_io_port", "true"),
        ("pod_container_name", "web"),
        ("pod_container_image", "registry.example/web:1.4.2"),
        ("pod_container_id", "containerd://7c1e0d4b2a"),
        ("pod_container_init", "false"),
        ("pod_container_port_name", "http-metrics"),
        ("pod_container_port_number", "9100"),
        ("pod_container_port_protocol", "TCP"),
    ]);
    assert_eq!(labels_of(&g, "127.0.0.1:9100", ""), &want);
    // The init container, without ports.
    for k in ["port_name", "port_number", "port_protocol"] {
        want.remove(&format!("__meta_kubernetes_pod_container_{k}"));
    }
    want.extend(expect(&[
        ("pod_container_name", "migrate"),
        ("pod_container_image", "busybox:1.36"),
        ("pod_container_id", "containerd://5e5e5e5e5e"),
        ("pod_container_init", "true"),
    ]));
    assert_eq!(labels_of(&g, "127.0.0.1", "migrate"), &want);
    let not_ready = labels_of(&g, "127.0.0.2:9101", "");
    assert_eq!(not_ready["__meta_kubernetes_pod_ready"], "false");
    let udp = labels_of(&g, "10.244.0.3:53", "UDP");
    assert_eq!(udp["__meta_kubernetes_pod_container_port_name"], "dns");
}

#[tokio::test]
async fn namespaces_selectors_and_paging_reach_the_api() {
    let (api, fake) = fake_api(9100).await;
    let g = discover(&format!(
        "role: pod\napi_server: {api}/\nauthorization: {{credentials: {TOKEN}}}\nnamespaces: {{names: [web]}}\nselectors: [{{role: pod, label: 'app=web,tier!=cache', field: 'status.phase=Running'}}]"
    ))
    .await
    .unwrap();
    assert!(g
        .iter()
        .all(|g| g.labels["__meta_kubernetes_namespace"] == "web"));
    assert_eq!(g.len(), 5, "{g:#?}");
    let seen = fake.seen.lock().clone();
    // Three matching pods, two per page: two requests.
    assert_eq!(seen.len(), 2, "{seen:?}");
    for (path, q) in &seen {
        assert_eq!(path, "/api/v1/namespaces/web/pods");
        assert_eq!(q["labelSelector"], "app=web,tier!=cache");
        assert_eq!(q["fieldSelector"], "status.phase=Running");
    }
    assert_eq!(seen[1].1["continue"], "2");
    let g = discover(&format!(
        "role: pod\napi_server: {api}\nbearer_token: {TOKEN}\nselectors: [{{role: pod, label: 'k8s-app=kube-dns'}}]"
    ))
    .await
    .unwrap();
    assert_eq!(
        addresses(&g),
        ["10.244.0.3:53", "10.244.0.3:53", "10.244.0.3:9153"]
    );
}

#[tokio::test]
async fn service_role() {
    let (api, fake) = fake_api(9100).await;
    let g = discover(&format!(
        "role: service\napi_server: {api}\nbearer_token: {TOKEN}"
    ))
    .await
    .unwrap();
    assert_eq!(
        addresses(&g),
        [
            "kube-dns.kube-system.svc:9153",
            "web.web.svc:443",
            "web.web.svc:9100"
        ]
    );
    let want = expect(&[
        ("namespace", "web"),
        ("service_name", "web"),
        ("service_label_app", "web"),
        ("service_labelpresent_app", "true"),
        ("service_annotation_prometheus_io_probe", "true"),
        ("service_annotationpresent_prometheus_io_probe", "true"),
        ("service_port_name", "http-metrics"),
        ("service_port_number", "9100"),
        ("service_port_protocol", "TCP"),
        ("service_type", "ClusterIP"),
        ("service_cluster_ip", "10.96.12.34"),
    ]);
    assert_eq!(labels_of(&g, "web.web.svc:9100", ""), &want);
    assert_eq!(fake.seen.lock()[0].0, "/api/v1/services");
}

#[tokio::test]
async fn endpoints_role_joins_pods_and_services() {
    let (api, _) = fake_api(9100).await;
    let g = discover(&format!(
        "role: endpoints\napi_server: {api}\nbearer_token: {TOKEN}\nnamespaces: {{names: [web]}}"
    ))
    .await
    .unwrap();
    // Two addresses, then the pods' container ports no endpoint covers.
    assert_eq!(
        addresses(&g),
        [
            "127.0.0.1:8443",
            "127.0.0.1:9100",
            "127.0.0.2:9100",
            "127.0.0.2:9101"
        ]
    );
    let ready = labels_of(&g, "127.0.0.1:9100", "");
    for (k, v) in expect(&[
        ("namespace", "web"),
        ("endpoints_name", "web"),
        ("endpoints_label_app", "web"),
        ("endpoint_ready", "true"),
        ("endpoint_port_name", "http-metrics"),
        ("endpoint_port_protocol", "TCP"),
        ("endpoint_node_name", "node-a"),
        ("endpoint_address_target_kind", "Pod"),
        ("endpoint_address_target_name", "web-7d9f8c6b5d-x2x7k"),
        ("service_name", "web"),
        ("service_label_app", "web"),
        ("pod_name", "web-7d9f8c6b5d-x2x7k"),
        ("pod_label_app", "web"),
        ("pod_container_name", "web"),
        ("pod_container_port_name", "http-metrics"),
        ("pod_container_port_number", "9100"),
    ]) {
        assert_eq!(ready.get(&k), Some(&v), "{k} in {ready:#?}");
    }
    let not_ready = labels_of(&g, "127.0.0.2:9100", "");
    assert_eq!(not_ready["__meta_kubernetes_endpoint_ready"], "false");
    assert_eq!(not_ready["__meta_kubernetes_pod_ready"], "false");
    assert!(!not_ready.contains_key("__meta_kubernetes_pod_container_name"));
    let extra = labels_of(&g, "127.0.0.1:8443", "");
    assert_eq!(extra["__meta_kubernetes_pod_container_port_name"], "https");
    assert!(!extra.contains_key("__meta_kubernetes_endpoint_ready"));
}

#[tokio::test]
async fn endpointslice_role_joins_pods_and_services() {
    let (api, fake) = fake_api(9100).await;
    let g = discover(&format!(
        "role: endpointslice\napi_server: {api}\nbearer_token: {TOKEN}\nnamespaces: {{names: [web]}}"
    ))
    .await
    .unwrap();
    assert_eq!(
        addresses(&g),
        [
            "127.0.0.1:8443",
            "127.0.0.1:9100",
            "127.0.0.2:9100",
            "127.0.0.2:9101"
        ]
    );
    let ready = labels_of(&g, "127.0.0.1:9100", "");
    for (k, v) in expect(&[
        ("namespace", "web"),
        ("endpointslice_name", "web-7xk2p"),
        ("endpointslice_label_kubernetes_io_service_name", "web"),
        ("endpointslice_address_type", "IPv4"),
        ("endpointslice_port", "9100"),
        ("endpointslice_port_name", "http-metrics"),
        ("endpointslice_port_protocol", "TCP"),
        ("endpointslice_endpoint_conditions_ready", "true"),
        ("endpointslice_endpoint_conditions_serving", "true"),
        ("endpointslice_endpoint_conditions_terminating", "false"),
        ("endpointslice_endpoint_node_name", "node-a"),
        ("endpointslice_endpoint_zone", "eu-west-1a"),
        ("endpointslice_address_target_kind", "Pod"),
        ("endpointslice_address_target_name", "web-7d9f8c6b5d-x2x7k"),
        ("service_name", "web"),
        ("pod_name", "web-7d9f8c6b5d-x2x7k"),
        ("pod_container_port_name", "http-metrics"),
    ]) {
        assert_eq!(ready.get(&k), Some(&v), "{k} in {ready:#?}");
    }
    let not_ready = labels_of(&g, "127.0.0.2:9100", "");
    assert_eq!(
        not_ready["__meta_kubernetes_endpointslice_endpoint_conditions_ready"],
        "false"
    );
    let seen = fake.seen.lock().clone();
    assert_eq!(
        seen[0].0,
        "/apis/discovery.k8s.io/v1/namespaces/web/endpointslices"
    );
}

#[tokio::test]
async fn ingress_role() {
    let (api, fake) = fake_api(9100).await;
    let g = discover(&format!(
        "role: ingress\napi_server: {api}\nbearer_token: {TOKEN}"
    ))
    .await
    .unwrap();
    assert_eq!(
        addresses(&g),
        ["shop.example.com", "shop.example.com", "web.internal"]
    );
    let want = expect(&[
        ("namespace", "web"),
        ("ingress_name", "web"),
        ("ingress_label_app", "web"),
        ("ingress_labelpresent_app", "true"),
        (
            "ingress_annotation_nginx_ingress_kubernetes_io_rewrite_target",
            "/",
        ),
        (
            "ingress_annotationpresent_nginx_ingress_kubernetes_io_rewrite_target",
            "true",
        ),
        ("ingress_class_name", "nginx"),
        ("ingress_scheme", "https"),
        ("ingress_host", "shop.example.com"),
        ("ingress_path", "/api"),
    ]);
    assert_eq!(labels_of(&g, "shop.example.com", "/api"), &want);
    let plain = labels_of(&g, "web.internal", "");
    assert_eq!(plain["__meta_kubernetes_ingress_scheme"], "http");
    assert_eq!(plain["__meta_kubernetes_ingress_path"], "/");
    assert_eq!(
        fake.seen.lock()[0].0,
        "/apis/networking.k8s.io/v1/ingresses"
    );
}

#[tokio::test]
async fn node_role() {
    let (api, fake) = fake_api(9100).await;
    let g = discover(&format!(
        "role: node\napi_server: {api}\nbearer_token: {TOKEN}"
    ))
    .await
    .unwrap();
    assert_eq!(
        addresses(&g),
        ["192.168.10.11:10250", "192.168.10.12:10250"]
    );
    let mut want = expect(&[
        ("node_name", "node-a"),
        ("node_provider_id", "kind://docker/kind/node-a"),
        ("node_label_beta_kubernetes_io_arch", "amd64"),
        ("node_labelpresent_beta_kubernetes_io_arch", "true"),
        ("node_label_kubernetes_io_hostname", "node-a"),
        ("node_labelpresent_kubernetes_io_hostname", "true"),
        (
            "node_labelpresent_node_role_kubernetes_io_control_plane",
            "true",
        ),
        ("node_annotation_node_alpha_kubernetes_io_ttl", "0"),
        (
            "node_annotationpresent_node_alpha_kubernetes_io_ttl",
            "true",
        ),
        (
            "node_annotation_volumes_kubernetes_io_controller_managed_attach_detach",
            "true",
        ),
        (
            "node_annotationpresent_volumes_kubernetes_io_controller_managed_attach_detach",
            "true",
        ),
        ("node_address_InternalIP", "192.168.10.11"),
        ("node_address_Hostname", "node-a"),
    ]);
    want.insert("instance".into(), "node-a".into());
    assert_eq!(labels_of(&g, "192.168.10.11:10250", ""), &want);
    let b = labels_of(&g, "192.168.10.12:10250", "");
    assert_eq!(
        b["__meta_kubernetes_node_address_ExternalIP"],
        "203.0.113.7"
    );
    assert_eq!(fake.seen.lock()[0].0, "/api/v1/nodes");
}

#[tokio::test]
async fn attach_metadata_adds_node_and_namespace_labels() {
    let (api, _) = fake_api(9100).await;
    let g = discover(&format!(
        "role: pod\napi_server: {api}\nbearer_token: {TOKEN}\nattach_metadata: {{node: true, namespace: true}}"
    ))
    .await
    .unwrap();
    let l = labels_of(&g, "127.0.0.1:9100", "");
    assert_eq!(l["__meta_kubernetes_node_name"], "node-a");
    assert_eq!(
        l["__meta_kubernetes_node_label_kubernetes_io_hostname"],
        "node-a"
    );
    assert_eq!(l["__meta_kubernetes_namespace_label_tenant"], "shop");
    assert_eq!(l["__meta_kubernetes_namespace_labelpresent_tenant"], "true");
    assert_eq!(
        l["__meta_kubernetes_namespace_annotation_owner_example_com_team"],
        "shop"
    );
    let dns = labels_of(&g, "10.244.0.3:9153", "");
    assert!(!dns.contains_key("__meta_kubernetes_namespace_label_tenant"));
    assert_eq!(
        dns["__meta_kubernetes_namespace_label_kubernetes_io_metadata_name"],
        "kube-system"
    );
}

#[tokio::test]
async fn kubeconfig_file_gives_the_server_credentials_and_own_namespace() {
    let (api, fake) = fake_api(9100).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
    let kubeconfig = dir.path().join("config");
    let write = |user: &str| {
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: shop\npreferences: {{}}\n\
             clusters:\n- name: dev\n  cluster:\n    server: {api}\n\
             contexts:\n- name: shop\n  context:\n    cluster: dev\n    user: robot\n    namespace: web\n\
             users:\n- name: robot\n  user:\n{user}"
        );
        std::fs::write(&kubeconfig, text).unwrap();
    };
    // A relative tokenFile is read next to the kubeconfig.
    write("    tokenFile: token\n");
    let sd = format!(
        "role: pod\nkubeconfig_file: {}\nnamespaces: {{own_namespace: true}}",
        kubeconfig.display()
    );
    let g = discover(&sd).await.unwrap();
    assert_eq!(g.len(), 5, "{g:#?}");
    assert_eq!(fake.seen.lock()[0].0, "/api/v1/namespaces/web/pods");
    write("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n");
    let e = discover(&sd).await.unwrap_err();
    assert!(e.contains("kubeconfig_file: user \"robot\": exec"), "{e}");
}

#[tokio::test]
async fn a_bad_token_or_odd_json_fails_without_panicking() {
    let (api, fake) = fake_api(9100).await;
    let e = discover(&format!(
        "role: pod\napi_server: {api}\nbearer_token: wrong"
    ))
    .await
    .unwrap_err();
    assert!(
        e.contains("HTTP status 401") && e.contains("Unauthorized"),
        "{e}"
    );
    let pod_yaml = format!("role: pod\napi_server: {api}\nbearer_token: {TOKEN}");
    // One object of the wrong shape is skipped; the others are kept.
    fake.lists.lock().insert(
        "pods".into(),
        r#"{"kind":"PodList","items":[
            {"metadata":{"name":"bad","namespace":"x"},"spec":{"containers":[{"name":"c","ports":[{"containerPort":"http"}]}]},"status":{"podIP":"10.0.0.1"}},
            {"metadata":{"name":"ok","namespace":"x","labels":null},"spec":{"containers":[{"name":"c","ports":null}]},"status":{"podIP":"10.0.0.2","conditions":null}},
            42, null]}"#
            .into(),
    );
    let g = discover(&pod_yaml).await.unwrap();
    assert_eq!(addresses(&g), ["10.0.0.2"]);
    fake.lists
        .lock()
        .insert("pods".into(), r#"{"items":null}"#.into());
    assert!(discover(&pod_yaml).await.unwrap().is_empty());
    for broken in ["<html>oops</html>", r#"{"items":"x"}"#, "[1,2]"] {
        fake.lists.lock().insert("pods".into(), broken.into());
        let e = discover(&pod_yaml).await.unwrap_err();
        assert!(e.contains("not a Kubernetes object list"), "{e}");
    }
}

#[test]
fn bad_configs_are_refused_naming_the_key() {
    let check = |sd: &str, want: &str| {
        let yaml = format!("job_name: k\nkubernetes_sd_configs:\n  - {sd}\n");
        let e = match serde_saphyr::from_str::<ScrapeConfig>(&yaml) {
            Ok(c) => c.validate().unwrap_err().to_string(),
            Err(e) => e.to_string(),
        };
        assert!(e.contains(want), "{sd}: {e}");
    };
    check(
        "{role: pods, api_server: 'http://k:6443'}",
        "kubernetes_sd_configs: role \"pods\" is unknown",
    );
    check(
        "{role: pod, kubeconfig_file: /root/.kube/config, api_server: 'http://k'}",
        "cannot use 'kubeconfig_file' and 'api_server' simultaneously",
    );
    check(
        "{role: pod, kubeconfig_file: /root/.kube/config, bearer_token: x}",
        "custom HTTP client configuration together with 'kubeconfig_file'",
    );
    check(
        "{role: pod, bearer_token: x}",
        "please provide the 'api_server' URL explicitly",
    );
    check(
        "{role: service, api_server: 'http://k', selectors: [{role: pod, label: a=b}]}",
        "role service supports only service selectors",
    );
    check(
        "{role: pod, api_server: 'ftp://k'}",
        "must be http or https",
    );
    check("{role: pod, api_servr: 'http://k'}", "api_servr");
    // In-cluster: no api_server and no client keys is a valid configuration.
    let ok: ScrapeConfig =
        serde_saphyr::from_str("job_name: k\nkubernetes_sd_configs: [{role: node}]\n").unwrap();
    ok.validate().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annotated_pods_are_scraped_through_relabeling() {
    let metrics = Router::new().route("/metrics", route_get(|| async { "m 1\n" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, metrics).await;
    });
    let (api, fake) = fake_api(port).await;
    let factory = VecFactory::default();
    let recs = factory.0.clone();
    let m = ScrapeManager::new(Arc::new(factory), Arc::new(SystemClock)).unwrap();
    let cfg: ScrapeConfig = serde_saphyr::from_str(&format!(
        r#"job_name: kubernetes-pods
scrape_interval: 100ms
kubernetes_sd_configs:
  - role: pod
    api_server: {api}
    bearer_token: {TOKEN}
    refresh_interval: 100ms
relabel_configs:
  - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
    action: keep
    regex: "true"
  - source_labels: [__meta_kubernetes_pod_container_port_name]
    action: keep
    regex: http-metrics
  - source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
    regex: '([^:]+)(?::\d+)?;(\d+)'
    replacement: $1:$2
    target_label: __address__
  - action: labelmap
    regex: __meta_kubernetes_pod_label_(.+)
  - source_labels: [__meta_kubernetes_namespace]
    target_label: namespace
  - source_labels: [__meta_kubernetes_pod_name]
    target_label: pod
"#
    ))
    .unwrap();
    m.apply(vec![cfg]).unwrap();
    let mut up = None;
    for _ in 0..500 {
        if let Some(t) = m.targets().into_iter().find(|t| t.health == Health::Up) {
            up = Some(t);
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let t = up.expect("the annotated pod was never scraped");
    assert_eq!(m.targets().len(), 1, "{:#?}", m.targets());
    assert_eq!(t.scrape_url, format!("http://127.0.0.1:{port}/metrics"));
    for (k, v) in [
        ("namespace", "web"),
        ("pod", "web-7d9f8c6b5d-x2x7k"),
        ("app", "web"),
        ("app_kubernetes_io_name", "web"),
        ("job", "kubernetes-pods"),
    ] {
        assert_eq!(t.labels.get(k), Some(v), "{k}");
    }
    assert!(recs
        .lock()
        .iter()
        .any(|r| get(r, "__name__") == Some("m") && get(r, "pod") == Some("web-7d9f8c6b5d-x2x7k")));
    // The API server fails: the target stays.
    *fake.status.lock() = 500;
    let failed = || {
        m.discovery_errors()
            .get("kubernetes-pods")
            .is_some_and(|e| e.iter().any(|e| e.contains("HTTP status 500")))
    };
    for _ in 0..500 {
        if failed() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(failed());
    assert_eq!(m.targets().len(), 1);
    // The pod goes away: so does the target.
    *fake.status.lock() = 200;
    fake.lists
        .lock()
        .insert("pods".into(), r#"{"kind":"PodList","items":[]}"#.into());
    for _ in 0..500 {
        if m.targets().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(m.targets().is_empty());
    m.shutdown().await;
}
