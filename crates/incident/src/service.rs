//! The running incident service: the correlator behind a lock, fed through
//! a queue ([`Feed`]), saved to the [`Store`] after every batch, ticked
//! every second (recovery, expired alerts), and read by the API.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use argus_incident::config::IncidentsConfig;
//! use argus_incident::service::{Input, IncidentService};
//! use argus_incident::Signal;
//! use argus_model::{Labels, ManualClock};
//! use std::sync::Arc;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let clock = Arc::new(ManualClock::new(1_000));
//! let svc = IncidentService::open(Some(dir.path()), &IncidentsConfig::default(), clock).unwrap();
//! let sig = Signal::firing(Labels::from_pairs(&[("alertname", "Down"), ("service", "db")]), 1_000);
//! svc.apply(vec![Input::Alerts(vec![sig])]);
//! svc.save().await.unwrap();
//! assert_eq!(svc.list(&Default::default()).len(), 1);
//! drop(svc);
//! let again = IncidentService::open(Some(dir.path()), &IncidentsConfig::default(),
//!     Arc::new(ManualClock::new(2_000))).unwrap();
//! assert_eq!(again.list(&Default::default())[0].alerts, 1);
//! # }
//! ```

use crate::actions::ActionError;

#[path = "service_evidence.rs"]
mod evidence;
#[path = "service_report.rs"]
mod report;
use crate::config::IncidentsConfig;
use crate::correlate::{Correlator, Signal};
use crate::model::{Incident, Root, Severity, State};
use crate::store::{Store, StoreError};
use argus_model::{Clock, Labels};
pub use evidence::{SeriesSource, SourceError, EVIDENCE_MAX_SERIES};
use parking_lot::Mutex;
pub use report::{MissedGoals, Quantiles, TimesReport};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// What the service is told.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Alerts the pipeline took (new, refreshed or resolved).
    Alerts(Vec<Signal>),
    /// A notification about these alerts was delivered.
    Delivered {
        /// The alerts' keys.
        keys: Vec<u64>,
        /// The receiver.
        receiver: String,
        /// When.
        at_ms: i64,
    },
    /// These alerts were acknowledged in the pipeline.
    Acknowledged {
        /// The alerts' keys.
        keys: Vec<u64>,
        /// By whom.
        who: String,
        /// When.
        at_ms: i64,
    },
    /// Label sets of series to learn names and call edges from.
    Learn(Vec<Labels>),
}

/// Where the server sends [`Input`]s; never blocks. Clones share the queue.
#[derive(Debug, Clone)]
pub struct Feed {
    tx: mpsc::UnboundedSender<Input>,
    enabled: Arc<AtomicBool>,
}

impl Feed {
    /// Queues `input`; dropped once the service stopped, and while grouping
    /// is switched off (`incidents.enabled: false`).
    pub fn send(&self, input: Input) {
        if self.enabled.load(Ordering::Relaxed) {
            let _ = self.tx.send(input);
        }
    }
}

/// Why an action on an incident failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The action was refused.
    #[error(transparent)]
    Action(#[from] ActionError),
    /// It was made but could not be saved; it is kept in memory and saved
    /// when the store writes again.
    #[error("the change is made but not yet saved: {0}")]
    Unsaved(StoreError),
    /// The series could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// No series source is set (incidents without a store).
    #[error("no series can be read here")]
    NoSource,
}

/// Which incidents to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// Only these states (all when empty).
    pub states: Vec<State>,
    /// Only incidents active (not resolved) at some time in `[from, to]`.
    pub from_ms: Option<i64>,
    /// See `from_ms`.
    pub to_ms: Option<i64>,
    /// At most this many, newest first (default 500).
    pub limit: Option<usize>,
}

