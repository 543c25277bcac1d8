//! Events through a running server on a manual clock: four hours of a normal
//! mix (orders, payments, routine Kubernetes scheduling) are posted as
//! CloudEvents batches; the event-mix model trains on them from the log
//! store; then a burst of Kubernetes `BackOff` warnings, posted as Kubernetes
//! `Event` objects, raises `AbnormalEventMix` naming that type, which
//! resolves once the mix is normal again. Events are searchable as log
//! lines, and a batch with a bad event keeps the good ones.

mod common;
use argus_model::ManualClock;
use common::{get_json, start_server};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MIN: i64 = 60_000;
const T0: i64 = 1_800_000_000_000 - 1_800_000_000_000 % (5 * MIN);

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The normal events of the five minutes from `start` (ms).
fn normal(start: i64, k: i64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut add = |ty: &str, source: &str, n: i64| {
        for i in 0..n {
            let t = start + i * (5 * MIN) / n;
            out.push(
                json!({"specversion": "1.0", "id": format!("{ty}-{start}-{i}"), "source": source,
                "type": ty, "time": rfc3339(t), "data": {"n": i}}),
            );
        }
    };
    add("com.shop.order.created", "/shop", 40 + (k * 7) % 9);
    add("com.shop.payment.done", "/pay", 30 + (k * 5) % 7);
    add("io.k8s.event.Scheduled", "/k8s", 2 + k % 3);
    out
}

async fn post(base: &str, ct: &str, body: String) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/api/v1/events"))
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn mix_alerts(base: &str, active: bool) -> Vec<Value> {
    get_json(format!(
        "{base}/api/v2/alerts?active={active}&inhibited=true&silenced=true"
    ))
    .await
    .as_array()
    .cloned()
    .unwrap_or_default()
    .into_iter()
    .filter(|a| a["labels"]["alertname"] == "AbnormalEventMix")
    .collect()
}

async fn metric(base: &str, name: &str) -> i64 {
    let m = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    m.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(-1)
}

