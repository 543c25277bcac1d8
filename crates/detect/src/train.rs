//! Training: fit, backtest, version and replace models (seed 002).
//!
//! - **When:** the server calls [`train`] once a series has
//!   [`RuleSpec::min_points`] points, and again periodically or by hand,
//!   passing the previous window plus the new one. It runs on a blocking
//!   pool; `progress` reports each step.
//! - **Weights:** a point of age `a` (from the newest point) weighs
//!   `0.5^(a / half_life)`; points flagged by the caller or by the previous
//!   model (outside its band, whether or not they reached an alert level)
//!   stay in the data, marked, at `flagged_weight` (unless the previous
//!   model flags over half the window: that is a regime change, not an
//!   incident). Every fit is also two-pass: fit, flag the points at an
//!   alert level outside the first band, refit, so a first training on
//!   data with an incident does not learn the incident. DataCluster also
//!   keeps the previous model's phases where a class seen on one day has
//!   only flagged points ([`ClusterModel::fit_after`]).
//! - **Algorithm:** declared, inherited from the previous model (the seed:
//!   retraining keeps algorithm and parameters), or chosen by backtest: each
//!   candidate is fitted on the older `1 − holdout_fraction` of the history
//!   and scored on the newest part, then the winner is refitted on all of it.
//! - **Metric** ([`EvalScore`]): the mean interval score (Gneiting &
//!   Raftery 2007) of the band on the holdout points (less those the caller
//!   flagged), divided by the
//!   holdout's robust spread; it rewards narrow bands and punishes misses by
//!   `2/α` (α = 0.01). Lower is better. Coverage and normalised MAE are
//!   reported beside it.
//! - **Replacement:** the new model becomes active only if its score beats
//!   the previous model's score on the same holdout; both are returned.
//!
//! ```
//! use argus_detect::spec::RuleSpec;
//! use argus_detect::train::{train, TrainInput};
//!
//! let ts: Vec<i64> = (0..2000).map(|i| i * 60_000).collect();
//! let v: Vec<f64> = (0..2000).map(|i| 40.0 + (i % 5) as f64).collect();
//! let spec = RuleSpec { min_points: 1000, period: "none".parse().unwrap(), ..Default::default() };
//! let out = train(&spec, &TrainInput { ts: &ts, values: &v, flagged: None }, None, 0, &mut |_| {}).unwrap();
//! assert!(out.replaced);
//! assert_eq!(out.active().version, 1);
//! ```

use serde::{Deserialize, Serialize};

use crate::baseline::cluster::ClusterModel;
use crate::baseline::holt::HoltModel;
use crate::baseline::kde::KdeModel;
use crate::baseline::ma::MaModel;
use crate::baseline::{robust_scale, Baseline, Model, TrainData};
use crate::kind::Kind;
use crate::levels::deviation;
use crate::period::Period;
use crate::spec::{Algorithm, RuleSpec};
use crate::DetectError;

/// Miss penalty level of the interval score.
const IS_ALPHA: f64 = 0.01;

/// How well a model's band fits held-out data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalScore {
    /// Mean interval score / robust spread; lower is better.
    pub interval_score: f64,
    /// Share of evaluated points inside the band.
    pub coverage: f64,
    /// Mean |value − expected| / robust spread.
    pub nmae: f64,
    /// Points evaluated.
    pub points: usize,
}

/// A trained, versioned model with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainedModel {
    /// 1 for the first model of a series, +1 per training.
    pub version: u64,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The period used.
    pub period: Period,
    /// First and last timestamp of the training window, ms.
    pub window: (i64, i64),
    /// Points trained on.
    pub points: usize,
    /// Points marked as flagged (down-weighted).
    pub flagged: usize,
    /// Backtest score.
    pub score: EvalScore,
    /// When it was trained (the caller's clock), ms.
    pub trained_at_ms: i64,
    /// The model.
    pub model: Model,
}

