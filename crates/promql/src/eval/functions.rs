//! Function calls: dispatch, instant-vector math, labels, sorting and time functions.

use std::cmp::Ordering;

use argus_model::time::{civil_from_days, days_from_civil, days_in_month};
use argus_model::{is_valid_label_name, Labels, Sample, METRIC_NAME};
use promql_parser::parser::{Call, Expr};

use super::range_funcs::{absent_labels, eval_range_func, is_range_func};
use super::selector::{eval_vector_selector, unparen};
use super::util::{go_max, go_min};
use super::{histogram, Evaluator, Grid};
use crate::error::{exec, PromqlError};
use crate::value::{SSeries, Val};

/// Evaluates a function call.
pub(crate) fn eval_call(
    ev: &mut Evaluator<'_>,
    call: &Call,
    grid: &Grid,
) -> Result<Val, PromqlError> {
    let name = call.func.name;
    let args = &call.args.args;
    if is_range_func(name) {
        return eval_range_func(ev, name, call, grid);
    }
    let n = grid.len();
    match name {
        "time" => {
            return Ok(Val::Scalar(
                (0..n).map(|i| grid.ts(i) as f64 / 1000.0).collect(),
            ))
        }
        "pi" => return Ok(Val::Scalar(vec![std::f64::consts::PI; n])),
        "start" => return Ok(Val::Scalar(vec![ev.query_start as f64 / 1000.0; n])),
        "end" => return Ok(Val::Scalar(vec![ev.query_end as f64 / 1000.0; n])),
        "step" => return Ok(Val::Scalar(vec![grid.step.max(0) as f64 / 1000.0; n])),
        _ => {}
    }
    if matches!(
        name,
        "minute"
            | "hour"
            | "day_of_month"
            | "day_of_week"
            | "day_of_year"
            | "days_in_month"
            | "month"
            | "year"
    ) && args.is_empty()
    {
        let mut s = SSeries::new(Labels::empty(), false);
        for i in 0..n {
            s.pts.push(Sample::new(
                grid.ts(i),
                date_part(name, grid.ts(i) as f64 / 1000.0),
            ));
        }
        return Ok(Val::Vector(vec![s]));
    }
    let Some(arg0) = args.first() else {
        return exec(format!("missing argument to {name}"));
    };
    match name {
        "timestamp" => {
            let mut out = if let Expr::VectorSelector(vs) = unparen(arg0) {
                eval_vector_selector(ev, vs, grid, true)?
            } else {
                let mut v = ev.eval_vector(arg0, grid)?;
                for s in &mut v {
                    for p in &mut s.pts {
                        p.v = p.t as f64 / 1000.0;
                    }
                }
                v
            };
            for s in &mut out {
                s.drop_name = true;
            }
            return Ok(Val::Vector(out));
        }
        "scalar" => {
            let v = ev.eval_vector(arg0, grid)?;
            let mut cnt = vec![0usize; n];
            let mut val = vec![f64::NAN; n];
            for s in &v {
                for p in &s.pts {
                    let i = grid.idx(p.t);
                    cnt[i] += 1;
                    val[i] = p.v;
                }
            }
            return Ok(Val::Scalar(
                val.into_iter()
                    .zip(cnt)
                    .map(|(v, c)| if c == 1 { v } else { f64::NAN })
                    .collect(),
            ));
        }
        "vector" => {
            let v = ev.eval_scalar(arg0, grid)?;
            let mut s = SSeries::new(Labels::empty(), false);
            s.pts = v
                .iter()
                .enumerate()
                .map(|(i, x)| Sample::new(grid.ts(i), *x))
                .collect();
            return Ok(Val::Vector(vec![s]));
        }
        "absent" => {
            let v = ev.eval_vector(arg0, grid)?;
            let mut have = vec![false; n];
            for s in &v {
                for p in &s.pts {
                    have[grid.idx(p.t)] = true;
                }
            }
            let mut s = SSeries::new(absent_labels(arg0), false);
            s.pts = (0..n)
                .filter(|i| !have[*i])
                .map(|i| Sample::new(grid.ts(i), 1.0))
                .collect();
            return Ok(Val::Vector(if s.pts.is_empty() { vec![] } else { vec![s] }));
        }
        "histogram_quantile" | "histogram_fraction" => {
            return histogram::histogram_quantile(ev, call, grid)
        }
        _ => {}
    }
    // Scalar parameters after the vector argument.
    let mut params: Vec<Vec<f64>> = Vec::new();
    let mut strs: Vec<String> = Vec::new();
    for a in &args[1..] {
        match ev.eval(a, grid)? {
            Val::Scalar(v) => params.push(v),
            Val::Str(s) => strs.push(s),
            _ => return exec(format!("unexpected argument type to {name}")),
        }
    }
    let mut v = ev.eval_vector(arg0, grid)?;
    let p = |k: usize, t: i64| params.get(k).map(|x| x[grid.idx(t)]);
    match name {
        "label_replace" => return label_replace(v, &strs).map(Val::Vector),
        "label_join" => return label_join(v, &strs).map(Val::Vector),
        "sort" | "sort_desc" => {
            if n == 1 {
                let desc = name == "sort_desc";
                v.sort_by(|a, b| cmp_value(a.pts[0].v, b.pts[0].v, desc));
            }
            return Ok(Val::Vector(v));
        }
        "sort_by_label" | "sort_by_label_desc" => {
            let desc = name == "sort_by_label_desc";
            v.sort_by(|a, b| {
                for l in &strs {
                    let (x, y) = (a.labels.get(l).unwrap_or(""), b.labels.get(l).unwrap_or(""));
                    if x != y {
                        let o = natural_cmp(x, y);
                        return if desc { o.reverse() } else { o };
                    }
                }
                let o = a.labels.cmp(&b.labels);
                if desc {
                    o.reverse()
                } else {
                    o
                }
            });
            return Ok(Val::Vector(v));
        }
        _ => {}
    }
    let mut out = Vec::with_capacity(v.len());
    for mut s in v {
        let mut keep = Vec::with_capacity(s.pts.len());
        for pt in s.pts.iter() {
            let x = pt.v;
            let r = match name {
                "abs" => Some(x.abs()),
                "ceil" => Some(x.ceil()),
                "floor" => Some(x.floor()),
                "exp" => Some(x.exp()),
                "ln" => Some(x.ln()),
                "log2" => Some(x.log2()),
                "log10" => Some(x.log10()),
                "sqrt" => Some(x.sqrt()),
                "sgn" => Some(if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    x
                }),
                "sin" => Some(x.sin()),
                "cos" => Some(x.cos()),
                "tan" => Some(x.tan()),
                "asin" => Some(x.asin()),
                "acos" => Some(x.acos()),
                "atan" => Some(x.atan()),
                "sinh" => Some(x.sinh()),
                "cosh" => Some(x.cosh()),
                "tanh" => Some(x.tanh()),
                "asinh" => Some(x.asinh()),
                "acosh" => Some(x.acosh()),
                "atanh" => Some(x.atanh()),
                "deg" => Some(x * 180.0 / std::f64::consts::PI),
                "rad" => Some(x * std::f64::consts::PI / 180.0),
                "round" => {
                    let to = p(0, pt.t).unwrap_or(1.0);
                    let inv = 1.0 / to;
                    Some((x * inv + 0.5).floor() / inv)
                }
                "clamp" => {
                    let (lo, hi) = (
                        p(0, pt.t).unwrap_or(f64::NAN),
                        p(1, pt.t).unwrap_or(f64::NAN),
                    );
                    if hi < lo {
                        None
                    } else {
                        Some(go_max(lo, go_min(hi, x)))
                    }
                }
                "clamp_min" => Some(go_max(p(0, pt.t).unwrap_or(f64::NAN), x)),
                "clamp_max" => Some(go_min(p(0, pt.t).unwrap_or(f64::NAN), x)),
                "minute" | "hour" | "day_of_month" | "day_of_week" | "day_of_year"
                | "days_in_month" | "month" | "year" => Some(date_part(name, x)),
                "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
                | "histogram_stdvar" => None,
                _ => return exec(format!("function {name} is not supported")),
            };
            if let Some(r) = r {
                keep.push(Sample::new(pt.t, r));
            }
        }
        if !keep.is_empty() {
            s.pts = keep;
            s.drop_name = true;
            out.push(s);
        }
    }
    Ok(Val::Vector(out))
}