/// An incident as the list shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Its id.
    pub id: u64,
    /// Its title.
    pub title: String,
    /// Its state.
    pub state: State,
    /// Its severity.
    pub severity: Severity,
    /// Who has it.
    pub owner: Option<String>,
    /// Its root candidate.
    pub root: Option<Root>,
    /// Its 1-5-10 times.
    pub times: crate::model::Times,
    /// How many alerts it holds.
    pub alerts: usize,
    /// How many of them fire.
    pub firing: usize,
    /// Its services.
    pub services: Vec<String>,
    /// Last change, ms.
    pub updated_ms: i64,
}

impl Summary {
    fn of(i: &Incident) -> Summary {
        Summary {
            id: i.id,
            title: i.title.clone(),
            state: i.state,
            severity: i.severity,
            owner: i.owner.clone(),
            root: i.root.clone(),
            times: i.times.clone(),
            alerts: i.alerts.len(),
            firing: i.alerts.iter().filter(|a| a.firing).count(),
            services: i.services().into_iter().map(str::to_string).collect(),
            updated_ms: i.updated_ms,
        }
    }
}

struct Shared {
    corr: Mutex<Correlator>,
    store: Option<Store>,
    clock: Arc<dyn Clock>,
    retention_ms: AtomicI64,
    enabled: Arc<AtomicBool>,
    unsaved: Mutex<(BTreeSet<u64>, Vec<u64>)>,
    save_failures: AtomicU64,
    last_error: Mutex<Option<String>>,
    tx: mpsc::UnboundedSender<Input>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Input>>>,
    source: Mutex<Option<Arc<dyn SeriesSource>>>,
    changes: Mutex<Option<Arc<dyn crate::changes::ChangeSource>>>,
    ranker: Mutex<Option<Arc<dyn crate::suspects::SuspectRanker>>>,
    assistant: Mutex<Option<crate::config::AssistantConfig>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncidentService").finish_non_exhaustive()
    }
}

/// The running service; cheap to clone.
#[derive(Debug, Clone)]
pub struct IncidentService {
    shared: Arc<Shared>,
}

