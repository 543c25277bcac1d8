//! The configuration reload (`POST /-/reload`, SIGHUP): an ordered list of
//! named [`Reloader`]s, one per reloadable section, owned by the server.
//!
//! A reload reads the configuration file, then asks every reloader to
//! *prepare* (validate and build what it needs, changing nothing). Only when
//! all prepared are the prepared sections *applied*, in the list's order; a
//! section that fails to prepare changes nothing and the error names it.
//! Sections whose apply can still fail (starting the new notifier channels or
//! health checks) come first in the list, those that cannot last.
//!
//! ```
//! use argus_server::config::Config;
//! use argus_server::lifecycle::reload::{prepare_and_apply, Prepared, Reloader, SectionError};
//! use std::sync::Arc;
//!
//! struct Refuses;
//! impl Reloader for Refuses {
//!     fn name(&self) -> &'static str {
//!         "health"
//!     }
//!     fn prepare(&self, _: &Config) -> Result<Box<dyn Prepared>, SectionError> {
//!         Err("health.sample_interval must be positive".into())
//!     }
//! }
//! let reloaders: Vec<Arc<dyn Reloader>> = vec![Arc::new(Refuses)];
//! let err = prepare_and_apply(&reloaders, &Config::default()).unwrap_err();
//! assert_eq!(err.reloader(), Some("health"));
//! assert_eq!(err.to_string(), "health: health.sample_interval must be positive");
//! ```

use crate::config::{Config, ConfigError};
use argus_model::Clock;
use std::path::PathBuf;
use std::sync::Arc;

/// A section's own error, kept as the source of a [`ReloadError`].
pub type SectionError = Box<dyn std::error::Error + Send + Sync>;

/// One reloadable section.
pub trait Reloader: Send + Sync {
    /// The name errors and logs use (`"rules"`, `"dynamic_rules"`...).
    fn name(&self) -> &'static str;

    /// Validates the section of `cfg` and prepares its application, changing
    /// nothing. Runs on a blocking thread.
    fn prepare(&self, cfg: &Config) -> Result<Box<dyn Prepared>, SectionError>;
}

/// A prepared section, applied once every section prepared.
pub trait Prepared: Send {
    /// Puts the section in force. Runs on a blocking thread, inside the
    /// server's runtime.
    fn apply(self: Box<Self>) -> Result<(), SectionError>;
}

/// A [`Prepared`] that runs `apply`.
///
/// ```
/// use argus_server::lifecycle::reload::prepared;
/// let p = prepared(|| Ok(()));
/// assert!(p.apply().is_ok());
/// ```
pub fn prepared<F>(apply: F) -> Box<dyn Prepared>
where
    F: FnOnce() -> Result<(), SectionError> + Send + 'static,
{
    struct Then<F>(F);
    impl<F> Prepared for Then<F>
    where
        F: FnOnce() -> Result<(), SectionError> + Send,
    {
        fn apply(self: Box<Self>) -> Result<(), SectionError> {
            (self.0)()
        }
    }
    Box::new(Then(apply))
}

/// Why a reload failed.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The configuration file could not be read or parsed; nothing changed.
    #[error("{0}")]
    Config(#[source] ConfigError),
    /// A section is invalid; nothing changed.
    #[error("{reloader}: {source}")]
    Prepare {
        /// The reloader that refused it.
        reloader: &'static str,
        /// Its error.
        #[source]
        source: SectionError,
    },
    /// A valid section could not be put in force; the sections listed in
    /// `applied` were.
    #[error("{reloader}: {source} (already applied: {})", if applied.is_empty() { "nothing".to_string() } else { applied.join(", ") })]
    Apply {
        /// The reloader that failed.
        reloader: &'static str,
        /// Its error.
        #[source]
        source: SectionError,
        /// The sections applied before it.
        applied: Vec<&'static str>,
    },
    /// The reload's blocking task panicked.
    #[error("the reload task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
}

impl ReloadError {
    /// The reloader that failed, if one did.
    pub fn reloader(&self) -> Option<&'static str> {
        match self {
            ReloadError::Prepare { reloader, .. } | ReloadError::Apply { reloader, .. } => {
                Some(reloader)
            }
            _ => None,
        }
    }
}

