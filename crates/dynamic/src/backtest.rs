//! `argus backtest`'s computation: replays one series' stored history
//! through a dynamic rule in streaming order, as the server would have run
//! it (cold start, first training at `min_points`, retraining every
//! `retrain_interval` of sample time on the last `training_window`, `for`),
//! and returns the alerts that would have fired.
//!
//! ```
//! use argus_dynamic::backtest::backtest_series;
//! use argus_dynamic::config::{compile_rules, DynamicRuleConfig};
//! use argus_model::Labels;
//!
//! let cfg: Vec<DynamicRuleConfig> = serde_saphyr::from_str(
//!     "- {name: Lat, selector: lat, detector: {kind: latency, period: none, min_points: 200}}\n").unwrap();
//! let rule = &compile_rules(&cfg).unwrap()[0];
//! let ts: Vec<i64> = (0..400).map(|i| i * 60_000).collect();
//! let mut vs: Vec<f64> = (0..400).map(|i| 100.0 + (i % 7) as f64).collect();
//! vs[300] = 400.0; // one spike after the first training
//! let r = backtest_series(rule, &Labels::from_pairs(&[("__name__", "lat")]), &ts, &vs).unwrap();
//! assert_eq!(r.episodes.len(), 1);
//! assert_eq!(r.episodes[0].start_ms, 300 * 60_000);
//! assert!(r.trainings >= 1);
//! ```

use std::sync::Arc;

use argus_detect::detector::SeriesDetector;
use argus_detect::train::{train, TrainInput};
use argus_model::Labels;

use crate::alerts::{AlertTrack, Transition};
use crate::config::CompiledRule;
use crate::error::DynamicError;

/// One alert that would have fired.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    /// The series.
    pub series: Labels,
    /// When it fired (sample time, ms).
    pub start_ms: i64,
    /// When it resolved; `None` if still firing at the end of the data.
    pub end_ms: Option<i64>,
    /// Highest level reached.
    pub max_level: u8,
    /// The value that fired it.
    pub value: f64,
    /// The algorithm and model version that judged it.
    pub model: String,
}

/// The replay's outcome for one series.
#[derive(Debug, Clone, Default)]
pub struct BacktestResult {
    /// Alerts that would have fired, in time order.
    pub episodes: Vec<Episode>,
    /// Samples scored.
    pub samples: usize,
    /// Successful trainings.
    pub trainings: usize,
    /// Failed trainings, with why.
    pub training_errors: Vec<String>,
}

/// Replays `(ts, vs)` (ascending; non-finite values are skipped).
pub fn backtest_series(
    rule: &CompiledRule,
    series: &Labels,
    ts: &[i64],
    vs: &[f64],
) -> Result<BacktestResult, DynamicError> {
    if ts.len() != vs.len() {
        return Err(DynamicError::Input(format!(
            "{} timestamps but {} values",
            ts.len(),
            vs.len()
        )));
    }
    let spec = rule.spec.clone();
    let mut det = SeriesDetector::new(spec.clone())?;
    let mut track = AlertTrack::default();
    // Only `for` matters here: a backtest sends nothing.
    let life = rule.lifecycle(0);
    let mut out = BacktestResult::default();
    let mut open: Option<Episode> = None;
    let mut last_attempt: Option<i64> = None;
    for i in 0..ts.len() {
        let (t, x) = (ts[i], vs[i]);
        if !x.is_finite() {
            continue;
        }
        let Ok(v) = det.observe(t, x) else { continue };
        out.samples += 1;
        let model = format!("{} v{}", v.algorithm.as_str(), v.model_version);
        match track.step(t, v.level, &life) {
            Transition::None => {}
            Transition::Fire { level } => {
                open = Some(Episode {
                    series: series.clone(),
                    start_ms: t,
                    end_ms: None,
                    max_level: level,
                    value: x,
                    model,
                });
            }
            Transition::Escalate { to, .. } => {
                if let Some(e) = &mut open {
                    e.max_level = e.max_level.max(to);
                }
            }
            Transition::Resolve { level } => {
                if let Some(mut e) = open.take() {
                    e.max_level = e.max_level.max(level);
                    e.end_ms = Some(t);
                    out.episodes.push(e);
                }
            }
        }
        let due = match det.model() {
            None => det.needs_training() && last_attempt.is_none_or(|a| t - a >= rule.retrain_ms),
            Some(_) => last_attempt.is_none_or(|a| t - a >= rule.retrain_ms),
        };
        if due {
            last_attempt = Some(t);
            let start = t.saturating_sub(rule.window_ms);
            let j0 = ts[..=i].partition_point(|&x| x < start);
            let (wt, wv): (Vec<i64>, Vec<f64>) = ts[j0..=i]
                .iter()
                .zip(&vs[j0..=i])
                .filter(|(_, v)| v.is_finite())
                .map(|(a, b)| (*a, *b))
                .unzip();
            let input = TrainInput {
                ts: &wt,
                values: &wv,
                flagged: None,
            };
            let prev = det.model().map(|m| (**m).clone());
            match train(&spec, &input, prev.as_ref(), t, &mut |_| {}) {
                Ok(o) => {
                    out.trainings += 1;
                    if o.replaced {
                        det.install(Arc::new(o.candidate));
                    }
                }
                Err(e) => out.training_errors.push(format!("at {t} ms: {e}")),
            }
        }
    }
    if let Some(mut e) = open {
        e.max_level = e.max_level.max(track.level);
        out.episodes.push(e);
    }
    Ok(out)
}