fn cmp_value(a: f64, b: f64, desc: bool) -> Ordering {
    // NaN sorts last in both directions.
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => {
            let o = a.partial_cmp(&b).unwrap_or(Ordering::Equal);
            if desc {
                o.reverse()
            } else {
                o
            }
        }
    }
}

/// Natural ordering: digit runs compare numerically.
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let x = a[si..i].trim_start_matches('0');
            let y = b[sj..j].trim_start_matches('0');
            let o = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
            if o != Ordering::Equal {
                return o;
            }
        } else {
            if ab[i] != bb[j] {
                return ab[i].cmp(&bb[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j))
}

fn label_replace(v: Vec<SSeries>, a: &[String]) -> Result<Vec<SSeries>, PromqlError> {
    let [dst, repl, src, re] = a else {
        return exec("label_replace() needs 4 string arguments");
    };
    let rx = regex::Regex::new(&format!("^(?s:{re})$")).map_err(|_| {
        PromqlError::Execution(format!(
            "invalid regular expression in label_replace(): {re}"
        ))
    })?;
    if !is_valid_label_name(dst) {
        return exec(format!(
            "invalid destination label name in label_replace(): {dst}"
        ));
    }
    let mut out = Vec::with_capacity(v.len());
    for mut s in v {
        let sv = s.labels.get(src).unwrap_or("").to_string();
        if let Some(caps) = rx.captures(&sv) {
            let mut res = String::new();
            caps.expand(repl, &mut res);
            s.labels.set(dst, &res);
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
        }
        out.push(s);
    }
    Ok(out)
}

fn label_join(v: Vec<SSeries>, a: &[String]) -> Result<Vec<SSeries>, PromqlError> {
    if a.len() < 2 {
        return exec("label_join() needs at least 2 string arguments");
    }
    let (dst, sep, srcs) = (&a[0], &a[1], &a[2..]);
    if !is_valid_label_name(dst) {
        return exec(format!(
            "invalid destination label name in label_join(): {dst}"
        ));
    }
    for s in srcs {
        if !is_valid_label_name(s) {
            return exec(format!("invalid source label name in label_join(): {s}"));
        }
    }
    let mut out = Vec::with_capacity(v.len());
    for mut s in v {
        let joined: Vec<&str> = srcs.iter().map(|l| s.labels.get(l).unwrap_or("")).collect();
        let joined = joined.join(sep);
        s.labels.set(dst, &joined);
        if dst == METRIC_NAME {
            s.drop_name = false;
        }
        out.push(s);
    }
    Ok(out)
}

fn date_part(name: &str, secs: f64) -> f64 {
    if !secs.is_finite() {
        return f64::NAN;
    }
    let s = secs.trunc() as i64;
    let days = s.div_euclid(86_400);
    let sod = s.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    match name {
        "minute" => ((sod / 60) % 60) as f64,
        "hour" => (sod / 3600) as f64,
        "day_of_month" => d as f64,
        "day_of_week" => (days + 4).rem_euclid(7) as f64,
        "day_of_year" => (days - days_from_civil(y, 1, 1) + 1) as f64,
        "days_in_month" => f64::from(days_in_month(y, m)),
        "month" => m as f64,
        "year" => y as f64,
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date_part("year", 0.0), 1970.0);
        assert_eq!(date_part("day_of_week", 0.0), 4.0);
        assert_eq!(date_part("days_in_month", 1_709_251_200.0), 31.0); // 2024-03-01
        assert_eq!(date_part("day_of_year", 1_709_251_200.0), 61.0);
    }

    #[test]
    fn natural_order() {
        assert_eq!(natural_cmp("a10", "a9"), Ordering::Greater);
        assert_eq!(natural_cmp("1.111.3", "1.111.10"), Ordering::Less);
    }
}
