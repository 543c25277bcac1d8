//! Baselines: each gives `expected`, `lower` and `upper` for a timestamp.
//!
//! | model | for | state while streaming |
//! |---|---|---|
//! | [`ma::MaModel`] | steady metrics (memory %, error counts) | one EWMA level |
//! | [`kde::KdeModel`] | periodic metrics whose phases differ | none |
//! | [`cluster::ClusterModel`] | day profiles by calendar class | none |
//! | [`holt::HoltModel`] | trending seasonal series (Holt-Winters) | level and trend |
//! | [`robust::ColdStart`] | cold start, before any training | last 64 values |
//!
//! Trained models are immutable (share them with `Arc`); what changes per
//! sample lives in the small [`OnlineState`].
//!
//! ```
//! use argus_detect::baseline::{ma::MaModel, Baseline, BandConfig, OnlineState, TrainData};
//!
//! let ts: Vec<i64> = (0..500).map(|i| i * 60_000).collect();
//! let values: Vec<f64> = (0..500).map(|i| 50.0 + (i % 7) as f64).collect();
//! let w = vec![1.0; 500];
//! let m = MaModel::fit(&TrainData::new(&ts, &values, &w), 30, &BandConfig::default());
//! let mut st = m.initial_state();
//! let b = m.band(500 * 60_000, &st);
//! assert!(b.lower < 53.0 && 53.0 < b.upper);
//! m.learn(53.0, &b, &mut st);
//! ```

pub mod calendar;
pub mod cluster;
pub mod holt;
pub mod kde;
pub mod ma;
pub mod profile;
pub mod robust;
pub mod stats;

use serde::{Deserialize, Serialize};

/// Expected value and band for one timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Band {
    /// The expected value.
    pub expected: f64,
    /// The lower bound (AILower).
    pub lower: f64,
    /// The upper bound (AIUpper).
    pub upper: f64,
}

impl Band {
    /// A band that never alerts (before there is anything to judge by).
    pub const OPEN: Band = Band {
        expected: f64::NAN,
        lower: f64::NEG_INFINITY,
        upper: f64::INFINITY,
    };

    /// Clamps `v` into the band (used to learn from alerting values without
    /// letting them drag the level).
    pub fn clamp(&self, v: f64) -> f64 {
        if v < self.lower {
            self.lower
        } else if v > self.upper {
            self.upper
        } else {
            v
        }
    }
}

/// Band widths. Part of a rule; the trainer passes it to every model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BandConfig {
    /// Half-width in robust σ (1.4826·MAD) for MA, DataCluster and Holt-Winters.
    pub sigmas: f64,
    /// KDE: lower density quantile (the upper one is `1 − kde_quantile`).
    pub kde_quantile: f64,
    /// KDE: extra margin beyond the quantiles, in robust σ of the phase.
    pub kde_margin: f64,
    /// Phase bin width for the periodic models, milliseconds.
    pub bin_ms: i64,
}

impl Default for BandConfig {
    fn default() -> Self {
        Self {
            sigmas: 4.0,
            kde_quantile: 0.005,
            kde_margin: 0.5,
            bin_ms: 15 * 60_000,
        }
    }
}

/// Training data: parallel slices of timestamps (ms, ascending), values and weights.
#[derive(Debug, Clone, Copy)]
pub struct TrainData<'a> {
    /// Timestamps, milliseconds, ascending.
    pub ts: &'a [i64],
    /// Values (finite).
    pub values: &'a [f64],
    /// Weights ≥ 0 (decay × flag down-weighting).
    pub weights: &'a [f64],
}

impl<'a> TrainData<'a> {
    /// Bundles the slices; they must have equal length (the shortest wins).
    pub fn new(ts: &'a [i64], values: &'a [f64], weights: &'a [f64]) -> Self {
        let n = ts.len().min(values.len()).min(weights.len());
        Self {
            ts: &ts[..n],
            values: &values[..n],
            weights: &weights[..n],
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Weighted pairs `(value, weight)`.
    pub fn pairs(&self) -> Vec<(f64, f64)> {
        self.values
            .iter()
            .copied()
            .zip(self.weights.iter().copied())
            .collect()
    }

    /// The first `n` points.
    pub fn head(&self, n: usize) -> TrainData<'a> {
        let n = n.min(self.len());
        TrainData::new(&self.ts[..n], &self.values[..n], &self.weights[..n])
    }

    /// The points from index `n` on.
    pub fn tail_from(&self, n: usize) -> TrainData<'a> {
        let n = n.min(self.len());
        TrainData::new(&self.ts[n..], &self.values[n..], &self.weights[n..])
    }
}

/// The per-series state that changes with every sample (fixed size, `Copy`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OnlineState {
    /// MA: the moving level; Holt-Winters: the level.
    pub level: f64,
    /// Holt-Winters: the trend per sample.
    pub trend: f64,
}

/// Anything that gives a band for a timestamp and learns online.
pub trait Baseline {
    /// The state to start streaming from, right after the training window.
    fn initial_state(&self) -> OnlineState;
    /// Expected value and band at `ts_ms`.
    fn band(&self, ts_ms: i64, st: &OnlineState) -> Band;
    /// Updates `st` with an observed value whose band was `band`.
    fn learn(&self, value: f64, band: &Band, st: &mut OnlineState);
    /// The series' robust spread, the floor of `N`'s denominator.
    fn scale(&self) -> f64;
}

/// A trained model of any algorithm (serde-tagged for persistence).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "snake_case")]
pub enum Model {
    /// Moving average with robust spread.
    Ma(ma::MaModel),
    /// Kernel density per phase.
    Kde(kde::KdeModel),
    /// Day profiles by calendar class.
    DataCluster(cluster::ClusterModel),
    /// Holt-Winters with a binned seasonal profile.
    HoltWinters(holt::HoltModel),
}

impl Model {
    fn inner(&self) -> &dyn Baseline {
        match self {
            Model::Ma(m) => m,
            Model::Kde(m) => m,
            Model::DataCluster(m) => m,
            Model::HoltWinters(m) => m,
        }
    }
}

impl Baseline for Model {
    fn initial_state(&self) -> OnlineState {
        self.inner().initial_state()
    }
    fn band(&self, ts_ms: i64, st: &OnlineState) -> Band {
        self.inner().band(ts_ms, st)
    }
    fn learn(&self, value: f64, band: &Band, st: &mut OnlineState) {
        self.inner().learn(value, band, st)
    }
    fn scale(&self) -> f64 {
        self.inner().scale()
    }
}

/// Global robust scale of weighted values: 1.4826·MAD, or failing that a
/// small fraction of the median magnitude, or 1e-9.
pub fn robust_scale(pairs: &[(f64, f64)]) -> f64 {
    let mut v = pairs.to_vec();
    let med = stats::weighted_quantile(&mut v, 0.5);
    let s = stats::weighted_mad_sigma(pairs, med);
    if s.is_finite() && s > 0.0 {
        s
    } else if med.is_finite() && med != 0.0 {
        0.01 * med.abs()
    } else {
        1e-9
    }
}
