//! Wiring of the rules engine (`argus_rules`) into the server: the server
//! hands the engine three functions, as ARCHITECTURE.md asks ("rules are
//! decoupled from the engine through function types"):
//!
//! - the **query function** is the PromQL engine's instant query over the store
//!   ([`store_query_fn`]);
//! - the **sample sink** appends and commits recorded series and
//!   `ALERTS`/`ALERTS_FOR_STATE` to the store ([`store_sample_sink`]);
//! - the **alert sink** is [`crate::alerting::IngressSink`]: each alert due
//!   for sending is logged at debug level, converted once into an
//!   `AlertEvent` and queued at the alert pipeline's ingress, the same way in
//!   as health and dynamic alerts. Neither `argus-rules` nor `argus-alert`
//!   imports the other; only the server knows both.
//!
//! [`RuleService`] owns the [`RuleManager`] and implements reload
//! (`POST /-/reload`, SIGHUP): the config file and every rule file are read and
//! validated first; on any error nothing changes.
//!
//! ```no_run
//! # fn f(db: argus_tsdb::Db, cfg: argus_server::config::Config) {
//! use argus_server::alerting::sources::ingress;
//! use argus_server::rules::{store_query_fn, store_sample_sink};
//! use std::sync::Arc;
//! let (alerts, _queue) = ingress(None); // the queue goes to `AlertingService::spawn_feed`
//! let deps = argus_rules::Deps {
//!     query: Arc::new(store_query_fn(db.clone(), Default::default())),
//!     samples: Arc::new(store_sample_sink(db)),
//!     alerts: Arc::new(alerts),
//! };
//! # let _ = (deps, cfg);
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use argus_model::{Clock, Labels};
use argus_promql::{Engine, EngineOptions, Value, VectorSample};
use argus_rules::{Deps, GroupOptions, QueryFn, RuleContext, RuleManager, SampleSink};
use argus_tsdb::{Appender, Db};
use parking_lot::Mutex;

use crate::config::{Config, ConfigError};

