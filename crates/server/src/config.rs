//! The server's YAML configuration. Every key is documented here; unknown keys
//! are rejected with their name and line.
//!
//! ```
//! let cfg = argus_server::config::Config::from_yaml_str(
//!     "storage:\n  retention: 30d\nscrape_configs: []\n",
//!     "argus.yml",
//! ).unwrap();
//! assert_eq!(cfg.storage.retention.as_millis(), 30 * 86_400_000);
//! assert!(argus_server::config::Config::from_yaml_str("storag: {}\n", "x.yml").is_err());
//! ```

use argus_model::PromDuration;
use serde::Deserialize;
use std::path::{Path, PathBuf};

mod global;
mod limits;
pub mod prometheus_keys;
mod web;
pub use argus_log_service::config::{
    LogAnomaliesConfig, LogMetricConfig, LogsConfig, NatsFormat, NatsSourceConfig, SyslogConfig,
};
pub use argus_store_service::config::QueryConfig;
pub use argus_web::values::{ByteSize, WalFsync};
pub use global::GlobalConfig;
pub use limits::LimitsConfig;
pub use web::WebConfig;

/// The whole configuration file. All sections are optional.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Defaults shared by scrape jobs.
    pub global: GlobalConfig,
    /// The embedded time-series store.
    pub storage: StorageConfig,
    /// Prometheus-style scrape jobs (a subset of Prometheus's `scrape_configs`).
    pub scrape_configs: Vec<argus_ingest::scrape::ScrapeConfig>,
    /// Receivers every stored sample is sent to with Prometheus's
    /// remote_write 1.0 protocol (`argus_ingest::remote_out::RemoteWriteConfig`
    /// documents every key; docs/configuration.md has examples). Each queue
    /// reads the WAL from a position saved under `<data>/remote_write/`.
    /// Default none. Reloadable.
    pub remote_write: Vec<argus_ingest::remote_out::RemoteWriteConfig>,
    /// The built-in agent that `argus up` runs in-process.
    pub agent: LocalAgentConfig,
    /// Limits on HTTP input.
    pub limits: LimitsConfig,
    /// Who may reach the HTTP server: host names and origins beyond the defaults.
    pub web: WebConfig,
    /// The PromQL engine behind `/api/v1/query` and `/api/v1/query_range`.
    pub query: QueryConfig,
    /// Prometheus rule files to load, as in Prometheus: paths, with an optional
    /// `*`/`?`/`[...]` wildcard in the last component, relative to the directory
    /// of this configuration file. Default none.
    pub rule_files: Vec<String>,
    /// Argus's own knobs of the rules engine (not a Prometheus key).
    pub rules: RulesConfig,
    /// The Alertmanager-compatible notification pipeline.
    pub alerting: AlertingConfig,
    /// Service health: heartbeats, probes, saturation (`argus_health::HealthConfig`
    /// documents every key). Default: no services.
    pub health: argus_health::HealthConfig,
    /// Dynamic-threshold rules (`argus_dynamic::DynamicRuleConfig`
    /// documents every key; docs/dynamic-rules.md has examples). Default none.
    pub dynamic_rules: Vec<argus_dynamic::DynamicRuleConfig>,
    /// Exhaustion rules: alerts before a resource runs out, with the
    /// predicted time (`argus_predict::ExhaustionRuleConfig` documents every
    /// key). Default none.
    pub exhaustion_rules: Vec<argus_predict::ExhaustionRuleConfig>,
    /// Composite health rules: a performance index of CPU, memory and
    /// network, a threshold from its history, and the classes normal,
    /// warning and anomaly (`argus_predict::HealthIndexRuleConfig`
    /// documents every key). Default none.
    pub health_index_rules: Vec<argus_predict::HealthIndexRuleConfig>,
    /// Incidents: how alerts are grouped, the service graph, retention
    /// (`argus_incident::config::IncidentsConfig` documents every key).
    /// Default: on, with no configured edges.
    pub incidents: argus_incident::config::IncidentsConfig,
    /// Logs: the log store, its retention and the syslog listeners
    /// ([`LogsConfig`] documents every key). Default: on, Loki push, OTLP
    /// and JSON lines received on the HTTP port, no syslog listener.
    pub logs: LogsConfig,
    /// Runbooks and recovery: what runs for which incidents, in which mode,
    /// with which guards (`argus_recover::RecoverConfig` documents every
    /// key). Default: no runbooks.
    pub recover: argus_recover::RecoverConfig,
    /// Settings of the dynamic-threshold service (`argus_dynamic::DetectConfig`
    /// documents every key). Default: all defaults.
    pub detect: argus_dynamic::DetectConfig,
    /// The file's text as loaded (served by `/api/v1/status/config`); not a key.
    #[serde(skip)]
    pub source_text: Option<String>,
    /// The directory `rule_files` are relative to (the config file's
    /// directory; the working directory when there is no file); not a key.
    #[serde(skip)]
    pub base_dir: Option<PathBuf>,
    /// Prometheus keys accepted but ignored ([`prometheus_keys`]), one
    /// line each, logged at load; not a key.
    #[serde(skip)]
    pub ignored_keys: Vec<String>,
    /// Prometheus's Go runtime settings: accepted, ignored.
    #[serde(rename = "runtime")]
    pub ignored_runtime: Option<serde::de::IgnoredAny>,
    /// Prometheus's trace export: accepted, ignored.
    #[serde(rename = "tracing")]
    pub ignored_tracing: Option<serde::de::IgnoredAny>,
}

