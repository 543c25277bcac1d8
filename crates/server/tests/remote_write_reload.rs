//! `remote_write:` is a reload section: a reload that adds an entry starts
//! its queue (the samples written after it reach the receiver, with
//! `global.external_labels`), `/api/v1/status/config` shows the list, and a
//! reload that removes it stops the queue.

use argus_server::{config::Config, run, ServerOptions};
use argus_tsdb::{AppendStats, Appender, SampleError, TsdbError};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

#[derive(Default)]
struct Count(Vec<String>);
impl Appender for Count {
    fn append_pairs(&mut self, p: &[(&str, &str)], _: i64, _: f64) -> Result<(), SampleError> {
        self.0.push(format!("{p:?}"));
        Ok(())
    }
    fn commit(self) -> Result<AppendStats, TsdbError> {
        Ok(AppendStats::default())
    }
    fn rollback(self) {}
}

type Got = Arc<Mutex<Vec<String>>>;

async fn receiver(got: Got) -> String {
    use axum::{body::Bytes, extract::State, http::StatusCode, routing::post};
    async fn write(State(got): State<Got>, body: Bytes) -> StatusCode {
        let raw = argus_ingest::remote_write::decompress(&body).unwrap();
        let mut c = Count::default();
        argus_ingest::remote_write::ingest_write_request(&mut c, &raw).unwrap();
        got.lock().extend(c.0);
        StatusCode::NO_CONTENT
    }
    let app = axum::Router::new()
        .route("/api/v1/write", post(write))
        .with_state(got);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    format!("http://{addr}/api/v1/write")
}

async fn import(base: &str, round: i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let body: String = (0..10)
        .map(|s| {
            format!(
                "reload_test{{s=\"{s}\"}} {round} {}\n",
                now - 60_000 + round
            )
        })
        .collect();
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/import/prometheus"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

async fn reload(base: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{base}/-/reload"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn wait_for(got: &Got, n: usize) {
    for _ in 0..200 {
        if got.lock().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} of {n} samples arrived", got.lock().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_starts_and_stops_remote_write_queues() {
    let dir = tempfile::tempdir().unwrap();
    let got: Got = Arc::default();
    let url = receiver(got.clone()).await;
    let file = dir.path().join("argus.yml");
    std::fs::write(&file, "web: {enable_lifecycle: true}\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let opts = ServerOptions {
        data_dir: dir.path().join("data"),
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        config: Config::load(&file).unwrap(),
        run_agent: false,
        config_path: Some(file.clone()),
        alert_tx: None,
        write_gate: None,
    };
    let base = format!("http://{}", opts.listen);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(run(opts, Arc::new(argus_model::SystemClock), async {
        let _ = stopped.await;
    }));
    let t0 = std::time::Instant::now();
    while reqwest::get(format!("{base}/-/ready"))
        .await
        .map(|r| r.status().as_u16())
        .ok()
        != Some(200)
    {
        assert!(t0.elapsed().as_secs() < 20, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    import(&base, 1).await;

    // Added by a reload: only what is written from then on is sent.
    std::fs::write(
        &file,
        format!("web: {{enable_lifecycle: true}}\nglobal: {{external_labels: {{site: lab}}}}\nremote_write:\n  - url: {url}\n    name: lab\n    queue_config: {{batch_send_deadline: 100ms}}\n"),
    )
    .unwrap();
    let (code, text) = reload(&base).await;
    assert_eq!(code, 200, "{text}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    import(&base, 2).await;
    wait_for(&got, 10).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        got.lock().len(),
        10,
        "the samples written before the reload are not sent"
    );
    assert!(
        got.lock()[0].contains("(\"site\", \"lab\")"),
        "{:?}",
        got.lock()[0]
    );
    let cfg: serde_json::Value = reqwest::get(format!("{base}/api/v1/status/config"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let yaml = cfg["data"]["yaml"].as_str().unwrap_or_default();
    assert!(
        yaml.contains("remote_write") && yaml.contains("name: lab"),
        "{yaml}"
    );
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("argus_remote_storage_samples_total{remote_name=\"lab\""),
        "{metrics}"
    );

    // Removed by a reload: the queue stops, nothing more is sent.
    std::fs::write(&file, "web: {enable_lifecycle: true}\n").unwrap();
    let (code, text) = reload(&base).await;
    assert_eq!(code, 200, "{text}");
    import(&base, 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(got.lock().len(), 10);

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
