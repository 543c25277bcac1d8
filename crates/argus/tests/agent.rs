//! `argus agent` serves node_exporter's core families from the live /proc, and
//! `argus up` stores the built-in agent's samples.

mod common;

use common::{free_port, http_status};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_serves_core_families_in_both_formats() {
    let port = free_port();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_argus"))
        .args([
            "agent",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--buffer-dir",
        ])
        .arg(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn agent");
    let start = Instant::now();
    while http_status(port, "/metrics") != Some(200) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "agent did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let c = reqwest::Client::new();
    let text = c
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    for fam in [
        "node_cpu_seconds_total",
        "node_memory_MemTotal_bytes",
        "node_memory_MemAvailable_bytes",
        "node_filesystem_size_bytes",
        "node_network_receive_bytes_total",
        "node_load1",
    ] {
        assert!(text.contains(&format!("# TYPE {fam} ")), "{fam} missing");
        assert!(
            text.lines()
                .any(|l| l.starts_with(fam) && !l.starts_with('#')),
            "no {fam} sample"
        );
    }
    assert!(text.contains("node_network_receive_bytes_total{device=\"lo\"}"));
    let om = c
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .header("Accept", "application/openmetrics-text;version=1.0.0")
        .send()
        .await
        .expect("scrape");
    assert!(om
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .starts_with("application/openmetrics-text"));
    assert!(om.text().await.expect("body").trim_end().ends_with("# EOF"));
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_stores_the_built_in_agents_samples() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let cfg = tmp.path().join("argus.yml");
    std::fs::write(&cfg, "agent:\n  interval: 1s\n").expect("write config");
    let p = common::ArgusProc::start("up", &data, &["--config", cfg.to_str().expect("utf8 path")]);
    let c = reqwest::Client::new();
    let start = Instant::now();
    loop {
        let j: serde_json::Value = c
            .get(p.url("/api/v1/query"))
            .query(&[(
                "query",
                // Its own job, and an `up` series as a scrape would write.
                "node_memory_MemTotal_bytes{job=\"argus-agent\"} and on (job, instance) (up == 1)",
            )])
            .send()
            .await
            .expect("query")
            .json()
            .await
            .expect("json");
        let n = j["data"]["result"].as_array().map(|a| a.len()).unwrap_or(0);
        if n == 1 {
            let v: f64 = j["data"]["result"][0]["value"][1]
                .as_str()
                .expect("value")
                .parse()
                .expect("float");
            assert!(v > 0.0);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no agent samples stored: {j}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    p.stop();
}