/// `alerting:` section.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AlertingConfig {
    /// An Alertmanager configuration file (route, receivers, inhibit_rules,
    /// time_intervals, templates), used unchanged; relative to this file's
    /// directory. Default none: a built-in route to a receiver with no
    /// integrations, so alerts and silences still work through `/api/v2`.
    pub config_file: Option<String>,
    /// External Alertmanagers that every alert is also sent to, as
    /// Prometheus sends them (`argus_forward::AlertmanagerConfig` documents
    /// every key). Default none.
    pub alertmanagers: Vec<argus_forward::AlertmanagerConfig>,
    /// Relabeling applied to every alert sent to `alertmanagers` (not to the
    /// built-in pipeline). Default none.
    pub alert_relabel_configs: Vec<argus_ingest::relabel::RelabelConfig>,
}

/// The Alertmanager configuration used when `alerting.config_file` is unset.
pub const DEFAULT_ALERTING_CONFIG: &str =
    "route:\n  receiver: default\nreceivers:\n  - name: default\n";

impl Config {
    /// What is sent to external Alertmanagers (`alerting.alertmanagers`).
    pub fn forward_settings(&self) -> argus_forward::Settings {
        argus_forward::Settings {
            alertmanagers: self.alerting.alertmanagers.clone(),
            alert_relabel_configs: self.alerting.alert_relabel_configs.clone(),
        }
    }

    /// Loads the Alertmanager configuration named by `alerting.config_file`
    /// (or the built-in default).
    pub fn alerting_config(&self) -> Result<argus_alert::config::Config, ConfigError> {
        match &self.alerting.config_file {
            None => argus_alert::config::Config::parse(DEFAULT_ALERTING_CONFIG, "<built-in>")
                .map_err(|e| ConfigError::Invalid {
                    path: "<built-in alerting config>".into(),
                    message: e.to_string(),
                }),
            Some(f) => {
                let base = self.base_dir.clone().unwrap_or_else(|| PathBuf::from("."));
                let path = base.join(f);
                argus_alert::config::Config::load(&path).map_err(|e| ConfigError::Invalid {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })
            }
        }
    }
}

/// `rules:` section: Argus's settings of the rules engine. The Prometheus
/// settings stay where Prometheus has them (`global.evaluation_interval`,
/// `global.rule_query_offset`, `global.external_labels`, `rule_files`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Where alert state snapshots are kept so pending and firing alerts survive
    /// a restart. Default `<data-dir>/rules`.
    pub state_dir: Option<PathBuf>,
    /// The URL Argus is reached at, for `$externalURL` in templates and alerts'
    /// generator URLs (Prometheus's `--web.external-url`). Default
    /// `http://<listen address>`.
    pub external_url: Option<String>,
    /// Least time between two sends of an unchanged firing alert
    /// (Prometheus's `--rules.alert.resend-delay`). Default `1m`.
    pub resend_delay: PromDuration,
    /// Alert state older than this at start-up is not restored
    /// (Prometheus's `--rules.alert.for-outage-tolerance`). Default `1h`.
    pub outage_tolerance: PromDuration,
    /// Least time a restored pending alert still waits before firing
    /// (Prometheus's `--rules.alert.for-grace-period`). Default `10m`.
    pub for_grace_period: PromDuration,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            state_dir: None,
            external_url: None,
            resend_delay: PromDuration(60_000),
            outage_tolerance: PromDuration(3_600_000),
            for_grace_period: PromDuration(600_000),
        }
    }
}

