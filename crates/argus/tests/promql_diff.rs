//! Differential test: Argus's PromQL over HTTP against the real Prometheus 2.42 (Debian's package).
//!
//! Both servers get identical data by remote_write (about 57 series over 2.5 hours at 15 s, see
//! [`dataset`]); then every query of `promql_corpus.txt` runs as an instant query at several times
//! and as a range query, on both, and the answers are compared: same result type, same series (label
//! sets, sorted unless the corpus marks the query `ordered`), same timestamps, values within 1e-9
//! relative (NaN equals NaN, infinities exact). Errors must be errors on both sides, of the same type.
//!
//! Evaluation times carry a .321 s fraction and samples sit at a per-series offset, so that no range
//! boundary falls on a sample: Prometheus 2.x ranges are closed `[t-r, t]`, 3.x ranges (which Argus
//! follows) are left-open `(t-r, t]`. The few queries that differ on purpose are marked `DIFF` in the
//! corpus with the reason, known Argus bugs are marked `BUG`; the test asserts that every other query
//! matches and that every marked query really differs, so the lists cannot rot.
//!
//! Prometheus is started from `prometheus` on the PATH; when missing, the test installs Debian's
//! package with apt-get (as root) and fails with a clear message if it cannot. Set
//! `PROMQL_DIFF_ARGUS_URL=http://127.0.0.1:PORT` to compare against an already running Argus instead
//! of starting the test binary.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{encode_write, free_port, post_write, ArgusProc};

const STEP_MS: i64 = 15_000;
const POINTS: i64 = 600; // 2.5 h at 15 s
const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;
const REL_EPS: f64 = 1e-9;

// ---------------------------------------------------------------------------------------------
// Data

