//! Composite health rules (`health_index_rules:`): a performance index
//! `P = f(CPU, memory, network)` per group (by default per `instance`), a
//! threshold `T` from P's own history, and the class `normal`, `warning` or
//! `anomaly` against the business threshold `B`
//! (`argus_detect::health` defines the three). Every `interval` the three
//! PromQL inputs are evaluated, P is written as `argus_health_index`, T as
//! `argus_health_threshold` and the class as `argus_health_class{class}`
//! (1 for the current class, 0 for the others), and a group whose class is
//! `warning` or `anomaly` raises an alert carrying that class.

use crate::alerting::{AlertBook, AlertSinkFn};
use argus_detect::health::{Combine, HealthClass, HealthConfig};
use argus_model::alert::AlertEvent;
use argus_model::{Clock, Labels, Matcher, PromDuration};
use argus_tsdb::{Db, Querier, Storage};
use parking_lot::RwLock;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Why an input query failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

/// Instant PromQL queries, provided by the server.
pub trait InstantQuery: Send + Sync {
    /// The vector `expr` gives at `t_ms`.
    fn query(&self, expr: &str, t_ms: i64) -> Result<Vec<(Labels, f64)>, QueryError>;
}

impl<F> InstantQuery for F
where
    F: Fn(&str, i64) -> Result<Vec<(Labels, f64)>, QueryError> + Send + Sync,
{
    fn query(&self, expr: &str, t_ms: i64) -> Result<Vec<(Labels, f64)>, QueryError> {
        self(expr, t_ms)
    }
}

fn d(ms: i64) -> PromDuration {
    PromDuration(ms)
}
fn default_interval() -> PromDuration {
    d(60_000)
}
fn default_history() -> PromDuration {
    d(7 * 86_400_000)
}
fn default_by() -> Vec<String> {
    vec!["instance".into()]
}
fn default_min_history() -> usize {
    60
}

/// One composite health rule. Unknown keys are refused.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthIndexRuleConfig {
    /// `name` (required): the alerts' `alertname` and the series' `rule`.
    pub name: String,
    /// `cpu` (required): PromQL giving CPU utilisation, 0–1, per group.
    pub cpu: String,
    /// `memory` (required): PromQL giving memory utilisation, 0–1, per group.
    pub memory: String,
    /// `network` (required): PromQL giving network throughput in bytes/s.
    pub network: String,
    /// `by`: the labels that make a group; the inputs are joined on them.
    /// Default `[instance]`.
    #[serde(default = "default_by")]
    pub by: Vec<String>,
    /// `cpu_weight`, `memory_weight`, `network_weight`: Default 0.4, 0.4, 0.2.
    #[serde(default)]
    pub cpu_weight: Option<f64>,
    /// See `cpu_weight`.
    #[serde(default)]
    pub memory_weight: Option<f64>,
    /// See `cpu_weight`.
    #[serde(default)]
    pub network_weight: Option<f64>,
    /// `network_capacity`: the throughput counted as 1, bytes/s. Default
    /// `1.25e8` (1 Gbit/s).
    #[serde(default)]
    pub network_capacity: Option<f64>,
    /// `combine`: `weighted_mean` (default) or `weighted_product` (the
    /// product C·M·N, as a weighted geometric mean).
    #[serde(default)]
    pub combine: Combine,
    /// `threshold_quantile`: the quantile of P's history taken as T.
    /// Default `1.0` (the maximum).
    #[serde(default)]
    pub threshold_quantile: Option<f64>,
    /// `business_threshold`: B, in P's units (0–1). Default `0.8`.
    #[serde(default)]
    pub business_threshold: Option<f64>,
    /// `history`: how far back P's history reaches. Default `7d`.
    #[serde(default = "default_history")]
    pub history: PromDuration,
    /// `min_history`: samples of P needed before T is trusted and classes
    /// are given. Default `60`.
    #[serde(default = "default_min_history")]
    pub min_history: usize,
    /// `interval`: how often the rule is evaluated. Default `1m`.
    #[serde(default = "default_interval")]
    pub interval: PromDuration,
    /// `for`: how long a class other than normal must last before the
    /// alert fires. Default `0s`.
    #[serde(default, rename = "for")]
    pub for_duration: PromDuration,
    /// `labels`: added to the alerts. Default none.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `annotations`: added to the alerts, as written. Default none.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl HealthIndexRuleConfig {
    /// The index's settings.
    pub fn health(&self) -> HealthConfig {
        let dflt = HealthConfig::default();
        HealthConfig {
            cpu_weight: self.cpu_weight.unwrap_or(dflt.cpu_weight),
            memory_weight: self.memory_weight.unwrap_or(dflt.memory_weight),
            network_weight: self.network_weight.unwrap_or(dflt.network_weight),
            network_capacity: self.network_capacity.unwrap_or(dflt.network_capacity),
            combine: self.combine,
            threshold_quantile: self.threshold_quantile.unwrap_or(dflt.threshold_quantile),
            business_threshold: self.business_threshold.unwrap_or(dflt.business_threshold),
        }
    }
}

