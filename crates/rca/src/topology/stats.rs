//! Small robust statistics over `f64` slices, and the clean-up of a raw
//! series (non-finite values dropped, time order, counters to rates).

/// The median of `xs` (mean of the two middle values when even); `None` when empty.
pub(crate) fn median(xs: &[f64]) -> Option<f64> {
    quantile(xs, 0.5)
}

/// The `q` quantile of `xs` with linear interpolation; `None` when empty.
pub(crate) fn quantile(xs: &[f64], q: f64) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    Some(v[lo] + (v[hi] - v[lo]) * frac)
}

/// The value below which a share `q` of the total lies, each value
/// weighted by its own size: the size of the series that carry the bulk of
/// the total, however many near-zero ones there are. `None` when the sizes
/// sum to 0 (or less).
pub(crate) fn volume_quantile(xs: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = xs
        .iter()
        .map(|x| x.abs())
        .filter(|x| x.is_finite())
        .collect();
    v.sort_by(f64::total_cmp);
    let total: f64 = v.iter().sum();
    if total.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    let goal = q.clamp(0.0, 1.0) * total;
    let mut cum = 0.0;
    for x in &v {
        cum += x;
        if cum >= goal {
            return Some(*x);
        }
    }
    v.last().copied()
}

/// Median and normal-consistent median absolute deviation (1.4826 · MAD).
pub(crate) fn median_mad(xs: &[f64]) -> Option<(f64, f64)> {
    let m = median(xs)?;
    let dev: Vec<f64> = xs.iter().map(|x| (x - m).abs()).collect();
    let mad = median(&dev)?;
    Some((m, 1.4826 * mad))
}

/// The samples of a series made ready for scoring: non-finite values
/// dropped, sorted by time with duplicate timestamps dropped (first kept),
/// and a counter (a family ending in `_total` whose values never fall,
/// resets aside) turned into a per-second rate.
pub(crate) fn clean(family: &str, samples: &[(i64, f64)]) -> Vec<(i64, f64)> {
    let mut v: Vec<(i64, f64)> = samples
        .iter()
        .copied()
        .filter(|(_, x)| x.is_finite())
        .collect();
    if !v.windows(2).all(|w| w[0].0 < w[1].0) {
        v.sort_by_key(|s| s.0);
        v.dedup_by_key(|s| s.0);
    }
    if family.ends_with("_total") && is_counter_like(&v) {
        return rate(&v);
    }
    v
}

/// True when at most one value in twenty falls (a counter with resets).
fn is_counter_like(v: &[(i64, f64)]) -> bool {
    if v.len() < 3 {
        return false;
    }
    let falls = v.windows(2).filter(|w| w[1].1 < w[0].1).count();
    falls * 20 <= v.len()
}

/// Per-second increase between neighbours, stamped at the later sample; a
/// reset counts from zero, as Prometheus's `rate` does.
fn rate(v: &[(i64, f64)]) -> Vec<(i64, f64)> {
    v.windows(2)
        .filter_map(|w| {
            let dt = (w[1].0 - w[0].0) as f64 / 1000.0;
            if dt <= 0.0 {
                return None;
            }
            let inc = if w[1].1 >= w[0].1 {
                w[1].1 - w[0].1
            } else {
                w[1].1
            };
            Some((w[1].0, inc / dt))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_statistics() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(quantile(&[0.0, 10.0], 0.75), Some(7.5));
        let (m, s) = median_mad(&[1.0, 2.0, 3.0, 4.0, 100.0]).unwrap();
        assert_eq!(m, 3.0);
        assert!((s - 1.4826).abs() < 1e-12);
    }

    #[test]
    fn counters_become_rates_and_gauges_stay() {
        let c = clean(
            "x_total",
            &[(0, 0.0), (1000, 2.0), (2000, 4.0), (3000, 1.0), (4000, 3.0)],
        );
        // One fall in four steps is too many for a counter: kept as it is.
        assert_eq!(c.len(), 5);
        let c: Vec<(i64, f64)> = (0..30).map(|i| (i * 60_000, i as f64 * 120.0)).collect();
        let r = clean("x_total", &c);
        assert_eq!(r.len(), 29);
        assert!(r.iter().all(|(_, v)| (*v - 2.0).abs() < 1e-12));
        let g = clean(
            "x",
            &[(2000, 1.0), (1000, f64::NAN), (1000, 2.0), (1000, 3.0)],
        );
        assert_eq!(g, vec![(1000, 2.0), (2000, 1.0)]);
    }
}