/// One series: (label pairs, samples).
type SeriesData = (Vec<(&'static str, String)>, Vec<(i64, f64)>);
/// A result series: (labels, [(t_ms, value)]).
type ResultSeries = (BTreeMap<String, String>, Vec<(i64, f64)>);

fn l(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(n, v)| (*n, v.to_string())).collect()
}

/// The data set: `t0` is a whole minute; sample k of series i is at `t0 + k*15s + 1234ms + 37ms*i`
/// (except `boundary_gauge`, exactly on the 15 s grid).
fn dataset(t0: i64) -> Vec<SeriesData> {
    let mut out: Vec<SeriesData> = Vec::new();
    let mut rng = argus_model::SplitMix64::new(42);
    let targets = [
        ("api", "a:80"),
        ("api", "b:80"),
        ("api", "c:80"),
        ("web", "a:80"),
        ("web", "b:80"),
    ];
    // Counters; b:80 resets twice.
    for (ti, (job, inst)) in targets.iter().enumerate() {
        for method in ["get", "post"] {
            let mut v = (rng.below(1000) * 10 + ti as u64) as f64;
            let mut s = Vec::new();
            for k in 0..=POINTS {
                if *inst == "b:80" && (k == 200 || k == 450) {
                    v = rng.below(5) as f64;
                } else {
                    // The fraction is unique per series, so no two rates tie (topk, sort).
                    let frac = (2 * ti + usize::from(method == "post") + 1) as f64 * 1e-4;
                    v += (rng.below(20) + if method == "get" { 7 } else { 1 }) as f64 + frac;
                }
                s.push((k, v));
            }
            out.push((
                l(&[
                    ("__name__", "http_requests_total"),
                    ("job", job),
                    ("instance", inst),
                    ("method", method),
                ]),
                s,
            ));
        }
    }
    // Decimal gauges, made distinct per series by the third decimal (no ties for topk/sort).
    for (ti, (job, inst)) in targets.iter().enumerate() {
        let s = (0..=POINTS)
            .map(|k| {
                let base = 40.0 + 8.0 * ((k as f64) / 25.0 + ti as f64).sin() + rng.unit() * 0.5;
                (k, (base * 100.0).round() / 100.0 + ti as f64 * 0.001)
            })
            .collect();
        out.push((
            l(&[
                ("__name__", "cpu_temp_celsius"),
                ("job", job),
                ("instance", inst),
            ]),
            s,
        ));
    }
    // Gauges around zero: (3n + j) / 10, so only account x reaches exactly 0 and no two are equal.
    for (j, acct) in ["x", "y", "z"].iter().enumerate() {
        let mut n: i64 = [-1, 0, 2][j];
        let s = (0..=POINTS)
            .map(|k| {
                n += rng.below(5) as i64 - 2;
                (k, (3 * n + j as i64) as f64 / 10.0)
            })
            .collect();
        out.push((l(&[("__name__", "balance"), ("account", acct)]), s));
    }
    // Gauges with gaps longer than the 5 minute lookback.
    for (inst, gap) in [("w1", 100..140), ("w2", 300..330)] {
        let s = (0..=POINTS)
            .filter(|k| !gap.contains(k))
            .map(|k| (k, rng.below(11) as f64))
            .collect();
        out.push((
            l(&[
                ("__name__", "queue_depth"),
                ("job", "worker"),
                ("instance", inst),
            ]),
            s,
        ));
    }
    // A series that just ends, one that ends with a stale marker, one that starts late.
    out.push((
        l(&[("__name__", "ephemeral_gauge"), ("job", "batch")]),
        (0..=400).map(|k| (k, k as f64 * 0.5)).collect(),
    ));
    let mut st: Vec<(i64, f64)> = (0..=380).map(|k| (k, 100.0 - k as f64 * 0.25)).collect();
    st.push((381, f64::from_bits(STALE_NAN_BITS)));
    out.push((l(&[("__name__", "stale_gauge"), ("job", "batch")]), st));
    out.push((
        l(&[("__name__", "late_counter_total"), ("job", "batch")]),
        (200..=POINTS)
            .map(|k| (k, ((k - 200) * 3) as f64 + rng.below(3) as f64))
            .collect(),
    ));
    // A classic histogram with _sum and _count.
    let les = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, f64::INFINITY];
    let le_s = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"];
    for inst in ["a:80", "b:80"] {
        // A long-running process: the buckets start well above zero.
        let mut counts = [0u64; 7];
        for c in counts.iter_mut() {
            *c = 5000;
        }
        let mut sum = 2000.0;
        let mut per_bucket: Vec<Vec<(i64, f64)>> = vec![Vec::new(); 7];
        let mut sums = Vec::new();
        for k in 0..=POINTS {
            for _ in 0..(5 + rng.below(11)) {
                let x = rng.unit().powi(2) * if inst == "a:80" { 1.5 } else { 3.0 };
                sum += x;
                for (b, le) in les.iter().enumerate() {
                    if x <= *le {
                        counts[b] += 1;
                    }
                }
            }
            for b in 0..7 {
                per_bucket[b].push((k, counts[b] as f64));
            }
            sums.push((k, (sum * 1000.0).round() / 1000.0));
        }
        for b in 0..7 {
            out.push((
                l(&[
                    ("__name__", "request_duration_seconds_bucket"),
                    ("job", "api"),
                    ("instance", inst),
                    ("le", le_s[b]),
                ]),
                per_bucket[b].clone(),
            ));
        }
        out.push((
            l(&[
                ("__name__", "request_duration_seconds_count"),
                ("job", "api"),
                ("instance", inst),
            ]),
            per_bucket[6].clone(),
        ));
        out.push((
            l(&[
                ("__name__", "request_duration_seconds_sum"),
                ("job", "api"),
                ("instance", inst),
            ]),
            sums,
        ));
    }
    // Info metric and up.
    for (job, inst) in targets {
        let version = if inst == "a:80" { "1.0" } else { "1.1" };
        out.push((
            l(&[
                ("__name__", "build_info"),
                ("job", job),
                ("instance", inst),
                ("version", version),
            ]),
            (0..=POINTS).map(|k| (k, 1.0)).collect(),
        ));
        out.push((
            l(&[("__name__", "up"), ("job", job), ("instance", inst)]),
            (0..=POINTS)
                .map(|k| {
                    let down = inst == "c:80" && (250..300).contains(&k)
                        || (job, inst) == ("web", "b:80") && k % 97 == 0;
                    (k, if down { 0.0 } else { 1.0 })
                })
                .collect(),
        ));
    }
    // NaN and infinities.
    let cycle = [1.0, f64::NAN, -2.0, f64::INFINITY, 3.0, f64::NEG_INFINITY];
    for (kind, f) in [
        ("nan", Box::new(|_| f64::NAN) as Box<dyn Fn(i64) -> f64>),
        ("inf", Box::new(|_| f64::INFINITY)),
        ("ninf", Box::new(|_| f64::NEG_INFINITY)),
        ("mixed", Box::new(move |k| cycle[(k % 6) as usize])),
    ] {
        out.push((
            l(&[("__name__", "weird_gauge"), ("kind", kind)]),
            (0..=POINTS).map(|k| (k, f(k))).collect(),
        ));
    }
    out.push((
        l(&[("__name__", "zero_gauge"), ("job", "api")]),
        (0..=POINTS).map(|k| (k, 0.0)).collect(),
    ));
    // Apply the timestamps: k -> t0 + k*15s + per-series offset.
    let n = out.len();
    for (i, (labels, samples)) in out.iter_mut().enumerate() {
        let off = 1234 + 37 * i as i64;
        assert!(off % 1000 != 321 && off % 1000 != 0 && off < STEP_MS);
        let _ = labels;
        for s in samples.iter_mut() {
            s.0 = t0 + s.0 * STEP_MS + off;
        }
    }
    assert!(n < 100);
    out.push((
        l(&[("__name__", "boundary_gauge")]),
        (0..=POINTS)
            .map(|k| (t0 + k * STEP_MS, 1000.0 - k as f64))
            .collect(),
    ));
    out
}

