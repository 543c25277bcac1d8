//! A log metric end to end, on a manual clock: payment log lines with the
//! data center in their text (logfmt) are pushed minute by minute; the rule
//! `business_volume` counts the successful ones per center each minute into
//! the time-series store; a dynamic rule of kind `business_volume` learns the
//! series and raises an alert when one center's volume drops, and only that
//! center's. A rule whose answer would have too many series writes nothing
//! and says so.

mod common;
use argus_model::ManualClock;
use common::{get_json, query_at, start_server};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MIN: i64 = 60_000;
/// A minute boundary.
const T0: i64 = 1_800_000_000_000 - 1_800_000_000_000 % MIN;

const YAML: &str = r#"
logs:
  metrics:
    - record: business_volume
      expr: 'sum by (center) (count_over_time({app="pay"} | logfmt | status="ok" [1m]))'
      interval: 1m
      delay: 10s
    - record: payments_by_order
      expr: 'sum by (order) (count_over_time({app="pay"} | logfmt [1m]))'
      max_series: 50
dynamic_rules:
  - name: BusinessVolumeDrop
    selector: business_volume
    detector: {kind: business_volume, period: none, algorithm: ma, min_points: 60}
"#;

/// Lines of minute `m` (from T0) for `center`: `n` successful payments and
/// one failed, spread over the minute.
fn minute(m: i64, center: &str, n: i64, order: &mut u64) -> String {
    let mut out = String::new();
    for i in 0..=n {
        let ts = T0 + m * MIN + i * (MIN / (n + 2));
        let status = if i == n { "failed" } else { "ok" };
        *order += 1;
        let line =
            format!("center={center} status={status} order=o-{order} amount=12.50 latency_ms=87");
        out.push_str(&serde_json::json!({"ts": (ts * 1_000_000).to_string(), "labels": {"app": "pay"}, "line": line}).to_string());
        out.push('\n');
    }
    out
}

fn normal(m: i64, center: &str) -> i64 {
    30 + (m * if center == "bj" { 7 } else { 3 }) % 5
}

async fn push(base: &str, body: String) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/logs"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
}

async fn drop_alerts(base: &str) -> Vec<Value> {
    get_json(format!("{base}/api/v2/alerts"))
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a["labels"]["alertname"] == "BusinessVolumeDrop")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_in_one_center_raises_a_dynamic_alert() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let srv = start_server(dir.path(), YAML, clock.clone(), None).await;
    let base = srv.base.clone();
    let mut order = 0u64;

    // 100 normal minutes, pushed ten minutes at a time before the clock
    // passes them (lines more than 10 minutes ahead of the clock are refused).
    for slice in 0..10 {
        clock.set(T0 + slice * 10 * MIN);
        let mut body = String::new();
        for m in slice * 10..(slice + 1) * 10 {
            for c in ["bj", "sh"] {
                body.push_str(&minute(m, c, normal(m, c), &mut order));
            }
        }
        push(&base, body).await;
        clock.set(T0 + (slice + 1) * 10 * MIN + 11_000);
    }
    // Every boundary up to T0+100m is evaluated; minute 49's lines are
    // counted at the boundary T0+50m.
    let t0 = Instant::now();
    let at = T0 + 50 * MIN;
    let stamp = (at / 1000).to_string();
    // The store may hold both series from earlier boundaries before the
    // boundary at `at` is written: wait until both samples are stamped `at`.
    let got = loop {
        let stamps = query_at(&base, "timestamp(business_volume)", at).await;
        let fresh = stamps
            .iter()
            .filter(|s| s["value"][1].as_str() == Some(stamp.as_str()))
            .count();
        let v = query_at(&base, "business_volume", at).await;
        if fresh == 2 && v.len() == 2 {
            break v;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no business_volume series: {v:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for s in &got {
        let c = s["metric"]["center"].as_str().unwrap();
        assert_eq!(s["value"][1], normal(49, c).to_string(), "{s}");
    }
    assert!(
        drop_alerts(&base).await.is_empty(),
        "no alert on normal volume"
    );

    // One order per series would be unbounded: refused, reported, nothing written.
    let value = |m: &str, name: &str| -> i64 {
        m.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(-1)
    };
    let t0 = Instant::now();
    let m = loop {
        let m = reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if value(
            &m,
            "argus_log_metric_evaluations_total{record=\"payments_by_order\"}",
        ) >= 99
        {
            break m;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the rules did not catch up: {m}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        value(
            &m,
            "argus_log_metric_series_limit_hits_total{record=\"payments_by_order\"}"
        ) >= 90
    );
    assert!(query_at(&base, "payments_by_order", T0 + 50 * MIN)
        .await
        .is_empty());
    let status = get_json(format!("{base}/api/argus/v1/status")).await;
    assert!(
        status["data"]["degraded"]
            .to_string()
            .contains("payments_by_order would have more than 50 series"),
        "{status}"
    );

    // Then bj's volume falls to a tenth while sh carries on.
    clock.set(T0 + 100 * MIN);
    let mut body = String::new();
    for m in 100..108 {
        body.push_str(&minute(m, "bj", 3, &mut order));
        body.push_str(&minute(m, "sh", normal(m, "sh"), &mut order));
    }
    push(&base, body).await;
    clock.set(T0 + 108 * MIN + 11_000);
    let t0 = Instant::now();
    let alerts = loop {
        let a = drop_alerts(&base).await;
        if !a.is_empty() {
            break a;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "no drop alert");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        alerts.iter().all(|a| a["labels"]["center"] == "bj"),
        "{alerts:?}"
    );
    assert_eq!(alerts[0]["labels"]["kind"], "business_volume");

    srv.stop().await;
}

/// `logs.metrics` is reloaded; the rest of `logs:` needs a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_metrics_are_reloaded_and_other_logs_keys_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("argus.yml");
    std::fs::write(&file, "web: {enable_lifecycle: true}\n").unwrap();
    let srv = common::start_server_with_file(
        &dir.path().join("data"),
        &file,
        Arc::new(argus_model::SystemClock),
    )
    .await;
    let base = srv.base.clone();
    let reload = || async {
        let r = reqwest::Client::new()
            .post(format!("{base}/-/reload"))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    let metrics = || async {
        reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    std::fs::write(
        &file,
        "web: {enable_lifecycle: true}\nlogs:\n  metrics:\n    - {record: pay_lines, expr: 'sum(count_over_time({app=\"pay\"} [1m]))'}\n",
    )
    .unwrap();
    assert_eq!(reload().await.0, 200);
    assert!(metrics()
        .await
        .contains("argus_log_metric_evaluations_total{record=\"pay_lines\"}"));
    // A broken rule is refused, naming it; the rule in force stays.
    std::fs::write(
        &file,
        "web: {enable_lifecycle: true}\nlogs:\n  metrics:\n    - {record: pay_lines, expr: '{app=\"pay\"}'}\n",
    )
    .unwrap();
    let (status, body) = reload().await;
    assert_eq!(status, 500);
    assert!(body.contains("logs.metrics[0] (pay_lines)"), "{body}");
    assert!(metrics().await.contains("record=\"pay_lines\""));
    // Another key of logs: needs a restart.
    std::fs::write(
        &file,
        "web: {enable_lifecycle: true}\nlogs: {retention: 2d}\n",
    )
    .unwrap();
    let (status, body) = reload().await;
    assert_eq!(status, 500);
    assert!(body.contains("logs"), "{body}");
    assert!(metrics().await.contains("record=\"pay_lines\""));
    srv.stop().await;
}
