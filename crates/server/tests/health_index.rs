//! Composite health rules end to end: the inputs are PromQL over imported
//! series, the index and its class are written as series, and a jump beyond
//! the index's own history reaches a real webhook receiver as a `warning`.

mod common;
use argus_model::ManualClock;
use common::{alertmanager_to_webhook, import_text, start_server, wait_for_alert, webhook};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

async fn import(base: &str, from: i64, to: i64, level: f64) {
    let mut body = String::new();
    let mut t = from;
    while t <= to {
        for (m, v) in [
            ("cpu_busy", level),
            ("mem_used", level),
            ("net_bps", level * 1.25e8),
        ] {
            body.push_str(&format!("{m}{{instance=\"db1\"}} {v} {t}\n"));
        }
        t += MIN;
    }
    import_text(base, body).await;
}

async fn query(base: &str, q: &str, t: i64) -> Value {
    reqwest::Client::new()
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", q), ("time", &format!("{}", t / 1000))])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jump_beyond_the_index_history_reaches_the_webhook_as_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (hook_port, hooks) = webhook().await;
    let am = alertmanager_to_webhook(dir.path(), hook_port);
    let yaml = format!(
        "alerting: {{config_file: '{}'}}\n\
         health_index_rules:\n\
         \x20 - name: NodeHealth\n\
         \x20   cpu: 'cpu_busy'\n\
         \x20   memory: 'mem_used'\n\
         \x20   network: 'net_bps'\n\
         \x20   min_history: 5\n\
         \x20   labels: {{team: infra}}\n",
        am.display()
    );
    let clock = Arc::new(ManualClock::new(T0));
    let srv = start_server(&dir.path().join("data"), &yaml, clock.clone(), None).await;
    import(&srv.base, T0 - 10 * MIN, T0 + 6 * MIN, 0.3).await;

    // The first evaluation ran at start, before the import; six more a
    // minute apart build the index's history.
    for k in 1..=6 {
        let t = T0 + k * MIN;
        clock.set(t);
        let t0 = Instant::now();
        loop {
            let v = query(&srv.base, "count_over_time(argus_health_index[1h])", t).await;
            let n: f64 = v["data"]["result"][0]["value"][1]
                .as_str()
                .map_or(0.0, |s| s.parse().unwrap());
            if n >= k as f64 {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(15),
                "no evaluation at minute {k}: {v}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let class = query(&srv.base, "argus_health_class == 1", T0 + 6 * MIN).await;
    assert_eq!(
        class["data"]["result"][0]["metric"]["class"], "normal",
        "{class}"
    );
    assert!(hooks.lock().unwrap().is_empty());

    // CPU, memory and network jump to 0.7.
    import(&srv.base, T0 + 7 * MIN, T0 + 7 * MIN, 0.7).await;
    clock.set(T0 + 7 * MIN);
    let alert = wait_for_alert(&hooks, "NodeHealth", 20).await;
    assert_eq!(alert["labels"]["class"], "warning", "{alert}");
    assert_eq!(alert["labels"]["instance"], "db1");
    assert_eq!(alert["labels"]["team"], "infra");
    assert_eq!(alert["annotations"]["index"], "0.7000", "{alert}");
    assert_eq!(alert["annotations"]["threshold"], "0.3000", "{alert}");
    assert!(
        alert["generatorURL"]
            .as_str()
            .unwrap()
            .contains("/ui/explorer?q=argus_health_index"),
        "{alert}"
    );
}
