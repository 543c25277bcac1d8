//! Differential test: Argus's PromQL over HTTP against the real Prometheus 2.42 (Debian's package).
//!
//! Both servers get identical data by remote_write (about 57 series over 2.5 hours at 15 s, see
//! [`dataset::dataset`]); then every query of `promql_corpus.txt` runs as an instant query at several times
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

#[path = "promql_diff/answer.rs"]
mod answer;
mod common;
#[path = "promql_diff/dataset.rs"]
mod dataset;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use answer::{compare, parse_answer, Answer};
use common::{encode_write, free_port, post_write, ArgusProc};
use dataset::{dataset, SeriesData};

const STEP_MS: i64 = 15_000;
const POINTS: i64 = 600; // 2.5 h at 15 s
const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;
const REL_EPS: f64 = 1e-9;

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
