//! The migration path from Prometheus, end to end with real programs: a
//! `prometheus.yml`, a rule file and an `alertmanager.yml` written as
//! Prometheus users write them (nothing Argus-specific) are used unchanged.
//! `argus server --config prometheus.yml` scrapes Debian's
//! `prometheus-node-exporter` and a second `argus agent`, which also pushes
//! its own samples; the rule's alert goes to Debian's
//! `prometheus-alertmanager` (the file's `alerting.alertmanagers`), which
//! sends it to a webhook with the file's `external_labels`; deleting a
//! scrape job and `POST /-/reload` stops that job. Missing programs are
//! installed with apt, or the test fails saying which.

mod common;

use common::{free_port, http_status, ArgusProc};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn have(bin: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Installs Debian's `package` when `bin` is missing; fails saying why.
fn need(bin: &str, package: &str) {
    if have(bin) {
        return;
    }
    let sudo = if have("sudo") { "sudo " } else { "" };
    let out = Command::new("sh")
        .args(["-c", &format!("{sudo}apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive {sudo}apt-get install -y -q --no-install-recommends {package}")])
        .output();
    assert!(
        have(bin),
        "{bin} is missing and {package} could not be installed: {out:?}"
    );
}

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut Command) -> Proc {
    Proc(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}")),
    )
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !ok() {
        assert!(t0.elapsed() < limit, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A webhook receiver: keeps every POSTed JSON body.
fn webhook() -> (u16, Arc<Mutex<Vec<Value>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let body = loop {
                let Ok(n) = s.read(&mut chunk) else {
                    break None;
                };
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                let Some(end) = text.find("\r\n\r\n") else {
                    continue;
                };
                let len = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    break Some(buf[end + 4..end + 4 + len].to_vec());
                }
            };
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if let Some(v) = body.and_then(|b| serde_json::from_slice(&b).ok()) {
                keep.lock().unwrap().push(v);
            }
        }
    });
    (port, got)
}

