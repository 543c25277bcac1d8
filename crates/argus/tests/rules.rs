//! The rules engine wired into the server and the CLI: recording and alerting
//! rules over remote-written data, `/api/v1/rules` and `/api/v1/alerts` in
//! Prometheus's shapes, reload (HTTP and SIGHUP) that keeps the old rules on a
//! broken file, and `argus check rules` / `argus test rules` like promtool.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{encode_write, post_write, start_with_config, ArgusProc};
use serde_json::Value;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

const RULES_V1: &str = "\
groups:
  - name: oven
    rules:
      - record: job:temp:max
        expr: max by (job) (temp)
      - alert: TooHot
        expr: job:temp:max > 50
        for: 2s
        labels:
          severity: page
        annotations:
          summary: '{{ $labels.job }} is at {{ $value }} degrees'
";

/// Line 7 has an unclosed parenthesis.
const RULES_BROKEN: &str = "\
groups:
  - name: oven
    rules:
      - record: job:temp:max
        expr: max by (job) (temp)
      - record: job:temp:min
        expr: min by (job) (temp
";

const RULES_V2: &str = "\
groups:
  - name: oven-v2
    rules:
      - record: job:temp:min
        expr: min by (job) (temp)
";

const RULES_V3: &str = "\
groups:
  - name: oven-v3
    rules:
      - record: job:temp:avg
        expr: avg by (job) (temp)
";

async fn get_json(c: &reqwest::Client, url: &str) -> Value {
    let r = c.get(url).send().await.expect("request");
    let status = r.status();
    let v: Value = r.json().await.expect("json body");
    assert_eq!(status, 200, "{url}: {v}");
    assert_eq!(v["status"], "success", "{v}");
    v["data"].clone()
}

/// Polls `f` every 100 ms until it returns `Some`, for at most `limit`.
async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn instant(c: &reqwest::Client, base: &ArgusProc, q: &str) -> Vec<Value> {
    let d = get_json(
        c,
        &format!(
            "{}?query={}",
            base.url("/api/v1/query"),
            q.replace('+', "%2B")
        ),
    )
    .await;
    d["result"].as_array().cloned().unwrap_or_default()
}

async fn alerts(c: &reqwest::Client, p: &ArgusProc) -> Vec<Value> {
    get_json(c, &p.url("/api/v1/alerts")).await["alerts"]
        .as_array()
        .cloned()
        .expect("alerts array")
}

async fn rule_names(c: &reqwest::Client, p: &ArgusProc) -> Vec<String> {
    let d = get_json(c, &p.url("/api/v1/rules")).await;
    d["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .map(|r| r["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    k.sort();
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_record_alert_and_reload() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(tmp.path().join("rules")).expect("mkdir");
    let rule_file = tmp.path().join("rules").join("oven.yml");
    std::fs::write(&rule_file, RULES_V1).expect("write rules");
    // Rule files resolve against the config file's directory; globs work.
    let p = start_with_config(
        "server",
        &data,
        common::free_port(),
        "global:\n  evaluation_interval: 1s\n  external_labels: {site: lab}\nrule_files:\n  - rules/*.yml\n",
    );
    let c = reqwest::Client::new();

    // Feed data: temp stays at 70 (above the alert threshold) for the whole test.
    let feeder_url = p.url("/api/v1/write");
    let feeder = {
        let c = c.clone();
        tokio::spawn(async move {
            loop {
                let t = now_ms();
                let body = encode_write(&[
                    (
                        vec![
                            ("__name__", "temp".into()),
                            ("job", "oven".into()),
                            ("instance", "a".into()),
                        ],
                        vec![(t, 70.0)],
                    ),
                    (
                        vec![
                            ("__name__", "temp".into()),
                            ("job", "oven".into()),
                            ("instance", "b".into()),
                        ],
                        vec![(t, 30.0)],
                    ),
                ]);
                let r = post_write(&c, &feeder_url, body).await.expect("write");
                assert!(r.status().is_success(), "{}", r.status());
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };

    // The recording rule's series appears in the store.
    let rec = wait_for("the recorded series", Duration::from_secs(20), || async {
        instant(&c, &p, "job:temp:max").await.into_iter().next()
    })
    .await;
    assert_eq!(
        rec["metric"],
        serde_json::json!({"__name__": "job:temp:max", "job": "oven"})
    );
    assert_eq!(rec["value"][1], "70");

    // The alert is pending first, then fires after `for: 2s`.
    let pending = wait_for("a pending alert", Duration::from_secs(20), || async {
        alerts(&c, &p)
            .await
            .into_iter()
            .find(|a| a["state"] == "pending" || a["state"] == "firing")
    })
    .await;
    assert_eq!(
        pending["state"], "pending",
        "the alert must be pending before it fires: {pending}"
    );
    assert_eq!(
        keys(&pending),
        ["activeAt", "annotations", "labels", "state", "value"]
    );
    assert_eq!(
        pending["labels"],
        serde_json::json!({"alertname": "TooHot", "job": "oven", "severity": "page"})
    );
    assert_eq!(pending["annotations"]["summary"], "oven is at 70 degrees");
    assert_eq!(pending["value"], "7e+01");
    let active_at = pending["activeAt"].as_str().expect("activeAt").to_string();
    assert!(
        active_at.ends_with('Z') && active_at.contains('T'),
        "{active_at}"
    );

    let firing = wait_for("the alert to fire", Duration::from_secs(20), || async {
        alerts(&c, &p)
            .await
            .into_iter()
            .find(|a| a["state"] == "firing")
    })
    .await;
    assert_eq!(
        firing["activeAt"], active_at,
        "firing keeps the pending alert's activeAt"
    );
    // ALERTS is written back to the store.
    let series = instant(&c, &p, "ALERTS{alertname=\"TooHot\",alertstate=\"firing\"}").await;
    assert_eq!(series.len(), 1, "{series:?}");

    // /api/v1/rules: Prometheus's shapes.
    let d = get_json(&c, &p.url("/api/v1/rules")).await;
    let groups = d["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1);
    let g = &groups[0];
    assert_eq!(
        keys(g),
        [
            "evaluationTime",
            "file",
            "interval",
            "lastEvaluation",
            "limit",
            "name",
            "rules"
        ]
    );
    assert_eq!(g["name"], "oven");
    assert!(
        g["file"].as_str().expect("file").ends_with("oven.yml"),
        "{g}"
    );
    assert_eq!(g["interval"], 1);
    assert_eq!(g["limit"], 0);
    assert!(g["evaluationTime"].is_number());
    let rec_rule = &g["rules"][0];
    assert_eq!(
        keys(rec_rule),
        [
            "evaluationTime",
            "health",
            "lastEvaluation",
            "name",
            "query",
            "type"
        ]
    );
    assert_eq!(rec_rule["type"], "recording");
    assert_eq!(rec_rule["health"], "ok");
    assert_eq!(rec_rule["query"], "max by (job) (temp)");
    let alert_rule = &g["rules"][1];
    assert_eq!(
        keys(alert_rule),
        [
            "alerts",
            "annotations",
            "duration",
            "evaluationTime",
            "health",
            "keepFiringFor",
            "labels",
            "lastEvaluation",
            "name",
            "query",
            "state",
            "type"
        ]
    );
    assert_eq!(alert_rule["type"], "alerting");
    assert_eq!(alert_rule["state"], "firing");
    assert_eq!(alert_rule["name"], "TooHot");
    assert_eq!(alert_rule["duration"], 2);
    assert_eq!(alert_rule["keepFiringFor"], 0);
    assert_eq!(
        alert_rule["labels"],
        serde_json::json!({"severity": "page"})
    );
    assert_eq!(alert_rule["alerts"][0]["state"], "firing");
    assert_eq!(alert_rule["alerts"][0]["labels"]["job"], "oven");

    // Filters.
    let only = |q: &'static str| {
        let c = c.clone();
        let url = format!("{}?{q}", p.url("/api/v1/rules"));
        async move { get_json(&c, &url).await["groups"].clone() }
    };
    let r = only("type=record").await;
    assert_eq!(r[0]["rules"].as_array().expect("rules").len(), 1);
    assert_eq!(r[0]["rules"][0]["type"], "recording");
    let r = only("type=alert&rule_name[]=TooHot").await;
    assert_eq!(r[0]["rules"][0]["name"], "TooHot");
    assert_eq!(only("rule_group[]=nope").await, serde_json::json!([]));
    assert_eq!(only("rule_name[]=Nope").await, serde_json::json!([]));
    let file = g["file"].as_str().expect("file").to_string();
    let r = get_json(
        &c,
        &format!("{}?file[]={file}&rule_group[]=oven", p.url("/api/v1/rules")),
    )
    .await;
    assert_eq!(r["groups"].as_array().expect("groups").len(), 1);
    let bad = c
        .get(format!("{}?type=both", p.url("/api/v1/rules")))
        .send()
        .await
        .expect("request");
    assert_eq!(bad.status(), 400);

    // A broken rule file: 500 naming the file and line; the old rules go on.
    std::fs::write(&rule_file, RULES_BROKEN).expect("write broken rules");
    let r = c.post(p.url("/-/reload")).send().await.expect("reload");
    assert_eq!(r.status(), 500);
    let msg = r.text().await.expect("body");
    assert!(msg.contains("oven.yml:7:"), "file and line expected: {msg}");
    let last_eval = |d: &Value| d["groups"][0]["lastEvaluation"].as_str().map(String::from);
    let before = last_eval(&get_json(&c, &p.url("/api/v1/rules")).await);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after = get_json(&c, &p.url("/api/v1/rules")).await;
    assert_eq!(
        after["groups"][0]["name"], "oven",
        "the old group is still there"
    );
    assert_ne!(last_eval(&after), before, "the old rules keep evaluating");
    assert_eq!(after["groups"][0]["rules"][1]["state"], "firing");
    let rt = get_json(&c, &p.url("/api/v1/status/runtimeinfo")).await;
    assert_eq!(rt["reloadConfigSuccess"], false);

    // A good reload applies the new rules: the alert goes away.
    std::fs::write(&rule_file, RULES_V2).expect("write v2");
    let r = c.post(p.url("/-/reload")).send().await.expect("reload");
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    assert_eq!(rule_names(&c, &p).await, ["job:temp:min"]);
    assert!(alerts(&c, &p).await.is_empty());
    let min = wait_for(
        "the new recorded series",
        Duration::from_secs(20),
        || async { instant(&c, &p, "job:temp:min").await.into_iter().next() },
    )
    .await;
    assert_eq!(min["value"][1], "30");
    let rt = get_json(&c, &p.url("/api/v1/status/runtimeinfo")).await;
    assert_eq!(rt["reloadConfigSuccess"], true);

    // SIGHUP reloads too.
    std::fs::write(&rule_file, RULES_V3).expect("write v3");
    let hup = Command::new("kill")
        .args(["-HUP", &p.child.id().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    wait_for("the SIGHUP reload", Duration::from_secs(10), || async {
        (rule_names(&c, &p).await == ["job:temp:avg"]).then_some(())
    })
    .await;

    feeder.abort();
    p.stop();
}

#[test]
fn server_refuses_to_start_with_a_broken_rule_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("bad.yml"), RULES_BROKEN).expect("write rules");
    let cfg = tmp.path().join("argus.yml");
    std::fs::write(&cfg, "rule_files: [bad.yml]\n").expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_argus"))
        .arg("server")
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", common::free_port()))
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("run argus");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bad.yml:7:"), "{err}");
}

fn rules_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../rules/tests/data")
        .join(name)
}

fn argus(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(args)
        .output()
        .expect("run argus");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_rules_like_promtool() {
    let good = rules_data("rules_node.yml");
    let bad = rules_data("bad_rules.yml");
    let (code, out, err) = argus(&["check".as_ref(), "rules".as_ref(), good.as_os_str()]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("Checking "), "{out}");
    assert!(
        out.contains("rules_node.yml\n  SUCCESS: 4 rules found\n"),
        "{out}"
    );

    let (code, out, err) = argus(&[
        "check".as_ref(),
        "rules".as_ref(),
        good.as_os_str(),
        bad.as_os_str(),
    ]);
    assert_eq!(
        code,
        Some(1),
        "promtool exits 1 on an invalid file: {out}{err}"
    );
    assert!(out.contains("SUCCESS: 4 rules found"), "{out}");
    assert!(out.contains("bad_rules.yml"), "{out}");
    assert!(err.contains("  FAILED:"), "{err}");
    assert!(
        err.contains("bad_rules.yml:7:"),
        "the bad expression's line: {err}"
    );
    assert!(
        err.contains("bad_rules.yml:9:"),
        "the duplicate group's line: {err}"
    );

    // `check config` (and the old `check --config`) validate the rule files too.
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = tmp.path().join("argus.yml");
    let write_cfg = |rule: &Path| {
        std::fs::write(&cfg, format!("rule_files: ['{}']\n", rule.display())).expect("config")
    };
    write_cfg(&good);
    let (code, out, err) = argus(&["check".as_ref(), "config".as_ref(), cfg.as_os_str()]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("1 rule files, 4 rules"), "{out}");
    write_cfg(&bad);
    let (code, out, err) = argus(&["check".as_ref(), "--config".as_ref(), cfg.as_os_str()]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("bad_rules.yml:7:"), "{err}");
    let (code, _, err) = argus(&["check".as_ref()]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn test_rules_like_promtool() {
    let pass = rules_data("test_node_pass.yml");
    let fail = rules_data("test_node_fail.yml");
    let (code, out, err) = argus(&["test".as_ref(), "rules".as_ref(), pass.as_os_str()]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("Unit Testing:  "), "{out}");
    assert!(out.contains("test_node_pass.yml\n  SUCCESS\n"), "{out}");

    let (code, out, err) = argus(&[
        "test".as_ref(),
        "rules".as_ref(),
        pass.as_os_str(),
        fail.as_os_str(),
    ]);
    assert_eq!(code, Some(1), "a failing test exits 1: {out}{err}");
    assert!(out.contains("test_node_pass.yml\n  SUCCESS\n"), "{out}");
    assert!(out.contains("test_node_fail.yml\n  FAILED:\n"), "{out}");
    assert!(out.contains("wrong annotation"), "{out}");
}
