//! Recording and alerting rules: one evaluation each, with Prometheus's
//! semantics (`rules/recording.go`, `rules/alerting.go`).

use std::collections::HashMap;

use argus_model::alert::{Lifecycle, ResendEdge};
use argus_model::{Labels, METRIC_NAME};

use crate::alert::{Alert, AlertState};
use crate::file::{RuleKind, RuleSpec};
use crate::inject::QueryFn;
use crate::template::{expand_alert_text, AlertTemplateData};

/// How long a resolved alert is kept and resent (Prometheus: 15 minutes).
pub use argus_model::alert::RESOLVED_RETENTION_MS;

/// Settings shared by all rules of a manager.
#[derive(Debug, Clone)]
pub struct RuleContext {
    /// The server's external labels (for `$externalLabels`).
    pub external_labels: Labels,
    /// The server's external URL (for `$externalURL` and generator URLs).
    pub external_url: String,
}

/// A rule's health after its last evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleHealth {
    /// Last evaluation time (ms); `None` before the first.
    pub last_eval_ms: Option<i64>,
    /// The last error, if the last evaluation failed.
    pub last_error: Option<String>,
    /// How long the last evaluation took (seconds).
    pub eval_seconds: f64,
}

impl RuleHealth {
    /// Prometheus's `health`: `ok`, `err` or `unknown`.
    pub fn as_str(&self) -> &'static str {
        match (&self.last_eval_ms, &self.last_error) {
            (None, _) => "unknown",
            (_, Some(_)) => "err",
            _ => "ok",
        }
    }
}

/// A rule with its state.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The rule as written.
    pub spec: RuleSpec,
    /// Health of the last evaluation.
    pub health: RuleHealth,
    /// Alerts by label set (alerting rules only).
    pub(crate) active: HashMap<Labels, Alert>,
}

impl Rule {
    /// A rule with no state.
    pub fn new(spec: RuleSpec) -> Self {
        Rule {
            spec,
            health: RuleHealth::default(),
            active: HashMap::new(),
        }
    }

    /// The record or alert name.
    pub fn name(&self) -> &str {
        self.spec.name()
    }

    /// True for an alerting rule.
    pub fn is_alerting(&self) -> bool {
        matches!(self.spec.kind, RuleKind::Alert(_))
    }

    /// Pending, firing and recently resolved alerts, sorted by labels.
    pub fn alerts(&self) -> Vec<Alert> {
        let mut v: Vec<Alert> = self.active.values().cloned().collect();
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        v
    }

    /// The timing of this rule's alerts in a group that evaluates every
    /// `interval_ms` and resends every `resend_delay_ms`: its `for` and
    /// `keep_firing_for`, validity `4 × max(resend, interval)`, and
    /// Prometheus's resend edge (due only once more than the delay passed).
    pub fn lifecycle(&self, resend_delay_ms: i64, interval_ms: i64) -> Lifecycle {
        Lifecycle::new(resend_delay_ms)
            .with_for(self.spec.for_ms)
            .with_keep_firing_for(self.spec.keep_firing_for_ms)
            .with_eval_interval(interval_ms)
            .with_resend_edge(ResendEdge::AfterInterval)
    }

    /// Evaluates the rule at `ts` (queries at `ts - offset`) and returns the
    /// samples to write at `ts - offset`: recorded series, or `ALERTS` and
    /// `ALERTS_FOR_STATE`. `life` is [`Rule::lifecycle`].
    pub(crate) fn eval(
        &mut self,
        ts: i64,
        offset: i64,
        limit: usize,
        life: &Lifecycle,
        query: &dyn QueryFn,
        cx: &RuleContext,
    ) -> Result<Vec<(Labels, f64)>, String> {
        let res = query.query(&self.spec.expr, ts - offset)?;
        match self.spec.kind.clone() {
            RuleKind::Record(name) => self.record(&name, res, limit),
            RuleKind::Alert(name) => self.alert(&name, res, ts, limit, life, query, cx),
        }
    }

