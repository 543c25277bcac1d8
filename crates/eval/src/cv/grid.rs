//! The candidates: the streaming anomaly scorer's settings on a grid fixed
//! before any result was seen, and the rolling z-score baseline.
//!
//! The grid varies the scorer's main knobs, two or three values each, the
//! shipped defaults among them (always the first candidate):
//! - sensitivity: `fire_z` 5, 6 (default), 8;
//! - hold after a detection: `suppress` 30 or 150 (default) samples;
//! - seasonality: daily and weekly profiles (default) or none;
//! - contextual novelty: `context_add` 5 (default) or 0 (off);
//! - memory: long (default: error scales over ~1 000 samples, the
//!   likelihood's distribution over ~8 000, both starting after 600) or
//!   short (~100 and ~1 000 samples, starting after 150).
//!
//! That is 3·2·2·2·2 = 48 candidates.
//!
//! ```
//! use argus_eval::cv::grid::{grid, GridKind};
//! use argus_detect::anomaly::AnomalyConfig;
//! let g = grid(GridKind::Full);
//! assert_eq!(g.len(), 48);
//! assert_eq!(g[0].config, Some(AnomalyConfig::default()));
//! assert_eq!(grid(GridKind::DefaultOnly).len(), 1);
//! ```

use std::str::FromStr;

use argus_detect::anomaly::{AnomalyConfig, AnomalyScorer};
use serde::Serialize;

use crate::EvalError;

/// Which candidates to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GridKind {
    /// The whole grid (48 candidates).
    #[default]
    Full,
    /// The current defaults only.
    DefaultOnly,
}

impl FromStr for GridKind {
    type Err = EvalError;

    fn from_str(s: &str) -> Result<Self, EvalError> {
        match s {
            "full" => Ok(GridKind::Full),
            "default-only" => Ok(GridKind::DefaultOnly),
            _ => Err(EvalError::Input(format!(
                "unknown grid {s:?}; expected full or default-only"
            ))),
        }
    }
}

/// One detector setting under test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// A short name, e.g. `fire6/hold150/season/novelty5/long`.
    pub name: String,
    /// The scorer's configuration; `None` for the z-score baseline.
    pub config: Option<AnomalyConfig>,
    /// The z-score baseline's window (0 for the scorer).
    #[serde(skip_serializing_if = "is_zero")]
    pub zscore_window: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Samples in the z-score baseline's rolling window.
pub const ZSCORE_WINDOW: usize = 300;
/// Samples the z-score baseline needs before it scores.
const ZSCORE_MIN: usize = 30;
/// The z at which the baseline's score is 0.5, its alarm point: the
/// three-sigma rule.
const ZSCORE_ALARM: f64 = 3.0;

impl Candidate {
    /// The scorer with `cfg`, named after the grid's knobs.
    pub fn scorer(cfg: AnomalyConfig) -> Self {
        let memory = if cfg.scale_alpha > AnomalyConfig::default().scale_alpha {
            "short"
        } else {
            "long"
        };
        Self {
            name: format!(
                "fire{}/hold{}/{}/novelty{}/{memory}",
                cfg.fire_z,
                cfg.suppress,
                if cfg.season_slots > 0 {
                    "season"
                } else {
                    "flat"
                },
                cfg.context_add
            ),
            config: Some(cfg),
            zscore_window: 0,
        }
    }

    /// The rolling z-score baseline: mean and standard deviation of the
    /// last [`ZSCORE_WINDOW`] samples (the current one excluded), score
    /// `|z| / (|z| + 3)`, which orders rows as `|z|` does and is 0.5 at
    /// three sigma.
    pub fn zscore() -> Self {
        Self {
            name: format!("z-score/{ZSCORE_WINDOW}"),
            config: None,
            zscore_window: ZSCORE_WINDOW,
        }
    }

    /// The score at which the detector raises an alarm on its own: the
    /// scorer's firing point `fire_z / (fire_z + squash)`, the baseline's
    /// three sigma.
    pub fn alarm_threshold(&self) -> f64 {
        match &self.config {
            Some(c) => c.fire_z / (c.fire_z + c.squash),
            None => ZSCORE_ALARM / (ZSCORE_ALARM + ZSCORE_ALARM),
        }
    }

