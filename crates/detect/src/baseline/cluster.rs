//! DataCluster: day profiles clustered by calendar. Each day is classed
//! (special day, month start, month end, Sunday, Saturday, workday; see
//! [`CalendarSpec::class_of_day`]) and each weekday class and special day
//! gets its own per-phase band over the day.
//!
//! - Workdays, Saturdays and Sundays seen on any day in training, and
//!   special days seen on at least `min_days` days, get their own profile,
//!   unless it lies within `merge_tol` robust σ (on average) of its base
//!   class's ([`DayClass::base`]: a holiday is like a Sunday, a Sunday like a
//!   Saturday, a Saturday like a workday), in which case it is merged and
//!   uses the base profile. So the model keeps only the clusters the data
//!   supports.
//! - Month starts and ends get no profile of their own: each is a factor on
//!   its weekday's profile ([`MonthFactor`]), learned from as little as one
//!   day, so a month start on a Sunday is judged as a Sunday's volume times
//!   the month-start factor.
//! - Retraining reads a window (two weeks by default) that often holds no
//!   month start or holiday: [`ClusterModel::inherit`] keeps what the
//!   previous model learned about classes the new window does not show.
//! - A declared special day (a holiday) not yet seen on `min_days` days is
//!   taken for a Sunday.
//! - Any other class never seen (the first month start) gets the envelope
//!   of every kept profile: with no evidence of how such a day behaves, only
//!   a value outside anything seen on any kind of day departs from the band.
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
use super::stats::median;
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
    /// Classes seen often enough but alike their base class, which they use.
    #[serde(default)]
    pub merged: Vec<DayClass>,
    /// Classes whose profile, merge or factor was kept from the previous model.
    #[serde(default)]
    pub inherited: Vec<DayClass>,
    /// Month starts and ends, as a share of their weekday's profile.
    #[serde(default)]
    pub factors: Vec<MonthFactor>,
    /// Robust spread of the values.
    pub scale: f64,
}

/// A month start's or end's volume as a share of what its weekday (a
/// workday, a Saturday or a Sunday) would have, per phase of the day: it
/// learns from a single day, and applies to whichever weekday the next one
/// falls on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthFactor {
    /// `month_start` or `month_end`.
    pub class: DayClass,
    /// Per phase bin, the weighted median of value ÷ the weekday profile's
    /// expected value (its `expected` column; the bounds are not used).
    pub ratios: Profile,
    /// Days it was learned from.
    pub days: u32,
    /// Per phase bin, whether the share is unknown: the days it was learned
    /// from held no point of that phase (a day seen only in part), and no
    /// earlier model knew it. Empty when every bin is known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<bool>,
}

impl MonthFactor {
    /// The share at a phase (ms into the local day), interpolated; `None`
    /// where it is unknown.
    pub fn ratio_at(&self, phase_ms: i64) -> Option<f64> {
        let (i, j, _) = self.ratios.neighbours(phase_ms)?;
        if self.is_unknown(i) || self.is_unknown(j) {
            return None;
        }
        Some(self.ratios.band_at(phase_ms).expected)
    }

    fn is_unknown(&self, bin: usize) -> bool {
        self.unknown.get(bin).copied().unwrap_or(false)
    }

    /// Takes `previous`'s share in the bins unknown here and known there.
    fn fill_from(&mut self, previous: &MonthFactor) {
        if self.unknown.is_empty() || previous.ratios.bins.len() != self.ratios.bins.len() {
            return;
        }
        for b in 0..self.ratios.bins.len() {
            if self.is_unknown(b) && !previous.is_unknown(b) {
                self.ratios.bins[b] = previous.ratios.bins[b];
                self.unknown[b] = false;
            }
        }
        self.tidy();
    }

    /// Empties `unknown` when every bin is known.
    fn tidy(&mut self) {
        if !self.unknown.contains(&true) {
            self.unknown.clear();
        }
    }
}

/// The share of a bin's own weight, against the class's typical bin, under
/// which the bin's own points are not evidence enough: most of them were
/// down-weighted as anomalous (an incident on the only Sunday of the
/// window), or the day was seen only in part.
const WEAK_SHARE: f64 = 0.25;

