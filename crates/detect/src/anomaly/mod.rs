//! The streaming anomaly scorer: one [`AnomalyScorer`] per series, fed one
//! sample at a time, returning a score in `[0, 1)` computed only from the
//! past. It keeps a fixed, small state (see [`AnomalyScorer::state_bytes`]).
//!
//! How a sample is scored (ADR 0009 has the reasoning and the NAB figures):
//! 1. Forecasters predict the value: a fast EWMA level (local), a slow EWMA
//!    mean (long-run level) and, when enabled, a time-of-day and a
//!    day-of-week profile (one EWMA per slot across days/weeks; a slot moves
//!    by at most `season_clip` typical errors per sample).
//! 2. Each error is divided by that forecaster's typical absolute error (an
//!    EWMA with large errors clipped), giving a point surprise `z`; a sample
//!    is surprising only if neither seasonal profile explains it.
//! 3. A large surprise is remembered (the last 8; consecutive ones of one
//!    sign count as one, so a plateau is one event); one that repeats an
//!    earlier one of the same sign and similar size a day, two days or a
//!    week before, give or take `recur_tolerance` (1 h), is a routine job
//!    (a nightly backup whose start drifts) and scores 0 without moving the
//!    levels, where a fixed-slot profile would need the spike in the same
//!    5-minute slot every day.
//! 4. A short EWMA of each `z` is compared with its own long-run mean and
//!    spread: it catches sustained moderate deviations that no single point
//!    shows. The largest of these is the point anomaly.
//! 5. The likelihood layer (after Numenta's HTM detector) compares a short
//!    average of the point anomaly with its long-run distribution and gives
//!    its normal-tail z, so a series that is always surprising counts less.
//! 6. A second, different detector, the [`ContextDetector`], scores how
//!    novel the current value (and, with `order` > 0, the sequence of
//!    recent values) is once discretised: 0 when seen recently, 1 when new.
//! 7. `R = max(point_weight · point, likelihood_weight · tail z,
//!    context_weight · novelty) + context_add · novelty` (defaults: the
//!    point anomaly reaches `R` only through the likelihood layer, and the
//!    novelty is only added, so it lowers the bar for the likelihood layer
//!    and fires alone only with `context_weight`); the score
//!    is `R/(R+squash)`. When `R` reaches `fire_z` the scorer reports, then
//!    holds the score at 0 for `suppress` samples (NAB counts one detection
//!    per window and charges every false positive), and re-anchors the
//!    long-run level so a level shift is flagged once and then learnt.
//!
//! A stream has no known range, so [`AnomalyScorer::new`] fixes the
//! contextual detector's grid online; [`AnomalyScorer::with_range`] takes
//! the range up front, as NAB gives every detector its data file's min and
//! max (`argus eval nab` does so by default).
//!
//! ```
//! use argus_detect::anomaly::{AnomalyConfig, AnomalyScorer};
//! let mut s = AnomalyScorer::new(AnomalyConfig::default());
//! let mut last = 0.0;
//! for i in 0..2000i64 {
//!     let v = 10.0 + ((i * 7919) % 13) as f64 * 0.1; // bounded noise
//!     last = s.update(i * 300, v);
//! }
//! assert!(last < 0.5);
//! let spike = s.update(2000 * 300, 100.0);
//! assert!(spike > 0.5, "{spike}");
//! assert!(s.state_bytes() <= 4096);
//! ```

mod context;
mod likelihood;
mod recur;
mod season;
mod stats;
#[cfg(test)]
mod tests;

pub use context::{ContextConfig, ContextDetector, MAX_ORDER};
pub use likelihood::likelihood_of;
use likelihood::{Likelihood, LikelihoodParams};
use recur::{RecurParams, Recurrence};
use season::Profile;
use serde::{Deserialize, Serialize};
use stats::{warm_alpha, MeanVar, Scale};

