//! The `dynamic_rules:` section: one entry per dynamic-threshold rule, and
//! its compiled form ([`CompiledRule`]) with the selector parsed; and the
//! `detect:` section ([`DetectConfig`]): settings of the service itself.
//!
//! ```
//! use argus_dynamic::config::{compile_rules, DynamicRuleConfig};
//!
//! let rules: Vec<DynamicRuleConfig> = serde_saphyr::from_str(r#"
//! - name: ApiTraffic
//!   selector: 'http_requests_rate{job="api"}'
//!   detector: {kind: business_volume, period: day, min_points: 1440}
//!   for: 2m
//!   labels: {team: web}
//!   annotations: {runbook: "https://wiki/api-traffic"}
//! "#).unwrap();
//! let compiled = compile_rules(&rules).unwrap();
//! assert_eq!(compiled[0].for_ms, 120_000);
//! assert_eq!(compiled[0].retrain_ms, 86_400_000);
//!
//! let bad: Vec<DynamicRuleConfig> =
//!     serde_saphyr::from_str("- {name: X, selector: 'up{'}\n").unwrap();
//! assert!(compile_rules(&bad).unwrap_err().to_string().contains("dynamic_rules[0] (X): selector"));
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use argus_detect::spec::RuleSpec;
use argus_model::{Labels, MatchOp, Matcher, PromDuration};
use serde::Deserialize;

use crate::error::ConfigError;

/// One dynamic rule (`dynamic_rules:` list entry). Unknown keys are refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicRuleConfig {
    /// `name` (required): the rule's name; dynamic alerts carry it as
    /// `alertname`, output series as `rule`. Unique among dynamic rules.
    pub name: String,
    /// `selector` (required): a PromQL series selector, e.g.
    /// `http_requests_rate{job="api"}`; every series it matches gets its own
    /// detector. At least one matcher must not match the empty string.
    pub selector: String,
    /// `detector`: the detection settings (`argus_detect::spec::RuleSpec`:
    /// `kind`, `direction`, `period`, `algorithm`, `t2`, `step`, `max_level`,
    /// `capacity`, `min_points`, …; each documented there with its
    /// default). Default: all defaults (kind `resource`, period and
    /// algorithm `auto`, `min_points` 10080).
    #[serde(default)]
    pub detector: RuleSpec,
    /// `for`: how long (in sample time) a series must stay at level ≥ 1
    /// before its alert fires. Default `0s` (fires on the first outlier).
    #[serde(default, rename = "for")]
    pub for_duration: PromDuration,
    /// `labels`: extra labels on the rule's alerts. Default none.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `annotations`: extra annotations on the rule's alerts (copied as
    /// written, not templated). Default none.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// `retrain_interval`: time between two trainings of a series' model
    /// (by the server's clock). Default `24h`.
    #[serde(default = "default_retrain")]
    pub retrain_interval: PromDuration,
    /// `training_window`: how much history, back from now, a training reads
    /// from the store. Default `14d`.
    #[serde(default = "default_window")]
    pub training_window: PromDuration,
    /// `localize`: when the rule's alert fires on a KPI that adds up over
    /// dimensions, find which dimension values explain the deviation (the
    /// server runs it and adds the answer to the alert). Default: off.
    #[serde(default)]
    pub localize: Option<LocalizeConfig>,
}

/// The `localize:` key of a dynamic rule: the KPI's leaves, their actual
/// and expected values. Unknown keys are refused.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalizeConfig {
    /// `by` (required): the dimension labels of a leaf, e.g. `[center,
    /// cluster, process, ip]`.
    pub by: Vec<String>,
    /// `actual` (required): a PromQL expression with one series per leaf at
    /// the alert's time, e.g. `sum by (center, cluster, process, ip)
    /// (rate(orders_total[5m]))`.
    pub actual: String,
    /// `expected` (required): a PromQL expression with each leaf's expected
    /// value, joined to `actual` on the `by` labels, e.g. the leaves'
    /// learned baselines `argus_baseline_expected{rule="OrdersByLeaf"}` or
    /// last week's values (`… offset 1w`).
    pub expected: String,
}

/// The `detect:` section. Unknown keys are refused. Read at start-up; a
/// reload does not change it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// `training_concurrency`: how many series train at once, each on a
    /// thread of the blocking pool (training is CPU-bound, about 60 ms of
    /// CPU for 10080 points with `algorithm: auto`). Default: the number of
    /// cores minus one, at least 1, so ingest and queries keep a core.
    pub training_concurrency: Option<usize>,
}

