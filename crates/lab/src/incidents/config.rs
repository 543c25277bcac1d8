//! The files `argus-lab incidents` writes, as a user would: Argus's
//! `argus.yml` (scrape jobs, rule files, `health:` heartbeats and probes, a
//! dynamic rule on the orders KPI with `localize:`, `incidents:` with the call
//! graph, and, with runbooks, `recover:`), its Alertmanager file, the rule file
//! it shares with Prometheus, the `argus agent` file that tails the services'
//! JSON logs, and Prometheus's and Alertmanager's files.
//!
//! ```text
//! scrape 2s / evaluate 2s on both sides; the same rules.yml:
//!   ServiceDown  up == 0 for 4s          HighErrorRate  5xx share > 10 % for 6s
//!   HighLatency  p90 > 400 ms for 6s     HighCpu        > 0.4 core for 6s
//!   MemoryHigh   RSS > 256 MiB for 4s    DiskAlmostFull free < 25 % for 4s
//! ```

use super::fleet::Spec;
use super::plan;
use std::fmt::Write as _;
use std::path::Path;

/// What the files need to know.
pub struct Ports<'a> {
    /// The services.
    pub services: &'a [Spec],
    /// Redis host:port.
    pub redis: &'a str,
    /// Argus's HTTP port.
    pub argus: u16,
    /// The lab's control endpoint.
    pub control: u16,
    /// The agent's /metrics port.
    pub agent: u16,
}

/// The rule file of both systems: the KPI's recording rules and the static alerts.
pub const RULES: &str = r#"groups:
  - name: lab
    rules:
      - record: orders:rate:leaf
        expr: sum by (service, region, channel) (rate(orders_total{job="lab"}[30s]))
      - record: orders:rate:total
        expr: sum by (service) (rate(orders_total{job="lab"}[30s]))
      - alert: ServiceDown
        expr: up{job="lab"} == 0
        for: 4s
        labels: {severity: page}
        annotations: {summary: '{{ $labels.service }} does not answer its scrape'}
      - alert: HighErrorRate
        expr: sum by (service) (rate(http_requests_total{job="lab",code=~"5.."}[20s])) / sum by (service) (rate(http_requests_total{job="lab"}[20s])) > 0.1
        for: 6s
        labels: {severity: page}
        annotations: {summary: '{{ $labels.service }}: {{ $value | humanizePercentage }} of requests fail'}
      - alert: HighLatency
        expr: histogram_quantile(0.9, sum by (service, le) (rate(http_request_duration_seconds_bucket{job="lab"}[20s]))) > 0.4
        for: 6s
        labels: {severity: page}
        annotations: {summary: '{{ $labels.service }}: p90 latency {{ $value }}s'}
      - alert: HighCpu
        expr: rate(process_cpu_seconds_total{job="lab"}[10s]) > 0.4
        for: 6s
        labels: {severity: warning}
      - alert: MemoryHigh
        expr: process_resident_memory_bytes{job="lab"} > 268435456
        for: 4s
        labels: {severity: warning}
      - alert: DiskAlmostFull
        expr: lab_disk_free_bytes{job="lab"} / lab_disk_size_bytes{job="lab"} < 0.25
        for: 4s
        labels: {severity: warning}
"#;

fn scrape_job(s: &mut String, services: &[Spec]) {
    s.push_str("scrape_configs:\n  - job_name: lab\n    scrape_timeout: 1s\n    static_configs:\n");
    for sp in services {
        let _ = writeln!(
            s,
            "      - targets: ['127.0.0.1:{}']\n        labels: {{service: {}}}",
            sp.port, sp.name
        );
    }
}

/// `argus.yml`. `runbooks` adds the `recover:` section.
pub fn argus_yml(p: &Ports, runbooks: bool) -> String {
    let mut s = String::from(
        "# Written by argus-lab incidents.\nglobal:\n  scrape_interval: 2s\n  evaluation_interval: 2s\n",
    );
    scrape_job(&mut s, p.services);
    s.push_str("rule_files: [rules.yml]\nalerting:\n  config_file: alertmanager.yml\n");
    let _ = writeln!(s, "health:\n  redis_url: redis://{}\n  services:", p.redis);
    for sp in p.services {
        let _ = writeln!(s, "    - name: {}", sp.name);
        if let Some(k) = &sp.hb_key {
            let _ = writeln!(
                s,
                "      heartbeat: {{source: redis, key: \"{k}\", interval: 1s}}"
            );
        }
        let _ = writeln!(
            s,
            "      probes:\n        - {{type: http, url: \"http://127.0.0.1:{}/health\", expect_status: 200, interval: 2s, timeout: 1s, retries: 1}}",
            sp.port
        );
    }
    s.push_str(
        r#"dynamic_rules:
  - name: OrdersDrop
    selector: 'orders:rate:total'
    detector: {kind: business_volume, period: none, min_points: 1800}
    retrain_interval: 24h
    for: 10s
    labels: {severity: page}
    localize:
      by: [region, channel]
      actual: 'orders:rate:leaf'
      expected: 'orders:rate:leaf offset 2m'
incidents:
  window: 3m
  quiet: 2m
  recovery_stable: 30s
  learn_interval: 1m
  topology:
"#,
    );
    for (c, d) in plan::edges() {
        let _ = writeln!(s, "    - {{caller: {c}, callee: {d}}}");
    }
    if runbooks {
        s.push_str(&recover_yml(p.control));
    }
    s
}