/// Prepares every section of `cfg`, then applies them all in order; the
/// first failure to prepare changes nothing. Blocking.
pub fn prepare_and_apply(reloaders: &[Arc<dyn Reloader>], cfg: &Config) -> Result<(), ReloadError> {
    let mut prepared = Vec::with_capacity(reloaders.len());
    for r in reloaders {
        let p = r.prepare(cfg).map_err(|source| ReloadError::Prepare {
            reloader: r.name(),
            source,
        })?;
        prepared.push((r.name(), p));
    }
    let mut applied = Vec::with_capacity(prepared.len());
    for (name, p) in prepared {
        p.apply().map_err(|source| ReloadError::Apply {
            reloader: name,
            source,
            applied: applied.clone(),
        })?;
        applied.push(name);
    }
    Ok(())
}

/// How the last reload went, for `/api/v1/status/runtimeinfo`.
#[derive(Debug, Clone, Copy)]
pub struct ReloadStatus {
    /// Whether the last reload (or the start-up load) succeeded.
    pub success: bool,
    /// When the configuration in force was loaded (ms).
    pub at_ms: i64,
}

/// The server's reload: the configuration file and the ordered reloaders.
/// One reload runs at a time.
pub struct ReloadService {
    config_path: Option<PathBuf>,
    reloaders: Arc<[Arc<dyn Reloader>]>,
    clock: Arc<dyn Clock>,
    one_at_a_time: tokio::sync::Mutex<()>,
    status: parking_lot::Mutex<ReloadStatus>,
}

impl std::fmt::Debug for ReloadService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadService")
            .field("config_path", &self.config_path)
            .field("reloaders", &self.names())
            .finish()
    }
}

impl ReloadService {
    /// A reload of `config_path` (`None`: the server runs on defaults and
    /// a reload does nothing) through `reloaders`, in this order.
    pub fn new(
        config_path: Option<PathBuf>,
        reloaders: Vec<Arc<dyn Reloader>>,
        clock: Arc<dyn Clock>,
    ) -> ReloadService {
        let at_ms = clock.now_ms();
        ReloadService {
            config_path,
            reloaders: reloaders.into(),
            clock,
            one_at_a_time: tokio::sync::Mutex::new(()),
            status: parking_lot::Mutex::new(ReloadStatus {
                success: true,
                at_ms,
            }),
        }
    }

    /// The reloaders' names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.reloaders.iter().map(|r| r.name()).collect()
    }

    /// How the last reload went.
    pub fn status(&self) -> ReloadStatus {
        *self.status.lock()
    }

    /// Re-reads the configuration file and reloads every section (see the
    /// module docs). Logs and returns the error; the status endpoint reports it.
    pub async fn reload(&self) -> Result<(), ReloadError> {
        let _one = self.one_at_a_time.lock().await;
        let res = match self.config_path.clone() {
            None => {
                tracing::info!("Reload requested without a configuration file; nothing to reload.");
                Ok(())
            }
            Some(path) => {
                let reloaders = self.reloaders.clone();
                let rt = tokio::runtime::Handle::current();
                let p2 = path.clone();
                let res = tokio::task::spawn_blocking(move || {
                    let _entered = rt.enter();
                    let cfg = Config::load(&p2).map_err(ReloadError::Config)?;
                    prepare_and_apply(&reloaders, &cfg)
                })
                .await
                .map_err(ReloadError::Task)
                .and_then(|r| r);
                match &res {
                    Ok(()) => {
                        tracing::info!(config = %path.display(), sections = ?self.names(), "Reloaded the configuration.")
                    }
                    Err(e) => {
                        tracing::error!(config = %path.display(), failed = e.reloader().unwrap_or("config"), error = %e, "Reloading the configuration failed; the configuration in force stays.")
                    }
                }
                res
            }
        };
        let mut st = self.status.lock();
        st.success = res.is_ok();
        if res.is_ok() {
            st.at_ms = self.clock.now_ms();
        }
        res
    }
}

#[cfg(test)]
#[path = "reload_tests.rs"]
mod tests;
