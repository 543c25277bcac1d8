//! The dispatcher: a synchronous state machine that owns the alerts, the aggregation groups, the
//! silences, the notification log and the escalations. It never sleeps and never reads the
//! clock on its own in [`Dispatcher::tick`]: the caller passes `now`, so timelines are tested on a
//! paused clock. A thin tokio task ([`crate::runner::Runner`]) drives it in production.
//!
//! Protocol: feed alerts with [`Dispatcher::put_alerts`]; call [`Dispatcher::tick`] at
//! [`Dispatcher::next_wakeup`] (or more often); deliver each returned [`crate::Notification`]; report
//! each outcome with [`Dispatcher::complete`], which writes the notification log.
//!
//! ```
//! use argus_alert::{config::Config, Alert, Dispatcher};
//! use argus_model::{Labels, ManualClock};
//! use std::sync::Arc;
//! let cfg = Config::parse("route: {receiver: r, group_by: [alertname]}\nreceivers: [{name: r, webhook_configs: [{url: 'http://x/'}]}]\n", "am.yml").unwrap();
//! let clock = Arc::new(ManualClock::new(0));
//! let mut d = Dispatcher::new(cfg, clock.clone(), None).unwrap();
//! d.put_alerts(vec![Alert::firing(Labels::from_pairs(&[("alertname", "Down")]), 0)]).unwrap();
//! assert!(d.tick(0).is_empty());
//! clock.set(30_000); // group_wait
//! let out = d.tick(30_000);
//! assert_eq!(out.len(), 1);
//! d.complete(&out[0], true).unwrap();
//! ```

mod actions;
mod complete;
mod flush;
mod integrations;
mod types;

pub use actions::HistoryQuery;
pub use integrations::{integrations, Integration};
pub use types::{AlertInfo, AlertRecord, DispatchError, GroupId, GroupInfo};

use crate::alert::Alert;
use crate::config::{Config, EscalationPolicyConfig, TimeIntervalConfig};
use crate::escalation::{Ack, AckTarget, EscalationState};
use crate::flap::FlapState;
use crate::inhibit::Inhibitor;
use crate::nflog::{NflogEntry, NotificationLog};
use crate::route::RouteTree;
use crate::silence::{Silence, Silences};
use crate::store::{Action, Batch, Store, StoreError, Table};
use argus_model::{Clock, Labels};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

#[derive(Debug)]
struct Flush {
    id: u64,
    remaining: usize,
    failed: bool,
    resolved: Vec<(u64, i64)>,
}

#[derive(Debug)]
struct AggrGroup {
    labels: Labels,
    alerts: BTreeSet<u64>,
    next_flush: i64,
    has_flushed: bool,
    inflight: Option<Flush>,
}

/// The dispatcher; see the module docs for the protocol.
#[derive(Debug)]
pub struct Dispatcher {
    clock: Arc<dyn Clock>,
    cfg: Arc<Config>,
    tree: RouteTree,
    inhibitor: Inhibitor,
    intervals: HashMap<String, TimeIntervalConfig>,
    integrations: HashMap<String, Vec<Integration>>,
    alerts: HashMap<u64, AlertRecord>,
    flap: HashMap<u64, FlapState>,
    groups: BTreeMap<GroupId, AggrGroup>,
    silences: Silences,
    nflog: NotificationLog,
    escalations: BTreeMap<GroupId, EscalationState>,
    policies: Vec<EscalationPolicyConfig>,
    store: Option<Store>,
    next_id: u64,
    last_gc: i64,
    observer: Option<Arc<dyn crate::observe::AlertObserver>>,
}

/// Records as they were before a change, to put back if the store refuses it.
#[derive(Debug, Default)]
pub(crate) struct Undo {
    alerts: Vec<(u64, AlertRecord)>,
    escalations: Vec<(GroupId, EscalationState)>,
}

fn fp_key(fp: u64) -> String {
    format!("{fp:016x}")
}

