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
pub mod auth;
pub mod config;
pub mod detect;
pub mod health;
mod local_agent;
pub mod redact;
pub mod rules;
pub mod selfmetrics;
pub mod ui;

use argus_model::Clock;
use argus_tsdb::Db;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Errors that stop the server from starting or running.
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
    Serve(std::io::Error),
    /// The built-in agent could not start.
    #[error("cannot start the built-in agent: {0}")]
    Agent(String),
    /// The alerting pipeline could not start.
    #[error("cannot start the alerting pipeline: {0}")]
    Alerting(String),
    /// The scrape configuration could not be applied.
    #[error("cannot start scraping: {0}")]
    Scrape(String),
    /// The rule files could not be loaded (each error names file and line).
    #[error("{0}")]
    Rules(config::ConfigError),
    /// The service health checks could not start.
    #[error("cannot start the service health checks: {0}")]
    Health(String),
    /// Dynamic detection could not start (stored models unreadable…).
    #[error("cannot start dynamic detection: {0}")]
    Detect(#[source] argus_dynamic::DynamicError),
    /// A background task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(String),
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

/// Lets the scrape manager write into the store (through the dynamic-rule tap).
#[derive(Clone)]
pub struct DbSink(pub Db, pub detect::Tap);

impl argus_ingest::AppenderFactory for DbSink {
    type App = detect::TapAppender<argus_tsdb::DbAppender>;
    fn appender(&self) -> Self::App {
        self.1.wrap(self.0.appender())
    }
}

/// Runs the server until `shutdown` completes, then stops scraping, finishes
/// in-flight requests and closes the store cleanly.
pub async fn run(
    opts: ServerOptions,
    clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| ServerError::Listen {
            addr: opts.listen,
            source,
        })?;
    // Checked before anything starts: a bad web configuration stops here.
    let auth = auth::Auth::new(&opts.config.auth_settings(), &opts.data_dir, clock.clone())
        .map_err(ServerError::Auth)?;
    let dir = opts.data_dir.clone();
    let tsdb_opts = opts.config.tsdb_options();
    let c2 = clock.clone();
    let started = std::time::Instant::now();
    let db = tokio::task::spawn_blocking(move || Db::open(&dir, tsdb_opts, c2))
        .await
        .map_err(|e| ServerError::Task(e.to_string()))?
        .map_err(|source| ServerError::Storage {
            dir: opts.data_dir.clone(),
            source,
        })?;
    let st = db.stats();
    tracing::info!(
        dir = %opts.data_dir.display(),
        head_series = st.head_series,
        blocks = st.blocks,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "Opened the store and replayed the WAL."
    );
    // The one way in to the alert pipeline for rules, health checks and dynamic rules.
    let (alert_sink, alert_queue) = alerting::sources::ingress(opts.alert_tx.clone());
    alert_sink.configure(&opts.config, opts.listen);
    let health = match health::HealthRuntime::start(
        &opts.config,
        db.clone(),
        clock.clone(),
        alert_sink.clone(),
    ) {
        Ok(h) => h,
        Err(e) => {
            let _ = tokio::task::spawn_blocking(move || db.close()).await;
            return Err(ServerError::Health(e.to_string()));
        }
    };

    let metrics = Arc::new(selfmetrics::SelfMetrics::default());
    let detect = match detect::start(&opts.config, &opts.data_dir, db.clone(), clock.clone()) {
        Ok(d) => d,
        Err(e) => {
            health.stop();
            let _ = tokio::task::spawn_blocking(move || db.close()).await;
            return Err(ServerError::Detect(e));
        }
    };
    let scrape = if opts.config.scrape_configs.is_empty() {
        None
    } else {
        let sm = argus_ingest::scrape::ScrapeManager::new(
            Arc::new(DbSink(db.clone(), detect.tap())),
            clock.clone(),
        )
        .map_err(|e| ServerError::Scrape(e.to_string()))?;
        sm.apply(opts.config.effective_scrape_configs())
            .map_err(|e| ServerError::Scrape(e.to_string()))?;
        Some(Arc::new(sm))
    };

    let mut tasks = Vec::new();
    tasks.push(spawn_maintenance(
        db.clone(),
        opts.config.storage.maintenance_interval.to_std(),
        metrics.clone(),
    ));
    if opts.run_agent && opts.config.agent.enabled {
        let h = local_agent::spawn(
            db.clone(),
            detect.tap(),
            clock.clone(),
            opts.config.agent.clone(),
        )
        .map_err(ServerError::Agent)?;
        tasks.push(h);
    }

    // The notification pipeline: it applies what the sources send to the ingress,
    // so none of their crates imports it.
    let am_cfg = opts.config.alerting_config().map_err(ServerError::Rules)?;
    let external_url = format!("http://{}", opts.listen);
    let alerting =
        alerting::AlertingService::start(am_cfg, &opts.data_dir, external_url, clock.clone())
            .await
            .map_err(|e| ServerError::Alerting(e.to_string()))?;
    if let Some(q) = alert_queue {
        tasks.push(alerting.spawn_feed(q));
    }
    detect.set_alert_sink(Arc::new(alert_sink.clone()));
    let query = Arc::new(api::exec::QueryService::new(&opts.config.query));
    let deps = argus_rules::Deps {
        // Rule files are checked against the built-in text limits when they
        // load, so rules are evaluated under those, whatever `query:` says.
        query: Arc::new(rules::store_query_fn(
            db.clone(),
            argus_promql::EngineOptions {
                parse: argus_promql::ParseLimits::default(),
                ..query.options().clone()
            },
        )),
        samples: Arc::new(rules::store_sample_sink_tapped(db.clone(), detect.tap())),
        alerts: Arc::new(alert_sink.clone()),
    };
    let group_opts = rules::group_options(&opts.config, &opts.data_dir, opts.listen);
    let rule_service = match rules::RuleService::start(
        &opts.config,
        group_opts,
        deps,
        opts.config_path.clone(),
        clock.clone(),
        scrape.as_ref().map(|sm| sm.health_changes()),
    ) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            for t in &tasks {
                t.abort();
            }
            detect.stop();
            health.stop();
            if let Some(sm) = scrape {
                sm.shutdown().await;
            }
            alerting.shutdown().await;
            let _ = tokio::task::spawn_blocking(move || db.close()).await;
            return Err(ServerError::Rules(e));
        }
    };
    {
        let reloader = alerting.reloader();
        let health_reload = health.reload_hook();
        let detect_reload = detect.reloader();
        let alert_sink = alert_sink.clone();
        let listen = opts.listen;
        rule_service.set_reload_hook(Arc::new(move |cfg: &config::Config| {
            // Validated first, applied last: a bad section changes nothing.
            let dynamic = detect_reload
                .prepare(&cfg.dynamic_rules)
                .map_err(|e| e.to_string())?;
            let am = cfg.alerting_config().map_err(|e| e.to_string())?;
            reloader(am).map_err(|e| format!("alerting configuration: {e}"))?;
            health_reload(cfg)?;
            detect_reload.apply(dynamic);
            alert_sink.configure(cfg, listen);
            Ok(())
        }));
    }
    #[cfg(unix)]
    if opts.config_path.is_some() {
        tasks.push(spawn_sighup_reload(rule_service.clone())?);
    }

    let started_at = chrono::DateTime::from_timestamp_millis(clock.now_ms()).unwrap_or_default();
    let ui_clock = clock.clone();
    let state = api::AppState {
        db: db.clone(),
        clock,
        metrics,
        scrape: scrape.clone(),
        ready: Arc::new(AtomicBool::new(false)),
        query,
        info: Arc::new(api::status::ServerInfo::new(&opts, started_at)),
        rules: rule_service.clone(),
        tap: detect.tap(),
        alert_store: Some(alerting.store_health()),
        writes: opts
            .write_gate
            .clone()
            .unwrap_or_else(|| Arc::new(api::WriteGate::from_limits(&opts.config.limits))),
    };
    state.ready.store(true, Ordering::Release);
    let app = api::router(state, opts.config.limits.max_request_body.0 as usize)
        .merge(alerting.router())
        .merge(health.router())
        .merge(detect::router(&detect))
        .merge(auth::router(auth.clone()));
    let app = app.clone().merge(ui::router(app, ui_clock));
    let guard = Arc::new(api::guard::Guard::new(
        opts.listen,
        opts.config.rules.external_url.as_deref(),
        &opts.config.web.allowed_hosts,
        &opts.config.web.allowed_origins,
    ));
    // The guard runs first (cross-site writes and foreign hosts are refused
    // before any password is checked), then authentication and roles.
    let app = app
        .layer(axum::middleware::from_fn_with_state(
            auth.clone(),
            auth::layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            guard,
            api::guard::layer,
        ));
    tracing::info!(
        listen = %opts.listen,
        "Argus is listening; the web UI is at {}",
        ui_url(opts.listen, auth.serves_tls())
    );
    if !opts.listen.ip().is_loopback() && !auth.required() {
        tracing::warn!(listen = %opts.listen, "Argus listens beyond this machine and asks no one to sign in: anyone who can reach this address can read the data and create silences, acknowledge alerts and write samples. Listen on 127.0.0.1 behind a proxy that authenticates, or firewall the port.");
    }
    let served = auth::serve(listener, app, auth.clone(), shutdown).await;
    health.stop();

    for t in &tasks {
        t.abort();
    }
    detect.stop();
    rule_service.stop().await;
    alerting.shutdown().await;
    if let Some(sm) = scrape {
        sm.shutdown().await;
    }
    let db2 = db.clone();
    match tokio::task::spawn_blocking(move || db2.close()).await {
        Ok(Ok(())) => tracing::info!("Closed the store cleanly."),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "Closing the store failed; the WAL will be replayed at the next start.")
        }
        Err(e) => tracing::error!(error = %e, "The close task failed."),
    }
    served.map_err(ServerError::Serve)
}

