//! Pushback and limits on ingest, through the whole server: a write that
//! finds every ingest slot busy past `limits.write_queue_timeout` gets 503
//! with Retry-After (the slot is held by the test through the server's
//! write gate, so nothing races), a series over a label limit is refused
//! with 400 while a good series of the same remote_write request is stored,
//! and too many alerts in one POST are refused.

mod common;
use argus_model::prompb::{Label, Sample, TimeSeries, WriteRequest};
use argus_model::ManualClock;
use argus_server::api::WriteGate;
use argus_server::config::Config;
use common::{query_at, start_server, TestServer};
use prost::Message;
use std::sync::Arc;

const T0: i64 = 1_700_000_000_000;

async fn start(data: &std::path::Path, yaml: &str, gate: Option<Arc<WriteGate>>) -> TestServer {
    start_server(data, yaml, Arc::new(ManualClock::new(T0)), gate).await
}

fn series(labels: &[(&str, &str)], t: i64, v: f64) -> TimeSeries {
    TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: vec![Sample {
            value: v,
            timestamp: t,
        }],
    }
}

async fn remote_write(base: &str, ts: Vec<TimeSeries>) -> reqwest::Response {
    let raw = WriteRequest {
        timeseries: ts,
        metadata: vec![],
    }
    .encode_to_vec();
    let body = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
    reqwest::Client::new()
        .post(format!("{base}/api/v1/write"))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "snappy")
        .header("x-prometheus-remote-write-version", "0.1.0")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn metric(base: &str, name: &str) -> String {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} missing from /metrics"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_finds_no_slot_in_time_gets_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "storage:\n  min_free_space: 0\nlimits:\n  max_concurrent_writes: 1\n  write_queue_timeout: 100ms\n";
    let cfg = Config::from_yaml_str(yaml, "argus.yml").unwrap();
    let gate = Arc::new(cfg.limits.write_gate());
    let s = start(dir.path(), yaml, Some(gate.clone())).await;

    // The only slot is taken: the write waits 100 ms and is refused.
    let held = gate.enter().await.unwrap();
    let r = remote_write(&s.base, vec![series(&[("__name__", "x")], T0, 1.0)]).await;
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let text = r.text().await.unwrap();
    assert_eq!(
        text,
        "too many concurrent writes: 1 are in progress and this one waited 100ms; retry later\n"
    );
    assert_eq!(
        metric(&s.base, "argus_write_requests_throttled_total").await,
        "argus_write_requests_throttled_total 1"
    );
    assert_eq!(
        metric(&s.base, "argus_write_requests_in_flight").await,
        "argus_write_requests_in_flight 1"
    );
    // Health checks do not queue behind writes.
    let r = reqwest::get(format!("{}/-/healthy", s.base)).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // Once the slot is free the same write is stored.
    drop(held);
    let r = remote_write(&s.base, vec![series(&[("__name__", "x")], T0, 1.0)]).await;
    assert_eq!(r.status().as_u16(), 204, "{:?}", r.text().await);
    assert_eq!(query_at(&s.base, "x", T0).await.len(), 1);
    assert_eq!(
        metric(&s.base, "argus_write_requests_in_flight").await,
        "argus_write_requests_in_flight 0"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_over_label_limits_are_refused_alone() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), "storage:\n  min_free_space: 0\n", None).await;
    let names: Vec<String> = (0..100).map(|i| format!("l{i:03}")).collect();
    let mut wide: Vec<(&str, &str)> = vec![("__name__", "wide")];
    wide.extend(names.iter().map(|n| (n.as_str(), "v")));
    let huge = "x".repeat(1 << 20);
    let r = remote_write(
        &s.base,
        vec![
            series(&wide, T0, 1.0),
            series(&[("__name__", "good"), ("job", "a")], T0, 2.0),
            series(&[("__name__", "long"), ("q", &huge)], T0, 3.0),
        ],
    )
    .await;
    assert_eq!(r.status().as_u16(), 400);
    let text = r.text().await.unwrap();
    assert!(
        text.len() < 4096,
        "the answer echoes the series: {} bytes",
        text.len()
    );
    assert!(
        text.contains("accepted 1 samples, rejected 2 samples"),
        "{text}"
    );
    assert!(text.contains("wide{l000=\"v\""), "{text}");
    assert!(
        text.contains("101 labels, more than the limit of 64"),
        "{text}"
    );
    assert!(text.contains("long{q=\"xxx"), "{text}");
    assert!(
        text.contains("1048576 bytes long, more than the limit of 16384 bytes"),
        "{text}"
    );
    assert_eq!(query_at(&s.base, "good", T0).await.len(), 1);
    assert!(query_at(&s.base, "wide", T0).await.is_empty());
    assert!(query_at(&s.base, "long", T0).await.is_empty());

    // The text import stops reading a line past the limit and names it.
    let mut line = String::from("wide2{");
    for i in 0..100_000 {
        line.push_str(&format!("l{i}=\"v\","));
    }
    line.push_str("} 1\nok2 1\n");
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/import/prometheus", s.base))
        .body(line)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("accepted 1 samples, rejected 1 samples"),
        "{text}"
    );
    assert!(text.contains("line 1, column"), "{text}");
    assert!(
        text.contains("metric wide2 has more than 64 labels"),
        "{text}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_alerts_in_one_post_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), "storage:\n  min_free_space: 0\n", None).await;
    let post = |body: serde_json::Value| {
        let url = format!("{}/api/v2/alerts", s.base);
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let many: Vec<serde_json::Value> = (0..10_001)
        .map(|i| serde_json::json!({"labels": {"alertname": format!("a{i}")}}))
        .collect();
    let r = post(serde_json::Value::Array(many)).await;
    assert_eq!(r.status().as_u16(), 400);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("10001 posted, at most 10000 are accepted per POST"),
        "{text}"
    );
    let long = "v".repeat(20_000);
    let r = post(serde_json::json!([
        {"labels": {"alertname": "big", "x": long}},
        {"labels": {"alertname": "fine"}}
    ]))
    .await;
    assert_eq!(r.status().as_u16(), 400);
    // Alertmanager's API answers errors as a JSON string.
    let text: String = r.json().await.unwrap();
    assert!(text.len() < 2048, "{} bytes", text.len());
    assert!(
        text.contains(
            "the value of label \"x\" is 20000 bytes long, more than the limit of 16384 bytes"
        ),
        "{text}"
    );
    s.stop().await;
}
