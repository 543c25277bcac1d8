//! Prometheus 2.42 + Alertmanager 0.25 under test (Debian's `prometheus` and
//! `prometheus-alertmanager`). Each service is a scrape target labelled
//! `service`; the rule is `up == 0`; Alertmanager posts to the harness.
//!
//! ```text
//! default: scrape 15s (timeout 10s), eval 15s; group_wait 30s, group_interval 5m, repeat 4h
//! fast:    scrape 1s (timeout 1s), eval 1s;   group_wait 0s,  group_interval 1s, repeat 24h
//! ```

use super::{free_port, need_binary, spawn_logged, wait_ready, Running, Target};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// prometheus.yml for the services.
pub fn prometheus_yml(t: &Target, am_port: u16, fast: bool) -> String {
    let (iv, to, ev) = if fast {
        ("1s", "1s", "1s")
    } else {
        ("15s", "10s", "15s")
    };
    let mut s = format!(
        "global:\n  scrape_interval: {iv}\n  scrape_timeout: {to}\n  evaluation_interval: {ev}\nrule_files: [rules.yml]\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\nscrape_configs:\n  - job_name: svc\n    static_configs:\n"
    );
    for (name, port, _) in &t.services {
        let _ = writeln!(
            s,
            "      - targets: ['127.0.0.1:{port}']\n        labels: {{ service: {name} }}"
        );
    }
    s
}

/// The alerting rule.
pub const RULES: &str = "groups:\n  - name: services\n    rules:\n      - alert: ServiceDown\n        expr: up{job=\"svc\"} == 0\n        labels: { severity: page }\n";

/// alertmanager.yml.
pub fn alertmanager_yml(receiver_port: u16, fast: bool) -> String {
    let timing = if fast {
        "  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 24h\n"
    } else {
        "" // Alertmanager's defaults: 30s, 5m, 4h.
    };
    format!(
        "route:\n  receiver: hook\n  group_by: [alertname, service]\n{timing}receivers:\n  - name: hook\n    webhook_configs:\n      - url: http://127.0.0.1:{receiver_port}/alertmanager\n        send_resolved: true\n"
    )
}

/// Starts Alertmanager, then Prometheus.
pub async fn start(t: &Target, fast: bool) -> anyhow::Result<Running> {
    let settings = if fast {
        "Prometheus 2.42 scrape 1s (timeout 1s), eval 1s, rule up==0 (no for); Alertmanager 0.25 group_wait 0s, group_interval 1s"
    } else {
        "Prometheus 2.42 scrape 15s (timeout 10s), eval 15s, rule up==0 (no for); Alertmanager 0.25 defaults: group_wait 30s, group_interval 5m, repeat 4h"
    };
    start_files(
        &t.work,
        t.install,
        |am_port| prometheus_yml(t, am_port, fast),
        &alertmanager_yml(t.receiver_port, fast),
        RULES,
        settings,
    )
    .await
}

/// Writes `alertmanager.yml`, `prometheus.yml` (given Alertmanager's port)
/// and `rules.yml` under `work`, then starts Alertmanager and Prometheus on
/// free loopback ports and waits until both are ready. Shared with
/// `argus-lab incidents`.
pub async fn start_files(
    work: &Path,
    install: bool,
    prometheus_yml: impl FnOnce(u16) -> String,
    alertmanager_yml: &str,
    rules: &str,
    settings: &str,
) -> anyhow::Result<Running> {
    let prom = need_binary("prometheus", &["prometheus"], install)?;
    let am = need_binary(
        "prometheus-alertmanager",
        &["prometheus-alertmanager"],
        install,
    )?;
    let am_port = free_port()?;
    let prom_port = free_port()?;
    std::fs::write(work.join("alertmanager.yml"), alertmanager_yml)?;
    std::fs::write(work.join("prometheus.yml"), prometheus_yml(am_port))?;
    std::fs::write(work.join("rules.yml"), rules)?;
    let w = |p: &str| work.join(p).display().to_string();
    let am_child = spawn_logged(
        &am,
        &[
            format!("--config.file={}", w("alertmanager.yml")),
            format!("--storage.path={}", w("am-data")),
            format!("--web.listen-address=127.0.0.1:{am_port}"),
            "--cluster.listen-address=".into(),
        ],
        &work.join("alertmanager.log"),
    )?;
    let mut r = Running {
        children: vec![am_child],
        settings: settings.into(),
    };
    if let Err(e) = wait_ready(am_port, "/-/ready", Duration::from_secs(30), "alertmanager").await {
        r.check_alive(work)?;
        return Err(e);
    }
    let prom_child = spawn_logged(
        &prom,
        &[
            format!("--config.file={}", w("prometheus.yml")),
            format!("--storage.tsdb.path={}", w("prom-data")),
            format!("--web.listen-address=127.0.0.1:{prom_port}"),
        ],
        &work.join("prometheus.log"),
    )?;
    r.children.push(prom_child);
    if let Err(e) = wait_ready(prom_port, "/-/ready", Duration::from_secs(60), "prometheus").await {
        r.check_alive(work)?;
        return Err(e);
    }
    Ok(r)
}
