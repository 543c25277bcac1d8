//! NATS JetStream sources against the NATS server on 127.0.0.1:4222 (with
//! JetStream; `scripts/test.sh` starts `nats-server -js` when nothing listens
//! there, and these tests fail, never skip, without it). JSON lines and
//! CloudEvents published with `async-nats` arrive through durable consumers;
//! what is published while Argus is down arrives after it starts again, and
//! everything arrives exactly once; a message that is not JSON is dropped
//! without blocking the ones behind it; nothing is left unacknowledged.

mod common;
use argus_model::SystemClock;
use async_nats::jetstream;
use common::{get_json, start_server};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

const NATS: &str = "127.0.0.1:4222";

/// A client of the test NATS server.
async fn nats() -> jetstream::Context {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(3))
        .connect(NATS)
        .await
        .unwrap_or_else(|e| {
            panic!("no NATS server on {NATS} ({e}): run `nats-server -js -a 127.0.0.1 -p 4222` (scripts/test.sh starts it)")
        });
    jetstream::new(client)
}

/// A name no earlier run used.
fn unique() -> String {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}_{}", std::process::id(), ns % 1_000_000_000_000)
}

/// The lines a query returns, every one (duplicates kept).
async fn lines(base: &str, query: &str) -> Vec<String> {
    let v = get_json(format!(
        "{base}/loki/api/v1/query_range?query={}&limit=5000&since=1h",
        argus_model::url::query_escape(query)
    ))
    .await;
    let mut out = Vec::new();
    for s in v["data"]["result"].as_array().cloned().unwrap_or_default() {
        for e in s["values"].as_array().cloned().unwrap_or_default() {
            out.push(e[1].as_str().unwrap_or_default().to_string());
        }
    }
    out
}

