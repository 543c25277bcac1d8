//! Exhaustion rules end to end: the configuration's rule, a leaking series
//! imported into the store, the prediction written as a series, and the
//! alert with its predicted time at a real webhook receiver, linked to the
//! series in the explorer.

mod common;
use argus_model::ManualClock;
use common::{alertmanager_to_webhook, import_text, start_server, wait_for_alert, webhook};
use serde_json::Value;
use std::sync::Arc;

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leak_reaches_the_webhook_with_its_predicted_time() {
    let dir = tempfile::tempdir().unwrap();
    let (hook_port, hooks) = webhook().await;
    let am = alertmanager_to_webhook(dir.path(), hook_port);
    let yaml = format!(
        "alerting: {{config_file: '{}'}}\n\
         exhaustion_rules:\n\
         \x20 - name: DiskFillsSoon\n\
         \x20   selector: 'disk_free_bytes{{mount=\"/data\"}}'\n\
         \x20   trend: leaking\n\
         \x20   limit: 0\n\
         \x20   horizon: 4h\n\
         \x20   interval: 1m\n\
         \x20   labels: {{severity: warning}}\n",
        am.display()
    );
    let clock = Arc::new(ManualClock::new(T0));
    let srv = start_server(&dir.path().join("data"), &yaml, clock.clone(), None).await;

    // 3 GB free an hour ago, losing 1 GB an hour: empty in about 2 hours.
    let mut body = String::new();
    for i in 0..=60 {
        let t = T0 - (60 - i) * MIN;
        let v = 3e9 - i as f64 / 60.0 * 1e9;
        body.push_str(&format!("disk_free_bytes{{mount=\"/data\"}} {v} {t}\n"));
    }
    import_text(&srv.base, body).await;
    // The rule's next evaluation is a minute later.
    clock.advance(MIN);

    let alert = wait_for_alert(&hooks, "DiskFillsSoon", 20).await;
    assert_eq!(alert["status"], "firing");
    assert_eq!(alert["labels"]["mount"], "/data");
    assert_eq!(alert["labels"]["metric"], "disk_free_bytes");
    assert_eq!(alert["labels"]["severity"], "warning");
    let eta: i64 = alert["annotations"]["eta_seconds"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((6_600..=7_400).contains(&eta), "about 2 hours: {alert}");
    assert!(
        alert["annotations"]["predicted_at"]
            .as_str()
            .unwrap()
            .starts_with("2023-11-15T00:1"),
        "{alert}"
    );
    assert!(
        alert["generatorURL"]
            .as_str()
            .unwrap()
            .contains("/ui/explorer?q=disk_free_bytes"),
        "{alert}"
    );

    let v: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/query", srv.base))
        .query(&[
            ("query", "argus_exhaustion_eta_seconds"),
            ("time", &format!("{}", (T0 + MIN) / 1000)),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = &v["data"]["result"][0];
    assert_eq!(r["metric"]["rule"], "DiskFillsSoon", "{v}");
    let secs: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
    assert!((6_600.0..=7_400.0).contains(&secs), "{v}");
}
