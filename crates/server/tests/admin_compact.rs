//! The admin compaction leaves the out-of-order window in the head: a sender
//! that lags a few minutes behind is still accepted after it, as before it.

mod common;

use std::sync::Arc;

async fn import(base: &str, body: String) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/import/prometheus"))
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_senders_are_accepted_after_an_admin_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "web:\n  enable_admin_api: true\nstorage:\n  out_of_order_window: 10m\n";
    let s = common::start_server(dir.path(), yaml, Arc::new(argus_model::SystemClock), None).await;
    let now = chrono::Utc::now().timestamp_millis();
    let min = 60_000;
    let mut body = String::new();
    for k in (0..=30).rev() {
        body.push_str(&format!("fast{{}} 1 {}\n", now - k * min));
    }
    assert_eq!(import(&s.base, body).await.0, 204);
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/admin/tsdb/compact", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    // Three minutes behind: inside the window, accepted.
    let (code, text) = import(&s.base, format!("slow{{}} 1 {}\n", now - 3 * min)).await;
    assert_eq!(code, 204, "{text}");
    // Twenty minutes behind: older than the window, refused as before.
    let (code, _) = import(&s.base, format!("slower{{}} 1 {}\n", now - 20 * min)).await;
    assert_eq!(code, 400);
    // The compacted part answers from the block, the rest from the head.
    let v = common::query(&s.base, "count_over_time(fast[1h])").await;
    assert_eq!(v[0]["value"][1], "31");
    s.stop().await;
}
