//! A real full disk under the log store (a small tmpfs on `<data_dir>/logs`):
//! a push answers 503 with `Retry-After` and stores nothing, the status
//! banner says log lines cannot be stored, and once space returns pushes are
//! stored again without a restart; the lines stored before are all there.

mod common;
use argus_model::SystemClock;
use common::{fill, get_json, start_server, Mount};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn push(base: &str, line: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/api/v1/logs?service=disk"))
        .header("content-type", "text/plain")
        .body(format!("{line}\n"))
        .send()
        .await
        .unwrap()
}

async fn banner(base: &str) -> String {
    get_json(format!("{base}/api/argus/v1/status")).await["data"]["degraded"].to_string()
}

async fn stored(base: &str) -> usize {
    let q = argus_model::url::query_escape(r#"{service="disk"}"#);
    let v = get_json(format!(
        "{base}/loki/api/v1/query_range?query={q}&limit=1000&since=1h"
    ))
    .await;
    v["data"]["result"].as_array().map_or(0, |r| {
        r.iter()
            .map(|s| s["values"].as_array().map_or(0, Vec::len))
            .sum()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_under_logs_refuses_pushes_and_heals() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mount = Mount::tmpfs(&data.join("logs"), "2m");
    let filler = mount.0.join("filler");
    let srv = start_server(&data, "", Arc::new(SystemClock), None).await;
    let base = srv.base.clone();
    assert_eq!(push(&base, "before the disk filled").await.status(), 204);

    fill(&filler);
    // A line larger than what may be left in the last partial page.
    let big = "x".repeat(200_000);
    let t0 = Instant::now();
    let r = loop {
        let r = push(&base, &big).await;
        if r.status() != 204 {
            break r;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "pushes never failed on a full disk"
        );
    };
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.text().await.unwrap().starts_with("nothing stored"));
    assert!(banner(&base).await.contains("Log lines cannot be stored"));
    let before = stored(&base).await;

    // Space returns: the next push is stored, the banner clears, no restart.
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(push(&base, "after the space returned").await.status(), 204);
    assert!(!banner(&base).await.contains("Log lines cannot be stored"));
    assert_eq!(stored(&base).await, before + 1);
    srv.stop().await;
    drop(mount);
}
