//! A business KPI with dimensions drops in one center, and its alert names
//! the center: a dynamic rule on the total (`orders_total`) with a
//! `localize:` key over the leaves (`orders{center, process}`, expected:
//! the same leaves five minutes earlier) fires on the drop; the alert that
//! reaches a real webhook receiver, and its incident, carry
//! `root_cause: center=c3` and the detail of the drop.

mod common;
use argus_model::ManualClock;
use common::{get_json, get_text, import_text, start_server, wait_for_alert, webhook};
use std::sync::Arc;
use std::time::{Duration, Instant};

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_of_a_drop_in_one_center_names_the_center() {
    let dir = tempfile::tempdir().unwrap();
    let (hook_port, hooks) = webhook().await;
    let am = common::alertmanager_to_webhook(dir.path(), hook_port);
    let yaml = format!(
        "alerting: {{config_file: '{}'}}\n\
         dynamic_rules:\n\
         \x20 - name: OrdersDrop\n\
         \x20   selector: 'orders_total'\n\
         \x20   detector: {{kind: business_volume, period: none, algorithm: ma, min_points: 300}}\n\
         \x20   localize:\n\
         \x20     by: [center, process]\n\
         \x20     actual: 'orders'\n\
         \x20     expected: 'orders offset 5m'\n",
        am.display()
    );
    let clock = Arc::new(ManualClock::new(T0));
    let srv = start_server(&dir.path().join("data"), &yaml, clock.clone(), None).await;

    // Thirty minutes of steady orders in 4 centers × 5 processes, then the
    // leaves of center c3 fall to 40 % at T0.
    let mut body = String::new();
    for i in 0..=30 {
        let t = T0 - (30 - i) * MIN;
        let mut total = 0.0;
        for c in 1..=4 {
            for p in 1..=5 {
                let base = 100.0 + (c * 7 + p * 3) as f64 + ((i + c + p) % 3) as f64;
                let v = if i == 30 && c == 3 { base * 0.4 } else { base };
                total += v;
                body.push_str(&format!(
                    "orders{{center=\"c{c}\",process=\"p{p}\"}} {v} {t}\n"
                ));
            }
        }
        body.push_str(&format!("orders_total {total} {t}\n"));
    }
    import_text(&srv.base, body).await;

    let alert = wait_for_alert(&hooks, "OrdersDrop", 30).await;
    assert_eq!(alert["annotations"]["root_cause"], "center=c3", "{alert}");
    let detail = alert["annotations"]["root_cause_detail"].as_str().unwrap();
    assert!(
        detail.starts_with("center=c3: ") && detail.contains("(-60 %)"),
        "{detail}"
    );

    // The incident carries it too.
    let t0 = Instant::now();
    loop {
        let list = get_json(format!("{}/api/argus/v1/incidents", srv.base)).await;
        let mut found = None;
        for i in list["data"].as_array().into_iter().flatten() {
            let id = i["id"].as_str().unwrap_or_default();
            let one = get_json(format!("{}/api/argus/v1/incidents/{id}", srv.base)).await;
            found = one["data"]["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|a| {
                    (a["labels"]["alertname"] == "OrdersDrop")
                        .then(|| (id.to_string(), a["annotations"]["root_cause"].clone()))
                });
        }
        if let Some((id, rc)) = found {
            assert_eq!(rc, "center=c3");
            // The incident page shows where.
            let page = get_text(format!("{}/ui/incidents/{id}", srv.base)).await;
            assert!(page.contains("Where: center=c3: "), "{page}");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no incident with the alert: {list}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    srv.stop().await;
}
