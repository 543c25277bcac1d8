//! [`RuleManager`]: loads rule files, runs one tokio task per group that
//! evaluates it on its aligned interval, and swaps groups on reload while
//! keeping alert state. The evaluation itself is [`Group::eval`], run on the
//! blocking pool because queries are CPU work.
//!
//! A *wake* signal ([`RuleManager::set_wake`], in the server the scrape
//! manager's target-health changes) makes every group with alerting rules
//! evaluate early, at the current time, instead of waiting up to a whole
//! interval for its slot. Early evaluations coalesce for 10 ms and are at least
//! a tenth of the interval (and 100 ms) apart, so a storm of changes costs at
//! most ten extra evaluations per interval; the aligned schedule is unchanged.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use argus_model::Clock;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::alert::Alert;
use crate::file::{load_rule_file, LoadError};
use crate::group::{EvalDeps, Group, GroupOptions};
use crate::inject::{AlertSink, QueryFn, SampleSink};

/// The injected functions, shared by all group tasks.
#[derive(Clone)]
pub struct Deps {
    /// Runs the rules' queries.
    pub query: Arc<dyn QueryFn>,
    /// Receives recorded samples and `ALERTS` series.
    pub samples: Arc<dyn SampleSink>,
    /// Receives alerts to send.
    pub alerts: Arc<dyn AlertSink>,
}

/// Wait this long after a wake signal, so changes arriving together share one evaluation.
const WAKE_COALESCE_MS: i64 = 10;
/// The least gap between two evaluations of a group when woken early.
const WAKE_MIN_GAP_MS: i64 = 100;

/// The least gap between a wake-triggered evaluation and the one before it.
fn wake_min_gap(interval_ms: i64) -> i64 {
    (interval_ms / 10).max(WAKE_MIN_GAP_MS)
}

