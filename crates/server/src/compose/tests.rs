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
    let data = dir.path().join("data");
    let (base, stop, server) = serve_file(&data, &file).await;
    assert_eq!(group_names(&base).await, ["a"]);

    // Valid rules, an alerting section naming a missing file (the file
    // parses; the section does not prepare): nothing changes.
    std::fs::write(
        &file,
        "rule_files: [b.yml]\nalerting: {config_file: missing.yml}\nweb: {enable_lifecycle: true}\n",
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
    std::fs::write(
        &file,
        "rule_files: [b.yml]\nweb: {enable_lifecycle: true}\n",
    )
    .unwrap();
    let (code, text) = reload(&base).await;
    assert_eq!(code, 200, "{text}");
    assert_eq!(group_names(&base).await, ["b"]);

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    reopens(&data);
}

/// Starts a server on `file` (which must switch the lifecycle API on);
/// returns its base URL, its stop signal and its task.
async fn serve_file(
    data: &Path,
    file: &Path,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), ServerError>>,
) {
    let config = Config::load(file).unwrap();
    let opts = options(data, config, Some(file.to_path_buf()));
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
    (base, stop, server)
}

async fn get_json(url: String) -> serde_json::Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// The jobs of the active targets.
async fn target_jobs(base: &str) -> Vec<String> {
    let v = get_json(format!("{base}/api/v1/targets")).await;
    let mut jobs: Vec<String> = v["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["labels"]["job"].as_str().unwrap().to_string())
        .collect();
    jobs.dedup();
    jobs
}

/// The configuration `/api/v1/status/config` serves, parsed (it is served
/// re-written, with secrets redacted).
async fn served_yaml(base: &str) -> serde_json::Value {
    let text = get_json(format!("{base}/api/v1/status/config")).await["data"]["yaml"]
        .as_str()
        .unwrap()
        .to_string();
    serde_saphyr::from_str(&text).unwrap()
}

fn yaml(text: &str) -> serde_json::Value {
    serde_saphyr::from_str(text).unwrap()
}

/// The number of `up` series of `job` with a sample in the last `secs`.
async fn fresh_up(base: &str, job: &str, secs: u32) -> usize {
    let q = format!("count_over_time(up{{job=\"{job}\"}}[{secs}s])");
    let v = reqwest::Client::new()
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", q.as_str())])
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    v["data"]["result"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_adds_and_removes_scrape_jobs_and_serves_the_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("argus.yml");
    let data = dir.path().join("data");
    // Port 1 on loopback refuses connections: the targets are down, which
    // is all this test needs of them.
    let job = |name: &str| {
        format!("  - job_name: {name}\n    scrape_interval: 1s\n    static_configs: [{{targets: ['127.0.0.1:1']}}]\n")
    };
    let head = "web: {enable_lifecycle: true}\n";
    std::fs::write(&file, format!("{head}scrape_configs:\n{}", job("kept"))).unwrap();
    let (base, stop, server) = serve_file(&data, &file).await;
    assert_eq!(target_jobs(&base).await, ["kept"]);

    // A job added, then the first one removed, each by a reload.
    let both = format!("{head}scrape_configs:\n{}{}", job("kept"), job("added"));
    std::fs::write(&file, &both).unwrap();
    let (code, text) = reload(&base).await;
    assert_eq!(code, 200, "{text}");
    assert_eq!(target_jobs(&base).await, ["added", "kept"]);
    assert_eq!(served_yaml(&base).await, yaml(&both));

    let only_added = format!("{head}scrape_configs:\n{}", job("added"));
    std::fs::write(&file, &only_added).unwrap();
    let (code, text) = reload(&base).await;
    assert_eq!(code, 200, "{text}");
    assert_eq!(target_jobs(&base).await, ["added"]);
    assert_eq!(served_yaml(&base).await, yaml(&only_added));
    // The removed job is no longer scraped: no `up` sample of it lands
    // after the reload, while the kept one goes on.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(
        fresh_up(&base, "kept", 1).await,
        0,
        "the removed job still runs"
    );
    assert_eq!(fresh_up(&base, "added", 2).await, 1, "the kept job stopped");

    // A job that cannot be valid (two of the same name) changes nothing.
    std::fs::write(
        &file,
        format!("{head}scrape_configs:\n{}{}", job("x"), job("x")),
    )
    .unwrap();
    let (code, text) = reload(&base).await;
    assert_eq!(code, 500, "{text}");
    assert!(
        text.contains("scrape_configs: ") && text.contains('x'),
        "{text}"
    );
    assert_eq!(target_jobs(&base).await, ["added"]);
    assert_eq!(served_yaml(&base).await, yaml(&only_added));

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_changes_a_restart_only_section_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yml"), RULES_A).unwrap();
    std::fs::write(dir.path().join("b.yml"), RULES_B).unwrap();
    let file = dir.path().join("argus.yml");
    let data = dir.path().join("data");
    let start = "web: {enable_lifecycle: true}\nrule_files: [a.yml]\n";
    std::fs::write(&file, start).unwrap();
    let (base, stop, server) = serve_file(&data, &file).await;

    std::fs::write(
        &file,
        "web: {enable_lifecycle: true}\nrule_files: [b.yml]\nstorage: {retention: 30d}\nquery: {timeout: 10s}\n",
    )
    .unwrap();
    let (code, text) = reload(&base).await;
    assert_eq!(code, 500, "{text}");
    assert!(
        text.contains("restart_only: ") && text.contains("storage, query"),
        "{text}"
    );
    assert_eq!(group_names(&base).await, ["a"], "nothing was applied");
    assert_eq!(served_yaml(&base).await, yaml(start));

    // Rule options are reloaded with the rule files.
    let next =
        "web: {enable_lifecycle: true}\nrule_files: [b.yml]\nglobal: {evaluation_interval: 7s}\n";
    std::fs::write(&file, next).unwrap();
    let (code, text) = reload(&base).await;
    assert_eq!(code, 200, "{text}");
    let rules = get_json(format!("{base}/api/v1/rules")).await;
    assert_eq!(rules["data"]["groups"][0]["name"], "b");
    assert_eq!(rules["data"]["groups"][0]["interval"], 7.0);
    assert_eq!(served_yaml(&base).await, yaml(next));

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
