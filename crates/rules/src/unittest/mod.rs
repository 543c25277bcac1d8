//! `argus test rules`: runs rule unit tests in `promtool test rules` format
//! over an in-memory store ([`argus_promql::MemStorage`]) and the
//! [`argus_promql::Engine`], with promtool's semantics: groups are evaluated
//! every `evaluation_interval` from 0 up to the largest `eval_time`, recorded
//! samples are written back, and an `alert_rule_test` at `eval_time` compares
//! the *firing* alerts after the evaluation at the latest step `<= eval_time`.
//!
//! ```no_run
//! let report = argus_rules::run_rule_tests(std::path::Path::new("tests.yml"));
//! print!("{report}");
//! std::process::exit(if report.passed() { 0 } else { 1 });
//! ```

pub mod format;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use argus_model::{Labels, PromDuration};
use argus_promql::testscript::parse::{parse_labels, parse_values, Point};
use argus_promql::{almost_equal, Engine, EngineOptions, MemStorage, Value, VectorSample};

use crate::file::{expand_rule_globs, parse_rule_file};
use crate::group::{EvalDeps, Group, GroupOptions};
use crate::rule::RuleContext;
use format::{TestFile, TestGroup};

/// The outcome of one test file.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    /// The test file.
    pub file: String,
    /// Test groups that passed.
    pub passed: usize,
    /// One text block per failed test group (or one for a file-level error).
    pub failures: Vec<String>,
}

/// The outcome of a `test rules` run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Per file, in order.
    pub files: Vec<FileReport>,
}

impl Report {
    /// True when every test group of every file passed.
    pub fn passed(&self) -> bool {
        self.files.iter().all(|f| f.failures.is_empty())
    }
}

impl fmt::Display for Report {
    /// promtool's layout: `Unit Testing:  FILE` then `  SUCCESS` or `  FAILED:` and the failures.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.files {
            writeln!(f, "Unit Testing:  {}", r.file)?;
            if r.failures.is_empty() {
                writeln!(f, "  SUCCESS")?;
            } else {
                writeln!(f, "  FAILED:")?;
                for e in &r.failures {
                    writeln!(f, "{e}")?;
                }
            }
        }
        Ok(())
    }
}

/// Runs several test files.
pub fn run_rule_test_files(paths: &[PathBuf]) -> Report {
    Report {
        files: paths.iter().flat_map(|p| run_rule_tests(p).files).collect(),
    }
}

/// Runs one test file.
pub fn run_rule_tests(path: &Path) -> Report {
    let name = path.display().to_string();
    let mut rep = FileReport {
        file: name.clone(),
        ..FileReport::default()
    };
    match run_file(path) {
        Ok(results) => {
            for r in results {
                match r {
                    Ok(()) => rep.passed += 1,
                    Err(e) => rep.failures.push(e),
                }
            }
        }
        Err(e) => rep.failures.push(format!("    {e}")),
    }
    Report { files: vec![rep] }
}

fn run_file(path: &Path) -> Result<Vec<Result<(), String>>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let tf: TestFile = serde_saphyr::from_str(&text).map_err(|e| {
        let loc = e
            .location()
            .map(|l| format!("{}:{}: ", l.line(), l.column()))
            .unwrap_or_default();
        format!(
            "{}:{loc}{}",
            path.display(),
            e.to_string().lines().next().unwrap_or("")
        )
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let files = expand_rule_globs(&tf.rule_files, base).map_err(|e| format!("rule_files: {e}"))?;
    let mut specs = Vec::new();
    for f in &files {
        let text =
            std::fs::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        let rf = parse_rule_file(&f.display().to_string(), &text).map_err(|e| e.to_string())?;
        specs.extend(rf.groups);
    }
    for g in &tf.group_eval_order {
        if !specs.iter().any(|s| &s.name == g) {
            return Err(format!(
                "group name provided in group_eval_order not present in rule files: {g}"
            ));
        }
    }
    let eval_interval = tf
        .evaluation_interval
        .map(PromDuration::as_millis)
        .unwrap_or(60_000)
        .max(1);
    Ok(tf
        .tests
        .iter()
        .map(|tg| run_group(tg, &specs, &tf, eval_interval))
        .collect())
}

fn to_vector(v: Value) -> Result<Vec<VectorSample>, String> {
    match v {
        Value::Vector(v) => Ok(v),
        Value::Scalar { t, v } => Ok(vec![VectorSample {
            labels: Labels::empty(),
            t,
            v,
        }]),
        other => Err(format!(
            "rule result is not a vector or scalar: {}",
            other.type_name()
        )),
    }
}

fn lock(m: &Mutex<MemStorage>) -> std::sync::MutexGuard<'_, MemStorage> {
    // Only this thread uses the store; a poisoned lock still holds valid data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn show_labels(l: &BTreeMap) -> String {
    let parts: Vec<String> = l.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{{{}}}", parts.join(", "))
}