impl IncidentService {
    /// Opens the store in `dir` (none: in memory only), restores its
    /// incidents, and applies `cfg`.
    pub fn open(
        dir: Option<&Path>,
        cfg: &IncidentsConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<IncidentService, StoreError> {
        let store = dir.map(Store::open).transpose()?;
        let mut corr = Correlator::new(cfg.settings(), cfg.topology());
        if let Some(s) = &store {
            corr.restore(s.load()?);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        Ok(IncidentService {
            shared: Arc::new(Shared {
                corr: Mutex::new(corr),
                store,
                clock,
                retention_ms: AtomicI64::new(cfg.retention.as_millis()),
                enabled: Arc::new(AtomicBool::new(cfg.enabled)),
                unsaved: Mutex::new((BTreeSet::new(), Vec::new())),
                save_failures: AtomicU64::new(0),
                last_error: Mutex::new(None),
                tx,
                rx: Mutex::new(Some(rx)),
                source: Mutex::new(None),
                changes: Mutex::new(None),
                ranker: Mutex::new(None),
                assistant: Mutex::new(cfg.assistant.clone()),
            }),
        })
    }

    /// The service's clock, now.
    pub fn now_ms(&self) -> i64 {
        self.shared.clock.now_ms()
    }

    /// Where to send alerts, deliveries and acknowledgements.
    pub fn feed(&self) -> Feed {
        Feed {
            tx: self.shared.tx.clone(),
            enabled: self.shared.enabled.clone(),
        }
    }

    /// Applies a new configuration: on or off, settings, configured edges
    /// (learned ones are learned again) and retention.
    pub fn reconfigure(&self, cfg: &IncidentsConfig) {
        self.shared.enabled.store(cfg.enabled, Ordering::Relaxed);
        let mut c = self.shared.corr.lock();
        c.set_settings(cfg.settings());
        c.set_topology(cfg.topology());
        self.shared
            .retention_ms
            .store(cfg.retention.as_millis(), Ordering::Relaxed);
        self.shared.assistant.lock().clone_from(&cfg.assistant);
    }

    /// The language model configured to summarise incidents, if any.
    pub fn assistant(&self) -> Option<crate::config::AssistantConfig> {
        self.shared.assistant.lock().clone()
    }

    /// Keeps a language model's reading with incident `id`.
    pub async fn set_assistant_note(
        &self,
        id: u64,
        note: crate::model::AssistantNote,
    ) -> Result<(), ServiceError> {
        self.act(move |c, _| {
            let inc = c.incident_mut(id).ok_or(ActionError::NotFound(id))?;
            inc.assistant = Some(note);
            Ok(())
        })
        .await
    }

    /// Applies inputs at once (the task does this for the feed's queue).
    pub fn apply(&self, inputs: Vec<Input>) {
        let mut c = self.shared.corr.lock();
        for input in inputs {
            match input {
                Input::Alerts(sigs) => {
                    for s in sigs {
                        c.observe(s);
                    }
                }
                Input::Delivered {
                    keys,
                    receiver,
                    at_ms,
                } => {
                    c.notified(&keys, &receiver, at_ms);
                }
                Input::Acknowledged { keys, who, at_ms } => {
                    let ids: BTreeSet<u64> =
                        keys.iter().filter_map(|k| c.incident_of(*k)).collect();
                    for id in ids {
                        let _ = c.acknowledge(id, &who, at_ms);
                    }
                }
                Input::Learn(sets) => {
                    for l in &sets {
                        c.learn(l);
                    }
                }
            }
        }
        let dirty = c.take_dirty();
        self.shared.unsaved.lock().0.extend(dirty);
    }

    /// Groups alerts at once, on the caller's thread (a lock and a few
    /// microseconds an alert); saved by the task's next save. Ignored while
    /// grouping is switched off.
    pub fn observe_now(&self, sigs: Vec<Signal>) {
        if self.shared.enabled.load(Ordering::Relaxed) {
            self.apply(vec![Input::Alerts(sigs)]);
        }
    }

    /// Closes recovered incidents and forgets those past retention.
    pub fn tick(&self) {
        let now = self.shared.clock.now_ms();
        let retention = self.shared.retention_ms.load(Ordering::Relaxed);
        let mut c = self.shared.corr.lock();
        c.tick(now);
        let gone = c.forget_before(now - retention);
        let dirty = c.take_dirty();
        let mut u = self.shared.unsaved.lock();
        u.0.extend(dirty);
        u.1.extend(gone);
    }

    /// Writes every changed incident in one transaction. On failure the
    /// changes stay queued for the next save.
    pub async fn save(&self) -> Result<(), StoreError> {
        let sh = self.shared.clone();
        let res = tokio::task::spawn_blocking(move || sh.save_now()).await;
        match res {
            Ok(r) => r,
            Err(e) => Err(StoreError::Io(e.to_string())),
        }
    }

    /// Runs the queue and the one-second tick until `stop` turns true; saves
    /// after each batch.
    pub fn spawn(&self, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        let me = self.clone();
        let rx = self.shared.rx.lock().take();
        tokio::spawn(async move {
            let Some(mut rx) = rx else {
                tracing::error!("The incident service was started twice; the second one stops.");
                return;
            };
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let mut ticked = false;
                tokio::select! {
                    first = rx.recv() => {
                        let Some(first) = first else { break };
                        let mut batch = vec![first];
                        while let Ok(more) = rx.try_recv() {
                            batch.push(more);
                        }
                        me.apply(batch);
                    }
                    _ = tick.tick() => {
                        me.tick();
                        ticked = true;
                    }
                    _ = stop.wait_for(|s| *s) => break,
                }
                // Once a second, not after every batch of alerts.
                let due = if ticked {
                    me.evidence_due(2)
                } else {
                    Vec::new()
                };
                for id in due {
                    if let Err(e) = me.gather_evidence(id).await {
                        tracing::warn!(incident = id, error = %e, "Could not rank what else moved.");
                        // Not tried again by itself; the API can ask again.
                        let _ = me
                            .act(move |c, now| {
                                if let Some(i) = c.incident_mut(id) {
                                    i.evidence_at_ms = Some(now);
                                }
                                Ok(())
                            })
                            .await;
                    }
                }
                if let Err(e) = me.save().await {
                    tracing::error!(error = %e, "Could not save incidents; the changes are kept and saved again in a second.");
                }
            }
            // What is already queued is applied and saved before stopping.
            let mut rest = Vec::new();
            while let Ok(more) = rx.try_recv() {
                rest.push(more);
            }
            me.apply(rest);
            if let Err(e) = me.save().await {
                tracing::error!(error = %e, "Could not save incidents at shutdown.");
            }
        })
    }

    /// Incidents matching `q`, newest first.
    pub fn list(&self, q: &ListQuery) -> Vec<Summary> {
        let c = self.shared.corr.lock();
        let mut v: Vec<Summary> = c
            .incidents()
            .filter(|i| i.merged_into.is_none())
            .filter(|i| q.states.is_empty() || q.states.contains(&i.state))
            .filter(|i| {
                let end = i.times.recovered_ms.unwrap_or(i64::MAX);
                q.to_ms.is_none_or(|t| i.times.detected_ms <= t)
                    && q.from_ms.is_none_or(|f| end >= f)
            })
            .map(Summary::of)
            .collect();
        v.sort_by(|a, b| {
            b.times
                .detected_ms
                .cmp(&a.times.detected_ms)
                .then(b.id.cmp(&a.id))
        });
        v.truncate(q.limit.unwrap_or(500));
        v
    }

    /// One incident, whole; a merged one names where it went.
    pub fn get(&self, id: u64) -> Option<Incident> {
        self.shared.corr.lock().incident(id).cloned()
    }

    /// The incident an alert is in, while active.
    pub fn incident_of(&self, key: u64) -> Option<u64> {
        self.shared.corr.lock().incident_of(key)
    }

    /// Runs an action of a person and saves it before answering.
    pub async fn act(
        &self,
        f: impl FnOnce(&mut Correlator, i64) -> Result<(), ActionError> + Send,
    ) -> Result<(), ServiceError> {
        {
            let now = self.shared.clock.now_ms();
            let mut c = self.shared.corr.lock();
            f(&mut c, now)?;
            let dirty = c.take_dirty();
            self.shared.unsaved.lock().0.extend(dirty);
        }
        self.save().await.map_err(ServiceError::Unsaved)
    }

    /// The service graph as it stands (configured and learned), and the
    /// number of learned names.
    pub fn topology(&self) -> (Vec<crate::topology::Edge>, usize) {
        let c = self.shared.corr.lock();
        (c.topology().edges(), c.aliases().len())
    }

    /// The last save error, while saves fail (the status banner shows it).
    pub fn store_problem(&self) -> Option<String> {
        self.shared.last_error.lock().clone()
    }
}

impl Shared {
    fn save_now(&self) -> Result<(), StoreError> {
        let Some(store) = &self.store else {
            let mut u = self.unsaved.lock();
            u.0.clear();
            u.1.clear();
            return Ok(());
        };
        let (ids, deletes) = {
            let mut u = self.unsaved.lock();
            (std::mem::take(&mut u.0), std::mem::take(&mut u.1))
        };
        if ids.is_empty() && deletes.is_empty() {
            return Ok(());
        }
        let incs: Vec<Incident> = {
            let c = self.corr.lock();
            ids.iter()
                .filter_map(|id| c.incident(*id).cloned())
                .collect()
        };
        match store.save(&incs, &deletes) {
            Ok(()) => {
                *self.last_error.lock() = None;
                Ok(())
            }
            Err(e) => {
                self.save_failures.fetch_add(1, Ordering::Relaxed);
                *self.last_error.lock() = Some(e.to_string());
                let mut u = self.unsaved.lock();
                u.0.extend(ids);
                u.1.extend(deletes);
                Err(e)
            }
        }
    }
}
