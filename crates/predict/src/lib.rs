//! Rules over the store's history that PromQL alone does not express:
//! failure prediction (`exhaustion_rules:`, [`PredictService`]) and
//! composite health (`health_index_rules:`, [`HealthIndexService`]: a
//! performance index of CPU, memory and network, a threshold from its own
//! history, and the classes normal, warning and anomaly against a business
//! threshold).
//!
//! Exhaustion rules alert before a resource runs out — a filesystem fills,
//! memory leaks out, a pool drains — with the predicted time in the alert.
//!
//! Each rule selects series; every `interval` the last `window` of each is
//! read from the store and its trend fitted with Theil–Sen (the median of the
//! pairwise slopes, so a transient spike such as a large temporary file does
//! not tilt it, where `predict_linear`'s least squares does), and only when
//! most pairwise slopes agree (`min_agreement`). When the limit is predicted
//! within `horizon`, the alert goes pending, then fires after `for`.
//! `argus_exhaustion_eta_seconds{rule, metric, ...}` records each prediction.
//!
//! ```
//! use argus_predict::{compile_rules, ExhaustionRuleConfig};
//! let rules: Vec<ExhaustionRuleConfig> = serde_saphyr::from_str(r#"
//! - name: RootFillsSoon
//!   selector: 'node_filesystem_avail_bytes{mountpoint="/"}'
//!   trend: leaking
//!   limit: 0
//!   horizon: 4h
//!   window: 1h
//!   for: 5m
//!   labels: {severity: warning}
//! "#).unwrap();
//! let compiled = compile_rules(&rules).unwrap();
//! assert_eq!(compiled[0].exhaust().horizon_ms, 4 * 3_600_000);
//! ```

mod alerting;
mod config;
mod engine;
mod health_index;
mod schedule;

pub use alerting::AlertSinkFn;
pub use config::{compile_rules, CompiledRule, ExhaustionRuleConfig, PredictConfigError};
pub use engine::{PredictService, ETA_SERIES};
pub use health_index::{
    check_health_index_rules, HealthIndexConfigError, HealthIndexRuleConfig, HealthIndexService,
    InstantQuery, QueryError,
};

#[cfg(test)]
mod tests;
