//! The evaluation of exhaustion rules: every rule's `interval`, each series
//! it selects is read back `window` from the store, its trend fitted
//! (Theil–Sen, `argus_detect::exhaust`), the predicted time to exhaustion
//! written as `argus_exhaustion_eta_seconds`, and an alert kept through
//! pending (`for`), firing (resent, valid for four resend intervals) and
//! resolved (resent for 15 minutes), as every Argus alert is.

use crate::alerting::{AlertBook, AlertSinkFn};
use crate::config::CompiledRule;
use argus_detect::exhaust::{predict, Exhaustion};
use argus_model::alert::AlertEvent;
use argus_model::time::{format_rfc3339_ms, Fraction};
use argus_model::{format_duration, is_stale_nan, Clock, Labels};
use argus_tsdb::{Db, Querier, Storage};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

/// The output series: seconds until the predicted exhaustion, written when
/// a series trends towards its limit (absent otherwise).
pub const ETA_SERIES: &str = "argus_exhaustion_eta_seconds";

/// A series whose newest sample is older than this is gone (Prometheus's
/// lookback): its alert resolves.
const LOOKBACK_MS: i64 = 5 * 60_000;

struct Inner {
    db: Db,
    storage: Storage,
    clock: Arc<dyn Clock>,
    rules: RwLock<Vec<CompiledRule>>,
    due: crate::schedule::Due,
    book: AlertBook,
}

/// Runs the exhaustion rules. Cheap to clone.
#[derive(Clone)]
pub struct PredictService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PredictService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PredictService")
            .field("rules", &self.inner.rules.read().len())
            .finish()
    }
}

impl PredictService {
    /// A service over the store, alerts resent every `resend_ms`.
    pub fn new(db: Db, storage: Storage, clock: Arc<dyn Clock>, resend_ms: i64) -> Self {
        PredictService {
            inner: Arc::new(Inner {
                db,
                storage,
                clock,
                rules: RwLock::new(Vec::new()),
                due: Default::default(),
                book: AlertBook::new(resend_ms),
            }),
        }
    }

    /// Where alerts go from now on.
    pub fn set_alert_sink(&self, sink: Arc<AlertSinkFn>) {
        self.inner.book.set_sink(sink);
    }

    /// Puts `rules` in force (start-up or reload). The alerts of rules that
    /// are gone, or whose settings changed, resolve.
    pub fn apply(&self, rules: Vec<CompiledRule>) {
        let now = self.inner.clock.now_ms();
        let kept: Vec<String> = {
            let old = self.inner.rules.read();
            rules
                .iter()
                .filter(|r| old.iter().any(|o| o == *r))
                .map(|r| r.cfg.name.clone())
                .collect()
        };
        self.inner.book.keep_rules(&kept, now);
        self.inner.due.clear();
        *self.inner.rules.write() = rules;
    }

    /// The rules in force.
    pub fn rules(&self) -> Vec<CompiledRule> {
        self.inner.rules.read().clone()
    }

    /// Evaluates the rules that are due (blocking: reads the store); a
    /// caller runs it every second or so.
    pub fn evaluate_due(&self) {
        let now = self.inner.clock.now_ms();
        let rules = self.inner.rules.read().clone();
        for rule in &rules {
            if self
                .inner
                .due
                .take(&rule.cfg.name, rule.cfg.interval.as_millis(), now)
            {
                self.evaluate(rule, now);
            }
        }
    }

