//! The streaming API: one [`SeriesDetector`] per series, fed each sample as
//! it arrives; every call returns a [`Verdict`], the explanation a dynamic
//! alert carries.
//!
//! - Build it from a validated, shared [`RuleSpec`]. Until a model is
//!   installed the robust short-history model judges, and verdicts say
//!   `cold_start: true` and `algorithm: cold_start`.
//! - The server reads history from the store, calls [`crate::train::train`]
//!   on a blocking pool (e.g. when [`SeriesDetector::needs_training`]), and
//!   installs the active model with [`SeriesDetector::install`].
//! - Per-series mutable state is [`DetectorState`] (fixed size, no heap);
//!   the spec and model are `Arc`s shared across clones.
//!
//! - With an `anomaly` section the spec also runs the streaming
//!   [`crate::anomaly::AnomalyScorer`]; a detection on the alerting side
//!   holds the level at 1 or more for `anomaly_hold_minutes`.
//!
//! Score: 0 at the expected value, 1 at the bound on the value's side,
//! `1 + N` beyond it when that side alerts; departures on the side the kind
//! ignores (e.g. business-volume overflow) are capped at 1.
//!
//! ```
//! use std::sync::Arc;
//! use argus_detect::detector::SeriesDetector;
//! use argus_detect::spec::RuleSpec;
//!
//! let spec: RuleSpec = serde_json::from_str(r#"{"kind":"business_volume"}"#).unwrap();
//! let mut d = SeriesDetector::new(Arc::new(spec)).unwrap();
//! for i in 0..60 {
//!     d.observe(i * 60_000, 100.0 + (i % 5) as f64).unwrap();
//! }
//! let drop = d.observe(60 * 60_000, 20.0).unwrap();
//! assert!(drop.cold_start && drop.level >= 1 && drop.score > 1.0);
//! let overflow = d.observe(61 * 60_000, 500.0).unwrap();
//! assert_eq!(overflow.level, 0); // a rise is normal for business volume
//! ```

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::anomaly::AnomalyScorer;
use crate::baseline::robust::ColdStart;
use crate::baseline::{Band, Baseline, OnlineState};
use crate::kind::{saturation_level, Direction, Kind, RiseCounter, Side};
use crate::levels::deviation;
use crate::spec::{Algorithm, RuleSpec};
use crate::train::TrainedModel;
use crate::DetectError;

/// The outcome of one sample: value, band, N, level and provenance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Sample time, ms.
    pub ts_ms: i64,
    /// The value.
    pub value: f64,
    /// Expected value (NaN while cold start has too few points).
    pub expected: f64,
    /// Lower bound (−∞ while there is no band).
    pub lower: f64,
    /// Upper bound (+∞ while there is no band).
    pub upper: f64,
    /// 0–1 inside the band, above 1 outside on an alerting side.
    pub score: f64,
    /// Relative excess beyond the bound (0 inside).
    pub n: f64,
    /// Alert level, 0 = normal, 1–4.
    pub level: u8,
    /// Where the value is relative to the band.
    pub side: Side,
    /// The rule's direction.
    pub direction: Direction,
    /// The rule's kind.
    pub kind: Kind,
    /// The algorithm that judged.
    pub algorithm: Algorithm,
    /// Model version (0 = none, cold start).
    pub model_version: u64,
    /// The model's training window, ms.
    pub training_window: Option<(i64, i64)>,
    /// Whether the cold-start model judged.
    pub cold_start: bool,
    /// The streaming anomaly scorer's score for this sample (0–1; `None`
    /// when the rule has no `anomaly` section).
    pub anomaly: Option<f64>,
    /// Whether an anomaly the scorer reported on the alerting side (this
    /// sample or within `anomaly_hold_minutes` before it) holds the level
    /// at 1 or more.
    pub anomaly_active: bool,
}

/// Per-series mutable state (fixed size, serializable).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetectorState {
    /// The model's online state.
    pub online: OnlineState,
    /// Rises in the last five minutes (saturation rules).
    pub rises: RiseCounter,
    /// The last 64 values (cold start).
    pub cold: ColdStart,
    /// Samples observed.
    pub seen: u64,
    /// Time of the last sample, ms.
    pub last_ts: i64,
    /// Until when (ms) an anomaly the scorer reported holds the level.
    #[serde(default = "never")]
    pub anomaly_until: i64,
}

fn never() -> i64 {
    i64::MIN
}

impl Default for DetectorState {
    fn default() -> Self {
        Self {
            online: OnlineState {
                level: 0.0,
                trend: 0.0,
            },
            rises: RiseCounter::default(),
            cold: ColdStart::default(),
            seen: 0,
            last_ts: i64::MIN,
            anomaly_until: i64::MIN,
        }
    }
}

/// A fresh anomaly scorer when the rule has an `anomaly` section.
fn new_scorer(spec: &RuleSpec) -> Option<Box<AnomalyScorer>> {
    spec.anomaly
        .as_ref()
        .map(|c| Box::new(AnomalyScorer::new(c.clone())))
}

/// The detector of one series.
#[derive(Debug, Clone)]
pub struct SeriesDetector {
    spec: Arc<RuleSpec>,
    model: Option<Arc<TrainedModel>>,
    state: DetectorState,
    /// The streaming anomaly scorer, when the rule has an `anomaly` section
    /// (its state is not persisted: it restarts cold).
    scorer: Option<Box<AnomalyScorer>>,
}