    /// Streams one column of values (timestamps in seconds) through a fresh
    /// detector, as the server's dynamic rule runs the scorer, and returns
    /// the score of every row.
    pub fn score(&self, ts: &[i64], values: &[f64]) -> Vec<f64> {
        match &self.config {
            Some(c) => {
                let mut s = AnomalyScorer::new(c.clone());
                ts.iter()
                    .zip(values)
                    .map(|(&t, &v)| s.update(t, v))
                    .collect()
            }
            None => zscore(values, self.zscore_window),
        }
    }
}

/// The candidates of a grid; the defaults first.
pub fn grid(kind: GridKind) -> Vec<Candidate> {
    let default = AnomalyConfig::default();
    if kind == GridKind::DefaultOnly {
        return vec![Candidate::scorer(default)];
    }
    let mut out = vec![Candidate::scorer(default.clone())];
    for fire_z in [6.0, 5.0, 8.0] {
        for suppress in [150, 30] {
            for season in [true, false] {
                for novelty in [5.0, 0.0] {
                    for long in [true, false] {
                        let mut c = AnomalyConfig {
                            fire_z,
                            suppress,
                            context_add: novelty,
                            ..default.clone()
                        };
                        if !season {
                            c.season_slots = 0;
                            c.week_slots = 0;
                        }
                        if !long {
                            c.scale_alpha = 0.01;
                            c.likelihood_long_alpha = 0.001;
                            c.likelihood_min_count = 150;
                            c.context_start = 150;
                        }
                        if c != default {
                            out.push(Candidate::scorer(c));
                        }
                    }
                }
            }
        }
    }
    out
}

/// The rolling z-score of each value against the previous `window` values,
/// mapped to `|z| / (|z| + 3)`; 0 until `ZSCORE_MIN` values are in.
pub fn zscore(values: &[f64], window: usize) -> Vec<f64> {
    let window = window.max(2);
    let mut out = Vec::with_capacity(values.len());
    let (mut sum, mut sq) = (0.0f64, 0.0f64);
    for (i, &x) in values.iter().enumerate() {
        let n = i.min(window);
        let score = if n >= ZSCORE_MIN.min(window) {
            let mean = sum / n as f64;
            let var = (sq / n as f64 - mean * mean).max(0.0);
            let floor = 1e-9 + 1e-6 * mean.abs();
            let z = (x - mean).abs() / var.sqrt().max(floor);
            z / (z + ZSCORE_ALARM)
        } else {
            0.0
        };
        out.push(score);
        sum += x;
        sq += x * x;
        if i >= window {
            let old = values[i - window];
            sum -= old;
            sq -= old * old;
        }
        // Re-sum now and then so rounding does not accumulate.
        if i % 4096 == 4095 {
            let from = (i + 1).saturating_sub(window);
            sum = values[from..=i].iter().sum();
            sq = values[from..=i].iter().map(|v| v * v).sum();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_is_valid_distinct_and_starts_with_the_defaults() {
        let g = grid(GridKind::Full);
        assert_eq!(g.len(), 48);
        assert_eq!(g[0].config.as_ref(), Some(&AnomalyConfig::default()));
        assert_eq!(g[0].name, "fire6/hold150/season/novelty5/long");
        let mut names: Vec<&str> = g.iter().map(|c| c.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 48, "names are distinct");
        for c in &g {
            c.config.as_ref().unwrap().validate().unwrap();
        }
    }

    #[test]
    fn zscore_flags_a_spike_and_ignores_a_flat_series() {
        let mut v: Vec<f64> = (0..400).map(|i| 10.0 + (i % 5) as f64 * 0.1).collect();
        v[350] = 20.0;
        let s = zscore(&v, 300);
        assert_eq!(s[10], 0.0, "warming up");
        assert!(s[350] > 0.9, "{}", s[350]);
        assert!(s[349] < 0.5, "{}", s[349]);
        let flat = zscore(&[0.0; 100], 50);
        assert!(flat.iter().all(|&x| x == 0.0));
        // The window forgets: after 300 more samples the spike is out.
        let mut w = vec![1.0; 1000];
        for (i, x) in w.iter_mut().enumerate() {
            *x += (i % 2) as f64;
        }
        w[100] = 1000.0;
        let s = zscore(&w, 300);
        assert!(s[500] < 0.5, "{}", s[500]);
        assert!(s[300] < 0.2, "spike inflates the spread: {}", s[300]);
    }
}