/// A step of training, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// What is happening.
    pub stage: &'static str,
    /// Steps done.
    pub done: u32,
    /// Steps in all.
    pub total: u32,
}

/// History to train on (the server reads it from the store).
#[derive(Debug, Clone, Copy)]
pub struct TrainInput<'a> {
    /// Timestamps, ms, strictly ascending.
    pub ts: &'a [i64],
    /// Values; non-finite ones are skipped.
    pub values: &'a [f64],
    /// Points already known to be anomalous (e.g. alerted on), if any.
    pub flagged: Option<&'a [bool]>,
}

/// What training produced. Both versions are kept with their scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// The model just trained.
    pub candidate: TrainedModel,
    /// The previous model, if any, with its score on the same holdout.
    pub previous: Option<TrainedModel>,
    /// Whether the candidate replaces the previous model.
    pub replaced: bool,
}

impl TrainOutcome {
    /// The model to use from now on.
    pub fn active(&self) -> &TrainedModel {
        match (&self.previous, self.replaced) {
            (Some(p), false) => p,
            _ => &self.candidate,
        }
    }
}

/// Fits one algorithm (two-pass, robust): points outside the first fit's
/// band are down-weighted by `flagged_weight` and the model is refitted.
/// `previous` is the model being replaced: DataCluster keeps what it knew
/// of a phase where the new window's own evidence is weak.
// Parallel slices are walked by index.
#[allow(clippy::needless_range_loop)]
pub fn fit(
    alg: Algorithm,
    period: Period,
    data: &TrainData<'_>,
    spec: &RuleSpec,
    previous: Option<&Model>,
) -> Result<Model, DetectError> {
    let first = fit_once(alg, period, data, spec, previous)?;
    // Second pass: down-weight what the first fit calls anomalous.
    let mut st = first.initial_state();
    let scale = first.scale();
    let levels = spec.levels();
    let mut w = data.weights.to_vec();
    let mut any = false;
    // MA and Holt-Winters replay from their end-of-fit state: an
    // approximation for the first few points, which their averages forget fast.
    for i in 0..data.len() {
        let b = first.band(data.ts[i], &st);
        let x = data.values[i];
        let out = (x < b.lower
            && levels.level(deviation(x, b.lower, scale.max(b.upper - b.lower))) > 0)
            || (x > b.upper
                && levels.level(deviation(x, b.upper, scale.max(b.upper - b.lower))) > 0);
        if out {
            w[i] *= spec.flagged_weight;
            any = true;
        }
        first.learn(x, &b, &mut st);
    }
    if !any {
        return Ok(first);
    }
    fit_once(
        alg,
        period,
        &TrainData::new(data.ts, data.values, &w),
        spec,
        previous,
    )
}

fn fit_once(
    alg: Algorithm,
    period: Period,
    data: &TrainData<'_>,
    spec: &RuleSpec,
    previous: Option<&Model>,
) -> Result<Model, DetectError> {
    let band = spec.band();
    let off = spec.utc_offset_minutes;
    Ok(match alg {
        Algorithm::Ma => Model::Ma(MaModel::fit(data, spec.ma_window, &band)),
        Algorithm::Kde => {
            // KDE needs a phase; with no period it falls back to the day.
            let p = if period.ms > 0 {
                period.ms
            } else {
                crate::period::DAY_MS
            };
            Model::Kde(KdeModel::fit(data, p, off, &band))
        }
        Algorithm::DataCluster => Model::DataCluster(ClusterModel::fit_after(
            data,
            spec.calendar()?,
            spec.cluster_min_days,
            spec.cluster_merge_sigmas,
            &band,
            match previous {
                Some(Model::DataCluster(p)) => Some(p),
                _ => None,
            },
        )),
        Algorithm::HoltWinters => Model::HoltWinters(HoltModel::fit(data, period.ms, off, &band)),
        Algorithm::Auto | Algorithm::ColdStart => {
            return Err(DetectError::Config(format!(
                "cannot fit algorithm {}",
                alg.as_str()
            )))
        }
    })
}

