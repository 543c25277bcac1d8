//! What else moved: where the service reads series, and gathering the
//! ranking for an incident (a part of [`super`], split for size).

use super::{IncidentService, ServiceError};
use crate::actions::ActionError;
use crate::model::Incident;
use std::sync::Arc;

/// Reads series for the "what else moved" ranking; the server implements it
/// over the store.
pub trait SeriesSource: Send + Sync + std::fmt::Debug {
    /// Series with a label `name` whose value matches the (anchored) regex
    /// `values`, for each `(name, values)` of `selectors`, with their samples
    /// in `[from_ms, to_ms]`; at most `max_series` in all.
    fn read(
        &self,
        selectors: &[(String, String)],
        from_ms: i64,
        to_ms: i64,
        max_series: usize,
    ) -> Result<Vec<crate::evidence::SeriesData>, SourceError>;
}

/// The store could not answer.
#[derive(Debug, thiserror::Error)]
#[error("cannot read series: {0}")]
pub struct SourceError(pub String);

/// How long before the fault changes are looked for.
pub const CHANGES_BEFORE_MS: i64 = 30 * 60_000;
/// The most changes kept with an incident.
pub const MAX_CHANGES: usize = 50;

/// Without an earlier move, the likely causes are ranked from this long
/// before the first alert.
pub const SUSPECT_LEAD_MS: i64 = 2 * 60_000;

/// The most series one evidence ranking reads.
pub const EVIDENCE_MAX_SERIES: usize = 2000;

/// Which series name the incident's services, instances and machines.
fn selectors(inc: &Incident) -> Vec<(String, String)> {
    let mut svcs = std::collections::BTreeSet::new();
    let mut insts = std::collections::BTreeSet::new();
    let mut nodes = std::collections::BTreeSet::new();
    for a in &inc.alerts {
        svcs.extend(a.entities.service.iter().map(|s| regex::escape(s)));
        insts.extend(a.entities.instance.iter().map(|s| regex::escape(s)));
        nodes.extend(a.entities.node.iter().map(|s| regex::escape(s)));
    }
    let alt = |set: &std::collections::BTreeSet<String>| {
        set.iter().cloned().collect::<Vec<_>>().join("|")
    };
    let mut out = Vec::new();
    if !svcs.is_empty() {
        for k in ["service", "job", "app", "app_kubernetes_io_name"] {
            out.push((k.to_string(), alt(&svcs)));
        }
    }
    if !insts.is_empty() {
        out.push(("instance".to_string(), alt(&insts)));
        out.push(("pod".to_string(), alt(&insts)));
    }
    if !nodes.is_empty() {
        for k in ["node", "nodename", "host"] {
            out.push((k.to_string(), format!("({})([.:].*)?", alt(&nodes))));
        }
        out.push((
            "instance".to_string(),
            format!("({})([.:].*)?", alt(&nodes)),
        ));
    }
    out
}

impl IncidentService {
    /// Sets where the "what else moved" ranking reads series.
    pub fn set_source(&self, s: Arc<dyn SeriesSource>) {
        *self.shared.source.lock() = Some(s);
    }

    /// Sets where the changes around an incident (deploys, configuration
    /// changes) are read.
    pub fn set_change_source(&self, s: Arc<dyn crate::changes::ChangeSource>) {
        *self.shared.changes.lock() = Some(s);
    }

    /// Sets what ranks an incident's likely causes
    /// ([`crate::suspects`]), with the evidence.
    pub fn set_ranker(&self, r: Arc<dyn crate::suspects::SuspectRanker>) {
        *self.shared.ranker.lock() = Some(r);
    }

