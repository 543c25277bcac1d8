//! The `global:` section.

use argus_ingest::scrape::ByteSize;
use argus_model::PromDuration;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `global:` section. Keys Prometheus has that change nothing in Argus are
/// accepted and logged as ignored (see `prometheus_keys`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    /// Default scrape interval. Default `15s`.
    pub scrape_interval: PromDuration,
    /// Default scrape timeout. Default `10s`.
    pub scrape_timeout: PromDuration,
    /// Labels that name this server to the outside, as in Prometheus: they
    /// are not stored with local samples, but are available to rule
    /// templates as `$externalLabels` and added to every alert (rules,
    /// health checks, dynamic rules) before it reaches the alert pipeline,
    /// and so to notifications; an alert's own label of the same name wins.
    /// Default none.
    pub external_labels: BTreeMap<String, String>,
    /// How often rule groups without their own `interval` are evaluated.
    /// Default: the shortest scrape interval in this file (global or any
    /// job), at least `1s`; `15s` when nothing is scraped. Prometheus's
    /// default is `1m`, which alone makes an `up == 0` alert up to a minute
    /// late; set it explicitly to get Prometheus's behaviour.
    pub evaluation_interval: Option<PromDuration>,
    /// How far back in time rule groups without their own `query_offset`
    /// query (Prometheus's `rule_query_offset`). Default `0s`.
    pub rule_query_offset: PromDuration,
    /// Default `sample_limit` of jobs that set none (0: no limit).
    pub sample_limit: u64,
    /// Default `body_size_limit` of jobs that set none (0: no limit).
    pub body_size_limit: ByteSize,
    /// Default `label_limit` of jobs that set none (0: no limit).
    pub label_limit: u64,
    /// Default `label_name_length_limit` of jobs that set none (0: no limit).
    pub label_name_length_limit: u64,
    /// Default `label_value_length_limit` of jobs that set none (0: no limit).
    pub label_value_length_limit: u64,
    /// Accepted, ignored.
    #[serde(rename = "query_log_file")]
    pub ignored_query_log_file: Option<IgnoredAny>,
    /// Accepted, ignored.
    #[serde(rename = "scrape_failure_log_file")]
    pub ignored_scrape_failure_log_file: Option<IgnoredAny>,
    /// Accepted, ignored.
    #[serde(rename = "scrape_protocols")]
    pub ignored_scrape_protocols: Option<IgnoredAny>,
    /// Accepted, ignored.
    #[serde(rename = "target_limit")]
    pub ignored_target_limit: Option<IgnoredAny>,
    /// Accepted, ignored.
    #[serde(rename = "keep_dropped_targets")]
    pub ignored_keep_dropped_targets: Option<IgnoredAny>,
    /// Accepted, ignored.
    #[serde(rename = "metric_name_validation_scheme")]
    pub ignored_metric_name_validation_scheme: Option<IgnoredAny>,
    /// Accepted, ignored.
    #[serde(rename = "metric_name_escaping_scheme")]
    pub ignored_metric_name_escaping_scheme: Option<IgnoredAny>,
    /// Accepted, ignored.
    #[serde(rename = "scrape_native_histograms")]
    pub ignored_scrape_native_histograms: Option<IgnoredAny>,
    /// Accepted, ignored.
    #[serde(rename = "always_scrape_classic_histograms")]
    pub ignored_always_scrape_classic_histograms: Option<IgnoredAny>,
    /// Accepted, ignored.
    #[serde(rename = "convert_classic_histograms_to_nhcb")]
    pub ignored_convert_classic_histograms_to_nhcb: Option<IgnoredAny>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: PromDuration::from_secs(15),
            scrape_timeout: PromDuration::from_secs(10),
            external_labels: BTreeMap::new(),
            evaluation_interval: None,
            rule_query_offset: PromDuration(0),
            sample_limit: 0,
            body_size_limit: ByteSize(0),
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            ignored_query_log_file: None,
            ignored_scrape_failure_log_file: None,
            ignored_scrape_protocols: None,
            ignored_target_limit: None,
            ignored_keep_dropped_targets: None,
            ignored_metric_name_validation_scheme: None,
            ignored_metric_name_escaping_scheme: None,
            ignored_scrape_native_histograms: None,
            ignored_always_scrape_classic_histograms: None,
            ignored_convert_classic_histograms_to_nhcb: None,
        }
    }
}
