//! MA: an exponentially weighted moving average with a robust band from the
//! residuals `x − MA` seen in training (median ± k·1.4826·MAD). Online, the
//! average learns from values clamped into the band, so an incident moves it
//! by at most one band-width per sample instead of becoming the new normal.
//!
//! ```
//! use argus_detect::baseline::{ma::MaModel, Baseline, BandConfig, TrainData};
//!
//! let ts: Vec<i64> = (0..300).map(|i| i * 1000).collect();
//! let v: Vec<f64> = (0..300).map(|i| 10.0 + (i % 2) as f64).collect();
//! let m = MaModel::fit(&TrainData::new(&ts, &v, &vec![1.0; 300]), 20, &BandConfig::default());
//! let b = m.band(0, &m.initial_state());
//! assert!(b.lower <= 10.0 && b.upper >= 11.0);
//! ```

use serde::{Deserialize, Serialize};

use super::stats::{weighted_mad_sigma, weighted_quantile};
use super::{robust_scale, Band, BandConfig, Baseline, OnlineState, TrainData};

/// A trained MA model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaModel {
    /// EWMA smoothing factor, `2 / (window + 1)`.
    pub alpha: f64,
    /// Median residual (bias of the average).
    pub res_mid: f64,
    /// Half-width of the band.
    pub half_width: f64,
    /// The average at the end of training.
    pub last_level: f64,
    /// Robust spread of the values.
    pub scale: f64,
}

impl MaModel {
    /// Fits on `data` with an averaging window of `window` points.
    pub fn fit(data: &TrainData<'_>, window: usize, cfg: &BandConfig) -> MaModel {
        let alpha = 2.0 / (window.max(1) as f64 + 1.0);
        let pairs = data.pairs();
        let scale = robust_scale(&pairs);
        let mut level = data.values.first().copied().unwrap_or(0.0);
        let mut res = Vec::with_capacity(data.len());
        // First pass: residuals of the plain average (clamped to a generous
        // band so that outliers do not drag it).
        for (&x, &w) in data.values.iter().zip(data.weights) {
            res.push((x - level, w));
            let lim = 8.0 * scale;
            level += alpha * (x.clamp(level - lim, level + lim) - level);
        }
        let mut r = res.clone();
        let mid = weighted_quantile(&mut r, 0.5);
        let sigma = weighted_mad_sigma(&res, mid).max(scale * 1e-3);
        let mid = if mid.is_finite() { mid } else { 0.0 };
        MaModel {
            alpha,
            res_mid: mid,
            half_width: cfg.sigmas * sigma,
            last_level: level,
            scale,
        }
    }
}

impl Baseline for MaModel {
    fn initial_state(&self) -> OnlineState {
        OnlineState {
            level: self.last_level,
            trend: 0.0,
        }
    }

    fn band(&self, _ts_ms: i64, st: &OnlineState) -> Band {
        let e = st.level + self.res_mid;
        Band {
            expected: e,
            lower: e - self.half_width,
            upper: e + self.half_width,
        }
    }

    fn learn(&self, value: f64, band: &Band, st: &mut OnlineState) {
        st.level += self.alpha * (band.clamp(value) - st.level);
    }

    fn scale(&self) -> f64 {
        self.scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spike_is_outside_and_does_not_drag() {
        let n = 1000;
        let ts: Vec<i64> = (0..n).map(|i| i * 60_000).collect();
        let v: Vec<f64> = (0..n).map(|i| 100.0 + ((i * 7) % 11) as f64).collect();
        let m = MaModel::fit(
            &TrainData::new(&ts, &v, &vec![1.0; n as usize]),
            30,
            &BandConfig::default(),
        );
        let mut st = m.initial_state();
        let b = m.band(0, &st);
        assert!(b.lower > 80.0 && b.upper < 130.0, "{b:?}");
        assert!(1000.0 > b.upper);
        m.learn(1000.0, &b, &mut st);
        // one spike moves the level by at most alpha × half-band
        assert!(st.level < b.expected + b.upper - b.lower);
    }
}
