//! Log lines survive `kill -9`: pushes run concurrently from two senders, the
//! process is killed in the middle of them, and after the restart every line
//! whose push was answered 2xx is there, once. A flush to a chunk happens
//! during the run (`flush_size` is small), so lines come back from chunks and
//! from the WAL both.

mod common;

use common::{free_port, start_with_config};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn body(sender: usize, batch: usize) -> String {
    let ts = chrono::Utc::now().to_rfc3339();
    (0..10)
        .map(|i| {
            serde_json::json!({"ts": ts, "labels": {"service": "pay", "sender": sender.to_string()},
                "line": format!("sender {sender} batch {batch} line {i}")})
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn stored(base: &str) -> Vec<String> {
    let url = format!(
        "{base}/loki/api/v1/query_range?query={}&limit=100000&since=1h",
        argus_model::url::query_escape(r#"{service="pay"}"#)
    );
    let v: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["values"].as_array().unwrap().clone())
        .map(|e| e[1].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_log_lines_survive_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let yaml = "logs:\n  flush_size: 64KiB\n";
    let p = start_with_config("server", &data, free_port(), yaml);
    let base = p.url("");
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut senders = Vec::new();
    for sender in 0..2 {
        let (base, acked) = (base.clone(), acked.clone());
        senders.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for batch in 0.. {
                let r = client
                    .post(format!("{base}/api/v1/logs"))
                    .body(body(sender, batch))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        let mut a = acked.lock().unwrap();
                        a.extend(
                            (0..10).map(|i| format!("sender {sender} batch {batch} line {i}")),
                        );
                    }
                    _ => return,
                }
                // Paced, so a query can list every line of the run.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }));
    }
    // Let the senders run past a flush or two, then kill in the middle.
    let t0 = std::time::Instant::now();
    let chunks_dir = data.join("logs/chunks");
    let flushed = || std::fs::read_dir(&chunks_dir).map_or(0, |d| d.count()) > 0;
    while acked.lock().unwrap().len() < 2_000 || !flushed() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no flush within a minute"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    p.kill9();
    for s in senders {
        s.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    let p = start_with_config("server", &data, free_port(), yaml);
    let got = stored(&p.url("")).await;
    eprintln!(
        "{} lines acknowledged before the kill, {} stored after it",
        acked.len(),
        got.len()
    );
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "no line is stored twice");
    let missing: Vec<&String> = acked.iter().filter(|l| !unique.contains(l)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged lines are missing, such as {:?}",
        missing.len(),
        acked.len(),
        missing.first()
    );
    p.stop();
}
