//! Small streaming statistics used by the anomaly scorer.

/// Weight of the newest value: `alpha`, but `1/n` while fewer than `1/alpha`
/// values were seen, so the first values are a plain running mean.
pub(crate) fn warm_alpha(alpha: f64, n: u32) -> f64 {
    alpha.max(1.0 / f64::from(n.max(1)))
}

/// An exponentially weighted mean and mean absolute deviation of a stream of
/// errors, with large errors clipped so one outlier cannot inflate the scale.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Scale {
    /// Mean absolute error.
    pub mad: f64,
    n: u32,
}

impl Scale {
    /// Folds `abs_err` in; it counts at most `clip · mad` once warm.
    pub(crate) fn update(&mut self, abs_err: f64, alpha: f64, clip: f64) {
        self.n = self.n.saturating_add(1);
        let x = if self.n > 10 {
            abs_err.min(clip * self.mad.max(f64::MIN_POSITIVE))
        } else {
            abs_err
        };
        self.mad += warm_alpha(alpha, self.n) * (x - self.mad);
    }

    /// Values folded in so far.
    pub(crate) fn count(&self) -> u32 {
        self.n
    }
}

/// An exponentially weighted mean and variance.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MeanVar {
    pub mean: f64,
    pub var: f64,
    n: u32,
}

impl MeanVar {
    pub(crate) fn update(&mut self, x: f64, alpha: f64) {
        self.n = self.n.saturating_add(1);
        let a = warm_alpha(alpha, self.n);
        let d = x - self.mean;
        self.mean += a * d;
        self.var = (1.0 - a) * (self.var + a * d * d);
    }

    /// `(x − mean) / max(std, min_sd)`, 0 when that spread is zero.
    pub(crate) fn z(&self, x: f64, min_sd: f64) -> f64 {
        let sd = self.var.sqrt().max(min_sd);
        if sd > 0.0 {
            (x - self.mean) / sd
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_starts_as_a_running_mean_then_clips() {
        let mut s = Scale::default();
        for _ in 0..50 {
            s.update(1.0, 0.01, 4.0);
        }
        assert!((s.mad - 1.0).abs() < 1e-12);
        s.update(1000.0, 0.01, 4.0); // counts as 4, with weight 1/51
        assert!((s.mad - (1.0 + 3.0 / 51.0)).abs() < 1e-12, "{}", s.mad);
    }

    #[test]
    fn meanvar_of_a_constant_has_zero_variance() {
        let mut m = MeanVar::default();
        for _ in 0..100 {
            m.update(3.0, 0.05);
        }
        assert!((m.mean - 3.0).abs() < 1e-12);
        assert_eq!(m.z(5.0, 0.0), 0.0);
        assert_eq!(m.z(5.0, 0.5), 4.0);
        m.update(4.0, 0.05);
        assert!(m.z(4.0, 0.0) > 0.0);
    }
}
