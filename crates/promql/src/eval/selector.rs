//! Instant and range selectors, and subqueries: data is selected once for the
//! whole grid and stepped through with moving indices.

use argus_model::{is_stale_nan, MatchOp, Matcher, Sample, METRIC_NAME};
use argus_tsdb::Series;
use promql_parser::label::{MatchOp as PMatchOp, Matchers};
use promql_parser::parser::{Expr, VectorSelector};

use super::{dur_ms, offset_ms, Evaluator, Grid, DEFAULT_SUBQUERY_STEP_MS};
use crate::error::{exec, PromqlError};
use crate::value::{SSeries, Val};

/// Converts the parser's matchers into one or more store matcher sets (one
/// per `or` alternative).
pub(crate) fn to_matcher_sets(
    name: &Option<String>,
    m: &Matchers,
) -> Result<Vec<Vec<Matcher>>, PromqlError> {
    let conv = |list: &[promql_parser::label::Matcher]| -> Result<Vec<Matcher>, PromqlError> {
        let mut out = Vec::with_capacity(list.len() + 1);
        for pm in list {
            let op = match pm.op {
                PMatchOp::Equal => MatchOp::Eq,
                PMatchOp::NotEqual => MatchOp::Neq,
                PMatchOp::Re(_) => MatchOp::Re,
                PMatchOp::NotRe(_) => MatchOp::Nre,
            };
            out.push(
                Matcher::new(op, &pm.name, &pm.value)
                    .map_err(|e| PromqlError::Parse(e.to_string()))?,
            );
        }
        if let Some(n) = name {
            if !out.iter().any(|x| x.name == METRIC_NAME) {
                out.push(Matcher::eq(METRIC_NAME, n));
            }
        }
        Ok(out)
    };
    if m.or_matchers.is_empty() {
        Ok(vec![conv(&m.matchers)?])
    } else {
        m.or_matchers.iter().map(|l| conv(l)).collect()
    }
}

/// Selects all series for `vs` with samples in `[mint, maxt]`.
pub(crate) fn select(
    ev: &mut Evaluator<'_>,
    vs: &VectorSelector,
    mint: i64,
    maxt: i64,
) -> Result<Vec<Series>, PromqlError> {
    let sets = to_matcher_sets(&vs.name, &vs.matchers)?;
    let mut out: Vec<Series> = Vec::new();
    // What may still be loaded, so the store stops reading past it.
    let budget = ev.sample_budget();
    for set in &sets {
        let got = match ev.q.select_limited(set, mint, maxt, budget) {
            Ok(g) => g,
            Err(argus_tsdb::TsdbError::Limit(_)) => return Err(ev.budget_error()),
            Err(e) => return Err(PromqlError::Storage(e.to_string())),
        };
        if sets.len() == 1 {
            out = got;
        } else {
            for s in got {
                if !out.iter().any(|o| o.labels == s.labels) {
                    out.push(s);
                }
            }
        }
    }
    if sets.len() > 1 {
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
    }
    let n: usize = out.iter().map(|s| s.samples.len()).sum();
    ev.add_samples(n)?;
    ev.check()?;
    Ok(out)
}

/// Reference times (ms) of each grid step for a selector with `@`/`offset`.
pub(crate) fn ref_times(grid: &Grid, at: Option<i64>, offset: i64) -> Vec<i64> {
    (0..grid.len())
        .map(|i| at.unwrap_or_else(|| grid.ts(i)).saturating_sub(offset))
        .collect()
}

/// Evaluates an instant selector: the newest sample in `(ref - lookback, ref]`
/// unless it is a stale marker. With `want_ts` the value is the sample's
/// timestamp in seconds (for `timestamp()`).
pub(crate) fn eval_vector_selector(
    ev: &mut Evaluator<'_>,
    vs: &VectorSelector,
    grid: &Grid,
    want_ts: bool,
) -> Result<Vec<SSeries>, PromqlError> {
    let refs = ref_times(grid, ev.at_ms(&vs.at), offset_ms(&vs.offset));
    let (Some(&lo), Some(&hi)) = (refs.iter().min(), refs.iter().max()) else {
        return Ok(Vec::new());
    };
    let series = select(ev, vs, lo.saturating_sub(ev.lookback).saturating_add(1), hi)?;
    let mut out = Vec::with_capacity(series.len());
    for s in series {
        let mut pts = Vec::with_capacity(refs.len().min(s.samples.len() * 64));
        let mut j = 0usize; // first sample with t > r
        let mut prev_r = i64::MIN;
        for (i, &r) in refs.iter().enumerate() {
            if r < prev_r {
                j = s.samples.partition_point(|x| x.t <= r);
            } else {
                while j < s.samples.len() && s.samples[j].t <= r {
                    j += 1;
                }
            }
            prev_r = r;
            if j == 0 {
                continue;
            }
            let smp = s.samples[j - 1];
            if smp.t <= r - ev.lookback || is_stale_nan(smp.v) {
                continue;
            }
            let v = if want_ts {
                smp.t as f64 / 1000.0
            } else {
                smp.v
            };
            pts.push(Sample::new(grid.ts(i), v));
        }
        if !pts.is_empty() {
            out.push(SSeries {
                labels: s.labels,
                drop_name: false,
                pts,
            });
        }
    }
    Ok(out)
}

/// The raw data behind a range-vector argument.
pub(crate) struct RangeData {
    /// Raw samples per series (stale markers removed).
    pub series: Vec<SSeries>,
    /// The range in ms: windows are `(ref - range, ref]`.
    pub range: i64,
    /// The window end of each grid step.
    pub refs: Vec<i64>,
    /// The selector, when the argument is a plain matrix selector.
    pub selector: Option<VectorSelector>,
}