/// Resolves on the next change of `wake`; never when there is none (or its sender is gone).
async fn woken(wake: &mut Option<watch::Receiver<u64>>) {
    match wake {
        Some(rx) => {
            if rx.changed().await.is_err() {
                *wake = None;
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}

struct Running {
    group: Arc<Mutex<Group>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Runs rule groups. Create it inside a tokio runtime.
pub struct RuleManager {
    opts: Mutex<GroupOptions>,
    deps: Deps,
    clock: Arc<dyn Clock>,
    running: Mutex<Vec<Running>>,
    wake: Mutex<Option<watch::Receiver<u64>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic inside an evaluation poisons the lock; the group state is still
    // consistent between rules, so keep going with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl RuleManager {
    /// A manager with no groups yet.
    pub fn new(opts: GroupOptions, deps: Deps, clock: Arc<dyn Clock>) -> Self {
        RuleManager {
            opts: Mutex::new(opts),
            deps,
            clock,
            running: Mutex::new(Vec::new()),
            wake: Mutex::new(None),
        }
    }

    /// Makes groups with alerting rules evaluate early whenever `wake`
    /// changes (see the module header). Applies to groups started by later
    /// [`RuleManager::load`] calls.
    pub fn set_wake(&self, wake: watch::Receiver<u64>) {
        *lock(&self.wake) = Some(wake);
    }

    /// Loads `files` and replaces the running groups. All files are parsed
    /// first: on any error nothing changes and every error is returned. Groups
    /// that exist before and after (same file and name) keep their alert state.
    pub fn load(&self, files: &[PathBuf]) -> Result<usize, Vec<LoadError>> {
        self.load_inner(files, None)
    }

    /// [`RuleManager::load`] with new group options (default interval and
    /// query offset, external labels and URL, resend delay...), for a
    /// configuration reload: the options change only if every file loads.
    pub fn load_with_options(
        &self,
        files: &[PathBuf],
        opts: GroupOptions,
    ) -> Result<usize, Vec<LoadError>> {
        self.load_inner(files, Some(opts))
    }

    fn load_inner(
        &self,
        files: &[PathBuf],
        new_opts: Option<GroupOptions>,
    ) -> Result<usize, Vec<LoadError>> {
        let mut specs = Vec::new();
        let mut errors = Vec::new();
        for f in files {
            match load_rule_file(f) {
                Ok(rf) => specs.extend(rf.groups),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let opts = {
            let mut o = lock(&self.opts);
            if let Some(n) = new_opts {
                *o = n;
            }
            o.clone()
        };
        let mut running = lock(&self.running);
        let old: Vec<Running> = std::mem::take(&mut *running);
        let mut groups = Vec::new();
        for spec in specs {
            let mut g = Group::new(spec, opts.clone());
            if let Some(o) = old.iter().find(|o| {
                let o = lock(&o.group);
                o.name == g.name && o.file == g.file
            }) {
                g.copy_state_from(&lock(&o.group));
            }
            groups.push(g);
        }
        for o in old {
            let _ = o.stop.send(true);
            o.task.abort();
        }
        let n = groups.len();
        for g in groups {
            running.push(self.spawn(g));
        }
        tracing::info!(groups = n, "Loaded the rule groups.");
        Ok(n)
    }

    fn spawn(&self, g: Group) -> Running {
        // Only groups with alerting rules wake; changes before the group started do not count.
        let alerting = g.rules.iter().any(|r| r.is_alerting());
        let mut wake = alerting.then(|| lock(&self.wake).clone()).flatten();
        if let Some(w) = wake.as_mut() {
            w.mark_unchanged();
        }
        let group = Arc::new(Mutex::new(g));
        let (stop, mut stopped) = watch::channel(false);
        let (gr, deps, clock) = (group.clone(), self.deps.clone(), self.clock.clone());
        let task = tokio::spawn(async move {
            let (interval, mut next) = {
                let g = lock(&gr);
                (g.interval_ms, g.next_eval_after(clock.now_ms()))
            };
            let mut last: Option<i64> = None;
            let mut early: Option<i64> = None;
            loop {
                let now = clock.now_ms();
                let target = early.map_or(next, |e| e.min(next));
                if target > now {
                    let wait = std::time::Duration::from_millis((target - now) as u64);
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stopped.changed() => return,
                        _ = woken(&mut wake) => {
                            let now = clock.now_ms();
                            let at = (now + WAKE_COALESCE_MS)
                                .max(last.map_or(i64::MIN, |l| l + wake_min_gap(interval)));
                            early = Some(early.map_or(at, |e| e.min(at)));
                            continue;
                        }
                    }
                }
                let now = clock.now_ms();
                let ts = if early.is_some_and(|e| e < next) {
                    // An early evaluation at the current time; the slot grid stays.
                    now.min(next - 1)
                } else {
                    if now - next >= interval {
                        let missed = (now - next) / interval;
                        tracing::warn!(
                            missed,
                            "Rule group evaluation fell behind; skipping iterations."
                        );
                        next += missed * interval;
                    }
                    let ts = next;
                    next += interval;
                    ts
                };
                early = None;
                if last.is_some_and(|l| ts <= l) {
                    continue;
                }
                let (g2, d2) = (gr.clone(), deps.clone());
                let res = tokio::task::spawn_blocking(move || {
                    let deps = EvalDeps {
                        query: d2.query.as_ref(),
                        samples: d2.samples.as_ref(),
                        alerts: d2.alerts.as_ref(),
                    };
                    lock(&g2).eval(ts, deps);
                })
                .await;
                if let Err(e) = res {
                    tracing::error!(error = %e, "A rule group evaluation panicked.");
                }
                last = Some(ts);
                if *stopped.borrow() {
                    return;
                }
            }
        });
        Running { group, stop, task }
    }

    /// A point-in-time view of every group, for `/api/v1/rules`.
    pub fn with_groups<R>(&self, f: impl FnOnce(&[&Group]) -> R) -> R {
        let running = lock(&self.running);
        let guards: Vec<MutexGuard<'_, Group>> = running.iter().map(|r| lock(&r.group)).collect();
        let refs: Vec<&Group> = guards.iter().map(|g| &**g).collect();
        f(&refs)
    }

    /// Pending and firing alerts of all groups, for `/api/v1/alerts`.
    pub fn active_alerts(&self) -> Vec<Alert> {
        self.with_groups(|gs| {
            gs.iter()
                .flat_map(|g| g.alerts())
                .filter(|a| a.state != crate::AlertState::Inactive)
                .collect()
        })
    }

    /// Stops every group task and waits for them.
    pub async fn stop(&self) {
        let old: Vec<Running> = std::mem::take(&mut *lock(&self.running));
        for o in old {
            let _ = o.stop.send(true);
            let _ = o.task.await;
        }
    }
}
