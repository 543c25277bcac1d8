//! The event-mix model: counts per event type in fixed windows, a baseline learned from
//! history, and an online detector that raises "abnormal event mix".
//!
//! **Features.** Each window (5 minutes by default) is the count of every event type in it.
//!
//! **Training** ([`MixModel::train`]) learns, per type, its mean count per window, a
//! profile by hour of day (UTC) shrunk towards that mean, and an overdispersion `φ`
//! (negative binomial: variance `μ + φμ²`, estimated by moments), so bursty types (deploys)
//! are judged by their own noise. A *volume factor* per window (the weighted median of
//! observed over expected across the common types) absorbs day-to-day traffic changes that
//! move every type together; it is clamped to the range seen in training, so a bus that goes
//! quiet still shows.
//!
//! **Scoring.** For every known type the window's count `x` is compared with its expected
//! count `μ` by the negative-binomial deviance `D` (too many and too few both count; a type
//! that usually appears and is missing scores like any other shortfall). A slow drift is
//! caught by an exponentially weighted mean of the signed deviances (`±√D`, clipped), scaled
//! to unit variance and squared; a type's contribution is the larger of the two. A type never
//! seen in training is scored against a small expected rate. The window's score is the sum of
//! the contributions above a noise allowance. The threshold is a high quantile of the scores
//! of the training history itself (scored as the detector would), times a margin, so it is
//! set by the false-alert rate wanted; an alert is raised after `enter_windows` windows in a
//! row above it and cleared after `clear_windows` below.
//!
//! ```
//! use argus_logs::events::mix::{MixDetector, MixModel, MixWindow, DEFAULT_WINDOW_NS};
//! let w = DEFAULT_WINDOW_NS;
//! // A day of history: 20 orders and 2 refunds every five minutes, give or take.
//! let history: Vec<MixWindow> = (0..288)
//!     .map(|i| MixWindow::from_counts(i * w, [("order.created", 18 + (i % 5) as u64), ("refund.issued", 2)]))
//!     .collect();
//! let model = MixModel::train(&history).unwrap();
//! let mut d = MixDetector::new(model);
//! let t0 = 288 * w;
//! for k in 0..3 {
//!     for i in 0..20 {
//!         d.observe("order.created", t0 + k * w + i);
//!     }
//!     for i in 0..15 {
//!         d.observe("refund.issued", t0 + k * w + i); // refunds out of line
//!     }
//! }
//! let v = d.close_windows_until(t0 + 3 * w);
//! assert_eq!(v.len(), 3);
//! assert!(v[2].abnormal);
//! assert_eq!(v[2].explanation[0].event_type, "refund.issued");
//! ```

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Five minutes, in nanoseconds.
pub const DEFAULT_WINDOW_NS: i64 = 300_000_000_000;

const HOUR_NS: i64 = 3_600_000_000_000;

/// The knobs of training and scoring; the defaults are those evaluated in
/// [`generate`](super::generate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MixConfig {
    /// Window length in nanoseconds.
    pub window_ns: i64,
    /// Learn a profile by hour of day (UTC) per type.
    pub hour_of_day: bool,
    /// How many windows of the overall mean an hour's profile is shrunk towards.
    pub profile_prior_windows: f64,
    /// Expected count per window of a type never seen in training.
    pub unseen_rate: f64,
    /// The least expected count of a known type.
    pub min_expected: f64,
    /// Weight of the newest window in the drift average (0 turns drift scoring off).
    pub drift_alpha: f64,
    /// A type's deviance up to this much is noise and adds nothing to the window's score.
    pub noise_allowance: f64,
    /// Quantile of the training scores the threshold is taken from.
    pub threshold_quantile: f64,
    /// The threshold is the quantile times this.
    pub threshold_margin: f64,
    /// Windows in a row above the threshold before an alert.
    pub enter_windows: u32,
    /// Windows in a row below the threshold before the alert clears.
    pub clear_windows: u32,
    /// Most types named in an explanation.
    pub max_explained: usize,
}

