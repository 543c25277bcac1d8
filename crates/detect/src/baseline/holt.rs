//! Holt-Winters (additive, damped trend) with a seasonal component per phase
//! bin. Smoothing factors are chosen by grid search on one-step-ahead error.
//! Online, level and trend keep updating from values clamped into the band;
//! the seasonal profile is frozen at training (retraining refreshes it), so
//! the streaming state stays two numbers.
//!
//! Own code rather than `augurs` ETS/MSTL: those fit index-based series and
//! forecast from the end of the fit; here every sample is scored as it
//! arrives, at any timestamp, in well under a microsecond, and the seasonal
//! profile is stored at bin resolution to keep the model small.
//!
//! ```
//! use argus_detect::baseline::{holt::HoltModel, Baseline, BandConfig, TrainData};
//!
//! let day = 86_400_000i64;
//! let ts: Vec<i64> = (0..3 * 1440).map(|i| i * 60_000).collect();
//! let v: Vec<f64> = ts.iter().map(|t| 100.0 + 0.001 * (*t / 60_000) as f64 + if t % day < day / 2 { 0.0 } else { 30.0 }).collect();
//! let m = HoltModel::fit(&TrainData::new(&ts, &v, &vec![1.0; v.len()]), day, 0, &BandConfig::default());
//! let b = m.band(3 * day + 18 * 3_600_000, &m.initial_state());
//! assert!((b.expected - 134.0).abs() < 3.0, "{b:?}");
//! ```

use serde::{Deserialize, Serialize};

use super::stats::{weighted_mad_sigma, weighted_quantile};
use super::{robust_scale, Band, BandConfig, Baseline, OnlineState, TrainData};

/// Trend damping per sample.
const PHI: f64 = 0.98;

/// A trained Holt-Winters model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoltModel {
    /// Level smoothing.
    pub alpha: f64,
    /// Trend smoothing.
    pub beta: f64,
    /// Seasonal smoothing used in training.
    pub gamma: f64,
    /// Period, ms.
    pub period_ms: i64,
    /// Bin width, ms.
    pub bin_ms: i64,
    /// Local offset from UTC, minutes.
    pub utc_offset_min: i32,
    /// Seasonal offset per bin.
    pub season: Vec<f32>,
    /// Level at the end of training.
    pub last_level: f64,
    /// Trend at the end of training.
    pub last_trend: f64,
    /// Median one-step residual.
    pub res_mid: f64,
    /// Half-width of the band.
    pub half_width: f64,
    /// Robust spread of the values.
    pub scale: f64,
}

struct Run {
    sse: f64,
    level: f64,
    trend: f64,
    season: Vec<f64>,
    residuals: Vec<(f64, f64)>,
}

impl HoltModel {
    fn bin(&self, ts_ms: i64) -> usize {
        bin_of(
            ts_ms,
            self.period_ms,
            self.bin_ms,
            self.utc_offset_min,
            self.season.len(),
        )
    }

    /// Fits on `data` with period `period_ms` (a non-positive period means no
    /// seasonality: Holt's linear trend).
    pub fn fit(
        data: &TrainData<'_>,
        period_ms: i64,
        utc_offset_min: i32,
        cfg: &BandConfig,
    ) -> HoltModel {
        let seasonal = period_ms > 0;
        let period_ms = if seasonal { period_ms } else { i64::MAX / 4 };
        let bin_ms = if seasonal {
            cfg.bin_ms.max(1)
        } else {
            period_ms
        };
        let nb = if seasonal {
            super::profile::Profile::bin_count(period_ms, bin_ms)
        } else {
            1
        };
        let scale = robust_scale(&data.pairs());
        let bins: Vec<usize> = data
            .ts
            .iter()
            .map(|&t| bin_of(t, period_ms, bin_ms, utc_offset_min, nb))
            .collect();
        let mut best: Option<(f64, f64, f64, Run)> = None;
        let gammas: &[f64] = if seasonal { &[0.01, 0.05, 0.2] } else { &[0.0] };
        for &alpha in &[0.02, 0.05, 0.15, 0.4] {
            for &beta in &[0.0, 0.01] {
                for &gamma in gammas {
                    let r = run(data, &bins, nb, period_ms, scale, alpha, beta, gamma);
                    if best.as_ref().is_none_or(|b| r.sse < b.3.sse) {
                        best = Some((alpha, beta, gamma, r));
                    }
                }
            }
        }
        let (alpha, beta, gamma, r) = match best {
            Some(b) => b,
            None => (
                0.1,
                0.0,
                0.0,
                run(data, &bins, nb, period_ms, scale, 0.1, 0.0, 0.0),
            ),
        };
        let mut res = r.residuals.clone();
        let mid = weighted_quantile(&mut res, 0.5);
        let mid = if mid.is_finite() { mid } else { 0.0 };
        let sigma = weighted_mad_sigma(&r.residuals, mid);
        let sigma = if sigma.is_finite() {
            sigma.max(scale * 1e-3)
        } else {
            scale
        };
        HoltModel {
            alpha,
            beta,
            gamma,
            period_ms,
            bin_ms,
            utc_offset_min,
            season: r.season.iter().map(|&s| s as f32).collect(),
            last_level: r.level,
            last_trend: r.trend,
            res_mid: mid,
            half_width: cfg.sigmas * sigma,
            scale,
        }
    }
}

