//! The rest of the correlator's life: merges, root ranking, recovery and
//! expiry, forgetting (a part of [`super`], split for size).

use super::{ordered, place, Correlator, Index, Settings};
use crate::entity::Entities;
use crate::model::{EntryKind, Incident, Root, State};
use crate::root::{self, Candidate, NodeCandidate};
use std::collections::{BTreeMap, BTreeSet};

impl Correlator {
    /// A machine-level alert ties together the incidents of the instances on
    /// that machine that opened close to each other.
    pub(super) fn merge_on_machine(&mut self, into: u64, e: &Entities, at: i64) {
        let Some(node) = &e.node else { return };
        let burst = self.settings.burst_ms;
        let others: Vec<u64> = self
            .index
            .iter()
            .filter(|(id, ix)| {
                **id != into
                    && (ix.opened_ms - at).abs() <= burst
                    && (ix.opener_node.as_ref() == Some(node)
                        || (ix.opener_node.is_none()
                            && ix.services.keys().any(|s| self.aliases.placed_on(s, node)))
                        || (self.settings.merge_unplaced
                            && at - ix.opened_ms <= burst / 2
                            && !ix.instances.is_empty()
                            && ix.services.len() == 1
                            && ix.services.keys().all(|s| !self.aliases.placed(s))))
            })
            .map(|(id, _)| *id)
            .collect();
        for from in others {
            self.merge(from, into, at);
        }
    }

    /// Moves every alert of `from` into `into`; `from` stays, marked merged.
    pub fn merge(&mut self, from: u64, into: u64, at: i64) {
        if from == into {
            return;
        }
        let Some(mut src) = self.incidents.remove(&from) else {
            return;
        };
        let ix = self.index.remove(&from);
        let moved = std::mem::take(&mut src.alerts);
        src.merged_into = Some(into);
        src.log(
            at,
            EntryKind::Merged,
            format!("Merged into incident {into}."),
            None,
        );
        let Some(dst) = self.incidents.get_mut(&into) else {
            self.incidents.insert(from, src);
            return;
        };
        dst.times.fault_start_ms = dst.times.fault_start_ms.min(src.times.fault_start_ms);
        dst.times.detected_ms = dst.times.detected_ms.min(src.times.detected_ms);
        dst.times.notified_ms = min_opt(dst.times.notified_ms, src.times.notified_ms);
        dst.times.acknowledged_ms = min_opt(dst.times.acknowledged_ms, src.times.acknowledged_ms);
        dst.severity = dst.severity.max(src.severity);
        if dst.owner.is_none() {
            dst.owner.clone_from(&src.owner);
        }
        dst.log(
            at,
            EntryKind::Merged,
            format!("Incident {from} merged in ({} alerts).", moved.len()),
            None,
        );
        for a in &moved {
            self.by_alert.insert(a.key, into);
        }
        dst.alerts.extend(moved);
        dst.alerts.sort_by_key(|a| a.joined_ms);
        if let Some(ix) = ix {
            let d = self.index.entry(into).or_default();
            for (s, t) in ix.services {
                let v = d.services.entry(s).or_insert(t);
                *v = (*v).min(t);
            }
            d.instances.extend(ix.instances);
            for (n, (lvl, t)) in ix.nodes {
                let v = d.nodes.entry(n).or_insert((lvl, t));
                v.0 |= lvl;
                v.1 = v.1.min(t);
            }
            for (n, t) in ix.node_alerts {
                let v = d.node_alerts.entry(n).or_insert(t);
                *v = (*v).min(t);
            }
            d.placed.extend(ix.placed);
            d.last_fire_ms = d.last_fire_ms.max(ix.last_fire_ms);
            d.opened_ms = d.opened_ms.min(ix.opened_ms);
        }
        self.incidents.insert(from, src);
        self.dirty.insert(from);
        self.dirty.insert(into);
    }