/// Configuration of the scorer. One configuration serves every series (the
/// NAB figures in ADR 0009 use these defaults for all files).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnomalyConfig {
    /// Samples scored 0 while the statistics settle. Default 64.
    pub warmup: u32,
    /// Weight of the newest value in the local level forecaster. Default 0.5.
    pub level_alpha: f64,
    /// Weight of the newest value in the long-run mean. Default 0.005.
    pub long_alpha: f64,
    /// Weight of the newest |error| in each typical-error scale. Default 0.001.
    pub scale_alpha: f64,
    /// An error updates the scale as at most this many scales. Default 4.
    pub scale_clip: f64,
    /// Time-of-day slots of the daily profile; 0 disables it. Default 288 (5 min).
    pub season_slots: u32,
    /// Weight of the newest day in each slot of the profile. Default 0.3.
    pub season_alpha: f64,
    /// Slots of a weekly profile (same `season_alpha`); 0 disables it. A
    /// sample is explained by the season if either profile explains it.
    /// Default 336 (30 min).
    pub week_slots: u32,
    /// A profile slot moves by at most this many typical seasonal errors
    /// per sample, so one missing peak does not reshape tomorrow; 0 means
    /// unlimited. Default 4.
    pub season_clip: f64,
    /// Weight of the newest surprise in the sustained average. Default 0.1.
    pub sustain_alpha: f64,
    /// Weight in the long-run mean/variance of the sustained average. Default 0.002.
    pub sustain_stat_alpha: f64,
    /// Multiplier of the sustained z relative to the point surprise. Default 1.
    pub sustain_weight: f64,
    /// Smallest spread (in surprise units) of a sustained average's
    /// long-run distribution, so a series whose surprise hardly varies does
    /// not turn a small change into a huge sustained z. Default 0.2.
    pub sustain_min_sd: f64,
    /// Multiplier of the point/sustained anomaly in `R`; 0 leaves only the
    /// likelihood layer (the default, 0: on NAB the point anomaly counts best
    /// through the likelihood layer once novelty is added; ADR 0009).
    pub point_weight: f64,
    /// Multiplier of the likelihood layer's tail z in `R`; 0 disables the
    /// layer. Default 1.4 (so HTM's likelihood 0.99999, `z ≈ 4.26`, reaches
    /// the default `fire_z`).
    pub likelihood_weight: f64,
    /// Weight of the newest raw anomaly in the likelihood's short average.
    /// Default 0.1 (about HTM's 10-sample average).
    pub likelihood_short_alpha: f64,
    /// Weight of the newest short average in its long-run distribution.
    /// Default 0.000125 (about HTM's 8 000-sample window).
    pub likelihood_long_alpha: f64,
    /// Smallest spread of that distribution. Default 0.4.
    pub likelihood_min_sd: f64,
    /// Samples before the likelihood layer starts its long-run distribution
    /// (it reports 100 samples later). Default 600.
    pub likelihood_min_count: u32,
    /// A point surprise at least this large is remembered as an event; one
    /// that repeats an event of the same sign and similar size a day, two
    /// days or a week earlier (within `recur_tolerance`) scores 0 (a
    /// cron job, a nightly batch). Such an outlier, when it is not
    /// recurring, also seeds no empty profile slot. 0 disables both.
    /// Default 6.
    pub recur_z: f64,
    /// Seconds of drift allowed for a recurring event. Default 3600.
    pub recur_tolerance: i64,
    /// Largest size ratio between recurring events. Default 2.
    pub recur_ratio: f64,
    /// Raw anomaly at which the scorer reports a detection. Default 6.
    pub fire_z: f64,
    /// Samples after a detection whose score is held at 0. Default 150.
    pub suppress: u32,
    /// With a known input range ([`AnomalyScorer::with_range`]), every
    /// error scale is at least this fraction of the range, so wiggles that
    /// are tiny against the whole series never look large. Default 0.
    pub range_floor: f64,
    /// Re-anchor the long-run level at a detection. Default true.
    pub reanchor: bool,
    /// Score = R / (R + squash). Default 6 (so R = fire_z maps to 0.5).
    pub squash: f64,
    /// Multiplier of the contextual novelty (see [`ContextDetector`]) as a
    /// detector of its own in `R`'s maximum. Default 0.
    pub context_weight: f64,
    /// Multiplier of the contextual novelty added to `R` after the maximum
    /// (so novelty lowers how far the other detectors must go to fire);
    /// 0 (with `context_weight` 0) disables the detector. Default 5.
    pub context_add: f64,
    /// Weight of the newest novelty in its short average (1, the default:
    /// no averaging).
    pub context_alpha: f64,
    /// Samples before the contextual detector contributes to `R` (it fixes
    /// its grid and learns contexts before that). Default 600.
    pub context_start: u32,
    /// The contextual detector's own settings (default: 32 bins, 64 over a
    /// known input range, order 0,
    /// grid from the first 300 samples).
    pub context: ContextConfig,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        Self {
            warmup: 64,
            level_alpha: 0.5,
            long_alpha: 0.005,
            scale_alpha: 0.001,
            scale_clip: 4.0,
            season_slots: 288,
            season_alpha: 0.3,
            week_slots: 336,
            season_clip: 4.0,
            sustain_alpha: 0.1,
            sustain_stat_alpha: 0.002,
            sustain_weight: 1.0,
            sustain_min_sd: 0.2,
            point_weight: 0.0,
            likelihood_weight: 1.4,
            likelihood_short_alpha: 0.1,
            likelihood_long_alpha: 0.000_125,
            likelihood_min_sd: 0.4,
            likelihood_min_count: 600,
            recur_z: 6.0,
            recur_tolerance: 3600,
            recur_ratio: 2.0,
            fire_z: 6.0,
            suppress: 150,
            range_floor: 0.0,
            reanchor: true,
            squash: 6.0,
            context_weight: 0.0,
            context_add: 5.0,
            context_alpha: 1.0,
            context_start: 600,
            context: ContextConfig::default(),
        }
    }
}