/// Scores `model` on `eval` after replaying `warm` through its online state.
/// Points with `skip[i]` set are not scored (but still learned from).
pub fn evaluate(
    model: &Model,
    warm: &TrainData<'_>,
    eval: &TrainData<'_>,
    skip: &[bool],
) -> EvalScore {
    let mut st = model.initial_state();
    for i in 0..warm.len() {
        let b = model.band(warm.ts[i], &st);
        model.learn(warm.values[i], &b, &mut st);
    }
    let ones: Vec<(f64, f64)> = eval.values.iter().map(|&v| (v, 1.0)).collect();
    let scale = robust_scale(&ones);
    let (mut is, mut inside, mut ae, mut n) = (0.0, 0usize, 0.0, 0usize);
    for i in 0..eval.len() {
        let b = model.band(eval.ts[i], &st);
        let x = eval.values[i];
        if !skip.get(i).copied().unwrap_or(false) && b.lower.is_finite() && b.upper.is_finite() {
            let width = b.upper - b.lower;
            let miss = (b.lower - x).max(0.0) + (x - b.upper).max(0.0);
            is += width + 2.0 / IS_ALPHA * miss;
            if miss == 0.0 {
                inside += 1;
            }
            ae += (x - b.expected).abs();
            n += 1;
        }
        model.learn(x, &b, &mut st);
    }
    let nf = n.max(1) as f64;
    EvalScore {
        interval_score: if n == 0 {
            f64::INFINITY
        } else {
            is / nf / scale
        },
        coverage: inside as f64 / nf,
        nmae: ae / nf / scale,
        points: n,
    }
}