impl Default for MixConfig {
    fn default() -> Self {
        MixConfig {
            window_ns: DEFAULT_WINDOW_NS,
            hour_of_day: true,
            profile_prior_windows: 12.0,
            unseen_rate: 0.01,
            min_expected: 0.02,
            drift_alpha: 0.25,
            noise_allowance: 6.0,
            threshold_quantile: 0.995,
            threshold_margin: 1.0,
            enter_windows: 2,
            clear_windows: 2,
            max_explained: 8,
        }
    }
}

/// The counts of one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MixWindow {
    /// Start of the window, Unix nanoseconds.
    pub start_ns: i64,
    /// Count per event type.
    pub counts: BTreeMap<String, u64>,
}

impl MixWindow {
    /// A window from `(type, count)` pairs (repeated types add up).
    pub fn from_counts<S: AsRef<str>>(
        start_ns: i64,
        counts: impl IntoIterator<Item = (S, u64)>,
    ) -> MixWindow {
        let mut m = BTreeMap::new();
        for (t, n) in counts {
            *m.entry(t.as_ref().to_string()).or_insert(0) += n;
        }
        MixWindow {
            start_ns,
            counts: m,
        }
    }

    /// Windows of `window_ns` from `(type, time)` pairs, oldest first, with the empty
    /// windows in between (at most a year of windows; `window_ns` below 1 is taken as 1 s).
    pub fn count<'a>(
        events: impl IntoIterator<Item = (&'a str, i64)>,
        window_ns: i64,
    ) -> Vec<MixWindow> {
        let w = window_ns.max(1_000_000_000);
        let mut by_start: BTreeMap<i64, BTreeMap<String, u64>> = BTreeMap::new();
        for (t, ts) in events {
            *by_start
                .entry(align(ts, w))
                .or_default()
                .entry(t.to_string())
                .or_insert(0) += 1;
        }
        let (Some(&first), Some(&last)) = (by_start.keys().next(), by_start.keys().next_back())
        else {
            return Vec::new();
        };
        let max_windows = (366 * 24 * HOUR_NS / w).max(1);
        let first = first.max(last.saturating_sub(max_windows.saturating_mul(w)));
        let mut out = Vec::new();
        let mut s = first;
        while s <= last {
            out.push(MixWindow {
                start_ns: s,
                counts: by_start.remove(&s).unwrap_or_default(),
            });
            match s.checked_add(w) {
                Some(n) => s = n,
                None => break,
            }
        }
        out
    }

    /// The total count.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// The start of the window holding `ts` (for the very first times, the window after).
fn align(ts: i64, w: i64) -> i64 {
    let r = ts.rem_euclid(w);
    ts.checked_sub(r).unwrap_or_else(|| ts + (w - r))
}

fn hour_of(ts: i64) -> usize {
    ts.div_euclid(HOUR_NS).rem_euclid(24) as usize
}

/// What one type learned in training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Baseline {
    /// Mean count per window.
    mean: f64,
    /// Mean count per window by hour of day (empty without profiles).
    hourly: Vec<f64>,
    /// Overdispersion: variance is `μ + φμ²`; 0 is Poisson.
    phi: f64,
}

impl Baseline {
    fn base(&self, hour: usize) -> f64 {
        self.hourly.get(hour).copied().unwrap_or(self.mean)
    }
}

/// Why a model could not be trained.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    /// Not enough history.
    #[error("training needs at least {need} windows of history, got {got}")]
    TooFewWindows {
        /// The least number of windows.
        need: usize,
        /// How many were given.
        got: usize,
    },
    /// A knob is out of its range.
    #[error("the setting {name} is out of range ({detail})")]
    BadConfig {
        /// The knob.
        name: &'static str,
        /// Its range.
        detail: &'static str,
    },
}

