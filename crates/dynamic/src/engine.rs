//! The detector task's state and its two jobs: scoring tapped batches
//! ([`Shared::process`]) and the once-a-second housekeeping
//! ([`Shared::tick`]: re-sending firing alerts, scheduling retraining).
//!
//! Per (rule, series) a [`SeriesState`] holds the streaming detector, the
//! output label sets, the alert state and the training status.
//!
//! ```no_run
//! # async fn f(shared: std::sync::Arc<argus_dynamic::engine::Shared>,
//! #            batch: argus_dynamic::tap::TapBatch) {
//! let trains = shared.process(batch); // scores, writes bands, sends alerts
//! # let _ = trains;
//! # }
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use argus_detect::detector::{SeriesDetector, Verdict};
use argus_detect::train::{Progress, TrainedModel};
use argus_model::{Clock, Labels};
use argus_tsdb::Db;
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;

use crate::alerts::{self, AlertTrack, Transition};
use crate::config::CompiledRule;
use crate::jobs::Job;
use crate::metrics::DetectMetrics;
use crate::sink::{AlertSink, DynamicAlert};
use crate::store::ModelStore;
use crate::tap::TapBatch;

/// Names of the output series, in [`SeriesState::outputs`] order. The last,
/// the streaming anomaly scorer's score (0–1, ≥ 0.5 when it reported the
/// sample with the default settings), is written only for rules with
/// `anomaly` on.
pub const OUTPUT_NAMES: [&str; 6] = [
    "argus_baseline_expected",
    "argus_baseline_lower",
    "argus_baseline_upper",
    "argus_anomaly_score",
    "argus_anomaly_level",
    "argus_anomaly_stream_score",
];

/// A failed training is not retried automatically for this long (ms).
const RETRY_MS: i64 = 10 * 60_000;