/// Per bin, whether its own points carry too little weight to stand on
/// their own: none at all, or under [`WEAK_SHARE`] of the median weight of
/// the bins that have any.
fn weak_bins(bins: &[Vec<(f64, f64)>]) -> Vec<bool> {
    let w: Vec<f64> = bins
        .iter()
        .map(|b| b.iter().map(|p| p.1.max(0.0)).sum())
        .collect();
    let mut any: Vec<f64> = w.iter().copied().filter(|x| *x > 0.0).collect();
    if any.is_empty() {
        return vec![true; w.len()];
    }
    let typical = median(&mut any);
    w.iter()
        .map(|&x| x <= 0.0 || x < WEAK_SHARE * typical)
        .collect()
}

/// Whether a class is a month start or end.
fn is_month(c: DayClass) -> bool {
    matches!(c, DayClass::MonthStart | DayClass::MonthEnd)
}

/// The weekday class of a day: workday, Saturday (`weekend`) or Sunday.
fn weekday_of(dn: i64) -> DayClass {
    match (dn + 3).rem_euclid(7) {
        6 => DayClass::Sunday,
        5 => DayClass::Weekend,
        _ => DayClass::Workday,
    }
}

/// Mean absolute difference of two profiles' expected values, per bin in
/// units of `b`'s robust σ there (its band's half-width over `sigmas`;
/// `floor` keeps a flat, noiseless bin from dividing by zero).
fn distance(a: &Profile, b: &Profile, sigmas: f64, floor: f64) -> Option<f64> {
    if a.bins.len() != b.bins.len() || a.bins.is_empty() {
        return None;
    }
    let d: f64 = a
        .bins
        .iter()
        .zip(&b.bins)
        .map(|(x, y)| {
            let sigma = (f64::from(y[2] - y[1]) / (2.0 * sigmas.max(1e-9))).max(floor);
            f64::from((x[0] - y[0]).abs()) / sigma
        })
        .sum();
    Some(d / a.bins.len() as f64)
}

/// Widens every bin to at least the class's typical relative noise: the
/// median of σ ÷ expected over its busier half of the day (quiet hours'
/// counting noise would inflate it). A class seen on few days (two
/// Saturdays in a two-week window) has bins where those days happened to
/// agree; their σ says nothing about the next one.
fn floor_relative_noise(p: &mut Profile) {
    let mut levels: Vec<f32> = p.bins.iter().map(|b| b[0].abs()).collect();
    if levels.is_empty() {
        return;
    }
    let mid = levels.len() / 2;
    let busy = *levels.select_nth_unstable_by(mid, f32::total_cmp).1;
    let mut rel: Vec<f32> = p
        .bins
        .iter()
        .filter(|b| b[0].abs() >= busy && b[0].abs() > 0.0)
        .map(|b| (b[2] - b[1]) / (2.0 * b[0].abs()))
        .filter(|r| r.is_finite())
        .collect();
    if rel.is_empty() {
        return;
    }
    let mid = rel.len() / 2;
    let typical = *rel.select_nth_unstable_by(mid, f32::total_cmp).1;
    for b in &mut p.bins {
        let half = typical * b[0].abs();
        b[1] = b[1].min(b[0] - half);
        b[2] = b[2].max(b[0] + half);
    }
}

impl ClusterModel {
    /// Fits on `data`. `min_days`: days a special day needs to get its own
    /// profile; `merge_tol`: mean |Δ expected| (in the base profile's robust
    /// σ, bin by bin) under which a class is merged into its base class.
    pub fn fit(
        data: &TrainData<'_>,
        calendar: CalendarSpec,
        min_days: u32,
        merge_tol: f64,
        cfg: &BandConfig,
    ) -> ClusterModel {
        Self::fit_after(data, calendar, min_days, merge_tol, cfg, None)
    }

