//! Grouping alerts into incidents online, as they arrive.
//!
//! A firing alert joins the open incident it is most related to, or opens a
//! new one. Related means, together:
//! - **identity**: the same service, instance or machine, whatever labels
//!   the source used ([`crate::entity`]);
//! - **placement**: an alert about a machine and the instances on it (where
//!   an instance runs comes from its labels, or is learned from series such
//!   as `kube_pod_info`: [`crate::placement`]); an instance alert on a
//!   machine whose own alert just fired goes to that machine's incident, and
//!   such an incident takes, through the graph, only the callers of the
//!   services that alerted on the machine;
//! - **topology**: services within a few calls of each other
//!   ([`crate::topology`]), a fault's callers and its callees;
//! - **history**: services whose alerts shared [`Settings::together_after`]
//!   earlier incidents or more, making up at least
//!   [`Settings::together_share`] of the incidents of the rarer of the two
//!   (two busy services meet by chance; wrongly merged incidents would
//!   otherwise teach more wrong merges);
//! - **what the alert says**: an alert reporting its service's own
//!   resources or process failing ([`Settings::own_trouble`]: its cpu,
//!   memory or disk, a crash loop, an exhausted pool) is not related as a
//!   caller of the incident's services, as their symptoms are: a caller of a
//!   failing dependency shows latency and errors, not its own resources
//!   failing;
//! - **time**: an incident takes such alerts for [`Settings::window_ms`]
//!   after it opened, and stops early once no alert joined or fired for
//!   [`Settings::quiet_ms`]. (A window that widened as the incident gathered
//!   services scored lower on generated storms and was dropped.)
//!
//! An alert that keeps firing on its own (it fired [`Settings::noisy_after`]
//! times in a day, and the last incident it opened held nothing else: a
//! flapping disk warning, a nightly job) joins only through
//! its own service, instance or machine, never through the graph, so noise
//! stays out of a fault's incident. A machine-level alert joins only its
//! own machine's incident, never another machine's; it merges the incidents
//! of the instances on that machine that opened within
//! [`Settings::burst_ms`] of each other, and moves to its incident the
//! alerts on its instances of the last burst that joined other incidents.
//! An alert that clears and fires again within a window goes back to its
//! incident while that incident's root still fires; once the root cleared,
//! to a related incident opened since it cleared, if any.
//!
//! ```
//! use argus_incident::correlate::{Correlator, Settings, Signal};
//! use argus_incident::topology::Topology;
//! use argus_model::Labels;
//!
//! let topo = Topology::from_csv("caller,callee\nweb,db\n").unwrap();
//! let mut c = Correlator::new(Settings::default(), topo);
//! let fire = |svc: &str, name: &str, at| Signal::firing(Labels::from_pairs(&[("alertname", name), ("service", svc)]), at);
//! let a = c.observe(fire("web", "HighLatency", 0)).unwrap();
//! let b = c.observe(fire("db", "SlowQueries", 40_000)).unwrap();
//! let x = c.observe(fire("billing", "DiskFull", 50_000)).unwrap();
//! assert_eq!(a, b);
//! assert_ne!(a, x);
//! assert_eq!(c.incident(a).unwrap().root.as_ref().unwrap().service.as_deref(), Some("db"));
//! ```

use crate::entity::{AliasBook, Entities};
use crate::model::{EntryKind, Incident, IncidentAlert, Root, Severity, State, Times};

use crate::topology::Topology;
use argus_model::Labels;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

#[path = "correlate_settings.rs"]
mod settings;
pub use settings::{Settings, Signal};

/// What an alert says of itself, beside what it is about.
#[derive(Debug, Clone, Copy)]
struct How {
    /// It keeps firing on its own ([`Settings::noisy_after`]).
    noisy: bool,
    /// It reports its service's own resources or process failing
    /// ([`Settings::own_trouble`]).
    own_trouble: bool,
}