fn bin_of(ts_ms: i64, period_ms: i64, bin_ms: i64, off_min: i32, nb: usize) -> usize {
    let phase = (ts_ms + i64::from(off_min) * 60_000).rem_euclid(period_ms.max(1));
    ((phase / bin_ms.max(1)) as usize).min(nb.saturating_sub(1))
}

// Parallel arrays (ts, values, weights, bins) are walked by index.
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
fn run(
    data: &TrainData<'_>,
    bins: &[usize],
    nb: usize,
    period_ms: i64,
    scale: f64,
    alpha: f64,
    beta: f64,
    gamma: f64,
) -> Run {
    let n = data.len();
    let t0 = data.ts.first().copied().unwrap_or(0);
    // Initialise from the first period (or everything, if shorter).
    let first = data
        .ts
        .iter()
        .position(|&t| t - t0 >= period_ms)
        .unwrap_or(n)
        .max(1)
        .min(n);
    let mut sum = vec![0.0; nb];
    let mut cnt = vec![0.0; nb];
    for i in 0..first {
        sum[bins[i]] += data.values[i];
        cnt[bins[i]] += 1.0;
    }
    let level0 = data.values[..first].iter().sum::<f64>() / first.max(1) as f64;
    let mut season: Vec<f64> = (0..nb)
        .map(|b| {
            if cnt[b] > 0.0 {
                sum[b] / cnt[b] - level0
            } else {
                0.0
            }
        })
        .collect();
    let mut level = if level0.is_finite() { level0 } else { 0.0 };
    let mut trend = 0.0;
    let mut sse = 0.0;
    let mut residuals = Vec::with_capacity(n.saturating_sub(first));
    let lim = 6.0 * scale;
    for i in 0..n {
        let b = bins[i];
        let f = level + PHI * trend + season[b];
        let x = data.values[i];
        let e = x - f;
        if i >= first {
            sse += data.weights[i] * e * e;
            residuals.push((e, data.weights[i]));
        }
        let x = x.clamp(f - lim, f + lim);
        let new_level = alpha * (x - season[b]) + (1.0 - alpha) * (level + PHI * trend);
        trend = beta * (new_level - level) + (1.0 - beta) * PHI * trend;
        season[b] = gamma * (x - new_level) + (1.0 - gamma) * season[b];
        level = new_level;
    }
    Run {
        sse,
        level,
        trend,
        season,
        residuals,
    }
}

impl Baseline for HoltModel {
    fn initial_state(&self) -> OnlineState {
        OnlineState {
            level: self.last_level,
            trend: self.last_trend,
        }
    }

    fn band(&self, ts_ms: i64, st: &OnlineState) -> Band {
        let s = self.season.get(self.bin(ts_ms)).copied().unwrap_or(0.0);
        let e = st.level + PHI * st.trend + f64::from(s) + self.res_mid;
        Band {
            expected: e,
            lower: e - self.half_width,
            upper: e + self.half_width,
        }
    }

    fn learn(&self, value: f64, band: &Band, st: &mut OnlineState) {
        let s = band.expected - self.res_mid - st.level - PHI * st.trend;
        let x = band.clamp(value);
        let new_level = self.alpha * (x - s) + (1.0 - self.alpha) * (st.level + PHI * st.trend);
        st.trend = self.beta * (new_level - st.level) + (1.0 - self.beta) * PHI * st.trend;
        st.level = new_level;
    }

    fn scale(&self) -> f64 {
        self.scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_a_level_shift_within_band() {
        let ts: Vec<i64> = (0..2000).map(|i| i * 60_000).collect();
        let v: Vec<f64> = (0..2000).map(|i| 50.0 + (i % 3) as f64).collect();
        let m = HoltModel::fit(
            &TrainData::new(&ts, &v, &vec![1.0; 2000]),
            0,
            0,
            &BandConfig::default(),
        );
        let mut st = m.initial_state();
        let b = m.band(ts[1999] + 60_000, &st);
        assert!(b.lower < 50.0 && b.upper > 52.0, "{b:?}");
        assert!(b.upper - b.lower < 20.0, "{b:?}");
        for k in 0..500 {
            let b = m.band(k, &st);
            m.learn(55.0, &b, &mut st);
        }
        let b = m.band(0, &st);
        assert!((b.expected - 55.0).abs() < 1.5, "{b:?}");
    }
}
