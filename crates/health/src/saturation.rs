//! Seed 004's service saturation, formulas 1–3:
//!
//! - ideal ability `Ability(D) = Σ Vᵢ·Kᵢ` with `Σ Kᵢ = 1` (1),
//! - actual ability `Ability(R) = L / T` (2),
//! - saturation `Satur(s) = (L/T) / Σ(Vᵢ·Kᵢ)` (3),
//!
//! classified as overloaded (above the upper bound), starved (below the lower
//! bound) or normal.
//!
//! ```
//! use argus_health::saturation::{classify, saturation, SaturationClass};
//! use argus_health::Dimension;
//! let dims = [
//!     Dimension { name: "cpu".into(), capacity: 4.0, weight: 0.5 },
//!     Dimension { name: "memory".into(), capacity: 8.0, weight: 0.5 },
//! ];
//! // 540 requests in 60 s against an ideal 6 per second.
//! let s = saturation(540.0 / 60.0, &dims).unwrap();
//! assert_eq!(s, 1.5);
//! assert_eq!(classify(s, 0.1, 0.9), SaturationClass::Overloaded);
//! ```

use crate::config::Dimension;

/// The saturation classes of seed 004.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaturationClass {
    /// Above `overloaded_above`.
    Overloaded,
    /// Between the bounds (inclusive).
    Normal,
    /// Below `starved_below`.
    Starved,
}

impl SaturationClass {
    /// `overloaded`, `normal` or `starved`: the status value.
    pub fn as_str(self) -> &'static str {
        match self {
            SaturationClass::Overloaded => "overloaded",
            SaturationClass::Normal => "normal",
            SaturationClass::Starved => "starved",
        }
    }
}

/// Formula 1: the ideal ability `Σ Vᵢ·Kᵢ`.
pub fn ideal_ability(dims: &[Dimension]) -> f64 {
    dims.iter().map(|d| d.capacity * d.weight).sum()
}

/// Formula 3: `load_rate / Σ Vᵢ·Kᵢ`, where `load_rate` is formula 2's `L/T`.
/// `None` when the load rate is not a finite number or the ideal ability is
/// not positive (so no class can be given).
pub fn saturation(load_rate: f64, dims: &[Dimension]) -> Option<f64> {
    let ideal = ideal_ability(dims);
    if !(load_rate.is_finite() && ideal.is_finite() && ideal > 0.0) {
        return None;
    }
    Some(load_rate / ideal)
}

/// Classifies a saturation value against the configured bounds.
pub fn classify(s: f64, starved_below: f64, overloaded_above: f64) -> SaturationClass {
    if s > overloaded_above {
        SaturationClass::Overloaded
    } else if s < starved_below {
        SaturationClass::Starved
    } else {
        SaturationClass::Normal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dim(c: f64, w: f64) -> Dimension {
        Dimension {
            name: "d".into(),
            capacity: c,
            weight: w,
        }
    }

    #[test]
    fn formula_weights_each_capacity() {
        let dims = [dim(10.0, 0.2), dim(100.0, 0.3), dim(4.0, 0.5)];
        // 10·0.2 + 100·0.3 + 4·0.5 = 2 + 30 + 2 = 34
        assert!((ideal_ability(&dims) - 34.0).abs() < 1e-12);
        assert!((saturation(17.0, &dims).unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(saturation(0.0, &dims), Some(0.0));
    }

    #[test]
    fn undefined_inputs_give_no_value() {
        assert_eq!(saturation(f64::NAN, &[dim(1.0, 1.0)]), None);
        assert_eq!(saturation(f64::INFINITY, &[dim(1.0, 1.0)]), None);
        assert_eq!(saturation(1.0, &[dim(1.0, 0.0)]), None);
        assert_eq!(saturation(1.0, &[]), None);
    }

    #[test]
    fn classes_have_strict_bounds() {
        assert_eq!(classify(0.95, 0.1, 0.9), SaturationClass::Overloaded);
        assert_eq!(classify(0.9, 0.1, 0.9), SaturationClass::Normal);
        assert_eq!(classify(0.5, 0.1, 0.9), SaturationClass::Normal);
        assert_eq!(classify(0.1, 0.1, 0.9), SaturationClass::Normal);
        assert_eq!(classify(0.05, 0.1, 0.9), SaturationClass::Starved);
        assert_eq!(classify(0.0, 0.1, 0.9), SaturationClass::Starved);
        assert_eq!(SaturationClass::Starved.as_str(), "starved");
    }
}