    /// Ranks what else moved around incident `id` ([`crate::evidence`]),
    /// keeps the result in the incident, and moves its fault start earlier
    /// when the root's own series moved before its first alert.
    pub async fn gather_evidence(
        &self,
        id: u64,
    ) -> Result<Vec<crate::evidence::Move>, ServiceError> {
        use crate::evidence::{rank, Window};
        let source = self
            .shared
            .source
            .lock()
            .clone()
            .ok_or(ServiceError::NoSource)?;
        let now = self.shared.clock.now_ms();
        let (inc, topo, aliases) = {
            let c = self.shared.corr.lock();
            let inc = c.incident(id).cloned().ok_or(ActionError::NotFound(id))?;
            (inc, c.topology().clone(), c.aliases().clone())
        };
        let fs = inc.times.fault_start_ms;
        let end = inc
            .times
            .recovered_ms
            .unwrap_or(inc.times.detected_ms + 30 * 60_000)
            .max(inc.times.detected_ms + 5 * 60_000)
            .min(now);
        let w = Window {
            baseline_from_ms: fs - 60 * 60_000,
            from_ms: fs - 15 * 60_000,
            to_ms: end,
        };
        let root = crate::entity::Entities {
            service: inc.root.as_ref().and_then(|r| r.service.clone()),
            instance: inc.root.as_ref().and_then(|r| r.instance.clone()),
            node: inc.root.as_ref().and_then(|r| r.node.clone()),
        };
        let sel = selectors(&inc);
        let changes_src = self.shared.changes.lock().clone();
        let names: Vec<String> = {
            let mut n = std::collections::BTreeSet::new();
            for a in &inc.alerts {
                n.extend(a.entities.service.iter().cloned());
                n.extend(a.entities.instance.iter().cloned());
            }
            n.into_iter().collect()
        };
        let ranker = self.shared.ranker.lock().clone();
        let log_anomalies = crate::suspects::log_anomalies(&inc.alerts);
        let first = inc.alerts.iter().min_by_key(|a| a.starts_at_ms);
        let entry = first.and_then(|a| a.entities.service.clone());
        let entry_metric = first.and_then(|a| a.labels.get("alertname").cloned());
        let (moves, changes, suspects) =
            tokio::task::spawn_blocking(move || -> Result<_, SourceError> {
                let changes = match &changes_src {
                    Some(c) if !names.is_empty() => {
                        c.changes(&names, fs - CHANGES_BEFORE_MS, w.to_ms, MAX_CHANGES)?
                    }
                    _ => Vec::new(),
                };
                let moves = if sel.is_empty() {
                    Vec::new()
                } else {
                    let series =
                        source.read(&sel, w.baseline_from_ms, w.to_ms, EVIDENCE_MAX_SERIES)?;
                    rank(&series, &w, &root, &topo, &aliases, 20)
                };
                // The fault began at the first move of its services' series
                // when that came before the alerts; else a little before
                // them (the alerts fired on points already changed).
                let start = moves
                    .iter()
                    .map(|m| m.moved_at_ms)
                    .min()
                    .map_or(fs - SUSPECT_LEAD_MS, |m| m.min(fs));
                let suspects = match ranker {
                    Some(r) => {
                        use crate::suspects::{RankInput, AFTER_MS, HISTORY_MS, MAX_SUSPECTS};
                        let all = [("service".to_string(), ".+".to_string())];
                        let series = source.read(
                            &all,
                            start - HISTORY_MS,
                            (start + AFTER_MS).min(now),
                            EVIDENCE_MAX_SERIES,
                        )?;
                        let edges: Vec<(String, String)> = topo
                            .edges()
                            .into_iter()
                            .map(|e| (e.caller, e.callee))
                            .collect();
                        let mut s = r.rank(&RankInput {
                            series: &series,
                            start_ms: start,
                            entry: entry.as_deref(),
                            entry_metric: entry_metric.as_deref(),
                            edges: &edges,
                        });
                        s.truncate(MAX_SUSPECTS);
                        if let Some(c) = &changes_src {
                            let names: Vec<String> = s.iter().map(|x| x.service.clone()).collect();
                            if !names.is_empty() {
                                let around = c.changes(
                                    &names,
                                    start - crate::suspects::CHANGE_BEFORE_MS,
                                    start + AFTER_MS,
                                    MAX_CHANGES,
                                )?;
                                crate::suspects::weigh_changes(&mut s, &around, start);
                            }
                        }
                        crate::suspects::weigh_log_anomalies(&mut s, &log_anomalies, start);
                        s
                    }
                    None => Vec::new(),
                };
                Ok((moves, changes, suspects))
            })
            .await
            .map_err(|e| SourceError(e.to_string()))??;
        let out = moves.clone();
        self.act(move |c, now| {
            let root_moved = moves
                .iter()
                .filter(|m| m.hops == Some(0))
                .map(|m| m.moved_at_ms)
                .min();
            if let Some(t) = root_moved {
                c.set_fault_start(id, t)?;
            }
            let inc = c.incident_mut(id).ok_or(ActionError::NotFound(id))?;
            inc.evidence = moves;
            inc.changes = changes;
            inc.suspects = suspects;
            inc.evidence_at_ms = Some(now);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// Incidents due their first evidence: active, detected a minute ago
    /// or more, none gathered yet (at most `n`).
    pub(super) fn evidence_due(&self, n: usize) -> Vec<u64> {
        if self.shared.source.lock().is_none() {
            return Vec::new();
        }
        let now = self.shared.clock.now_ms();
        let c = self.shared.corr.lock();
        c.incidents()
            .filter(|i| {
                i.is_active() && i.evidence_at_ms.is_none() && now - i.times.detected_ms >= 60_000
            })
            .map(|i| i.id)
            .take(n)
            .collect()
    }
}
