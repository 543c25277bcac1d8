//! DataCluster: day profiles clustered by calendar. Each day is classed
//! (special day, month start, month end, weekend, workday; see
//! [`CalendarSpec::class_of_day`]) and each class gets its own per-phase
//! band over the day. Classes seen on fewer than `min_days` days in training
//! fall back to the day's weekday class, and a class whose profile is within
//! `merge_tol` robust σ of the workday profile on average is merged into it,
//! so the model keeps only the clusters the data supports.
//!
//! ```
//! use argus_detect::baseline::calendar::{days_from_civil, CalendarSpec, DAY_MS};
//! use argus_detect::baseline::cluster::ClusterModel;
//! use argus_detect::baseline::{Baseline, BandConfig, TrainData};
//!
//! let cal = CalendarSpec { utc_offset_min: 0, month_start_days: 0, month_end_days: 0, special_days: vec![] };
//! let start = days_from_civil(2024, 1, 1) * DAY_MS; // a Monday
//! let ts: Vec<i64> = (0..14 * 96).map(|i| start + i * 900_000).collect();
//! // weekdays 100, weekends 20
//! let v: Vec<f64> = ts.iter().map(|&t| if cal.class_of(t) == argus_detect::baseline::calendar::DayClass::Weekend { 20.0 } else { 100.0 }).collect();
//! let m = ClusterModel::fit(&TrainData::new(&ts, &v, &vec![1.0; v.len()]), cal, 2, 0.5, &BandConfig::default());
//! let st = m.initial_state();
//! assert_eq!(m.band(start + 14 * DAY_MS + 3_600_000, &st).expected, 100.0); // Monday
//! assert_eq!(m.band(start + 19 * DAY_MS + 3_600_000, &st).expected, 20.0); // Saturday
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::calendar::{day_number, CalendarSpec, DayClass, DAY_MS};
use super::profile::{BinRule, Profile};
use super::{robust_scale, Band, BandConfig, Baseline, OnlineState, TrainData};

/// A trained DataCluster model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterModel {
    /// How days are classed.
    pub calendar: CalendarSpec,
    /// One day profile per kept class.
    pub profiles: Vec<(DayClass, Profile)>,
    /// Days seen per class in training (all classes, kept or not).
    pub days_seen: Vec<(DayClass, u32)>,
    /// Robust spread of the values.
    pub scale: f64,
}

impl ClusterModel {
    /// Fits on `data`. `min_days`: days a class needs to get its own
    /// profile; `merge_tol`: mean |Δ expected| (in robust σ) under which a
    /// class is merged into the workday profile.
    pub fn fit(
        data: &TrainData<'_>,
        calendar: CalendarSpec,
        min_days: u32,
        merge_tol: f64,
        cfg: &BandConfig,
    ) -> ClusterModel {
        let nb = Profile::bin_count(DAY_MS, cfg.bin_ms);
        let mut per_class: BTreeMap<DayClass, Vec<Vec<(f64, f64)>>> = BTreeMap::new();
        let mut days: BTreeMap<DayClass, BTreeSet<i64>> = BTreeMap::new();
        let off = i64::from(calendar.utc_offset_min) * 60_000;
        for i in 0..data.len() {
            let dn = day_number(data.ts[i], calendar.utc_offset_min);
            let class = calendar.class_of_day(dn);
            let phase = (data.ts[i] + off).rem_euclid(DAY_MS);
            let b = ((phase / cfg.bin_ms.max(1)) as usize).min(nb - 1);
            per_class
                .entry(class)
                .or_insert_with(|| vec![Vec::new(); nb])[b]
                .push((data.values[i], data.weights[i]));
            days.entry(class).or_default().insert(dn);
        }
        let scale = robust_scale(&data.pairs());
        let days_seen: Vec<(DayClass, u32)> =
            days.iter().map(|(c, d)| (*c, d.len() as u32)).collect();
        let mut profiles: Vec<(DayClass, Profile)> = Vec::new();
        let most_seen = days_seen.iter().max_by_key(|d| d.1).map(|d| d.0);
        for (class, bins) in per_class {
            let seen = days.get(&class).map_or(0, |d| d.len() as u32);
            // The most-seen class is always kept so there is something to fall back to.
            if seen < min_days && Some(class) != most_seen {
                continue;
            }
            let p = Profile::build(DAY_MS, cfg.bin_ms, bins, BinRule::Sigma(cfg.sigmas), false);
            profiles.push((class, p));
        }
        // Merge classes that look like workdays.
        if let Some(work) = profiles
            .iter()
            .find(|p| p.0 == DayClass::Workday)
            .map(|p| p.1.clone())
        {
            profiles.retain(|(c, p)| {
                if *c == DayClass::Workday || p.bins.len() != work.bins.len() {
                    return true;
                }
                let d: f64 = p
                    .bins
                    .iter()
                    .zip(&work.bins)
                    .map(|(a, b)| f64::from((a[0] - b[0]).abs()))
                    .sum::<f64>()
                    / p.bins.len().max(1) as f64;
                d > merge_tol * scale
            });
        }
        ClusterModel {
            calendar,
            profiles,
            days_seen,
            scale,
        }
    }

