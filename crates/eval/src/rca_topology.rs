//! The evaluation behind `argus eval rca-topology`: rank the services most
//! likely to have caused an incident, for one case folder or for every case
//! under a root, scored against a labels file beside a robust z-score
//! baseline.
//!
//! A case is loaded the way Argus loads a text import: each OpenMetrics file
//! is parsed by `argus_ingest::text`, appended into a store on a temporary
//! directory (`argus_tsdb::Db`, its clock set just past the newest sample),
//! and read back with `select` before it is handed to
//! `argus_rca::topology::rank`, the function the server calls live.
//!
//! ```no_run
//! use argus_eval::rca_topology::{load_case, settings};
//! let case = load_case("case-1".as_ref(), Some("graph.csv".as_ref()), None).unwrap();
//! let ranking = argus_rca::topology::rank(&case, &settings(&[]).unwrap()).unwrap();
//! println!("{}", ranking.suspects[0].service);
//! ```

use argus_ingest::text::{TextFormat, TextParser};
use argus_model::{ManualClock, MatchOp, Matcher};
use argus_rca::topology::{self, Case, Entry, Ranking, Series, Settings};
use argus_tsdb::{Appender, Db, FsyncPolicy, Options, Querier};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a case, a labels file or the settings could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TopologyEvalError {
    /// A file or folder could not be read or written.
    #[error("{what} {}: {error}", path.display())]
    Io {
        /// What was being done (`reading`, `writing`, `listing`).
        what: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The I/O error (in the message, not a separate source, so a
        /// printed chain says it once).
        error: std::io::Error,
    },
    /// A file's content is wrong; the message names the line or key.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        message: String,
    },
    /// The temporary store refused to open, store or read a case.
    #[error("{what} {}: {error}", path.display())]
    Store {
        /// What was being done.
        what: &'static str,
        /// The case file.
        path: PathBuf,
        /// The store's error.
        error: argus_tsdb::TsdbError,
    },
    /// A `--set NAME=VALUE` override is wrong.
    #[error("--set {0}")]
    Setting(String),
    /// The ranking refused the case or the settings.
    #[error(transparent)]
    Rank(#[from] topology::TopologyError),
}

type Result<T> = std::result::Result<T, TopologyEvalError>;

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> TopologyEvalError {
    let path = path.to_path_buf();
    move |error| TopologyEvalError::Io { what, path, error }
}

fn invalid(path: &Path, message: impl Into<String>) -> TopologyEvalError {
    TopologyEvalError::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The default settings with `--set` overrides applied.
pub fn settings(overrides: &[String]) -> Result<Settings> {
    let mut s = Settings::default();
    for o in overrides {
        let (name, value) = o
            .split_once('=')
            .ok_or_else(|| TopologyEvalError::Setting(format!("{o}: expected NAME=VALUE")))?;
        let v: f64 = value
            .trim()
            .parse()
            .map_err(|_| TopologyEvalError::Setting(format!("{o}: {value} is not a number")))?;
        match name.trim() {
            "edge_weight" => s.edge_weight = v,
            "min_baseline_points" => s.min_baseline_points = v as usize,
            "recent_points" => s.recent_points = v as usize,
            "relative_floor" => s.relative_floor = v,
            "family_floor" => s.family_floor = v,
            "second_weight" => s.second_weight = v,
            "anomalous_z" => s.anomalous_z = v,
            "downstream_ratio" => s.downstream_ratio = v,
            "downstream_penalty" => s.downstream_penalty = v,
            "downstream_depth" => s.downstream_depth = v as usize,
            "unreachable_penalty" => s.unreachable_penalty = v,
            "kind_share" => s.kind_share = v,
            "path_penalty" => s.path_penalty = v,
            "shared_weight" => s.shared_weight = v,
            "onset_share" => s.onset_share = v,
            "path_z" => s.path_z = v,
            "history_points" => s.history_points = v as usize,
            "resource_weight" => s.resource_weight = v,
            "entry_kind_weight" => s.entry_kind_weight = v,
            other => {
                return Err(TopologyEvalError::Setting(format!(
                    "{o}: no numeric setting named {other}"
                )))
            }
        }
    }
    s.validate()?;
    Ok(s)
}

/// Loads one case folder through the import path.
pub fn load_case(dir: &Path, graph: Option<&Path>, normal: Option<&Path>) -> Result<Case> {
    let incident_path = dir.join("incident.json");
    let text = std::fs::read_to_string(&incident_path).map_err(io("reading", &incident_path))?;
    let incident: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| invalid(&incident_path, format!("not JSON: {e}")))?;
    let start_s = incident
        .get("start")
        .and_then(|v| v.as_f64())
        .filter(|s| s.is_finite() && s.abs() < 1e11)
        .ok_or_else(|| {
            invalid(
                &incident_path,
                "\"start\" (unix seconds) is missing or not a number",
            )
        })?;
    let entry = incident.get("entry").and_then(|e| {
        let s = |k: &str| e.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let entry = Entry {
            service: s("service"),
            metric: s("metric"),
        };
        (entry.service.is_some() || entry.metric.is_some()).then_some(entry)
    });
    let window = load_series(&dir.join("metrics.om"))?;
    let normal = match normal {
        Some(p) => load_series(p)?,
        None => Vec::new(),
    };
    let edges = match graph {
        Some(p) => read_graph(p)?,
        None => Vec::new(),
    };
    Ok(Case {
        window,
        normal,
        start_ms: (start_s * 1000.0).round() as i64,
        entry,
        edges,
    })
}

/// Parses an OpenMetrics file, appends it into a fresh store on a temporary
/// directory and reads every series back.
pub fn load_series(path: &Path) -> Result<Vec<Series>> {
    let body = std::fs::read(path).map_err(io("reading", path))?;
    // First pass: the newest timestamp (the store's clock goes just past it),
    // and the first broken line, which fails the load.
    let (mut min_t, mut max_t) = (i64::MAX, i64::MIN);
    for item in TextParser::new(&body, TextFormat::OpenMetrics) {
        let s = item.map_err(|e| invalid(path, e.to_string()))?;
        if let Some(t) = s.timestamp_ms {
            min_t = min_t.min(t);
            max_t = max_t.max(t);
        }
    }
    if max_t == i64::MIN {
        return Ok(Vec::new());
    }
    let tmp = tempfile::tempdir().map_err(io("creating a temporary store for", path))?;
    let now = max_t.saturating_add(1);
    let opts = Options {
        retention_ms: None,
        ooo_window_ms: i64::MAX / 4,
        wal_fsync: FsyncPolicy::Never,
        min_free_bytes: 0,
        ..Options::default()
    };
    let store = |what: &'static str| {
        let path = path.to_path_buf();
        move |error| TopologyEvalError::Store { what, path, error }
    };
    let db = Db::open(tmp.path(), opts, Arc::new(ManualClock::new(now)))
        .map_err(store("opening a store for"))?;
    let mut app = db.appender();
    let report = argus_ingest::text::ingest_text(&mut app, &body, now, TextFormat::OpenMetrics);
    app.commit().map_err(store("storing"))?;
    if report.rejected > 0 {
        tracing::warn!(
            file = %path.display(),
            refused = report.rejected,
            first = report.errors.first().map_or("", String::as_str),
            "The store refused some samples of a case; the case is ranked without them."
        );
    }
    let all = Matcher::new(MatchOp::Re, "__name__", ".+")
        .map_err(|e| invalid(path, format!("building a matcher: {e}")))?;
    let series = db
        .select(&[all], min_t, max_t)
        .map_err(store("reading back"))?;
    db.close().map_err(store("closing the store for"))?;
    Ok(series
        .into_iter()
        .map(|s| Series {
            labels: s.labels,
            samples: s.samples.iter().map(|x| (x.t, x.v)).collect(),
        })
        .collect())
}

