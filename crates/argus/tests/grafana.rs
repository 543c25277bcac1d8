//! Grafana's Prometheus data source against the real `argus` binary.
//!
//! Data goes in by remote_write; then the test replays the requests Grafana
//! 10/11 sends (Prometheus data source, "Prometheus" type, HTTP method POST,
//! the default) and asserts the answers' exact JSON shapes:
//!
//! | Grafana feature | request |
//! |---|---|
//! | version detection, alerting feature discovery | `GET /api/v1/status/buildinfo` (must carry a semver `version` and no `features` key) |
//! | "Save & test" health check | `POST /api/v1/query` form `query=1+1&time=<now>` |
//! | label browser: names | `GET /api/v1/labels?start=<s>&end=<s>` |
//! | label browser: metric names | `GET /api/v1/label/__name__/values?start=<s>&end=<s>` |
//! | label browser: values for a metric | `GET /api/v1/label/job/values?match[]=up&start=<s>&end=<s>` |
//! | labels of a metric (version >= 2.24) | `GET /api/v1/labels?match[]=<metric>&start=<s>&end=<s>` |
//! | series lookup, query builder | `GET /api/v1/series?match[]={__name__="x",job="api"}&start&end` |
//! | metric autocomplete (types and help) | `GET /api/v1/metadata` |
//! | panel, range query | `POST /api/v1/query_range` form `query=..&start=<s>&end=<s>&step=15` (and GET with HTTP method GET) |
//! | table / stat panel, instant query | `POST /api/v1/query` form `query=..&time=<s>` |
//! | exemplars | `GET /api/v1/query_exemplars?query=..&start&end` |
//! | alert list of a Prometheus source | `GET /api/v1/rules` |
//!
//! Grafana sends `start`/`end` as whole Unix seconds and `step` as seconds.
//! The second test covers bad queries: Prometheus's error types and statuses.

mod common;

use common::{encode_write, free_port, post_write, start_with_config, WriteSeries};
use serde_json::{json, Value};

const STEP_S: i64 = 15;
/// Data spans 30 minutes before `t0`.
const SPAN_S: i64 = 1800;

/// A whole minute at least a minute in the past: the end of the data.
fn t0() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    now / 60 * 60 - 60
}

/// Counters growing at a fixed rate per second, and a classic histogram.
fn load_series(t0: i64) -> Vec<WriteSeries<'static>> {
    let points = |per_s: f64| -> Vec<(i64, f64)> {
        (0..=SPAN_S / STEP_S)
            .map(|i| {
                let t = t0 - SPAN_S + i * STEP_S;
                (t * 1000, per_s * (i * STEP_S) as f64)
            })
            .collect()
    };
    let gauge = |v: f64| -> Vec<(i64, f64)> {
        (0..=SPAN_S / STEP_S)
            .map(|i| ((t0 - SPAN_S + i * STEP_S) * 1000, v))
            .collect()
    };
    let l = |pairs: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    };
    let mut out = vec![
        (
            l(&[
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("instance", "a:80"),
                ("code", "200"),
            ]),
            points(2.0),
        ),
        (
            l(&[
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("instance", "b:80"),
                ("code", "500"),
            ]),
            points(0.5),
        ),
        (
            l(&[
                ("__name__", "http_requests_total"),
                ("job", "db"),
                ("instance", "c:5432"),
                ("code", "200"),
            ]),
            points(1.0),
        ),
        (
            l(&[("__name__", "up"), ("job", "api"), ("instance", "a:80")]),
            gauge(1.0),
        ),
        (
            l(&[("__name__", "up"), ("job", "db"), ("instance", "c:5432")]),
            gauge(0.0),
        ),
    ];
    // Cumulative bucket rates: 1/s <= 0.1, 3/s <= 0.5, 4/s <= 1, 4/s in all.
    for (le, r) in [("0.1", 1.0), ("0.5", 3.0), ("1", 4.0), ("+Inf", 4.0)] {
        out.push((
            l(&[
                ("__name__", "req_duration_seconds_bucket"),
                ("job", "api"),
                ("instance", "a:80"),
                ("le", le),
            ]),
            points(r),
        ));
    }
    out.push((
        l(&[
            ("__name__", "req_duration_seconds_count"),
            ("job", "api"),
            ("instance", "a:80"),
        ]),
        points(4.0),
    ));
    out.push((
        l(&[
            ("__name__", "req_duration_seconds_sum"),
            ("job", "api"),
            ("instance", "a:80"),
        ]),
        points(2.0),
    ));
    out
}

