//! The HTTP API: Prometheus-compatible write endpoints, the Prometheus HTTP
//! API v1 (PromQL queries, series and label metadata, status, rules and
//! alerts), health, reload, and Argus's own metrics.
//!
//! ```no_run
//! # async fn f(state: argus_server::api::AppState) {
//! let app = argus_server::api::router(state, 32 << 20);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9797").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```

pub use argus_store_service::{exec, pool};
pub use argus_web::guard;
pub use argus_web::params;
pub mod rules;
pub mod status;
pub use argus_web::{Throttled, WriteGate, WritePermit};

use crate::selfmetrics::SelfMetrics;
use argus_model::Clock;
use argus_tsdb::Db;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The store, for reads.
    pub db: Db,
    /// The store's write path: the write endpoints append through it.
    pub storage: argus_tsdb::Storage,
    /// The injected clock.
    pub clock: Arc<dyn Clock>,
    /// Counters for `/metrics`.
    pub metrics: Arc<SelfMetrics>,
    /// The scrape manager, when scrape jobs run.
    pub scrape: Option<Arc<argus_ingest::scrape::ScrapeManager<argus_tsdb::Storage>>>,
    /// Set once start-up (WAL replay) is done.
    pub ready: Arc<AtomicBool>,
    /// The query service (PromQL engine, limits) shared with rules and health.
    pub query: Arc<exec::QueryService>,
    /// What the status endpoints report.
    pub info: Arc<status::ServerInfo>,
    /// The rules engine: `/api/v1/rules` and `/api/v1/alerts`.
    pub rules: Arc<crate::rules::RuleService>,
    /// The server's reload: `/-/reload` and the reload status.
    pub reload: Arc<crate::lifecycle::ReloadService>,
    /// The dynamic-rule tap, for its self-metrics.
    pub tap: crate::detect::Tap,
    /// The alert store's health: `/-/ready` and `/metrics` report it.
    pub alert_store: Option<argus_alert::store::HealthHandle>,
    /// The ingest budget every write endpoint takes a slot of.
    pub writes: Arc<WriteGate>,
    /// The sender to external Alertmanagers: `/api/v1/alertmanagers` and
    /// its self-metrics.
    pub forwarder: argus_forward::Forwarder,
    /// The remote_write queues, for their self-metrics.
    pub remote_write: Option<Arc<argus_ingest::remote_out::RemoteWrite>>,
    /// Incidents, for their self-metrics.
    pub incidents: Option<argus_incident::service::IncidentService>,
    /// Runbooks, for their self-metrics.
    pub recover: Option<argus_recover::RecoverService>,
    /// The log store, for its self-metrics and the status banner.
    pub logs: Option<Arc<crate::logs::LogsRuntime>>,
    /// The audit log, for its self-metrics.
    pub audit: Option<Arc<argus_auth::Auth>>,
}

/// Builds the router. `max_body` bounds request bodies in bytes.
pub fn router(state: AppState, max_body: usize) -> Router {
    let reads = argus_store_service::router(argus_store_service::QueryState {
        db: state.db.clone(),
        query: state.query.clone(),
        clock: state.clock.clone(),
    });
    let writes = argus_store_service::write_router(argus_store_service::WriteState {
        db: state.db.clone(),
        storage: state.storage.clone(),
        clock: state.clock.clone(),
        metrics: state.metrics.clone(),
        writes: state.writes.clone(),
    });
    Router::new()
        .route(
            "/api/v1/metadata",
            get(status::metadata).post(status::metadata),
        )
        .route("/api/v1/status/buildinfo", get(status::buildinfo))
        .route("/api/v1/status/config", get(status::config))
        .route("/api/v1/status/flags", get(status::flags))
        .route("/api/v1/status/runtimeinfo", get(status::runtimeinfo))
        .route("/api/v1/rules", get(rules::rules).post(rules::rules))
        .route("/api/v1/alerts", get(rules::alerts))
        .route("/api/v1/targets", get(targets))
        .route("/api/v1/alertmanagers", get(alertmanagers))
        .route("/api/v1/status/tsdb", get(tsdb_status))
        .route("/api/v1/admin/tsdb/compact", post(compact))
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        .route("/api/argus/v1/status", get(argus_status))
        .route("/-/reload", post(rules::reload).put(rules::reload))
        .route("/metrics", get(own_metrics))
        .with_state(state)
        .merge(reads)
        .merge(writes)
        .layer(DefaultBodyLimit::max(max_body))
}

