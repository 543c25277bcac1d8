//! The guards a request passes (kill switch, one execution per runbook and
//! incident, rate limit, cooldown, concurrency), what a dry run shows, and
//! the service's self-metrics.

use crate::actions::render;
use crate::config::{Mode, RecoverConfig, Runbook};
use crate::exec::{Execution, Phase, StepRun};
use crate::service::{RecoverError, RecoverService, St};
use crate::template::dot;
use std::collections::BTreeMap;

impl RecoverService {
    /// Self-metrics in the Prometheus text format.
    pub fn metrics_text(&self, out: &mut String) {
        use argus_model::exposition::{write_family, write_header, write_sample};
        let st = self.inner.st.lock();
        let mut by: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for e in st.execs.values().filter(|e| !e.dry_run) {
            *by.entry((e.runbook.name.as_str(), e.state.as_str()))
                .or_default() += 1;
        }
        write_header(
            "argus_runbook_executions",
            "Runbook executions kept, by runbook and state.",
            "gauge",
            out,
        );
        for ((rb, state), n) in by {
            let l = [("runbook", rb), ("state", state)];
            write_sample("argus_runbook_executions", &l, n as f64, out);
        }
        let active = st.execs.values().filter(|e| e.state.is_active()).count();
        write_family(
            "argus_runbook_active",
            "gauge",
            "Runbook executions running, verifying or rolling back now.",
            active as f64,
            out,
        );
        write_family(
            "argus_runbook_paused",
            "gauge",
            "1 while the runbook kill switch is on.",
            f64::from(u8::from(st.paused.is_some())),
            out,
        );
    }
}

pub(crate) fn guard(
    st: &St,
    cfg: &RecoverConfig,
    rb: &Runbook,
    incident: u64,
    now: i64,
) -> Result<(), RecoverError> {
    if let Some(by) = &st.paused {
        return Err(RecoverError::Paused(by.clone()));
    }
    let mine = || {
        st.execs
            .values()
            .filter(|e| !e.dry_run && e.runbook.name == rb.name)
    };
    if let Some(e) = mine().find(|e| !e.state.is_final() && e.subject.incident == incident) {
        return Err(RecoverError::Duplicate {
            runbook: rb.name.clone(),
            incident,
            id: e.id,
        });
    }
    if let Some(r) = rb.rate_limit {
        let n = mine()
            .filter(|e| e.requested_ms > now - r.per.as_millis())
            .count();
        if n >= r.max as usize {
            return Err(RecoverError::RateLimited {
                runbook: rb.name.clone(),
                max: r.max,
                per: r.per,
            });
        }
    }
    if rb.cooldown.as_millis() > 0 {
        if let Some(last) = mine().filter_map(|e| e.finished_ms).max() {
            let until = last + rb.cooldown.as_millis();
            if until > now {
                return Err(RecoverError::Cooldown {
                    runbook: rb.name.clone(),
                    left_s: (until - now + 999) / 1000,
                });
            }
        }
    }
    let active = st.execs.values().filter(|e| e.state.is_active()).count();
    if rb.mode != Mode::Approval && active >= cfg.max_concurrent {
        return Err(RecoverError::TooMany(active));
    }
    Ok(())
}

/// What a dry run shows: every step and rollback step, rendered.
pub(crate) fn plan(e: &Execution, now: i64) -> Vec<StepRun> {
    let d = dot(&e.subject, &e.labels, e.id, &e.runbook.name);
    let lists = [
        (Phase::Steps, &e.runbook.steps),
        (Phase::Rollback, &e.runbook.rollback),
    ];
    let mut out = Vec::new();
    for (phase, steps) in lists {
        for (index, s) in steps.iter().enumerate() {
            let (inputs, output) = match render(s, &d) {
                Ok(r) => (r.to_json(), "would run".to_string()),
                Err(err) => (
                    serde_json::Value::Null,
                    format!("cannot be rendered: {err}"),
                ),
            };
            out.push(StepRun {
                phase,
                index,
                name: s.display_name(),
                kind: s
                    .action()
                    .map(|a| a.kind())
                    .unwrap_or("invalid")
                    .to_string(),
                inputs,
                started_ms: now,
                finished_ms: None,
                ok: None,
                output,
            });
        }
    }
    out
}