/// Sends the data in time order, 10 minutes of every series per request, so that Prometheus's
/// head (which refuses samples older than an hour behind its newest) accepts all of it.
async fn load(client: &reqwest::Client, base: &str, data: &[SeriesData], t0: i64) {
    let window = 40 * STEP_MS;
    let mut from = t0;
    let end = t0 + (POINTS + 1) * STEP_MS;
    while from < end {
        let to = from + window;
        let batch: Vec<SeriesData> = data
            .iter()
            .filter_map(|(labels, samples)| {
                let s: Vec<(i64, f64)> = samples
                    .iter()
                    .filter(|(t, _)| *t >= from && *t < to)
                    .copied()
                    .collect();
                (!s.is_empty()).then(|| (labels.clone(), s))
            })
            .collect();
        let resp = post_write(
            client,
            &format!("{base}/api/v1/write"),
            encode_write(&batch),
        )
        .await
        .unwrap_or_else(|e| panic!("remote_write to {base}: {e}"));
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "remote_write to {base} answered {status}: {body}"
        );
        from = to;
    }
}

// ---------------------------------------------------------------------------------------------
// Prometheus

struct PromProc {
    child: Child,
    port: u16,
}

impl Drop for PromProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ensure_prometheus() -> String {
    let have = || {
        Command::new("prometheus")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if have() {
        return "prometheus".into();
    }
    eprintln!("prometheus is not on the PATH; installing Debian's package with apt-get");
    let ok = Command::new("sh")
        .arg("-c")
        .arg("apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus")
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok && have(),
        "the differential test needs Prometheus 2.42 (`prometheus` on the PATH) and could not install it \
         with apt-get (are we root, is the network up?). Install it: apt-get install prometheus"
    );
    "prometheus".into()
}

