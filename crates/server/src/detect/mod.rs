//! Dynamic rules in the server: the wiring of the `argus-dynamic` engine to
//! the configuration, the alert pipeline and the HTTP API ([`api`]). The
//! engine itself (tap, scoring, alert state, training, warm-up, model store)
//! lives in `argus_dynamic`.
//!
//! ```no_run
//! # async fn f(cfg: argus_server::config::Config, db: argus_tsdb::Db,
//! #            outbox: std::sync::Arc<dyn argus_rules::AlertSink>) -> Result<(), argus_dynamic::DynamicError> {
//! use argus_server::detect;
//! let clock = std::sync::Arc::new(argus_model::SystemClock);
//! let svc = detect::start(&cfg, std::path::Path::new("./data"), db.clone(), clock)?;
//! svc.set_alert_sink(std::sync::Arc::new(detect::RulesOutbox(outbox)));
//! let storage = argus_tsdb::Storage::new(db);
//! storage.add_observer(std::sync::Arc::new(svc.tap())); // the write path feeds it
//! let mut app = storage.appender(); // an append path
//! # let _ = &mut app;
//! let router = detect::router(&svc); // merge into the main router
//! # let _ = router;
//! svc.stop();
//! # Ok(()) }
//! ```

pub mod api;

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

/// Hands dynamic alerts to the rules engine's outbox, which shows them with
/// the rule alerts and forwards them to the alert pipeline.
pub struct RulesOutbox(pub Arc<dyn argus_rules::AlertSink>);

impl std::fmt::Debug for RulesOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RulesOutbox").finish_non_exhaustive()
    }
}

impl argus_dynamic::AlertSink for RulesOutbox {
    fn send(&self, alerts: Vec<DynamicAlert>) {
        self.0.send(alerts.into_iter().map(rule_alert).collect());
    }
}

/// A dynamic alert in the rules engine's form: firing stays firing, resolved
/// becomes inactive with its resolution time; no `keep_firing_for`, no
/// generator URL.
pub fn rule_alert(a: DynamicAlert) -> argus_rules::Alert {
    argus_rules::Alert {
        labels: a.labels,
        annotations: a.annotations,
        state: match a.state {
            argus_dynamic::AlertState::Firing => argus_rules::AlertState::Firing,
            argus_dynamic::AlertState::Resolved => argus_rules::AlertState::Inactive,
        },
        value: a.value,
        active_at_ms: a.active_at_ms,
        fired_at_ms: Some(a.fired_at_ms),
        resolved_at_ms: a.resolved_at_ms,
        last_sent_at_ms: Some(a.sent_at_ms),
        valid_until_ms: a.valid_until_ms,
        keep_firing_since_ms: None,
        generator_url: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_model::Labels;

    #[test]
    fn dynamic_alerts_convert_to_rule_alerts() {
        let a = DynamicAlert {
            labels: Labels::from_pairs(&[("alertname", "Lat"), ("level", "2")]),
            annotations: Labels::from_pairs(&[("summary", "high")]),
            state: argus_dynamic::AlertState::Resolved,
            value: 3.5,
            active_at_ms: 1_000,
            fired_at_ms: 2_000,
            resolved_at_ms: Some(3_000),
            sent_at_ms: 4_000,
            valid_until_ms: None,
        };
        let r = rule_alert(a.clone());
        assert_eq!(r.state, argus_rules::AlertState::Inactive);
        assert_eq!(
            (r.active_at_ms, r.fired_at_ms, r.resolved_at_ms),
            (1_000, Some(2_000), Some(3_000))
        );
        assert_eq!(
            (r.last_sent_at_ms, r.valid_until_ms, r.value),
            (Some(4_000), None, 3.5)
        );
        assert_eq!((&r.labels, &r.annotations), (&a.labels, &a.annotations));
        let f = rule_alert(DynamicAlert {
            state: argus_dynamic::AlertState::Firing,
            resolved_at_ms: None,
            valid_until_ms: Some(9_000),
            ..a
        });
        assert_eq!(f.state, argus_rules::AlertState::Firing);
        assert_eq!(f.valid_until_ms, Some(9_000));
        assert!(f.generator_url.is_empty() && f.keep_firing_since_ms.is_none());
    }
}