impl SeriesDetector {
    /// A detector in cold start. Fails if the spec is invalid.
    pub fn new(spec: Arc<RuleSpec>) -> Result<Self, DetectError> {
        Self::from_parts(spec, None, DetectorState::default())
    }

    /// Restores a detector from persisted parts.
    pub fn from_parts(
        spec: Arc<RuleSpec>,
        model: Option<Arc<TrainedModel>>,
        state: DetectorState,
    ) -> Result<Self, DetectError> {
        spec.validate()?;
        Ok(Self {
            scorer: new_scorer(&spec),
            spec,
            model,
            state,
        })
    }

    /// A copy with the same rule and model and a fresh state (the model's
    /// initial online state, an empty cold-start window, a new anomaly
    /// scorer), e.g. to replay stored history into.
    pub fn fresh(&self) -> Self {
        let mut d = Self {
            spec: self.spec.clone(),
            model: None,
            state: DetectorState::default(),
            scorer: new_scorer(&self.spec),
        };
        if let Some(m) = &self.model {
            d.install(m.clone());
        }
        d
    }

    /// Installs a trained model; its online state starts where training ended.
    pub fn install(&mut self, model: Arc<TrainedModel>) {
        self.state.online = model.model.initial_state();
        self.model = Some(model);
    }

    /// The installed model, if any.
    pub fn model(&self) -> Option<&Arc<TrainedModel>> {
        self.model.as_ref()
    }

    /// The rule.
    pub fn spec(&self) -> &RuleSpec {
        &self.spec
    }

    /// The mutable state (persist it with serde).
    pub fn state(&self) -> &DetectorState {
        &self.state
    }

    /// Whether the series has no model yet and has seen `min_points` samples.
    pub fn needs_training(&self) -> bool {
        self.model.is_none() && self.state.seen >= self.spec.min_points as u64
    }

    /// Scores one sample and learns from it. Errors (state untouched) on a
    /// non-finite value or a timestamp older than the last one.
    pub fn observe(&mut self, ts_ms: i64, value: f64) -> Result<Verdict, DetectError> {
        if !value.is_finite() {
            return Err(DetectError::Input(format!(
                "non-finite value {value} at {ts_ms} ms"
            )));
        }
        if ts_ms < self.state.last_ts {
            return Err(DetectError::Input(format!(
                "sample at {ts_ms} ms is older than the last one at {} ms",
                self.state.last_ts
            )));
        }
        let spec = &*self.spec;
        let st = &mut self.state;
        let direction = spec.direction();
        let anomaly = self.scorer.as_mut().map(|s| {
            let side = if value >= s.local_level() {
                Side::Above
            } else {
                Side::Below
            };
            let score = s.update(ts_ms.div_euclid(1000), value);
            if s.fired() && direction.alerts_on(side) {
                let hold = i64::from(spec.anomaly_hold_minutes) * 60_000;
                st.anomaly_until = ts_ms.saturating_add(hold);
            }
            score
        });
        let anomaly_active = anomaly.is_some() && ts_ms <= st.anomaly_until;
        let rises = st.rises.observe(ts_ms, value);
        let (band, scale, algorithm) = match &self.model {
            Some(m) => (
                m.model.band(ts_ms, &st.online),
                m.model.scale(),
                m.algorithm,
            ),
            None => match st
                .cold
                .band(spec.cold_start_sigmas, spec.cold_start_min_points)
            {
                Some(b) => (
                    b,
                    ColdStart::scale(&b, spec.cold_start_sigmas),
                    Algorithm::ColdStart,
                ),
                None => (Band::OPEN, 0.0, Algorithm::ColdStart),
            },
        };
        let side = if value < band.lower {
            Side::Below
        } else if value > band.upper {
            Side::Above
        } else {
            Side::Inside
        };
        let floor = scale.max(0.5 * (band.upper - band.lower));
        let n = match side {
            Side::Below => deviation(value, band.lower, floor),
            Side::Above => deviation(value, band.upper, floor),
            Side::Inside => 0.0,
        };
        let alerting = direction.alerts_on(side);
        let n_level = if alerting { spec.levels().level(n) } else { 0 };
        let level = if spec.kind == Kind::Saturation {
            saturation_level(side, n_level, value, rises, &spec.saturation())
        } else {
            n_level
        };
        let level = if anomaly_active { level.max(1) } else { level };
        let score = match side {
            Side::Inside => {
                let bound = if value < band.expected {
                    band.lower
                } else {
                    band.upper
                };
                let half = (bound - band.expected).abs();
                if half > 0.0 && half.is_finite() {
                    ((value - band.expected).abs() / half).min(1.0)
                } else {
                    0.0
                }
            }
            _ if alerting => 1.0 + n,
            _ => 1.0,
        };
        if let Some(m) = &self.model {
            m.model.learn(value, &band, &mut st.online);
        }
        st.cold.push(value);
        st.seen += 1;
        st.last_ts = ts_ms;
        Ok(Verdict {
            ts_ms,
            value,
            expected: band.expected,
            lower: band.lower,
            upper: band.upper,
            score,
            n,
            level,
            side,
            direction,
            kind: spec.kind,
            algorithm,
            model_version: self.model.as_ref().map_or(0, |m| m.version),
            training_window: self.model.as_ref().map(|m| m.window),
            cold_start: self.model.is_none(),
            anomaly,
            anomaly_active,
        })
    }
}

#[cfg(test)]
mod tests;