/// Reloads the configuration and rule files on SIGHUP, like Prometheus.
#[cfg(unix)]
fn spawn_sighup_reload(
    rules: Arc<rules::RuleService>,
) -> Result<tokio::task::JoinHandle<()>, ServerError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())
        .map_err(|e| ServerError::Task(format!("cannot listen for SIGHUP: {e}")))?;
    Ok(tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP received; reloading the configuration.");
            // `reload` logs its own failure; the old rules stay in force.
            let _ = rules.reload().await;
        }
    }))
}

fn spawn_maintenance(
    db: Db,
    every: std::time::Duration,
    metrics: Arc<selfmetrics::SelfMetrics>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = std::time::Instant::now();
        loop {
            tick.tick().await;
            let d = db.clone();
            let full = last.elapsed() >= every;
            if full {
                last = std::time::Instant::now();
            }
            let res =
                tokio::task::spawn_blocking(
                    move || {
                        if full {
                            d.maintenance()
                        } else {
                            d.sync_wal()
                        }
                    },
                )
                .await;
            match res {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    metrics.maintenance_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %e, "Store maintenance failed; it will be retried.");
                }
                Err(e) => tracing::error!(error = %e, "The maintenance task failed."),
            }
        }
    })
}

/// The web UI's address for a listen address: a wildcard listen address is
/// shown as `localhost`, the address a browser on this machine can open.
fn ui_url(listen: std::net::SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    let host = match listen.ip() {
        ip if ip.is_unspecified() => "localhost".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("{scheme}://{host}:{}/ui/", listen.port())
}
