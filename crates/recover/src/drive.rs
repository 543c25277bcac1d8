//! The executor: each [`RecoverService::tick`] moves every execution one
//! stage on — starts its next step (in a task of its own), finishes a wait,
//! checks verification, rolls back, or ends it. Time comes from the injected
//! clock, so tests drive it without sleeping; the server ticks every second.
//!
//! A step is written to the journal as started before it runs and as
//! finished after, so a restart never runs a step twice (see
//! [`RecoverService::open`]).

use crate::actions::{self, render, Env, Rendered};
use crate::exec::{Event, Execution, Phase, State};
use crate::service::{record, RecoverService};
use crate::template::dot;
use std::time::Duration;

/// What a tick decided to do with one execution, worked out under the lock
/// and done after it.
enum Work {
    /// Start step `index` of `phase`.
    Start(Phase, usize),
    /// A `wait_until` (or verification) needs the host's answer.
    Check { wait_until: bool },
    /// Nothing now.
    Idle,
}

impl RecoverService {
    /// Moves every execution one stage on.
    pub async fn tick(&self) {
        let now = self.now();
        self.expire(now);
        let ids: Vec<u64> = {
            let st = self.inner.st.lock();
            st.execs
                .values()
                .filter(|e| e.state.is_active() && !st.busy.contains_key(&e.id))
                .map(|e| e.id)
                .collect()
        };
        for id in ids {
            if let Err(e) = self.step(id, now).await {
                tracing::error!(execution = id, "cannot write the recovery journal: {e}");
            }
        }
    }

    /// Waits for every step task started so far to end (for tests and
    /// shutdown).
    pub async fn settle(&self) {
        loop {
            let tasks: Vec<_> = std::mem::take(&mut *self.inner.tasks.lock());
            if tasks.is_empty() {
                return;
            }
            for t in tasks {
                let _ = t.await;
            }
        }
    }

    fn expire(&self, now: i64) {
        let timeout = self.config().approval_timeout.as_millis();
        let mut st = self.inner.st.lock();
        let old: Vec<u64> = st
            .execs
            .values()
            .filter(|e| e.state == State::PendingApproval && now - e.requested_ms >= timeout)
            .map(|e| e.id)
            .collect();
        for id in &old {
            let _ = record(
                &mut st,
                Event::Finished {
                    at: now,
                    id: *id,
                    state: State::Expired,
                    reason: "nobody approved it in time".into(),
                },
            );
        }
        drop(st);
        self.notify(&old);
    }

    async fn step(&self, id: u64, now: i64) -> Result<(), crate::journal::JournalError> {
        let work = {
            let mut st = self.inner.st.lock();
            let Some(e) = st.execs.get(&id).cloned() else {
                return Ok(());
            };
            let (work, changed) = plan_next(&mut st, &e, now)?;
            drop(st);
            if changed {
                self.notify(&[id]);
            }
            work
        };
        match work {
            Work::Idle => Ok(()),
            Work::Start(phase, index) => self.start(id, phase, index, now),
            Work::Check { wait_until } => self.check(id, now, wait_until).await,
        }
    }

    fn start(
        &self,
        id: u64,
        phase: Phase,
        index: usize,
        now: i64,
    ) -> Result<(), crate::journal::JournalError> {
        let mut st = self.inner.st.lock();
        let Some(e) = st.execs.get(&id).cloned() else {
            return Ok(());
        };
        let list = match phase {
            Phase::Steps => &e.runbook.steps,
            Phase::Rollback => &e.runbook.rollback,
        };
        let step = &list[index];
        let rendered = render(step, &dot(&e.subject, &e.labels, e.id, &e.runbook.name));
        let kind = step
            .action()
            .map(|a| a.kind())
            .unwrap_or("invalid")
            .to_string();
        record(
            &mut st,
            Event::StepStarted {
                at: now,
                id,
                phase,
                index,
                name: step.display_name(),
                kind,
                inputs: rendered.as_ref().map(Rendered::to_json).unwrap_or_default(),
            },
        )?;
        let r = match rendered {
            Ok(r) => r,
            Err(why) => {
                record(
                    &mut st,
                    Event::StepFinished {
                        at: now,
                        id,
                        ok: false,
                        output: format!("cannot be rendered: {why}"),
                    },
                )?;
                return Ok(());
            }
        };
        if matches!(r, Rendered::Wait { .. } | Rendered::WaitUntil { .. }) {
            return Ok(());
        }
        let cfg = self.config();
        let env = Env {
            commands: cfg.commands.clone(),
            systemctl: cfg.systemctl.clone(),
        };
        let timeout = Duration::from_millis(step.timeout_ms().max(1) as u64);
        let svc = self.clone();
        let task = tokio::spawn(async move {
            let res = actions::run(&r, &env, timeout).await;
            let at = svc.now();
            let mut st = svc.inner.st.lock();
            // Gone from `busy`: the kill switch stopped it and wrote its end.
            if st.busy.remove(&id).is_none() {
                return;
            }
            let (ok, output) = match res {
                Ok(o) => (true, o),
                Err(o) => (false, o),
            };
            if let Err(e) = record(&mut st, Event::StepFinished { at, id, ok, output }) {
                tracing::error!(execution = id, "cannot write the recovery journal: {e}");
            }
            drop(st);
            svc.notify(&[id]);
        });
        st.busy.insert(id, task.abort_handle());
        drop(st);
        self.inner.tasks.lock().push(task);
        Ok(())
    }