    /// Names the root again from the incident's alerts; logs a change and
    /// the moment it is located.
    pub(super) fn rerank(&mut self, id: u64, at: i64) {
        let Some(inc) = self.incidents.get(&id) else {
            return;
        };
        let (services, nodes) = candidates(inc, &self.settings);
        let root = root::rank(&services, &nodes, &self.topo, self.settings.max_hops + 2);
        let threshold = self.settings.locate_confidence;
        let Some(inc) = self.incidents.get_mut(&id) else {
            return;
        };
        if inc.root.as_ref().is_some_and(|r| r.confirmed_by.is_some()) {
            return;
        }
        let same_place = |a: &Option<Root>, b: &Option<Root>| match (a, b) {
            (Some(a), Some(b)) => a.service == b.service && a.node == b.node,
            (None, None) => true,
            _ => false,
        };
        let moved = !same_place(&inc.root, &root);
        if let Some(r) = &root {
            inc.times.fault_start_ms = inc.times.fault_start_ms.min(root_start(inc, r));
            if moved {
                inc.times.located_ms = None;
            }
            if inc.times.located_ms.is_none() && r.confidence >= threshold {
                inc.times.located_ms = Some(at);
                inc.log(
                    at,
                    EntryKind::Located,
                    format!(
                        "Root: {} ({:.0} % confidence).",
                        place(r),
                        r.confidence * 100.0
                    ),
                    None,
                );
            }
        }
        if let Some(ix) = self.index.get_mut(&id) {
            ix.root = root.as_ref().and_then(|r| r.service.clone());
        }
        inc.root = root;
        inc.title = title(inc);
        self.dirty.insert(id);
    }

    /// Closes incidents whose alerts all stayed resolved for
    /// [`super::Settings::recovery_stable_ms`]. Returns the ids closed.
    pub fn tick(&mut self, now: i64) -> Vec<u64> {
        self.expire(now);
        let stable = self.settings.recovery_stable_ms;
        let done: Vec<u64> = self
            .index
            .keys()
            .copied()
            .filter(|id| {
                self.incidents.get(id).is_some_and(|inc| {
                    !inc.firing()
                        && inc.alerts.iter().map(|a| a.changed_ms).max().unwrap_or(0) + stable
                            <= now
                })
            })
            .collect();
        for id in &done {
            let Some(inc) = self.incidents.get_mut(id) else {
                continue;
            };
            let last = inc.alerts.iter().map(|a| a.changed_ms).max().unwrap_or(now);
            inc.times.recovered_ms = Some(last);
            inc.state = State::Resolved;
            inc.log(
                now,
                EntryKind::Recovered,
                "Every alert resolved and stayed resolved.".to_string(),
                None,
            );
            self.close(*id);
        }
        done
    }

    /// Firing alerts whose last send is no longer valid count as resolved at
    /// the end of its validity (their source stopped sending them).
    fn expire(&mut self, now: i64) {
        let mut gone: Vec<(u64, u64, i64)> = Vec::new();
        for id in self.index.keys() {
            if let Some(inc) = self.incidents.get(id) {
                for a in &inc.alerts {
                    if let Some(t) = a.expires_ms.filter(|&t| a.firing && t < now) {
                        gone.push((*id, a.key, t));
                    }
                }
            }
        }
        for (id, key, t) in gone {
            let Some(inc) = self.incidents.get_mut(&id) else {
                continue;
            };
            let Some(a) = inc.alerts.iter_mut().find(|a| a.key == key) else {
                continue;
            };
            a.firing = false;
            a.changed_ms = t;
            let name = a.labels.get("alertname").cloned().unwrap_or_default();
            inc.log(
                t,
                EntryKind::AlertResolved,
                format!("{name} stopped being sent; counted as resolved."),
                Some(key),
            );
            self.dirty.insert(id);
        }
    }

    /// Drops an incident's alerts from the active maps once it is resolved.
    pub(crate) fn close(&mut self, id: u64) {
        self.index.remove(&id);
        self.by_alert.retain(|_, v| *v != id);
        if let Some(inc) = self.incidents.get(&id).cloned() {
            self.learn_together(&inc);
        }
        self.dirty.insert(id);
    }

    /// Whether `a` and `b` failed together often enough, and in a large
    /// enough share of the incidents of the rarer of the two, to be related
    /// without an edge between them.
    pub(super) fn fail_together(&self, a: &str, b: &str) -> bool {
        let Some(&n) = self.together.get(&ordered(a, b)) else {
            return false;
        };
        let seen = |s: &str| self.seen_in.get(s).copied().unwrap_or(0);
        let rarer = seen(a).min(seen(b)).max(1);
        n >= self.settings.together_after
            && f64::from(n) >= self.settings.together_share * f64::from(rarer)
    }

    pub(super) fn learn_together(&mut self, inc: &Incident) {
        let svcs = inc.services();
        if svcs.len() > 20 {
            return;
        }
        for (i, a) in svcs.iter().enumerate() {
            *self.seen_in.entry(a.to_string()).or_default() += 1;
            for b in &svcs[i + 1..] {
                *self.together.entry(ordered(a, b)).or_default() += 1;
            }
        }
    }

    /// Mutable access for the actions of people ([`crate::actions`]).
    pub(crate) fn incident_mut(&mut self, id: u64) -> Option<&mut Incident> {
        self.dirty.insert(id);
        self.incidents.get_mut(&id)
    }