    /// Evaluates one rule at `now`: writes the predictions, moves the
    /// alerts and sends what is due.
    pub fn evaluate(&self, rule: &CompiledRule, now: i64) {
        let from = now - rule.cfg.window.as_millis();
        let mut found = Vec::new();
        for set in &rule.matchers {
            match self.inner.db.select(set, from, now) {
                Ok(s) => found.extend(s),
                Err(e) => {
                    tracing::warn!(rule = %rule.cfg.name, error = %e, "An exhaustion rule could not read its series; it is tried again at its next evaluation.");
                    return;
                }
            }
        }
        found.sort_by(|a, b| a.labels.cmp(&b.labels));
        found.dedup_by(|a, b| a.labels == b.labels);
        let cfg = rule.exhaust();
        let mut predictions: HashMap<Labels, Exhaustion> = HashMap::new();
        let mut eta_samples: Vec<(Labels, f64)> = Vec::new();
        for s in found {
            if s.labels.metric_name() == Some(ETA_SERIES) {
                continue;
            }
            let live = s
                .samples
                .last()
                .is_some_and(|p| !is_stale_nan(p.v) && p.t >= now - LOOKBACK_MS);
            if !live {
                continue;
            }
            let (ts, vs): (Vec<i64>, Vec<f64>) = s
                .samples
                .iter()
                .filter(|p| p.v.is_finite())
                .map(|p| (p.t, p.v))
                .unzip();
            if let Ok(Some(p)) = predict(&ts, &vs, &cfg) {
                let mut out = output_labels(&s.labels, &rule.cfg.name);
                out.set("__name__", ETA_SERIES);
                eta_samples.push((out, p.eta_ms as f64 / 1000.0));
                predictions.insert(s.labels, p);
            }
        }
        if !eta_samples.is_empty() {
            let batch = eta_samples.iter().map(|(l, v)| (l, now, *v));
            if let Err(e) = self.inner.storage.append_batch(batch) {
                tracing::warn!(rule = %rule.cfg.name, error = %e, "The exhaustion predictions could not be written.");
            }
        }
        let active: HashMap<Labels, AlertEvent> = predictions
            .iter()
            .filter(|(_, p)| p.alert)
            .map(|(series, p)| (series.clone(), alert_event(rule, series, p, now)))
            .collect();
        self.inner.book.step(
            &rule.cfg.name,
            &active,
            rule.cfg.for_duration.as_millis(),
            rule.cfg.interval.as_millis(),
            now,
        );
    }

    /// Runs [`PredictService::evaluate_due`] every second on a blocking
    /// thread until `stop` turns true.
    pub fn spawn(&self, stop: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        crate::schedule::every_second("exhaustion", move || me.evaluate_due(), stop)
    }
}

/// The series' labels without its name, with `metric` and `rule`.
fn output_labels(series: &Labels, rule: &str) -> Labels {
    let mut l = series.without_metric_name();
    l.set("metric", series.metric_name().unwrap_or(""));
    l.set("rule", rule);
    l
}

/// The alert of one series: its labels (without the name) with `metric`,
/// the rule's labels and `alertname`; the prediction in the annotations.
fn alert_event(rule: &CompiledRule, series: &Labels, p: &Exhaustion, fired_at: i64) -> AlertEvent {
    let mut labels = series.without_metric_name();
    let metric = series.metric_name().unwrap_or("");
    labels.set("metric", metric);
    for (k, v) in &rule.cfg.labels {
        labels.set(k, v);
    }
    labels.set("alertname", &rule.cfg.name);
    let at = format_rfc3339_ms(p.at_ms, Fraction::Omit).unwrap_or_default();
    let within = format_duration(p.eta_ms.max(1_000) / 1_000 * 1_000);
    let mut annotations: std::collections::BTreeMap<String, String> = rule.cfg.annotations.clone();
    let shown = series.without_metric_name().to_string();
    annotations.entry("summary".into()).or_insert_with(|| {
        format!(
            "{metric}{shown} reaches {} in about {within} (at {at}), at its trend over the last {}",
            rule.cfg.limit,
            format_duration(rule.cfg.window.as_millis())
        )
    });
    annotations.insert("predicted_at".into(), at);
    annotations.insert("eta_seconds".into(), format!("{}", p.eta_ms / 1000));
    annotations.insert("current".into(), format!("{:.4}", p.current));
    annotations.insert(
        "slope_per_hour".into(),
        format!("{:.6}", p.slope_per_s * 3600.0),
    );
    annotations.insert("series".into(), series.to_string());
    let mut ev = AlertEvent::new(labels, fired_at);
    ev.annotations = annotations;
    ev
}