impl Dispatcher {
    /// Builds a dispatcher and, with a store, restores silences, the notification log, alerts,
    /// flap histories and escalations from it.
    pub fn new(
        cfg: Config,
        clock: Arc<dyn Clock>,
        store: Option<Store>,
    ) -> Result<Self, DispatchError> {
        let mut d = Dispatcher {
            clock,
            cfg: Arc::new(cfg.clone()),
            tree: RouteTree::build(&cfg.route).map_err(DispatchError::Config)?,
            inhibitor: Inhibitor::default(),
            intervals: HashMap::new(),
            integrations: HashMap::new(),
            alerts: HashMap::new(),
            flap: HashMap::new(),
            groups: BTreeMap::new(),
            silences: Silences::default(),
            nflog: NotificationLog::default(),
            escalations: BTreeMap::new(),
            policies: Vec::new(),
            store,
            next_id: 1,
            last_gc: 0,
            observer: None,
        };
        d.apply_config(cfg)?;
        if let Some(st) = &d.store {
            for (_, s) in st.load::<Silence>(Table::Silences)? {
                d.silences.restore(s)?;
            }
            for (k, e) in st.load::<NflogEntry>(Table::Nflog)? {
                d.nflog.log(&k, e);
            }
            for (k, f) in st.load::<FlapState>(Table::Flap)? {
                if let Ok(fp) = u64::from_str_radix(&k, 16) {
                    d.flap.insert(fp, f);
                }
            }
            for (_, r) in st.load::<AlertRecord>(Table::Alerts)? {
                d.alerts.insert(r.alert.fingerprint(), r);
            }
            for (_, e) in st.load::<EscalationState>(Table::Escalations)? {
                d.escalations.insert(
                    GroupId {
                        route: e.route,
                        key: e.group_key.clone(),
                    },
                    e,
                );
            }
        }
        let now = d.clock.now_ms();
        let fps: Vec<u64> = d.alerts.keys().copied().collect();
        for fp in fps {
            d.route_alert(fp, now);
        }
        Ok(d)
    }

    fn apply_config(&mut self, cfg: Config) -> Result<(), DispatchError> {
        // Build everything that can fail before changing anything, so a failed reload keeps
        // the old config whole.
        let tree = RouteTree::build(&cfg.route).map_err(DispatchError::Config)?;
        let inhibitor = Inhibitor::build(&cfg.inhibit_rules).map_err(DispatchError::Config)?;
        let policies =
            crate::escalation::expand_policies(&cfg.argus).map_err(DispatchError::Config)?;
        self.tree = tree;
        self.policies = policies;
        self.inhibitor = inhibitor;
        self.intervals = cfg
            .all_time_intervals()
            .map(|t| (t.name.clone(), t.clone()))
            .collect();
        self.integrations = cfg
            .all_receivers()
            .iter()
            .map(|r| (r.name.clone(), integrations(r, &cfg.argus)))
            .collect();
        self.cfg = Arc::new(cfg);
        Ok(())
    }

    /// Applies a new config: routes are rebuilt and every alert is regrouped, with fresh
    /// `group_wait`s (as Alertmanager does on reload); the notification log prevents resends.
    pub fn reload(&mut self, cfg: Config) -> Result<(), DispatchError> {
        self.apply_config(cfg)?;
        self.groups.clear();
        let now = self.clock.now_ms();
        let fps: Vec<u64> = self.alerts.keys().copied().collect();
        for fp in fps {
            self.route_alert(fp, now);
        }
        Ok(())
    }

    /// Sets (or clears) the observer told about alerts taken, notifications
    /// delivered and acknowledgements ([`crate::observe`]). Every alert is
    /// grouped again, so routes that group by incident see the incidents of
    /// alerts restored from the store. Set it before the runner starts: a
    /// group rebuilt under a flush in flight would notify again.
    pub fn set_observer(&mut self, o: Option<Arc<dyn crate::observe::AlertObserver>>) {
        self.observer = o;
        self.groups.clear();
        let now = self.clock.now_ms();
        let fps: Vec<u64> = self.alerts.keys().copied().collect();
        for fp in fps {
            self.route_alert(fp, now);
        }
    }

