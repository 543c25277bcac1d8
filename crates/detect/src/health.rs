//! Composite health: a performance index `P = f(CPU, memory, network)`, a
//! threshold `T` learned from P's history, and a class against the business
//! threshold `B`.
//!
//! - `P` is a weighted mean (default) or weighted geometric mean of the
//!   inputs, each first normalised to `[0, 1]` (CPU and memory as fractions,
//!   network as throughput / `network_capacity`). The geometric mean is the
//!   product `C·M·N` brought back to the inputs' scale.
//! - `T` is a quantile of P's history (default 1.0: the history's maximum;
//!   the caller bounds the history's length, so one past spike pins T only
//!   for that long).
//! - Class, as the alert policy `A = h(T, P, B)` defines it: **anomaly** if
//!   `P > T` and `T > B` (P beats its own history, which was already beyond
//!   what the business accepts); **warning** if `P > T` and `T ≤ B`;
//!   **normal** otherwise.
//!
//! ```
//! use argus_detect::health::{HealthConfig, HealthClass};
//!
//! let cfg = HealthConfig::default();
//! let history: Vec<f64> = (0..100).map(|i| 0.3 + 0.001 * i as f64).collect();
//! let t = cfg.threshold(&history).unwrap();
//! assert!((t - 0.399).abs() < 1e-9);
//! let p = cfg.index(0.95, 0.9, 5e7).unwrap();
//! assert_eq!(cfg.classify(p, t), HealthClass::Warning, "beyond its history, which was below B");
//! assert_eq!(cfg.classify(0.95, 0.85), HealthClass::Anomaly, "beyond a history already beyond B");
//! assert_eq!(cfg.classify(0.2, t), HealthClass::Normal);
//! ```

use serde::{Deserialize, Serialize};

use crate::baseline::stats::weighted_quantile;
use crate::DetectError;

/// How the inputs combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// Σ wᵢxᵢ / Σ wᵢ.
    #[default]
    WeightedMean,
    /// Π xᵢ^(wᵢ/Σw) (the seed multiplies C·M·N).
    WeightedProduct,
}

/// Composite health settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// `cpu_weight`: weight of CPU utilisation (0–1). Default `0.4`.
    pub cpu_weight: f64,
    /// `memory_weight`: weight of memory utilisation (0–1). Default `0.4`.
    pub memory_weight: f64,
    /// `network_weight`: weight of network throughput. Default `0.2`.
    pub network_weight: f64,
    /// `network_capacity`: throughput counted as 1.0, bytes/s. Default `1.25e8` (1 Gbit/s).
    pub network_capacity: f64,
    /// `combine`: `weighted_mean` or `weighted_product`. Default `weighted_mean`.
    pub combine: Combine,
    /// `threshold_quantile`: quantile of P's history used as T. Default `1.0`
    /// (the maximum).
    pub threshold_quantile: f64,
    /// `business_threshold`: B, in P's units (0–1). Default `0.8`.
    pub business_threshold: f64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            cpu_weight: 0.4,
            memory_weight: 0.4,
            network_weight: 0.2,
            network_capacity: 1.25e8,
            combine: Combine::WeightedMean,
            threshold_quantile: 1.0,
            business_threshold: 0.8,
        }
    }
}

/// Health class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthClass {
    /// P within its history (`P ≤ T`).
    Normal,
    /// P beyond its history, a history within the business threshold
    /// (`P > T`, `T ≤ B`).
    Warning,
    /// P beyond its history, a history already beyond the business
    /// threshold (`P > T`, `T > B`).
    Anomaly,
}

