//! Evaluating binary operations (PromQL's semantics: vector matching with `on`/`ignoring`,
//! `group_left`/`group_right`, comparisons that filter or give 0/1 with `bool`, the set
//! operators) and the functions `sort`, `sort_desc` and `label_replace`.

use super::*;
use crate::logql::parse::{BinOp, Binary, Matching, Side};
use regex::Regex;

/// Labels as `{a="b", c="d"}`, for messages.
fn show(l: &Labels) -> String {
    let parts: Vec<String> = l
        .iter()
        .map(|x| format!("{}={:?}", x.name, x.value))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// The labels two series are paired by.
fn signature(l: &Labels, m: Option<&Matching>) -> Labels {
    match m {
        Some(m) if m.on => Labels::from_vec(
            l.iter()
                .filter(|x| m.labels.contains(&x.name))
                .cloned()
                .collect(),
        ),
        Some(m) => Labels::from_vec(
            l.iter()
                .filter(|x| !m.labels.contains(&x.name))
                .cloned()
                .collect(),
        ),
        None => l.clone(),
    }
}

/// `b` at every step.
pub(super) fn eval(
    src: &dyn LogSource,
    b: &Binary,
    steps: Steps,
    limits: &Limits,
    stats: &mut Stats,
) -> Result<Vec<Series>, LogqlError> {
    match (&b.lhs, &b.rhs) {
        (MetricExpr::Literal(x), r) => {
            let v = eval_metric(src, r, steps, limits, stats)?;
            Ok(with_scalar(v, *x, b, true))
        }
        (l, MetricExpr::Literal(y)) => {
            let v = eval_metric(src, l, steps, limits, stats)?;
            Ok(with_scalar(v, *y, b, false))
        }
        (l, r) => {
            let lv = eval_metric(src, l, steps, limits, stats)?;
            let rv = eval_metric(src, r, steps, limits, stats)?;
            vectors(lv, rv, b, steps.n, limits)
        }
    }
}

/// A vector and a number; a comparison without `bool` keeps the vector's values where true.
fn with_scalar(v: Vec<Series>, s: f64, b: &Binary, scalar_left: bool) -> Vec<Series> {
    v.into_iter()
        .filter_map(|series| {
            let points: Vec<(usize, f64)> = series
                .points
                .into_iter()
                .filter_map(|(i, x)| {
                    let r = if scalar_left {
                        b.op.apply(s, x)
                    } else {
                        b.op.apply(x, s)
                    };
                    match (b.op.is_comparison(), b.return_bool) {
                        (false, _) | (true, true) => Some((i, r)),
                        (true, false) => (r == 1.0).then_some((i, x)),
                    }
                })
                .collect();
            (!points.is_empty()).then_some(Series {
                labels: series.labels,
                points,
            })
        })
        .collect()
}

/// The points of `v` by step: (series index, value).
fn by_step(v: &[Series], n: usize) -> Vec<Vec<(usize, f64)>> {
    let mut out = vec![Vec::new(); n];
    for (k, s) in v.iter().enumerate() {
        for &(i, x) in &s.points {
            if let Some(slot) = out.get_mut(i) {
                slot.push((k, x));
            }
        }
    }
    out
}

/// Output points gathered into series, in the order their labels first appeared.
#[derive(Default)]
struct Collect {
    index: HashMap<Labels, usize>,
    series: Vec<Series>,
}

impl Collect {
    fn push(
        &mut self,
        labels: Labels,
        i: usize,
        v: f64,
        limits: &Limits,
    ) -> Result<(), LogqlError> {
        let k = match self.index.get(&labels) {
            Some(&k) => k,
            None => {
                if self.series.len() >= limits.max_series {
                    return Err(LogqlError::TooManySeries {
                        limit: limits.max_series,
                    });
                }
                self.index.insert(labels.clone(), self.series.len());
                self.series.push(Series {
                    labels,
                    points: Vec::new(),
                });
                self.series.len() - 1
            }
        };
        let s = &mut self.series[k];
        if s.points.last().is_some_and(|&(j, _)| j == i) {
            return Err(LogqlError::Matching(format!(
                "multiple matches for labels {}: the result would hold the same series twice; add labels to on (…) or group_left (…)",
                show(&s.labels)
            )));
        }
        s.points.push((i, v));
        Ok(())
    }
}

fn vectors(
    lv: Vec<Series>,
    rv: Vec<Series>,
    b: &Binary,
    n: usize,
    limits: &Limits,
) -> Result<Vec<Series>, LogqlError> {
    let m = b.matching.as_ref();
    let lsig: Vec<Labels> = lv.iter().map(|s| signature(&s.labels, m)).collect();
    let rsig: Vec<Labels> = rv.iter().map(|s| signature(&s.labels, m)).collect();
    let (lsteps, rsteps) = (by_step(&lv, n), by_step(&rv, n));
    let mut out = Collect::default();
    if b.op.is_set() {
        for i in 0..n {
            let right: std::collections::HashSet<&Labels> =
                rsteps[i].iter().map(|&(k, _)| &rsig[k]).collect();
            let left: std::collections::HashSet<&Labels> =
                lsteps[i].iter().map(|&(k, _)| &lsig[k]).collect();
            for &(k, x) in &lsteps[i] {
                let present = right.contains(&lsig[k]);
                if b.op == BinOp::Or || (b.op == BinOp::And) == present {
                    out.push(lv[k].labels.clone(), i, x, limits)?;
                }
            }
            if b.op == BinOp::Or {
                for &(k, x) in &rsteps[i] {
                    if !left.contains(&rsig[k]) {
                        out.push(rv[k].labels.clone(), i, x, limits)?;
                    }
                }
            }
        }
        return Ok(out.series);
    }
    // The "one" side must be unique per signature; so must the other, one to one.
    let group = m.and_then(|m| m.group.as_ref());
    let many_is_left = !matches!(group, Some((Side::Right, _)));
    let (many, many_sig, many_steps, one, one_sig, one_steps) = if many_is_left {
        (&lv, &lsig, &lsteps, &rv, &rsig, &rsteps)
    } else {
        (&rv, &rsig, &rsteps, &lv, &lsig, &lsteps)
    };
    let side = |left: bool| if left { "left" } else { "right" };
    for i in 0..n {
        let mut ones: HashMap<&Labels, (usize, f64)> = HashMap::new();
        for &(k, x) in &one_steps[i] {
            if ones.insert(&one_sig[k], (k, x)).is_some() {
                return Err(LogqlError::Matching(format!(
                    "found duplicate series for the match group {} on the {} hand-side of the operation; many-to-many matching not allowed: matching labels must be unique on one side",
                    show(&one_sig[k]),
                    side(!many_is_left)
                )));
            }
        }
        let mut seen: std::collections::HashSet<&Labels> = std::collections::HashSet::new();
        for &(k, x) in &many_steps[i] {
            let Some(&(o, y)) = ones.get(&many_sig[k]) else {
                continue;
            };
            if group.is_none() && !seen.insert(&many_sig[k]) {
                return Err(LogqlError::Matching(format!(
                    "multiple matches for labels {}: many-to-one matching must be explicit (group_left/group_right)",
                    show(&many_sig[k])
                )));
            }
            let (l, r) = if many_is_left { (x, y) } else { (y, x) };
            let v = b.op.apply(l, r);
            let v = match (b.op.is_comparison(), b.return_bool) {
                (true, false) if v != 1.0 => continue,
                (true, false) => l,
                _ => v,
            };
            out.push(
                result_labels(&many[k].labels, &one[o].labels, m),
                i,
                v,
                limits,
            )?;
        }
    }
    Ok(out.series)
}

/// The labels of a result: the "many" side's, reduced by `on`/`ignoring` one to one, with the
/// `group_left (…)` labels copied from the "one" side.
fn result_labels(many: &Labels, one: &Labels, m: Option<&Matching>) -> Labels {
    let Some(m) = m else {
        return many.clone();
    };
    match &m.group {
        None => signature(many, Some(m)),
        Some((_, extra)) => {
            let mut l = many.clone();
            for name in extra {
                match one.get(name) {
                    Some(v) if !v.is_empty() => l.set(name, v),
                    _ => l.remove(name),
                }
            }
            l
        }
    }
}

/// `sort`/`sort_desc`: by the first point's value, NaN last.
pub(super) fn sort(mut v: Vec<Series>, desc: bool) -> Vec<Series> {
    let key = |s: &Series| s.points.first().map_or(f64::NAN, |p| p.1);
    v.sort_by(|a, b| {
        let (x, y) = (key(a), key(b));
        match (x.is_nan(), y.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ if desc => y.total_cmp(&x),
            _ => x.total_cmp(&y),
        }
    });
    v
}

/// `label_replace`: where `regex` matches the whole of `src`'s value (empty when missing),
/// `dst` becomes the expanded replacement (removed when empty).
pub(super) fn label_replace(
    v: Vec<Series>,
    dst: &str,
    replacement: &str,
    src: &str,
    regex: &Regex,
) -> Result<Vec<Series>, LogqlError> {
    let mut out = Vec::with_capacity(v.len());
    let mut seen = std::collections::HashSet::new();
    for mut s in v {
        let value = s.labels.get(src).unwrap_or("").to_string();
        if let Some(c) = regex.captures(&value) {
            let mut to = String::new();
            c.expand(replacement, &mut to);
            if to.is_empty() {
                s.labels.remove(dst);
            } else {
                s.labels.set(dst, &to);
            }
        }
        if !seen.insert(s.labels.clone()) {
            return Err(LogqlError::Matching(format!(
                "label_replace gives two series the same labels {}",
                show(&s.labels)
            )));
        }
        out.push(s);
    }
    Ok(out)
}
