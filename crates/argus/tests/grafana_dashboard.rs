//! The Grafana provisioning in `deploy/grafana/` against the real `argus up`.
//!
//! The first test reads the three files and fails on anything Grafana would
//! refuse or show broken: invalid YAML/JSON, a panel without `targets[].expr`,
//! a data source uid that is not the provisioned one, a variable that is not
//! defined. The second starts `argus up` (built-in agent every second, a
//! service with an HTTP heartbeat and a saturation model, a dynamic rule on
//! `node_load1`, an alert rule that fires), resolves the template variables
//! through `/api/v1/label/<name>/values` as Grafana does, and runs every
//! panel query the way Grafana 10's Prometheus backend sends it. With the
//! data source's `timeInterval: 15s` and the dashboard's `now-1h`:
//!
//! ```text
//! rate(node_disk_read_bytes_total{instance=~"$instance"}[$__rate_interval])
//!   -> POST /api/v1/query_range
//!      query=rate(node_disk_read_bytes_total{instance=~".*"}[1m0s])&start=<floor(now-3600, 15)>&end=<floor(now, 15)>&step=15
//! ```
//!
//! Every query must answer `success` with at least one series holding a
//! point; a failure names the panel and the query.

mod common;
#[path = "grafana_dashboard/emulate.rs"]
mod emulate;

use common::{free_port, start_with_config};
use emulate::{build_request, dur_ms, resolve, title, var_refs, variables, Request, BUILTINS};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn deploy(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/grafana")
        .join(rel)
}

