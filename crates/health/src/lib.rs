//! Service health for Argus: heartbeats whose counters
//! live in Redis or in Argus itself (the seed's E-H algorithm), active probes
//! (HTTP, TCP, process), the seed's saturation formula and its classes, and
//! the five-tuple status `(node, source, content, status, value)`.
//!
//! The crate is server-side (it needs Redis and a query function) and knows
//! neither the store, the rules engine nor the alert pipeline: the server
//! passes in a [`HealthSink`] that receives alerts and samples, and a
//! [`LoadQuery`] that evaluates saturation load queries. See
//! `docs/adr/0010-service-health.md`.
//!
//! - [`config`]: the `health:` section;
//! - [`heartbeat`]: the E-H state machine on the injected clock;
//! - [`probe`]: the probes and their retries;
//! - [`saturation`]: formulas 1–3 and the classes;
//! - [`monitor`]: verdicts → status, alerts and series (no I/O, on the clock);
//! - [`service`]: the tasks that poll, probe, resend and sample.
//!
//! ```
//! use argus_health::monitor::Monitor;
//! use argus_health::HealthConfig;
//! use argus_model::ManualClock;
//! use std::sync::Arc;
//!
//! let cfg: HealthConfig = serde_saphyr::from_str(
//!     "services:\n  - {name: api, node: n1, heartbeat: {source: http, interval: 1s}}\n",
//! ).unwrap();
//! let clock = Arc::new(ManualClock::new(0));
//! let mut m = Monitor::new(&cfg, clock.clone()).unwrap();
//! m.heartbeat_readings(&[(0, Some("1".into()))]);
//! clock.advance(1_000);
//! let alerts = m.heartbeat_readings(&[(0, Some("1".into()))]);
//! assert_eq!(alerts[0].labels["alertname"], "ServiceDown");
//! assert_eq!(alerts[0].labels["reason"], "heartbeat");
//! assert_eq!(m.five_tuples()[0].status, "down");
//! ```

pub mod config;
pub mod heartbeat;
pub mod monitor;
pub mod probe;
pub mod saturation;
pub mod service;
pub mod supervise;

pub use config::{
    Dimension, HealthConfig, HeartbeatConfig, HeartbeatSource, ProbeConfig, ProbeType,
    SaturationConfig, ServiceConfig, Source,
};
pub use monitor::{FiveTuple, HealthAlert};
pub use service::HealthService;

use argus_model::Labels;

/// Errors of the health crate. Each names the service or probe concerned.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// The `health:` configuration is invalid.
    #[error("health: service {service:?}: {message}")]
    Config {
        /// The service (`-` for a top-level key).
        service: String,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A probe could not be built.
    #[error("{0}")]
    Probe(String),
    /// No service of that name is configured.
    #[error("no service named {0:?} is configured")]
    UnknownService(String),
    /// The service's heartbeat is not counted by Argus (`source: http`).
    #[error("service {0:?} has no heartbeat with source http")]
    NotHttpHeartbeat(String),
}

impl HealthError {
    /// True when trying again may succeed (never, for these errors).
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// Where the health crate's output goes; the server implements it over the
/// store and the alert pipeline.
pub trait HealthSink: Send + Sync + 'static {
    /// Alerts to hand to the alert pipeline now. Called on the async runtime
    /// as soon as a condition changes (and at each resend), so it must not block.
    fn send_alerts(&self, alerts: Vec<HealthAlert>);
    /// Samples to store, each `(labels with __name__, time ms, value)`.
    /// Called on the blocking pool; may block.
    fn append_samples(&self, samples: Vec<(Labels, i64, f64)>) -> Result<(), String>;
}

/// Evaluates a saturation load query (PromQL) at a time; the server
/// implements it over its query engine.
pub trait LoadQuery: Send + Sync + 'static {
    /// The value of `expr` at `t_ms`: the sum of the result's samples, or
    /// `None` when the result is empty. Called on the blocking pool.
    fn load(&self, expr: &str, t_ms: i64) -> Result<Option<f64>, String>;
}

/// This host's name (from the kernel), the default `node`.
pub use argus_model::host::hostname;
