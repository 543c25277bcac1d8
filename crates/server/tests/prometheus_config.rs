//! A Prometheus user's `prometheus.yml` loads unchanged (`argus check config`
//! semantics), and every key Argus does not implement is either accepted and
//! reported as ignored, or refused by name with the reason.

use argus_server::config::prometheus_keys::{KeyStatus, PROMETHEUS_KEYS};
use argus_server::config::Config;

const PROMETHEUS_YML: &str = r#"
# my global config
global:
  scrape_interval: 15s
  evaluation_interval: 15s
  scrape_timeout: 10s
  query_log_file: /var/log/prometheus/query.log
  external_labels:
    cluster: eu-1
    replica: a
  body_size_limit: 50MB
  sample_limit: 100000

scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["localhost:9090"]

  - job_name: node
    scheme: https
    metrics_path: /metrics
    scrape_interval: 30s
    scrape_timeout: 20s
    honor_labels: false
    honor_timestamps: true
    basic_auth:
      username: prometheus
      password_file: /etc/prometheus/node.pass
    tls_config:
      ca_file: /etc/prometheus/ca.crt
      cert_file: /etc/prometheus/client.crt
      key_file: /etc/prometheus/client.key
      server_name: node.internal
      insecure_skip_verify: false
    follow_redirects: true
    enable_http2: true
    sample_limit: 5000
    label_limit: 64
    label_name_length_limit: 128
    label_value_length_limit: 1024
    body_size_limit: 10MB
    params:
      collect[]: [cpu, meminfo]
    static_configs:
      - targets: ["node1:9100", "node2:9100"]
        labels:
          env: prod
    relabel_configs:
      - source_labels: [__address__]
        regex: "([^:]+):\\d+"
        target_label: host
        replacement: "$1"
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: "go_.*"
        action: drop

  - job_name: services
    file_sd_configs:
      - files: ["/etc/prometheus/targets/*.json", "/etc/prometheus/targets/*.yml"]
        refresh_interval: 1m
    authorization:
      credentials_file: /etc/prometheus/token
    proxy_url: http://proxy.internal:3128

  - job_name: discovered
    http_sd_configs:
      - url: https://inventory.internal/targets
        refresh_interval: 2m
        basic_auth:
          username: sd
          password: sdpass

  - job_name: dns
    dns_sd_configs:
      - names: [nodes.internal]
        type: A
        port: 9100

  - job_name: blackbox
    metrics_path: /probe
    params:
      module: [http_2xx]
    bearer_token: abc
    scrape_protocols: [OpenMetricsText1.0.0, PrometheusText0.0.4]
    static_configs:
      - targets: ["https://example.com"]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: blackbox:9115
"#;

#[test]
fn a_realistic_prometheus_yml_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prometheus.yml");
    std::fs::write(&path, PROMETHEUS_YML).unwrap();
    let cfg = Config::load(&path).unwrap();
    assert_eq!(cfg.scrape_configs.len(), 6);
    assert_eq!(
        cfg.scrape_configs[3].http_sd_configs[0]
            .refresh_interval
            .0
            .as_secs(),
        120
    );
    let node = &cfg.scrape_configs[1];
    assert_eq!(node.basic_auth.as_ref().unwrap().username, "prometheus");
    assert_eq!(node.sample_limit, 5000);
    assert_eq!(node.body_size_limit.0, 10_000_000);
    let tls = node.tls_config.as_ref().unwrap();
    assert_eq!(tls.ca_file.as_deref(), Some("/etc/prometheus/ca.crt"));
    assert_eq!(cfg.global.external_labels["cluster"], "eu-1");
    // Global limits are the defaults of jobs that set none.
    let eff = cfg.effective_scrape_configs();
    assert_eq!(eff[0].sample_limit, 100_000);
    assert_eq!(eff[0].body_size_limit.0, 50_000_000);
    assert_eq!(eff[1].sample_limit, 5000);
    // The ignored keys are reported, by name.
    let ignored = cfg.ignored_keys.join("\n");
    assert!(ignored.contains("global.query_log_file"), "{ignored}");
    assert!(
        ignored.contains("job \"blackbox\": scrape_protocols"),
        "{ignored}"
    );
}

/// Puts `key: value` into its section of an otherwise valid file.
fn file_with(section: &str, key: &str) -> String {
    let value = "[]";
    match section {
        "" => format!("{key}: {value}\n"),
        "scrape_configs" => format!(
            "scrape_configs:\n  - job_name: j\n    {key}: {value}\n    static_configs: [{{targets: ['a:1']}}]\n"
        ),
        "scrape_configs.tls_config" => format!(
            "scrape_configs:\n  - job_name: j\n    tls_config:\n      {key}: x\n    static_configs: [{{targets: ['a:1']}}]\n"
        ),
        "remote_write" => format!("remote_write:\n  - url: http://vm:8428/api/v1/write\n    {key}: {value}\n"),
        "remote_write.tls_config" => format!(
            "remote_write:\n  - url: https://vm:8428/api/v1/write\n    tls_config:\n      {key}: x\n"
        ),
        s => format!("{s}:\n  {key}: {value}\n"),
    }
}