impl DetectConfig {
    /// `training_concurrency` with its default filled in.
    ///
    /// ```
    /// use argus_dynamic::config::DetectConfig;
    /// let c: DetectConfig = serde_saphyr::from_str("training_concurrency: 3\n").unwrap();
    /// assert_eq!(c.training_concurrency(), 3);
    /// assert!(DetectConfig::default().training_concurrency() >= 1);
    /// assert!(serde_saphyr::from_str::<DetectConfig>("training_concurency: 3\n").is_err());
    /// ```
    pub fn training_concurrency(&self) -> usize {
        self.training_concurrency.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .saturating_sub(1)
                .max(1)
        })
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.training_concurrency == Some(0) {
            return Err(ConfigError::TrainingConcurrency);
        }
        Ok(())
    }
}

fn default_retrain() -> PromDuration {
    PromDuration(86_400_000)
}

fn default_window() -> PromDuration {
    PromDuration(14 * 86_400_000)
}

/// A validated rule, ready for matching.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// The rule's name.
    pub name: String,
    /// The selector as written.
    pub selector: String,
    /// Matcher sets; a series matches when it matches any set.
    pub sets: Vec<Vec<Matcher>>,
    /// The metric names the selector can match, when every set pins
    /// `__name__` with `=` (lets the tap skip other series at once).
    pub names: Option<Vec<String>>,
    /// The detector settings, shared by every series' detector.
    pub spec: Arc<RuleSpec>,
    /// `for`, ms.
    pub for_ms: i64,
    /// Extra alert labels.
    pub labels: Labels,
    /// Extra alert annotations.
    pub annotations: Labels,
    /// `retrain_interval`, ms.
    pub retrain_ms: i64,
    /// `training_window`, ms.
    pub window_ms: i64,
}

impl CompiledRule {
    /// The timing of this rule's alerts when firing alerts are resent every
    /// `resend_ms`: its `for`, validity four resends, a resend due once the
    /// delay has passed.
    ///
    /// ```
    /// use argus_dynamic::config::{compile_rules, DynamicRuleConfig};
    /// let cfg: Vec<DynamicRuleConfig> =
    ///     serde_saphyr::from_str("- {name: Lat, selector: lat, for: 2m}\n").unwrap();
    /// let life = compile_rules(&cfg).unwrap()[0].lifecycle(60_000);
    /// assert_eq!((life.for_ms, life.valid_until(0)), (120_000, 240_000));
    /// ```
    pub fn lifecycle(&self, resend_ms: i64) -> argus_model::alert::Lifecycle {
        argus_model::alert::Lifecycle::new(resend_ms).with_for(self.for_ms)
    }
}

/// Whether a series' label pairs (any order) match one of `sets`.
pub fn matches_pairs(sets: &[Vec<Matcher>], pairs: &[(&str, &str)]) -> bool {
    sets.iter().any(|set| {
        set.iter().all(|m| {
            let v = pairs
                .iter()
                .find(|(n, _)| *n == m.name)
                .map_or("", |(_, v)| v);
            m.matches(v)
        })
    })
}

impl CompiledRule {
    /// Whether `labels` match the rule's selector.
    pub fn matches(&self, labels: &Labels) -> bool {
        let pairs: Vec<(&str, &str)> = labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        matches_pairs(&self.sets, &pairs)
    }
}

/// Parses a series selector into matcher sets
/// ([`argus_promql::parse_selector`]; a range, if written, is ignored).
pub fn parse_selector(s: &str) -> Result<Vec<Vec<Matcher>>, argus_promql::SelectorError> {
    // Never empty: one set, or one per `or` branch.
    argus_promql::parse_selector(s).map(|sel| sel.sets)
}

fn label_map(
    m: &BTreeMap<String, String>,
    at: &str,
    what: &'static str,
) -> Result<Labels, ConfigError> {
    for k in m.keys() {
        if !argus_model::is_valid_label_name(k) {
            return Err(ConfigError::LabelName {
                at: at.to_string(),
                what,
                name: k.clone(),
            });
        }
    }
    let pairs: Vec<(&str, &str)> = m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Ok(Labels::from_pairs(&pairs))
}

