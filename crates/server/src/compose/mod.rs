//! The composition root: [`crate::run`] starts the server's parts here, each
//! from its own configuration section, in this order:
//!
//! 1. the HTTP listener is bound (a bad address fails before anything runs);
//! 2. **store** (`storage:`): the `Db`, its write path ([`Storage`]) and the
//!    one query service (`query:`), and the **remote_write** queues that
//!    read its WAL (`remote_write:`);
//! 3. **health** (`health:`), 4. **dynamic_rules** (`dynamic_rules:`,
//!    `detect:`; its tap is registered on the write path), then the
//!    **exhaustion rules** (`exhaustion_rules:`) and **composite health**
//!    (`health_index_rules:`), the **logs** (`logs:`: the log store, its
//!    push and query routes, syslog listeners), 5. **scrape**
//!    (`scrape_configs:`, running even with no job so a reload can add one), 6. **maintenance**, 7. **agent** (`agent:`),
//! 8. **alerting** (`alerting:`) with the rule alerts' feed,
//! 9. **rules** (`rule_files:`, `rules:`), 10. the **reload** (SIGHUP),
//! 11. the **HTTP** server, whose router merges every part's routes.
//!
//! Each part is pushed onto a [`Components`] stack once it runs. If a later
//! part fails to start, the stack is stopped (last started first) and the
//! error returned: the store is closed and can be opened again at once. A
//! shutdown stops the HTTP server (in-flight requests finish), then the stack.
//!
//! The reloadable sections are registered with the server's
//! [`ReloadService`] in the order their reload is applied (see
//! [`crate::lifecycle::reload`] and [`sections`]).

mod sections;

use crate::lifecycle::{Components, Part, ReloadService, Reloader};
use crate::{alerting, api, auth, detect, health, local_agent, rules, selfmetrics, ui};
use crate::{ServerError, ServerOptions};
use argus_model::Clock;
use argus_tsdb::{Db, Storage};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

type Scrape = Arc<argus_ingest::scrape::ScrapeManager<Storage>>;

/// Starts every part, serves until `shutdown` completes, then stops them.
pub(crate) async fn run(
    opts: ServerOptions,
    clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let mut up = Components::default();
    let server = match start(&opts, clock, &mut up).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, started = ?up.names(), "Argus could not start; stopping what had started.");
            up.stop().await;
            return Err(e);
        }
    };
    let served = server.serve(shutdown).await;
    up.stop().await;
    served
}

/// What is left to run once every part has started: the HTTP server (over
/// TLS when the web configuration asks for it).
struct Serving {
    listener: tokio::net::TcpListener,
    app: axum::Router,
    auth: Arc<auth::Auth>,
}

impl Serving {
    async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        auth::serve(self.listener, self.app, self.auth, shutdown)
            .await
            .map_err(ServerError::Serve)
    }
}