/// What the correlator keeps beside an incident to answer "is this alert
/// related?" quickly.
#[derive(Debug, Clone, Default)]
struct Index {
    services: BTreeMap<String, i64>,
    instances: BTreeSet<String>,
    /// machine → (has a machine-level alert, first alert on it).
    nodes: BTreeMap<String, (bool, i64)>,
    /// machine → its first machine-level alert.
    node_alerts: BTreeMap<String, i64>,
    last_fire_ms: i64,
    opened_ms: i64,
    /// The root's service, once named.
    root: Option<String>,
    /// The machine of the alert that opened it, when known.
    opener_node: Option<String>,
    /// (machine, service) of its instance alerts that name both.
    placed: BTreeSet<(String, String)>,
}

impl Index {
    fn add(&mut self, e: &Entities, at: i64) {
        if let Some(s) = &e.service {
            self.services.entry(s.clone()).or_insert(at);
        }
        if let Some(i) = &e.instance {
            self.instances.insert(i.clone());
        }
        if let (Some(n), Some(s)) = (&e.node, &e.service) {
            self.placed.insert((n.clone(), s.clone()));
        }
        if let Some(n) = &e.node {
            let v = self.nodes.entry(n.clone()).or_insert((false, at));
            v.0 |= e.is_node_level();
            if e.is_node_level() {
                self.node_alerts.entry(n.clone()).or_insert(at);
            }
        }
        self.last_fire_ms = self.last_fire_ms.max(at);
    }

    fn of(inc: &Incident) -> Index {
        let mut ix = Index {
            opened_ms: inc.times.detected_ms,
            opener_node: inc.alerts.first().and_then(|a| a.entities.node.clone()),
            root: inc.root.as_ref().and_then(|r| r.service.clone()),
            ..Index::default()
        };
        for a in &inc.alerts {
            ix.add(&a.entities, a.joined_ms);
            ix.last_fire_ms =
                ix.last_fire_ms
                    .max(if a.firing { a.changed_ms } else { a.joined_ms });
        }
        ix
    }
}

/// The online correlator: incidents, what it learned, and the changes not
/// yet saved.
#[derive(Debug)]
pub struct Correlator {
    settings: Settings,
    topo: Topology,
    aliases: AliasBook,
    incidents: BTreeMap<u64, Incident>,
    index: HashMap<u64, Index>,
    /// alert key → the active incident it is in.
    by_alert: HashMap<u64, u64>,
    /// alert key → its recent firing times.
    fired: HashMap<u64, VecDeque<i64>>,
    /// alert key → the last incident it opened.
    solo: HashMap<u64, u64>,
    /// (service, service) → incidents they shared.
    together: HashMap<(String, String), u32>,
    /// service → closed incidents it was in (those learned from).
    seen_in: HashMap<String, u32>,
    next_id: u64,
    dirty: BTreeSet<u64>,
    /// Alerts moved by the last `observe`: (key, from, to).
    moved: Vec<(u64, u64, u64)>,
}

impl Correlator {
    /// A correlator with no incidents over the graph `topo`.
    pub fn new(settings: Settings, topo: Topology) -> Self {
        Correlator {
            settings,
            topo,
            aliases: AliasBook::default(),
            incidents: BTreeMap::new(),
            index: HashMap::new(),
            by_alert: HashMap::new(),
            fired: HashMap::new(),
            solo: HashMap::new(),
            together: HashMap::new(),
            seen_in: HashMap::new(),
            next_id: 1,
            dirty: BTreeSet::new(),
            moved: Vec::new(),
        }
    }