    /// The config in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Receives alerts (new, updated or resolved). They are merged like Alertmanager merges them,
    /// committed to the store (or kept in memory for it while it fails), and then routed into
    /// their aggregation groups.
    pub fn put_alerts(&mut self, alerts: Vec<Alert>) -> Result<(), DispatchError> {
        let now = self.clock.now_ms();
        let flap_cfg = self.cfg.argus.flap_damping;
        let mut batch = Batch::default();
        let mut recs: Vec<(u64, AlertRecord, FlapState)> = Vec::new();
        for mut a in alerts {
            if a.updated_at == 0 {
                a.updated_at = now;
            }
            let fp = a.fingerprint();
            let prev = recs
                .iter()
                .rev()
                .find(|(f, _, _)| *f == fp)
                .map(|(_, r, _)| r.clone())
                .or_else(|| self.alerts.get(&fp).cloned());
            let rec = match prev {
                Some(p) if p.alert.overlaps(&a) => AlertRecord {
                    alert: p.alert.merge(&a, now),
                    ack: p.ack,
                },
                Some(p) if !p.alert.is_resolved(now) => AlertRecord {
                    alert: a,
                    ack: p.ack,
                },
                _ => AlertRecord {
                    alert: a,
                    ack: None,
                },
            };
            let mut flap = self.flap.get(&fp).cloned().unwrap_or_default();
            let before = flap.clone();
            let firing = !rec.alert.is_resolved(now);
            flap.observe(firing, now, &flap_cfg);
            if before.last_firing != Some(firing) && (firing || before.last_firing.is_some()) {
                batch.action(actions::transition(fp, &rec.alert, firing, now, "argus"));
            }
            batch.put(Table::Alerts, &fp_key(fp), &rec)?;
            if flap != before {
                batch.put(Table::Flap, &fp_key(fp), &flap)?;
            }
            recs.push((fp, rec, flap));
        }
        self.commit_deferred(batch)?;
        if let Some(o) = &self.observer {
            let changes: Vec<crate::observe::AlertChange> = recs
                .iter()
                .map(|(fp, r, _)| crate::observe::AlertChange {
                    fingerprint: *fp,
                    labels: r.alert.labels.clone(),
                    annotations: r.alert.annotations.clone(),
                    firing: !r.alert.is_resolved(now),
                    starts_at_ms: r.alert.starts_at,
                    ends_at_ms: r.alert.ends_at,
                    at_ms: now,
                })
                .collect();
            o.alerts(&changes);
        }
        for (fp, rec, flap) in recs {
            self.alerts.insert(fp, rec);
            self.flap.insert(fp, flap);
            self.route_alert(fp, now);
        }
        Ok(())
    }

    fn route_alert(&mut self, fp: u64, now: i64) {
        let Some(rec) = self.alerts.get(&fp) else {
            return;
        };
        let labels = rec.alert.labels.clone();
        let starts_at = rec.alert.starts_at;
        // The labels grouping sees: the alert's, and its incident's id when
        // the observer knows it (for routes that group by incident).
        let mut grouping = labels.clone();
        if grouping.get(crate::observe::INCIDENT_LABEL).is_none() {
            if let Some(id) = self.observer.as_ref().and_then(|o| o.incident_of(fp)) {
                grouping.set(crate::observe::INCIDENT_LABEL, &id);
            }
        }
        for idx in self.tree.match_labels(&labels) {
            let route = self.tree.get(idx);
            let gl = self.tree.group_labels(idx, &grouping);
            let id = GroupId {
                route: idx,
                key: self.tree.group_key(idx, &gl),
            };
            let wait = route.group_wait;
            let g = self.groups.entry(id).or_insert_with(|| AggrGroup {
                labels: gl,
                alerts: BTreeSet::new(),
                next_flush: now + wait,
                has_flushed: false,
                inflight: None,
            });
            if !g.has_flushed && starts_at + wait < now {
                g.next_flush = g.next_flush.min(now);
            }
            g.alerts.insert(fp);
        }
    }

    /// The store, if the dispatcher persists its state.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// Commits a change that must be on disk before it is acknowledged (silences,
    /// acknowledgements): while the store fails it is refused with
    /// [`StoreError::Unavailable`], and the caller undoes it in memory.
    pub(crate) fn commit(&self, b: Batch) -> Result<(), StoreError> {
        match &self.store {
            Some(s) => s.commit(b),
            None => Ok(()),
        }
    }