/// Trains a model for one series. `previous` is the active model, if any;
/// `now_ms` stamps the result (from the caller's clock).
pub fn train(
    spec: &RuleSpec,
    input: &TrainInput<'_>,
    previous: Option<&TrainedModel>,
    now_ms: i64,
    progress: &mut dyn FnMut(Progress),
) -> Result<TrainOutcome, DetectError> {
    spec.validate()?;
    let n_in = input.ts.len();
    if input.values.len() != n_in || input.flagged.is_some_and(|f| f.len() != n_in) {
        return Err(DetectError::Input(format!(
            "training input lengths differ: {} timestamps, {} values, {:?} flags",
            n_in,
            input.values.len(),
            input.flagged.map(<[bool]>::len)
        )));
    }
    let mut ts = Vec::with_capacity(n_in);
    let mut vals = Vec::with_capacity(n_in);
    let mut flags = Vec::with_capacity(n_in);
    for i in 0..n_in {
        if i > 0 && input.ts[i] <= input.ts[i - 1] {
            return Err(DetectError::Input(format!(
                "training timestamps must ascend: index {i} has {} after {}",
                input.ts[i],
                input.ts[i - 1]
            )));
        }
        if input.values[i].is_finite() {
            ts.push(input.ts[i]);
            vals.push(input.values[i]);
            flags.push(input.flagged.is_some_and(|f| f[i]));
        }
    }
    let n = ts.len();
    if n < 16 {
        return Err(DetectError::Input(format!(
            "training needs at least 16 finite points, got {n}"
        )));
    }
    // Mark what lies outside the previous model's band, alerted or not: an
    // incident that only just reached an alert level has most of its
    // points just inside it, and one Sunday's worth of them is all the
    // next model knows of Sundays. If it marks most of the window, the
    // series has changed regime rather than had an incident, and nothing
    // is down-weighted for it.
    let caller_flags = flags.clone();
    if let Some(prev) = previous {
        let m = &prev.model;
        let mut st = m.initial_state();
        let mut prev_flags = vec![false; n];
        for i in 0..n {
            let b = m.band(ts[i], &st);
            prev_flags[i] = vals[i] < b.lower || vals[i] > b.upper;
            m.learn(vals[i], &b, &mut st);
        }
        if prev_flags.iter().filter(|f| **f).count() * 2 < n {
            for (f, p) in flags.iter_mut().zip(prev_flags) {
                *f |= p;
            }
        }
    }
    let t_end = ts[n - 1];
    let half_life = spec.decay_half_life_days * 86_400_000.0;
    let weights: Vec<f64> = (0..n)
        .map(|i| {
            let age = (t_end - ts[i]) as f64;
            let w = 0.5f64.powf(age / half_life);
            if flags[i] {
                w * spec.flagged_weight
            } else {
                w
            }
        })
        .collect();
    let all = TrainData::new(&ts, &vals, &weights);

    let (period, candidates) = match previous {
        Some(p) => (p.period, vec![p.algorithm]),
        None => {
            let period = spec.period.resolve(&ts, &vals);
            let c = match spec.algorithm {
                // Business volume follows the calendar (the calendar model,
                // DataCluster); a backtest on the last days of a short
                // history cannot tell, since they may hold no weekend.
                Algorithm::Auto if spec.kind == Kind::BusinessVolume => {
                    vec![Algorithm::DataCluster]
                }
                Algorithm::Auto if period.ms == 0 => vec![Algorithm::Ma, Algorithm::HoltWinters],
                Algorithm::Auto => vec![
                    Algorithm::Ma,
                    Algorithm::Kde,
                    Algorithm::DataCluster,
                    Algorithm::HoltWinters,
                ],
                a => vec![a],
            };
            (period, c)
        }
    };
    let total = candidates.len() as u32 + 2;
    let split = ((n as f64) * (1.0 - spec.holdout_fraction)).round() as usize;
    let split = split.clamp(8, n - 8);
    let (head, hold) = (all.head(split), all.tail_from(split));
    let hold_skip = &caller_flags[split..];

    let mut best: Option<(Algorithm, EvalScore)> = None;
    for (k, &alg) in candidates.iter().enumerate() {
        progress(Progress {
            stage: "backtest",
            done: k as u32,
            total,
        });
        let m = fit(alg, period, &head, spec, previous.map(|p| &p.model))?;
        let s = evaluate(&m, &head.head(0), &hold, hold_skip);
        if best.is_none_or(|b| s.interval_score < b.1.interval_score) {
            best = Some((alg, s));
        }
    }
    let Some((alg, score)) = best else {
        return Err(DetectError::Config("no candidate algorithm".into()));
    };
    progress(Progress {
        stage: "fit",
        done: candidates.len() as u32,
        total,
    });
    let mut model = fit(alg, period, &all, spec, previous.map(|p| &p.model))?;
    if let (Model::DataCluster(m), Some(Model::DataCluster(p))) =
        (&mut model, previous.map(|p| &p.model))
    {
        m.inherit(p, spec.cluster_min_days);
    }
    let candidate = TrainedModel {
        version: previous.map_or(1, |p| p.version + 1),
        algorithm: alg,
        period,
        window: (ts[0], t_end),
        points: n,
        flagged: flags.iter().filter(|f| **f).count(),
        score,
        trained_at_ms: now_ms,
        model,
    };
    progress(Progress {
        stage: "compare",
        done: candidates.len() as u32 + 1,
        total,
    });
    let (previous, replaced) = match previous {
        None => (None, true),
        Some(p) => {
            let mut p = p.clone();
            p.score = evaluate(&p.model, &head, &hold, hold_skip);
            let better = score.interval_score < p.score.interval_score;
            (Some(p), better)
        }
    };
    progress(Progress {
        stage: "done",
        done: total,
        total,
    });
    Ok(TrainOutcome {
        candidate,
        previous,
        replaced,
    })
}

#[cfg(test)]
mod tests;
