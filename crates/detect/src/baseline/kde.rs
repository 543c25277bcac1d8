//! KDE: for each phase bin of the period, a Gaussian kernel density of the
//! values seen there; the band is the density's `q` and `1 − q` quantiles
//! (plus a small margin) and the expected value is the weighted median.
//! For periodic metrics whose phases behave differently (seed 002).
//!
//! ```
//! use argus_detect::baseline::{kde::KdeModel, Baseline, BandConfig, OnlineState, TrainData};
//!
//! let day = 86_400_000i64;
//! let ts: Vec<i64> = (0..2880).map(|i| i * 60_000).collect(); // two days
//! let v: Vec<f64> = ts.iter().map(|t| if t % day < day / 2 { 10.0 } else { 50.0 }).collect();
//! let m = KdeModel::fit(&TrainData::new(&ts, &v, &vec![1.0; 2880]), day, 0, &BandConfig::default());
//! let st = m.initial_state();
//! assert!((m.band(3 * 3_600_000, &st).expected - 10.0).abs() < 1e-6);
//! assert!((m.band(18 * 3_600_000, &st).expected - 50.0).abs() < 1e-6);
//! ```

use serde::{Deserialize, Serialize};

use super::profile::{BinRule, Profile};
use super::{robust_scale, Band, BandConfig, Baseline, OnlineState, TrainData};

/// A trained KDE model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KdeModel {
    /// The per-phase bands.
    pub profile: Profile,
    /// Local offset from UTC applied before taking the phase, minutes.
    pub utc_offset_min: i32,
    /// Robust spread of the values.
    pub scale: f64,
}

impl KdeModel {
    /// Fits on `data` with period `period_ms`.
    pub fn fit(
        data: &TrainData<'_>,
        period_ms: i64,
        utc_offset_min: i32,
        cfg: &BandConfig,
    ) -> KdeModel {
        let period_ms = period_ms.max(1);
        let nb = Profile::bin_count(period_ms, cfg.bin_ms);
        let mut per_bin: Vec<Vec<(f64, f64)>> = vec![Vec::new(); nb];
        let off = i64::from(utc_offset_min) * 60_000;
        for i in 0..data.len() {
            let phase = (data.ts[i] + off).rem_euclid(period_ms);
            let b = ((phase / cfg.bin_ms.max(1)) as usize).min(nb - 1);
            per_bin[b].push((data.values[i], data.weights[i]));
        }
        let rule = BinRule::Kde {
            q: cfg.kde_quantile,
            margin: cfg.kde_margin,
        };
        KdeModel {
            profile: Profile::build(period_ms, cfg.bin_ms, per_bin, rule, true),
            utc_offset_min,
            scale: robust_scale(&data.pairs()),
        }
    }
}

impl Baseline for KdeModel {
    fn initial_state(&self) -> OnlineState {
        OnlineState {
            level: 0.0,
            trend: 0.0,
        }
    }

    fn band(&self, ts_ms: i64, _st: &OnlineState) -> Band {
        self.profile
            .band_at(ts_ms + i64::from(self.utc_offset_min) * 60_000)
    }

    fn learn(&self, _value: f64, _band: &Band, _st: &mut OnlineState) {}

    fn scale(&self) -> f64 {
        self.scale
    }
}
