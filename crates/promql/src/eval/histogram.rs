//! `histogram_quantile` over classic `le` buckets.

use std::collections::HashMap;

use argus_model::{Sample, METRIC_NAME};
use promql_parser::parser::Call;

use super::util::{almost_equal, fmt_g};
use super::{Evaluator, Grid};
use crate::error::{exec, PromqlError};
use crate::value::{SSeries, Val};

const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// One classic bucket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    pub upper: f64,
    pub count: f64,
}

/// Prometheus's classic-bucket quantile; returns `(value, forced_monotonic)`.
pub(crate) fn bucket_quantile(q: f64, buckets: &mut [Bucket]) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    buckets.sort_by(|a, b| {
        a.upper
            .partial_cmp(&b.upper)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    match buckets.last() {
        Some(b) if b.upper == f64::INFINITY => {}
        _ => return (f64::NAN, false),
    }
    // Coalesce buckets with the same upper bound.
    let mut co: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match co.last_mut() {
            Some(l) if l.upper == b.upper => l.count += b.count,
            _ => co.push(*b),
        }
    }
    let mut forced = false;
    let mut prev = co[0].count;
    for b in co.iter_mut().skip(1) {
        let curr = b.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) {
            b.count = prev;
            continue;
        }
        if curr < prev {
            b.count = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    if co.len() < 2 {
        return (f64::NAN, forced);
    }
    let observations = co[co.len() - 1].count;
    if observations == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let b = co[..co.len() - 1].partition_point(|x| x.count < rank);
    if b == co.len() - 1 {
        return (co[co.len() - 2].upper, forced);
    }
    if b == 0 && co[0].upper <= 0.0 {
        return (co[0].upper, forced);
    }
    let mut start = 0.0;
    let end = co[b].upper;
    let mut count = co[b].count;
    if b > 0 {
        start = co[b - 1].upper;
        count -= co[b - 1].count;
        rank -= co[b - 1].count;
    }
    (start + (end - start) * (rank / count), forced)
}

/// Classic bucket fraction of observations in `(lower, upper]`.
pub(crate) fn bucket_fraction(lower: f64, upper: f64, buckets: &mut [Bucket]) -> f64 {
    buckets.sort_by(|a, b| {
        a.upper
            .partial_cmp(&b.upper)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    match buckets.last() {
        Some(b) if b.upper == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    let mut co: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match co.last_mut() {
            Some(l) if l.upper == b.upper => l.count += b.count,
            _ => co.push(*b),
        }
    }
    let count = co[co.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    for (i, b) in co.iter().enumerate() {
        let lb = if i > 0 {
            co[i - 1].upper
        } else if b.upper > 0.0 {
            0.0
        } else {
            f64::NEG_INFINITY
        };
        let ub = b.upper;
        let interp = |v: f64| rank + (b.count - rank) * (v - lb) / (ub - lb);
        if !lower_set && lb >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lb >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lb < lower && ub > lower {
            lower_rank = interp(lower);
            lower_set = true;
        }
        if !upper_set && lb < upper && ub > upper {
            upper_rank = interp(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = b.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

/// `histogram_quantile(q, v)` and `histogram_fraction(lower, upper, v)` over classic buckets.
pub(crate) fn histogram_quantile(
    ev: &mut Evaluator<'_>,
    call: &Call,
    grid: &Grid,
) -> Result<Val, PromqlError> {
    let args = &call.args.args;
    let fraction = call.func.name == "histogram_fraction";
    let nparams = if fraction { 2 } else { 1 };
    if args.len() != nparams + 1 {
        return exec(format!(
            "{}() needs {} arguments",
            call.func.name,
            nparams + 1
        ));
    }
    let q = ev.eval_scalar(&args[0], grid)?;
    let q2 = if fraction {
        ev.eval_scalar(&args[1], grid)?
    } else {
        Vec::new()
    };
    let v = ev.eval_vector(&args[nparams], grid)?;
    // Group series by their labels without `le`.
    let mut groups: HashMap<argus_model::Labels, usize> = HashMap::new();
    let mut members: Vec<(usize, f64)> = Vec::new(); // (group, upper) per input series (usize::MAX: skip)
    let mut out: Vec<SSeries> = Vec::new();
    for s in &v {
        let Some(le) = s.labels.get("le") else {
            members.push((usize::MAX, 0.0));
            continue;
        };
        let Ok(upper) = parse_le(le) else {
            ev.annotations.warn(format!(
                "bucket label \"le\" is missing or has a malformed value of \"{le}\" for metric name \"{}\"",
                s.labels.get(METRIC_NAME).unwrap_or("")
            ));
            members.push((usize::MAX, 0.0));
            continue;
        };
        let mut key = s.labels.clone();
        key.remove("le");
        let next = out.len();
        let g = *groups.entry(key.clone()).or_insert(next);
        if g == next {
            let mut l = key;
            crate::eval::util::drop_metric_name(&mut l);
            out.push(SSeries::new(l, true));
        }
        members.push((g, upper));
    }
    let mut warned_q = false;
    let mut cursors = vec![0usize; v.len()];
    let mut per_group: Vec<Vec<Bucket>> = vec![Vec::new(); out.len()];
    let mut names: Vec<String> = vec![String::new(); out.len()];
    for i in 0..grid.len() {
        let t = grid.ts(i);
        for b in per_group.iter_mut() {
            b.clear();
        }
        for (si, s) in v.iter().enumerate() {
            let c = &mut cursors[si];
            if *c < s.pts.len() && s.pts[*c].t == t {
                let (g, upper) = members[si];
                if g != usize::MAX {
                    per_group[g].push(Bucket {
                        upper,
                        count: s.pts[*c].v,
                    });
                    if names[g].is_empty() {
                        names[g] = s.labels.get(METRIC_NAME).unwrap_or("").to_string();
                    }
                }
                *c += 1;
            }
        }
        let qv = q[i];
        for (g, b) in per_group.iter_mut().enumerate() {
            if b.is_empty() {
                continue;
            }
            if fraction {
                let r = bucket_fraction(qv, q2[i], b);
                out[g].pts.push(Sample::new(t, r));
                continue;
            }
            if !(0.0..=1.0).contains(&qv) && !warned_q {
                warned_q = true;
                ev.annotations.warn(format!(
                    "quantile value should be between 0 and 1, got {}",
                    fmt_g(qv)
                ));
            }
            let (r, forced) = bucket_quantile(qv, b);
            if forced {
                ev.annotations.info(format!(
                    "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name \"{}\"",
                    names[g]
                ));
            }
            out[g].pts.push(Sample::new(t, r));
        }
    }
    out.retain(|s| !s.pts.is_empty());
    Ok(Val::Vector(out))
}

fn parse_le(s: &str) -> Result<f64, ()> {
    match s {
        "+Inf" | "Inf" | "inf" | "+inf" => Ok(f64::INFINITY),
        "-Inf" | "-inf" => Ok(f64::NEG_INFINITY),
        _ => s.parse::<f64>().map_err(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_within_bucket() {
        let mut b = vec![
            Bucket {
                upper: 1.0,
                count: 10.0,
            },
            Bucket {
                upper: 2.0,
                count: 20.0,
            },
            Bucket {
                upper: f64::INFINITY,
                count: 20.0,
            },
        ];
        assert_eq!(bucket_quantile(0.5, &mut b).0, 1.0);
        assert_eq!(bucket_quantile(0.75, &mut b).0, 1.5);
        assert_eq!(bucket_quantile(1.0, &mut b).0, 2.0);
    }

    #[test]
    fn needs_inf_bucket_and_fixes_monotonicity() {
        let mut b = vec![Bucket {
            upper: 1.0,
            count: 1.0,
        }];
        assert!(bucket_quantile(0.5, &mut b).0.is_nan());
        let mut b = vec![
            Bucket {
                upper: 1.0,
                count: 10.0,
            },
            Bucket {
                upper: 2.0,
                count: 5.0,
            },
            Bucket {
                upper: f64::INFINITY,
                count: 10.0,
            },
        ];
        assert!(bucket_quantile(0.5, &mut b).1);
    }
}
