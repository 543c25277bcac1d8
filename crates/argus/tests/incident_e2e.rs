//! One fault, one incident, one page, end to end. The test runs three
//! services in a call chain (`frontend` → `api` → `db`, real HTTP calls
//! under a steady load), and `argus server` scrapes them, evaluates an
//! error-ratio rule and probes `db`'s health. A fault injected at the bottom
//! (`db` fails its requests and its health check) makes every service's rule
//! fire and the health check report `db` down; the test checks that:
//! - the alerts form one incident, whose root is `db`;
//! - the route grouped by incident sends one page for it;
//! - the incident page shows it in Chromium (screenshot
//!   `docs/screenshots/incident-fault.png`);
//! - once `db` heals, the incident recovers, with its 1-5-10 times recorded
//!   and counted in `/metrics`.

mod common;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use common::{free_port, ArgusProc};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One service: its requests and failures over the last few seconds.
#[derive(Default)]
struct Svc {
    name: &'static str,
    /// Where it calls, if anywhere.
    next: Option<String>,
    /// Set to make it fail (only `db`'s is ever set).
    broken: AtomicBool,
    requests: AtomicU64,
    errors: AtomicU64,
    /// (requests, errors) at the last scrape, to report a ratio per scrape.
    last: Mutex<(u64, u64)>,
}

