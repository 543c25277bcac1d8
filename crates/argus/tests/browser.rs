//! Browser tests of the web UI: each test starts `argus server` with a
//! dynamic rule, a rule file, two services and an alert, then drives headless
//! Chromium (Debian's `/usr/bin/chromium`, through `playwright-core` from
//! `tests/browser/`) over one scenario with `node tests/browser/run.mjs`, which
//! also writes the page's screenshot to `docs/screenshots/<page>.png`
//! (1366x768). Chromium, Node.js or `npm ci` missing is a failure with the fix
//! in the message, never a skip (`scripts/test.sh` installs them).

mod common;

use common::{encode_write, free_port, post_write, ArgusProc};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One Chromium at a time: the scenarios are light, the machines small.
static SERIAL: Mutex<()> = Mutex::new(());

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("valid time")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Checks what the scenarios need on this machine; the message says how to get it.
fn preflight() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "Chromium is missing at {chromium}: `apt-get install chromium` (scripts/test.sh installs it)"
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "Node.js is missing: `apt-get install nodejs npm` (scripts/test.sh installs it): {node:?}"
    );
    assert!(
        root()
            .join("tests/browser/node_modules/playwright-core/package.json")
            .exists(),
        "playwright-core is not installed: run `npm ci` in tests/browser (scripts/test.sh does)"
    );
}

/// A server with the data every scenario looks at.
struct Fixture {
    proc: ArgusProc,
    _tmp: tempfile::TempDir,
}

