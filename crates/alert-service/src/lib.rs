//! The alerting service: the `argus-alert` pipeline (store, dispatcher, channels,
//! runner) behind Alertmanager's API v2, so `amtool`, Grafana and Prometheus's
//! `alerting.alertmanagers` talk to Argus unchanged.
//!
//! [`AlertingService::start`] opens the redb store under `<data_dir>/alerting`, restores the
//! alerts, silences, notification log and escalations, builds the channels and spawns the
//! runner. [`AlertingService::router`] serves the API with its own state, to be merged into the
//! main router. Rule groups, health checks and dynamic rules send their alerts through one
//! [`argus_alert::Ingress`] (the server's alert sources); [`AlertingService::spawn_feed`] applies its queue in
//! order. Alerts posted over HTTP are converted from text at the API. See [`api`] for the
//! endpoints.
//!
//! ```no_run
//! # async fn f() -> Result<(), argus_alert_service::AlertingError> {
//! use argus_alert_service::AlertingService;
//! use std::sync::Arc;
//! let cfg = argus_alert::config::Config::parse(
//!     "route: {receiver: r}\nreceivers: [{name: r}]\n", "alertmanager.yml").unwrap();
//! let svc = AlertingService::start(cfg, std::path::Path::new("./data"),
//!     "http://localhost:9797".into(), Arc::new(argus_model::SystemClock)).await?;
//! let app = axum::Router::new().merge(svc.router());
//! # let _ = app;
//! svc.shutdown().await;
//! # Ok(()) }
//! ```

pub mod api;
mod json;
mod links;

pub use links::api_who;

use argus_alert::channel::{ChannelEnv, ChannelError, Channels};
use argus_alert::config::Config;
use argus_alert::links::{LinkError, LinkSigner};
use argus_alert::runner::{Handle, Runner};
use argus_alert::store::{HealthHandle, Store, StoreError, StoreOptions};
use argus_alert::{DispatchError, Dispatcher, IngressQueue};
use argus_model::Clock;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The sub-directory of the data directory that holds the alert store.
pub const STORE_DIR: &str = "alerting";

/// Why the alerting service could not start, reload or take alerts.
#[derive(Debug, thiserror::Error)]
pub enum AlertingError {
    /// The store could not be opened.
    #[error("cannot open the alert store in {dir}: {source}")]
    Store {
        /// The directory.
        dir: PathBuf,
        /// The store's error.
        source: StoreError,
    },
    /// The dispatcher refused the config or could not restore its state.
    #[error("cannot apply the alerting config: {0}")]
    Dispatch(#[from] DispatchError),
    /// A receiver's channel could not be built.
    #[error("cannot build the notification channels: {0}")]
    Channel(#[from] ChannelError),
    /// The one-click link key could not be read or created.
    #[error("cannot set up one-click links: {0}")]
    Links(#[from] LinkError),
    /// A blocking task panicked or was cancelled.
    #[error("alerting task failed: {0}")]
    Task(String),
    /// The service has shut down.
    #[error("the alerting service has stopped")]
    Stopped,
}

impl AlertingError {
    /// True when trying again may succeed (a transient disk error).
    pub fn is_retryable(&self) -> bool {
        match self {
            AlertingError::Store { source, .. } => source.is_retryable(),
            AlertingError::Dispatch(e) => e.is_retryable(),
            _ => false,
        }
    }
}

/// What the API handlers share.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) handle: Handle,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) started_ms: i64,
    /// Verifies one-click links, with `argus.links.silence_for` in ms; replaced on reload.
    pub(crate) links: parking_lot::RwLock<(LinkSigner, i64)>,
    data_dir: PathBuf,
    /// The store's health, read without locking the dispatcher.
    pub(crate) store_health: HealthHandle,
    /// What runs a runbook from a one-click link, once runbooks run.
    pub(crate) runbooks: std::sync::OnceLock<Arc<dyn RunbookLinks>>,
}

/// What a verified one-click runbook link does: asks for a runbook on the
/// incident its alert belongs to. The server provides it once runbooks run
/// ([`AlertingService::set_runbooks`]).
pub trait RunbookLinks: Send + Sync + std::fmt::Debug {
    /// Asks for `runbook` on the incident of the alert with fingerprint
    /// `alert`, as `who`; the runbook's guards and approval apply.
    fn request(&self, alert: u64, runbook: &str, who: &str) -> RunbookAnswer;
}

/// What became of a runbook asked for from a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunbookAnswer {
    /// The alert is in no incident (any more).
    NoIncident,
    /// The execution was created: started, or waiting for someone else's approval.
    Requested {
        /// The incident it runs for.
        incident: String,
        /// The execution's id.
        execution: String,
        /// True when another person must approve it first.
        pending_approval: bool,
    },
    /// Refused (a guard, the kill switch, an unknown runbook...).
    Refused {
        /// The incident it was asked for.
        incident: String,
        /// Why, in a sentence.
        reason: String,
    },
}

impl Inner {
    /// Runs `f` on the dispatcher on the blocking pool (it commits to redb with fsync).
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Dispatcher) -> T + Send + 'static,
    ) -> Result<T, AlertingError> {
        let h = self.handle.clone();
        tokio::task::spawn_blocking(move || h.with(f))
            .await
            .map_err(|e| AlertingError::Task(e.to_string()))
    }
}