async fn healthy() -> &'static str {
    "Argus is Healthy.\n"
}

/// 200 once start-up is done and alerts can be persisted; 503 with the reason otherwise.
async fn ready(State(st): State<AppState>) -> Response {
    if !st.ready.load(Ordering::Acquire) {
        return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n").into_response();
    }
    let problem = st
        .alert_store
        .as_ref()
        .and_then(|h| crate::alerting::store_problem(&h.get()));
    match (problem, st.db.read_only()) {
        // Alerts cannot be saved: not ready.
        (Some(p), _) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Argus is not ready. {p}\n"),
        )
            .into_response(),
        // Read-only storage still serves queries and alerts: ready, with the reason shown.
        (None, Some(r)) => (
            StatusCode::OK,
            format!("Argus is Ready (storage read-only: {r}).\n"),
        )
            .into_response(),
        (None, None) => (StatusCode::OK, "Argus is Ready.\n").into_response(),
    }
}

/// `GET /api/argus/v1/status`: what degrades Argus now, for the UI's banner.
/// `degraded` lists one sentence per problem (empty when all is well);
/// `alertStore` is the alert store's health, `storage` the time-series store's.
async fn argus_status(State(st): State<AppState>) -> Response {
    let mut degraded = Vec::new();
    let store = st.alert_store.as_ref().map(|h| h.get());
    if let Some(p) = store.as_ref().and_then(crate::alerting::store_problem) {
        degraded.push(p);
    }
    if let Some(e) = st.incidents.as_ref().and_then(|i| i.store_problem()) {
        degraded.push(format!(
            "Incidents cannot be saved: {e}. They are still grouped and kept in memory, and saved once the disk writes again; acknowledging or resolving one answers 503 meanwhile."
        ));
    }
    if let Some(l) = &st.logs {
        degraded.extend(l.problems());
    }
    let read_only = st.db.read_only().map(|r| r.to_string());
    if let Some(r) = &read_only {
        degraded.push(format!(
            "The time-series store is read-only: {r}. Queries and alerts still work; new samples are refused until space is freed."
        ));
    }
    let alert_store = store.map(|h| {
        serde_json::json!({
            "healthy": h.healthy,
            "failingSince": h.failing_since_ms.map(argus_alert::alert::format_rfc3339),
            "lastError": h.last_error,
            "errorsTotal": h.errors_total,
            "pendingChanges": h.pending_changes,
            "readOnly": h.read_only,
        })
    });
    params::success(serde_json::json!({
        "degraded": degraded,
        "alertStore": alert_store,
        "storage": { "readOnly": read_only.is_some(), "reason": read_only },
    }))
}

/// `GET /api/v1/alertmanagers`: the external Alertmanagers alerts are sent
/// to (`alerting.alertmanagers`), as Prometheus lists them.
async fn alertmanagers(State(st): State<AppState>) -> Response {
    let active: Vec<serde_json::Value> = st
        .forwarder
        .alertmanagers()
        .into_iter()
        .map(|url| serde_json::json!({ "url": url }))
        .collect();
    params::success(serde_json::json!({
        "activeAlertmanagers": active,
        "droppedAlertmanagers": [],
    }))
}

