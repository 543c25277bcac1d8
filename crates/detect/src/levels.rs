//! Seed 002's alert levels.
//!
//! Beyond a bound, the relative excess is `N = |value − bound| / |bound|`.
//! `N ≤ T2` is tolerated (level 0); otherwise `N ∈ [T2 + i·s, T2 + (i+1)·s)`
//! gives level `i + 1` (so `N = T2` itself is still tolerated), capped at
//! [`LevelConfig::max_level`] (at most 4).
//!
//! **Bound at or near zero.** `|bound|` alone would make `N` infinite (bound 0)
//! or explode on tiny bounds, so the denominator is
//! `max(|bound|, floor)` where `floor` is a scale the caller passes: the
//! detector uses the larger of half the band width and the series' robust
//! spread (1.4826·MAD), and never less than [`MIN_SCALE`]. For a bound far from zero
//! the floor is smaller than `|bound|` and the seed's formula holds exactly;
//! for a bound near zero, `N` measures the excess in band widths instead.
//!
//! ```
//! use argus_detect::levels::{deviation, LevelConfig};
//!
//! let cfg = LevelConfig::default(); // T2 = 0.1, step 0.2, cap 4
//! // lower bound 100, value 65: N = 0.35, in [0.3, 0.5) → level 2
//! let n = deviation(65.0, 100.0, 0.0);
//! assert!((n - 0.35).abs() < 1e-12);
//! assert_eq!(cfg.level(n), 2);
//! assert_eq!(cfg.level(0.1), 0); // N = T2 is tolerated
//! assert_eq!(cfg.level(5.0), 4); // capped
//! // bound 0: the caller's floor (band width 2.0) keeps N finite
//! assert_eq!(deviation(3.0, 0.0, 2.0), 1.5);
//! ```

use serde::{Deserialize, Serialize};

use crate::DetectError;

/// The smallest denominator `N` ever uses, whatever the bound and floor.
pub const MIN_SCALE: f64 = 1e-9;

/// Tolerance for float noise at level boundaries (`0.1 + 0.2` is not `0.3`).
const EDGE_EPS: f64 = 1e-9;

/// The level rule's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LevelConfig {
    /// `t2`: tolerated relative excess beyond the bound. Default `0.1`; must be
    /// in `[0, 0.4)` (seed 002: "T2 … 应小于0.4"). 0.1 tolerates a value 10 %
    /// beyond a bound that is already a high quantile, then levels start at
    /// 10 %, 30 %, 50 % and 70 % beyond it: level 4 is reached before the
    /// value has fallen to a quarter of the lower bound.
    pub t2: f64,
    /// `step`: width of one level in `N`. Default `0.2` (seed 002's 阶梯系数); > 0.
    pub step: f64,
    /// `max_level`: highest level. Default `4` (the seed's maximum); 1 to 4.
    pub max_level: u8,
}

impl Default for LevelConfig {
    fn default() -> Self {
        Self {
            t2: 0.1,
            step: 0.2,
            max_level: 4,
        }
    }
}

impl LevelConfig {
    /// Checks the seed's constraints; the error names the offending key.
    pub fn validate(&self) -> Result<(), DetectError> {
        if !(self.t2.is_finite() && (0.0..0.4).contains(&self.t2)) {
            return Err(DetectError::Config(format!(
                "t2 must be in [0, 0.4), got {}",
                self.t2
            )));
        }
        if !(self.step.is_finite() && self.step > 0.0) {
            return Err(DetectError::Config(format!(
                "step must be > 0, got {}",
                self.step
            )));
        }
        if !(1..=4).contains(&self.max_level) {
            return Err(DetectError::Config(format!(
                "max_level must be 1 to 4, got {}",
                self.max_level
            )));
        }
        Ok(())
    }

    /// The level for a relative excess `n` (0 = tolerated / normal).
    /// NaN gives 0.
    pub fn level(&self, n: f64) -> u8 {
        if n.is_nan() || n <= self.t2 {
            return 0;
        }
        let i = ((n - self.t2) / self.step + EDGE_EPS).floor();
        let lvl = if i.is_finite() { i + 1.0 } else { f64::MAX };
        lvl.min(f64::from(self.max_level)).max(1.0) as u8
    }
}

/// `N = |value − bound| / max(|bound|, floor, MIN_SCALE)`; see the module
/// header for why the floor exists.
pub fn deviation(value: f64, bound: f64, floor: f64) -> f64 {
    let floor = if floor.is_finite() { floor.abs() } else { 0.0 };
    let denom = bound.abs().max(floor).max(MIN_SCALE);
    (value - bound).abs() / denom
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_default() {
        let c = LevelConfig::default();
        assert_eq!(c.level(0.0), 0);
        assert_eq!(c.level(0.0999), 0);
        assert_eq!(c.level(0.1), 0, "N = T2 is tolerated");
        assert_eq!(c.level(0.1000001), 1);
        assert_eq!(c.level(0.2999), 1);
        assert_eq!(c.level(0.1 + 0.2), 2, "N = T2 + s opens level 2");
        assert_eq!(c.level(0.4999), 2);
        assert_eq!(c.level(0.5), 3);
        assert_eq!(c.level(0.6999), 3);
        assert_eq!(c.level(0.7), 4);
        assert_eq!(c.level(0.9), 4, "capped at 4");
        assert_eq!(c.level(1e9), 4);
        assert_eq!(c.level(f64::INFINITY), 4);
        assert_eq!(c.level(f64::NAN), 0);
    }

    #[test]
    fn boundaries_custom() {
        let c = LevelConfig {
            t2: 0.3,
            step: 0.5,
            max_level: 2,
        };
        c.validate().unwrap();
        assert_eq!(c.level(0.3), 0);
        assert_eq!(c.level(0.31), 1);
        assert_eq!(c.level(0.8), 2);
        assert_eq!(c.level(10.0), 2);
    }

    #[test]
    fn validation_names_key() {
        let bad = LevelConfig {
            t2: 0.4,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("t2"));
        let bad = LevelConfig {
            step: 0.0,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("step"));
        let bad = LevelConfig {
            max_level: 5,
            ..Default::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max_level"));
        assert!(LevelConfig::default().validate().is_ok());
    }

    #[test]
    fn deviation_and_zero_bound() {
        assert!((deviation(65.0, 100.0, 1.0) - 0.35).abs() < 1e-12);
        assert!((deviation(130.0, 100.0, 1.0) - 0.3).abs() < 1e-12);
        // negative bound: |bound| is used
        assert!((deviation(-130.0, -100.0, 0.0) - 0.3).abs() < 1e-12);
        // bound 0: the floor takes over
        assert_eq!(deviation(4.0, 0.0, 2.0), 2.0);
        // bound 0 and no floor: still finite
        assert!(deviation(1.0, 0.0, 0.0).is_finite());
        assert!(deviation(1.0, 0.0, f64::NAN).is_finite());
    }
}