    /// Puts back incidents read from the store; new ones are numbered after
    /// the highest.
    pub fn restore(&mut self, incidents: Vec<Incident>) {
        for inc in incidents {
            self.next_id = self.next_id.max(inc.id + 1);
            if inc.is_active() {
                for a in &inc.alerts {
                    self.by_alert.insert(a.key, inc.id);
                }
                self.index.insert(inc.id, Index::of(&inc));
            } else if inc.merged_into.is_none() {
                self.learn_together(&inc);
            }
            for a in &inc.alerts {
                self.fired.entry(a.key).or_default().push_back(a.joined_ms);
            }
            if let Some(first) = inc.alerts.first() {
                if inc.alerts.iter().all(|a| a.key == first.key) {
                    self.solo.insert(first.key, inc.id);
                }
            }
            self.incidents.insert(inc.id, inc);
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Replaces the settings (on reload).
    pub fn set_settings(&mut self, s: Settings) {
        self.settings = s;
    }

    /// The service graph.
    pub fn topology(&self) -> &Topology {
        &self.topo
    }

    /// Replaces the service graph (on reload).
    pub fn set_topology(&mut self, t: Topology) {
        self.topo = t;
    }

    /// Learns names and call edges from a series' labels.
    pub fn learn(&mut self, labels: &Labels) {
        self.aliases.learn(labels);
        self.topo.learn(labels);
    }

    /// What has been learned about names.
    pub fn aliases(&self) -> &AliasBook {
        &self.aliases
    }

    /// One incident.
    pub fn incident(&self, id: u64) -> Option<&Incident> {
        self.incidents.get(&id)
    }

    /// Every incident kept, oldest first.
    pub fn incidents(&self) -> impl Iterator<Item = &Incident> {
        self.incidents.values()
    }

    /// The ids of incidents changed since the last call, for the store.
    pub fn take_dirty(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.dirty).into_iter().collect()
    }

    /// The incident an alert is in, while it is active.
    pub fn incident_of(&self, key: u64) -> Option<u64> {
        self.by_alert.get(&key).copied()
    }

    /// Takes one alert change. For a firing alert, returns the incident it
    /// is now in; for a resolved one, the incident it was in.
    pub fn observe(&mut self, s: Signal) -> Option<u64> {
        self.aliases.learn(&s.labels);
        self.moved.clear();
        if !s.firing {
            return self.resolve_alert(&s);
        }
        let e = self.aliases.resolve(&s.labels);
        let noisy = self.noisy(s.key, s.at_ms);
        let how = How {
            noisy,
            own_trouble: self.settings.is_own_trouble(&s.labels),
        };
        let mut only_after = None;
        if let Some(&id) = self.by_alert.get(&s.key) {
            match self.flap(id, &s) {
                Flap::Firing => {
                    self.refire(id, &s, &e);
                    return Some(id);
                }
                // Back within a window of clearing: the same trouble again
                // while its root still fires; once the root cleared, a
                // trouble that started since then explains it better.
                Flap::Cleared(t)
                    if self.root_firing(id)
                        || self.best_home(&e, s.at_ms, how, Some((t, id))).is_none() =>
                {
                    self.refire(id, &s, &e);
                    return Some(id);
                }
                Flap::Cleared(t) => only_after = Some((t, id)),
                // Resolved long enough ago: this firing is judged afresh.
                Flap::Gone => {}
            }
            self.by_alert.remove(&s.key);
        }
        if let Some(id) = self.recurring(&s, noisy) {
            self.refire(id, &s, &e);
            return Some(id);
        }
        let id = match self.best_home(&e, s.at_ms, how, only_after) {
            Some(id) => {
                self.join(id, &s, e.clone());
                id
            }
            None => self.open(&s, e.clone()),
        };
        if let (Some(node), false) = (e.node.as_deref().filter(|_| e.is_node_level()), noisy) {
            self.merge_on_machine(id, &e, s.at_ms);
            self.gather_machine(id, node, s.at_ms);
        }
        self.rerank(id, s.at_ms);
        Some(id)
    }

    /// Where the alert `s` stands in incident `id`.
    fn flap(&self, id: u64, s: &Signal) -> Flap {
        let a = self
            .incidents
            .get(&id)
            .and_then(|inc| inc.alerts.iter().find(|a| a.key == s.key));
        match a {
            Some(a) if a.firing => Flap::Firing,
            Some(a) if s.at_ms - a.changed_ms <= self.settings.window_ms => {
                Flap::Cleared(a.changed_ms)
            }
            _ => Flap::Gone,
        }
    }

    /// True when an alert of incident `id`'s root (its service, or its
    /// machine's own alerts) still fires.
    fn root_firing(&self, id: u64) -> bool {
        let Some(inc) = self.incidents.get(&id) else {
            return false;
        };
        let Some(r) = &inc.root else {
            return false;
        };
        inc.alerts.iter().any(|a| {
            a.firing
                && match (&r.service, &r.node) {
                    (Some(s), _) => a.entities.service.as_ref() == Some(s),
                    (None, Some(n)) => {
                        a.entities.is_node_level() && a.entities.node.as_ref() == Some(n)
                    }
                    _ => false,
                }
        })
    }

    /// The open incident an alert about `e` at `at` is most related to
    /// (among equals the most recently opened), if any reaches the join
    /// threshold; with `after` `(t, id)`, only among those opened after `t`
    /// other than `id`.
    fn best_home(
        &mut self,
        e: &Entities,
        at: i64,
        how: How,
        after: Option<(i64, u64)>,
    ) -> Option<u64> {
        let mut best: Option<(f64, i64, u64)> = None;
        let ids: Vec<u64> = self.index.keys().copied().collect();
        for id in ids {
            let Some(ix) = self.index.get(&id) else {
                continue;
            };
            if at - ix.opened_ms > self.settings.window_ms
                || after.is_some_and(|(t, old)| id == old || ix.opened_ms <= t)
            {
                continue;
            }
            let ix = ix.clone();
            let r = self.relation(e, at, &ix, how);
            if r < self.settings.join_threshold {
                continue;
            }
            let c = (r, ix.opened_ms, id);
            let better = best.is_none_or(|b| {
                c.0.total_cmp(&b.0)
                    .then(c.1.cmp(&b.1))
                    .then(c.2.cmp(&b.2))
                    .is_gt()
            });
            if better {
                best = Some(c);
            }
        }
        best.map(|b| b.2)
    }

    /// An alert that fires again and again on its own (its last incident
    /// held nothing else) goes back to that incident, reopened if it was
    /// resolved, for as long as it keeps recurring.
    fn recurring(&mut self, s: &Signal, noisy: bool) -> Option<u64> {
        let &id = self.solo.get(&s.key)?;
        let inc = self.incidents.get(&id)?;
        let alone = inc.merged_into.is_none() && inc.alerts.iter().all(|a| a.key == s.key);
        let recent = s.at_ms - inc.updated_ms <= self.settings.noisy_window_ms;
        if !(alone && recent && noisy) {
            return None;
        }
        if inc.state == State::Resolved {
            let inc = self.incidents.get_mut(&id)?;
            inc.state = State::Open;
            inc.times.recovered_ms = None;
            inc.log(
                s.at_ms,
                EntryKind::Reopened,
                "Reopened: its alert fired again.".to_string(),
                Some(s.key),
            );
            self.reactivate(id);
        }
        self.by_alert.insert(s.key, id);
        Some(id)
    }

    fn alert_of(s: &Signal, e: Entities) -> IncidentAlert {
        IncidentAlert {
            key: s.key,
            labels: s
                .labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect(),
            annotations: s.annotations.clone(),
            entities: e,
            severity: Severity::parse(s.labels.get("severity").unwrap_or("")),
            starts_at_ms: s.starts_at_ms.min(s.at_ms),
            joined_ms: s.at_ms,
            changed_ms: s.at_ms,
            firing: true,
            firings: 1,
            expires_ms: s.ends_at_ms,
        }
    }

    fn open(&mut self, s: &Signal, e: Entities) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut inc = Incident {
            id,
            title: String::new(),
            state: State::Open,
            owner: None,
            severity: Severity::None,
            root: None,
            times: Times {
                fault_start_ms: s.starts_at_ms.min(s.at_ms),
                detected_ms: s.at_ms,
                ..Times::default()
            },
            alerts: Vec::new(),
            timeline: Vec::new(),
            merged_into: None,
            evidence: Vec::new(),
            evidence_at_ms: None,
            changes: Vec::new(),
            suspects: Vec::new(),
            assistant: None,
            updated_ms: s.at_ms,
        };
        inc.log(
            s.at_ms,
            EntryKind::Opened,
            format!("Opened by {}.", describe(&s.labels)),
            Some(s.key),
        );
        self.incidents.insert(id, inc);
        self.solo.insert(s.key, id);
        self.index.insert(
            id,
            Index {
                opened_ms: s.at_ms,
                opener_node: e.node.clone(),
                ..Index::default()
            },
        );
        self.join(id, s, e);
        id
    }