fn start_prometheus(bin: &str, dir: &Path) -> PromProc {
    let cfg = dir.join("p.yml");
    std::fs::write(
        &cfg,
        "global:\n  scrape_interval: 1m\n  evaluation_interval: 1m\nscrape_configs: []\n",
    )
    .expect("write prometheus config");
    let port = free_port();
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("prometheus log");
    let child = Command::new(bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn prometheus");
    let mut p = PromProc { child, port };
    let start = Instant::now();
    loop {
        if let Ok(Some(st)) = p.child.try_wait() {
            let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
            panic!("prometheus exited early with {st}:\n{log}");
        }
        if common::http_status(port, "/-/ready") == Some(200) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "prometheus not ready in 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let v = Command::new(bin)
        .arg("--version")
        .output()
        .expect("prometheus --version");
    let v = String::from_utf8_lossy(&v.stdout);
    eprintln!(
        "{}",
        v.lines().next().unwrap_or("prometheus (unknown version)")
    );
    p.port = port;
    p
}

// ---------------------------------------------------------------------------------------------
// Results

#[derive(Debug, Clone)]
enum Answer {
    Error(String),
    Scalar(i64, f64),
    Str(i64, String),
    /// "vector" or "matrix"; an instant vector has one point per series.
    Series(&'static str, Vec<ResultSeries>),
}

fn parse_val(v: &serde_json::Value) -> f64 {
    match v.as_str().unwrap_or("?") {
        "NaN" => f64::NAN,
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().unwrap_or(f64::NAN),
    }
}

fn parse_point(p: &serde_json::Value) -> (i64, f64) {
    let t = (p[0].as_f64().unwrap_or(f64::NAN) * 1000.0).round() as i64;
    (t, parse_val(&p[1]))
}

fn parse_answer(body: &str) -> Answer {
    let v: serde_json::Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(_) => return Answer::Error(format!("not JSON: {}", &body[..body.len().min(200)])),
    };
    if v["status"] != "success" {
        return Answer::Error(v["errorType"].as_str().unwrap_or("?").to_string());
    }
    let r = &v["data"]["result"];
    let labels = |m: &serde_json::Value| -> BTreeMap<String, String> {
        m.as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };
    match v["data"]["resultType"].as_str().unwrap_or("") {
        "scalar" => {
            let (t, x) = parse_point(r);
            Answer::Scalar(t, x)
        }
        "string" => Answer::Str(
            (r[0].as_f64().unwrap_or(0.0) * 1000.0).round() as i64,
            r[1].as_str().unwrap_or("").to_string(),
        ),
        "vector" => Answer::Series(
            "vector",
            r.as_array()
                .into_iter()
                .flatten()
                .map(|s| (labels(&s["metric"]), vec![parse_point(&s["value"])]))
                .collect(),
        ),
        "matrix" => Answer::Series(
            "matrix",
            r.as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    (
                        labels(&s["metric"]),
                        s["values"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(parse_point)
                            .collect(),
                    )
                })
                .collect(),
        ),
        other => Answer::Error(format!("unknown resultType {other:?}")),
    }
}

fn same_value(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    a == b || (a - b).abs() <= REL_EPS * a.abs().max(b.abs())
}

fn fmt_labels(m: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(","))
}

