//! The `promtool test rules` YAML format (unknown keys are rejected).

use std::collections::BTreeMap;

use argus_model::PromDuration;
use serde::Deserialize;

/// A rule-test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// Rule files, relative to the test file; the last path component may be a glob.
    #[serde(default)]
    pub rule_files: Vec<String>,
    /// The rule evaluation interval (default 1m).
    #[serde(default)]
    pub evaluation_interval: Option<PromDuration>,
    /// Groups evaluated in this order (names must exist).
    #[serde(default)]
    pub group_eval_order: Vec<String>,
    /// The test groups.
    #[serde(default)]
    pub tests: Vec<TestGroup>,
    /// Compare floats with a relative tolerance (1e-6) instead of exactly.
    #[serde(default)]
    pub fuzzy_compare: bool,
}

/// One test group: input series and the checks on them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestGroup {
    /// Optional name shown in failures.
    #[serde(default)]
    pub name: String,
    /// Spacing of `input_series` values (default: the evaluation interval).
    #[serde(default)]
    pub interval: Option<PromDuration>,
    /// The input series.
    #[serde(default)]
    pub input_series: Vec<InputSeries>,
    /// Alert checks.
    #[serde(default)]
    pub alert_rule_test: Vec<AlertTest>,
    /// Expression checks.
    #[serde(default)]
    pub promql_expr_test: Vec<ExprTest>,
    /// External labels for templates.
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    /// External URL for templates.
    #[serde(default)]
    pub external_url: String,
}

/// `series: 'metric{a="b"}'`, `values: '1+1x10 _ stale'`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSeries {
    /// The series in PromQL selector notation.
    pub series: String,
    /// Expanding notation: `a+bxN`, `a-bxN`, `axN`, `_`, `_xN`, `stale`.
    #[serde(default)]
    pub values: String,
}

/// Alerts expected to be firing at `eval_time`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertTest {
    /// Time since 0 at which to check.
    pub eval_time: PromDuration,
    /// The alerting rule's name.
    pub alertname: String,
    /// The firing alerts expected (none when empty).
    #[serde(default)]
    pub exp_alerts: Vec<ExpAlert>,
}

/// One expected alert.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpAlert {
    /// Labels without `alertname` (added by the runner).
    #[serde(default)]
    pub exp_labels: BTreeMap<String, String>,
    /// Annotations after template expansion.
    #[serde(default)]
    pub exp_annotations: BTreeMap<String, String>,
}

/// An expression and its expected samples at `eval_time`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExprTest {
    /// The PromQL expression.
    pub expr: String,
    /// Time since 0.
    pub eval_time: PromDuration,
    /// Expected samples (any order).
    #[serde(default)]
    pub exp_samples: Vec<ExpSample>,
}

/// One expected sample.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpSample {
    /// The series, e.g. `up{job="a"}` (empty for a scalar result).
    #[serde(default)]
    pub labels: String,
    /// The value.
    #[serde(default)]
    pub value: f64,
    /// A native histogram (not supported by Argus's engine; reported as a failure).
    #[serde(default)]
    pub histogram: Option<String>,
}
