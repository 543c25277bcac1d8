//! Rule kinds, their alerting direction, and seed 002's saturation logic.
//!
//! | kind | alerts on | note |
//! |---|---|---|
//! | `business_volume` | drops | a rise ("overflow", 溢出) is normal |
//! | `error_count`, `latency` | rises | |
//! | `saturation` | rises | level from capacity and rise counts, see [`saturation_level`] |
//! | `resource` | both (configurable) | |
//!
//! ```
//! use argus_detect::kind::{Direction, Kind, Side};
//!
//! assert_eq!(Kind::BusinessVolume.default_direction(), Direction::Down);
//! assert!(Direction::Down.alerts_on(Side::Below));
//! assert!(!Direction::Down.alerts_on(Side::Above)); // overflow is normal
//! assert!(Kind::Resource.default_direction().alerts_on(Side::Above));
//! ```

use serde::{Deserialize, Serialize};

/// What a dynamic rule watches; decides the default direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Business volume (transactions, messages): alerts on drops only.
    BusinessVolume,
    /// Error counts: alerts on rises only.
    ErrorCount,
    /// Latency / average duration: alerts on rises only.
    Latency,
    /// Memory, threads, data-source pools: rises only, with the saturation rules.
    Saturation,
    /// Generic resource usage: both directions unless overridden.
    #[default]
    Resource,
}

impl Kind {
    /// The direction a rule of this kind alerts on unless the rule overrides it.
    pub fn default_direction(self) -> Direction {
        match self {
            Kind::BusinessVolume => Direction::Down,
            Kind::ErrorCount | Kind::Latency | Kind::Saturation => Direction::Up,
            Kind::Resource => Direction::Both,
        }
    }

    /// The snake_case name used in configs and CSVs.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::BusinessVolume => "business_volume",
            Kind::ErrorCount => "error_count",
            Kind::Latency => "latency",
            Kind::Saturation => "saturation",
            Kind::Resource => "resource",
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = crate::DetectError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "business_volume" => Kind::BusinessVolume,
            "error_count" => Kind::ErrorCount,
            "latency" => Kind::Latency,
            "saturation" => Kind::Saturation,
            "resource" => Kind::Resource,
            _ => {
                return Err(crate::DetectError::Config(format!(
                    "unknown kind {s:?} (expected business_volume, error_count, latency, saturation or resource)"
                )))
            }
        })
    }
}

/// Which departures from the band alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Only values below the lower bound.
    Down,
    /// Only values above the upper bound.
    Up,
    /// Both.
    Both,
}

impl Direction {
    /// Whether a value on `side` of the band may alert.
    pub fn alerts_on(self, side: Side) -> bool {
        matches!(
            (self, side),
            (Direction::Down | Direction::Both, Side::Below)
                | (Direction::Up | Direction::Both, Side::Above)
        )
    }
}

/// Where a value lies relative to the band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Below the lower bound.
    Below,
    /// Within `[lower, upper]`.
    Inside,
    /// Above the upper bound.
    Above,
}

/// Window of seed 002's saturation rules: five minutes.
pub const SATURATION_WINDOW_MS: i64 = 5 * 60_000;

/// Rises remembered for the saturation rules; enough to tell "more than 5".
const RISE_SLOTS: usize = 8;

/// Counts rises (a sample strictly above the previous one) within the last
/// five minutes. Fixed size (8 timestamps + last value), no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RiseCounter {
    rises: [i64; RISE_SLOTS],
    next: u8,
    last: Option<f64>,
}

impl Default for RiseCounter {
    fn default() -> Self {
        Self {
            rises: [i64::MIN; RISE_SLOTS],
            next: 0,
            last: None,
        }
    }
}

impl RiseCounter {
    /// Records a sample and returns the number of rises in
    /// `(ts_ms − 5 min, ts_ms]`, this sample's included (at most 8).
    pub fn observe(&mut self, ts_ms: i64, value: f64) -> u32 {
        if let Some(prev) = self.last {
            if value > prev {
                self.rises[usize::from(self.next) % RISE_SLOTS] = ts_ms;
                self.next = ((usize::from(self.next) + 1) % RISE_SLOTS) as u8;
            }
        }
        self.last = Some(value);
        let from = ts_ms.saturating_sub(SATURATION_WINDOW_MS);
        self.rises
            .iter()
            .filter(|&&t| t != i64::MIN && t > from && t <= ts_ms)
            .count() as u32
    }
}

/// Saturation parameters (seed 002).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SaturationConfig {
    /// `capacity`: the resource's capacity (e.g. max pool size, memory limit),
    /// in the series' unit. Default: none, so the 70 % rule never applies.
    pub capacity: Option<f64>,
    /// `capacity_fraction`: the fraction of capacity of the first rule. Default `0.7`.
    pub capacity_fraction: f64,
}

