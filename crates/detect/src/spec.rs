//! The dynamic-rule spec: everything a series' detector and trainer need,
//! as a serde struct that rejects unknown keys. Every key is optional.
//!
//! ```
//! use argus_detect::spec::RuleSpec;
//!
//! let spec: RuleSpec = serde_json::from_str(r#"{"kind":"business_volume","period":"month","t2":0.2}"#).unwrap();
//! spec.validate().unwrap();
//! assert!(serde_json::from_str::<RuleSpec>(r#"{"kidn":"latency"}"#).is_err());
//! ```

use serde::{Deserialize, Serialize};

use crate::anomaly::AnomalyConfig;
use crate::baseline::calendar::{days_from_civil, parse_date, CalendarSpec};
use crate::baseline::BandConfig;
use crate::kind::{Direction, Kind, SaturationConfig};
use crate::levels::LevelConfig;
use crate::period::PeriodSpec;
use crate::DetectError;

/// Which baseline algorithm a rule uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Chosen by backtest on the series' own history.
    #[default]
    Auto,
    /// Moving average with robust spread.
    Ma,
    /// Kernel density per phase.
    Kde,
    /// Day profiles by calendar class.
    DataCluster,
    /// Holt-Winters.
    HoltWinters,
    /// The robust short-history model (only ever reported, never declared).
    ColdStart,
}

impl Algorithm {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Auto => "auto",
            Algorithm::Ma => "ma",
            Algorithm::Kde => "kde",
            Algorithm::DataCluster => "data_cluster",
            Algorithm::HoltWinters => "holt_winters",
            Algorithm::ColdStart => "cold_start",
        }
    }
}

impl std::str::FromStr for Algorithm {
    type Err = DetectError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "auto" => Algorithm::Auto,
            "ma" => Algorithm::Ma,
            "kde" => Algorithm::Kde,
            "data_cluster" => Algorithm::DataCluster,
            "holt_winters" => Algorithm::HoltWinters,
            _ => {
                return Err(DetectError::Config(format!(
                    "unknown algorithm {s:?} (expected auto, ma, kde, data_cluster or holt_winters)"
                )))
            }
        })
    }
}

/// A dynamic rule's detection settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuleSpec {
    /// `kind`: what the series is; sets the direction. Default `resource`.
    pub kind: Kind,
    /// `direction`: `down`, `up` or `both`, overriding the kind's. Default: the kind's.
    pub direction: Option<Direction>,
    /// `period`: `auto`, `none`, `day`, `week` or `month`. Default `auto`.
    pub period: PeriodSpec,
    /// `algorithm`: `auto`, `ma`, `kde`, `data_cluster`, `holt_winters`. Default `auto`.
    pub algorithm: Algorithm,
    /// `t2`: tolerated relative excess, `[0, 0.4)`. Default `0.1`.
    pub t2: f64,
    /// `step`: level step. Default `0.2`.
    pub step: f64,
    /// `max_level`: highest level, 1–4. Default `4`.
    pub max_level: u8,
    /// `capacity`: saturation capacity in the series' unit. Default none.
    pub capacity: Option<f64>,
    /// `capacity_fraction`: saturation's capacity fraction. Default `0.7`.
    pub capacity_fraction: f64,
    /// `min_points`: points before the first training. Default `10080`.
    pub min_points: usize,
    /// `sigmas`: band half-width in robust σ (MA, DataCluster, Holt-Winters). Default `4.0`.
    pub sigmas: f64,
    /// `kde_quantile`: KDE's lower density quantile, `(0, 0.5)`. Default `0.005`.
    pub kde_quantile: f64,
    /// `kde_margin`: KDE margin beyond the quantiles, in σ. Default `0.5`.
    pub kde_margin: f64,
    /// `bin_minutes`: phase bin width of periodic models. Default `15`.
    pub bin_minutes: u32,
    /// `ma_window`: MA averaging window, points. Default `30`.
    pub ma_window: usize,
    /// `cold_start_sigmas`: cold-start band half-width in σ. Default `5.0`.
    pub cold_start_sigmas: f64,
    /// `cold_start_min_points`: points before cold start judges at all. Default `10`.
    pub cold_start_min_points: usize,
    /// `utc_offset_minutes`: local time offset for calendars and phases. Default `0`.
    pub utc_offset_minutes: i32,
    /// `month_start_days`: first days of a month classed month start. Default `2`.
    pub month_start_days: u32,
    /// `month_end_days`: last days of a month classed month end. Default `2`.
    pub month_end_days: u32,
    /// `special_days`: `YYYY-MM-DD` days with their own cluster. Default none.
    pub special_days: Vec<String>,
    /// `cluster_min_days`: days a special day (holiday) class needs for its own profile; until
    /// then it is judged as a Sunday. Default `2`.
    pub cluster_min_days: u32,
    /// `cluster_merge_sigmas`: a calendar class whose day profile lies closer than this to its
    /// base class's (mean over the day, in the base's robust σ) uses the base's. Default `0.5`.
    pub cluster_merge_sigmas: f64,
    /// `decay_half_life_days`: age at which a training point weighs half. Default `7`.
    pub decay_half_life_days: f64,
    /// `flagged_weight`: weight of points an earlier model flagged. Default `0.02`
    /// (low enough that a day-long incident in a two-week window stays below
    /// KDE's 0.5 % quantile).
    pub flagged_weight: f64,
    /// `holdout_fraction`: newest share of history used to backtest. Default `0.2`.
    pub holdout_fraction: f64,
    /// `anomaly`: runs the streaming anomaly scorer (`crate::anomaly`, the
    /// detector `argus eval nab` measures) beside the band; its keys are
    /// `AnomalyConfig`'s, `{}` for the defaults. When it reports a
    /// detection on the rule's alerting side, the sample is at least level
    /// 1, and stays so for `anomaly_hold_minutes`. Default: off.
    pub anomaly: Option<AnomalyConfig>,
    /// `anomaly_hold_minutes`: how long an anomaly the scorer reported keeps
    /// the level at 1 or more (its alert firing), as the scorer reports a
    /// sample, not an episode. Default `10`.
    pub anomaly_hold_minutes: u32,
}

