//! The `exhaustion_rules:` section: one entry per rule.

use argus_detect::exhaust::{ExhaustConfig, Trend};
use argus_model::{Matcher, PromDuration};
use serde::Deserialize;
use std::collections::BTreeMap;

fn default_horizon() -> PromDuration {
    PromDuration(4 * 3_600_000)
}

fn default_window() -> PromDuration {
    PromDuration(3_600_000)
}

fn default_interval() -> PromDuration {
    PromDuration(60_000)
}

fn default_min_points() -> usize {
    10
}

fn default_agreement() -> f64 {
    0.7
}

/// One exhaustion rule (`exhaustion_rules:` list entry). Unknown keys are
/// refused.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExhaustionRuleConfig {
    /// `name` (required): the alerts' `alertname`; unique among these rules.
    pub name: String,
    /// `selector` (required): the series to watch, e.g.
    /// `node_filesystem_avail_bytes{mountpoint="/"}`; each gets its own
    /// prediction.
    pub selector: String,
    /// `limit` (required): the value at which the resource is exhausted
    /// (`0` free bytes, `100` percent used...).
    pub limit: f64,
    /// `trend`: `filling` (the value rises towards `limit`: used space,
    /// memory) or `leaking` (it falls towards it: free space). Default
    /// `filling`.
    #[serde(default)]
    pub trend: Trend,
    /// `horizon`: alert when exhaustion is predicted within this. Default `4h`.
    #[serde(default = "default_horizon")]
    pub horizon: PromDuration,
    /// `window`: how much recent history the trend is fitted on. Default `1h`.
    #[serde(default = "default_window")]
    pub window: PromDuration,
    /// `interval`: how often the rule is evaluated. Default `1m`.
    #[serde(default = "default_interval")]
    pub interval: PromDuration,
    /// `for`: how long the prediction must stay within the horizon before
    /// the alert fires. Default `0s`.
    #[serde(default, rename = "for")]
    pub for_duration: PromDuration,
    /// `min_points`: samples in the window needed to predict. Default `10`.
    #[serde(default = "default_min_points")]
    pub min_points: usize,
    /// `min_agreement`: the share of pairwise slopes that must point towards
    /// the limit (a noisy or flat series predicts nothing). Default `0.7`.
    #[serde(default = "default_agreement")]
    pub min_agreement: f64,
    /// `labels`: added to the alerts. Default none.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `annotations`: added to the alerts, as written. Default none.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// A rule that cannot be used, named by its position and name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("exhaustion_rules[{index}] ({name}): {reason}")]
pub struct PredictConfigError {
    /// Its position in the list.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// What is wrong, naming the key.
    pub reason: String,
}

/// A checked rule, its selector parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledRule {
    /// The configuration.
    pub cfg: ExhaustionRuleConfig,
    /// The selector's matcher sets (any may match).
    pub matchers: Vec<Vec<Matcher>>,
}

impl CompiledRule {
    /// The prediction settings.
    pub fn exhaust(&self) -> ExhaustConfig {
        ExhaustConfig {
            limit: self.cfg.limit,
            trend: self.cfg.trend,
            horizon_ms: self.cfg.horizon.as_millis(),
            min_points: self.cfg.min_points,
            min_agreement: self.cfg.min_agreement,
            ..ExhaustConfig::default()
        }
    }
}

/// Checks every rule: names unique and set, the selector a series selector,
/// positive durations, a finite limit.
///
/// ```
/// use argus_predict::{compile_rules, ExhaustionRuleConfig};
/// let rules: Vec<ExhaustionRuleConfig> = serde_saphyr::from_str(
///     "- {name: DiskFull, selector: 'node_filesystem_avail_bytes', limit: 0, trend: leaking, horizon: 4h}\n",
/// ).unwrap();
/// assert_eq!(compile_rules(&rules).unwrap()[0].cfg.horizon.as_millis(), 4 * 3_600_000);
/// let bad: Vec<ExhaustionRuleConfig> =
///     serde_saphyr::from_str("- {name: X, selector: 'up{', limit: 1}\n").unwrap();
/// assert!(compile_rules(&bad).unwrap_err().to_string().starts_with("exhaustion_rules[0] (X): selector"));
/// ```
pub fn compile_rules(
    rules: &[ExhaustionRuleConfig],
) -> Result<Vec<CompiledRule>, PredictConfigError> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(rules.len());
    for (index, r) in rules.iter().enumerate() {
        let err = |reason: String| PredictConfigError {
            index,
            name: r.name.clone(),
            reason,
        };
        if r.name.is_empty() {
            return Err(err("name must be set".into()));
        }
        if !seen.insert(r.name.clone()) {
            return Err(err("name is used by an earlier rule".into()));
        }
        let matchers = argus_promql::parse_selector(&r.selector)
            .map_err(|e| err(format!("selector {:?}: {e}", r.selector)))?
            .sets;
        if !r.limit.is_finite() {
            return Err(err("limit must be a finite number".into()));
        }
        for (key, d) in [
            ("horizon", r.horizon),
            ("window", r.window),
            ("interval", r.interval),
        ] {
            if d.as_millis() <= 0 {
                return Err(err(format!("{key} must be positive")));
            }
        }
        if r.min_points < 3 {
            return Err(err("min_points must be at least 3".into()));
        }
        if !(0.5..=1.0).contains(&r.min_agreement) {
            return Err(err("min_agreement must lie between 0.5 and 1".into()));
        }
        out.push(CompiledRule {
            cfg: r.clone(),
            matchers,
        });
    }
    Ok(out)
}