async fn own_metrics(State(st): State<AppState>) -> Response {
    let stats = st.db.stats();
    let mut body = st.metrics.render(&stats, st.scrape.as_deref());
    body.push_str(&st.tap.metrics_text());
    st.query.metrics_text(&mut body);
    st.writes.render(&mut body);
    if let Some(rw) = &st.remote_write {
        rw.render(&mut body);
    }
    if let Some(h) = &st.alert_store {
        crate::selfmetrics::alert_store(&mut body, &h.get());
    }
    if let Some(a) = &st.audit {
        crate::selfmetrics::audit(&mut body, a.audit());
    }
    st.forwarder.metrics_text(&mut body);
    if let Some(i) = &st.incidents {
        i.metrics_text(&mut body);
    }
    if let Some(r) = &st.recover {
        r.metrics_text(&mut body);
    }
    if let Some(l) = &st.logs {
        l.metrics_text(&mut body);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn tsdb_status(State(st): State<AppState>) -> Response {
    let s = st.db.stats();
    params::success(serde_json::json!({
        "headStats": {
            "numSeries": s.head_series,
            "chunkCount": s.head_chunks,
            "minTime": s.head_min_time,
            "maxTime": s.head_max_time,
        },
        "blocks": s.blocks,
        "blockBytes": s.block_bytes,
        "walBytes": s.wal_bytes,
    }))
}

/// `POST /api/v1/admin/tsdb/compact`: cuts the whole head into a block now
/// (used by benchmarks to measure bytes per sample after compaction).
/// `POST /api/v1/admin/tsdb/compact`: moves the head into a block, leaving
/// the out-of-order window in memory so lagging senders are not refused;
/// `?full=true` cuts everything (benchmarks measuring bytes per sample).
async fn compact(
    State(st): State<AppState>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Result<Response, params::ApiError> {
    let full = q
        .as_deref()
        .unwrap_or("")
        .split('&')
        .any(|kv| kv == "full=true" || kv == "full=1");
    let db = st.db.clone();
    tokio::task::spawn_blocking(move || {
        if full {
            db.compact_head_fully()
        } else {
            db.compact_head_keeping_ooo_window()
        }
    })
    .await
    .map_err(|e| params::ApiError::internal(e.to_string()))??;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn targets(State(st): State<AppState>) -> Response {
    let active: Vec<serde_json::Value> = st
        .scrape
        .as_ref()
        .map(|s| s.targets().iter().map(target_json).collect())
        .unwrap_or_default();
    params::success(serde_json::json!({"activeTargets": active, "droppedTargets": []}))
}

fn labels_map(l: &argus_model::Labels) -> serde_json::Map<String, serde_json::Value> {
    l.iter()
        .map(|x| (x.name.clone(), serde_json::Value::String(x.value.clone())))
        .collect()
}

/// One active target in Prometheus's `/api/v1/targets` shape.
fn target_json(t: &argus_ingest::scrape::TargetStatus) -> serde_json::Value {
    let last = t
        .last_scrape_ms
        .and_then(|ms| {
            argus_model::time::format_rfc3339_ms(ms, argus_model::time::Fraction::Millis)
        })
        .unwrap_or_else(|| argus_model::time::GO_ZERO_TIME.to_string());
    serde_json::json!({
        "discoveredLabels": labels_map(&t.discovered_labels),
        "labels": labels_map(&t.labels),
        "scrapePool": t.job,
        "scrapeUrl": t.scrape_url,
        "globalUrl": t.scrape_url,
        "lastError": t.last_error.clone().unwrap_or_default(),
        "lastScrape": last,
        "lastScrapeDuration": t.last_scrape_duration.map(|d| d.as_secs_f64()).unwrap_or(0.0),
        "health": t.health.as_str(),
        "scrapeInterval": argus_model::format_duration(t.scrape_interval.as_millis() as i64),
        "scrapeTimeout": argus_model::format_duration(t.scrape_timeout.as_millis() as i64),
    })
}
