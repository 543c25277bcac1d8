//! The write endpoints in front of the store's guards, through the whole
//! server: a sample with an impossible timestamp is refused alone (400 that
//! names it) while the rest of the request is stored, and a store that is
//! read-only for lack of disk space answers 503 with Retry-After while
//! queries and `/-/ready` keep working.

mod common;
use argus_model::ManualClock;
use common::{query_at, start_server, TestServer};
use std::sync::Arc;

const T0: i64 = 1_700_000_000_000;

async fn start(data: &std::path::Path, yaml: &str) -> TestServer {
    start_server(data, yaml, Arc::new(ManualClock::new(T0)), None).await
}

async fn import(base: &str, body: String) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/api/v1/import/prometheus"))
        .header("content-type", "text/plain; version=0.0.4")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_timestamps_are_refused_alone_and_the_store_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), "storage:\n  min_free_space: 0\n").await;
    let body = format!(
        "x 1 -9223372036854775808\nx 2 {T0}\nx 3 16725225600000\nx 4 {}\n",
        T0 * 1000
    );
    let r = import(&s.base, body).await;
    assert_eq!(r.status().as_u16(), 400);
    let text = r.text().await.unwrap();
    assert!(text.contains("accepted 1 samples, rejected 3"), "{text}");
    assert!(text.contains("-9223372036854775808"), "{text}");
    assert!(text.contains("2500-01-01T00:00:00.000Z"), "{text}");
    assert!(text.contains("outside the accepted window"), "{text}");
    let r = import(&s.base, format!("x 5 {}\n", T0 + 1000)).await;
    assert_eq!(r.status().as_u16(), 204, "{}", r.text().await.unwrap());
    let v = query_at(&s.base, "x", T0 + 1000).await;
    assert_eq!(v[0]["value"][1], "5");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_store_answers_503_with_retry_after_and_serves_queries() {
    let dir = tempfile::tempdir().unwrap();
    // No disk has this much free: the store is read-only from the start.
    let s = start(dir.path(), "storage:\n  min_free_space: 1000000TiB\n").await;
    let r = import(&s.base, format!("y 1 {T0}\n")).await;
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers()["retry-after"], "30");
    let text = r.text().await.unwrap();
    assert!(text.contains("read-only"), "{text}");
    assert!(text.contains("configured minimum"), "{text}");
    let ready = reqwest::get(format!("{}/-/ready", s.base)).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    assert!(ready.text().await.unwrap().contains("read-only"));
    let metrics = reqwest::get(format!("{}/metrics", s.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("argus_tsdb_read_only 1"), "{metrics}");
    assert!(query_at(&s.base, "y", T0).await.is_empty());
    s.stop().await;
}
