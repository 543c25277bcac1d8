//! remote_write out against real receivers: VictoriaMetrics and Prometheus
//! (`--web.enable-remote-write-receiver`), as Debian packages them at
//! `/usr/bin`. Every sample Argus acknowledged must reach both, exactly
//! once, across a 10 s outage of the receivers and across a `kill -9` of
//! Argus. Skipped (with a note) where the receivers are not installed.

mod common;

use common::{encode_write, free_port, post_write, start_with_config};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const METRIC: &str = "rw_out_test";
const SERIES: usize = 20;

fn installed(bin: &str) -> bool {
    Path::new("/usr/bin").join(bin).exists()
}

/// A receiver process on a fixed port and data directory, restartable.
struct Peer {
    kind: &'static str,
    port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
}

impl Peer {
    fn new(kind: &'static str, root: &Path) -> Peer {
        let dir = root.join(kind);
        std::fs::create_dir_all(&dir).expect("peer dir");
        let mut p = Peer {
            kind,
            port: free_port(),
            dir,
            child: None,
        };
        p.start();
        p
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.with_extension("log"))
            .expect("peer log");
        let mut cmd = if self.kind == "vm" {
            let mut c = Command::new("/usr/bin/victoria-metrics");
            c.arg(format!("-httpListenAddr=127.0.0.1:{}", self.port))
                .arg(format!("-storageDataPath={}", self.dir.display()))
                .arg("-retentionPeriod=100y")
                // Exact counts: a window resent after a crash is a duplicate.
                .arg("-dedup.minScrapeInterval=1ms")
                .arg("-search.disableCache");
            c
        } else {
            let cfg = self.dir.with_extension("yml");
            std::fs::write(&cfg, "global: {}\n").expect("prometheus config");
            let mut c = Command::new("/usr/bin/prometheus");
            c.arg(format!("--config.file={}", cfg.display()))
                .arg(format!("--storage.tsdb.path={}", self.dir.display()))
                .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
                .arg("--web.enable-remote-write-receiver");
            c
        };
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn receiver");
        self.child = Some(child);
        let ready = if self.kind == "vm" {
            "/health"
        } else {
            "/-/ready"
        };
        let start = Instant::now();
        while common::http_status(self.port, ready) != Some(200) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{} did not become ready",
                self.kind
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM and wait: a clean stop, as an operator's restart.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }

    fn write_url(&self) -> String {
        format!("http://127.0.0.1:{}/api/v1/write", self.port)
    }

