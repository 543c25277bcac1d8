//! Dynamic rules in the server: the wiring of the `argus-dynamic` engine to
//! the configuration, the alert pipeline and the HTTP API ([`api`]). The
//! engine itself (tap, scoring, alert state, training, warm-up, model store)
//! lives in `argus_dynamic`. Its alerts go straight into the pipeline's
//! ingress ([`crate::alerting::IngressSink`] implements its `AlertSink`).
//!
//! ```no_run
//! # async fn f(cfg: argus_server::config::Config, db: argus_tsdb::Db,
//! #            alerts: argus_server::alerting::IngressSink) -> Result<(), argus_dynamic::DynamicError> {
//! use argus_server::detect;
//! let clock = std::sync::Arc::new(argus_model::SystemClock);
//! let svc = detect::start(&cfg, std::path::Path::new("./data"), db.clone(), clock)?;
//! svc.set_alert_sink(std::sync::Arc::new(alerts));
//! let storage = argus_tsdb::Storage::new(db);
//! storage.add_observer(std::sync::Arc::new(svc.tap())); // the write path feeds it
//! let mut app = storage.appender(); // an append path
//! # let _ = &mut app;
//! let router = detect::router(&svc); // merge into the main router
//! # let _ = router;
//! svc.stop();
//! # Ok(()) }
//! ```

pub use argus_dynamic::api;

use std::path::Path;
use std::sync::Arc;

pub use argus_dynamic::{
    DetectReloader, DetectService, DynamicAlert, DynamicError, DynamicRuleConfig, Settings, Tap,
};
use argus_model::Clock;
use argus_tsdb::Db;

/// The engine's settings from the server's configuration: `dynamic_rules:`,
/// `detect:` and the rules engine's `resend_delay`.
pub fn settings(cfg: &crate::config::Config) -> Settings {
    Settings {
        rules: cfg.dynamic_rules.clone(),
        detect: cfg.detect.clone(),
        resend_delay_ms: cfg.rules.resend_delay.as_millis(),
    }
}

/// Starts the engine over `cfg` (see [`DetectService::start`]).
pub fn start(
    cfg: &crate::config::Config,
    data_dir: &Path,
    db: Db,
    clock: Arc<dyn Clock>,
) -> Result<DetectService, DynamicError> {
    DetectService::start(&settings(cfg), data_dir, db, clock)
}

/// The models API of `svc`, with its own state; merge it into the main router.
pub fn router(svc: &DetectService) -> axum::Router {
    api::router(svc.shared().clone())
}
