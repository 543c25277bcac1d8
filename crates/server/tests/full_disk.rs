//! A real full disk under the alert store: a small tmpfs mounted on `<data_dir>/alerting`
//! (the test runs as root, and fails, never skips, when the mount fails), the whole server
//! (`argus_server::run`) with a webhook receiver. Filling the disk makes `/-/ready` answer 503
//! with the reason, `/metrics` show `argus_alert_store_healthy 0`, and silences answer 503,
//! while alerts still reach the webhook; freeing the space heals the store without a restart,
//! and what happened meanwhile is on disk. A second start on the full disk serves the alerts
//! and silences the file holds.

mod common;
use argus_server::config::Config;
use argus_server::{run, ServerOptions};
use common::{fill, free_port, webhook, Hooks, Mount};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn notified(h: &Hooks) -> Vec<String> {
    h.lock()
        .unwrap()
        .iter()
        .flat_map(|p| p["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["status"] == "firing")
        .map(|a| a["labels"]["alertname"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn wait_for(what: &str, secs: u64, mut ok: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !ok().await {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "{what} did not happen within {secs}s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Server {
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), argus_server::ServerError>>,
    client: reqwest::Client,
}

impl Server {
    async fn start(data: &Path, hook_port: u16) -> Server {
        let am = data.join("alertmanager.yml");
        std::fs::write(
            &am,
            format!(
                "route: {{receiver: hook, group_by: ['...'], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}}\n\
                 receivers:\n  - name: hook\n    webhook_configs: [{{url: 'http://127.0.0.1:{hook_port}/'}}]\n\
                 argus: {{flap_damping: {{enabled: false}}}}\n"
            ),
        )
        .unwrap();
        let yaml = format!("alerting: {{config_file: '{}'}}\n", am.display());
        let config = Config::from_yaml_str(&yaml, "argus.yml").expect("config parses");
        let listen: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run(
            ServerOptions {
                data_dir: data.to_path_buf(),
                listen,
                config,
                run_agent: false,
                config_path: None,
                alert_tx: None,
                write_gate: None,
            },
            Arc::new(argus_model::SystemClock),
            async {
                let _ = stop_rx.await;
            },
        ));
        let s = Server {
            base: format!("http://{listen}"),
            stop,
            task,
            client: reqwest::Client::new(),
        };
        let start = Instant::now();
        while s.client.get(s.url("/-/healthy")).send().await.is_err() {
            assert!(!s.task.is_finished(), "the server stopped at start");
            assert!(start.elapsed() < Duration::from_secs(30), "no server");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        s
    }

    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.base)
    }

    async fn ready(&self) -> (u16, String) {
        let r = self.client.get(self.url("/-/ready")).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn metric(&self, name: &str) -> f64 {
        let body = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        body.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /metrics"))
    }

    /// Posts one firing alert with a bulky annotation (so the store needs new pages).
    async fn fire(&self, name: &str) {
        let r = self
            .client
            .post(self.url("/api/v2/alerts"))
            .json(&json!([{
                "labels": {"alertname": name},
                "annotations": {"summary": "x".repeat(4000)},
            }]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    async fn silence(&self, name: &str) -> reqwest::Response {
        let now = chrono::Utc::now();
        self.client
            .post(self.url("/api/v2/silences"))
            .json(&json!({
                "matchers": [{"name": "alertname", "value": name, "isRegex": false}],
                "startsAt": now.to_rfc3339(),
                "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
                "createdBy": "test",
                "comment": "disk full test",
            }))
            .send()
            .await
            .unwrap()
    }

    async fn alert_names(&self) -> Vec<String> {
        let v: Value = self
            .client
            .get(self.url("/api/v2/alerts"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut n: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["labels"]["alertname"].as_str().unwrap().to_string())
            .collect();
        n.sort();
        n
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// Posts alerts until the store reports the failure; returns their names.
async fn fire_until_failing(s: &Server, prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    for i in 0..100 {
        let name = format!("{prefix}{i}");
        s.fire(&name).await;
        names.push(name);
        if s.metric("argus_alert_store_healthy").await == 0.0 {
            return names;
        }
    }
    panic!("the alert store never noticed the full disk");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_reported_and_heals_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mount = Mount::tmpfs(&data.join("alerting"), "4m");
    let filler = mount.0.join("filler");
    let (hook_port, hooks) = webhook().await;
    let s = Server::start(&data, hook_port).await;

    s.fire("Before").await;
    wait_for("the first alert at the webhook", 20, async || {
        notified(&hooks).contains(&"Before".to_string())
    })
    .await;
    assert_eq!(s.ready().await.0, 200);
    assert_eq!(s.metric("argus_alert_store_healthy").await, 1.0);

    // The disk fills: the failure is reported, and alerts still flow.
    fill(&filler);
    let during = fire_until_failing(&s, "During").await;
    let (code, body) = s.ready().await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("alert store") && body.contains("disk full"),
        "{body}"
    );
    assert!(s.metric("argus_alert_store_errors_total").await >= 1.0);
    let last = during.last().unwrap().clone();
    wait_for(
        "an alert taken during the failure at the webhook",
        20,
        async || notified(&hooks).contains(&last),
    )
    .await;
    let r = s.silence("Before").await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let msg = r.text().await.unwrap();
    assert!(msg.contains("alert store unavailable: disk full"), "{msg}");
    let st: Value = s
        .client
        .get(s.url("/api/argus/v1/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["data"]["alertStore"]["healthy"], false, "{st}");
    assert!(!st["data"]["degraded"].as_array().unwrap().is_empty());

    // Space returns: the store heals by itself.
    std::fs::remove_file(&filler).unwrap();
    wait_for("/-/ready back to 200", 30, async || {
        s.ready().await.0 == 200
    })
    .await;
    assert_eq!(s.metric("argus_alert_store_healthy").await, 1.0);
    let r = s.silence("Before").await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    s.fire("After").await;
    wait_for(
        "an alert after the recovery at the webhook",
        20,
        async || notified(&hooks).contains(&"After".to_string()),
    )
    .await;
    let mut want: Vec<String> = during.clone();
    want.extend(["After".to_string(), "Before".to_string()]);
    want.sort();
    s.stop().await;

    // A start on a full disk serves what the file holds: every alert (those taken during
    // the failure included) and the silence.
    fill(&filler);
    let s = Server::start(&data, hook_port).await;
    assert_eq!(s.alert_names().await, want);
    let sil: Value = s
        .client
        .get(s.url("/api/v2/silences"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sil.as_array().unwrap().len(), 1, "{sil}");
    fire_until_failing(&s, "Again").await;
    std::fs::remove_file(&filler).unwrap();
    wait_for("/-/ready back to 200 after a full start", 30, async || {
        s.ready().await.0 == 200
    })
    .await;
    s.stop().await;
    drop(mount);
}