/// Validates and compiles the rules. Errors name the rule by index and name.
pub fn compile_rules(rules: &[DynamicRuleConfig]) -> Result<Vec<CompiledRule>, ConfigError> {
    let mut out: Vec<CompiledRule> = Vec::with_capacity(rules.len());
    if rules.len() > usize::from(u16::MAX) {
        return Err(ConfigError::TooManyRules {
            max: usize::from(u16::MAX),
            got: rules.len(),
        });
    }
    for (i, r) in rules.iter().enumerate() {
        let at = format!("dynamic_rules[{i}] ({})", r.name);
        if r.name.trim().is_empty() {
            return Err(ConfigError::EmptyName { index: i });
        }
        if out.iter().any(|c| c.name == r.name) {
            return Err(ConfigError::DuplicateName { at });
        }
        let sets = parse_selector(&r.selector).map_err(|source| ConfigError::Selector {
            at: at.clone(),
            source,
        })?;
        r.detector
            .validate()
            .map_err(|source| ConfigError::Detector {
                at: at.clone(),
                source,
            })?;
        let duration = |problem| ConfigError::Duration {
            at: at.clone(),
            problem,
        };
        if r.for_duration.as_millis() < 0 {
            return Err(duration("for must not be negative"));
        }
        if r.retrain_interval.as_millis() <= 0 {
            return Err(duration("retrain_interval must be positive"));
        }
        if r.training_window.as_millis() <= 0 {
            return Err(duration("training_window must be positive"));
        }
        if let Some(l) = &r.localize {
            let bad = |problem| ConfigError::Localize {
                at: at.clone(),
                problem,
            };
            if l.by.is_empty() {
                return Err(bad("localize.by needs at least one label"));
            }
            if l.by.iter().any(|b| !argus_model::is_valid_label_name(b)) {
                return Err(bad(
                    "localize.by holds a name that is not a valid label name",
                ));
            }
            if (1..l.by.len()).any(|i| l.by[..i].contains(&l.by[i])) {
                return Err(bad("localize.by names a label twice"));
            }
            if l.actual.trim().is_empty() || l.expected.trim().is_empty() {
                return Err(bad(
                    "localize needs both an actual and an expected expression",
                ));
            }
        }
        let names = sets
            .iter()
            .map(|set| {
                set.iter()
                    .find(|m| m.name == "__name__" && m.op == MatchOp::Eq)
                    .map(|m| m.value.clone())
            })
            .collect::<Option<Vec<_>>>();
        out.push(CompiledRule {
            name: r.name.clone(),
            selector: r.selector.clone(),
            sets,
            names,
            spec: Arc::new(r.detector.clone()),
            for_ms: r.for_duration.as_millis(),
            labels: label_map(&r.labels, &at, "labels")?,
            annotations: label_map(&r.annotations, &at, "annotations")?,
            retrain_ms: r.retrain_interval.as_millis(),
            window_ms: r.training_window.as_millis(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(y: &str) -> Result<Vec<DynamicRuleConfig>, String> {
        serde_saphyr::from_str(y).map_err(|e| e.to_string())
    }

    #[test]
    fn errors_name_the_rule_and_key() {
        let e = compile_rules(&parse("- {name: A, selector: 'x', detector: {t2: 0.9}}\n").unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("dynamic_rules[0] (A): detector") && e.contains("t2"),
            "{e}"
        );
        let e = compile_rules(&parse("- {name: A, selector: 'sum(x)'}\n").unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("(A): selector"), "{e}");
        let e = compile_rules(&parse("- {name: A, selector: '{a=~\".*\"}'}\n").unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("non-empty matcher"), "{e}");
        let e =
            compile_rules(&parse("- {name: A, selector: x}\n- {name: A, selector: y}\n").unwrap())
                .unwrap_err()
                .to_string();
        assert!(e.contains("dynamic_rules[1] (A)"), "{e}");
        assert!(parse("- {name: A, selector: x, detectr: {}}\n").is_err());
        assert!(parse("- {name: A, selector: x, detector: {kidn: latency}}\n").is_err());
    }

    #[test]
    fn matching_and_name_prefilter() {
        let r = &compile_rules(
            &parse("- {name: A, selector: 'm{job=\"api\"}'}\n- {name: B, selector: '{job=~\"a.*\"}'}\n")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(r[0].names.as_deref(), Some(&["m".to_string()][..]));
        assert!(r[1].names.is_none());
        let l = Labels::from_pairs(&[("__name__", "m"), ("job", "api")]);
        assert!(r[0].matches(&l) && r[1].matches(&l));
        let l = Labels::from_pairs(&[("__name__", "m"), ("job", "db")]);
        assert!(!r[0].matches(&l) && !r[1].matches(&l));
    }
}