/// Starts the parts in order, pushing each onto `up` once it runs.
async fn start(
    opts: &ServerOptions,
    clock: Arc<dyn Clock>,
    up: &mut Components,
) -> Result<Serving, ServerError> {
    let cfg = &opts.config;
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| ServerError::Listen {
            addr: opts.listen,
            source,
        })?;
    // Checked before anything starts: a bad web configuration stops here.
    let auth = auth::Auth::new(&cfg.auth_settings(), &opts.data_dir, clock.clone())
        .map_err(ServerError::Auth)?;
    up.push(Part::task("audit_flush", spawn_audit_flush(auth.clone())));
    let storage = start_store(opts, clock.clone(), up).await?;
    let db = storage.db().clone();
    // Before maintenance starts: the queues' WAL holds are taken here.
    let remote_write = sections::start_remote_write(opts, &db, clock.clone(), up)?;
    let query = Arc::new(api::exec::QueryService::new(&cfg.query, db.clone()));

    // The one way in to the alert pipeline for rules, health checks and
    // dynamic rules; the pipeline's feed drains it once alerting runs.
    let (alert_sink, alert_queue) = alerting::sources::ingress(opts.alert_tx.clone());
    let forwarder = start_forwarder(cfg, clock.clone(), up)?;
    let alert_sink = alert_sink
        .with_forwarder(forwarder.clone())
        .with_localizer(Arc::new(alerting::localize::Localizer::new(query.clone())));
    alert_sink.configure(cfg, opts.listen);
    let health = health::HealthRuntime::start(
        cfg,
        storage.clone(),
        query.clone(),
        clock.clone(),
        alert_sink.clone(),
    )
    .map_err(ServerError::Health)?;
    let h = health.clone();
    up.push(
        Part::new("health")
            .routes(health.router())
            .on_stop(async move { h.shutdown().await }),
    );

    let detect = Arc::new(
        detect::start(cfg, &opts.data_dir, db.clone(), clock.clone())
            .map_err(ServerError::Detect)?,
    );
    storage.add_observer(Arc::new(detect.tap()));
    let d = detect.clone();
    up.push(
        Part::new("dynamic_rules")
            .routes(detect::router(&detect))
            .on_stop(async move { d.shutdown().await }),
    );

    let writes = opts
        .write_gate
        .clone()
        .unwrap_or_else(|| Arc::new(cfg.limits.write_gate()));
    let logs = crate::logs::start(
        &cfg.logs,
        &opts.data_dir,
        clock.clone(),
        writes.clone(),
        Some(storage.clone()),
        Some(log_alerts(&alert_sink)),
        up,
    )
    .await
    .map_err(ServerError::Logs)?;

    let predict = start_predict(cfg, &storage, clock.clone(), &alert_sink, up)?;
    let health_index = start_health_index(cfg, &storage, &query, clock.clone(), &alert_sink, up)?;
    let scrape = start_scrape(opts, &storage, clock.clone(), up)?;
    let metrics = Arc::new(selfmetrics::SelfMetrics::default());
    start_maintenance(opts, &db, metrics.clone(), up);
    if opts.run_agent && cfg.agent.enabled {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = local_agent::spawn(storage.clone(), clock.clone(), cfg.agent.clone(), stopped)
            .map_err(ServerError::Agent)?;
        up.push(Part::signalled_task("agent", stop, task));
    }

    // The notification pipeline: it applies what the sources send to the
    // ingress, so none of their crates imports it.
    let am_cfg = cfg.alerting_config().map_err(ServerError::Rules)?;
    let external_url = format!("http://{}", opts.listen);
    let incidents =
        crate::incidents::open(&cfg.incidents, &opts.data_dir, db.clone(), clock.clone())
            .map_err(ServerError::Incidents)?;
    let alerting = alerting::AlertingService::start_with_observer(
        am_cfg,
        &opts.data_dir,
        external_url,
        clock.clone(),
        Some(incidents.observer()),
    )
    .await
    .map_err(ServerError::Alerting)?;
    let alerting = Arc::new(alerting);
    up.push(alerting_part(&alerting));
    if let Some(q) = alert_queue {
        up.push(Part::task("alert feed", alerting.spawn_feed(q)));
    }
    detect.set_alert_sink(Arc::new(alert_sink.clone()));
    let runbook_slot = incidents.runbook_slot();
    let incidents = incidents.start(&alerting, logs.as_ref().map(|l| l.store().clone()), up);
    if let Some(l) = &logs {
        incidents.set_change_source(Arc::new(crate::log_changes::LogChanges(l.store().clone())));
    }

    let recover = crate::recover::start(
        cfg,
        &opts.data_dir,
        clock.clone(),
        incidents.clone(),
        query.clone(),
        alert_sink.clone(),
        cfg.rules
            .external_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", opts.listen)),
        up,
    )
    .map_err(ServerError::Recover)?;
    let _ = runbook_slot.set(recover.clone());
    alerting.set_runbooks(Arc::new(crate::recover::LinkRunbooks {
        recover: recover.clone(),
        incidents: incidents.clone(),
    }));

    let deps = argus_rules::Deps {
        query: Arc::new(rules::store_query_fn(query.clone())),
        samples: Arc::new(rules::store_sample_sink(storage.clone())),
        alerts: Arc::new(alert_sink.clone()),
    };
    let group_opts = rules::group_options(cfg, &opts.data_dir, opts.listen);
    let rule_service = Arc::new(
        rules::RuleService::start(
            cfg,
            group_opts,
            deps,
            clock.clone(),
            Some(scrape.health_changes()),
        )
        .map_err(ServerError::Rules)?,
    );
    let r = rule_service.clone();
    up.push(Part::new("rules").on_stop(async move { r.stop().await }));

    let started_at = chrono::DateTime::from_timestamp_millis(clock.now_ms()).unwrap_or_default();
    let info = Arc::new(api::status::ServerInfo::new(opts, started_at));
    // Applied in this order: the sections whose apply can fail first, the
    // served configuration text last.
    let reloaders: Vec<Arc<dyn Reloader>> = vec![
        Arc::new(sections::RestartOnlySection::new(&file_as_started(opts))),
        Arc::new(sections::AlertingSection::new(&alerting)),
        Arc::new(sections::HealthSection(health.clone())),
        Arc::new(sections::RulesSection {
            service: rule_service.clone(),
            data_dir: opts.data_dir.clone(),
            listen: opts.listen,
        }),
        Arc::new(sections::ScrapeSection(scrape.clone())),
        Arc::new(sections::DynamicRulesSection(detect.reloader())),
        Arc::new(sections::ExhaustionSection(predict)),
        Arc::new(sections::HealthIndexSection(health_index)),
        Arc::new(sections::ForwardSection(forwarder.clone())),
        Arc::new(sections::IncidentsSection(incidents.clone())),
        Arc::new(crate::recover::RecoverSection(recover.clone())),
        Arc::new(sections::LogMetricsSection(logs.clone())),
        Arc::new(sections::AlertLabelsSection(alert_sink, opts.listen)),
        Arc::new(sections::RemoteWriteSection(remote_write.clone())),
        Arc::new(sections::ConfigTextSection(info.config_yaml.clone())),
    ];
    let reload = Arc::new(ReloadService::new(
        opts.config_path.clone(),
        reloaders,
        clock.clone(),
    ));
    #[cfg(unix)]
    if opts.config_path.is_some() {
        up.push(Part::task("sighup", spawn_sighup_reload(reload.clone())?));
    }

    let ui_clock = clock.clone();
    let state = api::AppState {
        db,
        storage,
        clock,
        metrics,
        scrape: Some(scrape),
        ready: Arc::new(AtomicBool::new(false)),
        query,
        info,
        rules: rule_service,
        reload,
        tap: detect.tap(),
        alert_store: Some(alerting.store_health()),
        forwarder,
        writes,
        remote_write: Some(remote_write),
        incidents: Some(incidents),
        recover: Some(recover),
        logs,
        audit: Some(auth.clone()),
    };
    state.ready.store(true, Ordering::Release);
    let app = api::router(state, cfg.limits.max_request_body.0 as usize)
        .merge(up.routes())
        .merge(auth::router(auth.clone()));
    let app = app.clone().merge(ui::router(app, ui_clock));
    let guard = Arc::new(api::guard::Guard::new(
        opts.listen,
        cfg.rules.external_url.as_deref(),
        &cfg.web.allowed_hosts,
        &cfg.web.allowed_origins,
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
    Ok(Serving {
        listener,
        app,
        auth,
    })
}

/// Opens the store (replaying the WAL) on a blocking thread; its part closes
/// it.
async fn start_store(
    opts: &ServerOptions,
    clock: Arc<dyn Clock>,
    up: &mut Components,
) -> Result<Storage, ServerError> {
    let dir = opts.data_dir.clone();
    let tsdb_opts = opts.config.tsdb_options();
    let started = std::time::Instant::now();
    let db = tokio::task::spawn_blocking(move || Db::open(&dir, tsdb_opts, clock))
        .await
        .map_err(ServerError::Task)?
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
    let d = db.clone();
    up.push(Part::new("store").on_stop(async move {
        match tokio::task::spawn_blocking(move || d.close()).await {
            Ok(Ok(())) => tracing::info!("Closed the store cleanly."),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "Closing the store failed; the WAL will be replayed at the next start.")
            }
            Err(e) => tracing::error!(error = %e, "The close task failed."),
        }
    }));
    Ok(Storage::new(db))
}

