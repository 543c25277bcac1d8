//! Start-up failures stop what had started (the store can be opened again at
//! once), and a reload with one bad section changes nothing and names it.

use super::*;
use crate::config::Config;
use argus_model::SystemClock;
use std::path::Path;

fn options(data: &Path, config: Config, config_path: Option<std::path::PathBuf>) -> ServerOptions {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    ServerOptions {
        data_dir: data.to_path_buf(),
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        config,
        run_agent: false,
        config_path,
        alert_tx: None,
        write_gate: None,
    }
}

async fn start_fails(opts: ServerOptions) -> ServerError {
    crate::run(opts, Arc::new(SystemClock), std::future::pending())
        .await
        .expect_err("start-up fails")
}

/// The store's lock is free again: every part that held the store stopped.
fn reopens(data: &Path) {
    let db = Db::open(data, argus_tsdb::Options::default(), Arc::new(SystemClock))
        .expect("the store was closed and can be opened again");
    db.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_rule_file_stops_what_started() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("bad.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: a\n    rules:\n      - record: x\n        expr: sum(\n",
    )
    .unwrap();
    let config = Config {
        rule_files: vec![rules.display().to_string()],
        ..Config::default()
    };
    let data = dir.path().join("data");
    let err = start_fails(options(&data, config, None)).await;
    assert!(matches!(err, ServerError::Rules(_)), "{err}");
    assert!(err.to_string().contains("bad.yml"), "{err}");
    reopens(&data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_cannot_start_stops_what_started() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.agent.collect.process_interval_secs = 0;
    let data = dir.path().join("data");
    let mut opts = options(&data, config, None);
    opts.run_agent = true;
    let err = start_fails(opts).await;
    assert!(matches!(err, ServerError::Agent(_)), "{err}");
    assert!(std::error::Error::source(&err).is_some(), "a typed source");
    reopens(&data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_alerting_file_stops_what_started() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.alerting.config_file = Some(dir.path().join("nope.yml").display().to_string());
    let data = dir.path().join("data");
    let err = start_fails(options(&data, config, None)).await;
    assert!(err.to_string().contains("nope.yml"), "{err}");
    reopens(&data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_in_use_fails_before_the_store_opens() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let data = dir.path().join("data");
    let mut opts = options(&data, Config::default(), None);
    opts.listen = taken.local_addr().unwrap();
    let err = start_fails(opts).await;
    assert!(matches!(err, ServerError::Listen { .. }), "{err}");
    assert!(!data.exists(), "the store was never opened");
}

const RULES_A: &str =
    "groups:\n  - name: a\n    rules:\n      - record: x:a\n        expr: vector(1)\n";
const RULES_B: &str =
    "groups:\n  - name: b\n    rules:\n      - record: x:b\n        expr: vector(2)\n";

async fn group_names(base: &str) -> Vec<String> {
    let v: serde_json::Value = reqwest::get(format!("{base}/api/v1/rules"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect()
}

async fn reload(base: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{base}/-/reload"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_with_one_bad_section_changes_nothing_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yml"), RULES_A).unwrap();
    std::fs::write(dir.path().join("b.yml"), RULES_B).unwrap();
    let file = dir.path().join("argus.yml");
    // `POST /-/reload` answers only with the lifecycle API switched on.
    std::fs::write(
        &file,
        "rule_files: [a.yml]\nweb: {enable_lifecycle: true}\n",
    )
    .unwrap();
    let config = Config::load(&file).unwrap();
    let data = dir.path().join("data");
    let opts = options(&data, config, Some(file.clone()));
    let base = format!("http://{}", opts.listen);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::run(opts, Arc::new(SystemClock), async {
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
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(group_names(&base).await, ["a"]);

    // Valid rules, an alerting section naming a missing file (the file
    // parses; the section does not prepare): nothing changes.
    std::fs::write(
        &file,
        "rule_files: [b.yml]\nalerting: {config_file: missing.yml}\n",
    )
    .unwrap();
    let (code, text) = reload(&base).await;
    assert_eq!(code, 500, "{text}");
    assert!(
        text.contains("alerting: ") && text.contains("missing.yml"),
        "{text}"
    );
    assert_eq!(
        group_names(&base).await,
        ["a"],
        "the rules were not swapped"
    );
    let rt: serde_json::Value = reqwest::get(format!("{base}/api/v1/status/runtimeinfo"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rt["data"]["reloadConfigSuccess"], false);

    // The same without the bad section applies.
    std::fs::write(&file, "rule_files: [b.yml]\n").unwrap();
    let (code, text) = reload(&base).await;
    assert_eq!(code, 200, "{text}");
    assert_eq!(group_names(&base).await, ["b"]);

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    reopens(&data);
}
