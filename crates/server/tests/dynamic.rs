//! Dynamic rules through the whole server (`argus_server::run`, a
//! `ManualClock`): samples pushed with `/api/v1/import/prometheus` are scored
//! as they arrive; the band series appear in `/api/v1/query`; an outlier
//! raises a dynamic alert in `/api/v2/alerts` with its explanation, a normal
//! sample resolves it; the training API runs a job; the model survives a
//! restart and its detector is warmed from the stored history at its first
//! new sample. A second test reloads the configuration (`POST /-/reload`) with
//! an added, a removed and a broken dynamic rule. A third measures append →
//! alert latency under ingest load from the
//! `argus_detect_alert_latency_seconds` histogram and prints it.

mod common;
use argus_model::ManualClock;
use argus_server::config::Config;
use argus_server::{run, ServerOptions};
use common::{free_port, get_json, import_text as import, query_at};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Server {
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), argus_server::ServerError>>,
}

async fn start(data: &std::path::Path, yaml: &str, clock: Arc<ManualClock>) -> Server {
    let config = Config::from_yaml_str(yaml, "argus.yml").expect("config parses");
    start_with(data, config, None, clock).await
}

async fn start_with(
    data: &std::path::Path,
    config: Config,
    config_path: Option<std::path::PathBuf>,
    clock: Arc<ManualClock>,
) -> Server {
    let mut config = config;
    // The reload test posts to /-/reload.
    config.web.enable_lifecycle = true;
    let listen: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run(
        ServerOptions {
            data_dir: data.to_path_buf(),
            listen,
            config,
            run_agent: false,
            config_path,
            alert_tx: None,
            write_gate: None,
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
        if task.is_finished() {
            panic!("the server stopped at start: {:?}", task.await);
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server { base, stop, task }
}

impl Server {
    async fn shutdown(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// Polls `f` every 50 ms until it returns `Some`, failing after `secs`.
async fn wait<T, F, Fut>(what: &str, secs: u64, mut f: F) -> T
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
            t0.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the store in `data` can be opened: in this process a
/// finished server's last handle on the store (a connection task of the
/// HTTP server, say) can outlive `run` by a moment under load, where a
/// restart of a real process starts after the old one has exited.
async fn wait_unlocked(data: &std::path::Path) {
    let t0 = Instant::now();
    loop {
        match argus_tsdb::Db::open(
            data,
            argus_tsdb::Options::default(),
            Arc::new(argus_model::SystemClock),
        ) {
            Ok(db) => {
                db.close().unwrap();
                return;
            }
            Err(argus_tsdb::TsdbError::Locked(_)) if t0.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("the store cannot be opened after the shutdown: {e}"),
        }
    }
}

async fn models(base: &str) -> Vec<Value> {
    get_json(format!("{base}/api/v1/models")).await["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn dyn_alerts(base: &str, name: &str) -> Vec<Value> {
    let all = get_json(format!("{base}/api/v2/alerts")).await;
    all.as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["labels"]["alertname"] == name)
        .cloned()
        .collect()
}

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

const RULE: &str = concat!(
    "dynamic_rules:\n",
    "  - name: LatencyHigh\n",
    "    selector: 'req_latency{job=\"api\"}'\n",
    "    detector: {kind: latency, period: none, algorithm: ma, min_points: 300}\n",
    "    labels: {team: web}\n",
);

fn normal(i: i64) -> f64 {
    100.0 + (i % 7) as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_band_alert_resolve_train_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let srv = start(dir.path(), RULE, clock.clone()).await;
    let base = srv.base.clone();

    // 400 minutes of history up to T0, plus an unrelated series.
    let mut body = String::new();
    for i in 0..400 {
        let t = T0 - (399 - i) * MIN;
        body.push_str(&format!(
            "req_latency{{job=\"api\",instance=\"a\"}} {} {t}\n",
            normal(i)
        ));
        body.push_str(&format!("other_metric{{job=\"api\"}} 5 {t}\n"));
    }
    import(&base, body).await;

    // The first sight of the series finds enough history: it trains at once.
    let m = wait("the model to train", 60, || async {
        models(&base)
            .await
            .into_iter()
            .find(|m| m["state"] == "trained")
    })
    .await;
    assert_eq!(m["rule"], "LatencyHigh");
    assert_eq!(m["labels"]["instance"], "a");
    assert_eq!(m["algorithm"], "ma");
    assert_eq!(m["version"], 1);
    assert!(m["scores"]["interval_score"].as_f64().is_some(), "{m}");
    assert!(m["training_window"]["start"].is_string(), "{m}");
    assert_eq!(
        models(&base).await.len(),
        1,
        "other_metric must not be tapped"
    );

    // Band series, with the source labels, `metric` and `rule`.
    for name in [
        "argus_baseline_expected",
        "argus_baseline_lower",
        "argus_baseline_upper",
        "argus_anomaly_score",
        "argus_anomaly_level",
    ] {
        // Written by the warm-up that follows the training, a moment later.
        let q = format!("{name}{{rule=\"LatencyHigh\"}}");
        let r = wait(name, 30, || async {
            let r = query_at(&base, &q, T0).await;
            (!r.is_empty()).then_some(r)
        })
        .await;
        assert_eq!(r.len(), 1, "{name}: {r:?}");
        let l = &r[0]["metric"];
        assert_eq!(
            (
                l["metric"].as_str(),
                l["instance"].as_str(),
                l["job"].as_str()
            ),
            (Some("req_latency"), Some("a"), Some("api")),
            "{name}: {l}"
        );
    }

    // A normal sample after training: no alert. Then an outlier.
    clock.set(T0 + MIN);
    import(
        &base,
        format!(
            "req_latency{{job=\"api\",instance=\"a\"}} 103 {}\n",
            T0 + MIN
        ),
    )
    .await;
    clock.set(T0 + 2 * MIN);
    import(
        &base,
        format!(
            "req_latency{{job=\"api\",instance=\"a\"}} 1000 {}\n",
            T0 + 2 * MIN
        ),
    )
    .await;
    let a = wait("the dynamic alert", 20, || async {
        dyn_alerts(&base, "LatencyHigh").await.into_iter().next()
    })
    .await;
    let (l, an) = (&a["labels"], &a["annotations"]);
    assert_eq!(
        (
            l["kind"].as_str(),
            l["team"].as_str(),
            l["instance"].as_str(),
            l["metric"].as_str()
        ),
        (Some("latency"), Some("web"), Some("a"), Some("req_latency")),
        "{a}"
    );
    assert_eq!(l["level"], "4", "a tenfold latency is the top level: {a}");
    assert_eq!(an["value"], "1000");
    assert_eq!(an["algorithm"], "ma");
    assert_eq!(an["model_version"], "1");
    assert_eq!(an["kind"], "latency");
    for k in [
        "expected",
        "lower",
        "upper",
        "n",
        "level",
        "training_window",
        "summary",
    ] {
        assert!(an[k].is_string(), "annotation {k} missing: {a}");
    }
    let upper: f64 = an["upper"].as_str().unwrap().parse().unwrap();
    assert!(upper > 100.0 && upper < 1000.0, "{a}");
    assert!(!an["training_window"]
        .as_str()
        .unwrap()
        .contains("cold start"));
    let lvl = query_at(&base, "argus_anomaly_level", T0 + 2 * MIN).await;
    assert_eq!(lvl[0]["value"][1], "4");

    // Back to normal: resolved (no longer active).
    clock.set(T0 + 3 * MIN);
    import(
        &base,
        format!(
            "req_latency{{job=\"api\",instance=\"a\"}} 102 {}\n",
            T0 + 3 * MIN
        ),
    )
    .await;
    wait("the alert to resolve", 20, || async {
        dyn_alerts(&base, "LatencyHigh")
            .await
            .is_empty()
            .then_some(())
    })
    .await;

    // Training by hand: a job that trains the one series (version 2).
    let r: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/models/train"))
        .json(&serde_json::json!({"rule": "LatencyHigh", "match": "{instance=\"a\"}"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = r["data"]["id"].as_u64().unwrap_or_else(|| panic!("{r}"));
    let job = wait("the training job", 60, || async {
        let j = get_json(format!("{base}/api/v1/models/train/{id}")).await;
        (j["data"]["state"] == "done").then_some(j)
    })
    .await;
    assert_eq!(
        (job["data"]["total"].as_u64(), job["data"]["done"].as_u64()),
        (Some(1), Some(1)),
        "{job}"
    );
    let m = &models(&base).await[0];
    assert_eq!(m["state"], "trained");
    assert!(m["previous"].is_object(), "both versions are kept: {m}");
    let version = m["version"].as_u64().unwrap();
    let bad: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/models/train"))
        .json(&serde_json::json!({"rule": "Nope"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bad["status"], "error");

    // Restart: the model is reloaded before any new sample.
    srv.shutdown().await;
    wait_unlocked(dir.path()).await;
    let srv = start(dir.path(), RULE, clock.clone()).await;
    let m = models(&srv.base).await;
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(
        (m[0]["state"].as_str(), m[0]["version"].as_u64()),
        (Some("trained"), Some(version))
    );
    // Its first new sample has the detector warmed from the stored history
    // (detect::warm), so it does not go on from nothing.
    let base = srv.base.clone();
    clock.set(T0 + 4 * MIN);
    import(
        &base,
        format!(
            "req_latency{{job=\"api\",instance=\"a\"}} {} {}\n",
            normal(404),
            T0 + 4 * MIN
        ),
    )
    .await;
    let seen = wait("the warm-up of the reloaded detector", 20, || {
        let base = base.clone();
        async move {
            let m = models(&base).await;
            let n = m.first()?["points_seen"].as_u64()?;
            // 1 is the new sample scored cold; the warm-up replaces it.
            (n > 1).then_some(n)
        }
    })
    .await;
    assert!(seen >= 100, "replayed {seen} stored samples");
    srv.shutdown().await;
}

async fn reload(base: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{base}/-/reload"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// (rule, instance, state, version, trained_at) of every series' model.
async fn model_rows(base: &str) -> Vec<(String, String, String, u64, String)> {
    let mut v: Vec<_> = models(base)
        .await
        .iter()
        .map(|m| {
            (
                m["rule"].as_str().unwrap_or("").to_string(),
                m["labels"]["instance"].as_str().unwrap_or("").to_string(),
                m["state"].as_str().unwrap_or("").to_string(),
                m["version"].as_u64().unwrap_or(0),
                m["trained_at"].to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

const OTHER_RULE: &str = concat!(
    "  - name: OtherHigh\n",
    "    selector: 'other_metric{job=\"api\"}'\n",
    "    detector: {kind: latency, period: none, algorithm: ma, min_points: 300}\n",
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_adds_removes_and_rejects_dynamic_rules() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("argus.yml");
    let data = dir.path().join("data");
    std::fs::write(&file, RULE).unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let config = Config::load(&file).expect("config loads");
    let srv = start_with(&data, config, Some(file.clone()), clock.clone()).await;
    let base = srv.base.clone();
    let mut body = String::new();
    for i in 0..400 {
        let t = T0 - (399 - i) * MIN;
        body.push_str(&format!(
            "req_latency{{job=\"api\",instance=\"a\"}} {} {t}\n",
            normal(i)
        ));
        body.push_str(&format!(
            "other_metric{{job=\"api\",instance=\"b\"}} {} {t}\n",
            normal(i)
        ));
    }
    import(&base, body).await;
    let before = wait("the first model", 60, || async {
        let rows = model_rows(&base).await;
        (rows.len() == 1 && rows[0].2 == "trained").then_some(rows)
    })
    .await;
    assert_eq!(before[0].0, "LatencyHigh");

    // Added: OtherHigh. LatencyHigh is unchanged: its model stays as it was.
    std::fs::write(&file, format!("{RULE}{OTHER_RULE}")).unwrap();
    let (code, text) = reload(&base).await;
    assert_eq!(code, 200, "{text}");
    assert_eq!(
        model_rows(&base).await,
        before,
        "the kept model is untouched"
    );
    // The new rule's series is found at its next sample and trains on its
    // stored history.
    clock.set(T0 + MIN / 2);
    import(
        &base,
        format!(
            "other_metric{{job=\"api\",instance=\"b\"}} 101 {}\n",
            T0 + MIN / 2
        ),
    )
    .await;
    let rows = wait("the added rule's model", 60, || async {
        let rows = model_rows(&base).await;
        (rows.len() == 2 && rows.iter().all(|r| r.2 == "trained")).then_some(rows)
    })
    .await;
    assert_eq!(rows[0], before[0]);
    assert_eq!((rows[1].0.as_str(), rows[1].1.as_str()), ("OtherHigh", "b"));

    // Broken: a bad detector setting. Refused, the running rules stay.
    let broken =
        format!("{RULE}{OTHER_RULE}  - name: Broken\n    selector: x\n    detector: {{t2: 0.9}}\n");
    std::fs::write(&file, broken).unwrap();
    let (code, text) = reload(&base).await;
    assert_eq!(code, 500, "{text}");
    assert!(
        text.contains("dynamic_rules[2] (Broken)") && text.contains("t2"),
        "{text}"
    );
    assert_eq!(model_rows(&base).await, rows);
    let status = get_json(format!("{base}/api/v1/status/runtimeinfo")).await;
    assert_eq!(status["data"]["reloadConfigSuccess"], false, "{status}");

    // Removed: LatencyHigh. Its series and stored model go; OtherHigh stays.
    std::fs::write(&file, format!("dynamic_rules:\n{OTHER_RULE}")).unwrap();
    let (code, text) = reload(&base).await;
    assert_eq!(code, 200, "{text}");
    assert_eq!(model_rows(&base).await, rows[1..].to_vec());
    // A removed rule's series is no longer scored.
    clock.set(T0 + MIN);
    import(
        &base,
        format!(
            "req_latency{{job=\"api\",instance=\"a\"}} 5000 {}\n",
            T0 + MIN
        ),
    )
    .await;
    import(
        &base,
        format!(
            "other_metric{{job=\"api\",instance=\"b\"}} 5000 {}\n",
            T0 + MIN
        ),
    )
    .await;
    wait("the kept rule's alert", 20, || async {
        (!dyn_alerts(&base, "OtherHigh").await.is_empty()).then_some(())
    })
    .await;
    assert!(dyn_alerts(&base, "LatencyHigh").await.is_empty());
    let files = std::fs::read_dir(data.join("models")).unwrap().count();
    assert_eq!(files, 1, "the removed rule's stored model is deleted");
    srv.shutdown().await;
}

/// Fire/resolve cycles on 20 series while 200 other series are imported,
/// then reads the latency histogram. Prints the figures; asserts only that
/// every alert was measured (timing bounds belong in benchmarks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_latency_under_ingest_load() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    // The noise loader runs ahead of the test's clock: allow it.
    let yaml = "storage:\n  max_future: 1d\ndynamic_rules:\n  - name: Load\n    selector: 'load_metric'\n    detector: {kind: latency}\n";
    let srv = start(dir.path(), yaml, clock.clone()).await;
    let base = srv.base.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (b2, s2) = (base.clone(), stop.clone());
    let loader = tokio::spawn(async move {
        let mut k = 0i64;
        let mut sent = 0usize;
        while !s2.load(std::sync::atomic::Ordering::Relaxed) {
            let mut body = String::new();
            // One millisecond apart: the loader may run far ahead of the
            // clock the main loop advances, and must stay inside the
            // store's future window (storage.max_future) however fast
            // imports are.
            for s in 0..200 {
                body.push_str(&format!("noise_metric{{s=\"{s}\"}} {k} {}\n", T0 + k));
            }
            import(&b2, body).await;
            sent += 200;
            k += 1;
        }
        sent
    });
    let series = 20;
    let mut fires = 0u64;
    let warm = 30;
    for i in 0..warm + 40 {
        let t = T0 + i * 1000;
        clock.set(t);
        let mut body = String::new();
        for s in 0..series {
            let v = if i >= warm && i % 2 == 1 {
                10_000.0
            } else {
                normal(i)
            };
            body.push_str(&format!("load_metric{{s=\"{s}\"}} {v} {t}\n"));
        }
        if i >= warm && i % 2 == 1 {
            fires += series as u64;
        }
        import(&base, body).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let noise = loader.await.unwrap();
    let text = wait("every alert measured", 20, || async {
        let t = reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let n = metric(&t, "argus_detect_alert_latency_seconds_count");
        (n >= fires as f64).then_some(t)
    })
    .await;
    let count = metric(&text, "argus_detect_alert_latency_seconds_count");
    let sum = metric(&text, "argus_detect_alert_latency_seconds_sum");
    let mut p = [(0.5, f64::NAN), (0.99, f64::NAN)];
    for (q, out) in p.iter_mut() {
        for line in text
            .lines()
            .filter(|l| l.starts_with("argus_detect_alert_latency_seconds_bucket"))
        {
            let le: f64 = line
                .split('"')
                .nth(1)
                .unwrap()
                .parse()
                .unwrap_or(f64::INFINITY);
            let c: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
            if c >= *q * count {
                *out = le;
                break;
            }
        }
    }
    println!(
        "append→alert latency: {count} alerts, mean {:.3} ms, p50 ≤ {} s, p99 ≤ {} s; {noise} other samples imported meanwhile; dropped {}",
        sum / count * 1000.0, p[0].1, p[1].1, metric(&text, "argus_detect_dropped_samples_total")
    );
    assert_eq!(
        count, fires as f64,
        "one latency observation per fired alert"
    );
    assert_eq!(metric(&text, "argus_detect_dropped_samples_total"), 0.0);
    srv.shutdown().await;
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}
