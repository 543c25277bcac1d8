//! End to end: a rule fires on remote_written data, the alert goes through the
//! notification pipeline, and a webhook receives Alertmanager's payload; the
//! alert is visible in `/api/v2/alerts`.

mod common;

use common::{encode_write, post_write, ArgusProc};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A minimal webhook receiver: records each POST body and answers 200.
async fn webhook(bodies: Arc<Mutex<Vec<String>>>) -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let bodies = bodies.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(h) = text.find("\r\n\r\n") {
                        let len = text[..h]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= h + 4 + len {
                            bodies
                                .lock()
                                .expect("lock")
                                .push(text[h + 4..h + 4 + len].to_string());
                            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                            return;
                        }
                    }
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_alert_reaches_the_webhook() {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let hook_port = webhook(bodies.clone()).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(
        tmp.path().join("rules.yml"),
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: OvenTooHot\n        expr: oven_celsius > 250\n        labels: { severity: page }\n        annotations: { summary: 'Oven {{ $labels.oven }} at {{ $value }}' }\n",
    )
    .expect("write rules");
    std::fs::write(
        tmp.path().join("alertmanager.yml"),
        format!("route:\n  receiver: hook\n  group_wait: 0s\n  group_by: [alertname]\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: http://127.0.0.1:{hook_port}/\n"),
    )
    .expect("write am config");
    let cfg = tmp.path().join("argus.yml");
    std::fs::write(
        &cfg,
        "global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nalerting:\n  config_file: alertmanager.yml\n",
    )
    .expect("write config");
    let p = ArgusProc::start("server", &data, &["--config", cfg.to_str().expect("utf8")]);
    let c = reqwest::Client::new();
    let start = Instant::now();
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis() as i64;
        let body = encode_write(&[(
            vec![
                ("__name__", "oven_celsius".to_string()),
                ("oven", "a".to_string()),
            ],
            vec![(now, 300.0)],
        )]);
        let r = post_write(&c, &p.url("/api/v1/write"), body)
            .await
            .expect("write");
        assert!(r.status().is_success());
        if !bodies.lock().expect("lock").is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no webhook within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let first = bodies.lock().expect("lock")[0].clone();
    let j: serde_json::Value = serde_json::from_str(&first).expect("webhook json");
    assert_eq!(j["version"], "4");
    assert_eq!(j["status"], "firing");
    assert_eq!(j["alerts"][0]["labels"]["alertname"], "OvenTooHot");
    assert_eq!(j["alerts"][0]["labels"]["severity"], "page");
    assert_eq!(j["alerts"][0]["annotations"]["summary"], "Oven a at 300");
    let alerts: serde_json::Value = c
        .get(p.url("/api/v2/alerts"))
        .send()
        .await
        .expect("v2 alerts")
        .json()
        .await
        .expect("json");
    let names: Vec<&str> = alerts
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|a| a["labels"]["alertname"].as_str())
        .collect();
    assert!(names.contains(&"OvenTooHot"), "{alerts}");
    p.stop();
}