/// The least history [`MixModel::train`] accepts, in windows.
pub const MIN_TRAINING_WINDOWS: usize = 12;

/// A trained model of the normal event mix. Serializable, so a server can keep it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MixModel {
    config: MixConfig,
    types: BTreeMap<String, Baseline>,
    volume_lo: f64,
    volume_hi: f64,
    threshold: f64,
    trained_windows: usize,
}

/// Whether a type is above, below, or outside what training saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Direction {
    /// More than expected.
    High,
    /// Fewer than expected (none at all included).
    Low,
    /// A type never seen in training.
    New,
}

/// One type's part in a window's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeDeviation {
    /// The event type.
    pub event_type: String,
    /// Its count in the window.
    pub observed: u64,
    /// The count the model expected.
    pub expected: f64,
    /// Above, below, or new.
    pub direction: Direction,
    /// Its contribution to the window's score before the noise allowance.
    pub score: f64,
}

/// The verdict on one closed window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MixVerdict {
    /// Start of the window, Unix nanoseconds.
    pub window_start_ns: i64,
    /// Events in the window.
    pub total: u64,
    /// How far the mix is from normal.
    pub score: f64,
    /// The score above which a window is out of line.
    pub threshold: f64,
    /// Whether this window's score is above the threshold.
    pub above: bool,
    /// Whether an "abnormal event mix" alert is active (after the windows-in-a-row rule).
    pub abnormal: bool,
    /// The types most out of line, largest contribution first.
    pub explanation: Vec<TypeDeviation>,
}

/// Negative-binomial deviance of `x` against mean `mu` with overdispersion `phi` (Poisson
/// when `phi` is 0).
fn deviance(x: f64, mu: f64, phi: f64) -> f64 {
    let xlog = if x > 0.0 { x * (x / mu).ln() } else { 0.0 };
    let d = if phi <= 1e-9 {
        2.0 * (xlog - (x - mu))
    } else {
        let k = 1.0 / phi;
        2.0 * (xlog - (x + k) * ((x + k) / (mu + k)).ln())
    };
    if d.is_finite() {
        d.max(0.0)
    } else {
        0.0
    }
}

/// The `q` quantile of `v` (sorted in place), by nearest rank; 0 when empty.
fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    v[i.min(v.len() - 1)]
}

/// Clip for a signed deviance fed into the drift average: large jumps are the instant
/// score's business.
const DRIFT_CLIP: f64 = 3.0;

impl MixModel {
    /// Trains with the default [`MixConfig`].
    pub fn train(windows: &[MixWindow]) -> Result<MixModel, TrainError> {
        MixModel::train_with(windows, MixConfig::default())
    }

