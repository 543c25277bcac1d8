//! How strongly an alert relates to an open incident, and whether it is
//! noise (a part of [`super`], split for size).

use super::{Correlator, How, Index};
use crate::entity::Entities;
use crate::topology::Relation;

impl Correlator {
    pub(super) fn noisy(&mut self, key: u64, at: i64) -> bool {
        let w = self.settings.noisy_window_ms;
        let q = self.fired.entry(key).or_default();
        while q.front().is_some_and(|&t| t < at - w) {
            q.pop_front();
        }
        let often = q.len() as u32 >= self.settings.noisy_after;
        q.push_back(at);
        if q.len() > 64 {
            q.pop_front();
        }
        // A symptom of one fault after another fires as often; noise fires
        // on its own: the last incident it opened still holds it and nothing
        // else (not emptied by a merge or by its machine taking it).
        often
            && self.solo.get(&key).is_some_and(|id| {
                self.incidents.get(id).is_some_and(|inc| {
                    inc.merged_into.is_none()
                        && !inc.alerts.is_empty()
                        && inc.alerts.iter().all(|a| a.key == key)
                })
            })
    }

    /// How strongly an alert about `e` at `at` relates to an incident
    /// (0–1), within the incident's span.
    pub(super) fn relation(&mut self, e: &Entities, at: i64, ix: &Index, how: How) -> f64 {
        if at - ix.opened_ms > self.settings.window_ms
            || at - ix.last_fire_ms > self.settings.quiet_ms
        {
            return 0.0;
        }
        if e.instance
            .as_ref()
            .is_some_and(|i| ix.instances.contains(i))
        {
            return 1.0;
        }
        let mut best: f64 = 0.0;
        if let Some(s) = &e.service {
            if ix.root.as_ref() == Some(s) {
                return 0.95;
            }
            if ix.services.contains_key(s) {
                best = 0.7;
            }
        }
        let burst = self.settings.burst_ms;
        if let Some(n) = &e.node {
            if ix.node_alerts.get(n).is_some_and(|&t| at - t <= burst) {
                // An instance on a machine whose own alert just fired: the
                // machine explains it before any service does.
                return 0.99;
            } else if e.is_node_level() && ix.node_alerts.keys().any(|m| m != n) {
                // Another machine's incident: two machines failing in the
                // same minute are two faults. Alerts on this machine's
                // instances there move to its own incident
                // (`gather_machine`).
                return 0.0;
            } else if e.is_node_level()
                && ix.opener_node.as_ref() == Some(n)
                && ix
                    .nodes
                    .get(n)
                    .is_some_and(|&(_, t)| (at - t).abs() <= burst)
            {
                // The machine under the instance alert that opened it.
                best = best.max(0.9);
            }
        }
        if let (Some(s), None) = (&e.service, &e.node) {
            // A service known to run on a machine whose own alert just fired.
            if ix
                .node_alerts
                .iter()
                .any(|(n, &t)| at - t <= burst && self.aliases.placed_on(s, n))
            {
                best = best.max(0.85);
            } else if e.instance.is_some()
                && !self.aliases.placed(s)
                && ix.node_alerts.values().any(|&t| at - t <= burst)
            {
                // An instance whose machine is unknown, failing just after a
                // machine's own alert: likely on it.
                best = best.max(self.settings.unplaced_near_machine);
            }
        }
        if how.noisy {
            return if best >= 0.9 { best } else { 0.0 };
        }
        if let Some(s) = &e.service {
            let max = self.settings.max_hops;
            // Relative to the root where one is named: a fault spreads up to
            // its callers, and its cause may show itself late, below.
            // Under a machine's own alert, relative to the services that
            // alerted on that machine, and only upwards: the machine's fault
            // spreads to their callers, and explains nothing below them.
            let machine = ix.root.is_none() && !ix.node_alerts.is_empty();
            let anchors: Vec<&String> = match &ix.root {
                Some(r) => vec![r],
                None if machine => ix
                    .placed
                    .iter()
                    .filter(|(n, _)| ix.node_alerts.contains_key(n))
                    .map(|(_, s)| s)
                    .collect(),
                None => ix.services.keys().collect(),
            };
            for other in anchors {
                let r = match self.topo.relation_cached(s, other, max + 2) {
                    // A service's own trouble is not its callee's symptom.
                    Some(Relation::Caller(h)) if !how.own_trouble => 1.0 - 0.1 * h as f64,
                    Some(Relation::Callee(h)) if h <= max && !machine => 0.8 - 0.1 * h as f64,
                    _ => 0.0,
                };
                let together = self.fail_together(s, other);
                best = best.max(r).max(if together { 0.6 } else { 0.0 });
            }
        }
        best
    }
}
