//! Functions over range vectors: `rate` and friends, the `*_over_time` family,
//! `deriv`, `predict_linear`, `double_exponential_smoothing`, `changes`, `resets`.

use argus_model::{Labels, Sample, METRIC_NAME};
use promql_parser::parser::Call;

use super::selector::{
    eval_range_input, for_each_window, for_each_window_prep, unparen, RangeData,
};
use super::util::{kahan_inc, quantile};
use super::{Evaluator, Grid};
use crate::error::{exec, PromqlError};
use crate::value::{SSeries, Val};

/// Whether `name` takes a range vector.
pub(crate) fn is_range_func(name: &str) -> bool {
    matches!(
        name,
        "rate"
            | "irate"
            | "increase"
            | "delta"
            | "idelta"
            | "deriv"
            | "predict_linear"
            | "holt_winters"
            | "double_exponential_smoothing"
            | "changes"
            | "resets"
            | "avg_over_time"
            | "min_over_time"
            | "max_over_time"
            | "sum_over_time"
            | "count_over_time"
            | "quantile_over_time"
            | "stddev_over_time"
            | "stdvar_over_time"
            | "last_over_time"
            | "first_over_time"
            | "present_over_time"
            | "mad_over_time"
            | "absent_over_time"
            | "ts_of_max_over_time"
            | "ts_of_min_over_time"
            | "ts_of_last_over_time"
            | "ts_of_first_over_time"
    )
}

/// Prometheus's extrapolated rate/increase/delta.
pub(crate) fn extrapolated_rate(
    w: &[Sample],
    range_start: i64,
    range_end: i64,
    range: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    extrapolated_rate_with(w, range_start, range_end, range, is_counter, is_rate, false)
}

/// [`extrapolated_rate`]; `no_resets` says the caller knows the window has no
/// counter reset, which skips the scan for them.
fn extrapolated_rate_with(
    w: &[Sample],
    range_start: i64,
    range_end: i64,
    range: i64,
    is_counter: bool,
    is_rate: bool,
    no_resets: bool,
) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let first = w[0];
    let last = w[w.len() - 1];
    let mut result = last.v - first.v;
    if is_counter && !no_resets {
        let mut prev = first.v;
        for p in &w[1..] {
            if p.v < prev {
                result += prev;
            }
            prev = p.v;
        }
    }
    let mut dur_to_start = (first.t - range_start) as f64 / 1000.0;
    let mut dur_to_end = (range_end - last.t) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let avg_between = sampled / (w.len() - 1) as f64;
    let threshold = avg_between * 1.1;
    if dur_to_start >= threshold {
        dur_to_start = avg_between / 2.0;
    }
    if is_counter && result > 0.0 && first.v >= 0.0 {
        let dur_to_zero = sampled * (first.v / result);
        if dur_to_zero < dur_to_start {
            dur_to_start = dur_to_zero;
        }
    }
    if dur_to_end >= threshold {
        dur_to_end = avg_between / 2.0;
    }
    let mut factor = (sampled + dur_to_start + dur_to_end) / sampled;
    if is_rate {
        factor /= range as f64 / 1000.0;
    }
    Some(result * factor)
}

/// `irate`/`idelta` from the last two samples.
pub(crate) fn instant_value(w: &[Sample], is_rate: bool) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let (a, b) = (w[w.len() - 2], w[w.len() - 1]);
    let mut r = if is_rate && b.v < a.v { b.v } else { b.v - a.v };
    if is_rate {
        let dt = b.t - a.t;
        if dt == 0 {
            return None;
        }
        r /= dt as f64 / 1000.0;
    }
    Some(r)
}

