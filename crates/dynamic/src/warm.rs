//! Warming a series' detector from its stored history, so that a restart,
//! a reload that rebuilt the rule, a training job that built it, or a
//! series first seen by this process does not start from nothing.
//!
//! The store already holds every acknowledged sample, so the detector's
//! online state (the band model's level, the cold-start window, the rise
//! counter and, with `anomaly`, the streaming scorer, which reports only
//! after about 700 samples) is rebuilt by replaying the series' last
//! [`WARM_POINTS`] stored samples through a fresh copy of its detector, off
//! the scoring path:
//! - The engine asks for it when a detector scores its first live sample
//!   (a stored model loaded at start waits for it too).
//! - The replay covers the stored samples up to the last one the live
//!   detector scored, so samples still on their way through the tap are
//!   newer and are scored live afterwards, once: every sample the live
//!   path accepts gets its alert evaluation exactly once.
//! - The copy replaces the live detector only if that detector scored
//!   nothing meanwhile and kept its model; otherwise the history is read
//!   again (up to three times).
//! - A detector that has already scored [`WARM_POINTS`] samples live, or at
//!   least as many as the store holds for the series (one large batch), is
//!   left as it is.
//! - Replayed samples send no alerts and write no series. A detection among
//!   the last `anomaly_hold_minutes` of them still holds the level of the
//!   next live samples, as it would have without the restart.
//!
//! A detector that has scored nothing live is not warmed: there is no cut
//! yet that keeps queued samples out of the replay (a cut at the server's
//! clock would replay a sample still in the tap, which the warmed detector
//! would then refuse as older, so its alert would never be evaluated).
//!
//! ```no_run
//! # async fn f(shared: std::sync::Arc<argus_dynamic::engine::Shared>,
//! #            labels: argus_model::Labels) {
//! use argus_dynamic::warm::{warm_one, WarmRequest};
//! let warmed = warm_one(&shared, &WarmRequest { rule: "Lat".into(), labels }).await;
//! # let _ = warmed;
//! # }
//! ```

use std::sync::atomic::Ordering;
use std::sync::Arc;

use argus_detect::detector::SeriesDetector;
use argus_model::Labels;
use tokio::sync::mpsc;

use crate::engine::Shared;
use crate::trainer::history;

/// Stored samples replayed into a detector.
pub const WARM_POINTS: usize = 1024;

/// Attempts before giving up when samples keep arriving during a replay.
const ATTEMPTS: usize = 3;

/// A request to warm one series of one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct WarmRequest {
    /// The rule's name.
    pub rule: String,
    /// The series.
    pub labels: Labels,
}

/// Serves warm requests one at a time until the channel closes.
pub async fn run(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<WarmRequest>) {
    while let Some(req) = rx.recv().await {
        if let Err(e) = warm_one(&shared, &req).await {
            tracing::debug!(series = ?req.labels, rule = %req.rule, error = %e, "Could not warm a detector from history.");
        }
    }
}