/// Reads `caller,callee` lines after a header.
pub fn read_graph(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(io("reading", path))?;
    let mut edges = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f = csv_fields(line);
        if f.len() != 2 {
            return Err(invalid(
                path,
                format!(
                    "line {}: expected two fields, caller and callee, found {}",
                    i + 1,
                    f.len()
                ),
            ));
        }
        edges.push((f[0].clone(), f[1].clone()));
    }
    Ok(edges)
}

/// Splits one CSV line, honouring double quotes.
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// The ranking as JSON, best first.
pub fn ranking_json(r: &Ranking) -> serde_json::Value {
    let list: Vec<serde_json::Value> = r
        .suspects
        .iter()
        .map(|s| {
            serde_json::json!({
                "service": s.service,
                "score": (s.score * 1000.0).round() / 1000.0,
                "metric": s.metric,
                "kind": s.kind,
                "evidence": s.evidence,
            })
        })
        .collect();
    serde_json::json!({ "ranking": list })
}

/// Writes the ranking to `out` as JSON.
pub fn write_ranking(out: &Path, r: &Ranking) -> Result<()> {
    let text = serde_json::to_string_pretty(&ranking_json(r)).unwrap_or_default();
    std::fs::write(out, text + "\n").map_err(io("writing", out))
}

/// One labelled case.
struct Label {
    system: String,
    service: String,
}

