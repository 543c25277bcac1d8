//! Aggregation operators: sum avg min max count group stddev stdvar quantile
//! topk bottomk limitk limit_ratio count_values, with `by`/`without`.

use std::collections::HashMap;

use argus_model::{is_valid_label_name, Labels, Sample, METRIC_NAME};
use promql_parser::parser::{AggregateExpr, LabelModifier};

use super::util::{fmt_float, fmt_g, go_max, go_min, kahan_inc, prom_hash, quantile};
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
    if let Some(kind) = AccKind::of(op) {
        out = accumulate(ev, kind, &v, &member, out, grid)?;
        out.retain(|s| !s.pts.is_empty());
        return Ok(Val::Vector(out));
    }
    // Parameter checks as Prometheus 3's `rangeEvalAgg`, over all steps at once
    // and before any input is looked at (`fParams` with Go's NaN-propagating
    // `math.Max`/`math.Min`).
    let (pmin, pmax, pnan) = match &fparam {
        Some(p) => (
            p.iter().fold(f64::MAX, |m, &x| go_min(m, x)),
            p.iter().fold(-f64::MAX, |m, &x| go_max(m, x)),
            p.iter().any(|x| x.is_nan()),
        ),
        None => (0.0, 0.0, false),
    };
    match op {
        "topk" | "bottomk" | "limitk" => {
            if pmax < 1.0 {
                return Ok(Val::Vector(Vec::new()));
            }
            if let Some(bad) = fparam.iter().flatten().find(|x| !convertible_to_i64(**x)) {
                return exec(format!("Scalar value {} overflows int64", fmt_g(*bad)));
            }
        }
        "limit_ratio" => {
            if pmax == 0.0 && pmin == 0.0 {
                return Ok(Val::Vector(Vec::new()));
            }
            if pnan {
                return exec("Ratio value NaN is NaN");
            }
            if pmax > 1.0 {
                ev.annotations.warn(format!(
                    "ratio value should be between -1 and 1, got {}, capping to 1",
                    fmt_g(pmax)
                ));
            }
            if pmin < -1.0 {
                ev.annotations.warn(format!(
                    "ratio value should be between -1 and 1, got {}, capping to -1",
                    fmt_g(pmin)
                ));
            }
        }
        "quantile" => {
            if pnan {
                ev.annotations
                    .warn("quantile value should be between 0 and 1, got NaN".into());
            }
            if pmax > 1.0 {
                ev.annotations.warn(format!(
                    "quantile value should be between 0 and 1, got {}",
                    fmt_g(pmax)
                ));
            }
            if pmin < 0.0 {
                ev.annotations.warn(format!(
                    "quantile value should be between 0 and 1, got {}",
                    fmt_g(pmin)
                ));
            }
        }
        _ => {}
    }
    // For selecting aggregations, output series are input series.
    let mut sel_out: Vec<Option<usize>> = vec![None; v.len()];
    let mut sel_series: Vec<SSeries> = Vec::new();
    let mut per_group: Vec<Vec<(usize, f64)>> = vec![Vec::new(); out.len()];
    let mut cursors = vec![0usize; v.len()];
    let mut chosen: Vec<(usize, f64)> = Vec::new();
    let mut scratch: Vec<f64> = Vec::new();
    // limit_ratio's per-series offsets, computed once.
    let ratio_off: Vec<f64> = if op == "limit_ratio" {
        v.iter()
            .map(|s| prom_hash(&s.labels) as f64 / u64::MAX as f64)
            .collect()
    } else {
        Vec::new()
    };
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
            chosen.clear();
            for grp in per_group.iter_mut() {
                if grp.is_empty() {
                    continue;
                }
                match op {
                    "topk" | "bottomk" | "limitk" => {
                        // Checked above: `param` converts to an i64.
                        let k = param as i64;
                        if k < 1 {
                            continue;
                        }
                        let k = (k as usize).min(grp.len());
                        // A total order (value, then input position) picks the
                        // same k series as a stable sort, without sorting all.
                        let top = |a: &(usize, f64), b: &(usize, f64)| {
                            cmp_nan_low(b.1, a.1).then(a.0.cmp(&b.0))
                        };
                        let bottom = |a: &(usize, f64), b: &(usize, f64)| {
                            cmp_nan_high(a.1, b.1).then(a.0.cmp(&b.0))
                        };
                        if op != "limitk" {
                            let cmp: &RankCmp = if op == "topk" { &top } else { &bottom };
                            if k < grp.len() {
                                grp.select_nth_unstable_by(k - 1, cmp);
                            }
                            grp[..k].sort_unstable_by(cmp);
                        }
                        chosen.extend_from_slice(&grp[..k]);
                    }
                    _ => {
                        let r = param.clamp(-1.0, 1.0);
                        for &(si, x) in grp.iter() {
                            let off = ratio_off[si];
                            if (r >= 0.0 && off < r) || (r < 0.0 && off >= 1.0 + r) {
                                chosen.push((si, x));
                            }
                        }
                    }
                }
            }
            for &(si, x) in &chosen {
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
        for (g, grp) in per_group.iter().enumerate() {
            if grp.is_empty() {
                continue;
            }
            let r = match op {
                "quantile" => {
                    scratch.clear();
                    scratch.extend(grp.iter().map(|x| x.1));
                    quantile(param, &mut scratch)
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

/// Orders `(input index, value)` pairs for topk/bottomk.
type RankCmp = dyn Fn(&(usize, f64), &(usize, f64)) -> std::cmp::Ordering;

/// Go's `convertibleToInt64` with Prometheus's float bounds.
fn convertible_to_i64(v: f64) -> bool {
    // The largest i64 that is exactly representable as an f64 (engine.go's maxInt64).
    const MAX: f64 = 9_223_372_036_854_774_784.0;
    const MIN: f64 = -9_223_372_036_854_775_808.0;
    (MIN..=MAX).contains(&v)
}

/// Aggregations that fold values one by one, in input-series order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AccKind {
    Sum,
    Avg,
    Count,
    Group,
    Min,
    Max,
    Stddev,
    Stdvar,
}

impl AccKind {
    fn of(op: &str) -> Option<AccKind> {
        Some(match op {
            "sum" => AccKind::Sum,
            "avg" => AccKind::Avg,
            "count" => AccKind::Count,
            "group" => AccKind::Group,
            "min" => AccKind::Min,
            "max" => AccKind::Max,
            "stddev" => AccKind::Stddev,
            "stdvar" => AccKind::Stdvar,
            _ => return None,
        })
    }
}

/// The running state of one (group, step) cell. Field use depends on the kind:
/// sum/avg keep a Kahan sum in `a`/`b` (avg switches to an incremental mean in
/// `m`/`b` on overflow, like `range_funcs::mean`); stddev/stdvar keep Welford's
/// `(m, cm, aux, caux)` in `m`/`b`/`a`/`c` (like `range_funcs::variance`); min/max keep the
/// value in `a`.
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    n: f64,
    a: f64,
    b: f64,
    c: f64,
    m: f64,
    incremental: bool,
}

impl Cell {
    #[inline]
    fn add(&mut self, kind: AccKind, v: f64) {
        let first = self.n == 0.0;
        self.n += 1.0;
        match kind {
            AccKind::Sum => (self.a, self.b) = kahan_inc(v, self.a, self.b),
            AccKind::Avg => {
                if first {
                    self.a = v;
                    return;
                }
                if !self.incremental {
                    let (ns, nc) = kahan_inc(v, self.a, self.b);
                    if !ns.is_infinite() {
                        (self.a, self.b) = (ns, nc);
                        return;
                    }
                    self.incremental = true;
                    self.m = self.a / (self.n - 1.0);
                    self.b /= self.n - 1.0;
                }
                let q = (self.n - 1.0) / self.n;
                (self.m, self.b) = kahan_inc(v / self.n, q * self.m, q * self.b);
            }
            AccKind::Count | AccKind::Group => {}
            AccKind::Min => {
                if first || self.a > v || self.a.is_nan() {
                    self.a = v;
                }
            }
            AccKind::Max => {
                if first || self.a < v || self.a.is_nan() {
                    self.a = v;
                }
            }
            AccKind::Stddev | AccKind::Stdvar => {
                let delta = v - (self.m + self.b);
                (self.m, self.b) = kahan_inc(delta / self.n, self.m, self.b);
                (self.a, self.c) = kahan_inc(delta * (v - (self.m + self.b)), self.a, self.c);
            }
        }
    }

    fn result(&self, kind: AccKind) -> f64 {
        match kind {
            AccKind::Sum => self.a + self.b,
            AccKind::Avg if self.incremental => self.m + self.b,
            AccKind::Avg => self.a / self.n + self.b / self.n,
            AccKind::Count => self.n,
            AccKind::Group => 1.0,
            AccKind::Min | AccKind::Max => self.a,
            AccKind::Stdvar => (self.a + self.c) / self.n,
            AccKind::Stddev => ((self.a + self.c) / self.n).sqrt(),
        }
    }
}

/// Most cells (groups × steps) held at once; bounds memory for wide groupings.
const MAX_CELLS: usize = 1 << 20;

/// Folds every input series into its group, series by series over blocks of
/// steps. Within a cell the values arrive in input-series order, exactly as a
/// step-by-step evaluation would add them, so compensated sums are identical.
fn accumulate(
    ev: &mut Evaluator<'_>,
    kind: AccKind,
    v: &[SSeries],
    member: &[usize],
    mut out: Vec<SSeries>,
    grid: &Grid,
) -> Result<Vec<SSeries>, PromqlError> {
    let groups = out.len().max(1);
    let steps = grid.len();
    let block = (MAX_CELLS / groups).clamp(1, steps);
    let mut cells = vec![Cell::default(); groups * block];
    let mut cursors = vec![0usize; v.len()];
    let mut b0 = 0usize;
    while b0 < steps {
        ev.check()?;
        let b1 = (b0 + block).min(steps);
        let t_end = grid.ts(b1 - 1);
        for c in cells.iter_mut() {
            *c = Cell::default();
        }
        for (si, s) in v.iter().enumerate() {
            let row = &mut cells[member[si] * block..(member[si] + 1) * block];
            let c = &mut cursors[si];
            while let Some(p) = s.pts.get(*c) {
                if p.t > t_end {
                    break;
                }
                row[grid.idx(p.t) - b0].add(kind, p.v);
                *c += 1;
            }
        }
        for (g, o) in out.iter_mut().enumerate() {
            for (j, cell) in cells[g * block..(g + 1) * block].iter().enumerate() {
                if j < b1 - b0 && cell.n > 0.0 {
                    o.pts.push(Sample::new(grid.ts(b0 + j), cell.result(kind)));
                }
            }
        }
        b0 = b1;
    }
    Ok(out)
}
