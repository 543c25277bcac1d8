//! A machine's own alert and the alerts on its instances that came before
//! it (a part of [`super`], split for size).
//!
//! The instances of a failing machine often alert before the machine does
//! (a pod not ready, a target down), and such an alert may have joined
//! another incident: another fault's, or another machine's that failed in
//! the same minute, through the graph or its service. When the machine's
//! own alert fires, those alerts of the last [`super::Settings::burst_ms`]
//! move to the machine's incident, one by one; the incident they leave
//! keeps its other alerts.

use super::{Correlator, Index};
use crate::model::EntryKind;

impl Correlator {
    /// Moves into incident `into` the alerts on machine `node` that fired
    /// in the last burst before `at` and are in another active incident
    /// that is not about that machine.
    pub(super) fn gather_machine(&mut self, into: u64, node: &str, at: i64) {
        let burst = self.settings.burst_ms;
        let mut moves: Vec<(u64, u64)> = Vec::new();
        for (&id, ix) in &self.index {
            if id == into || ix.node_alerts.contains_key(node) || !ix.nodes.contains_key(node) {
                continue;
            }
            let Some(inc) = self.incidents.get(&id) else {
                continue;
            };
            for a in &inc.alerts {
                if a.firing && a.entities.node.as_deref() == Some(node) && at - a.joined_ms <= burst
                {
                    moves.push((id, a.key));
                }
            }
        }
        let mut touched: Vec<u64> = Vec::new();
        for (from, key) in moves {
            if self.move_alert(from, into, key, at) && !touched.contains(&from) {
                touched.push(from);
            }
        }
        for from in touched {
            self.rerank(from, at);
        }
    }

    /// Moves one alert from incident `from` to `into`; an incident left
    /// without alerts is marked merged into `into`. Returns true when moved.
    fn move_alert(&mut self, from: u64, into: u64, key: u64, at: i64) -> bool {
        let Some(src) = self.incidents.get_mut(&from) else {
            return false;
        };
        let Some(pos) = src.alerts.iter().position(|a| a.key == key) else {
            return false;
        };
        let a = src.alerts.remove(pos);
        let name = a.labels.get("alertname").cloned().unwrap_or_default();
        src.log(
            at,
            EntryKind::Merged,
            format!("{name} moved to incident {into}: its machine's own alert fired."),
            Some(key),
        );
        let empty = src.alerts.is_empty();
        if empty {
            src.merged_into = Some(into);
            self.index.remove(&from);
        } else {
            let ix = Index::of(src);
            self.index.insert(from, ix);
        }
        self.dirty.insert(from);
        let Some(dst) = self.incidents.get_mut(&into) else {
            return false;
        };
        dst.log(
            at,
            EntryKind::Merged,
            format!("{name} moved here from incident {from}: it runs on this machine."),
            Some(key),
        );
        dst.times.fault_start_ms = dst.times.fault_start_ms.min(a.starts_at_ms);
        dst.severity = dst.severity.max(a.severity);
        let (e, joined) = (a.entities.clone(), a.joined_ms);
        dst.alerts.push(a);
        dst.alerts.sort_by_key(|a| a.joined_ms);
        self.index.entry(into).or_default().add(&e, joined);
        self.by_alert.insert(key, into);
        self.moved.push((key, from, into));
        self.dirty.insert(into);
        true
    }

    /// The alerts moved between incidents by the last
    /// [`Correlator::observe`]: (alert key, from, to).
    pub fn last_moves(&self) -> &[(u64, u64, u64)] {
        &self.moved
    }
}