/// Training progress of one series, shared with the API.
#[derive(Debug, Default)]
pub struct TrainProgress(Mutex<(&'static str, u32, u32)>);

impl TrainProgress {
    /// Stage, steps done, steps in all.
    pub fn get(&self) -> (&'static str, u32, u32) {
        *self.0.lock()
    }
    /// Records a step.
    pub fn set(&self, p: Progress) {
        *self.0.lock() = (p.stage, p.done, p.total);
    }
}

/// One series under one rule.
#[derive(Debug)]
pub struct SeriesState {
    /// The streaming detector.
    pub det: SeriesDetector,
    /// Output label sets, in [`OUTPUT_NAMES`] order.
    pub outputs: [Labels; 6],
    /// Alert state.
    pub alert: AlertTrack,
    /// Set while a training is queued or running.
    pub training: Option<Arc<TrainProgress>>,
    /// The other model version (replaced, or a rejected candidate).
    pub other: Option<TrainedModel>,
    /// Whether `other` is a rejected candidate.
    pub other_rejected: bool,
    /// Last successful training (server clock).
    pub last_trained_ms: Option<i64>,
    /// Last training attempt (server clock).
    pub last_attempt_ms: Option<i64>,
    /// Why the last training failed.
    pub last_error: Option<String>,
    /// Whether the store's history was checked for a first training.
    pub probed: bool,
}

impl SeriesState {
    /// A fresh, untrained state.
    pub fn new(rule: &CompiledRule, series: &Labels) -> Result<Self, argus_detect::DetectError> {
        let det = SeriesDetector::new(rule.spec.clone())?;
        let base = {
            let mut l = series.without_metric_name();
            l.set("metric", series.metric_name().unwrap_or(""));
            l.set("rule", &rule.name);
            l
        };
        let outputs = OUTPUT_NAMES.map(|n| {
            let mut l = base.clone();
            l.set("__name__", n);
            l
        });
        Ok(SeriesState {
            det,
            outputs,
            alert: AlertTrack::default(),
            training: None,
            other: None,
            other_rejected: false,
            last_trained_ms: None,
            last_attempt_ms: None,
            last_error: None,
            probed: false,
        })
    }
}

/// A request to train one series.
#[derive(Debug)]
pub struct TrainRequest {
    /// The rule's name (its index may change with a reload).
    pub rule: String,
    /// The series.
    pub labels: Labels,
    /// Train even below `min_points` (by hand).
    pub force: bool,
    /// The job it belongs to, if started through the API.
    pub job: Option<Arc<Job>>,
}

/// Everything the detector, trainer and API share.
///
/// Lock order: `series`, then `rules`. A reload replaces `rules` and
/// `series` and bumps `generation` while holding `series`, so whoever holds
/// `series` sees rules, maps and generation that agree.
pub struct Shared {
    /// The rules, by index (read it with [`Shared::rules`]).
    pub rules: RwLock<Arc<[CompiledRule]>>,
    /// Per rule (same index): series → state.
    pub series: Mutex<Vec<HashMap<Labels, SeriesState>>>,
    /// The rule list's generation: 0 at start, bumped by every reload.
    pub generation: AtomicU64,
    /// The store.
    pub db: Db,
    /// The server's clock.
    pub clock: Arc<dyn Clock>,
    /// Where alerts go (the alert pipeline's ingress); set
    /// once the pipeline is up. Alerts before that are logged and dropped.
    pub alerts: std::sync::OnceLock<Arc<dyn AlertSink>>,
    /// Self-metrics.
    pub metrics: Arc<DetectMetrics>,
    /// Model persistence.
    pub store: ModelStore,
    /// Resend delay of firing alerts, ms.
    pub resend_ms: i64,
    /// The trainer's queue.
    pub train_tx: mpsc::UnboundedSender<TrainRequest>,
    /// Training jobs started through the API.
    pub jobs: Mutex<HashMap<u64, Arc<Job>>>,
    /// The next job id.
    pub next_job: AtomicU64,
    /// Warm-up requests for detectors built here (see `detect::warm`).
    pub warm_tx: mpsc::UnboundedSender<crate::warm::WarmRequest>,
}

impl Shared {
    /// The current rules (a snapshot; a reload swaps the list).
    pub fn rules(&self) -> Arc<[CompiledRule]> {
        self.rules.read().clone()
    }

    /// The index of the rule named `name` in the current list, with the rule.
    pub fn rule_named(&self, name: &str) -> Option<(usize, CompiledRule)> {
        let rules = self.rules.read();
        let i = rules.iter().position(|r| r.name == name)?;
        Some((i, rules[i].clone()))
    }

    /// Queues a training unless one is queued already; returns whether it queued.
    pub fn request_training(
        &self,
        st: &mut SeriesState,
        rule: &str,
        labels: &Labels,
        force: bool,
        job: Option<Arc<Job>>,
    ) -> bool {
        if st.training.is_some() && job.is_none() {
            return false;
        }
        st.training = Some(Arc::new(TrainProgress(Mutex::new(("queued", 0, 0)))));
        st.last_attempt_ms = Some(self.clock.now_ms());
        self.train_tx
            .send(TrainRequest {
                rule: rule.to_string(),
                labels: labels.clone(),
                force,
                job,
            })
            .is_ok()
    }

    /// Queues a warm-up of a detector that just scored its first live
    /// sample (see `detect::warm`); a closed channel (tests) only skips it.
    pub fn request_warm(&self, rule: &str, labels: &Labels) {
        let _ = self.warm_tx.send(crate::warm::WarmRequest {
            rule: rule.to_string(),
            labels: labels.clone(),
        });
    }

    fn send_alerts(&self, sent: Vec<DynamicAlert>) {
        match self.alerts.get() {
            Some(sink) => sink.send(sent),
            None => tracing::warn!(
                alerts = sent.len(),
                "Dynamic alerts arrived before the alert pipeline was connected; they were dropped."
            ),
        }
    }

    /// Scores a batch: band series into the store, alerts into the sink,
    /// first trainings queued.
    pub fn process(&self, batch: TapBatch) {
        let now = self.clock.now_ms();
        let mut out: Vec<(usize, Labels, i64, f64)> = Vec::new();
        let mut sent: Vec<DynamicAlert> = Vec::new();
        {
            let mut all = self.series.lock();
            let rules = self.rules();
            let generation = self.generation.load(Ordering::Acquire);
            let mut rematched = Vec::new();
            for s in &batch.samples {
                let labels = &s.series.labels;
                // Tapped before a reload: match against the current rules.
                let idx: &[u16] = if s.series.generation == generation {
                    &s.series.rules
                } else {
                    rematched.clear();
                    rematched.extend(
                        rules
                            .iter()
                            .enumerate()
                            .filter(|(_, r)| r.matches(labels))
                            // The rule count is capped at u16::MAX by `compile_rules`.
                            .map(|(i, _)| i as u16),
                    );
                    &rematched
                };
                for &r in idx {
                    let (Some(rule), Some(map)) =
                        (rules.get(usize::from(r)), all.get_mut(usize::from(r)))
                    else {
                        continue;
                    };
                    if !map.contains_key(labels) {
                        match SeriesState::new(rule, labels) {
                            Ok(st) => {
                                map.insert(labels.clone(), st);
                                self.metrics.series.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => {
                                tracing::error!(rule = %rule.name, error = %e, "Cannot build a detector.");
                                continue;
                            }
                        }
                    }
                    let Some(st) = map.get_mut(labels) else {
                        continue;
                    };
                    let v = match st.det.observe(s.t, s.v) {
                        Ok(v) => v,
                        Err(_) => {
                            self.metrics.refused.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    };
                    self.metrics.scored.fetch_add(1, Ordering::Relaxed);
                    if st.det.state().seen == 1 {
                        // Its first live sample: warm it from the store,
                        // cut at this sample (see `detect::warm`).
                        self.request_warm(&rule.name, labels);
                    }
                    push_outputs(&mut out, &st.outputs, &v);
                    self.step_alert(rule, labels, st, &v, now, &mut sent);
                    let untrained = st.det.model().is_none() && st.training.is_none();
                    let retry_ok = st.last_attempt_ms.is_none_or(|a| now - a >= RETRY_MS);
                    if untrained && (!st.probed || (st.det.needs_training() && retry_ok)) {
                        st.probed = true;
                        self.request_training(st, &rule.name, labels, false, None);
                    }
                }
            }
        }
        if !sent.is_empty() {
            let n = sent.len() as u64;
            let fresh = sent.iter().filter(|a| a.resolved_at_ms.is_none()).count();
            self.send_alerts(sent);
            let lat = batch.appended_at.elapsed();
            for _ in 0..fresh {
                self.metrics.alert_latency.observe(lat);
            }
            self.metrics.alerts_sent.fetch_add(n, Ordering::Relaxed);
        }
        self.write_outputs(out);
    }

    fn step_alert(
        &self,
        rule: &CompiledRule,
        labels: &Labels,
        st: &mut SeriesState,
        v: &Verdict,
        now: i64,
        sent: &mut Vec<DynamicAlert>,
    ) {
        let before = (
            st.alert.active_since.unwrap_or(v.ts_ms),
            st.alert.fired_at.unwrap_or(v.ts_ms),
        );
        let last = st.alert.last;
        if v.level > 0 {
            st.alert.last = Some(*v);
        }
        let life = rule.lifecycle(self.resend_ms);
        match st.alert.step(v.ts_ms, v.level, &life) {
            Transition::None => {}
            Transition::Fire { level } => {
                sent.extend(alerts::firing(rule, labels, &st.alert, level, now, &life));
                st.alert.last_sent_ms = Some(now);
            }
            Transition::Escalate { from, to } => {
                if let Some(l) = &last {
                    sent.push(alerts::resolved(
                        rule, labels, l, before, from, v.ts_ms, now,
                    ));
                }
                sent.extend(alerts::firing(rule, labels, &st.alert, to, now, &life));
                st.alert.last_sent_ms = Some(now);
            }
            Transition::Resolve { level } => {
                if let Some(l) = &last {
                    sent.push(alerts::resolved(
                        rule, labels, l, before, level, v.ts_ms, now,
                    ));
                }
            }
        }
    }

    fn write_outputs(&self, out: Vec<(usize, Labels, i64, f64)>) {
        if out.is_empty() {
            return;
        }
        // Written straight to the store, not through the tap: never re-scored.
        let batch = out.iter().map(|(_, l, t, v)| (l, *t, *v));
        if let Err(e) = argus_tsdb::append_batch(self.db.appender(), batch) {
            self.metrics.output_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "Could not store the dynamic baseline series.");
        }
    }

    /// Housekeeping at `now`: re-sends firing alerts whose resend delay has
    /// passed and queues retraining of models older than the rule's interval.
    pub fn tick(&self) {
        let now = self.clock.now_ms();
        let mut sent = Vec::new();
        {
            let mut all = self.series.lock();
            let rules = self.rules();
            for (map, rule) in all.iter_mut().zip(rules.iter()) {
                let life = rule.lifecycle(self.resend_ms);
                for (labels, st) in map.iter_mut() {
                    if st.alert.resend_due(now, &life) {
                        sent.extend(alerts::firing(
                            rule,
                            labels,
                            &st.alert,
                            st.alert.level,
                            now,
                            &life,
                        ));
                        st.alert.last_sent_ms = Some(now);
                    }
                    let Some(m) = st.det.model() else { continue };
                    let last = st.last_trained_ms.unwrap_or(m.trained_at_ms);
                    let retry_ok = st.last_attempt_ms.is_none_or(|a| now - a >= RETRY_MS);
                    if st.training.is_none() && now - last >= rule.retrain_ms && retry_ok {
                        self.request_training(st, &rule.name, labels, false, None);
                    }
                }
            }
        }
        if !sent.is_empty() {
            self.metrics
                .alerts_sent
                .fetch_add(sent.len() as u64, Ordering::Relaxed);
            self.send_alerts(sent);
        }
    }
}

fn push_outputs(out: &mut Vec<(usize, Labels, i64, f64)>, ls: &[Labels; 6], v: &Verdict) {
    let vals = [
        v.expected,
        v.lower,
        v.upper,
        v.score,
        f64::from(v.level),
        v.anomaly.unwrap_or(f64::NAN),
    ];
    for (i, (l, x)) in ls.iter().zip(vals).enumerate() {
        // No band yet (cold start with too few points), or no anomaly
        // scorer: nothing to draw.
        if x.is_finite() {
            out.push((i, l.clone(), v.ts_ms, x));
        }
    }
}
