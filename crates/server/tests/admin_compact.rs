//! The admin compaction leaves the out-of-order window in the head: a sender
//! that lags a few minutes behind is still accepted after it, as before it.
//! History older than the head goes to blocks: two weeks of minute data
//! imported into a running server are accepted in full and queryable.

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
    // Twenty minutes behind: before the head, so written to a block as
    // history (it used to be refused).
    let (code, text) = import(&s.base, format!("slower{{}} 1 {}\n", now - 20 * min)).await;
    assert_eq!(code, 204, "{text}");
    let v = common::query(&s.base, "count_over_time(slower[1h])").await;
    assert_eq!(v[0]["value"][1], "1");
    // The compacted part answers from the block, the rest from the head.
    let v = common::query(&s.base, "count_over_time(fast[1h])").await;
    assert_eq!(v[0]["value"][1], "31");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_weeks_of_history_import_into_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "web:\n  enable_admin_api: true\n";
    let s = common::start_server(dir.path(), yaml, Arc::new(argus_model::SystemClock), None).await;
    let now = chrono::Utc::now().timestamp_millis();
    let min = 60_000;
    // The server has live data and has cut its head.
    let mut live = String::new();
    for k in (0..=30).rev() {
        live.push_str(&format!("orders{{center=\"c1\"}} 100 {}\n", now - k * min));
    }
    assert_eq!(import(&s.base, live).await.0, 204);
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/admin/tsdb/compact?full=true", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    // Fourteen days of minute history for the live series and a new one,
    // sent a day at a time, oldest first.
    let first = now - 14 * 1440 * min;
    for day in 0..14 {
        let mut body = String::new();
        for k in 0..1440 {
            let t = first + (day * 1440 + k) * min;
            if t >= now - 31 * min {
                break;
            }
            for c in ["c1", "c2"] {
                body.push_str(&format!("orders{{center=\"{c}\"}} {} {t}\n", 90 + k % 20));
            }
        }
        let (code, text) = import(&s.base, body).await;
        assert_eq!(code, 204, "day {day}: {text}");
    }
    let want = (14 * 1440 - 31) as i64;
    let v = common::query(&s.base, "count_over_time(orders{center=\"c2\"}[15d])").await;
    assert_eq!(v[0]["value"][1], want.to_string());
    let v = common::query(&s.base, "count_over_time(orders{center=\"c1\"}[15d])").await;
    assert_eq!(v[0]["value"][1], (want + 31).to_string());
    // The store counts it, and a compaction merges it into one block per window.
    let m = reqwest::get(format!("{}/metrics", s.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = m
        .lines()
        .find(|l| l.starts_with("argus_tsdb_backfilled_samples_total"))
        .unwrap();
    let n: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(n, (2 * want) as f64, "{line}");
    s.stop().await;
}