/// A rule that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("health_index_rules[{index}] ({name}): {reason}")]
pub struct HealthIndexConfigError {
    /// Its position.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// What is wrong, naming the key.
    pub reason: String,
}

/// Checks every rule (names, queries, settings, durations).
///
/// ```
/// use argus_predict::{check_health_index_rules, HealthIndexRuleConfig};
/// let rules: Vec<HealthIndexRuleConfig> = serde_saphyr::from_str(
///     "- {name: NodeHealth, cpu: 'cpu_busy', memory: 'mem_used', network: 'net_bps'}\n",
/// ).unwrap();
/// assert!(check_health_index_rules(&rules).is_ok());
/// let bad: Vec<HealthIndexRuleConfig> = serde_saphyr::from_str(
///     "- {name: N, cpu: 'rate(x[', memory: m, network: n}\n",
/// ).unwrap();
/// assert!(check_health_index_rules(&bad).unwrap_err().to_string().contains("cpu"));
/// ```
pub fn check_health_index_rules(
    rules: &[HealthIndexRuleConfig],
) -> Result<(), HealthIndexConfigError> {
    let mut seen = std::collections::HashSet::new();
    for (index, r) in rules.iter().enumerate() {
        let err = |reason: String| HealthIndexConfigError {
            index,
            name: r.name.clone(),
            reason,
        };
        if r.name.is_empty() || !seen.insert(r.name.clone()) {
            return Err(err("name must be set and unique".into()));
        }
        for (key, q) in [
            ("cpu", &r.cpu),
            ("memory", &r.memory),
            ("network", &r.network),
        ] {
            argus_promql::parse(q, &argus_promql::ParseLimits::default())
                .map_err(|e| err(format!("{key}: {e}")))?;
        }
        r.health().validate().map_err(|e| err(e.to_string()))?;
        for (key, v) in [("history", r.history), ("interval", r.interval)] {
            if v.as_millis() <= 0 {
                return Err(err(format!("{key} must be positive")));
            }
        }
        if r.min_history == 0 {
            return Err(err("min_history must be at least 1".into()));
        }
    }
    Ok(())
}

/// Evaluates the composite health rules. Cheap to clone.
#[derive(Clone)]
pub struct HealthIndexService {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    storage: Storage,
    clock: Arc<dyn Clock>,
    query: Arc<dyn InstantQuery>,
    rules: RwLock<Vec<HealthIndexRuleConfig>>,
    due: crate::schedule::Due,
    book: AlertBook,
}

impl std::fmt::Debug for HealthIndexService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthIndexService")
            .field("rules", &self.inner.rules.read().len())
            .finish()
    }
}

