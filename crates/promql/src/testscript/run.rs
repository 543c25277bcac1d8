//! Executes parsed scripts against [`MemStorage`] and compares results with
//! Prometheus's rules (`almost.Equal` with epsilon 1e-6, relative).

use argus_model::{Labels, Matcher};
use promql_parser::parser::Expr;

use super::parse::{Command, EvalCmd, Expected, Point, SeriesDesc};
use crate::engine::{Engine, EngineOptions, QueryRequest};
use crate::eval::util::almost_equal;
use crate::{MemStorage, Value};

/// Prometheus's test epsilon (`defaultEpsilon` in promqltest).
pub const EPSILON: f64 = 1e-6;

/// The outcome of one `eval`.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// As expected.
    Pass,
    /// Not as expected, with the reason.
    Fail(String),
    /// Not run, with the reason (native histograms, unparsable by `promql-parser`).
    Skip(String),
}

/// The script's state: stored data and the series known to hold native histograms.
pub struct Runner {
    store: MemStorage,
    /// Series with native-histogram samples, and those samples' timestamps.
    hist_series: Vec<(Labels, Vec<i64>)>,
    engine: Engine,
    native_only: bool,
}

impl Runner {
    /// A fresh runner; `native_only` skips every eval (for `native_histograms.test`).
    pub fn new(native_only: bool) -> Self {
        let opts = EngineOptions {
            timeout: std::time::Duration::from_secs(20),
            ..EngineOptions::default()
        };
        Runner {
            store: MemStorage::new(),
            hist_series: Vec::new(),
            engine: Engine::new(opts),
            native_only,
        }
    }

    /// Executes one command; `Some` for `eval`.
    pub fn step(&mut self, cmd: &Command) -> Option<Outcome> {
        match cmd {
            Command::Clear => {
                self.store.clear();
                self.hist_series.clear();
                None
            }
            Command::Load {
                interval,
                series,
                nhcb,
            } => {
                self.load(*interval, series, *nhcb);
                None
            }
            Command::Eval(e) => Some(self.eval(e)),
        }
    }

    fn load(&mut self, interval: i64, series: &[SeriesDesc], nhcb: bool) {
        for s in series {
            for (i, p) in s.points.iter().enumerate() {
                let t = i as i64 * interval;
                match p {
                    Point::Value(v) => self.store.add(&s.labels, t, *v),
                    Point::Omitted => {}
                    Point::Histogram => self.add_hist(&s.labels, t),
                }
            }
            if nhcb {
                if let Some(base) = s
                    .labels
                    .metric_name()
                    .and_then(|n| n.strip_suffix("_bucket"))
                {
                    let mut l = s.labels.clone();
                    l.set("__name__", base);
                    l.remove("le");
                    for (i, p) in s.points.iter().enumerate() {
                        if matches!(p, Point::Value(_)) {
                            self.add_hist(&l, i as i64 * interval);
                        }
                    }
                }
            }
        }
    }

    fn add_hist(&mut self, l: &Labels, t: i64) {
        match self.hist_series.iter_mut().find(|(x, _)| x == l) {
            Some((_, ts)) => ts.push(t),
            None => self.hist_series.push((l.clone(), vec![t])),
        }
    }

    /// Whether a selector of `e` could read a native-histogram sample when
    /// evaluated over `[start, end]`.
    fn touches_histograms(&self, e: &Expr, start: i64, end: i64) -> bool {
        let mut sels = Vec::new();
        collect_selectors(e, 0, &mut sels);
        let lookback = self.engine.options().lookback_ms;
        sels.iter().any(|(vs, extra)| {
            let Ok(sets) = crate::eval::selector_matchers(vs) else {
                return false;
            };
            let off = crate::eval::offset_ms(&vs.offset);
            let at = vs.at.as_ref().map(|a| match a {
                promql_parser::parser::AtModifier::Start => start,
                promql_parser::parser::AtModifier::End => end,
                promql_parser::parser::AtModifier::At(t) => crate::eval::system_time_ms(*t),
            });
            let (lo, hi) = match at {
                Some(t) => (t.min(start), t.max(end)),
                None => (start, end),
            };
            let (lo, hi) = (lo - off - extra - lookback, hi - off + 1);
            sets.iter().any(|set| {
                self.hist_series.iter().any(|(l, ts)| {
                    set.iter()
                        .all(|m: &Matcher| m.matches(l.get(&m.name).unwrap_or("")))
                        && ts.iter().any(|t| *t >= lo && *t <= hi)
                })
            })
        })
    }

