//! The timed half of the dispatcher: flushing aggregation groups, escalating, and recording
//! delivery outcomes in the notification log.

use super::{fp_key, AggrGroup, Dispatcher, Flush, GroupId};
use crate::alert::AlertStatus;
use crate::inhibit::SourceCache;
use crate::nflog::{NflogEntry, NotificationLog};
use crate::notification::{sort_alerts, EscalationStep, Notification, NotifiedAlert};
use crate::stages::{self, Ctx, InhibitStage, SilenceStage, Stage, TimeActiveStage, TimeMuteStage};
use crate::store::{Batch, Table};

const GC_EVERY_MS: i64 = 60_000;

/// A notification's group labels with its common labels, for history filtering.
pub(super) fn notification_labels(n: &Notification) -> std::collections::BTreeMap<String, String> {
    let mut m = n.common_labels();
    for l in n.group_labels.iter() {
        m.insert(l.name.clone(), l.value.clone());
    }
    m
}

impl Dispatcher {
    /// Does everything due at `now`: records state changes for flap damping, flushes due groups
    /// through inhibit → time intervals → silence → dedup, and takes due escalation steps.
    /// Returns the notifications to deliver; report each with [`Dispatcher::complete`].
    pub fn tick(&mut self, now: i64) -> Vec<Notification> {
        if let Some(s) = &self.store {
            // Retries a failed store (with its backoff) and saves what waits in memory.
            s.heal();
        }
        self.observe_transitions(now);
        if now - self.last_gc >= GC_EVERY_MS {
            self.gc(now);
        }
        let due: Vec<GroupId> = self
            .groups
            .iter()
            .filter(|(_, g)| g.next_flush <= now && g.inflight.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        let mut out = Vec::new();
        if !due.is_empty() {
            let cache = self.source_cache(now);
            for id in due {
                out.extend(self.flush_group(&id, now, &cache));
            }
        }
        out.extend(self.escalate(now));
        out
    }

    fn observe_transitions(&mut self, now: i64) {
        let cfg = self.cfg.argus.flap_damping;
        let mut b = Batch::default();
        for (fp, r) in &self.alerts {
            let firing = !r.alert.is_resolved(now);
            let f = self.flap.entry(*fp).or_default();
            if f.last_firing != Some(firing) {
                let at = if firing {
                    now
                } else {
                    r.alert.ends_at.min(now)
                };
                let first = f.last_firing.is_none();
                f.observe(firing, at, &cfg);
                // Best effort: the history is advisory and rebuilt from later transitions.
                let _ = b.put(Table::Flap, &fp_key(*fp), &*f);
                if !first || firing {
                    b.action(super::actions::transition(
                        *fp, &r.alert, firing, at, "argus",
                    ));
                }
            }
        }
        if let Err(e) = self.commit_deferred(b) {
            tracing::warn!(error = %e, "Could not persist flap histories; continuing in memory.");
        }
    }

    fn gc(&mut self, now: i64) {
        self.last_gc = now;
        let mut b = Batch::default();
        for id in self.silences.gc(now, crate::silence::DEFAULT_RETENTION_MS) {
            b.delete(Table::Silences, &id);
        }
        for k in self.nflog.gc(now) {
            b.delete(Table::Nflog, &k);
        }
        let window = 2 * self.cfg.argus.flap_damping.window.as_millis();
        let stale: Vec<u64> = self
            .flap
            .iter()
            .filter(|(fp, f)| {
                !self.alerts.contains_key(fp)
                    && f.transitions.last().is_none_or(|t| *t < now - window)
            })
            .map(|(fp, _)| *fp)
            .collect();
        for fp in stale {
            self.flap.remove(&fp);
            b.delete(Table::Flap, &fp_key(fp));
        }
        if let Err(e) = self.commit_deferred(b) {
            tracing::warn!(error = %e, "Could not persist garbage collection; it will be retried.");
        }
        let keep = self.cfg.argus.history_retention_ms();
        if let (Some(store), true) = (&self.store, keep > 0) {
            // Bounded per pass so one collection never stalls the dispatcher; the rest goes next time.
            if let Err(e) = store.prune_actions_before(now - keep, 10_000) {
                tracing::warn!(error = %e, "Could not prune the alert history; it will be retried.");
            }
        }
    }

    /// The group's alerts as they are to be shown at `now` (flap-held alerts as firing).
    fn views(&self, g: &AggrGroup, now: i64) -> Vec<NotifiedAlert> {
        let cfg = self.cfg.argus.flap_damping;
        let mut v: Vec<NotifiedAlert> = g
            .alerts
            .iter()
            .filter_map(|fp| self.alerts.get(fp))
            .map(|r| {
                let resolved = r.alert.is_resolved(now)
                    && !self
                        .flap
                        .get(&r.alert.fingerprint())
                        .is_some_and(|f| f.holds_firing(r.alert.ends_at, now, &cfg));
                let st = if resolved {
                    AlertStatus::Resolved
                } else {
                    AlertStatus::Firing
                };
                let mut n = NotifiedAlert::new(r.alert.clone(), st);
                if st == AlertStatus::Firing {
                    if let Some(o) = &self.observer {
                        n.runbooks = o.runbooks(n.fingerprint, &n.alert.labels);
                    }
                }
                n
            })
            .collect();
        sort_alerts(&mut v);
        v
    }

    fn filtered(
        &self,
        route: usize,
        views: Vec<NotifiedAlert>,
        now: i64,
        cache: &SourceCache,
    ) -> Vec<NotifiedAlert> {
        let r = self.tree.get(route);
        let mute: Vec<_> = r
            .mute_time_intervals
            .iter()
            .filter_map(|n| self.intervals.get(n))
            .collect();
        let active: Vec<_> = r
            .active_time_intervals
            .iter()
            .filter_map(|n| self.intervals.get(n))
            .collect();
        let ctx = Ctx {
            now,
            mute: &mute,
            active: &active,
        };
        let inhibit = InhibitStage {
            inhibitor: &self.inhibitor,
            cache,
        };
        let silence = SilenceStage {
            silences: &self.silences,
        };
        let chain: [&dyn Stage; 4] = [&inhibit, &TimeActiveStage, &TimeMuteStage, &silence];
        stages::run(&chain, &ctx, views)
    }

    fn flush_group(&mut self, id: &GroupId, now: i64, cache: &SourceCache) -> Vec<Notification> {
        let Some(g) = self.groups.get(id) else {
            return Vec::new();
        };
        let route = self.tree.get(id.route).clone();
        let views = self.views(g, now);
        if views.is_empty() {
            self.remove_group(id);
            return Vec::new();
        }
        let resolved_marks: Vec<(u64, i64)> = views
            .iter()
            .filter(|v| v.status == AlertStatus::Resolved)
            .map(|v| (v.fingerprint, v.alert.updated_at))
            .collect();
        let group_labels = g.labels.clone();
        let left = self.filtered(id.route, views, now, cache);
        let pick = |s: AlertStatus| -> Vec<u64> {
            left.iter()
                .filter(|a| a.status == s)
                .map(|a| a.fingerprint)
                .collect()
        };
        let (firing, resolved) = (pick(AlertStatus::Firing), pick(AlertStatus::Resolved));
        let flush_id = self.next_id;
        self.next_id += 1;
        let mut out = Vec::new();
        let mut b = Batch::default();
        for (i, integ) in self
            .integrations
            .get(&route.receiver)
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let key = NotificationLog::key(&route.receiver, i, &id.key);
            if !self.nflog.needs_update(
                &key,
                &firing,
                &resolved,
                integ.send_resolved,
                route.repeat_interval,
                now,
            ) {
                continue;
            }
            let alerts: Vec<NotifiedAlert> = left
                .iter()
                .filter(|a| a.status == AlertStatus::Firing || integ.send_resolved)
                .cloned()
                .collect();
            if alerts.is_empty() {
                // Only resolved alerts and send_resolved is off: log without sending, as
                // Alertmanager does, so the firing set is cleared.
                let e =
                    NflogEntry::new(firing.clone(), resolved.clone(), now, route.repeat_interval);
                let _ = b.put(Table::Nflog, &key, &e);
                self.nflog.log(&key, e);
                continue;
            }
            let mut n = Notification::new(
                &route.receiver,
                i,
                integ.kind,
                &id.key,
                group_labels.clone(),
                alerts,
                now,
            );
            n.id = self.next_id;
            self.next_id += 1;
            n.route = id.route;
            n.flush = flush_id;
            n.firing = firing.clone();
            n.resolved = resolved.clone();
            out.push(n);
        }
        if let Err(e) = self.commit_deferred(b) {
            tracing::warn!(error = %e, "Could not persist the notification log; the group may be notified again.");
        }
        let gi = route.group_interval;
        if let Some(g) = self.groups.get_mut(id) {
            g.has_flushed = true;
            g.next_flush = if g.next_flush + gi > now {
                g.next_flush + gi
            } else {
                now + gi
            };
            if !out.is_empty() {
                g.inflight = Some(Flush {
                    id: flush_id,
                    remaining: out.len(),
                    failed: false,
                    resolved: resolved_marks,
                });
                return out;
            }
        }
        self.delete_resolved(id, &resolved_marks);
        out
    }