    /// Asks the host whether a `wait_until` step (or verification) holds,
    /// and records what follows.
    async fn check(
        &self,
        id: u64,
        now: i64,
        wait_until: bool,
    ) -> Result<(), crate::journal::JournalError> {
        let Some(host) = self.inner.host.read().clone() else {
            return Ok(());
        };
        let Some(e) = self.get(id) else { return Ok(()) };
        let (names, condition, resolved) = if wait_until {
            let Some(Rendered::WaitUntil {
                resolved,
                condition,
                ..
            }) = e
                .in_flight()
                .and_then(|s| serde_json::from_value::<serde_json::Value>(s.inputs.clone()).ok())
                .and_then(|v| wait_until_of(&v))
            else {
                return Ok(());
            };
            let check_alerts = !resolved.is_empty() || condition.is_none();
            (resolved, condition, check_alerts)
        } else {
            (
                Vec::new(),
                e.runbook.verify.condition.clone(),
                e.runbook.verify.resolved,
            )
        };
        let mut why = Vec::new();
        let mut holds = true;
        if resolved {
            match host.firing(e.subject.incident, &names).await {
                Ok(false) => {}
                Ok(true) => {
                    holds = false;
                    why.push(if names.is_empty() {
                        "the incident's alerts still fire".to_string()
                    } else {
                        format!("{} still fires", names.join(", "))
                    });
                }
                Err(err) => {
                    holds = false;
                    why.push(format!("cannot read the alerts: {err}"));
                }
            }
        }
        if let Some(c) = &condition {
            match host.holds(c).await {
                Ok(true) => {}
                Ok(false) => {
                    holds = false;
                    why.push(format!("{c} returns nothing"));
                }
                Err(err) => {
                    holds = false;
                    why.push(format!("{c}: {err}"));
                }
            }
        }
        let mut st = self.inner.st.lock();
        let Some(e) = st.execs.get(&id).cloned() else {
            return Ok(());
        };
        if wait_until {
            let Some(s) = e.in_flight() else {
                return Ok(());
            };
            let deadline = s
                .inputs
                .get("deadline_ms")
                .and_then(|v| v.as_i64())
                .unwrap_or(300_000);
            if holds {
                record(
                    &mut st,
                    Event::StepFinished {
                        at: now,
                        id,
                        ok: true,
                        output: "holds".into(),
                    },
                )?;
            } else if now - s.started_ms >= deadline {
                record(
                    &mut st,
                    Event::StepFinished {
                        at: now,
                        id,
                        ok: false,
                        output: format!(
                            "did not hold within {} s: {}",
                            deadline / 1000,
                            why.join("; ")
                        ),
                    },
                )?;
            } else {
                return Ok(());
            }
        } else {
            if e.state != State::Verifying {
                return Ok(());
            }
            let v = &e.runbook.verify;
            let last = if holds {
                "holds".to_string()
            } else {
                why.join("; ")
            };
            if let Some(x) = st.execs.get_mut(&id) {
                x.verification.last.clone_from(&last);
            }
            if holds {
                let since = *st.holding.entry(id).or_insert(now);
                if let Some(x) = st.execs.get_mut(&id) {
                    x.verification.holding_since_ms = Some(since);
                }
                if now - since >= v.hold.as_millis() {
                    st.holding.remove(&id);
                    record(
                        &mut st,
                        Event::Finished {
                            at: now,
                            id,
                            state: State::Succeeded,
                            reason: format!("verified: it held for {} s", (now - since) / 1000),
                        },
                    )?;
                } else {
                    return Ok(());
                }
            } else {
                st.holding.remove(&id);
                if let Some(x) = st.execs.get_mut(&id) {
                    x.verification.holding_since_ms = None;
                }
                let started = e.verification.started_ms.unwrap_or(now);
                if now - started < v.deadline.as_millis() {
                    return Ok(());
                }
                let reason = format!(
                    "not verified within {} s: {last}",
                    v.deadline.as_millis() / 1000
                );
                if e.runbook.rollback.is_empty() {
                    record(
                        &mut st,
                        Event::Finished {
                            at: now,
                            id,
                            state: State::Failed,
                            reason,
                        },
                    )?;
                } else {
                    record(
                        &mut st,
                        Event::RollingBack {
                            at: now,
                            id,
                            reason,
                        },
                    )?;
                }
            }
        }
        drop(st);
        self.notify(&[id]);
        Ok(())
    }
}