/// `None` when equal, else a one-line description of the first difference.
fn compare(argus: &Answer, prom: &Answer, ordered: bool) -> Option<String> {
    match (argus, prom) {
        (Answer::Error(a), Answer::Error(p)) => {
            (a != p).then(|| format!("error types differ: argus {a}, prometheus {p}"))
        }
        (Answer::Scalar(ta, a), Answer::Scalar(tp, p)) => (ta != tp || !same_value(*a, *p))
            .then(|| format!("scalar: argus {a}@{ta}, prometheus {p}@{tp}")),
        (Answer::Str(ta, a), Answer::Str(tp, p)) => {
            (ta != tp || a != p).then(|| format!("string: argus {a:?}, prometheus {p:?}"))
        }
        (Answer::Series(ka, a), Answer::Series(kp, p)) => {
            if ka != kp {
                return Some(format!("result type: argus {ka}, prometheus {kp}"));
            }
            let (mut a, mut p) = (a.clone(), p.clone());
            if !ordered {
                a.sort_by(|x, y| x.0.cmp(&y.0));
                p.sort_by(|x, y| x.0.cmp(&y.0));
            }
            let la: Vec<&BTreeMap<String, String>> = a.iter().map(|s| &s.0).collect();
            let lp: Vec<&BTreeMap<String, String>> = p.iter().map(|s| &s.0).collect();
            if la != lp {
                let only_a: Vec<String> = la
                    .iter()
                    .filter(|x| !lp.contains(x))
                    .map(|x| fmt_labels(x))
                    .collect();
                let only_p: Vec<String> = lp
                    .iter()
                    .filter(|x| !la.contains(x))
                    .map(|x| fmt_labels(x))
                    .collect();
                return Some(format!(
                    "series differ ({} vs {}): only argus {:?}; only prometheus {:?}{}",
                    la.len(),
                    lp.len(),
                    only_a.iter().take(3).collect::<Vec<_>>(),
                    only_p.iter().take(3).collect::<Vec<_>>(),
                    if only_a.is_empty() && only_p.is_empty() {
                        " (order differs)"
                    } else {
                        ""
                    }
                ));
            }
            for ((labels, pa), (_, pp)) in a.iter().zip(p.iter()) {
                if pa.len() != pp.len() {
                    let ta: Vec<i64> = pa.iter().map(|x| x.0).collect();
                    let tp: Vec<i64> = pp.iter().map(|x| x.0).collect();
                    let first = ta.iter().zip(tp.iter()).position(|(x, y)| x != y);
                    return Some(format!(
                        "{}: {} points vs {}; first differing timestamp index {:?} (argus {:?}, prometheus {:?})",
                        fmt_labels(labels),
                        pa.len(),
                        pp.len(),
                        first,
                        first.and_then(|i| ta.get(i)),
                        first.and_then(|i| tp.get(i)),
                    ));
                }
                for (x, y) in pa.iter().zip(pp.iter()) {
                    if x.0 != y.0 || !same_value(x.1, y.1) {
                        return Some(format!(
                            "{} at t={}: argus {}@{}, prometheus {}@{}",
                            fmt_labels(labels),
                            y.0,
                            x.1,
                            x.0,
                            y.1,
                            y.0
                        ));
                    }
                }
            }
            None
        }
        (a, p) => Some(format!(
            "kinds differ: argus {}, prometheus {}",
            short(a),
            short(p)
        )),
    }
}

fn short(a: &Answer) -> String {
    match a {
        Answer::Error(e) => format!("error {e}"),
        Answer::Scalar(t, v) => format!("scalar {v}@{t}"),
        Answer::Str(_, s) => format!("string {s:?}"),
        Answer::Series(k, s) => format!("{k} of {} series", s.len()),
    }
}

// ---------------------------------------------------------------------------------------------
// Corpus

#[derive(Debug, Clone, PartialEq)]
enum Expect {
    Match,
    Diff(String),
    Bug(String),
}

#[derive(Debug, Clone)]
struct Case {
    family: String,
    query: String,
    expect: Expect,
    ordered: bool,
}

fn corpus(vars: &HashMap<&str, String>) -> Vec<Case> {
    let text = include_str!("promql_corpus.txt");
    let mut family = String::from("misc");
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(f) = line.strip_prefix("## ") {
            family = f.trim().to_string();
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (q, marker) = match line.split_once(" ;; ") {
            Some((q, m)) => (q.trim(), m.trim()),
            None => (line, ""),
        };
        let (expect, ordered) = if let Some(r) = marker.strip_prefix("DIFF:") {
            (Expect::Diff(r.trim().to_string()), false)
        } else if let Some(r) = marker.strip_prefix("BUG:") {
            (Expect::Bug(r.trim().to_string()), false)
        } else if marker == "ordered" {
            (Expect::Match, true)
        } else {
            assert!(
                marker.is_empty(),
                "unknown corpus marker {marker:?} in {line:?}"
            );
            (Expect::Match, false)
        };
        let mut query = q.to_string();
        for (k, v) in vars {
            query = query.replace(&format!("${{{k}}}"), v);
        }
        assert!(!query.contains("${"), "unknown placeholder in {q:?}");
        out.push(Case {
            family: family.clone(),
            query,
            expect,
            ordered,
        });
    }
    out
}

