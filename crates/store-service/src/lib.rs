//! The store service: the one PromQL query service ([`exec::QueryService`])
//! shared by the HTTP API, the rules engine and the health checks, the
//! threads its HTTP queries run on ([`pool`]), the `query:` configuration
//! section ([`config`]), the Prometheus HTTP API's read endpoints
//! (`/api/v1/query`, `query_range`, `format_query`, `query_exemplars`,
//! `series`, `labels`, `label/{name}/values`) over the store, and its write
//! endpoints (`/api/v1/write`, `/api/v1/import/prometheus`, `/api/v1/push`:
//! [`write_router`]).
//!
//! ```no_run
//! # async fn f(db: argus_tsdb::Db) {
//! use argus_store_service::{config::QueryConfig, exec::QueryService, router, QueryState};
//! use std::sync::Arc;
//! let state = QueryState {
//!     query: Arc::new(QueryService::new(&QueryConfig::default(), db.clone())),
//!     db,
//!     clock: Arc::new(argus_model::SystemClock),
//! };
//! let app: axum::Router = router(state);
//! # let _ = app;
//! # }
//! ```

#![warn(missing_docs)]

pub mod config;
pub mod exec;
mod json_out;
mod metrics;
pub mod pool;
mod query;
mod read;
mod write;

pub use query::{instant_job, range_job, MAX_POINTS};

use argus_model::Clock;
use argus_web::WriteGate;
use axum::routing::{get, post};
use axum::Router;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// What the read endpoints share.
#[derive(Clone)]
pub struct QueryState {
    /// The store, for series and label metadata.
    pub db: argus_tsdb::Db,
    /// The query service the PromQL endpoints evaluate on.
    pub query: Arc<exec::QueryService>,
    /// The clock: an instant query without `time` runs at its now.
    pub clock: Arc<dyn Clock>,
}

/// The read endpoints of the Prometheus HTTP API, over `state`.
pub fn router(state: QueryState) -> Router {
    Router::new()
        .route("/api/v1/series", get(read::series).post(read::series))
        .route("/api/v1/labels", get(read::labels).post(read::labels))
        .route(
            "/api/v1/label/{name}/values",
            get(read::label_values).post(read::label_values),
        )
        .route("/api/v1/query", get(query::query).post(query::query))
        .route(
            "/api/v1/query_range",
            get(query::query_range).post(query::query_range),
        )
        .route(
            "/api/v1/format_query",
            get(query::format_query).post(query::format_query),
        )
        .route(
            "/api/v1/query_exemplars",
            get(query::query_exemplars).post(query::query_exemplars),
        )
        .with_state(state)
}

/// Counters of the write endpoints and the store's maintenance, rendered
/// on `/metrics` by the server.
#[derive(Debug, Default)]
pub struct StoreCounters {
    /// Write requests received on any ingest endpoint.
    pub write_requests: AtomicU64,
    /// Write requests answered with an error (fully or partly refused).
    pub requests_failed: AtomicU64,
    /// Samples accepted by the ingest endpoints.
    pub samples_accepted: AtomicU64,
    /// Samples refused by the ingest endpoints.
    pub samples_rejected: AtomicU64,
    /// Maintenance runs (compaction + retention) that failed.
    pub maintenance_failures: AtomicU64,
}

/// What the write endpoints share.
#[derive(Clone)]
pub struct WriteState {
    /// The store, for its read-only state.
    pub db: argus_tsdb::Db,
    /// The store's write path (with its commit observers).
    pub storage: argus_tsdb::Storage,
    /// The clock samples without a timestamp take.
    pub clock: Arc<dyn Clock>,
    /// The counters the endpoints update.
    pub metrics: Arc<StoreCounters>,
    /// The ingest budget every write takes a slot of.
    pub writes: Arc<WriteGate>,
}

/// The write endpoints (remote_write, Prometheus text import, JSON push)
/// over `state`.
pub fn write_router(state: WriteState) -> Router {
    Router::new()
        .route("/api/v1/write", post(write::remote_write))
        .route("/api/v1/import/prometheus", post(write::import_text))
        .route("/api/v1/push", post(write::push_json))
        .with_state(state)
}
