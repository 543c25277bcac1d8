//! Wiring of the rules engine (`argus_rules`) into the server: the server
//! hands the engine three functions, as ARCHITECTURE.md asks ("rules are
//! decoupled from the engine through function types"):
//!
//! - the **query function** is the server's query service's instant query
//!   ([`store_query_fn`]);
//! - the **sample sink** appends and commits recorded series and
//!   `ALERTS`/`ALERTS_FOR_STATE` through the store's write path
//!   ([`store_sample_sink`]);
//! - the **alert sink** is [`crate::alerting::IngressSink`]: each alert due
//!   for sending is logged at debug level, converted once into an
//!   `AlertEvent` and queued at the alert pipeline's ingress, the same way in
//!   as health and dynamic alerts. Neither `argus-rules` nor `argus-alert`
//!   imports the other; only the server knows both.
//!
//! [`RuleService`] owns the [`RuleManager`]. Its part in a reload
//! (`POST /-/reload`, SIGHUP) is [`RuleService::prepare_reload`] (every rule
//! file read and validated) and [`RuleService::apply_reload`]; the server's
//! reload runs it with the other sections' (see [`crate::lifecycle`]).
//!
//! ```no_run
//! # fn f(db: argus_tsdb::Db, cfg: argus_server::config::Config) {
//! use argus_server::alerting::sources::ingress;
//! use argus_server::rules::{store_query_fn, store_sample_sink};
//! use std::sync::Arc;
//! let (alerts, _queue) = ingress(None); // the queue goes to `AlertingService::spawn_feed`
//! let query = Arc::new(argus_server::api::exec::QueryService::new(&cfg.query, db.clone()));
//! let deps = argus_rules::Deps {
//!     query: Arc::new(store_query_fn(query)),
//!     samples: Arc::new(store_sample_sink(argus_tsdb::Storage::new(db))),
//!     alerts: Arc::new(alerts),
//! };
//! # let _ = (deps, cfg);
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use argus_model::{Clock, Labels};
use argus_promql::{Value, VectorSample};
use argus_rules::{Deps, GroupOptions, QueryFn, RuleContext, RuleManager, SampleSink};
use argus_tsdb::Storage;

use crate::api::exec::QueryService;
use crate::config::{Config, ConfigError};

/// The rules engine's query function: an instant query through the
/// server's query service, under the built-in parse limits the rule files
/// were checked against ([`QueryService::rule_query`]).
///
/// A vector is returned as is, a scalar as one sample with empty labels;
/// strings and matrices are errors, as in Prometheus.
pub fn store_query_fn(query: Arc<QueryService>) -> impl QueryFn {
    move |expr: &str, t_ms: i64| -> Result<Vec<VectorSample>, String> {
        match query.rule_query(expr, t_ms) {
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

/// The rules engine's sample sink: one batch append and commit through the
/// store's write path (so the dynamic rules that select recorded series see
/// them). Samples the store refuses (out of order, duplicates) are skipped
/// and logged, like Prometheus's rule manager does; a failed commit is an
/// error. The rules engine calls it on a blocking thread.
pub fn store_sample_sink(storage: Storage) -> impl SampleSink {
    move |samples: Vec<(Labels, i64, f64)>| -> Result<(), String> {
        let report = storage
            .append_batch(samples.iter().map(|(l, t, v)| (l, *t, *v)))
            .map_err(|e| e.to_string())?;
        report.log_refused("rule results");
        Ok(())
    }
}

/// The rules engine as the server runs it: the manager.
pub struct RuleService {
    manager: RuleManager,
}

/// Rule files read and validated by [`RuleService::prepare_reload`].
#[derive(Debug, Clone)]
pub struct CheckedRuleFiles(Vec<PathBuf>, Option<GroupOptions>);

impl CheckedRuleFiles {
    /// Applies `opts` (the configuration's new [`group_options`]) together
    /// with the files.
    pub fn with_options(mut self, opts: GroupOptions) -> CheckedRuleFiles {
        self.1 = Some(opts);
        self
    }
}

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
        clock: Arc<dyn Clock>,
        wake: Option<tokio::sync::watch::Receiver<u64>>,
    ) -> Result<Self, ConfigError> {
        let files = cfg.rule_file_paths()?;
        let manager = RuleManager::new(opts, deps, clock);
        if let Some(w) = wake {
            manager.set_wake(w);
        }
        manager
            .load(&files)
            .map_err(|errors| ConfigError::Rules { errors })?;
        Ok(RuleService { manager })
    }

    /// The manager, for the rules and alerts APIs.
    pub fn manager(&self) -> &RuleManager {
        &self.manager
    }

    /// Reads and validates the rule files `cfg` names, touching nothing.
    /// Blocking (reads files). Errors name the file and line.
    pub fn prepare_reload(cfg: &Config) -> Result<CheckedRuleFiles, ConfigError> {
        let files = cfg.rule_file_paths()?;
        let errors: Vec<_> = argus_rules::check_rule_files(&files)
            .into_iter()
            .filter_map(Result::err)
            .collect();
        if !errors.is_empty() {
            return Err(ConfigError::Rules { errors });
        }
        Ok(CheckedRuleFiles(files, None))
    }

    /// Swaps in the rule files of [`RuleService::prepare_reload`]; alert
    /// state carries over to groups of the same name and file. Blocking;
    /// must run inside a tokio runtime. Fails only when a file changed since
    /// it was checked. Returns the number of rule groups.
    pub fn apply_reload(&self, files: CheckedRuleFiles) -> Result<usize, ConfigError> {
        let loaded = match files.1 {
            Some(opts) => self.manager.load_with_options(&files.0, opts),
            None => self.manager.load(&files.0),
        };
        loaded.map_err(|errors| ConfigError::Rules { errors })
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
        let db = argus_tsdb::Db::open(
            dir.path(),
            argus_tsdb::Options::default(),
            Arc::new(argus_model::SystemClock),
        )
        .unwrap();
        let sink = store_sample_sink(Storage::new(db.clone()));
        let l = Labels::from_pairs(&[("__name__", "x"), ("job", "a")]);
        let now = argus_model::SystemClock.now_ms();
        sink.append(vec![(l.clone(), now, 3.0)]).unwrap();
        let q = store_query_fn(Arc::new(QueryService::new(
            &crate::config::QueryConfig::default(),
            db,
        )));
        let v = q.query("x", now).unwrap();
        assert_eq!((v.len(), v[0].v), (1, 3.0));
        let s = q.query("scalar(x) * 2", now).unwrap();
        assert_eq!((s[0].labels.len(), s[0].v), (0, 6.0));
        assert!(q.query("x[1m]", now).unwrap_err().contains("matrix"));
        assert!(q.query("sum(", now).is_err());
    }
}