impl HealthIndexService {
    /// A service over the store, with the server's queries, alerts resent
    /// every `resend_ms`.
    pub fn new(
        db: Db,
        storage: Storage,
        clock: Arc<dyn Clock>,
        query: Arc<dyn InstantQuery>,
        resend_ms: i64,
    ) -> Self {
        HealthIndexService {
            inner: Arc::new(Inner {
                db,
                storage,
                clock,
                query,
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

    /// Puts checked rules in force; the alerts of removed or changed rules
    /// resolve.
    pub fn apply(&self, rules: Vec<HealthIndexRuleConfig>) {
        let now = self.inner.clock.now_ms();
        let kept: Vec<String> = {
            let old = self.inner.rules.read();
            rules
                .iter()
                .filter(|r| old.contains(r))
                .map(|r| r.name.clone())
                .collect()
        };
        self.inner.book.keep_rules(&kept, now);
        self.inner.due.clear();
        *self.inner.rules.write() = rules;
    }

    /// Evaluates the rules that are due (blocking).
    pub fn evaluate_due(&self) {
        let now = self.inner.clock.now_ms();
        let rules = self.inner.rules.read().clone();
        for rule in &rules {
            if self
                .inner
                .due
                .take(&rule.name, rule.interval.as_millis(), now)
            {
                self.evaluate(rule, now);
            }
        }
    }

    /// Evaluates one rule at `now`.
    pub fn evaluate(&self, rule: &HealthIndexRuleConfig, now: i64) {
        let inputs = match self.inputs(rule, now) {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(rule = %rule.name, error = %e, "A composite health rule's input query failed; it is tried again at its next evaluation.");
                return;
            }
        };
        let cfg = rule.health();
        let mut samples: Vec<(Labels, f64)> = Vec::new();
        let mut active: HashMap<Labels, (HealthClass, AlertEvent)> = HashMap::new();
        for (group, [c, m, n]) in inputs {
            let Ok(p) = cfg.index(c, m, n) else { continue };
            let out = |name: &str| {
                let mut l = group.clone();
                l.set("rule", &rule.name);
                l.set("__name__", name);
                l
            };
            samples.push((out("argus_health_index"), p));
            let history = self.history(&out("argus_health_index"), now, rule.history.as_millis());
            if history.len() < rule.min_history {
                continue;
            }
            let Ok(t) = cfg.threshold(&history) else {
                continue;
            };
            samples.push((out("argus_health_threshold"), t));
            let class = cfg.classify(p, t);
            for k in [
                HealthClass::Normal,
                HealthClass::Warning,
                HealthClass::Anomaly,
            ] {
                let mut l = out("argus_health_class");
                l.set("class", k.as_str());
                samples.push((l, if k == class { 1.0 } else { 0.0 }));
            }
            if class != HealthClass::Normal {
                let ev = alert_event(rule, &group, class, [c, m, n], p, t, now);
                let mut key = group.clone();
                key.set("class", class.as_str());
                active.insert(key, (class, ev));
            }
        }
        if !samples.is_empty() {
            let batch = samples.iter().map(|(l, v)| (l, now, *v));
            if let Err(e) = self.inner.storage.append_batch(batch) {
                tracing::warn!(rule = %rule.name, error = %e, "The composite health series could not be written.");
            }
        }
        let events: HashMap<Labels, AlertEvent> =
            active.into_iter().map(|(k, (_, ev))| (k, ev)).collect();
        self.inner.book.step(
            &rule.name,
            &events,
            rule.for_duration.as_millis(),
            rule.interval.as_millis(),
            now,
        );
    }

    /// The three inputs joined per group (groups missing one are skipped).
    fn inputs(
        &self,
        rule: &HealthIndexRuleConfig,
        now: i64,
    ) -> Result<Vec<(Labels, [f64; 3])>, QueryError> {
        let mut by_group: BTreeMap<Labels, [Option<f64>; 3]> = BTreeMap::new();
        for (i, q) in [&rule.cpu, &rule.memory, &rule.network]
            .into_iter()
            .enumerate()
        {
            for (labels, v) in self.inner.query.query(q, now)? {
                let pairs: Vec<(&str, &str)> = rule
                    .by
                    .iter()
                    .map(|k| (k.as_str(), labels.get(k).unwrap_or("")))
                    .collect();
                by_group.entry(Labels::from_pairs(&pairs)).or_default()[i] = Some(v);
            }
        }
        Ok(by_group
            .into_iter()
            .filter_map(|(g, v)| Some((g, [v[0]?, v[1]?, v[2]?])))
            .collect())
    }

    /// P's stored history of one group before `now`.
    fn history(&self, series: &Labels, now: i64, span: i64) -> Vec<f64> {
        let ms: Vec<Matcher> = series
            .iter()
            .map(|l| Matcher::eq(&l.name, &l.value))
            .collect();
        self.inner
            .db
            .select(&ms, now - span, now - 1)
            .ok()
            .and_then(|v| v.into_iter().find(|s| s.labels == *series))
            .map(|s| {
                s.samples
                    .iter()
                    .map(|p| p.v)
                    .filter(|v| v.is_finite())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Runs [`HealthIndexService::evaluate_due`] every second until `stop`.
    pub fn spawn(&self, stop: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        crate::schedule::every_second("composite health", move || me.evaluate_due(), stop)
    }
}

fn alert_event(
    rule: &HealthIndexRuleConfig,
    group: &Labels,
    class: HealthClass,
    [c, m, n]: [f64; 3],
    p: f64,
    t: f64,
    now: i64,
) -> AlertEvent {
    let mut labels = group.clone();
    for (k, v) in &rule.labels {
        labels.set(k, v);
    }
    labels.set("class", class.as_str());
    labels.set("alertname", &rule.name);
    let b = rule.health().business_threshold;
    let mut ann = rule.annotations.clone();
    ann.entry("summary".into()).or_insert_with(|| {
        let why = match class {
            HealthClass::Anomaly => {
                format!("its history's threshold {t:.3} is itself above the business threshold {b}")
            }
            _ => format!("its history's threshold {t:.3} is within the business threshold {b}"),
        };
        format!(
            "performance index {p:.3} of {} is beyond its history ({}): {why}",
            if group.is_empty() {
                "the system".to_string()
            } else {
                group.to_string()
            },
            class.as_str()
        )
    });
    ann.insert("index".into(), format!("{p:.4}"));
    ann.insert("threshold".into(), format!("{t:.4}"));
    ann.insert(
        "inputs".into(),
        format!("cpu {c:.3}, memory {m:.3}, network {n:.0} B/s"),
    );
    let mut series = group.clone();
    series.set("rule", &rule.name);
    series.set("__name__", "argus_health_index");
    ann.insert("series".into(), series.to_string());
    let mut ev = AlertEvent::new(labels, now);
    ev.annotations = ann;
    ev
}