impl HealthConfig {
    /// Checks the settings; the error names the key.
    pub fn validate(&self) -> Result<(), DetectError> {
        for (k, w) in [
            ("cpu_weight", self.cpu_weight),
            ("memory_weight", self.memory_weight),
            ("network_weight", self.network_weight),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                return Err(DetectError::Config(format!("{k} must be >= 0, got {w}")));
            }
        }
        if self.cpu_weight + self.memory_weight + self.network_weight <= 0.0 {
            return Err(DetectError::Config("the health weights sum to 0".into()));
        }
        if !(self.network_capacity.is_finite() && self.network_capacity > 0.0) {
            return Err(DetectError::Config(format!(
                "network_capacity must be > 0, got {}",
                self.network_capacity
            )));
        }
        if !(0.5..=1.0).contains(&self.threshold_quantile) {
            return Err(DetectError::Config(format!(
                "threshold_quantile must be in [0.5, 1], got {}",
                self.threshold_quantile
            )));
        }
        if !self.business_threshold.is_finite() {
            return Err(DetectError::Config(
                "business_threshold must be finite".into(),
            ));
        }
        Ok(())
    }

    /// P from CPU and memory fractions (0–1) and network bytes/s. Inputs
    /// are clamped to `[0, 1]` after normalising; non-finite input is an error.
    pub fn index(&self, cpu: f64, memory: f64, network_bps: f64) -> Result<f64, DetectError> {
        self.validate()?;
        let xs = [
            ("cpu", cpu, self.cpu_weight),
            ("memory", memory, self.memory_weight),
            (
                "network",
                network_bps / self.network_capacity,
                self.network_weight,
            ),
        ];
        if let Some((name, v, _)) = xs.iter().find(|x| !x.1.is_finite()) {
            return Err(DetectError::Input(format!("health input {name} is {v}")));
        }
        let wsum: f64 = xs.iter().map(|x| x.2).sum();
        Ok(match self.combine {
            Combine::WeightedMean => {
                xs.iter().map(|x| x.1.clamp(0.0, 1.0) * x.2).sum::<f64>() / wsum
            }
            Combine::WeightedProduct => xs
                .iter()
                .map(|x| x.1.clamp(0.0, 1.0).powf(x.2 / wsum))
                .product(),
        })
    }

    /// T from a history of P (non-finite entries skipped).
    pub fn threshold(&self, history: &[f64]) -> Result<f64, DetectError> {
        let mut v: Vec<(f64, f64)> = history
            .iter()
            .filter(|x| x.is_finite())
            .map(|&x| (x, 1.0))
            .collect();
        if v.is_empty() {
            return Err(DetectError::Input(
                "health threshold needs a non-empty history".into(),
            ));
        }
        Ok(weighted_quantile(&mut v, self.threshold_quantile))
    }

    /// The class of `p` against the learned `t` and the business threshold.
    pub fn classify(&self, p: f64, t: f64) -> HealthClass {
        if p <= t {
            HealthClass::Normal
        } else if t > self.business_threshold {
            HealthClass::Anomaly
        } else {
            HealthClass::Warning
        }
    }
}

impl HealthClass {
    /// `normal`, `warning` or `anomaly`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthClass::Normal => "normal",
            HealthClass::Warning => "warning",
            HealthClass::Anomaly => "anomaly",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_mean_and_product() {
        let c = HealthConfig::default();
        assert!((c.index(0.5, 0.5, 0.625e8).unwrap() - 0.5).abs() < 1e-12);
        assert!(
            (c.index(2.0, 1.0, 1e12).unwrap() - 1.0).abs() < 1e-12,
            "clamped"
        );
        let p = HealthConfig {
            combine: Combine::WeightedProduct,
            ..Default::default()
        };
        assert!((p.index(0.25, 0.25, 0.25 * 1.25e8).unwrap() - 0.25).abs() < 1e-12);
        assert!(c
            .index(f64::NAN, 0.1, 0.0)
            .unwrap_err()
            .to_string()
            .contains("cpu"));
    }

    #[test]
    fn threshold_and_classes() {
        let c = HealthConfig::default();
        let h: Vec<f64> = (0..=100).map(|i| i as f64 / 200.0).collect(); // 0 … 0.5
        let t = c.threshold(&h).unwrap();
        assert!((t - 0.5).abs() < 1e-9, "the maximum: {t}");
        let q99 = HealthConfig {
            threshold_quantile: 0.99,
            ..Default::default()
        };
        assert!((q99.threshold(&h).unwrap() - 0.495).abs() < 1e-9);
        assert_eq!(c.classify(0.3, t), HealthClass::Normal);
        assert_eq!(
            c.classify(0.5, t),
            HealthClass::Normal,
            "at T is not beyond"
        );
        assert_eq!(
            c.classify(0.6, t),
            HealthClass::Warning,
            "beyond T, T within B"
        );
        assert_eq!(
            c.classify(0.95, 0.9),
            HealthClass::Anomaly,
            "beyond T, T beyond B"
        );
        assert_eq!(
            c.classify(0.85, 0.95),
            HealthClass::Normal,
            "beyond B alone"
        );
        assert!(c.threshold(&[]).is_err());
        let bad = HealthConfig {
            cpu_weight: -1.0,
            ..Default::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("cpu_weight"));
    }
}