/// Least-squares fit; x is seconds relative to `intercept_t`.
pub(crate) fn linear_regression(w: &[Sample], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let init_y = w[0].v;
    let mut const_y = true;
    for (i, p) in w.iter().enumerate() {
        if const_y && i > 0 && p.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (p.t - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(p.v, sy, cy);
        (sxy, cxy) = kahan_inc(x * p.v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// Mean with overflow fallback to an incremental mean (as Prometheus 3).
pub(crate) fn mean(vals: impl Iterator<Item = f64>) -> Option<f64> {
    let mut it = vals;
    let first = it.next()?;
    let (mut sum, mut count, mut c) = (first, 1.0f64, 0.0f64);
    let mut m = 0.0;
    let mut incremental = false;
    for v in it {
        count += 1.0;
        if !incremental {
            let (ns, nc) = kahan_inc(v, sum, c);
            if !ns.is_infinite() {
                sum = ns;
                c = nc;
                continue;
            }
            incremental = true;
            m = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (m, c) = kahan_inc(v / count, q * m, q * c);
    }
    Some(if incremental {
        m + c
    } else {
        sum / count + c / count
    })
}

/// Population variance with compensated Welford updates.
pub(crate) fn variance(vals: impl Iterator<Item = f64>) -> f64 {
    let (mut count, mut m, mut cm, mut aux, mut caux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for v in vals {
        count += 1.0;
        let delta = v - (m + cm);
        (m, cm) = kahan_inc(delta / count, m, cm);
        (aux, caux) = kahan_inc(delta * (v - (m + cm)), aux, caux);
    }
    (aux + caux) / count
}

fn calc_trend(i: usize, tf: f64, s0: f64, s1: f64, b: f64) -> f64 {
    if i == 0 {
        b
    } else {
        tf * (s1 - s0) + (1.0 - tf) * b
    }
}

fn double_exp(w: &[Sample], sf: f64, tf: f64) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let (mut s0, mut s1, mut b) = (0.0, w[0].v, w[1].v - w[0].v);
    for (i, p) in w.iter().enumerate().skip(1) {
        let x = sf * p.v;
        b = calc_trend(i - 1, tf, s0, s1, b);
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Some(s1)
}

fn metric_name(s: &SSeries) -> String {
    s.labels.get(METRIC_NAME).unwrap_or("").to_string()
}

/// Evaluates a range-vector function call.
pub(crate) fn eval_range_func(
    ev: &mut Evaluator<'_>,
    name: &str,
    call: &Call,
    grid: &Grid,
) -> Result<Val, PromqlError> {
    let args = &call.args.args;
    let (mat_idx, scalar_idx): (usize, Vec<usize>) = match name {
        "quantile_over_time" => (1, vec![0]),
        "predict_linear" => (0, vec![1]),
        "holt_winters" | "double_exponential_smoothing" => (0, vec![1, 2]),
        _ => (0, vec![]),
    };
    let Some(mat_expr) = args.get(mat_idx) else {
        return exec(format!("missing range argument to {name}"));
    };
    let mut params = Vec::new();
    for i in scalar_idx {
        match args.get(i) {
            Some(e) => params.push(ev.eval_scalar(e, grid)?),
            None => return exec(format!("missing argument to {name}")),
        }
    }
    let rd = eval_range_input(ev, mat_expr, grid)?;
    if name == "absent_over_time" {
        return Ok(Val::Vector(absent_over_time(&rd, grid, mat_expr)));
    }
    let range = rd.range;
    let mut warns: Vec<String> = Vec::new();
    let mut infos: Vec<String> = Vec::new();
    let mut err: Option<String> = None;
    if matches!(name, "rate" | "increase") {
        for s in &rd.series {
            let n = metric_name(s);
            if !n.is_empty() && rd.selector.is_some() && !is_counter_name(&n) {
                infos.push(format!("metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"{n}\""));
            }
        }
    }
    if let Some(out) = fast_range_func(name, &rd, grid) {
        for i in infos {
            ev.annotations.info(i);
        }
        return Ok(Val::Vector(finish(name, out)));
    }
    let out = for_each_window(&rd, grid, |_s, w, from, to, i| {
        let p = |k: usize| params[k][i];
        match name {
            "rate" => extrapolated_rate(w, from, to, range, true, true),
            "increase" => extrapolated_rate(w, from, to, range, true, false),
            "delta" => extrapolated_rate(w, from, to, range, false, false),
            "irate" => instant_value(w, true),
            "idelta" => instant_value(w, false),
            "deriv" => (w.len() >= 2).then(|| linear_regression(w, w[0].t).0),
            "predict_linear" => {
                if w.len() < 2 {
                    return None;
                }
                let (slope, icpt) = linear_regression(w, grid.ts(i));
                Some(slope * p(0) + icpt)
            }
            "holt_winters" | "double_exponential_smoothing" => {
                let (sf, tf) = (p(0), p(1));
                if sf <= 0.0 || sf >= 1.0 {
                    err.get_or_insert(format!(
                        "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
                    ));
                    return None;
                }
                if tf <= 0.0 || tf >= 1.0 {
                    err.get_or_insert(format!(
                        "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
                    ));
                    return None;
                }
                double_exp(w, sf, tf)
            }
            "changes" => Some(
                w.windows(2)
                    .filter(|x| x[1].v != x[0].v && !(x[1].v.is_nan() && x[0].v.is_nan()))
                    .count() as f64,
            ),
            "resets" => Some(w.windows(2).filter(|x| x[1].v < x[0].v).count() as f64),
            "avg_over_time" => mean(w.iter().map(|x| x.v)),
            "sum_over_time" => {
                let (mut s, mut c) = (0.0, 0.0);
                for x in w {
                    (s, c) = kahan_inc(x.v, s, c);
                }
                Some(s + c)
            }
            "count_over_time" => Some(w.len() as f64),
            "min_over_time" => {
                Some(
                    w.iter()
                        .fold(w[0].v, |m, x| if x.v < m || m.is_nan() { x.v } else { m }),
                )
            }
            "max_over_time" => {
                Some(
                    w.iter()
                        .fold(w[0].v, |m, x| if x.v > m || m.is_nan() { x.v } else { m }),
                )
            }
            "last_over_time" => Some(w[w.len() - 1].v),
            "first_over_time" => Some(w[0].v),
            "ts_of_last_over_time" => Some(w[w.len() - 1].t as f64 / 1000.0),
            "ts_of_first_over_time" => Some(w[0].t as f64 / 1000.0),
            "ts_of_max_over_time" | "ts_of_min_over_time" => {
                let max = name == "ts_of_max_over_time";
                let mut best = w[0];
                for x in w {
                    let better = if max { x.v >= best.v } else { x.v <= best.v };
                    if better || best.v.is_nan() {
                        best = *x;
                    }
                }
                Some(best.t as f64 / 1000.0)
            }
            "present_over_time" => Some(1.0),
            "stddev_over_time" => Some(variance(w.iter().map(|x| x.v)).sqrt()),
            "stdvar_over_time" => Some(variance(w.iter().map(|x| x.v))),
            "quantile_over_time" => {
                let q = p(0);
                if !(0.0..=1.0).contains(&q) {
                    let m = format!(
                        "quantile value should be between 0 and 1, got {}",
                        super::util::fmt_g(q)
                    );
                    if !warns.contains(&m) {
                        warns.push(m);
                    }
                }
                let mut v: Vec<f64> = w.iter().map(|x| x.v).collect();
                Some(quantile(q, &mut v))
            }
            "mad_over_time" => {
                let mut v: Vec<f64> = w.iter().map(|x| x.v).collect();
                let med = quantile(0.5, &mut v);
                let mut d: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
                Some(quantile(0.5, &mut d))
            }
            _ => None,
        }
    });
    if let Some(e) = err {
        return exec(e);
    }
    for w in warns {
        ev.annotations.warn(w);
    }
    for i in infos {
        ev.annotations.info(i);
    }
    Ok(Val::Vector(finish(name, out)))
}

/// Sets the delayed name removal of a range function's result.
fn finish(name: &str, mut out: Vec<SSeries>) -> Vec<SSeries> {
    let keep_name = matches!(name, "last_over_time" | "first_over_time");
    for s in &mut out {
        s.drop_name = !keep_name;
    }
    out
}

/// Range functions with a per-series precomputation that makes each window
/// O(1): `rate`/`increase` (counter resets counted once per series) and
/// `sum_over_time`/`avg_over_time` (double-double prefix sums, with a
/// per-window error bound that falls back to the direct compensated sum when
/// the prefix sums could be less accurate than it). `None`: not one of them.
fn fast_range_func(name: &str, rd: &RangeData, grid: &Grid) -> Option<Vec<SSeries>> {
    let range = rd.range;
    Some(match name {
        "rate" | "increase" => {
            let is_rate = name == "rate";
            for_each_window_prep(
                rd,
                grid,
                |xs| {
                    // resets[k]: counter resets among samples 0..=k.
                    let mut n = 0u32;
                    let mut resets = Vec::with_capacity(xs.len());
                    resets.push(0);
                    for w in xs.windows(2) {
                        n += u32::from(w[1].v < w[0].v);
                        resets.push(n);
                    }
                    resets
                },
                |resets, _, xs, lo, hi, from, to, _| {
                    let no_resets = resets[hi - 1] == resets[lo];
                    extrapolated_rate_with(&xs[lo..hi], from, to, range, true, is_rate, no_resets)
                },
            )
        }
        "sum_over_time" | "avg_over_time" => {
            let avg = name == "avg_over_time";
            for_each_window_prep(rd, grid, PrefixSums::new, |ps, _, xs, lo, hi, _, _, _| {
                let w = &xs[lo..hi];
                match ps.window(lo, hi) {
                    Some((s, c)) if avg => {
                        let n = w.len() as f64;
                        Some(s / n + c / n)
                    }
                    Some((s, c)) => Some(s + c),
                    None if avg => mean(w.iter().map(|x| x.v)),
                    None => {
                        let (mut s, mut c) = (0.0, 0.0);
                        for x in w {
                            (s, c) = kahan_inc(x.v, s, c);
                        }
                        Some(s + c)
                    }
                }
            })
        }
        _ => return None,
    })
}

/// Exact `a + b` as `(sum, error)` (Knuth's TwoSum).
#[inline]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// Double-double prefix sums of a series' values, plus prefix sums of their
/// magnitudes to bound the error of a window's difference.
struct PrefixSums {
    hi: Vec<f64>,
    lo: Vec<f64>,
    abs: Vec<f64>,
}

impl PrefixSums {
    fn new(xs: &[argus_model::Sample]) -> Self {
        let n = xs.len() + 1;
        let (mut hi, mut lo, mut abs) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut h, mut l, mut a) = (0.0f64, 0.0f64, 0.0f64);
        hi.push(h);
        lo.push(l);
        abs.push(a);
        for x in xs {
            let (s, e) = two_sum(h, x.v);
            let e = e + l;
            h = s + e;
            l = e - (h - s);
            a += x.v.abs();
            hi.push(h);
            lo.push(l);
            abs.push(a);
        }
        PrefixSums { hi, lo, abs }
    }

    /// The sum of values `lo..hi` as `(sum, compensation)`, or `None` when the
    /// bound on the prefix sums' rounding error is not far below the result's
    /// last bit (non-finite values, cancellation, huge dynamic range).
    fn window(&self, lo: usize, hi: usize) -> Option<(f64, f64)> {
        let (s, e) = two_sum(self.hi[hi], -self.hi[lo]);
        let e = e + (self.lo[hi] - self.lo[lo]);
        let sum = s + e;
        let comp = e - (sum - s);
        // Each double-double addition errs by at most ~2^-104 of the running
        // magnitude, itself at most abs[hi]; allow 4x for both prefixes.
        let err = 4.0 * hi as f64 * self.abs[hi] * f64::powi(2.0, -104);
        (err <= sum.abs() * f64::powi(2.0, -60)).then_some((sum, comp))
    }
}

fn is_counter_name(n: &str) -> bool {
    n.ends_with("_total") || n.ends_with("_sum") || n.ends_with("_count") || n.ends_with("_bucket")
}

/// Labels for `absent`/`absent_over_time`: the equality matchers of a plain
/// selector argument (names used more than once are left out).
pub(crate) fn absent_labels(expr: &promql_parser::parser::Expr) -> Labels {
    use promql_parser::label::MatchOp as P;
    use promql_parser::parser::Expr;
    let vs = match unparen(expr) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::empty(),
    };
    let all: Vec<&promql_parser::label::Matcher> = vs.matchers.matchers.iter().collect();
    let mut pairs: Vec<(String, String)> = Vec::new();
    for m in &all {
        if m.name == METRIC_NAME {
            continue;
        }
        if all.iter().filter(|x| x.name == m.name).count() > 1 {
            continue;
        }
        if matches!(m.op, P::Equal) {
            pairs.push((m.name.clone(), m.value.clone()));
        }
    }
    Labels::from_pairs(&pairs)
}

fn absent_over_time(
    rd: &super::selector::RangeData,
    grid: &Grid,
    expr: &promql_parser::parser::Expr,
) -> Vec<SSeries> {
    let present = for_each_window(rd, grid, |_, _, _, _, _| Some(1.0));
    let mut have = vec![false; grid.len()];
    for s in &present {
        for p in &s.pts {
            have[grid.idx(p.t)] = true;
        }
    }
    let mut out = SSeries::new(absent_labels(expr), false);
    for (i, h) in have.iter().enumerate() {
        if !h {
            out.pts.push(Sample::new(grid.ts(i), 1.0));
        }
    }
    if out.pts.is_empty() {
        Vec::new()
    } else {
        vec![out]
    }
}
