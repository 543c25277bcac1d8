//! The HTTP settings of scrape jobs against a local axum target: auth,
//! params, metrics_path, redirects, and the limits that fail a scrape.

use crate::common::{get, Rec, VecFactory};
use argus_ingest::scrape::{Health, ScrapeConfig, ScrapeManager};
use argus_model::SystemClock;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get as route_get;
use axum::Router;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Default)]
struct Seen {
    auth: Arc<Mutex<Vec<String>>>,
    query: Arc<Mutex<Vec<HashMap<String, String>>>>,
    body: Arc<Mutex<String>>,
}

async fn metrics(
    State(s): State<Seen>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    s.auth.lock().push(auth.clone());
    s.query.lock().push(q);
    if auth.is_empty() {
        return (StatusCode::UNAUTHORIZED, String::new());
    }
    (StatusCode::OK, s.body.lock().clone())
}

async fn serve(body: &str) -> (String, Seen) {
    let seen = Seen::default();
    *seen.body.lock() = body.to_string();
    let app = Router::new()
        .route("/custom/path", route_get(metrics))
        .route(
            "/moved",
            route_get(|| async { Redirect::temporary("/custom/path") }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, seen)
}

async fn wait_up(m: &ScrapeManager<VecFactory>) -> argus_ingest::scrape::TargetStatus {
    for _ in 0..500 {
        if let Some(t) = m.targets().into_iter().next() {
            if t.health != Health::Unknown {
                return t;
            }
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("the target was never scraped");
}

async fn scrape_with(
    yaml_extra: &str,
    body: &str,
) -> (argus_ingest::scrape::TargetStatus, Seen, Vec<Rec>) {
    let (addr, seen) = serve(body).await;
    let factory = VecFactory::default();
    let recs = factory.0.clone();
    let m = ScrapeManager::new(Arc::new(factory), Arc::new(SystemClock)).unwrap();
    let yaml = format!(
        "job_name: t\nscrape_interval: 200ms\nmetrics_path: /custom/path\nstatic_configs:\n  - targets: ['{addr}']\n{yaml_extra}"
    );
    let cfg: ScrapeConfig = serde_saphyr::from_str(&yaml).unwrap();
    m.apply(vec![cfg]).unwrap();
    let t = wait_up(&m).await;
    m.shutdown().await;
    let recs = recs.lock().clone();
    (t, seen, recs)
}

fn up(recs: &[Rec]) -> Option<f64> {
    recs.iter()
        .find(|r| get(r, "__name__") == Some("up"))
        .map(|r| r.2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_and_params_reach_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "hunter2\n").unwrap();
    let extra = format!(
        "basic_auth:\n  username: prom\n  password_file: {}\nparams:\n  module: [icmp]\n",
        pw.display()
    );
    let (t, seen, recs) = scrape_with(&extra, "m 1\n").await;
    assert_eq!(t.health, Health::Up, "{:?}", t.last_error);
    // "prom:hunter2" in base64.
    assert_eq!(seen.auth.lock()[0], "Basic cHJvbTpodW50ZXIy");
    assert_eq!(
        seen.query.lock()[0].get("module").map(String::as_str),
        Some("icmp")
    );
    assert_eq!(up(&recs), Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_and_legacy_bearer_token() {
    let (_, seen, _) = scrape_with("authorization:\n  credentials: abc\n", "m 1\n").await;
    assert_eq!(seen.auth.lock()[0], "Bearer abc");
    let (_, seen, _) = scrape_with(
        "authorization:\n  type: Token\n  credentials: abc\n",
        "m 1\n",
    )
    .await;
    assert_eq!(seen.auth.lock()[0], "Token abc");
    let (_, seen, _) = scrape_with("bearer_token: xyz\n", "m 1\n").await;
    assert_eq!(seen.auth.lock()[0], "Bearer xyz");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_credentials_the_target_is_down() {
    let (t, _, recs) = scrape_with("", "m 1\n").await;
    assert_eq!(t.health, Health::Down);
    assert!(t.last_error.unwrap().contains("401"));
    assert_eq!(up(&recs), Some(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_limit_fails_the_whole_scrape() {
    let body = "a 1\nb 2\nc 3\n";
    let (t, _, recs) = scrape_with("bearer_token: x\nsample_limit: 2\n", body).await;
    assert_eq!(t.health, Health::Down);
    assert!(t.last_error.unwrap().contains("sample limit exceeded"));
    assert_eq!(up(&recs), Some(0.0));
    assert!(!recs.iter().any(|r| get(r, "__name__") == Some("a")));
    // Dropped by metric relabeling, the third sample does not count.
    let (t, _, recs) = scrape_with(
        "bearer_token: x\nsample_limit: 2\nmetric_relabel_configs:\n  - source_labels: [__name__]\n    regex: c\n    action: drop\n",
        body,
    )
    .await;
    assert_eq!(t.health, Health::Up, "{:?}", t.last_error);
    assert_eq!(up(&recs), Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_size_and_label_limits_fail_the_scrape() {
    let (t, _, recs) = scrape_with(
        "bearer_token: x\nbody_size_limit: 10B\n",
        "a_long_metric_name 1\n",
    )
    .await;
    assert_eq!(t.health, Health::Down);
    assert!(t.last_error.unwrap().contains("body size limit exceeded"));
    assert_eq!(up(&recs), Some(0.0));
    let (t, _, _) = scrape_with("bearer_token: x\nbody_size_limit: 1KB\n", "m 1\n").await;
    assert_eq!(t.health, Health::Up);
    let (t, _, _) = scrape_with(
        "bearer_token: x\nlabel_limit: 3\n",
        "m{a=\"1\",b=\"2\"} 1\n",
    )
    .await;
    let e = t.last_error.unwrap();
    assert!(e.contains("label_limit exceeded"), "{e}");
    let (t, _, _) = scrape_with(
        "bearer_token: x\nlabel_value_length_limit: 3\n",
        "m{a=\"long\"} 1\n",
    )
    .await;
    assert!(t
        .last_error
        .unwrap()
        .contains("label_value_length_limit exceeded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_follow_unless_disabled() {
    let (t, _, _) = scrape_with(
        "bearer_token: x\nrelabel_configs:\n  - target_label: __metrics_path__\n    replacement: /moved\n",
        "m 1\n",
    )
    .await;
    assert_eq!(t.health, Health::Up, "{:?}", t.last_error);
    let (t, _, _) = scrape_with(
        "bearer_token: x\nfollow_redirects: false\nenable_http2: false\nrelabel_configs:\n  - target_label: __metrics_path__\n    replacement: /moved\n",
        "m 1\n",
    )
    .await;
    assert_eq!(t.health, Health::Down);
    assert!(t.last_error.unwrap().contains("307"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_ca_file_is_refused_at_apply() {
    let m = ScrapeManager::new(Arc::new(VecFactory::default()), Arc::new(SystemClock)).unwrap();
    let cfg: ScrapeConfig = serde_saphyr::from_str(
        "job_name: t\nscheme: https\ntls_config:\n  ca_file: /nonexistent/ca.pem\nstatic_configs: [{targets: ['a:1']}]\n",
    )
    .unwrap();
    let e = m.apply(vec![cfg]).unwrap_err().to_string();
    assert!(e.contains("tls_config.ca_file"), "{e}");
    let cfg: ScrapeConfig = serde_saphyr::from_str(
        "job_name: t\ntls_config:\n  cert_file: /x.pem\nstatic_configs: [{targets: ['a:1']}]\n",
    )
    .unwrap();
    assert!(cfg.validate().unwrap_err().to_string().contains("key_file"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sd_finds_targets_and_keeps_them_when_it_fails() {
    let (target, seen) = serve("m 1\n").await;
    let groups = Arc::new(Mutex::new((
        200u16,
        format!(r#"[{{"targets":["{target}"],"labels":{{"env":"sd"}}}}]"#),
    )));
    let g2 = groups.clone();
    let sd = Router::new().route(
        "/sd",
        route_get(move |h: HeaderMap| {
            let g = g2.clone();
            async move {
                let ok = h.get("authorization").is_some_and(|v| v == "Bearer sdtok");
                let (status, body) = g.lock().clone();
                let status = if ok { status } else { 401 };
                (
                    StatusCode::from_u16(status).unwrap(),
                    [("content-type", "application/json")],
                    body,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sd_addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, sd).await;
    });
    let m = ScrapeManager::new(Arc::new(VecFactory::default()), Arc::new(SystemClock)).unwrap();
    let cfg: ScrapeConfig = serde_saphyr::from_str(&format!(
        "job_name: t\nscrape_interval: 100ms\nmetrics_path: /custom/path\nbearer_token: x\nhttp_sd_configs:\n  - url: http://{sd_addr}/sd\n    refresh_interval: 100ms\n    authorization:\n      credentials: sdtok\n"
    ))
    .unwrap();
    m.apply(vec![cfg]).unwrap();
    let t = wait_up(&m).await;
    assert_eq!(t.labels.get("env"), Some("sd"));
    assert_eq!(
        t.discovered_labels.get("__meta_url"),
        Some(format!("http://{sd_addr}/sd").as_str())
    );
    assert!(!seen.auth.lock().is_empty());
    // The endpoint fails: the target stays.
    groups.lock().0 = 500;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(m.targets().len(), 1);
    // It answers no groups: the target goes.
    *groups.lock() = (200, "[]".into());
    for _ in 0..500 {
        if m.targets().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(m.targets().is_empty());
    m.shutdown().await;
}