#[test]
fn every_refused_key_is_named_with_its_reason() {
    let mut n = 0;
    for r in PROMETHEUS_KEYS {
        let KeyStatus::Refused(why) = r.status else {
            continue;
        };
        n += 1;
        let text = file_with(r.section, r.key);
        let e = Config::from_yaml_str(&text, "prometheus.yml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("{} is not supported yet", r.key)),
            "{}: {e}",
            r.key
        );
        assert!(e.contains(why), "{}: {e}", r.key);
        assert!(!e.contains("unknown field"), "{e}");
    }
    assert!(n > 30);
}

#[test]
fn alertmanagers_load_and_unsupported_discovery_is_refused() {
    let cfg = Config::from_yaml_str(
        "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['am:9093']\n      path_prefix: /am\n  alert_relabel_configs:\n    - {target_label: via, replacement: argus}\n",
        "prometheus.yml",
    )
    .unwrap();
    let s = cfg.forward_settings();
    assert_eq!(
        argus_forward::target_urls(&s.alertmanagers[0], &s.alertmanagers[0].static_configs),
        ["http://am:9093/am/api/v2/alerts"]
    );
    assert_eq!(s.alert_relabel_configs.len(), 1);
    // kubernetes_sd_configs loads (in-cluster when api_server is absent);
    // other discoveries are refused by name.
    let cfg = Config::from_yaml_str(
        "scrape_configs:\n  - job_name: k8s\n    kubernetes_sd_configs: [{role: pod}]\n",
        "prometheus.yml",
    )
    .unwrap();
    assert_eq!(cfg.scrape_configs[0].kubernetes_sd_configs.len(), 1);
    let e = Config::from_yaml_str(
        "scrape_configs:\n  - job_name: c\n    consul_sd_configs: [{server: 'localhost:8500'}]\n",
        "prometheus.yml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("job \"c\": consul_sd_configs is not supported yet"),
        "{e}"
    );
    let cfg =
        Config::from_yaml_str("remote_write:\n  - url: http://x/api/v1/write\n", "p.yml").unwrap();
    assert_eq!(cfg.remote_write.len(), 1);
    let e = Config::from_yaml_str(
        "remote_write:\n  - url: http://x/api/v1/write\n    name: aws\n    sigv4: {region: eu-west-1}\n",
        "p.yml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("remote_write \"aws\": sigv4 is not supported yet"),
        "{e}"
    );
    let e = Config::from_yaml_str(
        "remote_write:\n  - url: http://x/api/v1/write\n    send_exemplars: true\n",
        "p.yml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("send_exemplars is not supported"), "{e}");
}

#[test]
fn every_ignored_key_loads_with_a_warning() {
    for r in PROMETHEUS_KEYS {
        let KeyStatus::Ignored(why) = r.status else {
            continue;
        };
        let text = file_with(r.section, r.key);
        let cfg = Config::from_yaml_str(&text, "prometheus.yml")
            .unwrap_or_else(|e| panic!("{}: {e}", r.key));
        let w = cfg.ignored_keys.join("\n");
        assert!(w.contains(r.key) && w.contains(why), "{}: {w}", r.key);
    }
}

#[test]
fn a_typo_is_still_an_unknown_field() {
    let e = Config::from_yaml_str(
        "scrape_configs:\n  - job_name: j\n    sample_limt: 1\n",
        "prometheus.yml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("sample_limt"), "{e}");
}

#[test]
fn the_migration_guide_lists_every_key() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/migrate-from-prometheus.md"
    ))
    .unwrap();
    for r in PROMETHEUS_KEYS {
        let listed = doc.contains(&format!("`{}`", r.key)) || doc.contains(&format!(".{}`", r.key));
        assert!(listed, "{} missing from the guide", r.key);
    }
}

#[test]
fn dns_srv_records_load_and_mx_needs_a_port() {
    Config::from_yaml_str(
        "scrape_configs:\n  - job_name: d\n    dns_sd_configs:\n      - names: [_prometheus._tcp.example.com]\n",
        "prometheus.yml",
    )
    .unwrap();
    let e = Config::from_yaml_str(
        "scrape_configs:\n  - job_name: d\n    dns_sd_configs:\n      - names: [example.com]\n        type: MX\n",
        "prometheus.yml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("a port is required for MX records"), "{e}");
}

#[test]
fn secrets_of_scrape_jobs_are_not_served() {
    let out = argus_server::redact::redact_yaml(PROMETHEUS_YML);
    assert!(
        !out.contains("sdpass") && !out.contains("bearer_token: abc"),
        "{out}"
    );
    assert!(out.contains("/etc/prometheus/node.pass"), "{out}");
}
