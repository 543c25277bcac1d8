//! The Alertmanager side of the server against real clients and servers: Debian's `amtool`
//! (0.25), an `aiosmtpd` SMTP sink, a real Alertmanager 0.25 as a forwarding target, and a
//! webhook receiver that fails twice. Each test starts what it needs and fails, never skips,
//! when a tool is missing and cannot be installed (`prometheus-alertmanager` from Debian,
//! `aiosmtpd` from PyPI).

mod common;
use argus_alert::config::Config;
use argus_server::alerting::AlertingService;
use axum::http::StatusCode;
use common::free_port;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

struct Argus {
    svc: Option<AlertingService>,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Argus {
    async fn start(yaml: &str) -> Argus {
        let cfg = Config::parse(yaml, "alertmanager.yml").expect("test config parses");
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let svc = AlertingService::start(
            cfg,
            dir.path(),
            format!("http://{addr}"),
            Arc::new(argus_model::SystemClock),
        )
        .await
        .expect("alerting service starts");
        let app = svc.router();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Argus {
            svc: Some(svc),
            addr,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn post_alerts(&self, alerts: Value) -> (StatusCode, String) {
        let r = reqwest::Client::new()
            .post(format!("{}/api/v2/alerts", self.url()))
            .json(&alerts)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> Value {
        let r = reqwest::get(format!("{}{path}", self.url())).await.unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn stop(mut self) {
        if let Some(s) = self.svc.take() {
            s.shutdown().await;
        }
    }
}

fn have(bin: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Installs Debian's `prometheus-alertmanager` (amtool and the Alertmanager binary) when
/// missing; panics with the reason when that fails.
fn need_alertmanager() {
    static ONCE: Mutex<()> = Mutex::new(());
    let _g = ONCE.lock().unwrap_or_else(|e| e.into_inner());
    if have("amtool") && have("prometheus-alertmanager") {
        return;
    }
    let sudo = if have("sudo") { "sudo " } else { "" };
    let out = std::process::Command::new("sh")
        .args(["-c", &format!("{sudo}apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive {sudo}apt-get install -y -q --no-install-recommends prometheus-alertmanager")])
        .output();
    assert!(
        have("amtool") && have("prometheus-alertmanager"),
        "amtool/prometheus-alertmanager are missing and could not be installed \
         (apt-get install prometheus-alertmanager): {out:?}"
    );
}

/// Installs `aiosmtpd` from PyPI when missing; panics with the reason when that fails.
fn need_aiosmtpd() {
    let ok = || {
        std::process::Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ok() {
        return;
    }
    let out = std::process::Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "aiosmtpd"])
        .output();
    assert!(
        ok(),
        "python3's aiosmtpd is missing and `pip install aiosmtpd` failed: {out:?}"
    );
}

async fn amtool(url: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("amtool")
        .arg(format!("--alertmanager.url={url}"))
        .args(args)
        .output()
        .await
        .expect("amtool runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Polls `f` every 100 ms until it returns Some, or panics after `secs` with `what`.
async fn wait_for<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const NULL_CONFIG: &str =
    "route: {receiver: none, group_by: [alertname]}\nreceivers: [{name: none}]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amtool_alerts_and_silence_lifecycle() {
    need_alertmanager();
    let argus = Argus::start(NULL_CONFIG).await;
    let url = argus.url();

    let (ok, _, err) = amtool(
        &url,
        &[
            "alert",
            "add",
            "alertname=ArgusAmtool",
            "severity=page",
            "--annotation=summary=disk full",
        ],
    )
    .await;
    assert!(ok, "amtool alert add failed: {err}");
    let (ok, out, err) = amtool(&url, &["alert", "query"]).await;
    assert!(ok, "amtool alert query failed: {err}");
    assert!(
        out.contains("ArgusAmtool") && out.contains("disk full"),
        "{out}"
    );

    let (ok, out, err) = amtool(
        &url,
        &[
            "silence",
            "add",
            "alertname=ArgusAmtool",
            "--comment=maintenance",
            "--author=alice",
            "--duration=1h",
        ],
    )
    .await;
    assert!(ok, "amtool silence add failed: {err}");
    let id = out.trim().to_string();
    assert_eq!(id.len(), 36, "silence id: {out:?}");

    let (ok, out, err) = amtool(&url, &["silence", "query"]).await;
    assert!(ok, "amtool silence query failed: {err}");
    assert!(
        out.contains(&id) && out.contains("alice") && out.contains("maintenance"),
        "{out}"
    );
    let (ok, out, _) = amtool(&url, &["silence", "query", "-q", "alertname=ArgusAmtool"]).await;
    assert!(ok && out.trim() == id, "{out}");

    let alerts = argus.get("/api/v2/alerts").await;
    let a = &alerts[0];
    assert_eq!(a["labels"]["alertname"], "ArgusAmtool");
    assert_eq!(a["status"]["state"], "suppressed");
    assert_eq!(a["status"]["silencedBy"], json!([id]));
    assert_eq!(a["receivers"], json!([{"name": "none"}]));
    // amtool hides silenced alerts unless asked.
    let (_, out, _) = amtool(&url, &["alert", "query"]).await;
    assert!(!out.contains("ArgusAmtool"), "{out}");
    let (_, out, _) = amtool(&url, &["alert", "query", "--silenced"]).await;
    assert!(out.contains("ArgusAmtool"), "{out}");

    let (ok, _, err) = amtool(&url, &["silence", "expire", &id]).await;
    assert!(ok, "amtool silence expire failed: {err}");
    let (_, out, _) = amtool(&url, &["silence", "query", "-q"]).await;
    assert!(!out.contains(&id), "{out}");
    let (_, out, _) = amtool(&url, &["silence", "query", "-q", "--expired"]).await;
    assert!(out.contains(&id), "{out}");
    let alerts = argus.get("/api/v2/alerts").await;
    assert_eq!(alerts[0]["status"]["state"], "active");
    let (ok, _, _) = amtool(&url, &["silence", "expire", "no-such-id"]).await;
    assert!(!ok, "expiring an unknown silence must fail");

    // Status and receivers parse in amtool's client (it validates the schema).
    let (ok, out, err) = amtool(&url, &["config", "show"]).await;
    assert!(ok && out.contains("receiver: none"), "{out} {err}");
    assert_eq!(
        argus.get("/api/v2/receivers").await,
        json!([{"name": "none"}])
    );
    let groups = argus.get("/api/v2/alerts/groups").await;
    assert_eq!(groups[0]["labels"], json!({"alertname": "ArgusAmtool"}));

    // Bad input: 400 with a message; the good alert in the same request is kept.
    let (st, body) = argus
        .post_alerts(json!([{"labels": {}}, {"labels": {"alertname": "Good"}}]))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(body.contains("no labels"), "{body}");
    let alerts = argus
        .get("/api/v2/alerts?filter=alertname%3D%22Good%22")
        .await;
    assert_eq!(alerts.as_array().map(Vec::len), Some(1), "{alerts}");
    let (st, _) = argus.post_alerts(json!({"not": "a list"})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // Argus's extensions: acknowledgement and the history.
    let fp = alerts[0]["fingerprint"].as_str().unwrap().to_string();
    let r = reqwest::Client::new()
        .post(format!("{url}/api/v2/alerts/{fp}/ack"))
        .json(&json!({"who": "bob", "comment": "on it"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let alerts = argus
        .get("/api/v2/alerts?filter=alertname%3D%22Good%22")
        .await;
    assert_eq!(alerts[0]["acknowledged"]["by"], "bob");
    let h = argus.get("/api/argus/v1/alert-history?limit=100").await;
    let kinds: Vec<&str> = h["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["kind"].as_str())
        .collect();
    for k in ["silence_set", "silence_expire", "ack"] {
        assert!(kinds.contains(&k), "{k} missing from history {h}");
    }
    argus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_reaches_a_real_smtp_sink() {
    need_aiosmtpd();
    let port = free_port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/smtp_sink.py");
    let mut sink: Child = Command::new("python3")
        .args(["-u", script, &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 starts");
    let out = Arc::new(Mutex::new(String::new()));
    let mut lines = BufReader::new(sink.stdout.take().unwrap()).lines();
    let o2 = out.clone();
    tokio::spawn(async move {
        while let Ok(Some(l)) = lines.next_line().await {
            let mut g = o2.lock().unwrap();
            g.push_str(&l);
            g.push('\n');
        }
    });
    wait_for(20, "the SMTP sink to start", || {
        let o = out.clone();
        async move { o.lock().unwrap().contains("READY").then_some(()) }
    })
    .await;

    let argus = Argus::start(&format!(
        "route: {{receiver: mail, group_by: [alertname], group_wait: 0s}}
receivers:
  - name: mail
    email_configs:
      - to: oncall@example.com
        from: argus@example.com
        smarthost: 127.0.0.1:{port}
        require_tls: false
"
    ))
    .await;
    let (st, body) = argus
        .post_alerts(json!([{
            "labels": {"alertname": "DiskFull", "severity": "page", "instance": "db1"},
            "annotations": {"summary": "Disk almost full", "value": "97%"},
            "generatorURL": "http://prom/graph?g0.expr=disk"
        }]))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let mail = wait_for(20, "the email at the SMTP sink", || {
        let o = out.clone();
        async move {
            let g = o.lock().unwrap();
            g.contains("BODY-END").then(|| g.clone())
        }
    })
    .await;
    assert!(
        mail.contains("SUBJECT: [FIRING:1] DiskFull (page)"),
        "{mail}"
    );
    assert!(mail.contains("RCPT TO: oncall@example.com"), "{mail}");
    assert!(mail.contains("MAIL FROM: argus@example.com"), "{mail}");
    for want in [
        "[FIRING] DiskFull (page)",
        "Summary: Disk almost full",
        "Value: 97%",
        "instance = db1",
        "Source: http://prom/graph?g0.expr=disk",
    ] {
        assert!(mail.contains(want), "{want:?} missing from {mail}");
    }
    argus.stop().await;
    let _ = sink.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_to_a_real_alertmanager() {
    need_alertmanager();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("am.yml");
    std::fs::write(&cfg, "route: {receiver: none}\nreceivers: [{name: none}]\n").unwrap();
    let port = free_port();
    let _am: Child = Command::new("prometheus-alertmanager")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("prometheus-alertmanager starts");
    let am = format!("http://127.0.0.1:{port}");
    let ready = format!("{am}/-/ready");
    wait_for(30, "Alertmanager to be ready", || {
        let u = ready.clone();
        async move {
            reqwest::get(u)
                .await
                .ok()
                .filter(|r| r.status().is_success())
                .map(|_| ())
        }
    })
    .await;

    let argus = Argus::start(&format!(
        "route: {{receiver: fwd, group_wait: 0s}}
receivers: [{{name: fwd}}]
argus:
  forward_to_alertmanager:
    - {{receiver: fwd, url: '{am}'}}
"
    ))
    .await;
    let (st, body) = argus
        .post_alerts(json!([{"labels": {"alertname": "Forwarded", "team": "db"},
                             "annotations": {"summary": "via Argus"}}]))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let alerts_url = format!("{am}/api/v2/alerts");
    let got: Value = wait_for(20, "the alert in Alertmanager's API", || {
        let u = alerts_url.clone();
        async move {
            let v: Value = reqwest::get(u).await.ok()?.json().await.ok()?;
            v.as_array()?
                .iter()
                .find(|a| a["labels"]["alertname"] == "Forwarded")
                .cloned()
        }
    })
    .await;
    assert_eq!(got["labels"]["team"], "db");
    assert_eq!(got["annotations"]["summary"], "via Argus");
    assert_eq!(got["status"]["state"], "active");
    // Same labels, same fingerprint on both sides.
    let ours = argus.get("/api/v2/alerts").await;
    assert_eq!(ours[0]["fingerprint"], got["fingerprint"]);
    argus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_failing_twice_gets_exactly_one_delivery() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let delivered = Arc::new(Mutex::new(Vec::<Value>::new()));
    let (a2, d2) = (attempts.clone(), delivered.clone());
    let hook = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let (a, d) = (a2.clone(), d2.clone());
            async move {
                if a.fetch_add(1, Ordering::SeqCst) < 2 {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    d.lock().unwrap().push(v);
                    StatusCode::OK
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, hook).await });

    let argus = Argus::start(&format!(
        "route: {{receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 1m, repeat_interval: 1h}}
receivers:
  - name: hook
    webhook_configs: [{{url: 'http://{hook_addr}/hook'}}]
argus:
  retry: {{initial: 100ms, max: 200ms, max_attempts: 5}}
"
    ))
    .await;
    let (st, body) = argus
        .post_alerts(json!([{"labels": {"alertname": "Flaky", "job": "api"}}]))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    wait_for(15, "the webhook delivery", || {
        let d = delivered.clone();
        async move { (!d.lock().unwrap().is_empty()).then_some(()) }
    })
    .await;
    // Posting the same alert again and waiting past the retries must not notify again.
    let (st, _) = argus
        .post_alerts(json!([{"labels": {"alertname": "Flaky", "job": "api"}}]))
        .await;
    assert_eq!(st, StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        3,
        "two failures, then one success"
    );
    let d = delivered.lock().unwrap().clone();
    assert_eq!(d.len(), 1, "exactly one delivery: {d:?}");
    assert_eq!(d[0]["version"], "4");
    assert_eq!(d[0]["status"], "firing");
    assert_eq!(d[0]["alerts"][0]["labels"]["alertname"], "Flaky");
    let h = argus.get("/api/argus/v1/alert-history?kind=notify").await;
    assert_eq!(h["data"].as_array().map(Vec::len), Some(1), "{h}");
    argus.stop().await;
}