async fn handle(State(s): State<Arc<Svc>>) -> StatusCode {
    s.requests.fetch_add(1, Ordering::Relaxed);
    let ok = if s.broken.load(Ordering::Relaxed) {
        false
    } else if let Some(next) = &s.next {
        reqwest::get(next)
            .await
            .is_ok_and(|r| r.status().is_success())
    } else {
        true
    };
    if ok {
        StatusCode::OK
    } else {
        s.errors.fetch_add(1, Ordering::Relaxed);
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

async fn health(State(s): State<Arc<Svc>>) -> StatusCode {
    if s.broken.load(Ordering::Relaxed) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

async fn metrics(State(s): State<Arc<Svc>>) -> String {
    let (r, e) = (
        s.requests.load(Ordering::Relaxed),
        s.errors.load(Ordering::Relaxed),
    );
    let mut last = s.last.lock().unwrap();
    let (dr, de) = (r - last.0, e - last.1);
    *last = (r, e);
    let ratio = if dr == 0 { 0.0 } else { de as f64 / dr as f64 };
    format!(
        "# TYPE http_requests_total counter\nhttp_requests_total{{service=\"{n}\"}} {r}\n\
         # TYPE http_error_ratio gauge\nhttp_error_ratio{{service=\"{n}\"}} {ratio}\n",
        n = s.name
    )
}

/// Starts a service on a free port; returns its state and port.
async fn serve(name: &'static str, next: Option<String>) -> (Arc<Svc>, u16) {
    let s = Arc::new(Svc {
        name,
        next,
        ..Svc::default()
    });
    let app = axum::Router::new()
        .route("/", get(handle))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(s.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(l, app).await });
    (s, port)
}

/// A webhook receiver recording every payload.
async fn webhook() -> (u16, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/",
        post(move |body: axum::Json<Value>| {
            let g = g.clone();
            async move {
                g.lock().unwrap().push(body.0);
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(l, app).await });
    (port, got)
}

async fn get_json(url: String) -> Value {
    reqwest::get(&url).await.unwrap().json().await.unwrap()
}

/// Polls `url` until `pred` holds on its `data`; panics after `secs`.
async fn wait_data(url: String, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
    let t0 = Instant::now();
    loop {
        let v = get_json(url.clone()).await;
        if pred(&v["data"]) {
            return v["data"].clone();
        }
        assert!(t0.elapsed() < Duration::from_secs(secs), "{url}: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Firing pages (notifications whose status is `firing`).
fn firing_pages(hooks: &Mutex<Vec<Value>>) -> Vec<Value> {
    hooks
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "firing")
        .cloned()
        .collect()
}

#[test]
fn a_fault_under_a_call_chain_is_one_incident_and_one_page() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let (db, db_port) = serve("db", None).await;
    let (_api, api_port) = serve("api", Some(format!("http://127.0.0.1:{db_port}/"))).await;
    let (_fe, fe_port) = serve("frontend", Some(format!("http://127.0.0.1:{api_port}/"))).await;
    // Steady load on the frontend: ten requests a second.
    let load = tokio::spawn(async move {
        let c = reqwest::Client::new();
        loop {
            let _ = c.get(format!("http://127.0.0.1:{fe_port}/")).send().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let (hook_port, hooks) = webhook().await;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        dir.join("rules.yml"),
        "groups:\n  - name: errors\n    interval: 1s\n    rules:\n\
         \x20     - alert: HighErrorRatio\n        expr: http_error_ratio > 0.5\n        labels: {severity: critical}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("alertmanager.yml"),
        format!(
            "route: {{receiver: oncall, group_by: [incident], group_wait: 5s, group_interval: 1m, repeat_interval: 1h}}\n\
             receivers:\n  - name: oncall\n    webhook_configs: [{{url: 'http://127.0.0.1:{hook_port}/', send_resolved: true}}]\n\
             argus: {{flap_damping: {{enabled: false}}}}\n"
        ),
    )
    .unwrap();
    let job = |name: &str, port: u16| {
        format!("  - job_name: {name}\n    scrape_interval: 1s\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n")
    };
    let yaml = format!(
        "global: {{evaluation_interval: 1s}}\n\
         scrape_configs:\n{}{}{}\
         rule_files: [rules.yml]\n\
         alerting: {{config_file: alertmanager.yml}}\n\
         health:\n  sample_interval: 1s\n  services:\n\
         \x20   - name: db\n      probes: [{{type: http, url: 'http://127.0.0.1:{db_port}/health', interval: 1s}}]\n\
         incidents:\n  recovery_stable: 3s\n  topology:\n\
         \x20   - {{caller: frontend, callee: api}}\n    - {{caller: api, callee: db}}\n",
        job("frontend", fe_port),
        job("api", api_port),
        job("db", db_port),
    );
    let cfg = dir.join("argus.yml");
    std::fs::write(&cfg, yaml).unwrap();
    let proc = ArgusProc::start_on(
        "server",
        &data,
        free_port(),
        &["--config", cfg.to_str().unwrap()],
    );
    let base = proc.url("");
    // A few healthy seconds first: no incident.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let quiet = get_json(format!("{base}/api/argus/v1/incidents")).await;
    assert_eq!(quiet["data"], serde_json::json!([]), "{quiet}");

    // The fault, at the bottom of the chain.
    let injected = chrono::Utc::now().timestamp_millis();
    db.broken.store(true, Ordering::Relaxed);
    let list = wait_data(format!("{base}/api/argus/v1/incidents"), 30, |d| {
        d.as_array()
            .is_some_and(|l| l.len() == 1 && l[0]["alerts"].as_u64().unwrap_or(0) >= 4)
    })
    .await;
    let inc = &list[0];
    let id = inc["id"].as_str().unwrap().to_string();
    assert_eq!(inc["root"]["service"], "db", "{inc}");
    let mut services: Vec<&str> = inc["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    services.sort_unstable();
    assert_eq!(services, vec!["api", "db", "frontend"]);

    // One page for the whole fault, naming its incident.
    let t0 = Instant::now();
    while firing_pages(&hooks).is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(20), "no page");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pages = firing_pages(&hooks);
    assert_eq!(pages.len(), 1, "one page per incident: {pages:#?}");
    assert_eq!(pages[0]["groupLabels"]["incident"], id.as_str());
    assert!(pages[0]["alerts"].as_array().unwrap().len() >= 4);

    let one = wait_data(format!("{base}/api/argus/v1/incidents/{id}"), 10, |d| {
        !d["times"]["notified"].is_null() && !d["times"]["located"].is_null()
    })
    .await;
    let ms = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    let detected = ms(&one["times"]["detected"]);
    assert!(
        detected - injected < 20_000,
        "detected {} ms after the fault",
        detected - injected
    );
    assert!(ms(&one["times"]["faultStart"]) <= detected);

    // The incident page, in a browser.
    let shots = root().join("docs/screenshots");
    let out = Command::new("node")
        .arg(root().join("tests/browser/run.mjs"))
        .args(["--base", &base])
        .arg("--shots")
        .arg(&shots)
        .args(["--scenario", "fault"])
        .current_dir(root().join("tests/browser"))
        .output()
        .expect("run node (scripts/test.sh installs Node.js, Chromium and playwright-core)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok - fault"),
        "browser scenario fault failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(shots.join("incident-fault.png").exists());

    // Healed: every alert resolves, the incident recovers.
    db.broken.store(false, Ordering::Relaxed);
    let done = wait_data(format!("{base}/api/argus/v1/incidents/{id}"), 40, |d| {
        d["state"] == "resolved"
    })
    .await;
    assert!(!done["times"]["recovered"].is_null(), "{done}");
    let recover = done["times"]["timeToRecover"].as_f64().unwrap();
    assert!(recover > 0.0, "{done}");
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("argus_incident_time_to_recover_seconds_count 1"),
        "{metrics}"
    );
    assert!(metrics.contains("argus_incident_time_to_locate_seconds_count 1"));
    load.abort();
    proc.stop();
}