/// Strips parentheses.
pub(crate) fn unparen(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

/// Evaluates a matrix selector or subquery for use by range functions.
pub(crate) fn eval_range_input(
    ev: &mut Evaluator<'_>,
    expr: &Expr,
    grid: &Grid,
) -> Result<RangeData, PromqlError> {
    match unparen(expr) {
        Expr::MatrixSelector(ms) => {
            let range = dur_ms(&ms.range);
            let refs = ref_times(grid, ev.at_ms(&ms.vs.at), offset_ms(&ms.vs.offset));
            let (Some(&lo), Some(&hi)) = (refs.iter().min(), refs.iter().max()) else {
                return exec("empty grid");
            };
            let raw = select(ev, &ms.vs, lo.saturating_sub(range).saturating_add(1), hi)?;
            let series = raw
                .into_iter()
                .map(|s| SSeries {
                    labels: s.labels,
                    drop_name: false,
                    pts: s
                        .samples
                        .into_iter()
                        .filter(|x| !is_stale_nan(x.v))
                        .collect(),
                })
                .collect();
            Ok(RangeData {
                series,
                range,
                refs,
                selector: Some(ms.vs.clone()),
            })
        }
        Expr::Subquery(sq) => {
            let range = dur_ms(&sq.range);
            let step = sq
                .step
                .as_ref()
                .map(dur_ms)
                .unwrap_or(DEFAULT_SUBQUERY_STEP_MS);
            if step <= 0 {
                return exec("zero or negative subquery step");
            }
            let refs = ref_times(grid, ev.at_ms(&sq.at), offset_ms(&sq.offset));
            let (Some(&lo), Some(&hi)) = (refs.iter().min(), refs.iter().max()) else {
                return exec("empty grid");
            };
            let from = lo.saturating_sub(range);
            let mut start = step * (from / step);
            if start <= from {
                start += step;
            }
            let inner = Grid {
                start,
                end: hi,
                step,
            };
            if hi >= start {
                ev.check_subquery_grid(&inner)?;
            }
            if hi < start {
                return Ok(RangeData {
                    series: Vec::new(),
                    range,
                    refs,
                    selector: None,
                });
            }
            let series = match ev.eval(&sq.expr, &inner)? {
                Val::Vector(v) => v,
                Val::Scalar(v) => vec![SSeries {
                    labels: argus_model::Labels::empty(),
                    drop_name: false,
                    pts: v
                        .iter()
                        .enumerate()
                        .map(|(i, x)| Sample::new(inner.ts(i), *x))
                        .collect(),
                }],
                _ => {
                    return exec("subquery is only allowed on instant vector or scalar expressions")
                }
            };
            let series = series
                .into_iter()
                .map(|mut s| {
                    if s.drop_name {
                        crate::eval::util::drop_metric_name(&mut s.labels);
                        s.drop_name = false;
                    }
                    s
                })
                .collect();
            Ok(RangeData {
                series,
                range,
                refs,
                selector: None,
            })
        }
        _ => exec("expected a range vector argument"),
    }
}

/// Calls `f(window, range_start_exclusive, range_end, step_index)` for every
/// step of every series and collects the results.
pub(crate) fn for_each_window<F>(rd: &RangeData, grid: &Grid, mut f: F) -> Vec<SSeries>
where
    F: FnMut(&SSeries, &[Sample], i64, i64, usize) -> Option<f64>,
{
    for_each_window_prep(
        rd,
        grid,
        |_| (),
        |_, s, xs, lo, hi, from, r, i| f(s, &xs[lo..hi], from, r, i),
    )
}

/// Like [`for_each_window`], with per-series state: `prep(samples)` runs once
/// per series and `f(state, series, samples, lo, hi, from, to, step)` sees the
/// window as the index range `lo..hi` (never empty) of `samples`, so it can use
/// prefix sums or counts kept in the state.
#[allow(clippy::type_complexity)]
pub(crate) fn for_each_window_prep<P, S, F>(
    rd: &RangeData,
    grid: &Grid,
    mut prep: P,
    mut f: F,
) -> Vec<SSeries>
where
    P: FnMut(&[Sample]) -> S,
    F: FnMut(&S, &SSeries, &[Sample], usize, usize, i64, i64, usize) -> Option<f64>,
{
    let mut out = Vec::with_capacity(rd.series.len());
    for s in &rd.series {
        let xs = &s.pts;
        if xs.is_empty() {
            continue;
        }
        let state = prep(xs);
        let (mut lo, mut hi) = (0usize, 0usize);
        let mut prev_r = i64::MIN;
        let mut pts = Vec::with_capacity(rd.refs.len());
        for (i, &r) in rd.refs.iter().enumerate() {
            let from = r - rd.range;
            if r < prev_r {
                hi = xs.partition_point(|x| x.t <= r);
                lo = xs.partition_point(|x| x.t <= from);
            } else {
                while hi < xs.len() && xs[hi].t <= r {
                    hi += 1;
                }
                while lo < xs.len() && xs[lo].t <= from {
                    lo += 1;
                }
            }
            prev_r = r;
            if lo >= hi {
                continue;
            }
            if let Some(v) = f(&state, s, xs, lo, hi, from, r, i) {
                pts.push(Sample::new(grid.ts(i), v));
            }
        }
        if !pts.is_empty() {
            if pts.len() < pts.capacity() / 2 {
                pts.shrink_to_fit();
            }
            out.push(SSeries {
                labels: s.labels.clone(),
                drop_name: false,
                pts,
            });
        }
    }
    out
}