async fn get(c: &reqwest::Client, url: String, q: &[(&str, String)]) -> (u16, Value) {
    let r = c.get(url).query(q).send().await.expect("send");
    decode(r).await
}

async fn post_form(c: &reqwest::Client, url: String, form: &[(&str, String)]) -> (u16, Value) {
    let r = c.post(url).form(form).send().await.expect("send");
    decode(r).await
}

async fn decode(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = r.text().await.expect("body");
    assert!(
        ct.starts_with("application/json"),
        "content type {ct:?}: {text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, v)
}

fn ok_data(status: u16, v: &Value) -> &Value {
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "success", "{v}");
    &v["data"]
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("array expected: {v}"))
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

fn num(v: &Value) -> f64 {
    v.as_str()
        .expect("value is a string")
        .parse()
        .expect("float")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

async fn load(c: &reqwest::Client, p: &common::ArgusProc, t0: i64) {
    let r = post_write(c, &p.url("/api/v1/write"), encode_write(&load_series(t0)))
        .await
        .expect("remote_write");
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap_or_default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_requests_get_prometheus_answers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let port = free_port();
    // Argus scrapes its own /metrics, so the metadata API has something to say.
    let yaml = format!(
        "scrape_configs:\n  - job_name: argus_self\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    );
    let p = start_with_config("server", &data, port, &yaml);
    let c = reqwest::Client::new();
    let t0 = t0();
    load(&c, &p, t0).await;
    let (start, end) = ((t0 - SPAN_S).to_string(), t0.to_string());
    let range = [("start", start.clone()), ("end", end.clone())];

    // buildinfo: a semver version Grafana maps to a modern Prometheus, no `features`.
    let (s, v) = get(&c, p.url("/api/v1/status/buildinfo"), &[]).await;
    let d = ok_data(s, &v);
    assert_eq!(d["version"], "2.53.0", "{v}");
    for k in ["revision", "branch", "buildUser", "buildDate", "goVersion"] {
        assert!(d[k].is_string(), "{k} missing: {v}");
    }
    assert!(d.get("features").is_none(), "{v}");

    // Health check: 1+1 at now.
    let (s, v) = post_form(
        &c,
        p.url("/api/v1/query"),
        &[("query", "1+1".into()), ("time", end.clone())],
    )
    .await;
    assert_eq!(
        ok_data(s, &v),
        &json!({"resultType": "scalar", "result": [t0, "2"]})
    );

    // Label browser.
    let (s, v) = get(&c, p.url("/api/v1/labels"), &range).await;
    let names = strings(ok_data(s, &v));
    for n in ["__name__", "code", "instance", "job", "le"] {
        assert!(names.contains(&n.to_string()), "{n} missing: {v}");
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "label names are sorted");
    let (s, v) = get(&c, p.url("/api/v1/label/__name__/values"), &range).await;
    let metrics = strings(ok_data(s, &v));
    for m in [
        "http_requests_total",
        "req_duration_seconds_bucket",
        "req_duration_seconds_count",
        "up",
    ] {
        assert!(metrics.contains(&m.to_string()), "{m} missing: {v}");
    }
    let mut q = vec![("match[]", "up".to_string())];
    q.extend(range.iter().cloned());
    let (s, v) = get(&c, p.url("/api/v1/label/job/values"), &q).await;
    let jobs = strings(ok_data(s, &v));
    assert!(
        jobs.contains(&"api".into()) && jobs.contains(&"db".into()),
        "{v}"
    );
    q[0].1 = "http_requests_total".into();
    let (s, v) = get(&c, p.url("/api/v1/label/job/values"), &q).await;
    assert_eq!(ok_data(s, &v), &json!(["api", "db"]));
    // Same by form POST, with a regex on __name__.
    q[0].1 = r#"{__name__=~"http_req.*_total"}"#.into();
    let (s, v) = post_form(&c, p.url("/api/v1/label/instance/values"), &q).await;
    assert_eq!(ok_data(s, &v), &json!(["a:80", "b:80", "c:5432"]));
    q[0].1 = "req_duration_seconds_bucket".into();
    let (s, v) = get(&c, p.url("/api/v1/labels"), &q).await;
    assert_eq!(
        ok_data(s, &v),
        &json!(["__name__", "instance", "job", "le"])
    );

    // Series.
    q[0].1 = r#"{__name__="http_requests_total",job="api"}"#.into();
    let (s, v) = get(&c, p.url("/api/v1/series"), &q).await;
    assert_eq!(
        ok_data(s, &v),
        &json!([
            {"__name__": "http_requests_total", "code": "200", "instance": "a:80", "job": "api"},
            {"__name__": "http_requests_total", "code": "500", "instance": "b:80", "job": "api"},
        ])
    );
    q[0].1 = r#"http_requests_total{job="db" or code="500"}"#.into();
    let (s, v) = post_form(&c, p.url("/api/v1/series"), &q).await;
    let got: Vec<&str> = ok_data(s, &v)
        .as_array()
        .expect("array")
        .iter()
        .map(|x| x["instance"].as_str().expect("instance"))
        .collect();
    // Sorted by label set, as Prometheus sorts: code="200" before code="500".
    assert_eq!(got, vec!["c:5432", "b:80"], "{v}");

    // Range query, as Grafana POSTs it.
    let rstart = t0 - 600;
    let form = [
        (
            "query",
            "sum(rate(http_requests_total[5m]))by(job)".to_string(),
        ),
        ("start", rstart.to_string()),
        ("end", end.clone()),
        ("step", "15".to_string()),
    ];
    let (s, v) = post_form(&c, p.url("/api/v1/query_range"), &form).await;
    let d = ok_data(s, &v);
    assert_eq!(d["resultType"], "matrix", "{v}");
    let res = d["result"].as_array().expect("result");
    assert_eq!(res.len(), 2, "{v}");
    for (series, job, rate) in [(&res[0], "api", 2.5), (&res[1], "db", 1.0)] {
        assert_eq!(series["metric"], json!({"job": job}), "{v}");
        let vals = series["values"].as_array().expect("values");
        assert_eq!(vals.len(), 41, "{v}");
        for (i, pt) in vals.iter().enumerate() {
            let pair = pt.as_array().expect("pair");
            assert_eq!(pair.len(), 2);
            assert_eq!(
                pair[0],
                json!(rstart + 15 * i as i64),
                "timestamps are seconds"
            );
            assert!(close(num(&pair[1]), rate), "{job} at {i}: {pt}");
        }
    }
    // The same by GET gives the same answer.
    let (s2, v2) = get(&c, p.url("/api/v1/query_range"), &form).await;
    assert_eq!(s2, 200);
    assert_eq!(v2, v);

    // Instant query with `time`: a vector of [ts, "value"].
    let (s, v) = post_form(
        &c,
        p.url("/api/v1/query"),
        &[
            (
                "query",
                "sum by (job) (rate(http_requests_total[5m]))".into(),
            ),
            ("time", end.clone()),
        ],
    )
    .await;
    let d = ok_data(s, &v);
    assert_eq!(d["resultType"], "vector", "{v}");
    let res = d["result"].as_array().expect("result");
    assert_eq!(res.len(), 2, "{v}");
    assert_eq!(res[0]["metric"], json!({"job": "api"}));
    assert_eq!(res[0]["value"][0], json!(t0));
    assert!(close(num(&res[0]["value"][1]), 2.5), "{v}");
    // A plain selector keeps __name__ and all labels.
    let (s, v) = get(
        &c,
        p.url("/api/v1/query"),
        &[("query", "up{job=\"db\"}".into()), ("time", end.clone())],
    )
    .await;
    assert_eq!(
        ok_data(s, &v),
        &json!({"resultType": "vector", "result": [
            {"metric": {"__name__": "up", "instance": "c:5432", "job": "db"}, "value": [t0, "0"]}
        ]})
    );
    // A range selector at an instant: a matrix of raw samples.
    let (s, v) = get(
        &c,
        p.url("/api/v1/query"),
        &[
            ("query", "up{job=\"api\"}[30s]".into()),
            ("time", end.clone()),
        ],
    )
    .await;
    let d = ok_data(s, &v);
    assert_eq!(d["resultType"], "matrix");
    assert_eq!(
        d["result"][0]["values"],
        json!([[t0 - 15, "1"], [t0, "1"]]),
        "{v}"
    );

    // histogram_quantile over classic buckets: rank 3.6 of 4 falls in (0.5, 1].
    let hq = "histogram_quantile(0.9, sum by (le) (rate(req_duration_seconds_bucket[5m])))";
    let (s, v) = post_form(
        &c,
        p.url("/api/v1/query"),
        &[("query", hq.into()), ("time", end.clone())],
    )
    .await;
    let d = ok_data(s, &v);
    assert_eq!(d["result"].as_array().expect("result").len(), 1, "{v}");
    assert_eq!(d["result"][0]["metric"], json!({}));
    assert!(close(num(&d["result"][0]["value"][1]), 0.8), "{v}");
    let (s, v) = post_form(
        &c,
        p.url("/api/v1/query_range"),
        &[
            ("query", hq.into()),
            ("start", rstart.to_string()),
            ("end", end.clone()),
            ("step", "60".into()),
        ],
    )
    .await;
    let vals = ok_data(s, &v)["result"][0]["values"]
        .as_array()
        .expect("values")
        .clone();
    assert_eq!(vals.len(), 11, "{v}");
    assert!(vals.iter().all(|p| close(num(&p[1]), 0.8)), "{v}");

    // Exemplars: validated, empty. Rules and alerts: empty lists.
    let (s, v) = get(
        &c,
        p.url("/api/v1/query_exemplars"),
        &[
            ("query", "http_requests_total".into()),
            ("start", start.clone()),
            ("end", end.clone()),
        ],
    )
    .await;
    assert_eq!(ok_data(s, &v), &json!([]));
    let (s, v) = get(&c, p.url("/api/v1/rules"), &[]).await;
    assert_eq!(ok_data(s, &v), &json!({"groups": []}));
    let (s, v) = get(&c, p.url("/api/v1/alerts"), &[]).await;
    assert_eq!(ok_data(s, &v), &json!({"alerts": []}));
    let (s, v) = get(
        &c,
        p.url("/api/v1/format_query"),
        &[("query", "sum(rate(x[5m]))by(job)".into())],
    )
    .await;
    assert_eq!(ok_data(s, &v), &json!("sum by (job) (rate(x[5m]))"));
    let (s, v) = get(&c, p.url("/api/v1/status/config"), &[]).await;
    assert!(
        ok_data(s, &v)["yaml"]
            .as_str()
            .expect("yaml")
            .contains("argus_self"),
        "{v}"
    );
    let (s, v) = get(&c, p.url("/api/v1/status/flags"), &[]).await;
    assert_eq!(ok_data(s, &v)["query.lookback-delta"], "5m", "{v}");
    let (s, v) = get(&c, p.url("/api/v1/status/runtimeinfo"), &[]).await;
    assert!(ok_data(s, &v)["startTime"].is_string(), "{v}");

    // Metric autocomplete: metadata from the self-scrape (allow a few scrapes).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (s, v) = get(&c, p.url("/api/v1/metadata"), &[]).await;
        let d = ok_data(s, &v);
        if let Some(m) = d.get("argus_ingest_requests_total") {
            assert_eq!(
                m,
                &json!([{"type": "counter", "help": "Write requests received.", "unit": ""}]),
                "{v}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no metadata after 30s: {v}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (s, v) = get(&c, p.url("/api/v1/metadata"), &[("limit", "1".into())]).await;
    assert_eq!(ok_data(s, &v).as_object().expect("object").len(), 1, "{v}");
    let (s, v) = get(
        &c,
        p.url("/api/v1/metadata"),
        &[("metric", "argus_ingest_requests_total".into())],
    )
    .await;
    assert_eq!(ok_data(s, &v).as_object().expect("object").len(), 1, "{v}");
    let (s, v) = get(&c, p.url("/api/v1/metadata"), &[("limit", "x".into())]).await;
    assert_eq!((s, v["errorType"].as_str()), (400, Some("bad_data")), "{v}");
}

fn assert_error(s: u16, v: &Value, status: u16, kind: &str, needle: &str) {
    let short: String = v.to_string().chars().take(600).collect();
    assert_eq!(s, status, "{short}");
    assert_eq!(v["status"], "error", "{short}");
    assert_eq!(v["errorType"], kind, "{short}");
    let msg = v["error"].as_str().expect("error message");
    assert!(msg.contains(needle), "{needle:?} not in {msg:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_get_prometheus_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let p = start_with_config("server", &data, free_port(), "");
    let c = reqwest::Client::new();
    let t0 = t0();
    load(&c, &p, t0).await;
    let end = t0.to_string();
    let q = |query: &str| vec![("query", query.to_string()), ("time", end.clone())];

    let (s, v) = get(&c, p.url("/api/v1/query"), &q("sum(")).await;
    assert_error(s, &v, 400, "bad_data", "invalid parameter \"query\"");
    let (s, v) = post_form(&c, p.url("/api/v1/query"), &q("rate(http_requests_total)")).await;
    assert_error(s, &v, 400, "bad_data", "invalid parameter \"query\"");
    let (s, v) = get(
        &c,
        p.url("/api/v1/query"),
        &[("query", "up".into()), ("time", "yesterday".into())],
    )
    .await;
    assert_error(s, &v, 400, "bad_data", "invalid parameter \"time\"");
    let (s, v) = get(
        &c,
        p.url("/api/v1/query"),
        &[("query", "up".into()), ("timeout", "soon".into())],
    )
    .await;
    assert_error(s, &v, 400, "bad_data", "invalid parameter \"timeout\"");
    let (s, v) = get(
        &c,
        p.url("/api/v1/format_query"),
        &[("query", "up{".into())],
    )
    .await;
    assert_error(s, &v, 400, "bad_data", "invalid parameter \"query\"");
    let (s, v) = get(
        &c,
        p.url("/api/v1/series"),
        &[("match[]", "sum(up)".into())],
    )
    .await;
    assert_error(s, &v, 400, "bad_data", "match[]");

    let range = |query: &str, start: i64, step: &str| {
        vec![
            ("query", query.to_string()),
            ("start", start.to_string()),
            ("end", end.clone()),
            ("step", step.to_string()),
        ]
    };
    // A day at a 1s step is 86,400 points.
    let (s, v) = post_form(
        &c,
        p.url("/api/v1/query_range"),
        &range("up", t0 - 86_400, "1"),
    )
    .await;
    assert_error(
        s,
        &v,
        400,
        "bad_data",
        "exceeded maximum resolution of 11,000 points per timeseries",
    );
    let mut no_step = range("up", t0 - 60, "15");
    no_step.pop();
    let (s, v) = post_form(&c, p.url("/api/v1/query_range"), &no_step).await;
    assert_error(s, &v, 400, "bad_data", "invalid parameter \"step\"");
    let (s, v) = get(&c, p.url("/api/v1/query_range"), &range("up", t0 - 60, "0")).await;
    assert_error(
        s,
        &v,
        400,
        "bad_data",
        "zero or negative query resolution step widths are not accepted",
    );
    let (s, v) = get(
        &c,
        p.url("/api/v1/query_range"),
        &range("up", t0 + 60, "15"),
    )
    .await;
    assert_error(
        s,
        &v,
        400,
        "bad_data",
        "end timestamp must not be before start time",
    );
    let (s, v) = get(
        &c,
        p.url("/api/v1/query_range"),
        &range("up[5m]", t0 - 60, "15"),
    )
    .await;
    assert_error(s, &v, 400, "bad_data", "range query");

    // Many-to-many matching is an execution error (422).
    let (s, v) = get(
        &c,
        p.url("/api/v1/query"),
        &q("http_requests_total + on(job) http_requests_total"),
    )
    .await;
    assert_error(s, &v, 422, "execution", "");

    // An expensive query with a 1ms timeout: 503 timeout, promptly.
    let started = std::time::Instant::now();
    let mut heavy = range(
        "count_over_time(http_requests_total[30m:1s])",
        t0 - 10_000,
        "1",
    );
    heavy.push(("timeout", "1ms".into()));
    let (s, v) = post_form(&c, p.url("/api/v1/query_range"), &heavy).await;
    assert_error(s, &v, 503, "timeout", "timed out");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // The server still answers.
    let (s, v) = get(&c, p.url("/api/v1/query"), &q("sum(up)")).await;
    assert_eq!(ok_data(s, &v)["result"][0]["value"][1], "1", "{v}");

    // A server with a tiny sample limit refuses big queries with 422.
    let data2 = tmp.path().join("data2");
    std::fs::create_dir_all(&data2).expect("mkdir");
    let p2 = start_with_config(
        "server",
        &data2,
        free_port(),
        "query:\n  max_samples: 100\n",
    );
    load(&c, &p2, t0).await;
    let (s, v) = get(&c, p2.url("/api/v1/query"), &q("http_requests_total[30m]")).await;
    assert_error(s, &v, 422, "execution", "too many samples");
    let (s, v) = post_form(
        &c,
        p2.url("/api/v1/query_range"),
        &range("sum(rate(http_requests_total[5m]))", t0 - 600, "15"),
    )
    .await;
    assert_error(s, &v, 422, "execution", "too many samples");
    // Small queries still work there.
    let (s, v) = get(&c, p2.url("/api/v1/query"), &q("up{job=\"api\"}")).await;
    assert_eq!(ok_data(s, &v)["result"][0]["value"][1], "1", "{v}");
}