fn read_labels(path: &Path) -> Result<BTreeMap<String, Label>> {
    let text = std::fs::read_to_string(path).map_err(io("reading", path))?;
    let mut lines = text.lines();
    let header = csv_fields(lines.next().unwrap_or(""));
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| invalid(path, format!("no \"{name}\" column in the header")))
    };
    let (c_case, c_sys, c_svc) = (col("case")?, col("system")?, col("service")?);
    let mut out = BTreeMap::new();
    for (i, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f = csv_fields(line);
        let get = |c: usize| {
            f.get(c)
                .cloned()
                .ok_or_else(|| invalid(path, format!("line {}: too few fields", i + 2)))
        };
        out.insert(
            get(c_case)?,
            Label {
                system: get(c_sys)?,
                service: get(c_svc)?,
            },
        );
    }
    Ok(out)
}

/// Folders under `root` (itself included) holding `metrics.om`, sorted.
fn find_cases(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir.join("metrics.om").is_file() {
            out.push(dir.clone());
        }
        let rd = std::fs::read_dir(&dir).map_err(io("listing", &dir))?;
        for e in rd {
            let p = e.map_err(io("listing", &dir))?.path();
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// What one method did on one case.
#[derive(Default, Clone)]
struct Outcome {
    /// 1-based rank of the answer; `None` when absent or when the run failed.
    rank: Option<usize>,
    top: String,
    kind: String,
    time: Duration,
    error: Option<String>,
}

fn rank_of(r: &Ranking, answer: &str) -> Option<usize> {
    r.suspects
        .iter()
        .position(|s| s.service == answer)
        .map(|p| p + 1)
}

/// Runs both methods on one case, catching errors and panics.
fn run_case(dir: &Path, answer: &str, set: &Settings) -> (Outcome, Outcome) {
    let parent = dir.parent().unwrap_or(dir);
    let graph = Some(parent.join("graph.csv")).filter(|p| p.is_file());
    let normal = Some(parent.join("normal.om")).filter(|p| p.is_file());
    let t0 = Instant::now();
    let loaded = std::panic::catch_unwind(|| load_case(dir, graph.as_deref(), normal.as_deref()));
    let load_time = t0.elapsed();
    let case = match loaded {
        Ok(Ok(c)) => c,
        other => {
            let msg = match other {
                Ok(Err(e)) => e.to_string(),
                _ => "the load panicked".to_string(),
            };
            let o = Outcome {
                time: load_time,
                error: Some(msg),
                ..Outcome::default()
            };
            return (o.clone(), o);
        }
    };
    let t1 = Instant::now();
    let ours = std::panic::catch_unwind(|| topology::rank(&case, set));
    let ours_time = load_time + t1.elapsed();
    let t2 = Instant::now();
    let base = std::panic::catch_unwind(|| topology::zscore_baseline(&case, "service"));
    let base_time = load_time + t2.elapsed();
    let outcome = |r: std::result::Result<Ranking, String>, time: Duration| match r {
        Ok(r) => Outcome {
            rank: rank_of(&r, answer),
            top: r
                .suspects
                .first()
                .map(|s| s.service.clone())
                .unwrap_or_default(),
            kind: r
                .suspects
                .first()
                .map(|s| s.kind.to_string())
                .unwrap_or_default(),
            time,
            error: None,
        },
        Err(e) => Outcome {
            time,
            error: Some(e),
            ..Outcome::default()
        },
    };
    let ours = match ours {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the ranking panicked".to_string()),
    };
    let base = base.map_err(|_| "the baseline panicked".to_string());
    (outcome(ours, ours_time), outcome(base, base_time))
}

/// AC@1..5 and timing of one method over a group of cases.
struct Summary {
    n: usize,
    ac: [f64; 5],
    failed: usize,
    p50: Duration,
    max: Duration,
}

fn summarise(outs: &[&Outcome]) -> Summary {
    let n = outs.len();
    let mut ac = [0.0; 5];
    for (k, a) in ac.iter_mut().enumerate() {
        let hits = outs
            .iter()
            .filter(|o| o.rank.is_some_and(|r| r <= k + 1))
            .count();
        *a = if n == 0 { 0.0 } else { hits as f64 / n as f64 };
    }
    let mut times: Vec<Duration> = outs.iter().map(|o| o.time).collect();
    times.sort();
    Summary {
        n,
        ac,
        failed: outs.iter().filter(|o| o.error.is_some()).count(),
        p50: times.get(times.len() / 2).copied().unwrap_or_default(),
        max: times.last().copied().unwrap_or_default(),
    }
}

impl Summary {
    fn avg5(&self) -> f64 {
        self.ac.iter().sum::<f64>() / 5.0
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "cases": self.n, "failed": self.failed,
            "top1": self.ac[0], "top3": self.ac[2], "avg5": self.avg5(),
            "p50_seconds": self.p50.as_secs_f64(), "max_seconds": self.max.as_secs_f64(),
        })
    }
}

