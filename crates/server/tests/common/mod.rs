//! Helpers shared by the server's integration tests: a free loopback port,
//! a JSON GET, PromQL instant queries against a running server, and a
//! webhook receiver that records every payload.
//!
//! ```ignore
//! mod common;
//! let port = common::free_port();
//! let up = common::query(&format!("http://127.0.0.1:{port}"), "up").await;
//! ```
// Each test binary uses its own subset of these.
#![allow(dead_code)]

use serde_json::Value;

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The payloads a [`webhook`] received, in order.
pub type Hooks = std::sync::Arc<std::sync::Mutex<Vec<Value>>>;

/// A webhook receiver on a free loopback port recording every payload
/// posted to `/`; returns its port.
pub async fn webhook() -> (u16, Hooks) {
    let got: Hooks = Default::default();
    let g2 = got.clone();
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |body: axum::Json<Value>| {
            let g = g2.clone();
            async move {
                g.lock().unwrap().push(body.0);
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(l, app).await });
    (port, got)
}

/// Writes `dir/alertmanager.yml`: every alert to the webhook on `port` at
/// once (no grouping wait, no flap damping); returns its path.
pub fn alertmanager_to_webhook(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let am = dir.join("alertmanager.yml");
    std::fs::write(
        &am,
        format!(
            "route: {{receiver: hook, group_wait: 0s, group_interval: 1s}}\n\
             receivers:\n  - name: hook\n    webhook_configs: [{{url: 'http://127.0.0.1:{port}/'}}]\n\
             argus: {{flap_damping: {{enabled: false}}}}\n"
        ),
    )
    .unwrap();
    am
}

/// The first alert named `name` the webhook received, waiting up to
/// `secs` seconds (panics with the payloads when none came).
pub async fn wait_for_alert(hooks: &Hooks, name: &str, secs: u64) -> Value {
    let t0 = std::time::Instant::now();
    loop {
        let found = hooks.lock().unwrap().iter().find_map(|p| {
            p["alerts"]
                .as_array()?
                .iter()
                .find(|a| a["labels"]["alertname"] == name)
                .cloned()
        });
        if let Some(a) = found {
            return a;
        }
        assert!(
            t0.elapsed().as_secs() < secs,
            "no {name} at the webhook within {secs} s: {:?}",
            hooks.lock().unwrap()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// `POST /api/v1/import/prometheus` with `body` (text exposition lines with
/// timestamps); asserts that the server took it.
pub async fn import_text(base: &str, body: String) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/import/prometheus"))
        .header("content-type", "text/plain; version=0.0.4")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "import: {}",
        r.text().await.unwrap()
    );
}

/// `GET url`, its body parsed as JSON (panics on a transport or parse error).
pub async fn get_json(url: String) -> Value {
    reqwest::get(&url).await.unwrap().json().await.unwrap()
}

/// `GET url`, its body as text (panics on a transport error).
pub async fn get_text(url: String) -> String {
    reqwest::get(&url).await.unwrap().text().await.unwrap()
}

/// `GET /api/v1/query` at the server's now; asserts success and returns the result vector.
pub async fn query(base: &str, q: &str) -> Vec<Value> {
    run_query(base, &[("query", q.to_string())]).await
}

/// `GET /api/v1/query` at `t_ms`; asserts success and returns the result vector.
pub async fn query_at(base: &str, q: &str, t_ms: i64) -> Vec<Value> {
    let t = format!("{}", t_ms as f64 / 1000.0);
    run_query(base, &[("query", q.to_string()), ("time", t)]).await
}

async fn run_query(base: &str, params: &[(&str, String)]) -> Vec<Value> {
    let r: Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/query"))
        .query(params)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "success", "{params:?}: {r}");
    r["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// An in-process server on a free port, stopped by [`TestServer::stop`].
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), argus_server::ServerError>>,
}

impl TestServer {
    /// Asks the server to stop and waits until it has (asserting a clean exit).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// Starts `argus_server::run` over `data` with config `yaml` on `clock` (and
/// the given write gate, or the config's), and waits for `/-/ready`.
pub async fn start_server(
    data: &std::path::Path,
    yaml: &str,
    clock: std::sync::Arc<dyn argus_model::Clock>,
    write_gate: Option<std::sync::Arc<argus_server::api::WriteGate>>,
) -> TestServer {
    let config =
        argus_server::config::Config::from_yaml_str(yaml, "argus.yml").expect("config parses");
    start_with(data, config, None, clock, write_gate).await
}

/// Starts the server with the configuration file `file`, which
/// `POST /-/reload` re-reads, and waits for `/-/ready`.
pub async fn start_server_with_file(
    data: &std::path::Path,
    file: &std::path::Path,
    clock: std::sync::Arc<dyn argus_model::Clock>,
) -> TestServer {
    let config = argus_server::config::Config::load(file).expect("config loads");
    start_with(data, config, Some(file.to_path_buf()), clock, None).await
}

async fn start_with(
    data: &std::path::Path,
    config: argus_server::config::Config,
    config_path: Option<std::path::PathBuf>,
    clock: std::sync::Arc<dyn argus_model::Clock>,
    write_gate: Option<std::sync::Arc<argus_server::api::WriteGate>>,
) -> TestServer {
    use std::time::{Duration, Instant};
    let listen: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(argus_server::run(
        argus_server::ServerOptions {
            data_dir: data.to_path_buf(),
            listen,
            config,
            run_agent: false,
            config_path,
            alert_tx: None,
            write_gate,
        },
        clock,
        async {
            let _ = rx.await;
        },
    ));
    let base = format!("http://{listen}");
    let t0 = Instant::now();
    while reqwest::get(format!("{base}/-/ready"))
        .await
        .map(|r| r.status().as_u16())
        .ok()
        != Some(200)
    {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    TestServer { base, stop, task }
}

/// Unmounts the tmpfs when the test ends, however it ends.
pub struct Mount(pub std::path::PathBuf);

impl Mount {
    /// Mounts a tmpfs of `size` (`4m`) on `at`; the test needs root and fails, never skips, without it.
    pub fn tmpfs(at: &std::path::Path, size: &str) -> Mount {
        std::fs::create_dir_all(at).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mounting a tmpfs on {} failed (this test needs root): {}",
            at.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Mount(at.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Fills the file system holding `path` until it reports no space.
pub fn fill(path: &std::path::Path) {
    let mut f = std::fs::File::create(path).unwrap();
    use std::io::Write;
    let chunk = vec![0xA5u8; 64 << 10];
    loop {
        match f.write_all(&chunk) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling the disk: {e}"),
        }
    }
    let _ = f.sync_all();
}