    /// Commits the pipeline's own state (alerts, the notification log, flap histories,
    /// escalation steps): while the store fails it is kept in memory and committed once the
    /// store writes again, so alerts keep flowing. Errors only for records that cannot be
    /// encoded.
    pub(crate) fn commit_deferred(&self, b: Batch) -> Result<(), StoreError> {
        match &self.store {
            Some(s) => s.commit_or_defer(b).map(|_| ()),
            None => Ok(()),
        }
    }

    /// The earliest time at which [`Dispatcher::tick`] has work: a group flush or an escalation.
    pub fn next_wakeup(&self) -> Option<i64> {
        let groups = self
            .groups
            .values()
            .filter(|g| g.inflight.is_none())
            .map(|g| g.next_flush);
        let esc = self.escalations.values().filter_map(|e| {
            self.policies
                .iter()
                .find(|p| p.name == e.policy)
                .and_then(|p| e.due(p))
                .map(|(t, _, _)| t)
        });
        groups.chain(esc).min()
    }

    /// Creates or updates a silence (see [`Silences::set`]); committed before it returns.
    pub fn set_silence(&mut self, s: Silence) -> Result<String, DispatchError> {
        let now = self.clock.now_ms();
        let old_id = s.id.clone();
        let who = s.created_by.clone();
        let before = self.silences.get(&old_id).cloned();
        let id = self.silences.set(s, now)?;
        let mut b = Batch::default();
        if let Some(old) = self.silences.get(&old_id).filter(|_| old_id != id) {
            b.put(Table::Silences, &old_id, old)?;
        }
        if let Some(new) = self.silences.get(&id) {
            b.put(Table::Silences, &id, new)?;
        }
        b.action(Action {
            at: now,
            who,
            kind: "silence_set".into(),
            target: id.clone(),
            comment: String::new(),
            ..Default::default()
        });
        if let Err(e) = self.commit(b) {
            // Undo in memory so memory and store agree.
            match before {
                Some(old) => self.silences.restore(old)?,
                None => {
                    self.silences.expire(&id, now)?;
                }
            }
            return Err(e.into());
        }
        Ok(id)
    }

    /// Expires a silence; committed before it returns.
    pub fn expire_silence(&mut self, id: &str, who: &str) -> Result<(), DispatchError> {
        let now = self.clock.now_ms();
        let before = self.silences.get(id).cloned();
        let s = self.silences.expire(id, now)?.clone();
        let mut b = Batch::default();
        b.put(Table::Silences, id, &s)?;
        b.action(Action {
            at: now,
            who: who.into(),
            kind: "silence_expire".into(),
            target: id.into(),
            comment: String::new(),
            ..Default::default()
        });
        if let Err(e) = self.commit(b) {
            // Undo in memory so memory and store agree.
            if let Some(old) = before {
                self.silences.restore(old)?;
            }
            return Err(e.into());
        }
        Ok(())
    }

    /// The silences.
    pub fn silences(&self) -> &Silences {
        &self.silences
    }