impl Default for SaturationConfig {
    fn default() -> Self {
        Self {
            capacity: None,
            capacity_fraction: 0.7,
        }
    }
}

/// Seed 002's saturation level, applied after the AI band has alerted.
///
/// - below the lower bound or inside the band: 0 (no alert);
/// - above the upper bound with `n_level ≥ 1` (the AI alert):
///   - value above 70 % of capacity and at least 2 rises in 5 minutes: 3;
///   - otherwise more than 5 rises: 3; more than 3 rises: 2;
///   - otherwise 1: the AI band alerted but saturation is not building up
///     (the seed leaves this case open; we keep the alert at its lowest level).
pub fn saturation_level(
    side: Side,
    n_level: u8,
    value: f64,
    rises_5m: u32,
    cfg: &SaturationConfig,
) -> u8 {
    if side != Side::Above || n_level == 0 {
        return 0;
    }
    let over_capacity = cfg
        .capacity
        .is_some_and(|c| c.is_finite() && value > cfg.capacity_fraction * c);
    if (over_capacity && rises_5m >= 2) || rises_5m > 5 {
        3
    } else if rises_5m > 3 {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_per_kind() {
        use Side::*;
        let bv = Kind::BusinessVolume.default_direction();
        assert!(bv.alerts_on(Below) && !bv.alerts_on(Above) && !bv.alerts_on(Inside));
        for k in [Kind::ErrorCount, Kind::Latency, Kind::Saturation] {
            let d = k.default_direction();
            assert!(d.alerts_on(Above) && !d.alerts_on(Below), "{k:?}");
        }
        let r = Kind::Resource.default_direction();
        assert!(r.alerts_on(Above) && r.alerts_on(Below) && !r.alerts_on(Inside));
    }

    #[test]
    fn kind_parse_roundtrip() {
        for k in [
            Kind::BusinessVolume,
            Kind::ErrorCount,
            Kind::Latency,
            Kind::Saturation,
            Kind::Resource,
        ] {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), k);
        }
        assert!("volume".parse::<Kind>().is_err());
    }

    #[test]
    fn rise_counter_window() {
        let mut c = RiseCounter::default();
        assert_eq!(c.observe(0, 1.0), 0);
        assert_eq!(c.observe(60_000, 2.0), 1);
        assert_eq!(c.observe(120_000, 2.0), 1, "equal is not a rise");
        assert_eq!(c.observe(180_000, 1.0), 1, "a fall is not a rise");
        assert_eq!(c.observe(240_000, 3.0), 2);
        // the rise at 60 s leaves the window at 360 s
        assert_eq!(c.observe(360_000, 2.0), 1);
        let mut c = RiseCounter::default();
        for i in 0..20 {
            c.observe(i * 10_000, i as f64);
        }
        assert_eq!(c.observe(200_000, 100.0), 8, "saturates at the slot count");
    }

    #[test]
    fn saturation_branches() {
        let cap = SaturationConfig {
            capacity: Some(100.0),
            ..Default::default()
        };
        // below the lower bound: never alerts
        assert_eq!(saturation_level(Side::Below, 4, 10.0, 9, &cap), 0);
        // no AI alert (inside, or N within T2): nothing
        assert_eq!(saturation_level(Side::Inside, 0, 90.0, 9, &cap), 0);
        assert_eq!(saturation_level(Side::Above, 0, 90.0, 9, &cap), 0);
        // above 70 % of capacity and ≥ 2 rises: level 3
        assert_eq!(saturation_level(Side::Above, 1, 71.0, 2, &cap), 3);
        // above 70 % but only 1 rise: falls to the rise-count rules → 1
        assert_eq!(saturation_level(Side::Above, 1, 71.0, 1, &cap), 1);
        // exactly 70 % is not "above"
        assert_eq!(saturation_level(Side::Above, 1, 70.0, 2, &cap), 1);
        // under 70 %: > 3 rises → 2, > 5 → 3
        assert_eq!(saturation_level(Side::Above, 1, 50.0, 3, &cap), 1);
        assert_eq!(saturation_level(Side::Above, 1, 50.0, 4, &cap), 2);
        assert_eq!(saturation_level(Side::Above, 1, 50.0, 5, &cap), 2);
        assert_eq!(saturation_level(Side::Above, 1, 50.0, 6, &cap), 3);
        // no capacity configured: only the rise-count rules
        let none = SaturationConfig::default();
        assert_eq!(saturation_level(Side::Above, 2, 1e9, 2, &none), 1);
        assert_eq!(saturation_level(Side::Above, 2, 1e9, 4, &none), 2);
    }
}
