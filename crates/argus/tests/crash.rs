//! Crash safety: every sample acknowledged with a 2xx before a `kill -9` is
//! there, with its exact value and timestamp, after a restart.

mod common;

use common::{encode_write, post_write, query_matrix, ArgusProc};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

type Acked = Arc<Mutex<BTreeMap<(String, i64), f64>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_samples_survive_kill_9() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let acked: Acked = Arc::default();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;
    // Far enough back that thousands of one-second rounds stay behind the clock.
    let base_t: i64 = now_ms - 2 * 86_400_000;
    let mut next_round: i64 = 0;

    // Three crash cycles: write from 4 concurrent senders, kill -9 mid-stream, restart.
    for cycle in 0..3 {
        let proc_ = ArgusProc::start("server", &data, &[]);
        let url = proc_.url("/api/v1/write");
        let client = reqwest::Client::new();
        let mut senders = Vec::new();
        for w in 0..4 {
            let (client, url, acked) = (client.clone(), url.clone(), acked.clone());
            let first_round = next_round;
            senders.push(tokio::spawn(async move {
                let mut round = first_round;
                loop {
                    let t = base_t + round * 1000;
                    let batch: Vec<common::WriteSeries> = (0..50)
                        .map(|s| {
                            let id = format!("w{w}s{s}");
                            // Values with full mantissas, so any rounding would show.
                            let v = (round as f64 + 0.1) * std::f64::consts::PI / (s as f64 + 1.0);
                            (
                                vec![("__name__", "crash_metric".to_string()), ("id", id)],
                                vec![(t, v)],
                            )
                        })
                        .collect();
                    let body = encode_write(&batch);
                    match post_write(&client, &url, body).await {
                        Ok(r) if r.status().is_success() => {
                            let mut a = acked.lock().expect("lock");
                            for (labels, samples) in &batch {
                                a.insert((labels[1].1.clone(), samples[0].0), samples[0].1);
                            }
                        }
                        Ok(r) => panic!("unexpected status {} in cycle {cycle}", r.status()),
                        Err(_) => return, // the server died: stop sending
                    }
                    round += 1;
                }
            }));
        }
        // Let writes flow, then kill -9 while they are in flight.
        tokio::time::sleep(std::time::Duration::from_millis(700 + 300 * cycle as u64)).await;
        proc_.kill9();
        for s in senders {
            s.await.expect("sender task");
        }
        next_round = acked
            .lock()
            .expect("lock")
            .keys()
            .map(|(_, t)| (t - base_t) / 1000 + 1)
            .max()
            .unwrap_or(0)
            + 1000;
    }

    let expected = acked.lock().expect("lock").clone();
    assert!(
        expected.len() > 1000,
        "too few acknowledged samples to mean anything: {}",
        expected.len()
    );

    let proc_ = ArgusProc::start("server", &data, &[]);
    let client = reqwest::Client::new();
    let end_s = (base_t + next_round * 1000) as f64 / 1000.0 + 10.0;
    let got = query_matrix(&client, &proc_.url(""), "crash_metric[30d]", end_s).await;
    let mut found: BTreeMap<(String, i64), f64> = BTreeMap::new();
    for (m, vals) in got {
        let id = m
            .get("id")
            .and_then(|v| v.as_str())
            .expect("id label")
            .to_string();
        for (t, v) in vals {
            found.insert((id.clone(), t), v);
        }
    }
    let mut missing = 0;
    for (k, v) in &expected {
        match found.get(k) {
            Some(g) => assert_eq!(g.to_bits(), v.to_bits(), "value changed for {k:?}"),
            None => missing += 1,
        }
    }
    assert_eq!(
        missing,
        0,
        "{missing} of {} acknowledged samples were lost",
        expected.len()
    );
    proc_.stop();
}