fn get_json(port: u16, path_and_query: &str) -> Value {
    let url = format!("http://127.0.0.1:{port}{path_and_query}");
    let out = Command::new("curl")
        .args(["-s", "-m", "5", &url])
        .output()
        .expect("curl");
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn query(port: u16, q: &str) -> Vec<Value> {
    let enc = argus_model::url::percent_encode(q);
    get_json(port, &format!("/api/v1/query?query={enc}"))["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn prometheus_yml(ne: u16, agent: u16, am: u16, with_node: bool) -> String {
    let node = if with_node {
        format!("  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{ne}']\n")
    } else {
        String::new()
    };
    format!(
        "# my global config
global:
  scrape_interval: 1s
  evaluation_interval: 1s
  external_labels:
    cluster: eu-1
    replica: a

alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:{am}']

rule_files:
  - 'rules/*.yml'

scrape_configs:
{node}  - job_name: hosts
    metrics_path: /metrics
    scheme: http
    honor_labels: false
    static_configs:
      - targets: ['127.0.0.1:{agent}']
        labels:
          role: web
"
    )
}

const RULES: &str = "groups:
  - name: node
    rules:
      - record: instance:node_load1:predicted_1h
        expr: predict_linear(node_load1[1m], 3600)
      - alert: NodeExporterScraped
        expr: up{job=\"node\"} == 1
        for: 0s
        labels:
          severity: warning
        annotations:
          summary: 'node_exporter on {{ $labels.instance }} is scraped'
";

fn alertmanager_yml(hook: u16) -> String {
    format!(
        "global:
  resolve_timeout: 5m
route:
  receiver: default
  group_by: ['alertname', 'cluster']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['severity=\"warning\"']
      receiver: team-hook
inhibit_rules:
  - source_matchers: ['severity=\"critical\"']
    target_matchers: ['severity=\"warning\"']
    equal: ['instance']
receivers:
  - name: default
  - name: team-hook
    webhook_configs:
      - url: 'http://127.0.0.1:{hook}/alerts'
        send_resolved: true
"
    )
}

#[test]
fn a_prometheus_setup_moves_to_argus_unchanged() {
    need("prometheus-node-exporter", "prometheus-node-exporter");
    need("prometheus-alertmanager", "prometheus-alertmanager");
    need("curl", "curl");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (ne, agent, am, server) = (free_port(), free_port(), free_port(), free_port());
    let (hook, received) = webhook();

    let _node_exporter = spawn(
        Command::new("prometheus-node-exporter")
            .arg(format!("--web.listen-address=127.0.0.1:{ne}"))
            .arg("--collector.disable-defaults")
            .args([
                "--collector.loadavg",
                "--collector.cpu",
                "--collector.meminfo",
            ]),
    );
    std::fs::write(dir.join("alertmanager.yml"), alertmanager_yml(hook)).unwrap();
    let _alertmanager = spawn(
        Command::new("prometheus-alertmanager")
            .arg(format!(
                "--config.file={}",
                dir.join("alertmanager.yml").display()
            ))
            .arg(format!("--storage.path={}", dir.join("am").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{am}"))
            .arg("--cluster.listen-address="),
    );
    let _agent = spawn(
        Command::new(env!("CARGO_BIN_EXE_argus"))
            .args(["agent", "--listen", &format!("127.0.0.1:{agent}")])
            .args([
                "--push-url",
                &format!("http://127.0.0.1:{server}/api/v1/write"),
            ])
            .arg("--buffer-dir")
            .arg(dir.join("agent-buffer")),
    );
    wait_for("node_exporter answers", Duration::from_secs(20), || {
        http_status(ne, "/metrics") == Some(200)
    });
    wait_for("Alertmanager is ready", Duration::from_secs(20), || {
        http_status(am, "/-/ready") == Some(200)
    });

    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/node.yml"), RULES).unwrap();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, prometheus_yml(ne, agent, am, true)).unwrap();
    let argus = ArgusProc::start_on(
        "server",
        &dir.join("data"),
        server,
        &["--config", cfg.to_str().unwrap(), "--web.enable-lifecycle"],
    );

    // Both targets are scraped, and the agent's own pushes arrive with its
    // job and instance.
    wait_for("both jobs are up", Duration::from_secs(30), || {
        query(server, "up == 1").len() >= 2
    });
    let up = query(server, "up");
    let jobs: Vec<&str> = up
        .iter()
        .filter_map(|s| s["metric"]["job"].as_str())
        .collect();
    assert!(jobs.contains(&"node") && jobs.contains(&"hosts"), "{up:?}");
    assert!(
        up.iter()
            .any(|s| s["metric"]["job"] == "hosts" && s["metric"]["role"] == "web"),
        "the target's labels: {up:?}"
    );
    wait_for(
        "the agent's pushed samples",
        Duration::from_secs(30),
        || !query(server, "node_load1{job=\"argus-agent\"}").is_empty(),
    );
    wait_for("the recording rule", Duration::from_secs(30), || {
        !query(server, "instance:node_load1:predicted_1h").is_empty()
    });

    // The alert goes out through the real Alertmanager to the webhook, with
    // the file's external labels.
    wait_for("the alert at the webhook", Duration::from_secs(60), || {
        received.lock().unwrap().iter().any(|b| {
            b["alerts"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|x| x["labels"]["alertname"] == "NodeExporterScraped")
            })
        })
    });
    let bodies = received.lock().unwrap().clone();
    let alert = bodies
        .iter()
        .flat_map(|b| b["alerts"].as_array().cloned().unwrap_or_default())
        .find(|x| x["labels"]["alertname"] == "NodeExporterScraped")
        .unwrap();
    assert_eq!(alert["labels"]["cluster"], "eu-1", "{alert}");
    assert_eq!(alert["labels"]["replica"], "a", "{alert}");
    assert_eq!(alert["labels"]["severity"], "warning", "{alert}");
    assert!(
        alert["annotations"]["summary"]
            .as_str()
            .is_some_and(|s| s.contains(&format!("127.0.0.1:{ne}"))),
        "{alert}"
    );

    // Delete the node job and reload: it stops being scraped.
    std::fs::write(&cfg, prometheus_yml(ne, agent, am, false)).unwrap();
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .arg(format!("http://127.0.0.1:{server}/-/reload"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    let targets = get_json(server, "/api/v1/targets");
    let active = targets["data"]["activeTargets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        active.iter().all(|t| t["labels"]["job"] != "node"),
        "{active:?}"
    );
    let config = get_json(server, "/api/v1/status/config");
    assert!(
        !config["data"]["yaml"]
            .as_str()
            .unwrap_or("")
            .contains("job_name: node"),
        "{config}"
    );
    // No fresh sample of the removed job after the reload.
    std::thread::sleep(Duration::from_secs(3));
    let fresh = query(server, "count_over_time(up{job=\"node\"}[2s])");
    assert!(
        fresh.is_empty(),
        "the removed job is still scraped: {fresh:?}"
    );
    assert!(!query(server, "count_over_time(up{job=\"hosts\"}[2s])").is_empty());
    argus.stop();
}