/// Replays the series' stored history into a fresh copy of its detector and
/// swaps it in; `Ok(true)` when it did.
pub async fn warm_one(shared: &Arc<Shared>, req: &WarmRequest) -> Result<bool, String> {
    for _ in 0..ATTEMPTS {
        let (fresh, rule, cut, live_seen) = {
            let all = shared.series.lock();
            let (r, rule) = shared
                .rule_named(&req.rule)
                .ok_or_else(|| format!("the rule {:?} is no longer configured", req.rule))?;
            let st = all
                .get(r)
                .and_then(|m| m.get(&req.labels))
                .ok_or("the series has no detector")?;
            let state = st.det.state();
            if state.seen >= WARM_POINTS as u64 || state.last_ts == i64::MIN {
                return Ok(false);
            }
            (st.det.fresh(), rule, state.last_ts, state.seen)
        };
        let to = cut;
        let from = to.saturating_sub(rule.window_ms);
        let (db, labels) = (shared.db.clone(), req.labels.clone());
        let warmed = tokio::task::spawn_blocking(move || -> Result<_, String> {
            let (ts, vs) = history(&db, &labels, from, to)?;
            let skip = ts.len().saturating_sub(WARM_POINTS);
            if (ts.len() - skip) as u64 <= live_seen {
                // The live detector has scored at least as much as the
                // store holds (one large batch): a replay adds nothing.
                return Ok(None);
            }
            let mut d = fresh;
            for (&t, &v) in ts.iter().zip(&vs).skip(skip) {
                // Out-of-order points are refused by the detector as they
                // would be live; the replay goes on.
                let _ = d.observe(t, v);
            }
            Ok(Some((d, ts.len() - skip)))
        })
        .await
        .map_err(|e| format!("the warm-up task failed: {e}"))??;
        let Some((warmed, replayed)) = warmed else {
            return Ok(false);
        };
        let mut all = shared.series.lock();
        let r = match shared.rule_named(&req.rule) {
            Some((r, now_rule)) if Arc::ptr_eq(&now_rule.spec, &rule.spec) => r,
            _ => return Err("the rule was changed by a reload during the warm-up".into()),
        };
        let st = all
            .get_mut(r)
            .and_then(|m| m.get_mut(&req.labels))
            .ok_or("the series disappeared during the warm-up")?;
        // Samples scored live meanwhile, or a newly installed model: again.
        if !may_swap(&st.det, cut, &warmed) {
            continue;
        }
        st.det = warmed;
        shared.metrics.warmed.fetch_add(1, Ordering::Relaxed);
        shared
            .metrics
            .warm_samples
            .fetch_add(replayed as u64, Ordering::Relaxed);
        return Ok(true);
    }
    Ok(false)
}

/// Whether `warmed`, replayed up to `cut` (the live detector's last sample
/// when the replay began), may replace `live`: only if `live` scored nothing
/// since and still has the model the copy was made with.
fn may_swap(live: &SeriesDetector, cut: i64, warmed: &SeriesDetector) -> bool {
    let version = |d: &SeriesDetector| d.model().map(|m| m.version);
    live.state().last_ts == cut && version(live) == version(warmed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_detect::train::{train, TrainInput};

    fn spec() -> Arc<argus_detect::spec::RuleSpec> {
        let c: Vec<crate::config::DynamicRuleConfig> =
            serde_saphyr::from_str("- {name: Lat, selector: lat, detector: {kind: latency}}\n")
                .unwrap();
        let rules = crate::config::compile_rules(&c).unwrap();
        rules[0].spec.clone()
    }

    #[test]
    fn a_copy_is_swapped_in_only_over_an_unchanged_detector() {
        let spec = spec();
        let mut live = SeriesDetector::new(spec.clone()).unwrap();
        let ts: Vec<i64> = (0..600).map(|i| i * 60_000).collect();
        let vs: Vec<f64> = (0..600).map(|i| 50.0 + (i % 4) as f64).collect();
        live.observe(ts[599], vs[599]).unwrap();
        let cut = live.state().last_ts;
        let mut warmed = live.fresh();
        for (&t, &v) in ts.iter().zip(&vs) {
            let _ = warmed.observe(t, v);
        }
        assert!(may_swap(&live, cut, &warmed));
        // A sample scored live during the replay: the copy lacks it.
        let mut newer = live.clone();
        newer.observe(600 * 60_000, 51.0).unwrap();
        assert!(!may_swap(&newer, cut, &warmed));
        // A model installed during the replay: the copy was made without it.
        let out = train(
            &spec,
            &TrainInput {
                ts: &ts,
                values: &vs,
                flagged: None,
            },
            None,
            7,
            &mut |_| {},
        )
        .unwrap();
        let mut trained = live.clone();
        trained.install(Arc::new(out.active().clone()));
        assert!(!may_swap(&trained, cut, &warmed));
    }
}