/// The scrape manager over the write path, running the configured jobs
/// (none is fine: a reload can add some).
fn start_scrape(
    opts: &ServerOptions,
    storage: &Storage,
    clock: Arc<dyn Clock>,
    up: &mut Components,
) -> Result<Scrape, ServerError> {
    let sm = Arc::new(
        argus_ingest::scrape::ScrapeManager::new(Arc::new(storage.clone()), clock)
            .map_err(ServerError::Scrape)?,
    );
    let s = sm.clone();
    up.push(Part::new("scrape").on_stop(async move { s.shutdown().await }));
    sm.apply(opts.config.effective_scrape_configs())
        .map_err(ServerError::Scrape)?;
    Ok(sm)
}

/// The configuration file as it read at start, before the command line's
/// flags (`--web.enable-lifecycle`...) were laid over it: what a reload's
/// file is compared with, since a reload re-reads the file alone.
fn file_as_started(opts: &ServerOptions) -> crate::config::Config {
    opts.config_path
        .as_deref()
        .and_then(|p| crate::config::Config::load(p).ok())
        .unwrap_or_else(|| opts.config.clone())
}

/// The alerts of logs and events (the abnormal event mix) into the ingress.
fn log_alerts(sink: &alerting::IngressSink) -> crate::logs::events::AlertSink {
    let sink = sink.clone();
    Arc::new(move |evs| sink.send_predictions(evs))
}

/// The exhaustion rules (`exhaustion_rules:`), evaluated every second
/// for the rules that are due; running even with none, so a reload can add
/// some.
fn start_predict(
    cfg: &crate::config::Config,
    storage: &Storage,
    clock: Arc<dyn Clock>,
    alerts: &alerting::IngressSink,
    up: &mut Components,
) -> Result<argus_predict::PredictService, ServerError> {
    let rules =
        argus_predict::compile_rules(&cfg.exhaustion_rules).map_err(ServerError::Predict)?;
    let svc = argus_predict::PredictService::new(
        storage.db().clone(),
        storage.clone(),
        clock,
        cfg.rules.resend_delay.as_millis(),
    );
    let sink = alerts.clone();
    svc.set_alert_sink(Arc::new(move |evs| sink.send_predictions(evs)));
    svc.apply(rules);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = svc.spawn(stopped);
    up.push(Part::signalled_task("exhaustion_rules", stop, task));
    Ok(svc)
}