async fn wait_until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t0 = Instant::now();
    while !f().await {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abnormal_event_mix_raises_an_alert_naming_the_type() {
    let dir = tempfile::tempdir().unwrap();
    // Four hours of history lie behind the clock when the server starts.
    let clock = Arc::new(ManualClock::new(T0 + 240 * MIN + 1));
    let srv = start_server(dir.path(), "", clock.clone(), None).await;
    let base = srv.base.clone();
    for k in 0..48 {
        let batch: Vec<Value> = normal(T0 + k * 5 * MIN, k);
        let r = post(
            &base,
            "application/cloudevents-batch+json",
            Value::from(batch).to_string(),
        )
        .await;
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    }
    // The events are log lines of the streams {source, type, kind}.
    let q = argus_model::url::query_escape(r#"sum(count_over_time({kind="business"} [4h]))"#);
    let v = get_json(format!("{base}/loki/api/v1/query?query={q}")).await;
    assert!(
        v["data"]["result"][0]["value"][1]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > 3_000,
        "{v}"
    );

    // The first training, at the start, found no history; the next try,
    // five minutes later, finds four hours.
    clock.set(T0 + 245 * MIN + 1);
    wait_until("the event-mix model to train", || async {
        metric(&base, "argus_event_mix_trained").await == 1
    })
    .await;

    // Two normal windows, then two with a storm of BackOff warnings.
    for k in 49..53 {
        let start = T0 + k * 5 * MIN;
        clock.set(start);
        let batch = normal(start, k);
        let r = post(
            &base,
            "application/cloudevents-batch+json",
            Value::from(batch).to_string(),
        )
        .await;
        assert_eq!(r.status(), 204);
        if k >= 51 {
            let items: Vec<Value> = (0..60)
                .map(|i| json!({"apiVersion": "v1", "kind": "Event",
                    "metadata": {"name": format!("api-7f9.{k}{i}"), "namespace": "shop"},
                    "involvedObject": {"kind": "Pod", "name": "api-7f9", "namespace": "shop"},
                    "reason": "BackOff", "type": "Warning", "message": "Back-off restarting failed container",
                    "lastTimestamp": rfc3339(start + i * 4_000)}))
                .collect();
            let list = json!({"apiVersion": "v1", "kind": "EventList", "items": items});
            let r = post(&base, "application/json", list.to_string()).await;
            assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
        }
    }
    clock.set(T0 + 53 * 5 * MIN + 1);
    wait_until("the abnormal mix alert", || async {
        !mix_alerts(&base, true).await.is_empty()
    })
    .await;
    let a = &mix_alerts(&base, true).await[0];
    let summary = a["annotations"]["summary"].as_str().unwrap();
    assert!(summary.contains("io.k8s.event.BackOff"), "{summary}");
    assert_eq!(a["labels"]["severity"], "warning");

    // Normal again for two windows: the alert resolves.
    for k in 53..56 {
        let start = T0 + k * 5 * MIN;
        clock.set(start);
        let batch = normal(start, k);
        post(
            &base,
            "application/cloudevents-batch+json",
            Value::from(batch).to_string(),
        )
        .await;
    }
    clock.set(T0 + 56 * 5 * MIN + 1);
    wait_until("the alert to resolve", || async {
        mix_alerts(&base, true).await.is_empty()
    })
    .await;

    // A batch with one bad event keeps the good one and names the bad one.
    let bad = json!([{"specversion": "1.0", "id": "x1", "source": "/ci", "type": "com.ci.deploy.finished"},
                     {"specversion": "0.3", "id": "x2", "source": "/ci", "type": "com.ci.deploy.finished"}]);
    let r = post(&base, "application/cloudevents-batch+json", bad.to_string()).await;
    assert_eq!(r.status(), 400);
    let msg = r.text().await.unwrap();
    assert!(msg.starts_with("1 accepted, 1 refused"), "{msg}");
    let q = argus_model::url::query_escape(r#"{kind="deploy"}"#);
    let v = get_json(format!("{base}/loki/api/v1/query_range?query={q}&since=1h")).await;
    assert_eq!(
        v["data"]["result"][0]["stream"]["type"], "com.ci.deploy.finished",
        "{v}"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_shows_on_the_incident_of_its_service() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_server(dir.path(), "", Arc::new(argus_model::SystemClock), None).await;
    let base = srv.base.clone();
    let now = chrono::Utc::now();
    let at = |s: i64| {
        (now + chrono::Duration::seconds(s)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    // A deploy of checkout four minutes before its alert, and one of another service.
    let deploys = json!([
        {"specversion": "1.0", "id": "d1", "source": "/ci", "type": "com.ci.deploy.finished",
         "time": at(-300), "service": "checkout", "data": {"version": "v42"}},
        {"specversion": "1.0", "id": "d2", "source": "/ci", "type": "com.ci.deploy.finished",
         "time": at(-200), "service": "search", "data": {"version": "v7"}}
    ]);
    let r = post(
        &base,
        "application/cloudevents-batch+json",
        deploys.to_string(),
    )
    .await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let alert = json!([{"labels": {"alertname": "HighErrorRate", "service": "checkout"},
                        "startsAt": at(-60), "endsAt": at(600)}]);
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v2/alerts"))
        .json(&alert)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t0 = Instant::now();
    let id = loop {
        let v = get_json(format!("{base}/api/argus/v1/incidents")).await;
        if let Some(i) = v["data"][0]["id"].as_str() {
            break i.to_string();
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "no incident: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Gathering the evidence gathers the changes too.
    let ev = reqwest::get(format!("{base}/api/argus/v1/incidents/{id}/evidence"))
        .await
        .unwrap();
    assert_eq!(ev.status(), 200, "{}", ev.text().await.unwrap());
    let inc = get_json(format!("{base}/api/argus/v1/incidents/{id}")).await;
    let changes = inc["data"]["changes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(changes.len(), 1, "{inc}");
    assert_eq!(changes[0]["service"], "checkout");
    assert_eq!(
        changes[0]["summary"],
        "deploy: com.ci.deploy.finished: version v42"
    );
    let page = reqwest::get(format!("{base}/ui/incidents/{id}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("deploy: com.ci.deploy.finished: version v42"),
        "the page lists the change"
    );
    srv.stop().await;
}