    fn eval(&mut self, cmd: &EvalCmd) -> Outcome {
        if self.native_only {
            return Outcome::Skip("native histograms (native_histograms.test)".into());
        }
        if let Expected::Series(ss) = &cmd.expected {
            if ss.iter().any(|s| s.points.contains(&Point::Histogram)) {
                return Outcome::Skip("native histogram in the expected result".into());
            }
        }
        let want_fail = cmd.has("fail");
        let parsed = promql_parser::parser::parse(&cmd.expr);
        let ast = match parsed {
            Ok(a) => a,
            Err(e) => {
                let e1 = e.lines().next().unwrap_or("").to_string();
                if want_fail {
                    return match check_fail(cmd, &e) {
                        Ok(()) => Outcome::Pass,
                        Err(_) => Outcome::Skip(format!(
                            "promql-parser rejects it with another message: {e1}"
                        )),
                    };
                }
                return Outcome::Skip(format!("promql-parser cannot parse: {e1}"));
            }
        };
        let (qs, qe) = match (cmd.at, cmd.range) {
            (Some(t), _) => (t, t),
            (None, Some((s, e, _))) => (s, e),
            _ => (0, 0),
        };
        if self.touches_histograms(&ast, qs, qe) {
            return Outcome::Skip("native histogram input".into());
        }
        let req = match (cmd.at, cmd.range) {
            (Some(t), _) => QueryRequest {
                expr: cmd.expr.clone(),
                start_ms: t,
                end_ms: t,
                step_ms: 0,
                cancel: None,
            },
            (None, Some((s, e, st))) => QueryRequest {
                expr: cmd.expr.clone(),
                start_ms: s,
                end_ms: e,
                step_ms: st,
                cancel: None,
            },
            _ => return Outcome::Fail("eval without time".into()),
        };
        let res = self.engine.exec(&self.store, &req);
        let res = match res {
            Err(e) => {
                if want_fail {
                    return match check_fail(cmd, &e.to_string()) {
                        Ok(()) => Outcome::Pass,
                        Err(m) => Outcome::Fail(m),
                    };
                }
                return Outcome::Fail(format!("unexpected error: {e}"));
            }
            Ok(r) => r,
        };
        if want_fail {
            return Outcome::Fail("expected an error but the query succeeded".into());
        }
        if let Err(m) = check_annotations(cmd, "warn", &res.annotations.warnings) {
            return Outcome::Fail(m);
        }
        if let Err(m) = check_annotations(cmd, "info", &res.annotations.infos) {
            return Outcome::Fail(m);
        }
        match compare(cmd, &res.value) {
            Ok(()) => Outcome::Pass,
            Err(m) => Outcome::Fail(m),
        }
    }
}

/// Collects selectors with the extra look-back (ranges, subquery ranges and offsets) around them.
fn collect_selectors<'a>(
    e: &'a Expr,
    extra: i64,
    out: &mut Vec<(&'a promql_parser::parser::VectorSelector, i64)>,
) {
    use crate::eval::{dur_ms, offset_ms};
    match e {
        Expr::Aggregate(a) => {
            collect_selectors(&a.expr, extra, out);
            if let Some(p) = &a.param {
                collect_selectors(p, extra, out);
            }
        }
        Expr::Unary(u) => collect_selectors(&u.expr, extra, out),
        Expr::Binary(b) => {
            collect_selectors(&b.lhs, extra, out);
            collect_selectors(&b.rhs, extra, out);
        }
        Expr::Paren(p) => collect_selectors(&p.expr, extra, out),
        Expr::Subquery(s) => {
            // Subqueries with @ are approximated by widening the window.
            let at_extra = if s.at.is_some() { 1 << 40 } else { 0 };
            collect_selectors(
                &s.expr,
                extra + dur_ms(&s.range) + offset_ms(&s.offset).abs() + at_extra,
                out,
            )
        }
        Expr::VectorSelector(v) => out.push((v, extra)),
        Expr::MatrixSelector(m) => out.push((&m.vs, extra + dur_ms(&m.range))),
        Expr::Call(c) => c
            .args
            .args
            .iter()
            .for_each(|a| collect_selectors(a, extra, out)),
        _ => {}
    }
}

fn check_fail(cmd: &EvalCmd, err: &str) -> Result<(), String> {
    for e in cmd.expects.iter().filter(|e| e.kind == "fail") {
        if let Some(m) = &e.msg {
            if m != err {
                return Err(format!("expected error {m:?}, got {err:?}"));
            }
        }
        if let Some(r) = &e.regex {
            let ok = regex::Regex::new(r)
                .map(|re| re.is_match(err))
                .unwrap_or(false);
            if !ok {
                return Err(format!("expected error matching {r:?}, got {err:?}"));
            }
        }
    }
    Ok(())
}

