//! A real full disk under the incident store (a small tmpfs on
//! `<data_dir>/incidents`): alerts keep being grouped into incidents in
//! memory, the status banner says incidents cannot be saved, a person's
//! acknowledgement answers 503 (it was not saved), and once space returns
//! everything is saved without a restart: a restart shows every incident.

mod common;
use argus_model::SystemClock;
use common::{fill, get_json, start_server, Mount};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn post_alert(base: &str, service: &str) {
    let now = chrono::Utc::now();
    let at = |s: i64| {
        (now + chrono::Duration::seconds(s)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let body = json!([{"labels": {"alertname": "Down", "service": service}, "startsAt": at(-10), "endsAt": at(3600)}]);
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v2/alerts"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn count(base: &str) -> usize {
    let v = get_json(format!("{base}/api/argus/v1/incidents")).await;
    v["data"].as_array().map_or(0, Vec::len)
}

async fn degraded(base: &str) -> bool {
    let v = get_json(format!("{base}/api/argus/v1/status")).await;
    v["data"]["degraded"].as_array().is_some_and(|d| {
        d.iter().any(|s| {
            s.as_str()
                .is_some_and(|s| s.starts_with("Incidents cannot be saved"))
        })
    })
}

async fn ack(base: &str, id: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{base}/api/argus/v1/incidents/{id}/ack"))
        .header("X-Argus-User", "alice")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_under_incidents_is_reported_and_heals() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mount = Mount::tmpfs(&data.join("incidents"), "4m");
    let filler = mount.0.join("filler");
    let srv = start_server(&data, "", Arc::new(SystemClock), None).await;
    let base = srv.base.clone();
    post_alert(&base, "svc-0").await;

    // Full: new alerts still become incidents, in memory, and the banner says why.
    fill(&filler);
    let t0 = Instant::now();
    let mut n = 1;
    while !degraded(&base).await {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the full disk was never reported"
        );
        post_alert(&base, &format!("svc-{n}")).await;
        n += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let t0 = Instant::now();
    while count(&base).await < n {
        assert!(t0.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let list = get_json(format!("{base}/api/argus/v1/incidents")).await;
    let id = list["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        ack(&base, &id).await,
        503,
        "an unsaved acknowledgement is not a success"
    );

    // Space again: saved without a restart, and the acknowledgement works.
    std::fs::remove_file(&filler).unwrap();
    let t0 = Instant::now();
    while degraded(&base).await {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the store did not heal"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(ack(&base, &id).await, 200);
    srv.stop().await;

    let srv = start_server(&data, "", Arc::new(SystemClock), None).await;
    assert_eq!(count(&srv.base).await, n, "every incident was saved");
    let one = get_json(format!("{}/api/argus/v1/incidents/{id}", srv.base)).await;
    assert_eq!(one["data"]["state"], "acknowledged");
    srv.stop().await;
    drop(mount);
}