    pub(super) fn delete_resolved(&mut self, id: &GroupId, marks: &[(u64, i64)]) {
        let now = self.clock.now_ms();
        let Some(g) = self.groups.get_mut(id) else {
            return;
        };
        for (fp, upd) in marks {
            if self
                .alerts
                .get(fp)
                .is_some_and(|r| r.alert.updated_at == *upd && r.alert.is_resolved(now))
            {
                g.alerts.remove(fp);
            }
        }
        if g.alerts.is_empty() {
            self.remove_group(id);
        }
        let mut b = Batch::default();
        for (fp, _) in marks {
            let orphan = !self.groups.values().any(|g| g.alerts.contains(fp));
            if orphan
                && self
                    .alerts
                    .get(fp)
                    .is_some_and(|r| r.alert.is_resolved(now))
            {
                self.alerts.remove(fp);
                b.delete(Table::Alerts, &fp_key(*fp));
            }
        }
        if let Err(e) = self.commit_deferred(b) {
            tracing::warn!(error = %e, "Could not delete resolved alerts from the store; they will be dropped after restart.");
        }
    }

    fn remove_group(&mut self, id: &GroupId) {
        self.groups.remove(id);
        if let Some(e) = self.escalations.remove(id) {
            let mut b = Batch::default();
            b.delete(Table::Escalations, &e.store_key());
            if let Err(e) = self.commit_deferred(b) {
                tracing::warn!(error = %e, "Could not delete an escalation from the store.");
            }
        }
    }