/// Most slots a seasonal profile may have (one a minute over a week).
pub const MAX_SLOTS: u32 = 10_080;

impl AnomalyConfig {
    /// Checks the ranges that would make the scorer meaningless (a zero
    /// firing bar, a weight outside `(0, 1]`) or its state unbounded (more
    /// than [`MAX_SLOTS`] profile slots); the error names the key.
    ///
    /// ```
    /// use argus_detect::anomaly::AnomalyConfig;
    /// assert!(AnomalyConfig::default().validate().is_ok());
    /// let bad = AnomalyConfig { fire_z: 0.0, ..AnomalyConfig::default() };
    /// assert!(bad.validate().unwrap_err().contains("fire_z"));
    /// ```
    pub fn validate(&self) -> Result<(), String> {
        let alphas = [
            ("level_alpha", self.level_alpha),
            ("long_alpha", self.long_alpha),
            ("scale_alpha", self.scale_alpha),
            ("season_alpha", self.season_alpha),
            ("sustain_alpha", self.sustain_alpha),
            ("sustain_stat_alpha", self.sustain_stat_alpha),
            ("likelihood_short_alpha", self.likelihood_short_alpha),
            ("likelihood_long_alpha", self.likelihood_long_alpha),
            ("context_alpha", self.context_alpha),
        ];
        for (k, v) in alphas {
            if !(v > 0.0 && v <= 1.0) {
                return Err(format!("{k} must be in (0, 1], got {v}"));
            }
        }
        let non_negative = [
            ("scale_clip", self.scale_clip),
            ("season_clip", self.season_clip),
            ("sustain_weight", self.sustain_weight),
            ("sustain_min_sd", self.sustain_min_sd),
            ("point_weight", self.point_weight),
            ("likelihood_weight", self.likelihood_weight),
            ("likelihood_min_sd", self.likelihood_min_sd),
            ("recur_z", self.recur_z),
            ("range_floor", self.range_floor),
            ("context_weight", self.context_weight),
            ("context_add", self.context_add),
        ];
        for (k, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{k} must be >= 0, got {v}"));
            }
        }
        for (k, v) in [("fire_z", self.fire_z), ("squash", self.squash)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("{k} must be > 0, got {v}"));
            }
        }
        for (k, v) in [
            ("season_slots", self.season_slots),
            ("week_slots", self.week_slots),
        ] {
            if v > MAX_SLOTS {
                return Err(format!("{k} must be <= {MAX_SLOTS}, got {v}"));
            }
        }
        if !(self.recur_ratio.is_finite() && self.recur_ratio >= 1.0) {
            return Err(format!(
                "recur_ratio must be >= 1, got {}",
                self.recur_ratio
            ));
        }
        if self.recur_tolerance < 0 {
            return Err(format!(
                "recur_tolerance must be >= 0, got {}",
                self.recur_tolerance
            ));
        }
        Ok(())
    }
}

