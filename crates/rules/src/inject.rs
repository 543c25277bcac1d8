//! The functions the server injects: how rules query, where recorded samples
//! go and where alerts go. Rules never import the storage, the engine's
//! server wiring or the alert pipeline (ARCHITECTURE.md: "Rules are decoupled
//! from the engine through function types").
//!
//! Closures implement each trait, so wiring is one line:
//!
//! ```
//! use argus_rules::{QueryFn, SampleSink, AlertSink, Alert};
//! let q = |_expr: &str, _t: i64| -> Result<Vec<argus_promql::VectorSample>, String> { Ok(vec![]) };
//! let s = |_samples: Vec<(argus_model::Labels, i64, f64)>| -> Result<(), String> { Ok(()) };
//! let a = |_alerts: Vec<Alert>| {};
//! let _: (&dyn QueryFn, &dyn SampleSink, &dyn AlertSink) = (&q, &s, &a);
//! ```

use argus_model::Labels;
pub use argus_promql::VectorSample;

use crate::alert::Alert;

/// Evaluates an instant query at `t_ms` and returns its vector (a scalar
/// result is returned as one sample with empty labels).
pub trait QueryFn: Send + Sync {
    /// Runs `expr` at `t_ms`.
    fn query(&self, expr: &str, t_ms: i64) -> Result<Vec<VectorSample>, String>;
}

impl<F> QueryFn for F
where
    F: Fn(&str, i64) -> Result<Vec<VectorSample>, String> + Send + Sync,
{
    fn query(&self, expr: &str, t_ms: i64) -> Result<Vec<VectorSample>, String> {
        self(expr, t_ms)
    }
}

/// Receives the samples a group produces: recording-rule results, `ALERTS`,
/// `ALERTS_FOR_STATE` and stale markers (`argus_model::STALE_NAN`) for series
/// that disappeared. One call per group evaluation.
pub trait SampleSink: Send + Sync {
    /// Appends `(labels, t_ms, value)` samples.
    fn append(&self, samples: Vec<(Labels, i64, f64)>) -> Result<(), String>;
}

impl<F> SampleSink for F
where
    F: Fn(Vec<(Labels, i64, f64)>) -> Result<(), String> + Send + Sync,
{
    fn append(&self, samples: Vec<(Labels, i64, f64)>) -> Result<(), String> {
        self(samples)
    }
}

/// Receives the alerts due for sending (firing, and resolved ones for 15
/// minutes), like Prometheus's notifier. One call per alerting rule evaluation
/// that has something to send. [`Alert::event`] is the form the alert
/// pipeline takes.
pub trait AlertSink: Send + Sync {
    /// Delivers `alerts`.
    fn send(&self, alerts: Vec<Alert>);
}

impl<F> AlertSink for F
where
    F: Fn(Vec<Alert>) + Send + Sync,
{
    fn send(&self, alerts: Vec<Alert>) {
        self(alerts)
    }
}
