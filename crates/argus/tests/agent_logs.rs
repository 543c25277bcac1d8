//! `argus agent` tails a file into `argus server`: rotation by rename while
//! lines are written, a SIGKILL of the agent mid-stream and a restart, and
//! the server down for a while; every line arrives exactly once.

mod common;

use common::{free_port, http_status, ArgusProc};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn start_agent(cfg: &Path, buffer: &Path, port: u16, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("agent log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_argus"))
        .args([
            "agent",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--config",
        ])
        .arg(cfg)
        .arg("--buffer-dir")
        .arg(buffer)
        .env("ARGUS_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn agent");
    let start = Instant::now();
    while http_status(port, "/metrics") != Some(200) {
        assert!(child.try_wait().expect("wait").is_none(), "agent exited");
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "agent did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn write_lines(f: &mut std::fs::File, from: usize, to: usize, pause_every: usize) {
    for i in from..to {
        writeln!(f, "line {i:05} of the tail test").expect("write");
        if pause_every > 0 && i % pause_every == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Line text → how many times the server holds it.
async fn stored(c: &reqwest::Client, base: &str) -> BTreeMap<String, usize> {
    let j: serde_json::Value = c
        .get(format!("{base}/loki/api/v1/query_range"))
        .query(&[
            ("query", "{filename=~\".+\"}"),
            ("limit", "10000"),
            ("since", "1h"),
        ])
        .send()
        .await
        .expect("query")
        .json()
        .await
        .expect("json");
    let mut out = BTreeMap::new();
    for s in j["data"]["result"].as_array().into_iter().flatten() {
        assert_eq!(s["stream"]["job"], "app", "{s}");
        for v in s["values"].as_array().into_iter().flatten() {
            *out.entry(v[1].as_str().expect("line").to_string())
                .or_insert(0) += 1;
        }
    }
    out
}

async fn wait_for_all(c: &reqwest::Client, base: &str, n: usize) {
    let start = Instant::now();
    loop {
        let got = stored(c, base).await;
        if got.len() >= n || start.elapsed() > Duration::from_secs(40) {
            let want: Vec<String> = (0..n)
                .map(|i| format!("line {i:05} of the tail test"))
                .collect();
            let missing: Vec<&String> = want.iter().filter(|l| !got.contains_key(*l)).collect();
            let repeated: Vec<(&String, &usize)> = got.iter().filter(|(_, k)| **k != 1).collect();
            assert!(
                missing.is_empty(),
                "{} lines missing, first {:?}",
                missing.len(),
                missing.first()
            );
            assert!(
                repeated.is_empty(),
                "lines stored more than once: {repeated:?}"
            );
            assert_eq!(got.len(), n, "unexpected lines");
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tailed_lines_arrive_once_across_rotation_kill_and_server_outage() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let server_port = free_port();
    let server = ArgusProc::start_on("server", &data, server_port, &[]);
    let base = server.url("");
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    let app = logs.join("app.log");
    let cfg = tmp.path().join("agent.yml");
    std::fs::write(
        &cfg,
        format!(
            "collectors: {{gpu: false, process: false, filesystem: false}}\n\
             logs:\n  url: {base}\n  poll_interval: 100ms\n  batch_lines: 50\n  max_backoff_secs: 1\n  \
             start_at: beginning\n  files:\n    - paths: [{}]\n      labels: {{job: app}}\n",
            app.display()
        ),
    )
    .expect("config");
    let buffer = tmp.path().join("buffer");
    let agent_port = free_port();
    let agent_log = tmp.path().join("agent.log");
    let mut agent = start_agent(&cfg, &buffer, agent_port, &agent_log);
    let c = reqwest::Client::new();

    let mut f = std::fs::File::create(&app).expect("create");
    write_lines(&mut f, 0, 300, 10);
    // Rotation by rename: the writer goes on in the old file for a moment.
    std::fs::rename(&app, logs.join("app.log.1")).expect("rename");
    write_lines(&mut f, 300, 350, 10);
    let mut f = std::fs::File::create(&app).expect("create");
    write_lines(&mut f, 350, 500, 10);
    // SIGKILL mid-stream, while lines are being written and shipped.
    agent.kill().expect("kill");
    agent.wait().expect("wait");
    write_lines(&mut f, 500, 700, 0);
    let mut agent = start_agent(&cfg, &buffer, agent_port, &agent_log);
    write_lines(&mut f, 700, 800, 10);
    wait_for_all(&c, &base, 800).await;

    // The server goes away: lines wait in the agent's queue on disk.
    server.kill9();
    write_lines(&mut f, 800, 1000, 0);
    let start = Instant::now();
    loop {
        let m = c
            .get(format!("http://127.0.0.1:{agent_port}/metrics"))
            .send()
            .await
            .expect("scrape")
            .text()
            .await
            .expect("body");
        let value = |name: &str| {
            m.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        if value("argus_agent_log_queue_batches") > 0.0
            && value("argus_agent_log_send_failures_total") > 0.0
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "nothing queued while the server is down:\n{m}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let server = ArgusProc::start_on("server", &data, server_port, &[]);
    wait_for_all(&c, &base, 1000).await;
    let _ = agent.kill();
    let _ = agent.wait();
    server.stop();
}