impl Default for RuleSpec {
    fn default() -> Self {
        let l = LevelConfig::default();
        let b = BandConfig::default();
        Self {
            kind: Kind::default(),
            direction: None,
            period: PeriodSpec::Auto,
            algorithm: Algorithm::Auto,
            t2: l.t2,
            step: l.step,
            max_level: l.max_level,
            capacity: None,
            capacity_fraction: 0.7,
            min_points: 10_080,
            sigmas: b.sigmas,
            kde_quantile: b.kde_quantile,
            kde_margin: b.kde_margin,
            bin_minutes: 15,
            ma_window: 30,
            cold_start_sigmas: 5.0,
            cold_start_min_points: 10,
            utc_offset_minutes: 0,
            month_start_days: 2,
            month_end_days: 2,
            special_days: Vec::new(),
            cluster_min_days: 2,
            cluster_merge_sigmas: 0.5,
            decay_half_life_days: 7.0,
            flagged_weight: 0.02,
            holdout_fraction: 0.2,
            anomaly: None,
            anomaly_hold_minutes: 10,
        }
    }
}

fn check(ok: bool, key: &str, rule: &str, v: impl std::fmt::Display) -> Result<(), DetectError> {
    if ok {
        Ok(())
    } else {
        Err(DetectError::Config(format!(
            "{key} must be {rule}, got {v}"
        )))
    }
}