/// The `recover:` section: restart the root service on the alerts a restart
/// fixes; heal it on a KPI drop. Rolls back by healing.
pub fn recover_yml(control: u16) -> String {
    let url = |what: &str| format!("http://127.0.0.1:{control}/lab/{what}/{{{{ .Root.Service }}}}");
    format!(
        r#"recover:
  max_concurrent: 2
  runbooks:
    - name: restart-service
      match:
        labels: {{alertname: "ServiceDown|HighErrorRate|HighLatency|HighCpu|MemoryHigh|DiskAlmostFull|LogErrorBurst"}}
        root_service: "{roots}"
      mode: auto
      delay: 10s
      cooldown: 10s
      rate_limit: {{max: 60, per: 1h}}
      steps:
        - name: restart
          http: {{method: POST, url: "{restart}"}}
          timeout: 30s
        - wait: 5s
      verify: {{resolved: true, hold: 20s, deadline: 90s}}
      rollback:
        - http: {{method: POST, url: "{heal}"}}
    - name: heal-kpi
      match:
        labels: {{alertname: "OrdersDrop"}}
        root_service: "orders"
      mode: auto
      cooldown: 10s
      steps:
        - name: heal
          http: {{method: POST, url: "{heal}"}}
          timeout: 30s
      verify: {{resolved: true, hold: 20s, deadline: 90s}}
"#,
        roots = plan::SERVICES.join("|"),
        restart = url("restart"),
        heal = url("heal"),
    )
}

/// Argus's notification routing: one page per incident.
pub fn argus_alertmanager_yml(hook: u16) -> String {
    format!(
        "route:\n  receiver: lab\n  group_by: [incident]\n  group_wait: 0s\n  group_interval: 5s\n  repeat_interval: 1h\nreceivers:\n  - name: lab\n    webhook_configs:\n      - url: http://127.0.0.1:{hook}/alertmanager\n        send_resolved: true\n"
    )
}

/// `argus agent` tailing every service's JSON log, one group per service.
pub fn agent_yml(p: &Ports, work: &Path) -> String {
    let mut s = format!(
        "listen: 127.0.0.1:{}\nlogs:\n  url: http://127.0.0.1:{}\n  state_dir: {}\n  poll_interval: 1s\n  start_at: beginning\n  files:\n",
        p.agent,
        p.argus,
        work.join("agent-state").display()
    );
    for sp in p.services {
        let _ = writeln!(
            s,
            "    - paths: [{}]\n      labels: {{job: lab, service: {}}}",
            work.join("logs").join(format!("{}.log", sp.name)).display(),
            sp.name
        );
    }
    s
}

/// Prometheus's file: the same job, interval and rules.
pub fn prometheus_yml(services: &[Spec], alertmanager: u16) -> String {
    let mut s = format!(
        "global:\n  scrape_interval: 2s\n  evaluation_interval: 2s\nrule_files: [rules.yml]\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{}']\n",
        alertmanager
    );
    scrape_job(&mut s, services);
    s
}

/// Alertmanager's file: the same timing as Argus's route, grouped by alert and service.
pub fn alertmanager_yml(hook: u16) -> String {
    format!(
        "route:\n  receiver: lab\n  group_by: [alertname, service]\n  group_wait: 0s\n  group_interval: 5s\n  repeat_interval: 1h\nreceivers:\n  - name: lab\n    webhook_configs:\n      - url: http://127.0.0.1:{hook}/alertmanager\n        send_resolved: true\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports(services: &[Spec]) -> Ports<'_> {
        Ports {
            services,
            redis: "127.0.0.1:6379",
            argus: 9797,
            control: 9100,
            agent: 9798,
        }
    }

    fn specs() -> Vec<Spec> {
        plan::SERVICES
            .iter()
            .enumerate()
            .map(|(i, n)| Spec {
                name: n.to_string(),
                port: 18100 + i as u16,
                hb_key: plan::HEARTBEATS.contains(n).then(|| format!("lab:hb:{n}")),
            })
            .collect()
    }

    #[test]
    fn the_server_accepts_the_generated_config() {
        let sp = specs();
        let text = argus_yml(&ports(&sp), false);
        if let Err(e) = argus_server::config::Config::from_yaml_str(&text, "argus.yml") {
            panic!("the server rejects the generated config: {e}\n{text}");
        }
        assert!(text.contains("{caller: shipping, callee: notify}"));
        assert!(text.contains("key: \"lab:hb:orders\""));
        assert!(!text.contains("recover:"));
    }

    #[test]
    fn runbooks_name_the_control_endpoint() {
        let sp = specs();
        let text = argus_yml(&ports(&sp), true);
        if let Err(e) = argus_server::config::Config::from_yaml_str(&text, "argus.yml") {
            panic!("the server rejects the generated runbooks: {e}\n{text}");
        }
        let r = recover_yml(9100);
        assert!(r.contains("url: \"http://127.0.0.1:9100/lab/restart/{{ .Root.Service }}\""));
        assert!(r.contains("mode: auto"));
    }

    #[test]
    fn both_systems_scrape_every_service() {
        let sp = specs();
        let p = prometheus_yml(&sp, 9093);
        for s in &sp {
            assert!(p.contains(&format!("127.0.0.1:{}", s.port)));
        }
        assert!(alertmanager_yml(9002).contains("9002/alertmanager"));
        assert!(argus_alertmanager_yml(9001).contains("group_by: [incident]"));
        assert!(agent_yml(&ports(&sp), Path::new("/w")).contains("/w/logs/db.log"));
    }
}
