//! `alerting.alertmanagers`: Argus sends its alerts to a real Alertmanager
//! (Debian's `prometheus-alertmanager`, installed when missing) as
//! Prometheus would: with the external labels and `alert_relabel_configs`,
//! again after the Alertmanager restarted empty, and no longer once a reload
//! removed it.

use argus_model::SystemClock;
use argus_server::config::Config;
use argus_server::{run, ServerOptions};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn have(bin: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Installs Debian's `prometheus-alertmanager` when missing; panics with
/// the reason when that fails.
fn need_alertmanager() {
    if have("prometheus-alertmanager") {
        return;
    }
    let sudo = if have("sudo") { "sudo " } else { "" };
    let out = std::process::Command::new("sh")
        .args(["-c", &format!("{sudo}apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive {sudo}apt-get install -y -q --no-install-recommends prometheus-alertmanager")])
        .output();
    assert!(
        have("prometheus-alertmanager"),
        "prometheus-alertmanager is missing and could not be installed: {out:?}"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real Alertmanager on `port` with an empty store in `dir`; killed on drop.
struct Alertmanager(std::process::Child);

impl Alertmanager {
    fn start(dir: &Path, port: u16) -> Alertmanager {
        std::fs::create_dir_all(dir).unwrap();
        let cfg = dir.join("am.yml");
        std::fs::write(&cfg, "route: {receiver: none}\nreceivers: [{name: none}]\n").unwrap();
        let child = std::process::Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("prometheus-alertmanager starts");
        Alertmanager(child)
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_for<T, F, Fut>(what: &str, secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let t0 = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            t0.elapsed().as_secs() < secs,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The alert named `name` in the Alertmanager on `port`, once it is there.
async fn am_alert(port: u16, name: &str) -> Option<Value> {
    let v: Value = reqwest::get(format!("http://127.0.0.1:{port}/api/v2/alerts"))
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    v.as_array()?
        .iter()
        .find(|a| a["labels"]["alertname"] == name)
        .cloned()
}

async fn get_json(url: String) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

fn config_text(am_port: Option<u16>) -> String {
    let mut s = String::from(concat!(
        "web: {enable_lifecycle: true}\n",
        "global: {external_labels: {cluster: eu}, evaluation_interval: 1s}\n",
        "rule_files: [rules.yml]\n",
        "rules: {resend_delay: 2s}\n",
    ));
    if let Some(p) = am_port {
        s.push_str(&format!(
            concat!(
                "alerting:\n",
                "  alertmanagers:\n",
                "    - static_configs: [{{targets: ['127.0.0.1:{}']}}]\n",
                "      timeout: 2s\n",
                "  alert_relabel_configs:\n",
                "    - {{target_label: via, replacement: argus}}\n",
            ),
            p
        ));
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_an_external_alertmanager_and_come_back_after_its_restart() {
    need_alertmanager();
    let dir = tempfile::tempdir().unwrap();
    let am_port = free_port();
    let am = Alertmanager::start(&dir.path().join("am1"), am_port);

    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: g\n    rules:\n      - alert: AlwaysOn\n        expr: vector(1)\n        labels: {severity: page}\n        annotations: {summary: always on}\n",
    )
    .unwrap();
    let file = dir.path().join("argus.yml");
    std::fs::write(&file, config_text(Some(am_port))).unwrap();
    let listen: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let base = format!("http://{listen}");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(run(
        ServerOptions {
            data_dir: dir.path().join("data"),
            listen,
            config: Config::load(&file).unwrap(),
            run_agent: false,
            config_path: Some(file.clone()),
            alert_tx: None,
            write_gate: None,
        },
        Arc::new(SystemClock),
        async {
            let _ = stopped.await;
        },
    ));

    let alert = wait_for("the alert in the Alertmanager", 30, || {
        am_alert(am_port, "AlwaysOn")
    })
    .await;
    assert_eq!(alert["labels"]["cluster"], "eu", "external labels: {alert}");
    assert_eq!(alert["labels"]["via"], "argus", "alert relabeling: {alert}");
    assert_eq!(alert["labels"]["severity"], "page");
    assert_eq!(alert["annotations"]["summary"], "always on");
    assert!(
        alert["generatorURL"]
            .as_str()
            .unwrap_or("")
            .starts_with(&base),
        "{alert}"
    );
    let ams = get_json(format!("{base}/api/v1/alertmanagers")).await;
    assert_eq!(
        ams["data"]["activeAlertmanagers"][0]["url"],
        format!("http://127.0.0.1:{am_port}/api/v2/alerts")
    );
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "prometheus_notifications_sent_total{{alertmanager=\"http://127.0.0.1:{am_port}/api/v2/alerts\"}}"
        )),
        "{metrics}"
    );

    // The Alertmanager restarts with an empty store: the next resend
    // brings the alert back.
    drop(am);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let am = Alertmanager::start(&dir.path().join("am2"), am_port);
    wait_for("the alert after the Alertmanager's restart", 30, || {
        am_alert(am_port, "AlwaysOn")
    })
    .await;
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("prometheus_notifications_errors_total{alertmanager="),
        "the failed sends while it was down are counted: {metrics}"
    );

    // A reload without the Alertmanager stops sending to it.
    std::fs::write(&file, config_text(None)).unwrap();
    let r = reqwest::Client::new()
        .post(format!("{base}/-/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    let ams = get_json(format!("{base}/api/v1/alertmanagers")).await;
    assert_eq!(ams["data"]["activeAlertmanagers"], serde_json::json!([]));

    // A bad entry is refused by name and changes nothing.
    std::fs::write(
        &file,
        format!(
            "{}alerting:\n  alertmanagers:\n    - {{static_configs: [{{targets: ['x:1']}}], api_version: v1}}\n",
            config_text(None)
        ),
    )
    .unwrap();
    let r = reqwest::Client::new()
        .post(format!("{base}/-/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 500);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("alerting.alertmanagers[0]") && text.contains("api_version"),
        "{text}"
    );

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    drop(am);
}