/// The same query in Prometheus 2.42's words: 3.x renamed `holt_winters` to
/// `double_exponential_smoothing`, which Argus's parser knows under its new name only.
fn prom_query(q: &str) -> String {
    q.replace("double_exponential_smoothing(", "holt_winters(")
}

fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

async fn ask(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    params: &[(&str, String)],
) -> Answer {
    match client
        .post(format!("{base}{path}"))
        .form(params)
        .send()
        .await
    {
        Ok(r) => parse_answer(&r.text().await.unwrap_or_default()),
        Err(e) => Answer::Error(format!("request failed: {e}")),
    }
}

struct Outcome {
    case: Case,
    /// (evaluation, description) per differing evaluation.
    diffs: Vec<(String, String)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promql_matches_prometheus_2_42() {
    let started = Instant::now();
    let prom_bin = ensure_prometheus();
    let tmp = tempfile::tempdir().expect("tempdir");
    let prom = start_prometheus(&prom_bin, tmp.path());
    let prom_url = format!("http://127.0.0.1:{}", prom.port);
    let argus_proc;
    let argus_url = match std::env::var("PROMQL_DIFF_ARGUS_URL") {
        Ok(u) => u,
        Err(_) => {
            let dir = tmp.path().join("argus");
            std::fs::create_dir_all(&dir).expect("argus dir");
            argus_proc = ArgusProc::start("server", &dir, &[]);
            argus_proc.url("")
        }
    };

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    // Data ends 2 minutes before now, on whole minutes.
    let end = now / 60_000 * 60_000 - 120_000;
    let t0 = end - POINTS * STEP_MS;
    let data = dataset(t0);
    let n_samples: usize = data.iter().map(|s| s.1.len()).sum();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    load(&client, &prom_url, &data, t0).await;
    load(&client, &argus_url, &data, t0).await;
    eprintln!(
        "loaded {} series, {} samples into both in {:.1?}",
        data.len(),
        n_samples,
        started.elapsed()
    );

    let min = 60_000;
    let vars: HashMap<&str, String> = [
        ("AT_MID", secs(t0 + 60 * min + 321)),
        ("AT_EARLY", secs(t0 + 5 * min + 321)),
        ("AT_LATE", secs(end - 10 * min + 321)),
        ("AT_ALIGNED", secs(t0 + 90 * min)),
    ]
    .into_iter()
    .collect();
    let cases = corpus(&vars);
    let instants = [
        ("early", t0 + 2 * min + 321),
        ("mid", t0 + 75 * min + 30_321),
        ("stale", t0 + 97 * min + 7_321),
        ("end", end + 4 * min + 321),
        ("after", end + 9 * min + 321),
    ];
    let range = (t0 - 3 * min + 321, end + 7 * min + 321, 97_000i64);

    // Probe once so that a missing endpoint fails clearly rather than as 400 mismatches.
    let probe = client
        .get(format!("{argus_url}/api/v1/query_range"))
        .query(&[
            ("query", "1"),
            ("start", "0"),
            ("end", "60"),
            ("step", "15"),
        ])
        .send()
        .await
        .expect("argus query_range probe");
    assert!(
        probe.status() != reqwest::StatusCode::NOT_FOUND,
        "argus has no /api/v1/query_range endpoint (404): the differential test cannot run"
    );

    let cases = Arc::new(cases);
    let workers = 4;
    let mut handles = Vec::new();
    for w in 0..workers {
        let (cases, client, argus_url, prom_url) = (
            cases.clone(),
            client.clone(),
            argus_url.clone(),
            prom_url.clone(),
        );
        handles.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for case in cases.iter().skip(w).step_by(workers) {
                let mut diffs = Vec::new();
                let pq = prom_query(&case.query);
                for (name, t) in instants {
                    let params = [("query", case.query.clone()), ("time", secs(t))];
                    let a = ask(&client, &argus_url, "/api/v1/query", &params).await;
                    let params = [("query", pq.clone()), ("time", secs(t))];
                    let p = ask(&client, &prom_url, "/api/v1/query", &params).await;
                    if let Some(d) = compare(&a, &p, case.ordered) {
                        diffs.push((format!("instant@{name}"), d));
                    }
                }
                let params = [
                    ("query", case.query.clone()),
                    ("start", secs(range.0)),
                    ("end", secs(range.1)),
                    ("step", secs(range.2)),
                ];
                let a = ask(&client, &argus_url, "/api/v1/query_range", &params).await;
                let mut params = params;
                params[0].1 = pq.clone();
                let p = ask(&client, &prom_url, "/api/v1/query_range", &params).await;
                if let Some(d) = compare(&a, &p, case.ordered) {
                    diffs.push(("range".to_string(), d));
                }
                out.push(Outcome {
                    case: case.clone(),
                    diffs,
                });
            }
            out
        }));
    }
    let mut outcomes = Vec::new();
    for h in handles {
        outcomes.extend(h.await.expect("query worker"));
    }

    // Summary.
    let mut fam: BTreeMap<String, [usize; 5]> = BTreeMap::new(); // run, matched, diff, bug, unexpected
    let mut unexpected = Vec::new();
    let mut rotten = Vec::new();
    for o in &outcomes {
        let e = fam.entry(o.case.family.clone()).or_default();
        e[0] += 1;
        match (&o.case.expect, o.diffs.is_empty()) {
            (Expect::Match, true) => e[1] += 1,
            (Expect::Match, false) => {
                e[4] += 1;
                unexpected.push(o);
            }
            (Expect::Diff(_), false) => e[2] += 1,
            (Expect::Bug(_), false) => e[3] += 1,
            (_, true) => rotten.push(o),
        }
    }
    eprintln!("\nfamily            queries matched expected-diff known-bug MISMATCH");
    let mut tot = [0usize; 5];
    for (f, c) in &fam {
        eprintln!(
            "{f:<17} {:>7} {:>7} {:>13} {:>9} {:>8}",
            c[0], c[1], c[2], c[3], c[4]
        );
        for i in 0..5 {
            tot[i] += c[i];
        }
    }
    eprintln!(
        "{:<17} {:>7} {:>7} {:>13} {:>9} {:>8}",
        "TOTAL", tot[0], tot[1], tot[2], tot[3], tot[4]
    );
    eprintln!(
        "each query: {} instant evaluations + 1 range query ({} points); {:.1?} in all",
        instants.len(),
        (range.1 - range.0) / range.2 + 1,
        started.elapsed()
    );
    for o in &outcomes {
        match &o.case.expect {
            Expect::Diff(r) if !o.diffs.is_empty() => {
                eprintln!(
                    "expected 2.42/3.x difference: {}  -- {r}\n    {}: {}",
                    o.case.query, o.diffs[0].0, o.diffs[0].1
                )
            }
            Expect::Bug(r) if !o.diffs.is_empty() => {
                eprintln!(
                    "KNOWN ARGUS BUG: {}  -- {r}\n    {}: {}",
                    o.case.query, o.diffs[0].0, o.diffs[0].1
                )
            }
            _ => {}
        }
    }
    for o in &unexpected {
        eprintln!("MISMATCH [{}] {}", o.case.family, o.case.query);
        for (ev, d) in o.diffs.iter().take(3) {
            eprintln!("    {ev}: {d}");
        }
    }
    for o in &rotten {
        eprintln!(
            "NO LONGER DIFFERS (drop its marker): {} ;; {:?}",
            o.case.query, o.case.expect
        );
    }
    assert!(tot[0] >= 300, "the corpus must hold at least 300 queries");
    assert!(
        unexpected.is_empty() && rotten.is_empty(),
        "{} queries differ from Prometheus 2.42 without a DIFF/BUG marker, {} marked queries no longer differ (see above)",
        unexpected.len(),
        rotten.len()
    );
    drop(prom);
}