/// Ranks every case under `root` (a folder holding `metrics.om`; `graph.csv`
/// and `normal.om` in its parent are used when there) with Argus and the
/// z-score baseline, scores both against `labels_path` (CSV with `case`,
/// `system` and `service` columns), and writes a table per system and
/// scenario to `out` and each failed case to `errors`. With `json`, also
/// writes every case and the summary there. Returns whether every case ran.
pub fn batch(
    root: &Path,
    labels_path: &Path,
    json: Option<&Path>,
    set: &Settings,
    out: &mut dyn Write,
    errors: &mut dyn Write,
) -> Result<bool> {
    let stdout = |r: std::io::Result<()>| r.map_err(io("writing the report for", root));
    let labels = read_labels(labels_path)?;
    let dirs = find_cases(root)?;
    if dirs.is_empty() {
        return Err(invalid(root, "no folder holding metrics.om"));
    }
    // (case id, group names, ours, baseline)
    let mut rows: Vec<(String, Vec<String>, Outcome, Outcome)> = Vec::new();
    for dir in &dirs {
        let id = dir
            .strip_prefix(root)
            .unwrap_or(dir)
            .to_string_lossy()
            .replace('\\', "/");
        let scenario = id.rsplit_once('/').map_or("", |(s, _)| s).to_string();
        let label = labels.get(&id);
        let (ours, base) = match label {
            Some(l) => run_case(dir, &l.service, set),
            None => {
                let o = Outcome {
                    error: Some(format!("no row for case {id} in {}", labels_path.display())),
                    ..Outcome::default()
                };
                (o.clone(), o)
            }
        };
        let mut groups = vec![format!(
            "system {}",
            label.map_or("?", |l| l.system.as_str())
        )];
        if !scenario.is_empty() {
            groups.push(format!("scenario {scenario}"));
        }
        if let Some(e) = &ours.error {
            stdout(writeln!(errors, "argus: case {id} failed: {e}"))?;
        }
        rows.push((id, groups, ours, base));
    }
    let mut names: Vec<String> = rows.iter().flat_map(|r| r.1.clone()).collect();
    names.sort();
    names.dedup();
    names.push("overall".to_string());
    stdout(writeln!(
        out,
        "{:<32} {:>5}  {:>21}  {:>21}  {:>17}  {:>7}",
        "group",
        "cases",
        "argus top1/top3/avg5",
        "z-score top1/top3/avg5",
        "argus p50/max s",
        "failed"
    ))?;
    let mut summary_json = serde_json::Map::new();
    for name in &names {
        let pick = |which: usize| -> Vec<&Outcome> {
            rows.iter()
                .filter(|r| name == "overall" || r.1.contains(name))
                .map(|r| if which == 0 { &r.2 } else { &r.3 })
                .collect()
        };
        let (a, b) = (summarise(&pick(0)), summarise(&pick(1)));
        stdout(writeln!(
            out,
            "{:<32} {:>5}  {:>6.3} {:>6.3} {:>6.3}   {:>6.3} {:>6.3} {:>6.3}   {:>7.3} {:>7.3}  {:>7}",
            name, a.n, a.ac[0], a.ac[2], a.avg5(), b.ac[0], b.ac[2], b.avg5(),
            a.p50.as_secs_f64(), a.max.as_secs_f64(), a.failed
        ))?;
        summary_json.insert(
            name.clone(),
            serde_json::json!({ "argus": a.json(), "zscore": b.json() }),
        );
    }
    let failed: Vec<&String> = rows
        .iter()
        .filter(|r| r.2.error.is_some())
        .map(|r| &r.0)
        .collect();
    if !failed.is_empty() {
        stdout(writeln!(
            out,
            "failed cases: {}",
            failed
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))?;
    }
    if let Some(path) = json {
        let cases: Vec<serde_json::Value> = rows
            .iter()
            .map(|(id, _, o, b)| {
                serde_json::json!({
                    "case": id,
                    "answer": labels.get(id).map(|l| l.service.as_str()),
                    "argus": { "rank": o.rank, "top": o.top, "kind": o.kind, "seconds": o.time.as_secs_f64(), "error": o.error },
                    "zscore": { "rank": b.rank, "top": b.top, "seconds": b.time.as_secs_f64(), "error": b.error },
                })
            })
            .collect();
        let doc = serde_json::json!({ "summary": summary_json, "cases": cases });
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        std::fs::write(path, text + "\n").map_err(io("writing", path))?;
    }
    Ok(failed.is_empty())
}

#[cfg(test)]
#[path = "rca_topology_tests.rs"]
mod tests;