/// The running alert pipeline and its API.
#[derive(Debug)]
pub struct AlertingService {
    inner: Arc<Inner>,
    external_url: String,
    stop: oneshot::Sender<()>,
    runner: JoinHandle<()>,
}

fn with_external_url(mut cfg: Config, external_url: &str) -> Config {
    if cfg.argus.external_url.is_none() && !external_url.is_empty() {
        cfg.argus.external_url = Some(external_url.to_string());
    }
    cfg
}

/// The link signer for `cfg` (key from the config or `<data_dir>/alerting/link.secret`), and
/// the channels, which get links only when an external URL is known and links are enabled.
fn build_channels(
    cfg: &Config,
    data_dir: &Path,
    clock: &Arc<dyn Clock>,
) -> Result<(Channels, LinkSigner), AlertingError> {
    let l = &cfg.argus.links;
    let key = argus_alert::links::resolve_secret(l, &data_dir.join(STORE_DIR))?;
    let ext = cfg.argus.external_url.clone().unwrap_or_default();
    let signer = LinkSigner::new(&key, &ext, l.ttl().as_millis());
    let env = ChannelEnv {
        external_url: ext.clone(),
        links: (!ext.is_empty() && l.enabled.unwrap_or(true)).then(|| Arc::new(signer.clone())),
        clock: clock.clone(),
    };
    Ok((Channels::from_config_with(cfg, &env)?, signer))
}

fn warn_missing(cfg: &Config, chans: &Channels) {
    for (receiver, kind) in cfg.unsupported() {
        tracing::warn!(receiver = %receiver, integration = kind, "This integration is accepted but Argus does not deliver to it.");
    }
    for (receiver, i) in chans.missing(cfg) {
        tracing::warn!(receiver = %receiver, integration = i, "This integration has no channel; its notifications are dropped.");
    }
}

impl AlertingService {
    /// Opens the store under `<data_dir>/alerting`, restores the pipeline's state, builds the
    /// channels and spawns the runner. `external_url` is used in payloads and links unless the
    /// config sets `argus.external_url`.
    pub async fn start(
        cfg: Config,
        data_dir: &Path,
        external_url: String,
        clock: Arc<dyn Clock>,
    ) -> Result<AlertingService, AlertingError> {
        Self::start_with_observer(cfg, data_dir, external_url, clock, None).await
    }

    /// [`AlertingService::start`] with an observer told about every alert,
    /// delivery and acknowledgement (the incident service), set before the
    /// runner starts, so the restored alerts are grouped with it and no
    /// group is rebuilt under a flush in flight.
    pub async fn start_with_observer(
        cfg: Config,
        data_dir: &Path,
        external_url: String,
        clock: Arc<dyn Clock>,
        observer: Option<Arc<dyn argus_alert::observe::AlertObserver>>,
    ) -> Result<AlertingService, AlertingError> {
        let cfg = with_external_url(cfg, &external_url);
        let (chans, links) = build_channels(&cfg, data_dir, &clock)?;
        let silence_for_ms = cfg.argus.links.silence_for().as_millis();
        warn_missing(&cfg, &chans);
        let dir = data_dir.join(STORE_DIR);
        let c2 = clock.clone();
        let d = tokio::task::spawn_blocking(move || -> Result<Dispatcher, AlertingError> {
            // Opens even on a full disk: the store then reads the file as it is and heals
            // when space returns.
            let opts = StoreOptions {
                clock: c2.clone(),
                backend: None,
            };
            let store = Store::open_with(&dir, opts).map_err(|source| AlertingError::Store {
                dir: dir.clone(),
                source,
            })?;
            let mut d = Dispatcher::new(cfg, c2, Some(store))?;
            if observer.is_some() {
                d.set_observer(observer);
            }
            Ok(d)
        })
        .await
        .map_err(|e| AlertingError::Task(e.to_string()))??;
        let store_health = d.store().map(|s| s.health_handle()).unwrap_or_default();
        let runner = Runner::new(d, chans);
        let handle = runner.handle();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let runner = tokio::spawn(runner.run(async {
            let _ = stop_rx.await;
        }));
        let started_ms = clock.now_ms();
        tracing::info!(data_dir = %data_dir.display(), "Started the alert pipeline.");
        Ok(AlertingService {
            inner: Arc::new(Inner {
                handle,
                clock,
                started_ms,
                links: parking_lot::RwLock::new((links, silence_for_ms)),
                data_dir: data_dir.to_path_buf(),
                store_health,
                runbooks: std::sync::OnceLock::new(),
            }),
            external_url,
            stop,
            runner,
        })
    }

