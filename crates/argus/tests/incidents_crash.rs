//! Incidents survive `kill -9`: alerts taken by the pipeline are in an
//! incident after the crash (saved, or grouped again from the alerts the
//! pipeline kept), an acknowledgement answered 200 is kept, and the same
//! alerts sent again after the restart join the same incident.

mod common;

use common::{free_port, start_with_config};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn at(offset_s: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(offset_s))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn alerts() -> Value {
    let a = |name: &str, svc: &str| json!({"labels": {"alertname": name, "service": svc}, "startsAt": at(-60), "endsAt": at(3600)});
    json!([
        a("Slow", "web"),
        a("Errors", "api"),
        a("Saturated", "db"),
        a("DiskWarn", "billing")
    ])
}

async fn incidents(base: &str) -> Vec<Value> {
    let v: Value = reqwest::get(format!("{base}/api/argus/v1/incidents"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"].as_array().cloned().unwrap_or_default()
}

async fn wait_for(base: &str, n: usize) -> Vec<Value> {
    let t0 = Instant::now();
    loop {
        let l = incidents(base).await;
        if l.len() == n {
            return l;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "{l:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incidents_survive_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let yaml = "incidents:\n  topology:\n    - {caller: web, callee: api}\n    - {caller: api, callee: db}\n";
    let client = reqwest::Client::new();

    let p = start_with_config("server", &data, free_port(), yaml);
    let base = p.url("");
    let r = client
        .post(format!("{base}/api/v2/alerts"))
        .json(&alerts())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let list = wait_for(&base, 2).await;
    let fault = list
        .iter()
        .find(|i| i["alerts"] == 3)
        .expect("one incident of three alerts");
    let id = fault["id"].as_str().unwrap().to_string();
    let r = client
        .post(format!("{base}/api/argus/v1/incidents/{id}/ack"))
        .header("X-Argus-User", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    p.kill9();

    // Killed right after alerts it may not have saved yet: a second crash
    // straight after posting more.
    let p = start_with_config("server", &data, free_port(), yaml);
    let base = p.url("");
    let list = wait_for(&base, 2).await;
    let same = list
        .iter()
        .find(|i| i["id"] == id.as_str())
        .expect("the incident is back");
    assert_eq!(same["state"], "acknowledged");
    assert_eq!(same["owner"], "alice");
    assert_eq!(same["alerts"], 3);
    let late = json!([{"labels": {"alertname": "Down", "service": "db", "severity": "critical"}, "startsAt": at(-5), "endsAt": at(3600)}]);
    let r = client
        .post(format!("{base}/api/v2/alerts"))
        .json(&late)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    p.kill9();

    let p = start_with_config("server", &data, free_port(), yaml);
    let base = p.url("");
    // The alert taken just before the crash is in the fault's incident,
    // whether it was saved or grouped again from the pipeline's store.
    let t0 = Instant::now();
    loop {
        let list = incidents(&base).await;
        if let Some(i) = list
            .iter()
            .find(|i| i["id"] == id.as_str() && i["alerts"] == 4)
        {
            assert_eq!(list.len(), 2, "no incident is duplicated: {list:?}");
            assert_eq!(i["severity"], "critical");
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "{list:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Sent again, the same alerts stay where they are.
    let r = client
        .post(format!("{base}/api/v2/alerts"))
        .json(&alerts())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let list = incidents(&base).await;
    assert_eq!(list.len(), 2, "{list:?}");
    p.stop();
}
