//! Wiring of service health (`argus-health`) into the server: the
//! [`HealthSink`] that writes the `argus_service_*` series through the store's
//! write path (unobserved: dynamic rules do not score them) and hands health
//! alerts to the alert pipeline's ingress, the [`LoadQuery`] through the
//! server's query service for saturation, reload, and the routes
//! `GET /api/v1/services` and `POST /api/v1/heartbeat/{service}`.
//!
//! A health alert goes into the ingress the moment its condition changes (and
//! at each resend), converted once ([`argus_health::HealthAlert::event`]); the
//! pipeline's feed task applies it, whatever else the server is doing.
//!
//! ```no_run
//! # async fn f(db: argus_tsdb::Db, cfg: argus_server::config::Config) {
//! use argus_server::alerting::sources::ingress;
//! use argus_server::api::exec::QueryService;
//! use argus_server::health::HealthRuntime;
//! let clock = std::sync::Arc::new(argus_model::SystemClock);
//! let (alerts, _queue) = ingress(None); // the queue goes to `AlertingService::spawn_feed`
//! let query = std::sync::Arc::new(QueryService::new(&cfg.query, db.clone()));
//! let storage = argus_tsdb::Storage::new(db);
//! let health = HealthRuntime::start(&cfg, storage, query, clock, alerts).unwrap();
//! let app = axum::Router::new().merge(health.router());
//! health.shutdown().await;
//! # let _ = app; }
//! ```

mod api;

use crate::alerting::IngressSink;
use crate::api::exec::QueryService;
use crate::config::Config;
use argus_health::{HealthAlert, HealthConfig, HealthError, HealthService, HealthSink, LoadQuery};
use argus_model::{Clock, Labels};
use argus_promql::Value;
use argus_tsdb::Storage;
use parking_lot::Mutex;
use std::sync::Arc;

/// Writes samples into the store and hands alerts to the pipeline's ingress.
struct StoreSink {
    storage: Storage,
    alerts: IngressSink,
}

impl HealthSink for StoreSink {
    fn send_alerts(&self, alerts: Vec<HealthAlert>) {
        self.alerts.send_health(&alerts);
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
    /// Starts the checks of `cfg.health` (none when it lists no service),
    /// sending their alerts to `alerts`. Must be called within a tokio runtime.
    pub fn start(
        cfg: &Config,
        storage: Storage,
        query: Arc<QueryService>,
        clock: Arc<dyn Clock>,
        alerts: IngressSink,
    ) -> Result<Arc<HealthRuntime>, HealthError> {
        let rt = Arc::new(HealthRuntime {
            current: Mutex::new(None),
            // Health series are not observed: dynamic rules do not score them.
            sink: Arc::new(StoreSink {
                storage: storage.unobserved(),
                alerts,
            }),
            load: Arc::new(StoreLoad { query }),
            clock,
            rt: tokio::runtime::Handle::current(),
        });
        rt.apply(&cfg.health)?;
        Ok(rt)
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