    /// Samples of the test metric with the external label, counted by the receiver.
    async fn count(&self, client: &reqwest::Client, at_s: f64) -> Option<u64> {
        let q = format!("sum(count_over_time({METRIC}{{cluster=\"it\"}}[6h]))");
        let r: serde_json::Value = client
            .get(format!("http://127.0.0.1:{}/api/v1/query", self.port))
            .query(&[("query", q.as_str()), ("time", &at_s.to_string())])
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let v = r["data"]["result"].get(0)?["value"][1].as_str()?;
        v.parse::<f64>().ok().map(|f| f as u64)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn config(peers: &[&Peer]) -> String {
    let mut y = String::from("global:\n  external_labels: {cluster: it}\nremote_write:\n");
    for p in peers {
        y.push_str(&format!(
            "  - url: {}\n    name: {}\n    queue_config: {{batch_send_deadline: 500ms, min_backoff: 50ms, max_backoff: 1s, max_samples_per_send: 500}}\n",
            p.write_url(),
            p.kind
        ));
    }
    y
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// Pushes `rounds` rounds of one sample per series into Argus; returns how
/// many samples were acknowledged (stops early, without panicking, when
/// Argus is gone).
async fn push(
    client: &reqwest::Client,
    argus: &str,
    base_t: i64,
    rounds: std::ops::Range<i64>,
) -> u64 {
    let mut acked = 0;
    for round in rounds {
        let t = base_t + round * 1000;
        let batch: Vec<common::WriteSeries> = (0..SERIES)
            .map(|s| {
                (
                    vec![("__name__", METRIC.to_string()), ("s", s.to_string())],
                    vec![(t, round as f64 + s as f64 / 100.0)],
                )
            })
            .collect();
        match post_write(client, argus, encode_write(&batch)).await {
            Ok(r) if r.status().is_success() => acked += SERIES as u64,
            Ok(r) => panic!("Argus answered {}", r.status()),
            Err(_) => return acked,
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    acked
}

/// Waits until every receiver has `want` samples, or `want + slack` (a
/// request cut short by a kill may have been stored unacknowledged).
async fn wait_counts(client: &reqwest::Client, peers: &[&Peer], want: u64, slack: u64, at_s: f64) {
    let start = Instant::now();
    loop {
        let mut got = Vec::new();
        for p in peers {
            got.push(p.count(client, at_s).await.unwrap_or(0));
        }
        let first = got[0];
        if (first == want || first == want + slack) && got.iter().all(|&g| g == first) {
            eprintln!("acknowledged {want} (+{slack} possibly stored); receivers have {got:?}");
            return;
        }
        assert!(
            got.iter().all(|&g| g <= want + slack),
            "more samples than acknowledged (duplicates?): {got:?} of {want}"
        );
        if start.elapsed() > Duration::from_secs(90) {
            panic!("receivers have {got:?} of {want} samples after 90 s");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn receivers_installed() -> bool {
    let ok = installed("victoria-metrics") && installed("prometheus");
    if !ok {
        eprintln!("skipped: /usr/bin/victoria-metrics and /usr/bin/prometheus are needed");
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_outage_loses_nothing() {
    if !receivers_installed() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut vm = Peer::new("vm", tmp.path());
    let mut prom = Peer::new("prom", tmp.path());
    let data = tmp.path().join("argus");
    std::fs::create_dir_all(&data).expect("mkdir");
    let argus = start_with_config("server", &data, free_port(), &config(&[&vm, &prom]));
    let url = argus.url("/api/v1/write");
    let client = reqwest::Client::new();
    let base_t = now_ms() - 30 * 60_000;
    let mut acked = push(&client, &url, base_t, 0..300).await;
    vm.stop();
    prom.stop();
    let down = Instant::now();
    while down.elapsed() < Duration::from_secs(10) {
        let r = (acked / SERIES as u64) as i64;
        acked += push(&client, &url, base_t, r..r + 50).await;
    }
    vm.start();
    prom.start();
    let r = (acked / SERIES as u64) as i64;
    acked += push(&client, &url, base_t, r..r + 300).await;
    let at_s = (base_t + 3 * 3_600_000) as f64 / 1000.0;
    wait_counts(&client, &[&vm, &prom], acked, 0, at_s).await;
    let metrics = client
        .get(argus.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    assert!(
        metrics.contains("argus_remote_storage_samples_retried_total{remote_name=\"vm\""),
        "{metrics}"
    );
    argus.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_of_argus_loses_nothing() {
    if !receivers_installed() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let vm = Peer::new("vm", tmp.path());
    let prom = Peer::new("prom", tmp.path());
    let data = tmp.path().join("argus");
    std::fs::create_dir_all(&data).expect("mkdir");
    let port = free_port();
    let cfg = config(&[&vm, &prom]);
    let client = reqwest::Client::new();
    let base_t = now_ms() - 30 * 60_000;
    let argus = start_with_config("server", &data, port, &cfg);
    let url = argus.url("/api/v1/write");
    let pusher = {
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move { push(&client, &url, base_t, 0..100_000).await })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    argus.kill9();
    let mut acked = pusher.await.expect("pusher");
    assert!(acked > 0);
    // Restart on the same data directory: the queues resume from their
    // saved positions; the samples acknowledged before the kill are in the WAL.
    let argus = start_with_config("server", &data, port, &cfg);
    let r = (acked / SERIES as u64) as i64 + 1;
    acked += push(&client, &url, base_t, r..r + 200).await;
    let at_s = (base_t + 3 * 3_600_000) as f64 / 1000.0;
    wait_counts(&client, &[&vm, &prom], acked, SERIES as u64, at_s).await;
    argus.stop();
}
