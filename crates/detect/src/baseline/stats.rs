//! Small robust statistics used by the baselines: weighted quantiles, median,
//! MAD, and a Gaussian-kernel density quantile.
//!
//! ```
//! use argus_detect::baseline::stats::{median, weighted_quantile};
//!
//! assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
//! let mut v = vec![(1.0, 1.0), (2.0, 1.0), (10.0, 0.0)];
//! assert_eq!(weighted_quantile(&mut v, 1.0), 2.0); // zero weight ignored
//! ```

/// 1.4826·MAD estimates σ for normal data.
pub const MAD_TO_SIGMA: f64 = 1.4826;

/// Median of `v` (reorders it). NaN for an empty slice.
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let m = *m;
    if v.len() % 2 == 1 {
        m
    } else {
        let lo = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo + m) / 2.0
    }
}

/// Weighted quantile `q ∈ [0, 1]` of `(value, weight)` pairs (sorts them).
/// Pairs with non-positive weight are ignored; NaN if none remain.
pub fn weighted_quantile(v: &mut [(f64, f64)], q: f64) -> f64 {
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    sorted_weighted_quantile(v, q)
}

/// [`weighted_quantile`] on pairs already sorted by value.
pub fn sorted_weighted_quantile(v: &[(f64, f64)], q: f64) -> f64 {
    let total: f64 = v.iter().map(|p| p.1.max(0.0)).sum();
    if total <= 0.0 {
        return f64::NAN;
    }
    let target = q.clamp(0.0, 1.0) * total;
    let mut acc = 0.0;
    let mut last = f64::NAN;
    for &(x, w) in v {
        if w <= 0.0 {
            continue;
        }
        acc += w;
        last = x;
        if acc >= target - 1e-12 * total {
            return x;
        }
    }
    last
}

/// Weighted robust spread: 1.4826 × weighted median of |x − center|.
pub fn weighted_mad_sigma(v: &[(f64, f64)], center: f64) -> f64 {
    let mut dev: Vec<(f64, f64)> = v.iter().map(|&(x, w)| ((x - center).abs(), w)).collect();
    MAD_TO_SIGMA * weighted_quantile(&mut dev, 0.5)
}

/// Quantile `q` of a Gaussian kernel density with bandwidth `h` over the
/// weighted points `v` (sorted by value), found by bisection on its CDF.
pub fn kde_quantile(v: &[(f64, f64)], h: f64, q: f64) -> f64 {
    let total: f64 = v.iter().map(|p| p.1.max(0.0)).sum();
    if total <= 0.0 || v.is_empty() {
        return f64::NAN;
    }
    if h <= 0.0 || !h.is_finite() {
        return sorted_weighted_quantile(v, q);
    }
    let cdf = |x: f64| -> f64 {
        v.iter()
            .filter(|p| p.1 > 0.0)
            .map(|&(xi, w)| w * normal_cdf((x - xi) / h))
            .sum::<f64>()
            / total
    };
    let mut lo = v[0].0 - 6.0 * h;
    let mut hi = v[v.len() - 1].0 + 6.0 * h;
    // Bisect to a millionth of the bandwidth (far below the band's
    // resolution), at most 40 halvings: each CDF costs one `exp` per point.
    let tol = h * 1e-6;
    for _ in 0..40 {
        if hi - lo <= tol {
            break;
        }
        let mid = 0.5 * (lo + hi);
        if cdf(mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Standard normal CDF (Abramowitz–Stegun 7.1.26 erf approximation, |ε| < 1.5e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// Silverman's rule-of-thumb bandwidth for weighted points.
pub fn silverman_bandwidth(v: &[(f64, f64)]) -> f64 {
    let total: f64 = v.iter().map(|p| p.1.max(0.0)).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let mean = v.iter().map(|p| p.0 * p.1.max(0.0)).sum::<f64>() / total;
    let var = v
        .iter()
        .map(|p| p.1.max(0.0) * (p.0 - mean).powi(2))
        .sum::<f64>()
        / total;
    let mut s = v.to_vec();
    let iqr = weighted_quantile(&mut s, 0.75) - sorted_weighted_quantile(&s, 0.25);
    let spread = if iqr > 0.0 {
        var.sqrt().min(iqr / 1.34)
    } else {
        var.sqrt()
    };
    // effective sample size of weighted data
    let sq: f64 = v.iter().map(|p| p.1.max(0.0).powi(2)).sum();
    let n_eff = if sq > 0.0 { total * total / sq } else { 1.0 };
    0.9 * spread * n_eff.powf(-0.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn weighted_quantiles() {
        let mut v: Vec<(f64, f64)> = (1..=100).map(|i| (i as f64, 1.0)).collect();
        assert_eq!(weighted_quantile(&mut v, 0.5), 50.0);
        assert_eq!(sorted_weighted_quantile(&v, 0.0), 1.0);
        assert_eq!(sorted_weighted_quantile(&v, 1.0), 100.0);
        // heavy weight pulls the median
        let mut w = vec![(1.0, 10.0), (5.0, 1.0), (9.0, 1.0)];
        assert_eq!(weighted_quantile(&mut w, 0.5), 1.0);
        assert!(weighted_quantile(&mut [(1.0, 0.0)], 0.5).is_nan());
    }

    #[test]
    fn normal_cdf_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.96) - 0.975).abs() < 1e-4);
        assert!((normal_cdf(-1.96) - 0.025).abs() < 1e-4);
    }

    #[test]
    fn kde_quantile_of_symmetric_points() {
        let v: Vec<(f64, f64)> = (-50..=50).map(|i| (i as f64 / 10.0, 1.0)).collect();
        let h = silverman_bandwidth(&v);
        assert!(h > 0.0);
        assert!(kde_quantile(&v, h, 0.5).abs() < 1e-6);
        let q99 = kde_quantile(&v, h, 0.99);
        assert!(q99 > 4.5 && q99 < 6.5, "{q99}");
    }
}