fn check_annotations(cmd: &EvalCmd, kind: &str, got: &[String]) -> Result<(), String> {
    let no = format!("no_{kind}");
    if cmd.has(&no) && !got.is_empty() {
        return Err(format!("expected no {kind} annotations, got {got:?}"));
    }
    let exps: Vec<_> = cmd.expects.iter().filter(|e| e.kind == kind).collect();
    if exps.is_empty() {
        return Ok(());
    }
    if got.is_empty() {
        return Err(format!("expected {kind} annotations, got none"));
    }
    let matches = |e: &super::parse::Expect, a: &str| -> bool {
        match (&e.msg, &e.regex) {
            (Some(m), _) => m == a,
            (_, Some(r)) => regex::Regex::new(r)
                .map(|re| re.is_match(a))
                .unwrap_or(false),
            _ => true,
        }
    };
    for e in &exps {
        if !got.iter().any(|a| matches(e, a)) {
            return Err(format!(
                "expected {kind} annotation {:?}/{:?}, got {got:?}",
                e.msg, e.regex
            ));
        }
    }
    for a in got {
        if !exps.iter().any(|e| matches(e, a)) {
            return Err(format!("unexpected {kind} annotation {a:?}"));
        }
    }
    Ok(())
}

fn compare(cmd: &EvalCmd, v: &Value) -> Result<(), String> {
    let ordered = cmd.has("ordered");
    match (&cmd.expected, v) {
        (Expected::Scalar(x), Value::Scalar { v, .. }) => {
            if almost_equal(*x, *v, EPSILON) {
                Ok(())
            } else {
                Err(format!("expected scalar {x}, got {v}"))
            }
        }
        (Expected::Str(x), Value::String { s, .. }) => {
            if x == s {
                Ok(())
            } else {
                Err(format!("expected string {x:?}, got {s:?}"))
            }
        }
        (Expected::Series(exp), Value::Vector(got)) => {
            if got.len() != exp.len() {
                return Err(format!(
                    "expected {} series, got {}: {}",
                    exp.len(),
                    got.len(),
                    show_vec(got)
                ));
            }
            for (pos, s) in got.iter().enumerate() {
                let Some(ei) = exp.iter().position(|e| e.labels == s.labels) else {
                    return Err(format!(
                        "unexpected series {} = {} in the result",
                        s.labels, s.v
                    ));
                };
                if ordered && ei != pos {
                    return Err(format!(
                        "series {} at position {pos}, expected {ei}",
                        s.labels
                    ));
                }
                let want = match exp[ei].points.first() {
                    Some(Point::Value(x)) => *x,
                    _ => return Err(format!("no expected value for {}", s.labels)),
                };
                if !almost_equal(want, s.v, EPSILON) {
                    return Err(format!("expected {want} for {}, got {}", s.labels, s.v));
                }
            }
            Ok(())
        }
        (Expected::Series(exp), Value::Matrix(got)) => {
            if ordered {
                return Err("expected ordered result, but query returned a matrix".into());
            }
            let (start, step) = match cmd.range {
                Some((s, _, st)) => (s, st),
                None => (cmd.at.unwrap_or(0), 0),
            };
            for s in got {
                let Some(e) = exp.iter().find(|e| e.labels == s.labels) else {
                    return Err(format!(
                        "unexpected series {} in the result: {:?}",
                        s.labels, s.samples
                    ));
                };
                let want: Vec<(i64, f64)> = e
                    .points
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| match p {
                        Point::Value(x) => Some((start + i as i64 * step, *x)),
                        _ => None,
                    })
                    .collect();
                if want.len() != s.samples.len() {
                    return Err(format!(
                        "expected {} points for {}, got {}: {:?}",
                        want.len(),
                        s.labels,
                        s.samples.len(),
                        s.samples.iter().map(|p| (p.t, p.v)).collect::<Vec<_>>()
                    ));
                }
                for ((wt, wv), p) in want.iter().zip(&s.samples) {
                    if (step != 0 && *wt != p.t) || !almost_equal(*wv, p.v, EPSILON) {
                        return Err(format!(
                            "expected {wv}@{wt} for {}, got {}@{}",
                            s.labels, p.v, p.t
                        ));
                    }
                }
            }
            for e in exp {
                if !got.iter().any(|s| s.labels == e.labels) {
                    return Err(format!("expected series {} not found", e.labels));
                }
            }
            Ok(())
        }
        (e, v) => Err(format!("expected {e:?}, got {v:?}")),
    }
}

fn show_vec(v: &[crate::VectorSample]) -> String {
    let parts: Vec<String> = v
        .iter()
        .take(5)
        .map(|s| format!("{} {}", s.labels, s.v))
        .collect();
    parts.join("; ")
}
