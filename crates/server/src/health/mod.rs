//! Wiring of service health (`argus-health`) into the server: the
//! [`HealthSink`] that writes the `argus_service_*` series through the store's
//! write path (unobserved: dynamic rules do not score them) and turns health alerts into Prometheus-style alerts for the
//! alert pipeline, the [`LoadQuery`] through the server's query service for
//! saturation, reload, and the routes `GET /api/v1/services` and
//! `POST /api/v1/heartbeat/{service}`.
//!
//! Alerts leave the health tasks on an unbounded channel; [`serve_with_alerts`]
//! drains it into `AlertingService::send_rule_alerts` next to the HTTP server,
//! so a health alert reaches the pipeline as soon as it changes.
//!
//! ```no_run
//! # async fn f(db: argus_tsdb::Db, cfg: argus_server::config::Config,
//! #            alerting: argus_server::alerting::AlertingService) {
//! use argus_server::api::exec::QueryService;
//! use argus_server::health::{serve_with_alerts, HealthRuntime};
//! let clock = std::sync::Arc::new(argus_model::SystemClock);
//! let query = std::sync::Arc::new(QueryService::new(&cfg.query, db.clone()));
//! let storage = argus_tsdb::Storage::new(db);
//! let (health, alerts) = HealthRuntime::start(&cfg, storage, query, clock).unwrap();
//! let app = axum::Router::new().merge(health.router());
//! let serve = async { /* axum::serve(listener, app).await */ };
//! serve_with_alerts(serve, &alerting, alerts).await;
//! health.shutdown().await;
//! # let _ = app; }
//! ```

mod api;

use crate::alerting::AlertingService;
use crate::api::exec::QueryService;
use crate::config::Config;
use argus_alert::PostableAlert;
use argus_health::{HealthAlert, HealthConfig, HealthError, HealthService, HealthSink, LoadQuery};
use argus_model::{Clock, Labels};
use argus_promql::Value;
use argus_tsdb::Storage;
use parking_lot::Mutex;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Alert batches from the health checks, for the alert pipeline.
pub type AlertReceiver = mpsc::UnboundedReceiver<Vec<PostableAlert>>;

/// Writes samples into the store and forwards alerts to a channel.
struct StoreSink {
    storage: Storage,
    alerts: mpsc::UnboundedSender<Vec<PostableAlert>>,
}

/// Converts a health alert to the shape the rules engine sends (Prometheus's
/// `sendAlerts`): `startsAt`, and `endsAt` = validity or resolution time.
pub fn postable(a: &HealthAlert) -> PostableAlert {
    PostableAlert {
        labels: a.labels.clone(),
        annotations: a.annotations.clone(),
        starts_at: Some(argus_alert::alert::format_rfc3339(a.starts_at_ms)),
        ends_at: Some(argus_alert::alert::format_rfc3339(a.ends_at_ms)),
        generator_url: None,
    }
}

impl HealthSink for StoreSink {
    fn send_alerts(&self, alerts: Vec<HealthAlert>) {
        // The receiver lives as long as the server; after shutdown there is
        // nobody left to tell.
        let _ = self.alerts.send(alerts.iter().map(postable).collect());
    }

    /// Called on a blocking thread (the health tasks' `spawn_blocking`).
    fn append_samples(&self, samples: Vec<(Labels, i64, f64)>) -> Result<(), String> {
        let report = self
            .storage
            .append_batch(samples.iter().map(|(l, t, v)| (l, *t, *v)))
            .map_err(|e| e.to_string())?;
        report.log_refused("service health samples");
        Ok(())
    }
}

/// Saturation load queries: an instant query through the query service; the
/// value is the sum of the result's samples (a scalar as is), `None` when
/// empty.
struct StoreLoad {
    query: Arc<QueryService>,
}