    fn record(
        &self,
        name: &str,
        res: Vec<crate::VectorSample>,
        limit: usize,
    ) -> Result<Vec<(Labels, f64)>, String> {
        let mut out = Vec::with_capacity(res.len());
        for s in res {
            let mut l = s.labels;
            l.set(METRIC_NAME, name);
            for (k, v) in &self.spec.labels {
                l.set(k, v);
            }
            out.push((l, s.v));
        }
        let mut keys: Vec<&Labels> = out.iter().map(|(l, _)| l).collect();
        keys.sort();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(
                "vector contains metrics with the same labelset after applying rule labels".into(),
            );
        }
        if limit > 0 && out.len() > limit {
            return Err(format!(
                "exceeded limit of {limit} with {} series",
                out.len()
            ));
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn alert(
        &mut self,
        name: &str,
        res: Vec<crate::VectorSample>,
        ts: i64,
        limit: usize,
        life: &Lifecycle,
        query: &dyn QueryFn,
        cx: &RuleContext,
    ) -> Result<Vec<(Labels, f64)>, String> {
        let generator_url = format!(
            "{}/graph?g0.expr={}&g0.tab=1",
            cx.external_url.trim_end_matches('/'),
            argus_model::url::percent_encode(&self.spec.expr)
        );
        let mut fresh: HashMap<Labels, Alert> = HashMap::with_capacity(res.len());
        for s in res {
            let base = s.labels.without_metric_name();
            let data = AlertTemplateData {
                labels: base.clone(),
                external_labels: cx.external_labels.clone(),
                external_url: cx.external_url.clone(),
                value: s.v,
            };
            let expand = |t: &str| expand_alert_text(name, t, &data, Some(query), ts);
            let mut labels = base;
            for (k, v) in &self.spec.labels {
                labels.set(k, &expand(v));
            }
            labels.set("alertname", name);
            let ann: Vec<(String, String)> = self
                .spec
                .annotations
                .iter()
                .map(|(k, v)| (k.clone(), expand(v)))
                .collect();
            if fresh.contains_key(&labels) {
                return Err(
                    "vector contains metrics with the same labelset after applying alert labels"
                        .into(),
                );
            }
            fresh.insert(
                labels.clone(),
                Alert {
                    labels,
                    annotations: Labels::from_pairs(&ann),
                    state: AlertState::Pending,
                    value: s.v,
                    active_at_ms: ts,
                    fired_at_ms: None,
                    resolved_at_ms: None,
                    last_sent_at_ms: None,
                    valid_until_ms: None,
                    keep_firing_since_ms: None,
                    generator_url: generator_url.clone(),
                },
            );
        }
        let returned: std::collections::HashSet<Labels> = fresh.keys().cloned().collect();
        for (k, a) in fresh {
            match self.active.get_mut(&k) {
                Some(old) if old.state != AlertState::Inactive => {
                    old.value = a.value;
                    old.annotations = a.annotations;
                    old.generator_url = a.generator_url;
                }
                _ => {
                    self.active.insert(k, a);
                }
            }
        }
        let mut out = Vec::new();
        let mut remove = Vec::new();
        let mut active_pending = 0usize;
        for (k, a) in self.active.iter_mut() {
            if !returned.contains(k) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && life.keep_firing_for_ms > 0 {
                    let since = *a.keep_firing_since_ms.get_or_insert(ts);
                    keep_firing = life.keeps_firing(since, ts);
                }
                if a.state == AlertState::Pending
                    || a.resolved_at_ms
                        .is_some_and(|r| !Lifecycle::retains_resolved(r, ts))
                {
                    remove.push(k.clone());
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at_ms = Some(ts);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                a.keep_firing_since_ms = None;
            }
            active_pending += 1;
            if a.state == AlertState::Pending && life.fires(a.active_at_ms, ts) {
                a.state = AlertState::Firing;
                a.fired_at_ms = Some(ts);
            }
            let mut l = a.labels.clone();
            l.set(METRIC_NAME, "ALERTS");
            l.set("alertstate", a.state.as_str());
            out.push((l, 1.0));
            let mut f = a.labels.clone();
            f.set(METRIC_NAME, "ALERTS_FOR_STATE");
            out.push((f, (a.active_at_ms / 1000) as f64));
        }
        for k in remove {
            self.active.remove(&k);
        }
        if limit > 0 && active_pending > limit {
            self.active.clear();
            return Err(format!(
                "exceeded limit of {limit} with {active_pending} alerts"
            ));
        }
        Ok(out)
    }

    /// The alerts due for sending at `ts`, marked as sent (Prometheus's
    /// `sendAlerts`); `life` is [`Rule::lifecycle`].
    pub(crate) fn take_due(&mut self, ts: i64, life: &Lifecycle) -> Vec<Alert> {
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            let fired = a.state != AlertState::Pending;
            if life.needs_sending(fired, a.resolved_at_ms, a.last_sent_at_ms, ts) {
                a.last_sent_at_ms = Some(ts);
                a.valid_until_ms = Some(life.valid_until(ts));
                out.push(a.clone());
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }
}
