//! Helpers shared by the binary's integration tests: start `argus` as a real
//! process on a free loopback port and talk to it over HTTP.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `argus` process.
pub struct ArgusProc {
    pub child: Child,
    pub port: u16,
    pub data_dir: PathBuf,
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

impl ArgusProc {
    /// Starts `argus <sub> --data-dir DIR --listen 127.0.0.1:PORT [extra...]` and waits for /-/ready.
    pub fn start(sub: &str, data_dir: &Path, extra: &[&str]) -> ArgusProc {
        let port = free_port();
        Self::start_on(sub, data_dir, port, extra)
    }

    pub fn start_on(sub: &str, data_dir: &Path, port: u16, extra: &[&str]) -> ArgusProc {
        let log = std::fs::File::create(data_dir.with_extension(format!("{port}.log")))
            .expect("create log file");
        let child = Command::new(env!("CARGO_BIN_EXE_argus"))
            .arg(sub)
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .env("ARGUS_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn argus");
        let mut p = ArgusProc {
            child,
            port,
            data_dir: data_dir.to_path_buf(),
        };
        p.wait_ready(Duration::from_secs(60));
        p
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    fn wait_ready(&mut self, limit: Duration) {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(
                    self.data_dir.with_extension(format!("{}.log", self.port)),
                )
                .unwrap_or_default();
                panic!("argus exited early with {status}; log:\n{log}");
            }
            if http_status(self.port, "/-/ready") == Some(200) {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "argus did not become ready within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, no chance to flush anything.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::forget(self);
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        std::mem::forget(self);
    }
}

impl Drop for ArgusProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal blocking GET returning the status code, without extra dependencies.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let line = std::str::from_utf8(&buf[..n]).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One series for [`encode_write`]: its labels and its `(t_ms, value)` samples.
pub type WriteSeries<'a> = (Vec<(&'a str, String)>, Vec<(i64, f64)>);

/// Encodes a remote_write request body (protobuf + snappy).
pub fn encode_write(series: &[WriteSeries<'_>]) -> Vec<u8> {
    use argus_model::prompb::{Label, Sample, TimeSeries, WriteRequest};
    use prost::Message;
    let req = WriteRequest {
        timeseries: series
            .iter()
            .map(|(labels, samples)| TimeSeries {
                labels: labels
                    .iter()
                    .map(|(n, v)| Label {
                        name: n.to_string(),
                        value: v.clone(),
                    })
                    .collect(),
                samples: samples
                    .iter()
                    .map(|(t, v)| Sample {
                        value: *v,
                        timestamp: *t,
                    })
                    .collect(),
            })
            .collect(),
        metadata: vec![],
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .expect("snappy encode")
}

pub async fn post_write(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(url)
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .await
}

/// Runs a raw `query` and returns (labels, [(t_ms, value)]) per series of a matrix result.
pub async fn query_matrix(
    client: &reqwest::Client,
    base: &str,
    q: &str,
    time_s: f64,
) -> Vec<(serde_json::Map<String, serde_json::Value>, Vec<(i64, f64)>)> {
    let resp: serde_json::Value = client
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", q), ("time", &time_s.to_string())])
        .send()
        .await
        .expect("query request")
        .json()
        .await
        .expect("query json");
    assert_eq!(resp["status"], "success", "{resp}");
    resp["data"]["result"]
        .as_array()
        .expect("result array")
        .iter()
        .map(|s| {
            let m = s["metric"].as_object().cloned().unwrap_or_default();
            let vals = s["values"]
                .as_array()
                .expect("values")
                .iter()
                .map(|p| {
                    let t = (p[0].as_f64().expect("ts") * 1000.0).round() as i64;
                    let v: f64 = p[1].as_str().expect("value string").parse().expect("float");
                    (t, v)
                })
                .collect();
            (m, vals)
        })
        .collect()
}

/// Writes `yaml` next to `data_dir` and starts `argus <sub>` with it as `--config`.
pub fn start_with_config(sub: &str, data_dir: &Path, port: u16, yaml: &str) -> ArgusProc {
    let cfg = data_dir.with_extension("yml");
    std::fs::write(&cfg, yaml).expect("write config");
    let cfg = cfg.to_str().expect("utf-8 path").to_string();
    ArgusProc::start_on(
        sub,
        data_dir,
        port,
        &["--config", &cfg, "--web.enable-lifecycle"],
    )
}