/// The rules engine's query function: an instant query over `db`.
///
/// A vector is returned as is, a scalar as one sample with empty labels;
/// strings and matrices are errors, as in Prometheus.
pub fn store_query_fn(db: Db, opts: EngineOptions) -> impl QueryFn {
    let engine = Engine::new(opts);
    move |expr: &str, t_ms: i64| -> Result<Vec<VectorSample>, String> {
        match engine.instant_query(&db, expr, t_ms) {
            Ok(Value::Vector(v)) => Ok(v),
            Ok(Value::Scalar { t, v }) => Ok(vec![VectorSample {
                labels: Labels::empty(),
                t,
                v,
            }]),
            Ok(other) => Err(format!(
                "rule result is a {}, not a vector or scalar",
                other.type_name()
            )),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The rules engine's sample sink: one appender and one commit per batch.
/// Samples the store refuses (out of order, duplicates) are skipped and
/// logged, like Prometheus's rule manager does; a failed commit is an error.
pub fn store_sample_sink(db: Db) -> impl SampleSink {
    store_sample_sink_tapped(db, crate::detect::Tap::default())
}

/// [`store_sample_sink`] whose recorded series also feed the dynamic rules
/// that select them (through `tap`).
pub fn store_sample_sink_tapped(db: Db, tap: crate::detect::Tap) -> impl SampleSink {
    move |samples: Vec<(Labels, i64, f64)>| -> Result<(), String> {
        let mut app = tap.wrap(db.appender());
        let mut refused = 0usize;
        let mut first_err = None;
        for (l, t, v) in &samples {
            if let Err(e) = app.append(l, *t, *v) {
                refused += 1;
                first_err.get_or_insert_with(|| e.to_string());
            }
        }
        app.commit().map_err(|e| e.to_string())?;
        if let Some(e) = first_err {
            tracing::debug!(refused, first_error = %e, "The store refused some rule results.");
        }
        Ok(())
    }
}

/// How the last reload went, for `/api/v1/status/runtimeinfo`.
#[derive(Debug, Clone, Copy)]
pub struct ReloadStatus {
    /// Whether the last reload (or the start-up load) succeeded.
    pub success: bool,
    /// When the configuration in force was loaded (ms).
    pub at_ms: i64,
}

/// The rules engine as the server runs it: the manager and reload.
pub struct RuleService {
    manager: RuleManager,
    config_path: Option<PathBuf>,
    clock: Arc<dyn Clock>,
    reload_lock: tokio::sync::Mutex<()>,
    status: Mutex<ReloadStatus>,
    hook: Mutex<Option<ReloadHook>>,
}

/// Called on reload with the new configuration, before the rule files are
/// swapped; an error aborts the reload with nothing changed. The server uses
/// it to reload the alerting pipeline's configuration.
pub type ReloadHook = Arc<dyn Fn(&Config) -> Result<(), String> + Send + Sync>;

/// The group options a configuration asks for.
pub fn group_options(cfg: &Config, data_dir: &Path, listen: std::net::SocketAddr) -> GroupOptions {
    let pairs: Vec<(&str, &str)> = cfg
        .global
        .external_labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    GroupOptions {
        default_interval_ms: cfg.evaluation_interval().as_millis(),
        default_query_offset_ms: cfg.global.rule_query_offset.as_millis(),
        resend_delay_ms: cfg.rules.resend_delay.as_millis(),
        context: RuleContext {
            external_labels: Labels::from_pairs(&pairs),
            external_url: cfg
                .rules
                .external_url
                .clone()
                .unwrap_or_else(|| format!("http://{listen}")),
        },
        state_dir: Some(
            cfg.rules
                .state_dir
                .clone()
                .unwrap_or_else(|| data_dir.join("rules")),
        ),
        outage_tolerance_ms: cfg.rules.outage_tolerance.as_millis(),
        for_grace_period_ms: cfg.rules.for_grace_period.as_millis(),
    }
}

impl RuleService {
    /// Builds the manager and loads the configuration's rule files. Must run
    /// inside a tokio runtime. A bad rule file is an error naming its file and line.
    /// `wake`, when given, makes alerting groups evaluate early when it
    /// changes (the scrape manager's target-health changes).
    pub fn start(
        cfg: &Config,
        opts: GroupOptions,
        deps: Deps,
        config_path: Option<PathBuf>,
        clock: Arc<dyn Clock>,
        wake: Option<tokio::sync::watch::Receiver<u64>>,
    ) -> Result<Self, ConfigError> {
        let files = cfg.rule_file_paths()?;
        let manager = RuleManager::new(opts, deps, clock.clone());
        if let Some(w) = wake {
            manager.set_wake(w);
        }
        manager
            .load(&files)
            .map_err(|errors| ConfigError::Rules { errors })?;
        let at_ms = clock.now_ms();
        Ok(RuleService {
            manager,
            config_path,
            clock,
            reload_lock: tokio::sync::Mutex::new(()),
            hook: Mutex::new(None),
            status: Mutex::new(ReloadStatus {
                success: true,
                at_ms,
            }),
        })
    }

    /// The manager, for the rules and alerts APIs.
    pub fn manager(&self) -> &RuleManager {
        &self.manager
    }

    /// How the last reload went.
    pub fn reload_status(&self) -> ReloadStatus {
        *self.status.lock()
    }

    /// Re-reads the configuration file and the rule files it names and applies
    /// the new rules. On any error nothing changes and the error is returned.
    /// Other sections of the configuration (and `global.evaluation_interval`)
    /// take effect at the next restart. Returns the number of rule groups.
    /// Installs the hook run on every reload (see [`ReloadHook`]).
    pub fn set_reload_hook(&self, hook: ReloadHook) {
        *self.hook.lock() = Some(hook);
    }

    /// Re-reads the configuration file and the rule files; on any error nothing changes.
    pub async fn reload(&self) -> Result<usize, ConfigError> {
        let _one_at_a_time = self.reload_lock.lock().await;
        let res = self.reload_locked().await;
        if let Err(e) = &res {
            tracing::error!(error = %e, "Reloading the configuration failed; the old rules stay in force.");
        }
        let mut st = self.status.lock();
        st.success = res.is_ok();
        if res.is_ok() {
            st.at_ms = self.clock.now_ms();
        }
        res
    }

    async fn reload_locked(&self) -> Result<usize, ConfigError> {
        let Some(path) = self.config_path.clone() else {
            tracing::info!("Reload requested without a configuration file; nothing to reload.");
            return Ok(self.manager.with_groups(|g| g.len()));
        };
        let p2 = path.clone();
        let hook = self.hook.lock().clone();
        let loaded = tokio::task::spawn_blocking(move || {
            let cfg = Config::load(&p2)?;
            let files = cfg.rule_file_paths()?;

            // Validate before touching the running groups; `load` re-reads them.
            let errors: Vec<_> = argus_rules::check_rule_files(&files)
                .into_iter()
                .filter_map(Result::err)
                .collect();
            if !errors.is_empty() {
                return Err(ConfigError::Rules { errors });
            }
            // Last, so a failure here leaves the rules untouched too.
            if let Some(h) = hook {
                h(&cfg).map_err(|message| ConfigError::Invalid {
                    path: p2.display().to_string(),
                    message,
                })?;
            }
            Ok(files)
        })
        .await
        .map_err(|e| ConfigError::Invalid {
            path: path.display().to_string(),
            message: format!("the reload task failed: {e}"),
        })?;
        let files = loaded?;
        let n = self
            .manager
            .load(&files)
            .map_err(|errors| ConfigError::Rules { errors })?;
        tracing::info!(config = %path.display(), groups = n, "Reloaded the configuration and the rule files.");
        Ok(n)
    }

    /// Stops every rule group.
    pub async fn stop(&self) {
        self.manager.stop().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_fn_converts_values() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(
            dir.path(),
            argus_tsdb::Options::default(),
            Arc::new(argus_model::SystemClock),
        )
        .unwrap();
        let sink = store_sample_sink(db.clone());
        let l = Labels::from_pairs(&[("__name__", "x"), ("job", "a")]);
        let now = argus_model::SystemClock.now_ms();
        sink.append(vec![(l.clone(), now, 3.0)]).unwrap();
        let q = store_query_fn(db, EngineOptions::default());
        let v = q.query("x", now).unwrap();
        assert_eq!((v.len(), v[0].v), (1, 3.0));
        let s = q.query("scalar(x) * 2", now).unwrap();
        assert_eq!((s[0].labels.len(), s[0].v), (0, 6.0));
        assert!(q.query("x[1m]", now).unwrap_err().contains("matrix"));
        assert!(q.query("sum(", now).is_err());
    }
}