    /// Re-activates a resolved incident (a person reopened it).
    pub(crate) fn reactivate(&mut self, id: u64) {
        if let Some(inc) = self.incidents.get(&id) {
            for a in &inc.alerts {
                if a.firing {
                    self.by_alert.insert(a.key, id);
                }
            }
            self.index.insert(id, Index::of(inc));
        }
    }

    /// Forgets resolved incidents last changed before `before_ms`. Returns
    /// their ids, for the store to delete.
    pub fn forget_before(&mut self, before_ms: i64) -> Vec<u64> {
        let old: Vec<u64> = self
            .incidents
            .values()
            .filter(|i| !i.is_active() && i.updated_ms < before_ms)
            .map(|i| i.id)
            .collect();
        for id in &old {
            self.incidents.remove(id);
        }
        old
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

/// The ranking's view of an incident's alerts.
fn candidates(inc: &Incident, settings: &Settings) -> (Vec<Candidate>, Vec<NodeCandidate>) {
    let mut svcs: BTreeMap<&str, Candidate> = BTreeMap::new();
    let mut nodes: BTreeMap<&str, NodeCandidate> = BTreeMap::new();
    // service → the machines its alerts name.
    let mut machines_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for a in &inc.alerts {
        let name = a.labels.get("alertname").cloned().unwrap_or_default();
        // A dynamic rule's alert on a business volume: the traffic fell.
        let volume = a.labels.get("kind").map(String::as_str) == Some("business_volume");
        if let Some(s) = a.entities.service.as_deref() {
            let c = svcs.entry(s).or_insert_with(|| Candidate {
                service: s.to_string(),
                first_ms: a.joined_ms,
                severity: a.severity,
                metric: name.clone(),
                instance: a.entities.instance.clone(),
                volume_drop: volume,
                own_trouble: false,
            });
            c.volume_drop &= volume;
            c.own_trouble |= settings.names_own_trouble(
                a.labels.get("alertname").map(String::as_str),
                a.labels.get("kind").map(String::as_str),
            );
            c.severity = c.severity.max(a.severity);
            if c.instance != a.entities.instance {
                c.instance = None;
            }
            if let Some(n) = a.entities.node.as_deref() {
                machines_of.entry(s).or_default().insert(n);
            }
        } else if let Some(n) = a.entities.node.as_deref() {
            nodes.entry(n).or_insert_with(|| NodeCandidate {
                node: n.to_string(),
                first_ms: a.joined_ms,
                metric: name,
                hosted: 0,
            });
        }
    }
    // A machine hosts a service's trouble when that service alerts on it
    // alone: a service failing on several machines at once is not one
    // machine's fault. A lone service reporting its own trouble (its cpu,
    // a crash loop) explains its alerts itself: the machine under it comes
    // first only when it hosts more than that one.
    for (n, c) in nodes.iter_mut() {
        let hosted: Vec<&str> = machines_of
            .iter()
            .filter(|(_, ms)| ms.len() == 1 && ms.contains(n))
            .map(|(s, _)| *s)
            .collect();
        let lone_own = hosted.len() == 1 && svcs.get(hosted[0]).is_some_and(|c| c.own_trouble);
        c.hosted = if lone_own { 0 } else { hosted.len() };
    }
    (svcs.into_values().collect(), nodes.into_values().collect())
}

/// The start of the root's earliest alert.
fn root_start(inc: &Incident, r: &Root) -> i64 {
    inc.alerts
        .iter()
        .filter(|a| match (&r.service, &r.node) {
            (Some(s), _) => a.entities.service.as_ref() == Some(s),
            (None, Some(n)) => a.entities.node.as_ref() == Some(n),
            _ => false,
        })
        .map(|a| a.starts_at_ms)
        .min()
        .unwrap_or(inc.times.fault_start_ms)
}

fn title(inc: &Incident) -> String {
    let head = match &inc.root {
        Some(r) => format!(
            "{} on {}",
            r.metric.as_deref().unwrap_or("Alert"),
            place(r)
                .trim_start_matches("service ")
                .trim_start_matches("machine ")
        ),
        None => inc
            .alerts
            .first()
            .and_then(|a| a.labels.get("alertname").cloned())
            .unwrap_or_else(|| "Incident".to_string()),
    };
    let more = inc.alerts.len().saturating_sub(1);
    match more {
        0 => head,
        1 => format!("{head} and 1 more alert"),
        n => format!("{head} and {n} more alerts"),
    }
}
