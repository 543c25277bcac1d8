//! Wiring of service health (`argus-health`) into the server: the
//! [`HealthSink`] that writes the `argus_service_*` series into the store and
//! hands health alerts to the alert pipeline's ingress, the [`LoadQuery`] over
//! the PromQL engine for saturation, reload, and the routes
//! `GET /api/v1/services` and `POST /api/v1/heartbeat/{service}`.
//!
//! A health alert goes into the ingress the moment its condition changes (and
//! at each resend), converted once ([`argus_health::HealthAlert::event`]); the
//! pipeline's feed task applies it, whatever else the server is doing.
//!
//! ```no_run
//! # async fn f(db: argus_tsdb::Db, cfg: argus_server::config::Config) {
//! use argus_server::alerting::sources::ingress;
//! use argus_server::health::HealthRuntime;
//! let clock = std::sync::Arc::new(argus_model::SystemClock);
//! let (alerts, _queue) = ingress(None); // the queue goes to `AlertingService::spawn_feed`
//! let health = HealthRuntime::start(&cfg, db, clock, alerts).unwrap();
//! let app = axum::Router::new().merge(health.router());
//! health.stop();
//! # let _ = app; }
//! ```

mod api;

use crate::alerting::IngressSink;
use crate::config::Config;
use argus_health::{HealthAlert, HealthConfig, HealthError, HealthService, HealthSink, LoadQuery};
use argus_model::{Clock, Labels};
use argus_promql::{Engine, Value};
use argus_tsdb::{Appender, Db};
use parking_lot::Mutex;
use std::sync::Arc;

/// Writes samples into the store and hands alerts to the pipeline's ingress.
struct StoreSink {
    db: Db,
    alerts: IngressSink,
}

impl HealthSink for StoreSink {
    fn send_alerts(&self, alerts: Vec<HealthAlert>) {
        self.alerts.send_health(&alerts);
    }

    fn append_samples(&self, samples: Vec<(Labels, i64, f64)>) -> Result<(), String> {
        let mut app = self.db.appender();
        let mut refused = 0usize;
        for (l, t, v) in &samples {
            if app.append(l, *t, *v).is_err() {
                refused += 1;
            }
        }
        app.commit().map_err(|e| e.to_string())?;
        if refused > 0 {
            tracing::debug!(refused, "The store refused some service health samples.");
        }
        Ok(())
    }
}

/// Saturation load queries: an instant query over the store; the value is
/// the sum of the result's samples (a scalar as is), `None` when empty.
struct StoreLoad {
    db: Db,
    engine: Engine,
}

impl LoadQuery for StoreLoad {
    fn load(&self, expr: &str, t_ms: i64) -> Result<Option<f64>, String> {
        match self.engine.instant_query(&self.db, expr, t_ms) {
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
        db: Db,
        clock: Arc<dyn Clock>,
        alerts: IngressSink,
    ) -> Result<Arc<HealthRuntime>, HealthError> {
        let engine = Engine::new(cfg.query.engine_options());
        let rt = Arc::new(HealthRuntime {
            current: Mutex::new(None),
            sink: Arc::new(StoreSink {
                db: db.clone(),
                alerts,
            }),
            load: Arc::new(StoreLoad { db, engine }),
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

    /// The function the configuration reload calls.
    pub fn reload_hook(self: &Arc<Self>) -> impl Fn(&Config) -> Result<(), String> + Send + Sync {
        let me = self.clone();
        move |cfg: &Config| me.apply(&cfg.health).map_err(|e| e.to_string())
    }

    /// Stops the checks.
    pub fn stop(&self) {
        if let Some((_, s)) = self.current.lock().take() {
            s.abort();
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