fn wait_until_of(v: &serde_json::Value) -> Option<Rendered> {
    let resolved = v
        .get("resolved")?
        .as_array()?
        .iter()
        .filter_map(|x| x.as_str().map(String::from))
        .collect();
    let condition = v
        .get("condition")
        .and_then(|c| c.as_str())
        .map(String::from);
    let deadline_ms = v.get("deadline_ms")?.as_i64()?;
    Some(Rendered::WaitUntil {
        resolved,
        condition,
        deadline_ms,
    })
}

/// Decides what `e` needs next; records the transitions that need nothing
/// from outside. Returns the work and whether `e` changed.
fn plan_next(
    st: &mut crate::service::St,
    e: &Execution,
    now: i64,
) -> Result<(Work, bool), crate::journal::JournalError> {
    let id = e.id;
    if e.state == State::Verifying {
        return Ok((Work::Check { wait_until: false }, false));
    }
    let phase = if e.state == State::RollingBack {
        Phase::Rollback
    } else {
        Phase::Steps
    };
    if let Some(s) = e.in_flight() {
        match s.kind.as_str() {
            "wait" => {
                let ms = s.inputs.get("ms").and_then(|v| v.as_i64()).unwrap_or(0);
                if now - s.started_ms >= ms {
                    record(
                        st,
                        Event::StepFinished {
                            at: now,
                            id,
                            ok: true,
                            output: format!("waited {} s", ms / 1000),
                        },
                    )?;
                    return Ok((Work::Idle, true));
                }
                return Ok((Work::Idle, false));
            }
            "wait_until" => return Ok((Work::Check { wait_until: true }, false)),
            // No task runs it (ticks skip executions with one): it ended but
            // its end could not be written (a full disk). It is not run
            // again; the execution fails once the journal takes writes.
            _ => {
                let output =
                    "it ended, but its result could not be written to the journal".to_string();
                record(
                    st,
                    Event::StepFinished {
                        at: now,
                        id,
                        ok: false,
                        output,
                    },
                )?;
                let reason = format!(
                    "the result of step {:?} was lost; check the system by hand",
                    s.name
                );
                record(
                    st,
                    Event::Finished {
                        at: now,
                        id,
                        state: State::Failed,
                        reason,
                    },
                )?;
                return Ok((Work::Idle, true));
            }
        }
    }
    let last = e.steps.iter().rev().find(|s| s.phase == phase);
    if let Some(s) = last.filter(|s| s.ok == Some(false)) {
        let why = format!("step {:?} failed: {}", s.name, first_line(&s.output));
        match phase {
            Phase::Steps if !e.runbook.rollback.is_empty() => {
                record(
                    st,
                    Event::RollingBack {
                        at: now,
                        id,
                        reason: why,
                    },
                )?;
            }
            Phase::Steps => {
                record(
                    st,
                    Event::Finished {
                        at: now,
                        id,
                        state: State::Failed,
                        reason: why,
                    },
                )?;
            }
            Phase::Rollback => {
                let reason = format!("{}; the rollback failed too: {why}", e.reason);
                record(
                    st,
                    Event::Finished {
                        at: now,
                        id,
                        state: State::Failed,
                        reason,
                    },
                )?;
            }
        }
        return Ok((Work::Idle, true));
    }
    let list = match phase {
        Phase::Steps => &e.runbook.steps,
        Phase::Rollback => &e.runbook.rollback,
    };
    let next = e.next_index(phase);
    if next < list.len() {
        return Ok((Work::Start(phase, next), false));
    }
    match phase {
        Phase::Steps => record(st, Event::Verifying { at: now, id })?,
        Phase::Rollback => {
            let reason = format!("{}; rolled back", e.reason);
            record(
                st,
                Event::Finished {
                    at: now,
                    id,
                    state: State::RolledBack,
                    reason,
                },
            )?;
        }
    }
    Ok((Work::Idle, true))
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
}