    fn join(&mut self, id: u64, s: &Signal, e: Entities) {
        let Some(inc) = self.incidents.get_mut(&id) else {
            return;
        };
        if inc.alerts.iter().any(|a| a.key == s.key) {
            self.by_alert.insert(s.key, id);
            self.refire(id, s, &e);
            return;
        }
        let a = Self::alert_of(s, e.clone());
        inc.severity = inc.severity.max(a.severity);
        inc.log(
            s.at_ms,
            EntryKind::AlertFiring,
            format!("{} fired.", describe(&s.labels)),
            Some(s.key),
        );
        inc.alerts.push(a);
        self.index.entry(id).or_default().add(&e, s.at_ms);
        self.by_alert.insert(s.key, id);
        self.dirty.insert(id);
    }

    fn refire(&mut self, id: u64, s: &Signal, e: &Entities) {
        let Some(inc) = self.incidents.get_mut(&id) else {
            return;
        };
        let Some(a) = inc.alerts.iter_mut().find(|a| a.key == s.key) else {
            return;
        };
        // A new validity alone is not saved: every resend would rewrite the
        // incident, and at start the pipeline's firing alerts refresh it.
        let changed = a.annotations != s.annotations;
        a.annotations.clone_from(&s.annotations);
        a.expires_ms = s.ends_at_ms;
        if a.firing {
            if changed {
                self.dirty.insert(id);
            }
            return;
        }
        a.firing = true;
        a.firings += 1;
        a.changed_ms = s.at_ms;
        inc.log(
            s.at_ms,
            EntryKind::AlertFiring,
            format!("{} fired again.", describe(&s.labels)),
            Some(s.key),
        );
        self.index.entry(id).or_default().add(e, s.at_ms);
        self.dirty.insert(id);
    }