type BTreeMap = std::collections::BTreeMap<String, String>;
type AlertView = (BTreeMap, BTreeMap);

fn show_alerts(v: &[AlertView]) -> String {
    if v.is_empty() {
        return "[]".into();
    }
    let mut s = String::from("[\n");
    for (i, (l, a)) in v.iter().enumerate() {
        s.push_str(&format!(
            "            {i}:\n              Labels:{}\n              Annotations:{}\n",
            show_labels(l),
            show_labels(a)
        ));
    }
    s.push_str("            ]");
    s
}

fn run_group(
    tg: &TestGroup,
    specs: &[crate::file::GroupSpec],
    tf: &TestFile,
    eval_interval: i64,
) -> Result<(), String> {
    let prefix = if tg.name.is_empty() {
        String::new()
    } else {
        format!("    name: {},\n", tg.name)
    };
    let fail = |msgs: Vec<String>| Err(format!("{prefix}{}", msgs.join("\n")));
    let store = Arc::new(Mutex::new(MemStorage::new()));
    let interval = tg
        .interval
        .map(PromDuration::as_millis)
        .unwrap_or(eval_interval)
        .max(1);
    for s in &tg.input_series {
        let (labels, rest) = match parse_labels(&s.series) {
            Ok(x) => x,
            Err(e) => return fail(vec![format!("    input series {:?}: {e}", s.series)]),
        };
        if !rest.trim().is_empty() {
            return fail(vec![format!(
                "    input series {:?}: unexpected {rest:?}",
                s.series
            )]);
        }
        let points = match parse_values(&s.values) {
            Ok(p) => p,
            Err(e) => {
                return fail(vec![format!(
                    "    input series {:?}: values: {e}",
                    s.series
                )])
            }
        };
        let mut st = lock(&store);
        for (i, p) in points.iter().enumerate() {
            match p {
                Point::Value(v) => st.add(&labels, i as i64 * interval, *v),
                Point::Omitted => {}
                Point::Histogram => {
                    return fail(vec![format!(
                        "    input series {:?}: native histograms are not supported",
                        s.series
                    )])
                }
            }
        }
    }
    let engine = Engine::new(EngineOptions::default());
    let q_store = store.clone();
    let q_engine = engine.clone();
    let query = move |expr: &str, t: i64| -> Result<Vec<VectorSample>, String> {
        let st = lock(&q_store);
        q_engine
            .instant_query(&*st, expr, t)
            .map_err(|e| e.to_string())
            .and_then(to_vector)
    };
    let s_store = store.clone();
    let samples = move |v: Vec<(Labels, i64, f64)>| -> Result<(), String> {
        let mut st = lock(&s_store);
        for (l, t, x) in v {
            st.add(&l, t, x);
        }
        Ok(())
    };
    let alerts = |_: Vec<crate::Alert>| {};
    let opts = GroupOptions {
        default_interval_ms: eval_interval,
        context: RuleContext {
            external_labels: Labels::from_pairs(&tg.external_labels.iter().collect::<Vec<_>>()),
            external_url: tg.external_url.clone(),
        },
        ..GroupOptions::default()
    };
    let mut groups: Vec<Group> = specs
        .iter()
        .map(|s| Group::new(s.clone(), opts.clone()))
        .collect();
    let order = |g: &Group| {
        tf.group_eval_order
            .iter()
            .position(|n| n == &g.name)
            .map(|p| p + 1)
            .unwrap_or(0)
    };
    groups.sort_by_key(order);
    let deps = EvalDeps {
        query: &query,
        samples: &samples,
        alerts: &alerts,
    };

    let mut alert_tests: Vec<&format::AlertTest> = tg.alert_rule_test.iter().collect();
    alert_tests.sort_by_key(|a| a.eval_time);
    let maxt = tg
        .alert_rule_test
        .iter()
        .map(|a| a.eval_time.as_millis())
        .chain(tg.promql_expr_test.iter().map(|p| p.eval_time.as_millis()))
        .max()
        .unwrap_or(0);
    let mut errs = Vec::new();
    let mut curr = 0;
    let mut ts = 0;
    while ts <= maxt {
        for g in groups.iter_mut() {
            g.eval(ts, deps);
            let rule_errs: Vec<String> = g
                .rules
                .iter()
                .filter_map(|r| {
                    r.health.last_error.as_ref().map(|e| {
                        format!(
                            "    rule: {}, time: {}, err: {e}",
                            r.name(),
                            PromDuration(ts)
                        )
                    })
                })
                .collect();
            if !rule_errs.is_empty() {
                errs.extend(rule_errs);
                return fail(errs);
            }
        }
        while curr < alert_tests.len()
            && alert_tests[curr].eval_time.as_millis() < ts + eval_interval
        {
            let t = alert_tests[curr];
            curr += 1;
            if t.eval_time.as_millis() < ts {
                continue;
            }
            let view = |a: &crate::Alert| -> AlertView {
                (
                    a.labels
                        .iter()
                        .map(|l| (l.name.clone(), l.value.clone()))
                        .collect(),
                    a.annotations
                        .iter()
                        .map(|l| (l.name.clone(), l.value.clone()))
                        .collect(),
                )
            };
            let mut got: Vec<AlertView> = groups
                .iter()
                .flat_map(|g| g.firing(&t.alertname))
                .map(|a| view(&a))
                .collect();
            let mut exp: Vec<AlertView> = t
                .exp_alerts
                .iter()
                .map(|e| {
                    let mut l = e.exp_labels.clone();
                    l.insert("alertname".into(), t.alertname.clone());
                    let a: BTreeMap = e
                        .exp_annotations
                        .iter()
                        .filter(|(_, v)| !v.is_empty())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    (l.into_iter().filter(|(_, v)| !v.is_empty()).collect(), a)
                })
                .collect();
            got.sort();
            exp.sort();
            if got != exp {
                errs.push(format!(
                    "    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
                    t.alertname,
                    t.eval_time,
                    show_alerts(&exp),
                    show_alerts(&got)
                ));
            }
        }
        ts += eval_interval;
    }
    let fuzzy = tf.fuzzy_compare;
    let feq = |a: f64, b: f64| {
        a == b || (a.is_nan() && b.is_nan()) || (fuzzy && almost_equal(a, b, 1e-6))
    };
    for t in &tg.promql_expr_test {
        let got = lock(&store);
        let res = engine
            .instant_query(&*got, &t.expr, t.eval_time.as_millis())
            .map_err(|e| e.to_string())
            .and_then(to_vector);
        drop(got);
        let got = match res {
            Ok(v) => v,
            Err(e) => {
                errs.push(format!(
                    "    expr: {:?}, time: {}, err: {e}",
                    t.expr, t.eval_time
                ));
                continue;
            }
        };
        let mut exp = Vec::new();
        for s in &t.exp_samples {
            if s.histogram.is_some() {
                errs.push(format!(
                    "    expr: {:?}, time: {}, err: native histograms are not supported",
                    t.expr, t.eval_time
                ));
                continue;
            }
            let l = if s.labels.trim().is_empty() {
                Labels::empty()
            } else {
                match parse_labels(&s.labels) {
                    Ok((l, _)) => l,
                    Err(e) => {
                        errs.push(format!(
                            "    expr: {:?}, time: {}, err: bad exp_samples labels {:?}: {e}",
                            t.expr, t.eval_time, s.labels
                        ));
                        continue;
                    }
                }
            };
            exp.push((l, s.value));
        }
        let mut got: Vec<(Labels, f64)> = got.into_iter().map(|s| (s.labels, s.v)).collect();
        exp.sort_by(|a, b| a.0.cmp(&b.0));
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let same = exp.len() == got.len()
            && exp
                .iter()
                .zip(&got)
                .all(|(a, b)| a.0 == b.0 && feq(a.1, b.1));
        if !same {
            let show = |v: &[(Labels, f64)]| {
                let parts: Vec<String> = v
                    .iter()
                    .map(|(l, x)| format!("{l} {}", crate::template::fmt_v(*x)))
                    .collect();
                format!("[{}]", parts.join(", "))
            };
            errs.push(format!(
                "    expr: {:?}, time: {},\n        exp: {}\n        got: {}",
                t.expr,
                t.eval_time,
                show(&exp),
                show(&got)
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        fail(errs)
    }
}
