//! Status and metadata endpoints: `/api/v1/status/{buildinfo,config,flags,runtimeinfo}`,
//! and `/api/v1/metadata` (`/api/v1/rules` and `/api/v1/alerts` are in `rules.rs`).
//!
//! ```text
//! GET /api/v1/status/buildinfo
//! → {"status":"success","data":{"version":"2.53.0","revision":"argus-0.1.0",...}}
//! ```

use super::params::{collect_params, param, success, ApiError};
use super::AppState;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The Prometheus version Argus reports in `buildinfo`'s `version`.
///
/// Grafana's Prometheus data source reads `version` (semver) to choose which
/// APIs to use: with `>= 2.24.0` the label browser and autocomplete call
/// `/api/v1/labels` and `/api/v1/label/<name>/values` with `match[]` instead of
/// falling back to `/api/v1/series`. Its version detection maps the reported
/// version onto the closest entry of its own list (`PromFlavorVersions`, which
/// tops out at 2.50.x in Grafana 10/11) and discards it when the major version
/// differs, so a 3.x version, or Argus's own `0.x` version, would leave
/// Grafana without a version and on its slowest paths. We therefore report a
/// recent 2.x release; Argus's own version is in `revision` and `argusVersion`.
/// There is deliberately no `features` key: Grafana's alerting takes a
/// `buildinfo` with `features` to be Mimir and would look for a ruler API.
pub const PROMETHEUS_COMPAT_VERSION: &str = "2.53.0";

/// Facts about this server that the status endpoints report.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// The configuration file's text in force (secrets redacted), or a
    /// note that none was given; a reload swaps it.
    pub config_yaml: Arc<parking_lot::RwLock<String>>,
    /// Effective settings, keyed like Prometheus's flags.
    pub flags: BTreeMap<String, String>,
    /// When the server started (RFC 3339).
    pub start_time: String,
    /// The time retention in force, e.g. `15d`.
    pub storage_retention: String,
}

impl ServerInfo {
    /// Collects what the status endpoints report from the start-up options.
    pub fn new(opts: &crate::ServerOptions, start: chrono::DateTime<chrono::Utc>) -> Self {
        let cfg = &opts.config;
        // Secrets (passwords in URLs, tokens) are never served.
        let config_yaml = Arc::new(parking_lot::RwLock::new(config_text(cfg)));
        let fmt = |ms: i64| argus_model::format_duration(ms);
        let retention = if cfg.storage.retention.as_millis() > 0 {
            fmt(cfg.storage.retention.as_millis())
        } else {
            "0s".to_string()
        };
        let mut flags = BTreeMap::new();
        let mut f = |k: &str, v: String| {
            flags.insert(k.to_string(), v);
        };
        f("storage.tsdb.path", opts.data_dir.display().to_string());
        f("web.listen-address", opts.listen.to_string());
        f("storage.tsdb.retention.time", retention.clone());
        f(
            "storage.tsdb.retention.size",
            cfg.storage
                .retention_size
                .map(|b| format!("{}B", b.0))
                .unwrap_or_else(|| "0B".into()),
        );
        f(
            "storage.tsdb.min-block-duration",
            fmt(cfg.storage.block_range.as_millis()),
        );
        f(
            "storage.tsdb.out-of-order-time-window",
            fmt(cfg.storage.out_of_order_window.as_millis()),
        );
        f(
            "query.lookback-delta",
            fmt(cfg.query.lookback_delta.as_millis()),
        );
        f("query.max-samples", cfg.query.max_samples.to_string());
        f("query.timeout", fmt(cfg.query.timeout.as_millis()));
        f(
            "query.max-concurrency",
            cfg.query.max_concurrent.to_string(),
        );
        f(
            "argus.agent",
            (opts.run_agent && cfg.agent.enabled).to_string(),
        );
        ServerInfo {
            config_yaml,
            flags,
            start_time: start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            storage_retention: retention,
        }
    }
}

/// The configuration's text as `/api/v1/status/config` serves it: secrets
/// (passwords in URLs, tokens) are never served.
pub fn config_text(cfg: &crate::config::Config) -> String {
    cfg.source_text
        .as_deref()
        .map(crate::redact::redact_yaml)
        .unwrap_or_else(|| {
            "# No configuration file was given; every setting has its default.\n".to_string()
        })
}

/// `GET /api/v1/status/buildinfo`.
pub async fn buildinfo() -> Response {
    let own = env!("CARGO_PKG_VERSION");
    success(json!({
        "version": PROMETHEUS_COMPAT_VERSION,
        "revision": format!("argus-{own}"),
        "branch": "argus",
        "buildUser": "argus",
        "buildDate": "",
        "goVersion": "none (Argus is written in Rust)",
        "argusVersion": own,
    }))
}

/// `GET /api/v1/status/config`: `{"yaml": "..."}`.
pub async fn config(State(st): State<AppState>) -> Response {
    let yaml = st.info.config_yaml.read().clone();
    success(json!({ "yaml": yaml }))
}

/// `GET /api/v1/status/flags`: effective settings as a string map.
pub async fn flags(State(st): State<AppState>) -> Response {
    success(&st.info.flags)
}

/// `GET /api/v1/status/runtimeinfo`.
pub async fn runtimeinfo(State(st): State<AppState>) -> Response {
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let reload = st.reload.status();
    let last_config =
        argus_model::time::format_rfc3339_ms(reload.at_ms, argus_model::time::Fraction::Millis)
            .unwrap_or_else(|| st.info.start_time.clone());
    success(json!({
        "startTime": st.info.start_time,
        "CWD": cwd,
        "reloadConfigSuccess": reload.success,
        "lastConfigTime": last_config,
        "corruptionCount": 0,
        "goroutineCount": tasks,
        "GOMAXPROCS": cpus,
        "GOMEMLIMIT": i64::MAX,
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": st.info.storage_retention,
    }))
}

fn int_param(p: &[(String, String)], name: &str) -> Result<i64, ApiError> {
    match param(p, name) {
        None => Ok(-1),
        Some(s) if s.is_empty() => Ok(-1),
        Some(s) => s
            .parse::<i64>()
            .map_err(|_| ApiError::bad_data(format!("{name} must be a number"))),
    }
}

/// `GET|POST /api/v1/metadata`: `metric`, `limit`, `limit_per_metric`, from the
/// scrape manager's `# TYPE`/`# HELP`/`# UNIT` lines.
pub async fn metadata(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = collect_params(q.as_deref(), &body);
    let limit = int_param(&p, "limit")?;
    let limit_per_metric = int_param(&p, "limit_per_metric")?;
    let metric = param(&p, "metric").filter(|m| !m.is_empty());
    let all = st.scrape.as_ref().map(|s| s.metadata()).unwrap_or_default();
    let mut out = Map::new();
    for (name, entries) in &all {
        if metric.is_some_and(|m| m != name) {
            continue;
        }
        // Prometheus: a negative limit means none; 0 gives an empty answer.
        if limit >= 0 && out.len() as i64 >= limit {
            break;
        }
        let list: Vec<Value> = entries
            .iter()
            .take(if limit_per_metric > 0 {
                limit_per_metric as usize
            } else {
                usize::MAX
            })
            .map(|m| {
                json!({
                    "type": m.metric_type.as_str(),
                    "help": m.help,
                    "unit": m.unit,
                })
            })
            .collect();
        out.insert(name.clone(), Value::Array(list));
    }
    Ok(success(Value::Object(out)))
}
