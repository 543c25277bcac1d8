//! The band over stored history, computed on demand: the series' stored
//! samples in a range are replayed through a fresh copy of its detector with
//! the active model (from a day earlier, so a model with online state, such
//! as MA or Holt-Winters, is settled by the range's start). History imported
//! after the fact, or from before the rule existed, gets a band this way;
//! the live band (`argus_baseline_*`) is written only as samples arrive.
//!
//! ```no_run
//! # fn f(shared: &argus_dynamic::engine::Shared, labels: &argus_model::Labels) {
//! use argus_dynamic::band::history_band;
//! let points = history_band(shared, "OrdersDrop", labels, 0, 86_400_000, 2000).unwrap();
//! // None: the series has no trained model yet.
//! # let _ = points;
//! # }
//! ```

use argus_detect::detector::SeriesDetector;
use argus_model::Labels;

use crate::engine::Shared;
use crate::error::DynamicError;

/// Replay starts this long before the asked range.
const SETTLE_MS: i64 = 86_400_000;

/// One stored sample with its band, as the active model judges it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandPoint {
    /// Sample time, ms.
    pub t: i64,
    /// The stored value.
    pub value: f64,
    /// Expected value.
    pub expected: f64,
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// Alert level, 0–4.
    pub level: u8,
}

/// The band of `labels` under rule `rule` over `[start, end]`, at most
/// `max_points` points (evenly thinned); `None` while the series has no
/// trained model. Fails when the rule or series is unknown.
pub fn history_band(
    shared: &Shared,
    rule: &str,
    labels: &Labels,
    start: i64,
    end: i64,
    max_points: usize,
) -> Result<Option<Vec<BandPoint>>, DynamicError> {
    if end < start {
        return Err(DynamicError::Input(format!(
            "the range ends ({end} ms) before it starts ({start} ms)"
        )));
    }
    let (i, r) = shared
        .rule_named(rule)
        .ok_or_else(|| DynamicError::Input(format!("no dynamic rule is named {rule:?}")))?;
    let model = {
        let all = shared.series.lock();
        let st = all.get(i).and_then(|m| m.get(labels)).ok_or_else(|| {
            DynamicError::Input(format!(
                "the rule {rule:?} does not watch the series {labels}"
            ))
        })?;
        match st.det.model() {
            Some(m) => m.clone(),
            None => return Ok(None),
        }
    };
    let mut det = SeriesDetector::new(r.spec.clone())?;
    det.install(model);
    let (ts, vs) =
        crate::trainer::history(&shared.db, labels, start.saturating_sub(SETTLE_MS), end)
            .map_err(DynamicError::Input)?;
    let mut out = Vec::new();
    for (t, v) in ts.into_iter().zip(vs) {
        let Ok(x) = det.observe(t, v) else { continue };
        if t >= start {
            out.push(BandPoint {
                t,
                value: v,
                expected: x.expected,
                lower: x.lower,
                upper: x.upper,
                level: x.level,
            });
        }
    }
    let max = max_points.max(1);
    if out.len() > max {
        let step = out.len().div_ceil(max);
        out = out.into_iter().step_by(step).collect();
    }
    Ok(Some(out))
}