/// One forecaster's typical absolute error.
#[derive(Debug, Clone, Copy, Default)]
struct Channel {
    scale: Scale,
}

impl Channel {
    /// The point surprise of `err` (from the state before it), then folds it in.
    /// `None` until the scale has seen a few errors.
    fn observe(&mut self, err: f64, floor: f64, cfg: &AnomalyConfig) -> Option<f64> {
        let z = (self.scale.count() >= 8).then(|| err.abs() / (self.scale.mad + floor));
        self.scale
            .update(err.abs(), cfg.scale_alpha, cfg.scale_clip);
        z
    }
}

/// A short average of a surprise compared with its own long-run mean and
/// spread (HTM's anomaly likelihood, in z units).
#[derive(Debug, Clone, Copy, Default)]
struct Sustain {
    avg: f64,
    stats: MeanVar,
    n: u32,
}

impl Sustain {
    fn observe(&mut self, z: f64, cfg: &AnomalyConfig) -> f64 {
        self.n = self.n.saturating_add(1);
        self.avg += warm_alpha(cfg.sustain_alpha, self.n) * (z - self.avg);
        let out = if self.n > 16 {
            self.stats.z(self.avg, cfg.sustain_min_sd)
        } else {
            0.0
        };
        self.stats.update(self.avg, cfg.sustain_stat_alpha);
        out
    }

    fn reset(&mut self) {
        self.avg = self.stats.mean;
    }
}

/// Per-series streaming scorer.
#[derive(Debug, Clone)]
pub struct AnomalyScorer {
    cfg: AnomalyConfig,
    n: u32,
    level: f64,
    long_mean: f64,
    /// Local, long-run, daily and weekly forecasters.
    channels: [Channel; 4],
    /// Sustained surprise of: the best short-term forecaster, the long-run
    /// level and the seasonal profiles.
    sustains: [Sustain; 3],
    likelihood: Likelihood,
    recur: Recurrence,
    day: Profile,
    week: Profile,
    hold: u32,
    /// Whether the latest sample reported a detection.
    fired: bool,
    /// The input range's width when known (0 otherwise).
    range: f64,
    /// The contextual detector, when enabled, and its short average.
    context: Option<Box<ContextDetector>>,
    context_avg: f64,
}

impl AnomalyScorer {
    /// A fresh scorer.
    pub fn new(cfg: AnomalyConfig) -> Self {
        let day = Profile::new(cfg.season_slots, 86_400);
        let week = Profile::new(cfg.week_slots, 7 * 86_400);
        let context = (cfg.context_weight > 0.0 || cfg.context_add > 0.0)
            .then(|| Box::new(ContextDetector::new(cfg.context.clone())));
        Self {
            cfg,
            n: 0,
            level: 0.0,
            long_mean: 0.0,
            channels: [Channel::default(); 4],
            sustains: [Sustain::default(); 3],
            likelihood: Likelihood::default(),
            recur: Recurrence::default(),
            day,
            week,
            hold: 0,
            fired: false,
            range: 0.0,
            context,
            context_avg: 0.0,
        }
    }