/// `storage:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Keep blocks for this long. Default `15d`. `0` disables time retention.
    pub retention: PromDuration,
    /// Keep at most this many bytes of blocks (e.g. `10GB`, `512MiB`). Default unlimited.
    pub retention_size: Option<ByteSize>,
    /// Time span of one block. Default `2h`.
    pub block_range: PromDuration,
    /// Accept samples up to this much older than a series' newest sample. Default `10m`.
    pub out_of_order_window: PromDuration,
    /// WAL fsync policy: `always`, `never`, or an interval such as `1s`. Default `1s`.
    /// Every acknowledged write is in the OS before the reply, so a process crash
    /// (`kill -9`) loses nothing under any policy; the policy bounds loss on power failure.
    pub wal_fsync: WalFsync,
    /// How often compaction and retention run. Default `1m`.
    pub maintenance_interval: PromDuration,
    /// Refuse a sample stamped more than this ahead of the server's clock
    /// (HTTP 400 for that sample, the rest of the request is kept). Samples
    /// older than `retention` are refused the same way. Default `10m`: room
    /// for clock skew, while a mistaken timestamp (microseconds, a far-future
    /// date) cannot hold the store's time bounds.
    pub max_future: PromDuration,
    /// Refuse writes (HTTP 503 with Retry-After) while the disk holding the
    /// data directory has less free space than this; queries keep working and
    /// writes resume by themselves once space is freed. `0` refuses writes
    /// only once the disk is full. Default `256MiB`, room for compaction and a
    /// WAL checkpoint to run.
    pub min_free_space: ByteSize,
    /// WAL segments a `remote_write` queue has not sent yet are kept from
    /// deletion by checkpoints until together they exceed this size; then the
    /// oldest are deleted, with an error log and
    /// `argus_tsdb_wal_held_segments_dropped_total`, and their samples never
    /// reach that remote. `0`: no bound. Default `4GiB`.
    pub remote_write_max_wal_size: ByteSize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            retention: PromDuration(15 * 86_400_000),
            retention_size: None,
            block_range: PromDuration(2 * 3_600_000),
            out_of_order_window: PromDuration(10 * 60_000),
            wal_fsync: WalFsync::Interval(PromDuration(1_000)),
            maintenance_interval: PromDuration(60_000),
            max_future: PromDuration(10 * 60_000),
            min_free_space: ByteSize(256 << 20),
            remote_write_max_wal_size: ByteSize(4 << 30),
        }
    }
}

/// `agent:` section: the in-process host agent of `argus up`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalAgentConfig {
    /// Run the built-in agent (`argus up` only). Default true.
    pub enabled: bool,
    /// How often it collects. Default `15s`.
    pub interval: PromDuration,
    /// The `job` label of its series. Default `argus-agent`, apart from a
    /// scraped node_exporter's `node`.
    pub job: String,
    /// Settings of the collectors themselves.
    pub collect: argus_collect::AgentConfig,
}

impl Default for LocalAgentConfig {
    fn default() -> Self {
        LocalAgentConfig {
            enabled: true,
            interval: PromDuration::from_secs(15),
            job: "argus-agent".to_string(),
            collect: argus_collect::AgentConfig::default(),
        }
    }
}

/// A configuration error: the file and what was wrong, with line and column when known.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML is invalid or does not fit the schema (unknown key, wrong type...).
    #[error("invalid config file {path}: {message}")]
    Invalid {
        /// The path.
        path: String,
        /// The parser's message, naming the key and its line.
        message: String,
    },
    /// A rule file named by `rule_files` is missing or invalid.
    #[error("invalid rule files:\n{}", .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Rules {
        /// One error per bad file, each naming file, line, column and reason.
        errors: Vec<argus_rules::LoadError>,
    },
}