/// `auth`: the server asks for sign-in (users alice, an admin; bob, an
/// operator; vic, a viewer; each with the password `<name>-pw`), and the
/// fixture's own requests sign in as alice.
async fn fixture(auth: bool) -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("mkdir data");
    let port = free_port();
    let closed = free_port();
    std::fs::write(
        dir.join("rules.yml"),
        "groups:\n  - name: latency\n    interval: 1s\n    rules:\n\
         \x20     - record: job:ui_demo_latency:max\n        expr: max(ui_demo_latency)\n\
         \x20     - alert: HighLatency\n        expr: ui_demo_latency > 1000\n        labels: {severity: warning}\n",
    )
    .expect("write rules");
    std::fs::write(
        dir.join("alertmanager.yml"),
        "route:\n  receiver: ops\n  group_by: [alertname]\n  group_wait: 0s\n\
         \x20 routes:\n    - matchers: ['severity=\"critical\"']\n      receiver: oncall\n\
         receivers:\n  - name: ops\n  - name: oncall\n",
    )
    .expect("write alertmanager.yml");
    let cfg = dir.join("argus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global: {{evaluation_interval: 1s}}\nrule_files: [rules.yml]\n\
             alerting: {{config_file: alertmanager.yml}}\n\
             dynamic_rules:\n  - name: UiDemoLatency\n    selector: ui_demo_latency\n\
             \x20   detector: {{kind: latency, min_points: 100000, cold_start_min_points: 10, anomaly: {{}}}}\n\
             \x20   labels: {{team: web}}\n\
             \x20 - name: OrdersHistory\n    selector: orders_history\n\
             \x20   detector: {{kind: business_volume}}\n\
             health:\n  sample_interval: 1s\n  services:\n\
             \x20   - name: web\n      node: edge-1\n\
             \x20     probes: [{{type: http, url: 'http://127.0.0.1:{port}/-/healthy', interval: 1s}}]\n\
             \x20   - name: disk-array\n      node: db-1\n      source: hardware\n\
             \x20     probes: [{{type: tcp, address: '127.0.0.1:{closed}', interval: 1s}}]\n\
             recover:\n  commands: [/usr/bin/df]\n  runbooks:\n\
             \x20   - name: free-disk\n      description: Show what fills the disk, then wait for the cleanup.\n\
             \x20     match: {{labels: {{alertname: DiskFull}}}}\n\
             \x20     steps:\n        - name: disk usage\n          command: {{path: /usr/bin/df, args: [-h, /]}}\n\
             \x20     verify: {{hold: 2s, deadline: 2m}}\n"
        ),
    )
    .expect("write argus.yml");
    let web = dir.join("web.yml");
    let mut args = vec![
        "--config".to_string(),
        cfg.to_str().expect("utf-8 path").to_string(),
        "--web.enable-admin-api".to_string(),
    ];
    if auth {
        let h = |u: &str| bcrypt::hash(format!("{u}-pw"), 4).expect("bcrypt");
        std::fs::write(
            &web,
            format!(
                "basic_auth_users:\n  alice: {}\n  bob: {}\n  vic: {}\nuser_roles:\n  bob: operator\n  vic: viewer\n",
                h("alice"),
                h("bob"),
                h("vic")
            ),
        )
        .expect("write web.yml");
        args.push("--web.config.file".into());
        args.push(web.to_str().expect("utf-8 path").into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let proc = ArgusProc::start_on("server", &data, port, &args);
    let c = reqwest::Client::new();
    // The fixture's own requests: as alice when the server asks for sign-in.
    let url = |path: &str| {
        let u = proc.url(path);
        if auth {
            u.replacen("http://", "http://alice:alice-pw@", 1)
        } else {
            u
        }
    };

    // Eight hours of a latency series at 30 s steps (the streaming scorer
    // reports after ~700 samples), with three spikes in the last hour.
    let end = now_ms() / 1000 * 1000;
    let samples: Vec<(i64, f64)> = (0..960)
        .map(|i| {
            let t = end - (959 - i) * 30_000;
            let v = match i {
                940 | 948 | 955 => 400.0 + 10.0 * (i - 840) as f64,
                _ => 120.0 + 8.0 * ((i as f64) * 0.7).sin() + (i % 3) as f64,
            };
            (t, v)
        })
        .collect();
    let body = encode_write(&[(
        vec![
            ("__name__", "ui_demo_latency".to_string()),
            ("instance", "web-1".to_string()),
            ("job", "api".to_string()),
        ],
        samples,
    )]);
    let r = post_write(&c, &url("/api/v1/write"), body)
        .await
        .expect("remote write");
    assert!(r.status().is_success(), "remote write: {}", r.status());

    // Two weeks of minute history of a business KPI with a daily shape and
    // quiet weekends, imported after the store has cut its head (so it is
    // history, written to blocks and not scored live); then one live
    // sample, which makes its rule watch the series and train on it.
    let r = c
        .post(url("/api/v1/admin/tsdb/compact?full=true"))
        .send()
        .await
        .expect("compact");
    assert!(r.status().is_success(), "compact: {}", r.status());
    let first = end - 14 * 86_400_000;
    let mut hist = String::new();
    let mut t = first;
    while t < end - 60_000 {
        let hour = (t / 3_600_000) % 24;
        let weekend = ((t / 86_400_000) + 3) % 7 >= 5;
        let day = if (8..20).contains(&hour) {
            1000.0
        } else {
            300.0
        };
        let v = if weekend { day * 0.4 } else { day } + ((t / 60_000) % 7) as f64 * 5.0;
        hist.push_str(&format!("orders_history{{center=\"c1\"}} {v} {t}\n"));
        t += 60_000;
    }
    let r = c
        .post(url("/api/v1/import/prometheus"))
        .body(hist)
        .send()
        .await
        .expect("import history");
    assert!(r.status().is_success(), "import: {}", r.status());
    let live = encode_write(&[(
        vec![
            ("__name__", "orders_history".to_string()),
            ("center", "c1".to_string()),
        ],
        vec![(now_ms().max(end + 1000), 1000.0)],
    )]);
    let r = post_write(&c, &url("/api/v1/write"), live)
        .await
        .expect("remote write");
    assert!(r.status().is_success(), "remote write: {}", r.status());

    // An alert from outside, as Prometheus would post it.
    let alert = serde_json::json!([{
        "labels": {"alertname": "DiskFull", "severity": "critical", "instance": "db-1", "mount": "/var"},
        "annotations": {"summary": "/var on db-1 is 97% full"},
        "startsAt": rfc3339(now_ms() - 300_000),
        "endsAt": rfc3339(now_ms() + 3_600_000),
    }]);
    let r = c
        .post(url("/api/v2/alerts"))
        .json(&alert)
        .send()
        .await
        .expect("post alert");
    assert!(
        r.status().is_success(),
        "POST /api/v2/alerts: {}",
        r.status()
    );

    // A deploy a quarter of an hour ago, as a CI pipeline posts it: the
    // explorer marks it on its charts.
    let deploy = serde_json::json!({
        "specversion": "1.0", "id": "deploy-web-42", "source": "ci/pipeline",
        "type": "com.example.deploy.finished", "subject": "web",
        "time": rfc3339(end - 900_000),
    });
    let r = c
        .post(url("/api/v1/events"))
        .header("content-type", "application/cloudevents+json")
        .body(deploy.to_string())
        .send()
        .await
        .expect("post event");
    assert!(
        r.status().is_success(),
        "POST /api/v1/events: {}",
        r.status()
    );

    // The detector scores the samples asynchronously: wait for the band and the anomalies.
    let t0 = Instant::now();
    loop {
        let v: serde_json::Value = c
            .get(url("/api/v1/query"))
            .query(&[(
                "query",
                "count(argus_baseline_upper{metric=\"ui_demo_latency\"}) + count(max_over_time(argus_anomaly_level{metric=\"ui_demo_latency\"}[2h]) > 0)",
            )])
            .send()
            .await
            .expect("query")
            .json()
            .await
            .expect("query json");
        if v["data"]["result"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
        {
            break;
        }
        // A deadline, not a measure: the scenarios build their fixtures at
        // once, each server importing and training, and on a two-core
        // machine the first band took over 30 s once.
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the band series did not appear: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The history's rule trained on the imported history.
    loop {
        let v: serde_json::Value = c
            .get(url("/api/v1/models?rule=OrdersHistory"))
            .send()
            .await
            .expect("models")
            .json()
            .await
            .expect("models json");
        if v["data"][0]["state"] == "trained" {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(180),
            "the model did not train on the imported history: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Fixture { proc, _tmp: tmp }
}

fn scenario(name: &str) {
    scenario_with(name, false);
}

fn scenario_with(name: &str, auth: bool) {
    let _guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    preflight();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let fx = rt.block_on(fixture(auth));
    run_node(name, &fx.proc);
    fx.proc.stop();
}

/// Runs scenario `name` of `tests/browser/run.mjs` against `proc`; fails with
/// the page's and the server's logs unless it passed and wrote its screenshot.
fn run_node(name: &str, proc: &ArgusProc) {
    let shots = root().join("docs/screenshots");
    let out = Command::new("node")
        .arg(root().join("tests/browser/run.mjs"))
        .args(["--base", &proc.url("")])
        .arg("--shots")
        .arg(&shots)
        .args(["--scenario", name])
        .current_dir(root().join("tests/browser"))
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    if !out.status.success() {
        let log =
            std::fs::read_to_string(proc.data_dir.with_extension(format!("{}.log", proc.port)))
                .unwrap_or_default();
        panic!(
            "browser scenario {name} failed ({}):\n{stdout}{stderr}\nserver log:\n{log}",
            out.status
        );
    }
    assert!(
        stdout.contains(&format!("ok - {name}")),
        "no success line: {stdout}"
    );
    assert!(
        shots.join(format!("{name}.png")).exists(),
        "no screenshot {name}.png"
    );
}

/// `argus up` on a fresh data directory, nothing configured: within its
/// first minute the overview counts this host (its built-in agent reports),
/// explains the 1-5-10 panel, and the explorer opens on a chart.
#[test]
fn the_first_minute_of_argus_up_shows_this_host() {
    let _guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    preflight();
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let proc = ArgusProc::start_on("up", &data, free_port(), &[]);
    run_node("firstminute", &proc);
    proc.stop();
}

#[test]
fn overview_shows_services_and_alert_levels() {
    scenario("overview");
}

#[test]
fn explorer_draws_a_chart_with_its_band() {
    scenario("explorer");
}

#[test]
fn the_explorer_bands_imported_history() {
    scenario("history");
}

#[test]
fn acknowledging_an_alert_changes_it_on_the_page_and_in_the_api() {
    scenario("alerts");
}

#[test]
fn an_incident_shows_its_times_and_is_acknowledged_on_its_page() {
    scenario("incidents");
}

#[test]
fn a_runbook_runs_from_the_incident_page_and_its_recovery_is_verified() {
    scenario("runbooks");
}

#[test]
fn the_logs_page_shows_pushed_lines_their_volume_and_templates() {
    scenario("logs");
}

#[test]
fn silences_are_created_from_an_alert_and_expired() {
    scenario("silences");
}

#[test]
fn rules_and_models_list_and_retrain() {
    scenario("rules");
}

#[test]
fn a_cross_site_form_post_is_refused_and_the_ui_cannot_be_framed() {
    scenario("crosssite");
}

#[test]
fn signed_out_pages_ask_for_sign_in_and_only_operators_acknowledge() {
    scenario_with("signin", true);
}