    /// Trains on `windows` (oldest first, empty windows included).
    pub fn train_with(windows: &[MixWindow], config: MixConfig) -> Result<MixModel, TrainError> {
        check_config(&config)?;
        if windows.len() < MIN_TRAINING_WINDOWS {
            return Err(TrainError::TooFewWindows {
                need: MIN_TRAINING_WINDOWS,
                got: windows.len(),
            });
        }
        let n = windows.len() as f64;
        let mut sums: BTreeMap<&str, (f64, [f64; 24])> = BTreeMap::new();
        let mut per_hour = [0f64; 24];
        for w in windows {
            let h = hour_of(w.start_ns);
            per_hour[h] += 1.0;
            for (t, &c) in &w.counts {
                let e = sums.entry(t.as_str()).or_insert((0.0, [0.0; 24]));
                e.0 += c as f64;
                e.1[h] += c as f64;
            }
        }
        let a = config.profile_prior_windows;
        let types: BTreeMap<String, Baseline> = sums
            .into_iter()
            .map(|(t, (sum, hours))| {
                let mean = sum / n;
                let hourly = if config.hour_of_day {
                    (0..24)
                        .map(|h| (hours[h] + a * mean) / (per_hour[h] + a))
                        .collect()
                } else {
                    Vec::new()
                };
                let b = Baseline {
                    mean,
                    hourly,
                    phi: 0.0,
                };
                (t.to_string(), b)
            })
            .collect();
        let mut model = MixModel {
            config,
            types,
            volume_lo: 0.0,
            volume_hi: f64::MAX,
            threshold: 0.0,
            trained_windows: windows.len(),
        };
        // Volume factors, then overdispersion by moments against the volume-scaled baseline.
        let mut vols: Vec<f64> = windows.iter().map(|w| model.volume(w)).collect();
        let vol_of: Vec<f64> = vols.clone();
        model.volume_lo = quantile(&mut vols, 0.005);
        model.volume_hi = quantile(&mut vols, 0.995);
        let mut moments: FxHashMap<String, (f64, f64)> = FxHashMap::default();
        for (w, &v) in windows.iter().zip(&vol_of) {
            let h = hour_of(w.start_ns);
            for (t, b) in &model.types {
                let mu = (v * b.base(h)).max(model.config.min_expected);
                let x = w.counts.get(t).copied().unwrap_or(0) as f64;
                let m = moments.entry(t.clone()).or_insert((0.0, 0.0));
                m.0 += (x - mu) * (x - mu) - mu;
                m.1 += mu * mu;
            }
        }
        for (t, b) in model.types.iter_mut() {
            if let Some(&(num, den)) = moments.get(t) {
                if den > 0.0 {
                    b.phi = (num / den).clamp(0.0, 4.0);
                }
            }
        }
        // The threshold: the training history scored as the detector would score it.
        let mut drift = FxHashMap::default();
        let mut scores: Vec<f64> = windows
            .iter()
            .map(|w| {
                let counts: FxHashMap<&str, u64> =
                    w.counts.iter().map(|(t, &c)| (t.as_str(), c)).collect();
                model.score(w.start_ns, &counts, &mut drift).0
            })
            .collect();
        let q = quantile(&mut scores, model.config.threshold_quantile);
        model.threshold = (q * model.config.threshold_margin).max(model.config.noise_allowance);
        Ok(model)
    }

    /// The settings it was trained with.
    pub fn config(&self) -> &MixConfig {
        &self.config
    }

    /// The score above which a window is out of line.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// How many windows it was trained on.
    pub fn trained_windows(&self) -> usize {
        self.trained_windows
    }

    /// The event types seen in training, sorted.
    pub fn event_types(&self) -> impl Iterator<Item = &str> {
        self.types.keys().map(String::as_str)
    }

    /// The count of `event_type` expected in the window starting at `start_ns` at normal
    /// volume (0 for a type never seen).
    pub fn expected(&self, event_type: &str, start_ns: i64) -> f64 {
        self.types
            .get(event_type)
            .map_or(0.0, |b| b.base(hour_of(start_ns)))
    }

    /// The window's volume factor: the weighted median of observed over expected across
    /// types expected at least once per window, clamped to the trained range.
    fn volume(&self, w: &MixWindow) -> f64 {
        let counts: FxHashMap<&str, u64> = w.counts.iter().map(|(t, &c)| (t.as_str(), c)).collect();
        self.volume_of(w.start_ns, &counts)
    }

    fn volume_of(&self, start_ns: i64, counts: &FxHashMap<&str, u64>) -> f64 {
        let h = hour_of(start_ns);
        let mut ratios: Vec<(f64, f64)> = self
            .types
            .iter()
            .filter_map(|(t, b)| {
                let base = b.base(h);
                (base >= 1.0).then(|| {
                    let x = counts.get(t.as_str()).copied().unwrap_or(0) as f64;
                    (x / base, base)
                })
            })
            .collect();
        if ratios.is_empty() {
            return 1.0;
        }
        ratios.sort_by(|a, b| a.0.total_cmp(&b.0));
        let half = ratios.iter().map(|r| r.1).sum::<f64>() / 2.0;
        let mut acc = 0.0;
        let mut v = ratios[ratios.len() - 1].0;
        for (r, wgt) in &ratios {
            acc += wgt;
            if acc >= half {
                v = *r;
                break;
            }
        }
        v.clamp(self.volume_lo, self.volume_hi)
    }