    /// Acknowledges an alert or a group: escalation stops for the groups it covers.
    pub fn ack(
        &mut self,
        target: AckTarget,
        who: &str,
        comment: &str,
    ) -> Result<(), DispatchError> {
        let now = self.clock.now_ms();
        let ack = Ack {
            who: who.into(),
            at: now,
            comment: comment.into(),
        };
        let mut b = Batch::default();
        let mut undo = Undo::default();
        let label = match &target {
            AckTarget::Alert(fp) => {
                let rec = self
                    .alerts
                    .get_mut(fp)
                    .ok_or_else(|| DispatchError::NotFound(fp_key(*fp)))?;
                undo.alerts.push((*fp, rec.clone()));
                rec.ack = Some(ack.clone());
                b.put(Table::Alerts, &fp_key(*fp), &*rec)?;
                fp_key(*fp)
            }
            AckTarget::Group(k) => k.clone(),
        };
        let mut hit = matches!(target, AckTarget::Alert(_));
        // A group's ack covers its active alerts, with or without an escalation.
        if let AckTarget::Group(_) = &target {
            for fp in self.target_alerts(&target) {
                let Some(rec) = self.alerts.get_mut(&fp) else {
                    continue;
                };
                if rec.ack.is_some() || rec.alert.is_resolved(now) {
                    continue;
                }
                undo.alerts.push((fp, rec.clone()));
                rec.ack = Some(ack.clone());
                b.put(Table::Alerts, &fp_key(fp), &*rec)?;
                hit = true;
            }
        }
        let ids: Vec<GroupId> = self.escalations.keys().cloned().collect();
        for id in ids {
            let covered = match &target {
                AckTarget::Group(k) => id.key == *k,
                AckTarget::Alert(_) => self.groups.get(&id).is_some_and(|g| {
                    g.alerts
                        .iter()
                        .filter_map(|f| self.alerts.get(f))
                        .all(|r| r.ack.is_some() || r.alert.is_resolved(now))
                }),
            };
            if let Some(e) = self
                .escalations
                .get_mut(&id)
                .filter(|e| covered && e.acked.is_none())
            {
                undo.escalations.push((id.clone(), e.clone()));
                e.acked = Some(ack.clone());
                b.put(Table::Escalations, &e.store_key(), &*e)?;
                hit = true;
            }
        }
        if !hit {
            return Err(DispatchError::NotFound(label));
        }
        b.action(Action {
            at: now,
            who: who.into(),
            kind: "ack".into(),
            target: label,
            comment: comment.into(),
            labels: self.target_labels(&target),
        });
        if let Err(e) = self.commit(b) {
            self.undo(undo);
            return Err(e.into());
        }
        if let Some(o) = &self.observer {
            let fps = match &target {
                AckTarget::Alert(fp) => vec![*fp],
                AckTarget::Group(_) => self.target_alerts(&target),
            };
            o.acknowledged(&fps, who, now);
        }
        Ok(())
    }

    /// Puts back records changed in memory by a change the store refused.
    pub(crate) fn undo(&mut self, u: Undo) {
        for (fp, rec) in u.alerts {
            self.alerts.insert(fp, rec);
        }
        for (id, e) in u.escalations {
            self.escalations.insert(id, e);
        }
    }

    /// The escalations in progress.
    pub fn escalations(&self) -> impl Iterator<Item = &EscalationState> {
        self.escalations.values()
    }

    /// The recorded actions with `from <= at < to` (empty without a store).
    pub fn history(&self, from: i64, to: i64, limit: usize) -> Result<Vec<Action>, DispatchError> {
        match &self.store {
            Some(s) => Ok(s.actions(from, to, limit)?),
            None => Ok(Vec::new()),
        }
    }

    /// The aggregation groups.
    pub fn groups(&self) -> Vec<GroupInfo> {
        self.groups
            .iter()
            .map(|(id, g)| GroupInfo {
                id: id.clone(),
                receiver: self.tree.get(id.route).receiver.clone(),
                labels: g.labels.clone(),
                alerts: g.alerts.iter().copied().collect(),
            })
            .collect()
    }

    /// Every alert known, with its silences, inhibition and receivers at `now`.
    pub fn alerts(&self) -> Vec<AlertInfo> {
        let now = self.clock.now_ms();
        let cache = self.source_cache(now);
        let mut out: Vec<AlertInfo> = self
            .alerts
            .iter()
            .map(|(fp, r)| AlertInfo {
                alert: r.alert.clone(),
                fingerprint: *fp,
                silenced_by: self.silences.mutes(&r.alert.labels, now),
                inhibited_by: self.inhibitor.mutes(&cache, &r.alert.labels),
                receivers: self
                    .tree
                    .match_labels(&r.alert.labels)
                    .into_iter()
                    .map(|i| self.tree.get(i).receiver.clone())
                    .collect(),
                ack: r.ack.clone(),
            })
            .collect();
        out.sort_by_key(|a| a.fingerprint);
        out
    }

    fn source_cache(&self, now: i64) -> crate::inhibit::SourceCache {
        self.inhibitor.sources(
            self.alerts
                .iter()
                .filter(|(_, r)| !r.alert.is_resolved(now))
                .map(|(fp, r)| (*fp, &r.alert.labels)),
        )
    }
}
