//! The recovery service: requests, approvals, cancellation, the kill switch
//! and the guards (rate limit, cooldown, concurrency), over the journal.
//! The executor that moves executions along is in `drive`.
//!
//! ```
//! use argus_recover::{config::RecoverConfig, service::RecoverService, matching::Subject};
//! use argus_model::ManualClock;
//! use std::sync::Arc;
//! let cfg: RecoverConfig = serde_saphyr::from_str("runbooks: [{name: note, steps: [{wait: 1s}]}]").unwrap();
//! let svc = RecoverService::open(None, &cfg, Arc::new(ManualClock::new(0))).unwrap();
//! let e = svc.request("note", &Subject { incident: 1, ..Subject::default() }, "alice", true).unwrap();
//! assert_eq!(e.state.as_str(), "dry_run");
//! assert_eq!(e.steps.len(), 1);
//! ```

use crate::config::{Mode, RecoverConfig, Runbook};
use crate::exec::{Event, Execution, State};
use crate::journal::{Journal, JournalError};
use crate::limits::{guard, plan};
use crate::matching::{matches, matching_alert, Subject};
use argus_model::Clock;
use futures::future::BoxFuture;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

/// What the executor asks of the rest of Argus (the server implements it).
pub trait Host: Send + Sync + std::fmt::Debug {
    /// Whether any of incident `incident`'s alerts named in `names` (any
    /// of its alerts when `names` is empty) still fires.
    fn firing<'a>(
        &'a self,
        incident: u64,
        names: &'a [String],
    ) -> BoxFuture<'a, Result<bool, String>>;
    /// Whether the PromQL expression `expr` returns at least one sample now.
    fn holds<'a>(&'a self, expr: &'a str) -> BoxFuture<'a, Result<bool, String>>;
    /// An execution changed (after the change is in the journal).
    fn changed(&self, e: &Execution);
}

/// Why a request or an action on an execution was refused.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    /// No runbook has this name.
    #[error("no runbook named {0:?}")]
    NoRunbook(String),
    /// The runbook's `match:` does not apply to the incident.
    #[error("runbook {runbook:?} does not apply to incident {incident}")]
    NotMatching {
        /// The runbook.
        runbook: String,
        /// The incident.
        incident: u64,
    },
    /// The kill switch is on.
    #[error("runbooks are stopped (kill switch turned on by {0}); turn it off to run them")]
    Paused(String),
    /// The runbook ran too often.
    #[error("runbook {runbook:?} already ran {max} times in the last {per}")]
    RateLimited {
        /// The runbook.
        runbook: String,
        /// Its limit.
        max: u32,
        /// Its period.
        per: argus_model::PromDuration,
    },
    /// The runbook ended too recently.
    #[error("runbook {runbook:?} is cooling down for {left_s} more seconds")]
    Cooldown {
        /// The runbook.
        runbook: String,
        /// Seconds left.
        left_s: i64,
    },
    /// Too many executions run at once.
    #[error("{0} executions are already running (recover.max_concurrent)")]
    TooMany(usize),
    /// The runbook is already under way for this incident.
    #[error("runbook {runbook:?} is already under way for incident {incident} (execution {id})")]
    Duplicate {
        /// The runbook.
        runbook: String,
        /// The incident.
        incident: u64,
        /// The execution.
        id: u64,
    },
    /// The requester tried to approve their own request.
    #[error("{0} asked for this execution, so someone else must approve it")]
    SelfApproval(String),
    /// No execution has this id.
    #[error("no execution {0}")]
    NotFound(u64),
    /// The execution is not in a state that allows this.
    #[error("execution {id} is {state}")]
    WrongState {
        /// The execution.
        id: u64,
        /// Its state.
        state: &'static str,
    },
    /// The journal could not be written: nothing was done.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl RecoverError {
    /// A guard refused (rather than a mistake in the request).
    pub fn is_guard(&self) -> bool {
        matches!(
            self,
            RecoverError::Paused(_)
                | RecoverError::RateLimited { .. }
                | RecoverError::Cooldown { .. }
                | RecoverError::TooMany(_)
                | RecoverError::Duplicate { .. }
                | RecoverError::SelfApproval(_)
        )
    }
}

pub(crate) struct St {
    pub(crate) journal: Journal,
    pub(crate) execs: BTreeMap<u64, Execution>,
    next_id: u64,
    pub(crate) paused: Option<String>,
    /// Refusals of automatic runs already written, by (runbook, incident).
    auto_refused: HashMap<(String, u64), String>,
    /// Executions with a step running in a task, and that task.
    pub(crate) busy: HashMap<u64, tokio::task::AbortHandle>,
    /// Since when each verifying execution has held.
    pub(crate) holding: HashMap<u64, i64>,
}