    /// The Alertmanager API v2 and Argus's alerting extensions, with their own state; merge it
    /// into the main router.
    pub fn router(&self) -> axum::Router {
        api::router(self.inner.clone())
    }

    /// Applies the alerts sent through the ingress of `queue` (from rule groups, health checks
    /// and dynamic rules), in order, until every sender is gone or the task is aborted (see
    /// [`argus_alert::IngressQueue::feed`]).
    pub fn spawn_feed(&self, queue: IngressQueue) -> JoinHandle<()> {
        tokio::spawn(queue.feed(self.inner.handle.clone()))
    }

    /// Applies a new config. On any error the old config and channels stay in force.
    pub fn reload(&self, cfg: Config) -> Result<(), AlertingError> {
        reload_inner(&self.inner, &self.external_url, cfg)
    }

    /// The same as [`AlertingService::reload`], as a function that outlives
    /// `&self`: for the server's reload hook.
    pub fn reloader(&self) -> impl Fn(Config) -> Result<(), AlertingError> + Send + Sync + 'static {
        let inner = self.inner.clone();
        let url = self.external_url.clone();
        move |cfg| reload_inner(&inner, &url, cfg)
    }

    /// Every alert the pipeline holds that fires now, as the observer sees
    /// alerts: for a consumer that starts after the pipeline (or after a
    /// crash that lost what it had queued) to catch up.
    pub fn firing_alerts(&self) -> Vec<argus_alert::observe::AlertChange> {
        let now = self.inner.clock.now_ms();
        self.inner.handle.with(|d| {
            d.alerts()
                .into_iter()
                .filter(|a| !a.alert.is_resolved(now))
                .map(|a| argus_alert::observe::AlertChange {
                    fingerprint: a.fingerprint,
                    labels: a.alert.labels,
                    annotations: a.alert.annotations,
                    firing: true,
                    starts_at_ms: a.alert.starts_at,
                    ends_at_ms: a.alert.ends_at,
                    at_ms: now,
                })
                .collect()
        })
    }

    /// The alert store's health (healthy, or failing since when and why), for readiness,
    /// metrics and the UI; cheap, and never waits for the dispatcher.
    pub fn store_health(&self) -> HealthHandle {
        self.inner.store_health.clone()
    }

    /// Lets one-click links run runbooks (set once, when the runbook
    /// service runs).
    pub fn set_runbooks(&self, runbooks: Arc<dyn RunbookLinks>) {
        let _ = self.inner.runbooks.set(runbooks);
    }

    /// The config in force.
    pub fn config(&self) -> Config {
        self.inner.handle.with(|d| d.config().clone())
    }

    /// Stops the runner after the deliveries in flight. Alerts still queued at the ingress are
    /// dropped with the feed task (see [`AlertingService::spawn_feed`]); the sources resend
    /// their firing alerts after a restart.
    pub async fn shutdown(self) {
        let AlertingService {
            inner,
            stop,
            runner,
            ..
        } = self;
        let _ = stop.send(());
        if let Err(e) = runner.await {
            tracing::error!(error = %e, "The alert runner ended abnormally.");
        }
        drop(inner);
        tracing::info!("Stopped the alert pipeline.");
    }
}

/// One sentence on what a failing alert store means for users, or none when it is healthy.
pub fn store_problem(h: &argus_alert::store::StoreHealth) -> Option<String> {
    if h.healthy {
        return None;
    }
    let since = h
        .failing_since_ms
        .map(argus_alert::alert::format_rfc3339)
        .unwrap_or_default();
    Some(format!(
        "The alert store cannot save changes since {since}: {}. Alerts are still delivered; {} changes wait in memory, and silences and acknowledgements are refused until it recovers.",
        h.last_error.as_deref().unwrap_or("unknown error"),
        h.pending_changes,
    ))
}

/// Swaps in a new configuration and its channels; on error the old ones stay.
fn reload_inner(inner: &Inner, external_url: &str, cfg: Config) -> Result<(), AlertingError> {
    let cfg = with_external_url(cfg, external_url);
    let (chans, signer) = build_channels(&cfg, &inner.data_dir, &inner.clock)?;
    let silence_for_ms = cfg.argus.links.silence_for().as_millis();
    warn_missing(&cfg, &chans);
    inner.handle.with(|d| d.reload(cfg))?;
    inner.handle.set_channels(chans);
    *inner.links.write() = (signer, silence_for_ms);
    inner.handle.wake();
    tracing::info!("Reloaded the alerting config.");
    Ok(())
}