impl Config {
    /// Parses YAML text; `origin` names the file in errors.
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let keys = prometheus_keys::check(text);
        if let Some(message) = keys.refused {
            return Err(ConfigError::Invalid {
                path: origin.to_string(),
                message,
            });
        }
        for w in &keys.warnings {
            tracing::warn!(config = %origin, "{w}");
        }
        let mut cfg: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| ConfigError::Invalid {
                path: origin.to_string(),
                message: e.to_string(),
            })?
        };
        cfg.source_text = Some(text.to_string());
        cfg.ignored_keys = keys.warnings;
        for w in cfg.remote_write.iter().flat_map(|r| r.warnings()) {
            tracing::warn!(config = %origin, "{w}");
            cfg.ignored_keys.push(w);
        }
        cfg.validate().map_err(|message| ConfigError::Invalid {
            path: origin.to_string(),
            message,
        })?;
        // Runbooks name their own line (`FILE:LINE: runbook "name": ...`).
        cfg.recover
            .validate(origin, text)
            .map_err(|e| ConfigError::Invalid {
                path: origin.to_string(),
                message: format!("recover:\n{e}"),
            })?;
        Ok(cfg)
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut cfg = Self::from_yaml_str(&text, &path.display().to_string())?;
        cfg.base_dir = Some(match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        });
        Ok(cfg)
    }

    /// The effective `global.evaluation_interval` (see [`GlobalConfig::evaluation_interval`]).
    pub fn evaluation_interval(&self) -> PromDuration {
        if let Some(d) = self.global.evaluation_interval {
            return d;
        }
        let global = self.global.scrape_interval.as_millis();
        let shortest = self
            .scrape_configs
            .iter()
            .map(|j| j.scrape_interval.map_or(global, |d| d.0.as_millis() as i64))
            .min();
        match shortest {
            Some(ms) => PromDuration(ms.max(1_000)),
            None => PromDuration::from_secs(15),
        }
    }

    /// `rule_files` expanded against [`Config::base_dir`]: the files to load, in order.
    pub fn rule_file_paths(&self) -> Result<Vec<PathBuf>, ConfigError> {
        let base = self.base_dir.clone().unwrap_or_else(|| PathBuf::from("."));
        argus_rules::expand_rule_globs(&self.rule_files, &base).map_err(|e| ConfigError::Invalid {
            path: base.display().to_string(),
            message: format!("rule_files: {e}"),
        })
    }

    /// Loads and validates every rule file, as the server would at start-up
    /// (`argus check config`). Returns the number of rules.
    pub fn check_rule_files(&self) -> Result<usize, ConfigError> {
        let paths = self.rule_file_paths()?;
        let mut rules = 0;
        let mut errors = Vec::new();
        for r in argus_rules::check_rule_files(&paths) {
            match r {
                Ok(s) => rules += s.rules,
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(rules)
        } else {
            Err(ConfigError::Rules { errors })
        }
    }

    /// Checks relations between fields that the types cannot express.
    fn validate(&self) -> Result<(), String> {
        argus_ingest::remote_out::validate_all(&self.remote_write).map_err(|e| e.to_string())?;
        if self.storage.block_range.as_millis() < 60_000 {
            return Err("storage.block_range must be at least 1m".into());
        }
        if self.storage.retention.as_millis() != 0
            && self.storage.retention.as_millis() < self.storage.block_range.as_millis()
        {
            return Err("storage.retention must be 0 (off) or at least storage.block_range".into());
        }
        if self.storage.max_future.as_millis() < 0 {
            return Err("storage.max_future must not be negative".into());
        }
        if self.query.lookback_delta.as_millis() <= 0 {
            return Err("query.lookback_delta must be positive".into());
        }
        if self.query.timeout.as_millis() <= 0 {
            return Err("query.timeout must be positive".into());
        }
        self.limits.validate()?;
        if self.query.max_concurrent == 0 {
            return Err("query.max_concurrent must be at least 1".into());
        }
        if self
            .global
            .evaluation_interval
            .is_some_and(|d| d.as_millis() <= 0)
        {
            return Err("global.evaluation_interval must be positive".into());
        }
        if self.global.rule_query_offset.as_millis() < 0 {
            return Err("global.rule_query_offset must not be negative".into());
        }
        self.health.validate().map_err(|e| e.to_string())?;
        argus_dynamic::compile_rules(&self.dynamic_rules).map_err(|e| e.to_string())?;
        for (i, r) in self.dynamic_rules.iter().enumerate() {
            if let Some(l) = &r.localize {
                for (which, expr) in [("actual", &l.actual), ("expected", &l.expected)] {
                    argus_promql::parse(expr, &argus_promql::ParseLimits::default()).map_err(
                        |e| format!("dynamic_rules[{i}] ({}): localize.{which}: {e}", r.name),
                    )?;
                }
            }
        }
        self.detect.validate().map_err(|e| e.to_string())?;
        self.incidents.validate().map_err(|e| e.to_string())?;
        self.recover
            .validate(
                "the configuration file",
                self.source_text.as_deref().unwrap_or(""),
            )
            .map_err(|e| e.to_string())?;
        for rb in &self.recover.runbooks {
            let conds = rb
                .steps
                .iter()
                .chain(&rb.rollback)
                .filter_map(|s| s.wait_until.as_ref()?.condition.as_ref());
            for expr in rb.verify.condition.iter().chain(conds) {
                argus_promql::parse(expr, &argus_promql::ParseLimits::default()).map_err(|e| {
                    format!("recover: runbook {:?}: condition {expr:?}: {e}", rb.name)
                })?;
            }
        }
        self.logs.validate().map_err(|e| e.0)?;
        let mut seen = std::collections::HashSet::new();
        for sc in &self.scrape_configs {
            sc.validate()
                .map_err(|e| format!("scrape_configs: job {:?}: {e}", sc.job_name))?;
            if !seen.insert(sc.job_name.clone()) {
                return Err(format!(
                    "scrape_configs: job_name {:?} appears more than once",
                    sc.job_name
                ));
            }
        }
        Ok(())
    }

    /// Scrape jobs with the `global` interval and timeout filled in where a job sets none.
    pub fn effective_scrape_configs(&self) -> Vec<argus_ingest::scrape::ScrapeConfig> {
        use argus_ingest::scrape::config::PromDuration as D;
        self.scrape_configs
            .iter()
            .cloned()
            .map(|mut sc| {
                let g = &self.global;
                for (job, global) in [
                    (&mut sc.sample_limit, g.sample_limit),
                    (&mut sc.label_limit, g.label_limit),
                    (&mut sc.label_name_length_limit, g.label_name_length_limit),
                    (&mut sc.label_value_length_limit, g.label_value_length_limit),
                ] {
                    if *job == 0 {
                        *job = global;
                    }
                }
                if sc.body_size_limit.0 == 0 {
                    sc.body_size_limit = g.body_size_limit;
                }
                sc.scrape_interval
                    .get_or_insert(D(self.global.scrape_interval.to_std()));
                if sc.scrape_timeout.is_none() {
                    let t = self.global.scrape_timeout.to_std();
                    let i = sc.scrape_interval.map(|d| d.0).unwrap_or(t);
                    sc.scrape_timeout = Some(D(t.min(i)));
                }
                sc
            })
            .collect()
    }

    /// The authentication settings of the `web:` section, its file resolved
    /// against [`Config::base_dir`].
    pub fn auth_settings(&self) -> crate::auth::AuthSettings {
        let base = self.base_dir.clone().unwrap_or_else(|| PathBuf::from("."));
        crate::auth::AuthSettings {
            file: self.web.config_file.as_ref().map(|f| base.join(f)),
            enable_lifecycle: self.web.enable_lifecycle,
            enable_admin_api: self.web.enable_admin_api,
        }
    }

    /// The store options this configuration asks for.
    pub fn tsdb_options(&self) -> argus_tsdb::Options {
        let s = &self.storage;
        argus_tsdb::Options {
            block_range_ms: s.block_range.as_millis(),
            retention_ms: (s.retention.as_millis() > 0).then_some(s.retention.as_millis()),
            retention_bytes: s.retention_size.map(|b| b.0),
            ooo_window_ms: s.out_of_order_window.as_millis(),
            max_future_ms: s.max_future.as_millis(),
            min_free_bytes: s.min_free_space.0,
            wal_hold_max_bytes: (s.remote_write_max_wal_size.0 > 0)
                .then_some(s.remote_write_max_wal_size.0),
            label_limits: self.limits.label_limits(),
            wal_fsync: match s.wal_fsync {
                WalFsync::Always => argus_tsdb::FsyncPolicy::Always,
                WalFsync::Never => argus_tsdb::FsyncPolicy::Never,
                WalFsync::Interval(d) => argus_tsdb::FsyncPolicy::Interval(d.to_std()),
            },
            ..argus_tsdb::Options::default()
        }
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