pub(crate) struct Inner {
    pub(crate) cfg: RwLock<Arc<RecoverConfig>>,
    pub(crate) st: Mutex<St>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) host: RwLock<Option<Arc<dyn Host>>>,
    pub(crate) tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// The recovery service. Clones share it.
#[derive(Clone)]
pub struct RecoverService {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for RecoverService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecoverService").finish_non_exhaustive()
    }
}

/// The journal's file name in the data directory.
pub const JOURNAL_FILE: &str = "recover.journal";

impl RecoverService {
    /// Opens the journal in `dir` (none: nothing is kept), rebuilds the
    /// executions, and fails cleanly any execution a restart cut in the
    /// middle of a step (that step is never run again).
    pub fn open(
        dir: Option<&Path>,
        cfg: &RecoverConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<RecoverService, JournalError> {
        let (journal, events) = match dir {
            Some(d) => Journal::open(&d.join(JOURNAL_FILE))?,
            None => (Journal::in_memory(), Vec::new()),
        };
        let mut execs: BTreeMap<u64, Execution> = BTreeMap::new();
        let mut paused = None;
        for ev in &events {
            if let Event::KillSwitch { who, on, .. } = ev {
                paused = on.then(|| who.clone());
            }
            apply(&mut execs, ev);
        }
        if cfg.paused && paused.is_none() {
            paused = Some("the configuration (recover.paused)".into());
        }
        let next_id = execs.keys().next_back().map_or(1, |m| m + 1);
        let svc = RecoverService {
            inner: Arc::new(Inner {
                cfg: RwLock::new(Arc::new(cfg.clone())),
                st: Mutex::new(St {
                    journal,
                    execs,
                    next_id,
                    paused,
                    auto_refused: HashMap::new(),
                    busy: HashMap::new(),
                    holding: HashMap::new(),
                }),
                clock,
                host: RwLock::new(None),
                tasks: Mutex::new(Vec::new()),
            }),
        };
        svc.fail_interrupted()?;
        Ok(svc)
    }

    fn fail_interrupted(&self) -> Result<(), JournalError> {
        let now = self.now();
        let mut st = self.inner.st.lock();
        let cut: Vec<(u64, String)> = st
            .execs
            .values()
            .filter(|e| !e.state.is_final())
            .filter_map(|e| {
                let s = e.in_flight()?;
                (s.kind != "wait" && s.kind != "wait_until").then(|| (e.id, s.name.clone()))
            })
            .collect();
        for (id, step) in cut {
            tracing::warn!(execution = id, step = %step, "a restart interrupted a runbook step; the execution fails and the step is not run again");
            record(&mut st, Event::StepFinished {
                at: now,
                id,
                ok: false,
                output: "interrupted by a restart of Argus; it may have run in part and is not run again".into(),
            })?;
            record(&mut st, Event::Finished {
                at: now,
                id,
                state: State::Failed,
                reason: format!("a restart of Argus interrupted step {step:?}; no step was run again, so check the system by hand"),
            })?;
        }
        Ok(())
    }

    /// Sets what the executor asks about alerts and conditions.
    pub fn set_host(&self, host: Arc<dyn Host>) {
        *self.inner.host.write() = Some(host);
    }

    /// Applies a new configuration (executions under way keep their runbook).
    pub fn reconfigure(&self, cfg: &RecoverConfig) {
        *self.inner.cfg.write() = Arc::new(cfg.clone());
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<RecoverConfig> {
        self.inner.cfg.read().clone()
    }

    pub(crate) fn now(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// The runbooks whose `match:` applies to `s`.
    pub fn runbooks_for(&self, s: &Subject) -> Vec<Runbook> {
        self.config()
            .runbooks
            .iter()
            .filter(|rb| matches(&rb.matches, s))
            .cloned()
            .collect()
    }

    /// Asks for runbook `name` on `s` as `who`. A dry run renders every step
    /// (and rollback step) and runs none. Otherwise the guards apply, and a
    /// refusal is written to the journal.
    pub fn request(
        &self,
        name: &str,
        s: &Subject,
        who: &str,
        dry_run: bool,
    ) -> Result<Execution, RecoverError> {
        self.request_inner(name, s, who, dry_run, true)
    }

    fn request_inner(
        &self,
        name: &str,
        s: &Subject,
        who: &str,
        dry_run: bool,
        audit_refusal: bool,
    ) -> Result<Execution, RecoverError> {
        let cfg = self.config();
        let rb = cfg
            .runbooks
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| RecoverError::NoRunbook(name.into()))?;
        if !matches(&rb.matches, s) {
            return Err(RecoverError::NotMatching {
                runbook: name.into(),
                incident: s.incident,
            });
        }
        let labels = matching_alert(&rb.matches, s)
            .or(s.alerts.first())
            .cloned()
            .unwrap_or_default();
        let now = self.now();
        let mut st = self.inner.st.lock();
        if !dry_run {
            if let Err(e) = guard(&st, &cfg, rb, s.incident, now) {
                if audit_refusal {
                    record(
                        &mut st,
                        Event::Refused {
                            at: now,
                            runbook: name.into(),
                            incident: s.incident,
                            who: who.into(),
                            reason: e.to_string(),
                        },
                    )?;
                }
                return Err(e);
            }
        }
        let id = st.next_id;
        st.next_id += 1;
        let mut e = Execution::new(id, rb.clone(), s.clone(), labels, who, now, dry_run);
        if dry_run {
            e.steps = plan(&e, now);
            e.reason = "dry run: nothing was run".into();
        }
        let ev = Event::Requested {
            at: now,
            execution: Box::new(e.clone()),
        };
        record(&mut st, ev)?;
        drop(st);
        self.notify(&[id]);
        Ok(e)
    }

    /// Runs every automatic runbook that applies to `s` and has not run for
    /// it yet (since it last reopened, for an incident that did). A guard's
    /// refusal is written once per runbook and incident, and the request is
    /// tried again on later calls.
    ///
    /// A runbook that matches on the root (service or cause) runs only once
    /// the incident is located, and none runs before its `delay` after
    /// detection: acting on a root that is about to change would restart
    /// the wrong service.
    pub fn auto(&self, s: &Subject) -> Vec<Result<Execution, RecoverError>> {
        let mut out = Vec::new();
        let now = self.now();
        for rb in self.runbooks_for(s) {
            if rb.mode != Mode::Auto {
                continue;
            }
            let on_root = rb.matches.root_service.is_some() || rb.matches.root_cause.is_some();
            let since = s.detected_ms.max(s.reopened_ms);
            if (on_root && !s.located) || now - since < rb.delay.as_millis() {
                continue;
            }
            let key = (rb.name.clone(), s.incident);
            let ran = self.inner.st.lock().execs.values().any(|e| {
                !e.dry_run
                    && e.runbook.name == rb.name
                    && e.subject.incident == s.incident
                    && e.requested_ms >= s.reopened_ms
            });
            if ran {
                continue;
            }
            let seen = self.inner.st.lock().auto_refused.get(&key).cloned();
            let res = self.request_inner(&rb.name, s, "argus", false, false);
            if let Err(e) = &res {
                let reason = e.to_string();
                if seen.as_deref() != Some(reason.as_str()) {
                    let mut st = self.inner.st.lock();
                    let _ = record(
                        &mut st,
                        Event::Refused {
                            at: self.now(),
                            runbook: rb.name.clone(),
                            incident: s.incident,
                            who: "argus".into(),
                            reason: reason.clone(),
                        },
                    );
                    st.auto_refused.insert(key, reason);
                }
            }
            out.push(res);
        }
        out
    }

    /// `who` approves execution `id`; it must be someone other than the
    /// requester, and the guards apply again.
    pub fn approve(&self, id: u64, who: &str) -> Result<(), RecoverError> {
        let cfg = self.config();
        let now = self.now();
        let mut st = self.inner.st.lock();
        let e = st.execs.get(&id).ok_or(RecoverError::NotFound(id))?;
        if e.state != State::PendingApproval {
            return Err(RecoverError::WrongState {
                id,
                state: e.state.as_str(),
            });
        }
        let refusal = if e.requested_by == who {
            Some(RecoverError::SelfApproval(who.into()))
        } else if let Some(by) = &st.paused {
            Some(RecoverError::Paused(by.clone()))
        } else {
            let active = st.execs.values().filter(|e| e.state.is_active()).count();
            (active >= cfg.max_concurrent).then_some(RecoverError::TooMany(active))
        };
        if let Some(r) = refusal {
            let (runbook, incident) = (e.runbook.name.clone(), e.subject.incident);
            record(
                &mut st,
                Event::Refused {
                    at: now,
                    runbook,
                    incident,
                    who: who.into(),
                    reason: format!("approval of execution {id}: {r}"),
                },
            )?;
            return Err(r);
        }
        record(
            &mut st,
            Event::Approved {
                at: now,
                id,
                who: who.into(),
            },
        )?;
        drop(st);
        self.notify(&[id]);
        Ok(())
    }

    /// `who` cancels execution `id`: no further step runs (a step under way
    /// finishes), and nothing is rolled back.
    pub fn cancel(&self, id: u64, who: &str) -> Result<(), RecoverError> {
        let now = self.now();
        let mut st = self.inner.st.lock();
        let e = st.execs.get(&id).ok_or(RecoverError::NotFound(id))?;
        if e.state.is_final() {
            return Err(RecoverError::WrongState {
                id,
                state: e.state.as_str(),
            });
        }
        record(
            &mut st,
            Event::Finished {
                at: now,
                id,
                state: State::Cancelled,
                reason: format!("cancelled by {who}"),
            },
        )?;
        drop(st);
        self.notify(&[id]);
        Ok(())
    }

    /// The kill switch: `on` stops every execution under way at once
    /// (running steps are killed) and refuses new ones until it is off.
    pub fn set_paused(&self, on: bool, who: &str) -> Result<(), RecoverError> {
        let now = self.now();
        let mut st = self.inner.st.lock();
        record(
            &mut st,
            Event::KillSwitch {
                at: now,
                who: who.into(),
                on,
            },
        )?;
        st.paused = on.then(|| who.to_string());
        let mut stopped = Vec::new();
        if on {
            let ids: Vec<u64> = st
                .execs
                .values()
                .filter(|e| !e.state.is_final())
                .map(|e| e.id)
                .collect();
            for id in ids {
                // A step running in a task is killed (its process with it);
                // a wait simply ends.
                if let Some(h) = st.busy.remove(&id) {
                    h.abort();
                }
                if st.execs.get(&id).is_some_and(|e| e.in_flight().is_some()) {
                    record(
                        &mut st,
                        Event::StepFinished {
                            at: now,
                            id,
                            ok: false,
                            output: format!("stopped by the kill switch ({who})"),
                        },
                    )?;
                }
                record(
                    &mut st,
                    Event::Finished {
                        at: now,
                        id,
                        state: State::Cancelled,
                        reason: format!("stopped by the kill switch ({who})"),
                    },
                )?;
                stopped.push(id);
            }
        }
        drop(st);
        self.notify(&stopped);
        Ok(())
    }

    /// Who turned the kill switch on, while it is on.
    pub fn paused(&self) -> Option<String> {
        self.inner.st.lock().paused.clone()
    }

    /// Every execution, newest first, optionally of one incident.
    pub fn list(&self, incident: Option<u64>) -> Vec<Execution> {
        let st = self.inner.st.lock();
        st.execs
            .values()
            .rev()
            .filter(|e| incident.is_none_or(|i| e.subject.incident == i))
            .cloned()
            .collect()
    }

    /// One execution.
    pub fn get(&self, id: u64) -> Option<Execution> {
        self.inner.st.lock().execs.get(&id).cloned()
    }

    /// The last `limit` journal events, oldest first.
    pub fn audit(&self, limit: usize) -> Result<Vec<Event>, JournalError> {
        self.inner.st.lock().journal.tail(limit)
    }

    pub(crate) fn notify(&self, ids: &[u64]) {
        let Some(host) = self.inner.host.read().clone() else {
            return;
        };
        let execs: Vec<Execution> = {
            let st = self.inner.st.lock();
            ids.iter()
                .filter_map(|id| st.execs.get(id).cloned())
                .collect()
        };
        for e in &execs {
            host.changed(e);
        }
    }
}

/// Writes `ev` to the journal, then applies it.
pub(crate) fn record(st: &mut St, ev: Event) -> Result<(), JournalError> {
    st.journal.append(&ev)?;
    apply(&mut st.execs, &ev);
    Ok(())
}

/// Applies `ev` to the execution it changes (a `Requested` event adds it):
/// the same for a live change and for the journal's replay.
fn apply(execs: &mut BTreeMap<u64, Execution>, ev: &Event) {
    let Some(id) = ev.execution() else { return };
    if let Event::Requested { execution, .. } = ev {
        execs.insert(id, (**execution).clone());
    } else if let Some(e) = execs.get_mut(&id) {
        ev.apply_to(e);
    }
}