/// Polls until `query` returns `n` lines, then checks no more come.
async fn exactly(base: &str, query: &str, n: usize) -> Vec<String> {
    let t0 = Instant::now();
    loop {
        let got = lines(base, query).await;
        if got.len() >= n {
            tokio::time::sleep(Duration::from_millis(1_500)).await;
            let again = lines(base, query).await;
            assert_eq!(again.len(), n, "{query}: more lines than sent: {again:?}");
            return again;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "{query}: wanted {n} lines, have {}: {got:?}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn publish_lines(js: &jetstream::Context, subject: &str, from: usize, to: usize) {
    for i in from..to {
        let body = format!(
            "{}\n{}\n",
            json!({"line": format!("order {i} paid"), "labels": {"service": "pay"}}),
            json!({"line": format!("order {i} shipped"), "labels": {"service": "pay"}})
        );
        js.publish(subject.to_string(), body.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
}

async fn publish_event(js: &jetstream::Context, subject: &str, id: &str) {
    let mut h = async_nats::HeaderMap::new();
    h.insert("Content-Type", "application/cloudevents+json");
    h.insert("Nats-Msg-Id", id);
    let ev = json!({"specversion": "1.0", "id": id, "source": "/argustest/shop",
        "type": "com.argustest.order.created", "data": {"order": id}});
    js.publish_with_headers(subject.to_string(), h, ev.to_string().into())
        .await
        .unwrap()
        .await
        .unwrap();
}

async fn ack_pending(js: &jetstream::Context, stream: &str, consumer: &str) -> (u64, usize) {
    let s = js.get_stream(stream).await.unwrap();
    let c = s.consumer_info(consumer).await.unwrap();
    (c.num_pending, c.num_ack_pending)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_events_arrive_exactly_once_across_restarts() {
    let js = nats().await;
    let run = unique();
    let (lstream, estream) = (format!("ARGUSTEST_L_{run}"), format!("ARGUSTEST_E_{run}"));
    let (lsub, esub) = (
        format!("argustest.{run}.logs"),
        format!("argustest.{run}.events"),
    );
    // The events stream exists beforehand; the logs stream is created by Argus.
    js.create_stream(jetstream::stream::Config {
        name: estream.clone(),
        subjects: vec![esub.clone()],
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| {
        panic!("the NATS server on {NATS} cannot create a stream ({e}); is JetStream on (`-js`)?")
    });
    let yaml = format!(
        "logs:\n  nats:\n    - stream: {lstream}\n      subjects: [{lsub}]\n      create_stream: true\n      labels: {{source: bus}}\n      ack_wait: 5s\n      batch: 7\n    - stream: {estream}\n      format: cloudevents\n      consumer: argus-events\n      labels: {{bus: nats}}\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let srv = start_server(dir.path(), &yaml, Arc::new(SystemClock), None).await;
    let t0 = Instant::now();
    while js.get_stream(&lstream).await.is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "Argus did not create the stream {lstream}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    publish_lines(&js, &lsub, 0, 10).await;
    js.publish(lsub.clone(), "this is not json".into())
        .await
        .unwrap()
        .await
        .unwrap();
    publish_lines(&js, &lsub, 10, 20).await;
    for i in 0..3 {
        publish_event(&js, &esub, &format!("ev-{i}")).await;
    }
    let q = r#"{source="bus", service="pay"}"#;
    let qe = r#"{type="com.argustest.order.created"}"#;
    exactly(&srv.base, q, 40).await;
    let evs = exactly(&srv.base, qe, 3).await;
    assert!(evs.iter().any(|l| l.contains("ev-1")), "{evs:?}");

    // Down: what is published now waits in the streams.
    srv.stop().await;
    publish_lines(&js, &lsub, 20, 35).await;
    for i in 3..5 {
        publish_event(&js, &esub, &format!("ev-{i}")).await;
    }
    let srv = start_server(dir.path(), &yaml, Arc::new(SystemClock), None).await;
    let got = exactly(&srv.base, q, 70).await;
    let want: BTreeSet<String> = (0..35)
        .flat_map(|i| [format!("order {i} paid"), format!("order {i} shipped")])
        .collect();
    let set: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(set.len(), got.len(), "duplicates: {got:?}");
    assert_eq!(set, want);
    let evs = exactly(&srv.base, qe, 5).await;
    let ids: BTreeSet<String> = evs
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, (0..5).map(|i| format!("ev-{i}")).collect());

    // Everything acknowledged (the poison message terminated).
    let t0 = Instant::now();
    loop {
        let l = ack_pending(&js, &lstream, "argus").await;
        let e = ack_pending(&js, &estream, "argus-events").await;
        if l == (0, 0) && e == (0, 0) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "pending, unacknowledged: logs {l:?}, events {e:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = reqwest::get(format!("{}/metrics", srv.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Counters restart with the process: 15 messages stored since.
    for want in [
        format!("argus_log_nats_messages_total{{source=\"{lstream}/argus\",result=\"stored\"}} 15"),
        format!("argus_log_nats_messages_total{{source=\"{estream}/argus-events\",result=\"stored\"}} 2"),
    ] {
        assert!(metrics.contains(&want), "{want} missing from:\n{metrics}");
    }
    srv.stop().await;
    js.delete_stream(&lstream).await.unwrap();
    js.delete_stream(&estream).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_server_that_is_down_does_not_stop_argus() {
    let port = common::free_port();
    let yaml =
        format!("logs:\n  nats:\n    - url: nats://127.0.0.1:{port}\n      stream: NOWHERE\n");
    let dir = tempfile::tempdir().unwrap();
    let srv = start_server(dir.path(), &yaml, Arc::new(SystemClock), None).await;
    let t0 = Instant::now();
    loop {
        let st = get_json(format!("{}/api/argus/v1/status", srv.base)).await;
        let degraded = st["data"]["degraded"].to_string();
        if degraded.contains("NOWHERE/argus") {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "no problem shown: {st}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    srv.stop().await;
}
