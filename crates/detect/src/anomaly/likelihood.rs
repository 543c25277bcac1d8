//! The anomaly-likelihood layer (after Numenta's HTM detector): a short
//! average of the raw anomaly compared with the long-run distribution of that
//! average, so a raw score that is often high on a noisy series counts for
//! less than the same score on a quiet one.
//!
//! HTM keeps the last ~8 000 averages and fits a normal to them; we keep an
//! exponentially weighted mean and variance instead (α ≈ 1/8 000 gives the
//! same memory in a few bytes). The output is the normal-tail z of the
//! current average, in `[0, ∞)`; `1 − Q(z)` is HTM's likelihood, so HTM's
//! usual threshold 0.99999 is `z ≈ 4.26`.

use super::stats::{warm_alpha, MeanVar};

/// The short average of the raw anomaly and its long-run statistics.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Likelihood {
    avg: f64,
    stats: MeanVar,
    n: u32,
}

/// Parameters of [`Likelihood::observe`] (copied from `AnomalyConfig`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LikelihoodParams {
    /// Weight of the newest raw anomaly in the short average.
    pub short_alpha: f64,
    /// Weight of the newest short average in the long-run mean/variance.
    pub long_alpha: f64,
    /// The spread never counts as smaller than this (raw-anomaly units).
    pub min_sd: f64,
    /// Raw anomalies seen before the long-run distribution starts (the
    /// forecasters' own warm-up transients would inflate it); the layer
    /// reports from `min_count + 100` on.
    pub min_count: u32,
}

impl Likelihood {
    /// Folds the raw anomaly `r` in and returns the tail z of the new short
    /// average against the distribution before it (0 while warming up or
    /// when the average is below the long-run mean).
    pub(crate) fn observe(&mut self, r: f64, p: &LikelihoodParams) -> f64 {
        self.n = self.n.saturating_add(1);
        self.avg += warm_alpha(p.short_alpha, self.n) * (r - self.avg);
        if self.n <= p.min_count {
            return 0.0;
        }
        let z = if self.n > p.min_count.saturating_add(100) {
            let sd = self.stats.var.sqrt().max(p.min_sd);
            ((self.avg - self.stats.mean) / sd).max(0.0)
        } else {
            0.0
        };
        self.stats.update(self.avg, p.long_alpha);
        z
    }
}

/// HTM's likelihood `1 − Q(z)` for a tail z (the standard normal CDF),
/// via the complementary error function (Numerical Recipes' Chebyshev
/// fit, relative error below 1.2e-7).
pub fn likelihood_of(z: f64) -> f64 {
    1.0 - 0.5 * erfc(z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: LikelihoodParams = LikelihoodParams {
        short_alpha: 0.1,
        long_alpha: 0.001,
        min_sd: 0.05,
        min_count: 50,
    };

    #[test]
    fn normal_cdf_matches_known_values() {
        assert!((likelihood_of(0.0) - 0.5).abs() < 1e-7);
        assert!((likelihood_of(1.0) - 0.841_344_7).abs() < 1e-6);
        assert!((likelihood_of(-1.96) - 0.025).abs() < 1e-4);
        assert!((likelihood_of(4.264_890_8) - 0.99999).abs() < 1e-6);
    }

    #[test]
    fn a_noisy_raw_score_counts_for_less_than_on_a_quiet_series() {
        // The same burst of raw anomaly 4 on a series whose raw score is
        // usually about 1 ± 0.9 and on one that is usually 1 ± 0.1.
        let burst = |spread: f64| {
            let mut l = Likelihood::default();
            // Blocks of 30, so the short average follows the swings.
            for i in 0..3000 {
                l.observe(1.0 + if i / 30 % 2 == 0 { spread } else { -spread }, &P);
            }
            (0..5).map(|_| l.observe(4.0, &P)).fold(0.0, f64::max)
        };
        let (noisy, quiet) = (burst(0.9), burst(0.1));
        assert!(quiet > 2.0 * noisy, "quiet {quiet} noisy {noisy}");
        assert!(quiet > 4.3, "{quiet}");
    }
}