    /// [`ClusterModel::fit`] on retraining. In a class seen on one day of
    /// the window, a bin whose own points are too few or mostly flagged as
    /// anomalous (its weight under a quarter of the class's typical bin's)
    /// keeps what `previous` knew of that phase of that class: one incident
    /// on the only Sunday of the window does not become the Sunday profile,
    /// nor (through it) the month start's share. A month share's phase with
    /// no points of its own takes `previous`'s, or is unknown (judged
    /// against the envelope).
    pub fn fit_after(
        data: &TrainData<'_>,
        calendar: CalendarSpec,
        min_days: u32,
        merge_tol: f64,
        cfg: &BandConfig,
        previous: Option<&ClusterModel>,
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
            if is_month(class) {
                continue;
            }
            let seen = days.get(&class).map_or(0, |d| d.len() as u32);
            // Saturdays and Sundays are regular: one day is better than
            // none. A special day needs `min_days` of its own (until then it
            // is judged as a Sunday). The most-seen class is always kept so
            // there is something to fall back to.
            let need = if class == DayClass::Special {
                min_days
            } else {
                1
            };
            if seen < need && Some(class) != most_seen {
                continue;
            }
            let weak = weak_bins(&bins);
            let mut p = Profile::build(DAY_MS, cfg.bin_ms, bins, BinRule::Sigma(cfg.sigmas), false);
            // Only a class seen on one day: with two, a flagged day is
            // outweighed by the other, and a bin the previous model had
            // wrong (which flags every new day there) is learned again.
            let prev = previous
                .filter(|_| seen == 1)
                .and_then(|m| m.resolved(class));
            if let Some(prev) = prev.filter(|q| q.bins.len() == p.bins.len()) {
                for ((bin, old), is_weak) in p.bins.iter_mut().zip(&prev.bins).zip(&weak) {
                    if *is_weak {
                        *bin = *old;
                    }
                }
            }
            floor_relative_noise(&mut p);
            profiles.push((class, p));
        }
        let mut m = ClusterModel {
            calendar,
            profiles,
            days_seen,
            merged: Vec::new(),
            inherited: Vec::new(),
            factors: Vec::new(),
            scale,
        };
        // Saturdays first (into workdays), then Sundays (into Saturdays),
        // then every other class into its base (or what the base resolves to).
        let floor = 1e-6 * scale.max(1e-9);
        for class in [DayClass::Weekend, DayClass::Sunday, DayClass::Special] {
            let target = m.resolved(class.base());
            let (Some(own), Some(target)) = (m.own(class), target) else {
                continue;
            };
            if distance(own, target, cfg.sigmas, floor).is_some_and(|d| d <= merge_tol) {
                m.profiles.retain(|p| p.0 != class);
                m.merged.push(class);
            }
        }
        // Month starts and ends: their share of their weekday's profile, in
        // hour-wide bins (a share learned from one or two days needs the
        // points of a whole hour to be steady).
        let ratio_bin = cfg.bin_ms.max(1).saturating_mul(4).min(DAY_MS);
        let nr = Profile::bin_count(DAY_MS, ratio_bin);
        let mut ratios: BTreeMap<DayClass, Vec<Vec<(f64, f64)>>> = BTreeMap::new();
        for i in 0..data.len() {
            let dn = day_number(data.ts[i], m.calendar.utc_offset_min);
            let class = m.calendar.class_of_day(dn);
            if !is_month(class) {
                continue;
            }
            let Some(base) = m.weekday_profile(dn) else {
                continue;
            };
            let phase = (data.ts[i] + off).rem_euclid(DAY_MS);
            let e = base.band_at(phase).expected;
            if e > 0.0 && e.is_finite() {
                let b = ((phase / ratio_bin) as usize).min(nr - 1);
                ratios.entry(class).or_insert_with(|| vec![Vec::new(); nr])[b]
                    .push((data.values[i] / e, data.weights[i]));
            }
        }
        for (class, bins) in ratios {
            // A phase the days did not show (a day seen only in part) is
            // unknown. Phases shown only by flagged points are still
            // learned: a first month start is flagged whole by a model that
            // did not know month starts, and a share the previous model had
            // wrong must be learned again.
            let unknown = bins.iter().map(|b| b.iter().all(|p| p.1 <= 0.0)).collect();
            let mut f = MonthFactor {
                class,
                ratios: Profile::build(DAY_MS, ratio_bin, bins, BinRule::Sigma(0.0), false),
                days: days.get(&class).map_or(0, |d| d.len() as u32),
                unknown,
            };
            if let Some(prev) = previous.and_then(|m| m.factors.iter().find(|g| g.class == class)) {
                f.fill_from(prev);
            }
            f.tidy();
            if !f.unknown.is_empty() && !f.unknown.contains(&false) {
                continue; // nothing known at all
            }
            m.factors.push(f);
        }
        m
    }

    /// The profile of a day's weekday class (workday, Saturday or Sunday),
    /// following merges.
    fn weekday_profile(&self, dn: i64) -> Option<&Profile> {
        self.resolved(weekday_of(dn))
            .or_else(|| self.resolved(DayClass::Workday))
    }

    /// Keeps from `previous` what this model's window could not show: the
    /// profile (or the merge) of every class seen on fewer than `min_days`
    /// days here. Called on retraining, so a month start or a holiday learned
    /// weeks ago still has its profile when the next one comes.
    pub fn inherit(&mut self, previous: &ClusterModel, min_days: u32) {
        let seen = |c: DayClass| self.days_seen.iter().find(|d| d.0 == c).map_or(0, |d| d.1);
        for (class, p) in &previous.profiles {
            if self.own(*class).is_none() && !self.merged.contains(class) && seen(*class) < min_days
            {
                self.profiles.push((*class, p.clone()));
                self.inherited.push(*class);
            }
        }
        for f in &previous.factors {
            match self.factors.iter_mut().find(|g| g.class == f.class) {
                Some(g) => g.fill_from(f),
                None => {
                    self.factors.push(f.clone());
                    self.inherited.push(f.class);
                }
            }
        }
        for class in &previous.merged {
            if self.own(*class).is_none() && !self.merged.contains(class) && seen(*class) < min_days
            {
                self.merged.push(*class);
                self.inherited.push(*class);
            }
        }
    }

    /// The class's own profile.
    fn own(&self, class: DayClass) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.0 == class).map(|p| &p.1)
    }

    /// The profile a class uses when it is known: its own, or, when it
    /// merged, its base's (followed down to the workday).
    fn resolved(&self, class: DayClass) -> Option<&Profile> {
        let mut c = class;
        for _ in 0..4 {
            if let Some(p) = self.own(c) {
                return Some(p);
            }
            if !self.merged.contains(&c) {
                return None;
            }
            c = c.base();
        }
        None
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
        let phase = ts_ms + off;
        let class = self
            .calendar
            .class_of_day(day_number(ts_ms, self.calendar.utc_offset_min));
        let dn = day_number(ts_ms, self.calendar.utc_offset_min);
        if is_month(class) {
            let factor = self.factors.iter().find(|f| f.class == class);
            let r = factor.and_then(|f| f.ratio_at(phase));
            if let (Some(r), Some(p)) = (r, self.weekday_profile(dn)) {
                let b = p.band_at(phase);
                return Band {
                    expected: b.expected * r,
                    lower: b.lower * r,
                    upper: b.upper * r,
                };
            }
        } else if let Some(p) = self.resolved(class) {
            return p.band_at(phase);
        }
        // A holiday not yet seen often enough is taken for a Sunday.
        if class == DayClass::Special {
            if let Some(p) = self.resolved(DayClass::Sunday) {
                return p.band_at(phase);
            }
        }
        // Never seen: the envelope of every kept profile, centred on the
        // base class's expectation where there is one.
        let bands: Vec<Band> = self.profiles.iter().map(|p| p.1.band_at(phase)).collect();
        if bands.is_empty() {
            return Band::OPEN;
        }
        let lower = bands.iter().map(|b| b.lower).fold(f64::INFINITY, f64::min);
        let upper = bands
            .iter()
            .map(|b| b.upper)
            .fold(f64::NEG_INFINITY, f64::max);
        let expected = self
            .weekday_profile(dn)
            .map_or(bands[0].expected, |p| p.band_at(phase).expected)
            .clamp(lower, upper);
        Band {
            expected,
            lower,
            upper,
        }
    }

    fn learn(&self, _value: f64, _band: &Band, _st: &mut OnlineState) {}

    fn scale(&self) -> f64 {
        self.scale
    }
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