impl LoadQuery for StoreLoad {
    fn load(&self, expr: &str, t_ms: i64) -> Result<Option<f64>, String> {
        match self.query.instant(expr, t_ms) {
            Ok(Value::Vector(v)) if v.is_empty() => Ok(None),
            Ok(Value::Vector(v)) => Ok(Some(v.iter().map(|s| s.v).sum())),
            Ok(Value::Scalar { v, .. }) => Ok(Some(v)),
            Ok(other) => Err(format!(
                "the load query {expr:?} gives a {}, not a vector or scalar",
                other.type_name()
            )),
            Err(e) => Err(format!("the load query {expr:?} failed: {e}")),
        }
    }
}

/// The health checks in force, swapped on reload.
pub struct HealthRuntime {
    current: Mutex<Option<(HealthConfig, HealthService)>>,
    sink: Arc<StoreSink>,
    load: Arc<StoreLoad>,
    clock: Arc<dyn Clock>,
    rt: tokio::runtime::Handle,
}

impl std::fmt::Debug for HealthRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthRuntime").finish_non_exhaustive()
    }
}

impl HealthRuntime {
    /// Starts the checks of `cfg.health` (none when it lists no service).
    /// Must be called within a tokio runtime. Returns the alert channel's
    /// receiver, for [`serve_with_alerts`].
    pub fn start(
        cfg: &Config,
        storage: Storage,
        query: Arc<QueryService>,
        clock: Arc<dyn Clock>,
    ) -> Result<(Arc<HealthRuntime>, AlertReceiver), HealthError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let rt = Arc::new(HealthRuntime {
            current: Mutex::new(None),
            // Health series are not observed: dynamic rules do not score them.
            sink: Arc::new(StoreSink {
                storage: storage.unobserved(),
                alerts: tx,
            }),
            load: Arc::new(StoreLoad { query }),
            clock,
            rt: tokio::runtime::Handle::current(),
        });
        rt.apply(&cfg.health)?;
        Ok((rt, rx))
    }

    /// Applies a new `health:` section: an unchanged one keeps its state; a
    /// changed one restarts the checks (verdicts start unknown again, alerts
    /// still firing are carried over and resolve when their check passes).
    /// On error the old checks stay in force.
    pub fn apply(&self, cfg: &HealthConfig) -> Result<(), HealthError> {
        let mut cur = self.current.lock();
        if cur.as_ref().is_some_and(|(c, _)| c == cfg) {
            return Ok(());
        }
        let _entered = self.rt.enter();
        let sink: Arc<dyn HealthSink> = self.sink.clone();
        let load: Arc<dyn LoadQuery> = self.load.clone();
        let carried = cur
            .as_ref()
            .map(|(_, s)| s.active_alerts())
            .unwrap_or_default();
        let new =
            HealthService::start_with_alerts(cfg, self.clock.clone(), sink, Some(load), carried)?;
        if let Some((_, old)) = cur.replace((cfg.clone(), new)) {
            old.abort();
        }
        Ok(())
    }

    /// Stops the checks without waiting for them.
    pub fn stop(&self) {
        if let Some((_, s)) = self.current.lock().take() {
            s.abort();
        }
    }

    /// Stops the checks and waits until their tasks have ended.
    pub async fn shutdown(&self) {
        let current = self.current.lock().take();
        if let Some((_, s)) = current {
            s.stop().await;
        }
    }

    fn with<T>(&self, f: impl FnOnce(&HealthService) -> T) -> Option<T> {
        self.current.lock().as_ref().map(|(_, s)| f(s))
    }

    /// `GET /api/v1/services` and `POST /api/v1/heartbeat/{service}`.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        api::router(self.clone())
    }
}

/// Runs `serve` (the HTTP server) while handing every alert batch from the
/// health checks to the alert pipeline at once. Returns `serve`'s output.
pub async fn serve_with_alerts<F: std::future::Future>(
    serve: F,
    alerting: &AlertingService,
    mut alerts: AlertReceiver,
) -> F::Output {
    tokio::pin!(serve);
    loop {
        tokio::select! {
            out = &mut serve => return out,
            Some(batch) = alerts.recv() => {
                if let Err(e) = alerting.send_rule_alerts(batch) {
                    tracing::error!(error = %e, "Could not hand service health alerts to the alert pipeline.");
                }
            }
        }
    }
}
