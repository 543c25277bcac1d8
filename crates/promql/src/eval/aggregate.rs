//! Aggregation operators: sum avg min max count group stddev stdvar quantile
//! topk bottomk limitk limit_ratio count_values, with `by`/`without`.

use std::collections::HashMap;

use argus_model::{is_valid_label_name, Labels, Sample, METRIC_NAME};
use promql_parser::parser::{AggregateExpr, LabelModifier};

use super::range_funcs::{mean, variance};
use super::util::{fmt_float, fmt_g, kahan_inc, prom_hash, quantile};
use super::{Evaluator, Grid};
use crate::error::{exec, PromqlError};
use crate::value::{SSeries, Val};

fn group_labels(l: &Labels, m: &Option<LabelModifier>) -> Labels {
    match m {
        None => Labels::empty(),
        Some(LabelModifier::Include(ls)) => l
            .iter()
            .filter(|x| ls.labels.iter().any(|n| n == &x.name))
            .cloned()
            .collect(),
        Some(LabelModifier::Exclude(ls)) => l
            .iter()
            .filter(|x| x.name != METRIC_NAME && !ls.labels.iter().any(|n| n == &x.name))
            .cloned()
            .collect(),
    }
}

/// Evaluates an aggregation.
pub(crate) fn eval_aggregate(
    ev: &mut Evaluator<'_>,
    a: &AggregateExpr,
    grid: &Grid,
) -> Result<Val, PromqlError> {
    let op = a.op.to_string();
    let op = op.as_str();
    let mut fparam: Option<Vec<f64>> = None;
    let mut sparam: Option<String> = None;
    if let Some(p) = &a.param {
        match ev.eval(p, grid)? {
            Val::Scalar(v) => fparam = Some(v),
            Val::Str(s) => sparam = Some(s),
            _ => return exec(format!("invalid parameter for {op}")),
        }
    }
    let v = ev.eval_vector(&a.expr, grid)?;
    if op == "count_values" {
        let label = sparam.unwrap_or_default();
        if !is_valid_label_name(&label) {
            return exec(format!("invalid label name {label:?}"));
        }
        return Ok(Val::Vector(count_values(&v, &label, &a.modifier, grid)));
    }
    // Group of each input series.
    let mut gidx: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<SSeries> = Vec::new();
    let mut member = Vec::with_capacity(v.len());
    for s in &v {
        let gl = group_labels(&s.labels, &a.modifier);
        let next = out.len();
        let g = *gidx.entry(gl.clone()).or_insert(next);
        if g == next {
            out.push(SSeries::new(gl, false));
        }
        if s.drop_name && out[g].labels.get(METRIC_NAME).is_some() {
            out[g].drop_name = true;
        }
        member.push(g);
    }
    let selecting = matches!(op, "topk" | "bottomk" | "limitk" | "limit_ratio");
    // For selecting aggregations, output series are input series.
    let mut sel_out: Vec<Option<usize>> = vec![None; v.len()];
    let mut sel_series: Vec<SSeries> = Vec::new();
    let mut per_group: Vec<Vec<(usize, f64)>> = vec![Vec::new(); out.len()];
    let mut cursors = vec![0usize; v.len()];
    let mut warned = false;
    for i in 0..grid.len() {
        let t = grid.ts(i);
        if i % 256 == 0 {
            ev.check()?;
        }
        for g in per_group.iter_mut() {
            g.clear();
        }
        for (si, s) in v.iter().enumerate() {
            let c = &mut cursors[si];
            if *c < s.pts.len() && s.pts[*c].t == t {
                per_group[member[si]].push((si, s.pts[*c].v));
                *c += 1;
            }
        }
        let param = fparam.as_ref().map(|p| p[i]).unwrap_or(f64::NAN);
        if selecting {
            let mut chosen: Vec<(usize, f64)> = Vec::new();
            for grp in per_group.iter() {
                if grp.is_empty() {
                    continue;
                }
                match op {
                    "topk" | "bottomk" | "limitk" => {
                        if param >= 9.223_372_036_854_776e18 {
                            return exec(format!("Scalar value {} overflows int64", fmt_g(param)));
                        }
                        let k = if param.is_nan() { 0 } else { param as i64 };
                        if k < 1 {
                            continue;
                        }
                        let k = (k as usize).min(grp.len());
                        let mut g = grp.clone();
                        if op == "topk" {
                            g.sort_by(|a, b| cmp_nan_low(b.1, a.1));
                        } else if op == "bottomk" {
                            g.sort_by(|a, b| cmp_nan_high(a.1, b.1));
                        }
                        chosen.extend_from_slice(&g[..k]);
                    }
                    _ => {
                        let mut r = param;
                        if !(-1.0..=1.0).contains(&r) {
                            let capped = if r < -1.0 { -1.0 } else { 1.0 };
                            if !warned {
                                warned = true;
                                ev.annotations.warn(format!(
                                    "ratio value should be between -1 and 1, got {}, capping to {}",
                                    fmt_g(r),
                                    fmt_g(capped)
                                ));
                            }
                            r = capped;
                        }
                        for &(si, x) in grp {
                            let off = prom_hash(&v[si].labels) as f64 / u64::MAX as f64;
                            if (r >= 0.0 && off < r) || (r < 0.0 && off >= 1.0 + r) {
                                chosen.push((si, x));
                            }
                        }
                    }
                }
            }
            for (si, x) in chosen {
                let o = match sel_out[si] {
                    Some(o) => o,
                    None => {
                        sel_series.push(SSeries::new(v[si].labels.clone(), v[si].drop_name));
                        sel_out[si] = Some(sel_series.len() - 1);
                        sel_series.len() - 1
                    }
                };
                sel_series[o].pts.push(Sample::new(t, x));
            }
            continue;
        }
        if op == "quantile"
            && !(0.0..=1.0).contains(&param)
            && !warned
            && per_group.iter().any(|g| !g.is_empty())
        {
            warned = true;
            ev.annotations.warn(format!(
                "quantile value should be between 0 and 1, got {}",
                fmt_g(param)
            ));
        }
        for (g, grp) in per_group.iter().enumerate() {
            if grp.is_empty() {
                continue;
            }
            let vals = grp.iter().map(|x| x.1);
            let r = match op {
                "sum" => {
                    let (mut s, mut c) = (0.0, 0.0);
                    for x in vals {
                        (s, c) = kahan_inc(x, s, c);
                    }
                    s + c
                }
                "avg" => mean(vals).unwrap_or(f64::NAN),
                "count" => grp.len() as f64,
                "group" => 1.0,
                "min" => vals.fold(grp[0].1, |m, x| if m > x || m.is_nan() { x } else { m }),
                "max" => vals.fold(grp[0].1, |m, x| if m < x || m.is_nan() { x } else { m }),
                "stddev" => variance(vals).sqrt(),
                "stdvar" => variance(vals),
                "quantile" => {
                    let mut xs: Vec<f64> = vals.collect();
                    quantile(param, &mut xs)
                }
                _ => return exec(format!("unsupported aggregation {op}")),
            };
            out[g].pts.push(Sample::new(t, r));
        }
    }
    if selecting {
        if grid.len() == 1 && matches!(op, "topk" | "bottomk") {
            // Instant queries: each group sorted by value (topk descending).
            let mut by_group: Vec<(usize, SSeries)> = Vec::new();
            for s in sel_series {
                let g = member[v.iter().position(|x| x.labels == s.labels).unwrap_or(0)];
                by_group.push((g, s));
            }
            let first: Vec<usize> = by_group.iter().map(|x| x.0).collect();
            let order = |g: usize| first.iter().position(|x| *x == g).unwrap_or(0);
            by_group.sort_by(|a, b| {
                order(a.0).cmp(&order(b.0)).then_with(|| {
                    if op == "topk" {
                        cmp_nan_low(b.1.pts[0].v, a.1.pts[0].v)
                    } else {
                        cmp_nan_high(a.1.pts[0].v, b.1.pts[0].v)
                    }
                })
            });
            return Ok(Val::Vector(by_group.into_iter().map(|x| x.1).collect()));
        }
        return Ok(Val::Vector(sel_series));
    }
    out.retain(|s| !s.pts.is_empty());
    Ok(Val::Vector(out))
}