    fn escalate(&mut self, now: i64) -> Vec<Notification> {
        let mut out = Vec::new();
        let ids: Vec<GroupId> = self.escalations.keys().cloned().collect();
        let cache = if ids.is_empty() {
            SourceCache::default()
        } else {
            self.source_cache(now)
        };
        for id in ids {
            let Some(st) = self.escalations.get(&id).cloned() else {
                continue;
            };
            let Some(p) = self.policies.iter().find(|p| p.name == st.policy).cloned() else {
                continue;
            };
            let Some((due, level, round)) = st.due(&p) else {
                continue;
            };
            if due > now {
                continue;
            }
            let firing: Vec<NotifiedAlert> = match self.groups.get(&id) {
                Some(g) => {
                    let v = self.views(g, now);
                    self.filtered(id.route, v, now, &cache)
                        .into_iter()
                        .filter(|a| a.status == AlertStatus::Firing)
                        .collect()
                }
                None => Vec::new(),
            };
            let mut b = Batch::default();
            if firing.is_empty() {
                self.escalations.remove(&id);
                b.delete(Table::Escalations, &st.store_key());
            } else {
                let mut next = st.clone();
                next.next_step += 1;
                let _ = b.put(Table::Escalations, &next.store_key(), &next);
                self.escalations.insert(id.clone(), next);
                let labels = self
                    .groups
                    .get(&id)
                    .map(|g| g.labels.clone())
                    .unwrap_or_default();
                for recv in &p.levels[level].receivers {
                    for (i, integ) in self
                        .integrations
                        .get(recv)
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .enumerate()
                    {
                        let mut n = Notification::new(
                            recv,
                            i,
                            integ.kind,
                            &id.key,
                            labels.clone(),
                            firing.clone(),
                            now,
                        );
                        n.id = self.next_id;
                        self.next_id += 1;
                        n.route = id.route;
                        n.escalation = Some(EscalationStep {
                            policy: p.name.clone(),
                            level,
                            round,
                            contacts: p.levels[level].contacts.clone(),
                        });
                        out.push(n);
                    }
                }
            }
            if let Err(e) = self.commit_deferred(b) {
                tracing::warn!(error = %e, "Could not persist an escalation step.");
            }
        }
        out
    }

    /// Fails every notification still in flight, for shutdown; their groups flush again later.
    pub fn abandon_inflight(&mut self) {
        for g in self.groups.values_mut() {
            g.inflight = None;
        }
    }
}
