//! Argus's static rules: Prometheus rule files loaded unchanged, evaluated per
//! group on an aligned interval, with Prometheus's alert semantics (pending →
//! firing after `for`, `keep_firing_for`, resolved alerts resent for 15
//! minutes, `ALERTS`/`ALERTS_FOR_STATE`), Go-style templates, alert state
//! restored after a restart, and the `promtool test rules` runner.
//!
//! The crate never imports the store, the server or the alert pipeline: the
//! server injects a [`QueryFn`], a [`SampleSink`] and an [`AlertSink`].
//!
//! ```
//! use argus_model::Labels;
//! use argus_promql::VectorSample;
//! use argus_rules::{parse_rule_file, Alert, EvalDeps, Group, GroupOptions};
//! use std::sync::Mutex;
//!
//! let file = parse_rule_file("node.yml", r#"
//! groups:
//! - name: node
//!   rules:
//!   - alert: HostDown
//!     expr: up == 0
//!     for: 2m
//!     annotations:
//!       summary: "{{ $labels.instance }} is down"
//! "#).unwrap();
//! let mut g = Group::new(file.groups[0].clone(), GroupOptions::default());
//! let query = |_: &str, t: i64| -> Result<Vec<VectorSample>, String> {
//!     Ok(vec![VectorSample { labels: Labels::from_pairs(&[("__name__", "up"), ("instance", "a")]), t, v: 0.0 }])
//! };
//! let samples = |_: Vec<(Labels, i64, f64)>| -> Result<(), String> { Ok(()) };
//! let sent = Mutex::new(Vec::new());
//! let alerts = |a: Vec<Alert>| sent.lock().unwrap().extend(a);
//! let deps = EvalDeps { query: &query, samples: &samples, alerts: &alerts };
//! for t in [0, 60_000, 120_000] {
//!     g.eval(t, deps);
//! }
//! let sent = sent.lock().unwrap();
//! assert_eq!(sent.len(), 1); // fired at 2m
//! assert_eq!(sent[0].annotations.get("summary"), Some("a is down"));
//! ```
//!
//! Entry points: [`check_rule_files`] (`argus check rules`),
//! [`run_rule_test_files`] (`argus test rules`), [`RuleManager`] (the server),
//! and [`Group`] for a state machine stepped by hand.

#![warn(missing_docs)]

mod alert;
pub mod api_json;
mod file;
mod group;
mod inject;
mod manager;
mod rule;
pub mod state;
pub mod template;
pub mod unittest;

pub use alert::{Alert, AlertState};
pub use file::{
    check_rule_files, expand_rule_globs, load_rule_file, parse_rule_file, CheckSummary,
    FileProblem, GroupSpec, LoadError, RuleFile, RuleKind, RuleSpec,
};
pub use group::{EvalDeps, Group, GroupOptions};
pub use inject::{AlertSink, QueryFn, SampleSink, VectorSample};
pub use manager::{Deps, RuleManager};
pub use rule::{Rule, RuleContext, RuleHealth, RESOLVED_RETENTION_MS};
pub use unittest::{run_rule_test_files, run_rule_tests, FileReport, Report};