impl RuleSpec {
    /// Checks every key's range; the error names the key.
    pub fn validate(&self) -> Result<(), DetectError> {
        self.levels().validate()?;
        check(
            self.algorithm != Algorithm::ColdStart,
            "algorithm",
            "a trainable algorithm",
            "cold_start",
        )?;
        check(
            self.min_points >= 16,
            "min_points",
            ">= 16",
            self.min_points,
        )?;
        check(
            self.sigmas.is_finite() && self.sigmas > 0.0,
            "sigmas",
            "> 0",
            self.sigmas,
        )?;
        check(
            self.kde_quantile > 0.0 && self.kde_quantile < 0.5,
            "kde_quantile",
            "in (0, 0.5)",
            self.kde_quantile,
        )?;
        check(
            self.kde_margin.is_finite() && self.kde_margin >= 0.0,
            "kde_margin",
            ">= 0",
            self.kde_margin,
        )?;
        check(
            (1..=1440).contains(&self.bin_minutes),
            "bin_minutes",
            "1 to 1440",
            self.bin_minutes,
        )?;
        check(self.ma_window >= 1, "ma_window", ">= 1", self.ma_window)?;
        check(
            self.cold_start_sigmas.is_finite() && self.cold_start_sigmas > 0.0,
            "cold_start_sigmas",
            "> 0",
            self.cold_start_sigmas,
        )?;
        check(
            (1..=crate::baseline::robust::COLD_WINDOW).contains(&self.cold_start_min_points),
            "cold_start_min_points",
            "1 to 64",
            self.cold_start_min_points,
        )?;
        check(
            self.utc_offset_minutes.abs() <= 18 * 60,
            "utc_offset_minutes",
            "within ±1080",
            self.utc_offset_minutes,
        )?;
        check(
            self.month_start_days <= 10,
            "month_start_days",
            "<= 10",
            self.month_start_days,
        )?;
        check(
            self.month_end_days <= 10,
            "month_end_days",
            "<= 10",
            self.month_end_days,
        )?;
        check(
            self.decay_half_life_days.is_finite() && self.decay_half_life_days > 0.0,
            "decay_half_life_days",
            "> 0",
            self.decay_half_life_days,
        )?;
        check(
            (0.0..=1.0).contains(&self.flagged_weight),
            "flagged_weight",
            "in [0, 1]",
            self.flagged_weight,
        )?;
        check(
            self.holdout_fraction > 0.0 && self.holdout_fraction < 0.9,
            "holdout_fraction",
            "in (0, 0.9)",
            self.holdout_fraction,
        )?;
        check(
            self.capacity.is_none_or(|c| c.is_finite() && c > 0.0),
            "capacity",
            "> 0",
            format!("{:?}", self.capacity),
        )?;
        check(
            self.capacity_fraction > 0.0 && self.capacity_fraction <= 1.0,
            "capacity_fraction",
            "in (0, 1]",
            self.capacity_fraction,
        )?;
        check(
            self.anomaly_hold_minutes <= 1440,
            "anomaly_hold_minutes",
            "<= 1440",
            self.anomaly_hold_minutes,
        )?;
        if let Some(a) = &self.anomaly {
            a.validate()
                .map_err(|e| DetectError::Config(format!("anomaly.{e}")))?;
        }
        self.calendar()?;
        Ok(())
    }

    /// The level rule.
    pub fn levels(&self) -> LevelConfig {
        LevelConfig {
            t2: self.t2,
            step: self.step,
            max_level: self.max_level,
        }
    }

    /// The effective direction.
    pub fn direction(&self) -> Direction {
        self.direction.unwrap_or(self.kind.default_direction())
    }

    /// The saturation settings.
    pub fn saturation(&self) -> SaturationConfig {
        SaturationConfig {
            capacity: self.capacity,
            capacity_fraction: self.capacity_fraction,
        }
    }

    /// The band settings.
    pub fn band(&self) -> BandConfig {
        BandConfig {
            sigmas: self.sigmas,
            kde_quantile: self.kde_quantile,
            kde_margin: self.kde_margin,
            bin_ms: i64::from(self.bin_minutes) * 60_000,
        }
    }

    /// The calendar for DataCluster; fails on a bad special day.
    pub fn calendar(&self) -> Result<CalendarSpec, DetectError> {
        let mut special = Vec::with_capacity(self.special_days.len());
        for (i, d) in self.special_days.iter().enumerate() {
            let (y, m, dd) = parse_date(d)
                .map_err(|e| DetectError::Config(format!("special_days[{i}]: {e}")))?;
            special.push(days_from_civil(y, m, dd));
        }
        special.sort_unstable();
        special.dedup();
        Ok(CalendarSpec {
            utc_offset_min: self.utc_offset_minutes,
            month_start_days: self.month_start_days,
            month_end_days: self.month_end_days,
            special_days: special,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_errors_name_keys() {
        RuleSpec::default().validate().unwrap();
        let e = RuleSpec {
            t2: 0.5,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("t2"), "{e}");
        let e = RuleSpec {
            special_days: vec!["2024-13-01".into()],
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("special_days[0]"), "{e}");
        let e = RuleSpec {
            algorithm: Algorithm::ColdStart,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("algorithm"), "{e}");
    }

    #[test]
    fn direction_override() {
        let s = RuleSpec {
            kind: Kind::Resource,
            direction: Some(Direction::Up),
            ..Default::default()
        };
        assert_eq!(s.direction(), Direction::Up);
        let s: RuleSpec = serde_json::from_str(r#"{"kind":"latency"}"#).unwrap();
        assert_eq!(s.direction(), Direction::Up);
    }
}