/// The composite health rules (`health_index_rules:`), whose inputs are
/// PromQL queries on the one query service.
fn start_health_index(
    cfg: &crate::config::Config,
    storage: &Storage,
    query: &Arc<api::exec::QueryService>,
    clock: Arc<dyn Clock>,
    alerts: &alerting::IngressSink,
    up: &mut Components,
) -> Result<argus_predict::HealthIndexService, ServerError> {
    argus_predict::check_health_index_rules(&cfg.health_index_rules)
        .map_err(ServerError::HealthIndex)?;
    let q = query.clone();
    let instant = move |expr: &str, t_ms: i64| match q.rule_query(expr, t_ms) {
        Ok(argus_promql::Value::Vector(v)) => Ok(v.into_iter().map(|s| (s.labels, s.v)).collect()),
        Ok(argus_promql::Value::Scalar { v, .. }) => Ok(vec![(argus_model::Labels::empty(), v)]),
        Ok(other) => Err(argus_predict::QueryError(format!(
            "the query gives a {}, not a vector",
            other.type_name()
        ))),
        Err(e) => Err(argus_predict::QueryError(e.to_string())),
    };
    let svc = argus_predict::HealthIndexService::new(
        storage.db().clone(),
        storage.clone(),
        clock,
        Arc::new(instant),
        cfg.rules.resend_delay.as_millis(),
    );
    let sink = alerts.clone();
    svc.set_alert_sink(Arc::new(move |evs| sink.send_predictions(evs)));
    svc.apply(cfg.health_index_rules.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = svc.spawn(stopped);
    up.push(Part::signalled_task("health_index_rules", stop, task));
    Ok(svc)
}

/// The sender to external Alertmanagers (`alerting.alertmanagers`); it
/// runs even with none, so a reload can add some.
fn start_forwarder(
    cfg: &crate::config::Config,
    clock: Arc<dyn Clock>,
    up: &mut Components,
) -> Result<argus_forward::Forwarder, ServerError> {
    let prepared = cfg
        .forward_settings()
        .prepare()
        .map_err(ServerError::Forward)?;
    let fwd = argus_forward::Forwarder::new(clock);
    fwd.apply(prepared);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = fwd.spawn(cfg.rules.resend_delay.to_std(), stopped);
    up.push(Part::signalled_task("alertmanagers", stop, task));
    Ok(fwd)
}

/// The alert pipeline's part: its routes, and its shutdown once the HTTP
/// server (which holds the other handle) has stopped.
fn alerting_part(alerting: &Arc<alerting::AlertingService>) -> Part {
    let a = alerting.clone();
    Part::new("alerting")
        .routes(alerting.router())
        .on_stop(async move {
            match Arc::try_unwrap(a) {
                Ok(a) => a.shutdown().await,
                Err(_) => tracing::error!(
                    "The alert pipeline is still in use at shutdown; it stops with the process."
                ),
            }
        })
}

/// Reloads the configuration on SIGHUP, like Prometheus.
#[cfg(unix)]
/// How often audit entries held in memory (the disk was full) are retried.
const AUDIT_FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Writes audit entries that waited for the disk, every
/// [`AUDIT_FLUSH_EVERY`], so they reach the file once it has room even when
/// no one acts meanwhile.
fn spawn_audit_flush(auth: Arc<auth::Auth>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(AUDIT_FLUSH_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if auth.audit().pending_entries() == 0 {
                continue;
            }
            let a = auth.clone();
            let _ = tokio::task::spawn_blocking(move || a.audit().flush_pending()).await;
        }
    })
}

fn spawn_sighup_reload(
    reload: Arc<ReloadService>,
) -> Result<tokio::task::JoinHandle<()>, ServerError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).map_err(ServerError::Signal)?;
    Ok(tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP received; reloading the configuration.");
            // `reload` logs its own failure; the configuration in force stays.
            let _ = reload.reload().await;
        }
    }))
}

/// Store maintenance: a WAL fsync every second and compaction and
/// retention every `storage.maintenance_interval`, on a blocking thread.
/// Its part lets the work in progress finish.
fn start_maintenance(
    opts: &ServerOptions,
    db: &Db,
    metrics: Arc<selfmetrics::SelfMetrics>,
    up: &mut Components,
) {
    let every = opts.config.storage.maintenance_interval.to_std();
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let db = db.clone();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = std::time::Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
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
    });
    up.push(Part::signalled_task("maintenance", stop, task));
}

#[cfg(test)]
mod tests;

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
