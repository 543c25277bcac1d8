//! The Argus server: configuration, the HTTP APIs, and the wiring of store,
//! ingestion, scraping, the rules engine and the built-in agent.
//!
//! ```no_run
//! use argus_server::{config::Config, run, ServerOptions};
//! # async fn f() -> Result<(), argus_server::ServerError> {
//! let opts = ServerOptions {
//!     data_dir: "./data".into(),
//!     listen: "127.0.0.1:9797".parse().unwrap(),
//!     config: Config::default(),
//!     run_agent: true,
//!     config_path: None,
//!     alert_tx: None,
//!     write_gate: None,
//! };
//! run(opts, std::sync::Arc::new(argus_model::SystemClock), std::future::pending()).await
//! # }
//! ```

pub mod alerting;
pub mod api;
pub mod assistant;
pub use argus_auth as auth;
mod compose;
pub mod config;
pub mod detect;
pub mod health;
pub mod incidents;
pub mod lifecycle;
mod local_agent;
pub mod log_changes;
pub use argus_log_service as logs;
pub mod recover;
pub use argus_web::redact;
pub mod rules;
pub mod selfmetrics;
pub use argus_ui::routes as ui;

use argus_model::Clock;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Errors that stop the server from starting or running. Whatever had
/// started is stopped again before one is returned.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store could not be opened.
    #[error("cannot open the store in {dir}: {source}")]
    Storage {
        /// The data directory.
        dir: PathBuf,
        /// The store's error.
        source: argus_tsdb::TsdbError,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The web configuration (TLS, users, roles) is unusable.
    #[error("{0}")]
    Auth(#[source] auth::AuthError),
    /// The HTTP server failed.
    #[error("http server failed: {0}")]
    Serve(#[source] std::io::Error),
    /// The built-in agent could not start.
    #[error("cannot start the built-in agent: {0}")]
    Agent(#[source] argus_collect::CollectError),
    /// The alerting pipeline could not start.
    #[error("cannot start the alerting pipeline: {0}")]
    Alerting(#[source] alerting::AlertingError),
    /// The scrape configuration could not be applied.
    #[error("cannot start scraping: {0}")]
    Scrape(#[source] argus_ingest::scrape::ScrapeConfigError),
    /// The remote_write queues could not be started.
    #[error("cannot start remote_write: {0}")]
    RemoteWrite(#[source] argus_ingest::remote_out::RemoteWriteError),
    /// The rule files could not be loaded (each error names file and line).
    #[error("{0}")]
    Rules(config::ConfigError),
    /// The service health checks could not start.
    #[error("cannot start the service health checks: {0}")]
    Health(#[source] argus_health::HealthError),
    /// Dynamic detection could not start (stored models unreadable…).
    #[error("cannot start dynamic detection: {0}")]
    Detect(#[source] argus_dynamic::DynamicError),
    /// An `alerting.alertmanagers` entry is unusable.
    #[error("cannot send alerts to the configured Alertmanagers: {0}")]
    Forward(#[source] argus_forward::ForwardConfigError),
    /// An exhaustion rule is invalid.
    #[error("{0}")]
    Predict(#[source] argus_predict::PredictConfigError),
    /// A composite health rule is invalid.
    #[error("{0}")]
    HealthIndex(#[source] argus_predict::HealthIndexConfigError),
    /// The log store or a syslog listener could not start.
    #[error("cannot start logs: {0}")]
    Logs(#[source] logs::LogsError),
    /// The incident service could not start.
    #[error("cannot start incidents: {0}")]
    Incidents(#[source] incidents::IncidentsError),
    /// The runbooks are wrong or their journal cannot be opened.
    #[error("cannot start runbooks: {0}")]
    Recover(#[source] recover::RecoverStartError),
    /// SIGHUP could not be listened for.
    #[error("cannot listen for SIGHUP: {0}")]
    Signal(#[source] std::io::Error),
    /// A start-up task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// What `argus up` and `argus server` pass in.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Where the store lives.
    pub data_dir: PathBuf,
    /// The HTTP listen address.
    pub listen: SocketAddr,
    /// The parsed configuration file.
    pub config: config::Config,
    /// Run the in-process host agent (`argus up`).
    pub run_agent: bool,
    /// The configuration file, re-read by `POST /-/reload` and SIGHUP; `None`
    /// when the server runs on defaults.
    pub config_path: Option<PathBuf>,
    /// Where the alerts of rule groups, health checks and dynamic rules go.
    /// `None` (the binary's choice): the server's own alert pipeline
    /// (`argus-alert`) takes them from its ingress. `Some` (a test hook): this
    /// ingress gets them instead, as `AlertEvent`s, and the pipeline none.
    pub alert_tx: Option<argus_alert::Ingress>,
    /// The ingest budget of the write endpoints. `None` (the usual case):
    /// one built from `config.limits`. A caller that passes its own can take
    /// slots itself, as the tests do to fill the budget deterministically.
    pub write_gate: Option<Arc<api::WriteGate>>,
}

/// Runs the server until `shutdown` completes, then stops scraping, finishes
/// in-flight requests and closes the store cleanly. The parts are started
/// and stopped by the composition root (see [`lifecycle`]); a part that
/// fails to start stops those started before it, the store last.
pub async fn run(
    opts: ServerOptions,
    clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    compose::run(opts, clock, shutdown).await
}