    fn resolve_alert(&mut self, s: &Signal) -> Option<u64> {
        let id = *self.by_alert.get(&s.key)?;
        let inc = self.incidents.get_mut(&id)?;
        let a = inc.alerts.iter_mut().find(|a| a.key == s.key)?;
        if !a.firing {
            return Some(id);
        }
        a.firing = false;
        a.changed_ms = s.at_ms;
        inc.log(
            s.at_ms,
            EntryKind::AlertResolved,
            format!("{} resolved.", describe(&s.labels)),
            Some(s.key),
        );
        self.dirty.insert(id);
        Some(id)
    }
}

/// Where a firing alert stands in the incident it was last in.
enum Flap {
    /// Still firing there (a resend).
    Firing,
    /// Cleared at this time, less than a window ago.
    Cleared(i64),
    /// Cleared long ago, or no longer there.
    Gone,
}

fn ordered(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

/// Where a root is, in words.
pub fn place(r: &Root) -> String {
    match (&r.service, &r.instance, &r.node) {
        (Some(s), Some(i), _) => format!("service {s} ({i})"),
        (Some(s), None, _) => format!("service {s}"),
        (None, _, Some(n)) => format!("machine {n}"),
        _ => "unknown".to_string(),
    }
}

fn describe(labels: &Labels) -> String {
    let name = labels.get("alertname").unwrap_or("alert");
    let on = ["service", "job", "pod", "instance", "node", "host"]
        .iter()
        .find_map(|k| labels.get(k));
    match on {
        Some(v) => format!("{name} on {v}"),
        None => name.to_string(),
    }
}

#[path = "correlate_life.rs"]
mod life;
#[path = "correlate_machine.rs"]
mod machine;
#[path = "correlate_relation.rs"]
mod relation;

#[cfg(test)]
#[path = "correlate_tests.rs"]
mod tests;