    /// Scores one window: the score, and every type's deviation (unsorted).
    fn score(
        &self,
        start_ns: i64,
        counts: &FxHashMap<&str, u64>,
        drift: &mut FxHashMap<String, f64>,
    ) -> (f64, Vec<TypeDeviation>) {
        let c = &self.config;
        let h = hour_of(start_ns);
        let v = self.volume_of(start_ns, counts);
        let alpha = c.drift_alpha;
        let drift_var = if alpha > 0.0 {
            alpha / (2.0 - alpha)
        } else {
            1.0
        };
        let mut devs = Vec::new();
        let mut score = 0.0;
        for (t, b) in &self.types {
            let mu = (v * b.base(h)).max(c.min_expected);
            let x = counts.get(t.as_str()).copied().unwrap_or(0);
            let d = deviance(x as f64, mu, b.phi);
            let mut contribution = d;
            if alpha > 0.0 {
                let z = if (x as f64) >= mu {
                    d.sqrt()
                } else {
                    -d.sqrt()
                };
                let e = drift.entry(t.clone()).or_insert(0.0);
                *e = (1.0 - alpha) * *e + alpha * z.clamp(-DRIFT_CLIP, DRIFT_CLIP);
                contribution = contribution.max(*e * *e / drift_var);
            }
            score += (contribution - c.noise_allowance).max(0.0);
            if contribution > c.noise_allowance {
                devs.push(TypeDeviation {
                    event_type: t.clone(),
                    observed: x,
                    expected: mu,
                    direction: if (x as f64) >= mu {
                        Direction::High
                    } else {
                        Direction::Low
                    },
                    score: contribution,
                });
            }
        }
        for (t, &x) in counts {
            if x == 0 || self.types.contains_key(*t) {
                continue;
            }
            let d = deviance(x as f64, c.unseen_rate, 0.0);
            score += (d - c.noise_allowance).max(0.0);
            if d > c.noise_allowance {
                devs.push(TypeDeviation {
                    event_type: t.to_string(),
                    observed: x,
                    expected: c.unseen_rate,
                    direction: Direction::New,
                    score: d,
                });
            }
        }
        (score, devs)
    }
}

fn check_config(c: &MixConfig) -> Result<(), TrainError> {
    let bad = |name, detail| Err(TrainError::BadConfig { name, detail });
    if c.window_ns < 1_000_000_000 {
        return bad("window_ns", "at least one second");
    }
    if !(c.unseen_rate > 0.0 && c.unseen_rate.is_finite()) {
        return bad("unseen_rate", "above 0");
    }
    if !(c.min_expected > 0.0 && c.min_expected.is_finite()) {
        return bad("min_expected", "above 0");
    }
    if !(0.0..1.0).contains(&c.drift_alpha) {
        return bad("drift_alpha", "0 to below 1");
    }
    if !(0.0..=1.0).contains(&c.threshold_quantile) {
        return bad("threshold_quantile", "0 to 1");
    }
    let finite_nonneg = |x: f64| x.is_finite() && x >= 0.0;
    if !finite_nonneg(c.threshold_margin)
        || !finite_nonneg(c.noise_allowance)
        || !finite_nonneg(c.profile_prior_windows)
    {
        return bad(
            "threshold_margin, noise_allowance or profile_prior_windows",
            "a finite number, 0 or more",
        );
    }
    Ok(())
}

#[path = "mix_detector.rs"]
mod detector;
pub use detector::MixDetector;

#[cfg(test)]
#[path = "mix_tests.rs"]
mod tests;