    /// A scorer whose contextual detector discretises over a known input
    /// range (see [`ContextDetector::with_range`]): NAB's standard protocol
    /// gives every detector the data file's min and max. Production scores
    /// streams without look-ahead and uses [`AnomalyScorer::new`].
    ///
    /// ```
    /// use argus_detect::anomaly::{AnomalyConfig, AnomalyScorer};
    /// let s = AnomalyScorer::with_range(AnomalyConfig::default(), 0.0, 100.0);
    /// assert!(s.state_bytes() <= 4096);
    /// ```
    pub fn with_range(cfg: AnomalyConfig, min: f64, max: f64) -> Self {
        let mut s = Self::new(cfg);
        if min.is_finite() && max.is_finite() && min <= max {
            s.range = max - min;
        }
        if let Some(c) = s.context.as_mut() {
            **c = ContextDetector::with_range(s.cfg.context.clone(), min, max);
        }
        s
    }

    /// Bytes held for this series (struct plus the profile buffers and the
    /// contextual detector when enabled).
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.day.heap_bytes()
            + self.week.heap_bytes()
            + self.context.as_ref().map_or(0, |c| c.state_bytes())
    }

    /// The contextual detector's averaged novelty (0 when disabled or
    /// starting).
    fn context_novelty(&mut self, x: f64) -> f64 {
        let Some(c) = self.context.as_mut() else {
            return 0.0;
        };
        let nov = c.update(x);
        self.context_avg += self.cfg.context_alpha.clamp(0.0, 1.0) * (nov - self.context_avg);
        if self.n > self.cfg.context_start {
            self.context_avg
        } else {
            0.0
        }
    }

    /// The surprise of `x` against one seasonal profile (2: daily, 3:
    /// weekly), folding the error into that profile's scale; the profile
    /// itself learns `x` in [`Self::learn_seasons`].
    fn seasonal(&mut self, which: usize, ts: i64, x: f64, floor: f64) -> Option<f64> {
        let profile = if which == 2 { &self.day } else { &self.week };
        profile
            .predict(ts)
            .and_then(|p| self.channels[which].observe(x - p, floor, &self.cfg))
    }

    /// Learns `x` into both profiles, each slot moving by at most
    /// `season_clip` typical seasonal errors; an `outlier` seeds no slot.
    fn learn_seasons(&mut self, ts: i64, x: f64, floor: f64, outlier: bool) {
        let cfg = &self.cfg;
        for (which, profile) in [(2, &mut self.day), (3, &mut self.week)] {
            let scale = &self.channels[which].scale;
            let max_step = if cfg.season_clip > 0.0 && scale.count() >= 8 {
                cfg.season_clip * scale.mad + floor
            } else {
                f64::INFINITY
            };
            profile.learn(ts, x, cfg.season_alpha, max_step, outlier);
        }
    }

    /// The raw anomaly `R` of a sample (≥ 0), folding the sample into the state.
    fn raw(&mut self, ts: i64, x: f64) -> f64 {
        self.n = self.n.saturating_add(1);
        if self.n == 1 {
            self.level = x;
            self.long_mean = x;
        }
        // A noise floor so a flat series does not divide by zero.
        let floor = 1e-9 + 1e-6 * self.long_mean.abs() + self.cfg.range_floor * self.range;
        let z_local = self.channels[0].observe(x - self.level, floor, &self.cfg);
        let z_long = self.channels[1].observe(x - self.long_mean, floor, &self.cfg);
        let z_day = self.seasonal(2, ts, x, floor);
        let z_week = self.seasonal(3, ts, x, floor);
        let novelty = self.context_novelty(x);
        // Either profile may explain the sample.
        let z_season = match (z_day, z_week) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let cfg = &self.cfg;
        let (prev_level, prev_long) = (self.level, self.long_mean);
        self.level += warm_alpha(cfg.level_alpha, self.n) * (x - self.level);
        self.long_mean += warm_alpha(cfg.long_alpha, self.n) * (x - self.long_mean);
        // A sample is surprising only if the seasonal profiles do not explain
        // it either.
        let explained = |z: Option<f64>| match (z, z_season) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(0.0),
        };
        let z_short = explained(z_local);
        let z_long = explained(z_long);
        let recur = RecurParams {
            min_z: cfg.recur_z,
            tolerance: cfg.recur_tolerance,
            ratio: cfg.recur_ratio,
        };
        let recurring = self.recur.observe(ts, z_short, x - prev_level, &recur);
        // A one-off outlier seeds no profile slot; a recurring one may. So
        // does no sample before the local scale is warm: nothing yet tells
        // a spike from the level, and a spike seeded into a slot would stay
        // there for weeks under the step limit.
        let unjudged = z_local.is_none();
        let outlier = cfg.recur_z > 0.0 && (unjudged || z_short >= cfg.recur_z) && !recurring;
        self.learn_seasons(ts, x, floor, outlier);
        if recurring {
            // A recurring event: expected, so it neither scores nor moves
            // the levels or the sustained averages.
            self.level = prev_level;
            self.long_mean = prev_long;
            return 0.0;
        }
        let cfg = &self.cfg;
        let s_short = self.sustains[0].observe(z_short, cfg);
        let s_long = self.sustains[1].observe(z_long, cfg);
        let s_season = z_season.map_or(0.0, |z| self.sustains[2].observe(z, cfg));
        let w = cfg.sustain_weight;
        let point = [z_short, z_long, w * s_short, w * s_long, w * s_season]
            .into_iter()
            .fold(0.0, f64::max);
        let combine = |r: f64| r.max(cfg.context_weight * novelty) + cfg.context_add * novelty;
        if cfg.likelihood_weight <= 0.0 {
            return combine(cfg.point_weight * point);
        }
        let params = LikelihoodParams {
            short_alpha: cfg.likelihood_short_alpha,
            long_alpha: cfg.likelihood_long_alpha,
            min_sd: cfg.likelihood_min_sd,
            min_count: cfg.likelihood_min_count,
        };
        let lz = self.likelihood.observe(point, &params);
        combine((cfg.point_weight * point).max(cfg.likelihood_weight * lz))
    }

    /// Whether the latest [`AnomalyScorer::update`] reported a detection
    /// (its raw anomaly reached `fire_z`; the score is then at least
    /// `fire_z / (fire_z + squash)`, 0.5 with the defaults).
    pub fn fired(&self) -> bool {
        self.fired
    }

    /// The local level forecast (a fast EWMA of the values so far), which
    /// tells on which side of the recent values a sample lies.
    pub fn local_level(&self) -> f64 {
        self.level
    }

    /// Scores one sample (timestamp in seconds, value) and folds it in.
    /// Non-finite values are ignored and score 0.
    pub fn update(&mut self, ts: i64, value: f64) -> f64 {
        self.fired = false;
        if !value.is_finite() {
            return 0.0;
        }
        let r = self.raw(ts, value);
        if self.n <= self.cfg.warmup {
            return 0.0;
        }
        if self.hold > 0 {
            self.hold -= 1;
            return 0.0;
        }
        if r >= self.cfg.fire_z {
            self.fired = true;
            self.hold = self.cfg.suppress;
            if self.cfg.reanchor {
                self.long_mean = value;
                for c in &mut self.sustains {
                    c.reset();
                }
            }
        }
        r / (r + self.cfg.squash)
    }
}