/// Ascending order with NaN lowest.
fn cmp_nan_low(a: f64, b: f64) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Equal,
        (true, false) => Less,
        (false, true) => Greater,
        _ => a.partial_cmp(&b).unwrap_or(Equal),
    }
}

/// Ascending order with NaN highest.
fn cmp_nan_high(a: f64, b: f64) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Equal,
        (true, false) => Greater,
        (false, true) => Less,
        _ => a.partial_cmp(&b).unwrap_or(Equal),
    }
}

fn count_values(
    v: &[SSeries],
    label: &str,
    m: &Option<LabelModifier>,
    grid: &Grid,
) -> Vec<SSeries> {
    let glabels: Vec<Labels> = v.iter().map(|s| group_labels(&s.labels, m)).collect();
    let mut idx: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<SSeries> = Vec::new();
    let mut cursors = vec![0usize; v.len()];
    for i in 0..grid.len() {
        let t = grid.ts(i);
        let mut counts: Vec<(usize, f64)> = Vec::new();
        for (si, s) in v.iter().enumerate() {
            let c = &mut cursors[si];
            if *c < s.pts.len() && s.pts[*c].t == t {
                let mut l = glabels[si].clone();
                l.set(label, &fmt_float(s.pts[*c].v));
                let next = out.len();
                let o = *idx.entry(l.clone()).or_insert(next);
                if o == next {
                    out.push(SSeries::new(l, false));
                }
                match counts.iter_mut().find(|x| x.0 == o) {
                    Some(x) => x.1 += 1.0,
                    None => counts.push((o, 1.0)),
                }
                *c += 1;
            }
        }
        for (o, n) in counts {
            out[o].pts.push(Sample::new(t, n));
        }
    }
    out
}