    /// The profile used for a day: its own class, else its weekday class,
    /// else workday, else whatever is there.
    fn profile_for(&self, ts_ms: i64) -> Option<&Profile> {
        let dn = day_number(ts_ms, self.calendar.utc_offset_min);
        let class = self.calendar.class_of_day(dn);
        let find = |c: DayClass| self.profiles.iter().find(|p| p.0 == c).map(|p| &p.1);
        find(class)
            .or_else(|| find(CalendarSpec::weekday_class(dn)))
            .or_else(|| find(DayClass::Workday))
            .or_else(|| self.profiles.first().map(|p| &p.1))
    }

    /// The classes that kept their own profile.
    pub fn clusters(&self) -> Vec<DayClass> {
        self.profiles.iter().map(|p| p.0).collect()
    }
}

impl Baseline for ClusterModel {
    fn initial_state(&self) -> OnlineState {
        OnlineState {
            level: 0.0,
            trend: 0.0,
        }
    }

    fn band(&self, ts_ms: i64, _st: &OnlineState) -> Band {
        let off = i64::from(self.calendar.utc_offset_min) * 60_000;
        match self.profile_for(ts_ms) {
            Some(p) => p.band_at(ts_ms + off),
            None => Band::OPEN,
        }
    }

    fn learn(&self, _value: f64, _band: &Band, _st: &mut OnlineState) {}

    fn scale(&self) -> f64 {
        self.scale
    }
}

#[cfg(test)]
mod tests {
    use super::super::calendar::days_from_civil;
    use super::*;

    #[test]
    fn sparse_class_falls_back_and_similar_class_merges() {
        let cal = CalendarSpec {
            utc_offset_min: 0,
            month_start_days: 1,
            month_end_days: 0,
            special_days: vec![],
        };
        let start = days_from_civil(2024, 1, 1) * DAY_MS;
        let ts: Vec<i64> = (0..21 * 96).map(|i| start + i * 900_000).collect();
        // month start (only 2024-01-01, 1 day) behaves like a workday
        let v: Vec<f64> = ts
            .iter()
            .map(|&t| {
                if cal.class_of(t) == DayClass::Weekend {
                    20.0
                } else {
                    100.0 + (t / 900_000 % 5) as f64
                }
            })
            .collect();
        let data = TrainData::new(&ts, &v, &[1.0; 21 * 96]);
        let m = ClusterModel::fit(&data, cal.clone(), 2, 0.5, &BandConfig::default());
        assert_eq!(m.clusters(), vec![DayClass::Workday, DayClass::Weekend]);
        let m1 = ClusterModel::fit(&data, cal, 1, 0.5, &BandConfig::default());
        assert_eq!(
            m1.clusters(),
            vec![DayClass::Workday, DayClass::Weekend],
            "month start merged into workday"
        );
    }
}