fn read(rel: &str) -> String {
    let p = deploy(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

// The structs name every key the files may hold, so that `deny_unknown_fields`
// catches a misspelt one; not all of them are read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DatasourceFile {
    #[serde(rename = "apiVersion")]
    api_version: u32,
    datasources: Vec<Datasource>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Datasource {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    uid: String,
    access: String,
    url: String,
    #[serde(default)]
    is_default: bool,
    #[serde(default)]
    editable: bool,
    json_data: DsJsonData,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DsJsonData {
    http_method: String,
    time_interval: String,
    prometheus_type: String,
    prometheus_version: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderFile {
    #[serde(rename = "apiVersion")]
    api_version: u32,
    providers: Vec<Provider>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Provider {
    name: String,
    #[serde(default)]
    org_id: Option<u32>,
    #[serde(default)]
    folder: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    disable_deletion: bool,
    #[serde(default)]
    allow_ui_updates: bool,
    #[serde(default)]
    update_interval_seconds: u32,
    options: ProviderOptions,
}

#[derive(Deserialize)]
#[allow(dead_code)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ProviderOptions {
    path: String,
    #[serde(default)]
    folders_from_files_structure: bool,
}

/// The provisioned data source, checked.
fn datasource() -> Datasource {
    let f: DatasourceFile = serde_saphyr::from_str(&read("provisioning/datasources/argus.yml"))
        .unwrap_or_else(|e| panic!("provisioning/datasources/argus.yml: {e}"));
    assert_eq!(f.api_version, 1, "datasources file: apiVersion");
    assert_eq!(f.datasources.len(), 1, "datasources file: one data source");
    let ds = f.datasources.into_iter().next().expect("one");
    assert_eq!(ds.kind, "prometheus", "data source {}: type", ds.name);
    assert!(!ds.uid.is_empty(), "data source {}: a fixed uid", ds.name);
    assert_eq!(ds.access, "proxy", "data source {}: access", ds.name);
    let url = reqwest::Url::parse(&ds.url).unwrap_or_else(|e| panic!("data source url: {e}"));
    // `argus up`'s default --listen (crates/argus/src/main.rs, README).
    assert_eq!(url.port(), Some(9797), "data source url {}: port", ds.url);
    assert!(matches!(ds.json_data.http_method.as_str(), "POST" | "GET"));
    assert_eq!(ds.json_data.prometheus_type, "Prometheus");
    dur_ms(&ds.json_data.time_interval);
    ds
}

fn dashboard() -> Value {
    let text = read("dashboards/argus.json");
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("dashboards/argus.json: invalid JSON: {e}"))
}

/// Every panel, rows' nested panels included.
fn all_panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("dashboard: `panels` array") {
        out.push(p);
        if let Some(inner) = p["panels"].as_array() {
            out.extend(inner.iter());
        }
    }
    out
}

/// Grafana 10's core panel types this dashboard may use.
const PANEL_TYPES: [&str; 8] = [
    "row",
    "timeseries",
    "stat",
    "table",
    "gauge",
    "bargauge",
    "state-timeline",
    "text",
];

#[test]
fn provisioning_files_are_valid_and_consistent() {
    let ds = datasource();
    let prov: ProviderFile = serde_saphyr::from_str(&read("provisioning/dashboards/argus.yml"))
        .unwrap_or_else(|e| panic!("provisioning/dashboards/argus.yml: {e}"));
    assert_eq!(prov.api_version, 1, "dashboard provider: apiVersion");
    let pr = prov
        .providers
        .first()
        .expect("dashboard provider: one provider");
    assert_eq!(pr.kind, "file", "provider {}: type", pr.name);
    assert!(
        pr.options.path.starts_with('/'),
        "provider {}: absolute path",
        pr.name
    );

    let d = dashboard();
    let schema = d["schemaVersion"]
        .as_i64()
        .expect("dashboard: schemaVersion");
    assert!(
        (36..=39).contains(&schema),
        "schemaVersion {schema}: Grafana 10 writes 36 to 39"
    );
    for key in ["uid", "title"] {
        assert!(
            d[key].as_str().is_some_and(|s| !s.is_empty()),
            "dashboard: {key}"
        );
    }
    assert!(
        d["time"]["from"].is_string() && d["time"]["to"].is_string(),
        "dashboard: time"
    );
    let vars = variables(&d);
    for v in &vars {
        assert_eq!(v.ds_uid, ds.uid, "variable {}: data source uid", v.name);
    }
    let names: BTreeSet<&str> = vars.iter().map(|v| v.name.as_str()).collect();
    let (mut ids, mut queries) = (BTreeSet::new(), 0);
    for p in all_panels(&d) {
        let t = title(p);
        let id = p["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("panel {t:?}: numeric id"));
        assert!(ids.insert(id), "panel {t:?}: id {id} used twice");
        let g = &p["gridPos"];
        let (x, w, h) = (g["x"].as_i64(), g["w"].as_i64(), g["h"].as_i64());
        assert!(
            matches!((x, w, h, g["y"].as_i64()), (Some(x), Some(w), Some(h), Some(_)) if x >= 0 && w > 0 && h > 0 && x + w <= 24),
            "panel {t:?}: gridPos {g}"
        );
        let kind = p["type"]
            .as_str()
            .unwrap_or_else(|| panic!("panel {t:?}: type"));
        assert!(
            PANEL_TYPES.contains(&kind),
            "panel {t:?}: type {kind:?} is not a core Grafana 10 panel"
        );
        if kind == "row" {
            assert!(p.get("targets").is_none(), "row {t:?} has targets");
            continue;
        }
        assert_eq!(
            p["datasource"]["uid"].as_str(),
            Some(ds.uid.as_str()),
            "panel {t:?}: data source uid"
        );
        assert_eq!(
            p["datasource"]["type"], "prometheus",
            "panel {t:?}: data source type"
        );
        for r in var_refs(&t) {
            assert!(
                names.contains(r.as_str()),
                "panel {t:?}: title uses undefined ${r}"
            );
        }
        let targets = p["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("panel {t:?}: no targets"));
        assert!(!targets.is_empty(), "panel {t:?}: empty targets");
        let mut refs = BTreeSet::new();
        for tg in targets {
            let r = tg["refId"]
                .as_str()
                .unwrap_or_else(|| panic!("panel {t:?}: target without refId"));
            assert!(refs.insert(r), "panel {t:?}: refId {r} twice");
            let expr = tg["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("panel {t:?} {r}: no expr"));
            assert!(!expr.trim().is_empty(), "panel {t:?} {r}: empty expr");
            if let Some(u) = tg["datasource"]["uid"].as_str() {
                assert_eq!(u, ds.uid, "panel {t:?} {r}: target data source uid");
            }
            for v in var_refs(expr) {
                assert!(
                    names.contains(v.as_str()) || BUILTINS.contains(&v.as_str()),
                    "panel {t:?} {r}: undefined variable ${v} in {expr}"
                );
            }
            queries += 1;
        }
    }
    assert!(queries >= 10, "only {queries} queries");
}

/// Why a query did not pass.
enum Failure {
    /// Not a success: a broken query; no point in waiting.
    Error(String),
    /// A success without data yet; the data may still come.
    NoData(String),
}

/// Sends `r` as Grafana does (`POST`, form-encoded; an instant target also
/// through `/api/v1/query`, which is what Grafana sends for it). `Ok(series
/// with data)` when every answer is a success with data.
async fn run(c: &reqwest::Client, base: &str, r: &Request) -> Result<usize, Failure> {
    let mut calls = vec![(
        "query_range",
        vec![
            ("query", r.expr.clone()),
            ("start", r.start_s.to_string()),
            ("end", r.end_s.to_string()),
            ("step", r.step_s.to_string()),
        ],
    )];
    if r.instant {
        calls.push((
            "query",
            vec![("query", r.expr.clone()), ("time", r.end_s.to_string())],
        ));
    }
    let mut series = 0;
    for (api, form) in calls {
        let resp = c
            .post(format!("{base}/api/v1/{api}"))
            .form(&form)
            .send()
            .await
            .map_err(|e| Failure::Error(format!("{api}: {e}")))?;
        let status = resp.status();
        let body: Value = resp
            .json()
            .await
            .map_err(|e| Failure::Error(format!("{api}: not JSON: {e}")))?;
        if !status.is_success() || body["status"] != "success" {
            return Err(Failure::Error(format!("{api} answered {status}: {body}")));
        }
        let result = body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let with_data = result
            .iter()
            .filter(|s| {
                s["values"].as_array().is_some_and(|v| !v.is_empty()) || s["value"].is_array()
            })
            .count();
        if with_data == 0 {
            return Err(Failure::NoData(format!(
                "{api}: no series with data ({} series)",
                result.len()
            )));
        }
        series = series.max(with_data);
    }
    Ok(series)
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// `now-1h` style relative times.
fn relative(s: &str, now: i64) -> i64 {
    match s.strip_prefix("now-") {
        Some(d) => now - dur_ms(d) / 1000,
        None if s == "now" => now,
        None => panic!("dashboard time {s:?}: only now-<duration> is supported"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_panel_query_returns_data() {
    let ds = datasource();
    let scrape_ms = dur_ms(&ds.json_data.time_interval);
    let d = dashboard();
    let vars = variables(&d);

    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let rules = tmp.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: dashboard\n    interval: 1s\n    rules:\n      - alert: HostReporting\n        \
         expr: node_load1 >= 0\n        labels: {severity: info}\n",
    )
    .expect("write rules");
    let port = free_port();
    let yaml = format!(
        r#"agent:
  interval: 1s
rule_files: ["{rules}"]
health:
  sample_interval: 1s
  services:
    - name: checkout
      heartbeat: {{ source: http, interval: 3s }}
      saturation:
        load_query: 'sum(rate(node_context_switches_total[$window]))'
        window: 30s
        interval: 1s
        dimensions: [{{ name: cpu, capacity: 1000000, weight: 1 }}]
dynamic_rules:
  - name: LoadBand
    selector: node_load1
    detector: {{ kind: resource, cold_start_min_points: 3 }}
"#,
        rules = rules.display()
    );
    let p = start_with_config("up", &data, port, &yaml);
    let base = p.url("");
    let c = reqwest::Client::new();

    // Grafana picks its API calls by the version the data source declares.
    let info: Value = c
        .get(p.url("/api/v1/status/buildinfo"))
        .send()
        .await
        .expect("buildinfo")
        .json()
        .await
        .expect("buildinfo JSON");
    assert_eq!(
        info["data"]["version"].as_str(),
        Some(ds.json_data.prometheus_version.as_str()),
        "data source prometheusVersion vs /api/v1/status/buildinfo"
    );

    // The service heartbeats every 500 ms, as a real one would.
    let hb_url = p.url("/api/v1/heartbeat/checkout");
    let hb_client = c.clone();
    let heartbeat = tokio::spawn(async move {
        loop {
            // A refused beat shows up as the service going down, which the
            // panels still draw; the server's log says why.
            let _ = hb_client.post(&hb_url).send().await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });

    // Grafana's step is 15 s and the range is aligned down to it, so data
    // shows up in a panel at most one step after it is stored; allow for that.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last_failures;
    loop {
        last_failures = Vec::new();
        let now = now_s();
        let from = relative(d["time"]["from"].as_str().expect("time.from"), now);
        let mut values = BTreeMap::new();
        for v in &vars {
            // Grafana: GET /api/v1/label/<label>/values?match[]=<metric>&start&end.
            let r: Value = c
                .get(format!("{base}/api/v1/label/{}/values", v.label))
                .query(&[
                    ("match[]", v.metric.clone()),
                    ("start", from.to_string()),
                    ("end", now.to_string()),
                ])
                .send()
                .await
                .expect("label values")
                .json()
                .await
                .expect("label values JSON");
            assert_eq!(r["status"], "success", "variable {}: {r}", v.name);
            let mut opts: Vec<String> = r["data"]
                .as_array()
                .expect("label values array")
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect();
            opts.sort();
            match resolve(v, &opts) {
                Ok(val) => {
                    values.insert(v.name.clone(), val);
                }
                Err(e) => last_failures.push(e),
            }
        }
        let mut report = Vec::new();
        if last_failures.is_empty() {
            for p in all_panels(&d).into_iter().filter(|p| p["type"] != "row") {
                for tg in p["targets"].as_array().expect("targets") {
                    let mut r = build_request(p, tg, &values, scrape_ms, (from, now));
                    r.panel = r
                        .panel
                        .replace("$metric", values.get("metric").map_or("", |s| s));
                    let what = format!("panel {:?} query {} `{}`", r.panel, r.ref_id, r.expr);
                    match run(&c, &base, &r).await {
                        Ok(n) => report.push(format!("{what}: {n} series")),
                        Err(Failure::Error(e)) => panic!("{what}: {e}"),
                        Err(Failure::NoData(e)) => last_failures.push(format!("{what}: {e}")),
                    }
                }
            }
        }
        if last_failures.is_empty() {
            eprintln!(
                "all panel queries returned data:\n  {}",
                report.join("\n  ")
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "panel queries without data after 120 s:\n  {}",
            last_failures.join("\n  ")
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    heartbeat.abort();
    p.stop();
}
