//! The health state of every service, with no I/O: readings and probe results
//! go in, alerts (as they change), five-tuples and samples come out. All
//! timing is on the injected clock.
//!
//! Alerts: `ServiceDown` (label `reason` = heartbeat|http|tcp|process),
//! `ServiceOverloaded`, `ServiceStarved` and `HeartbeatStoreDown`, each with
//! `service`, `node`, `source` and `severity`. A condition whose check is
//! unknown (heartbeats while Redis is away, a probe that has not run yet)
//! keeps its alert as it was. Firing alerts are valid for four resend
//! intervals; resolved ones carry `endsAt` = the time they resolved and are
//! repeated at each resend for 15 minutes, as Prometheus does.
//!
//! ```
//! use argus_health::monitor::Monitor;
//! use argus_model::ManualClock;
//! use std::sync::Arc;
//! let cfg: argus_health::HealthConfig = serde_saphyr::from_str(
//!     "redis_url: redis://127.0.0.1:1\nservices:\n  - {name: api, heartbeat: {interval: 1s}}\n",
//! ).unwrap();
//! let clock = Arc::new(ManualClock::new(0));
//! let mut m = Monitor::new(&cfg, clock.clone()).unwrap();
//! let alerts = m.redis_poll(Err("connection refused".into()));
//! assert_eq!(alerts[0].labels["alertname"], "HeartbeatStoreDown");
//! clock.advance(60_000);
//! // Back after a minute: a new baseline, no ServiceDown; the store alert resolves.
//! let alerts = m.redis_poll(Ok(vec![(0, None)]));
//! assert!(alerts.iter().all(|a| a.resolved));
//! ```

use crate::config::{HealthConfig, HeartbeatSource, ProbeConfig, SaturationConfig, Source};
use crate::heartbeat::{HeartbeatState, Verdict};
use crate::probe::ProbeOutcome;
use crate::saturation::{classify, saturation, SaturationClass};
use crate::HealthError;
use argus_model::alert::{AlertEvent, Lifecycle};
use argus_model::{Clock, Labels};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// How long resolved alerts are repeated at each resend, as in Prometheus.
pub use argus_model::alert::RESOLVED_RETENTION_MS;

/// An alert for the alert pipeline, in Prometheus's `sendAlerts` shape.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthAlert {
    /// `alertname`, `service`, `node`, `source`, `severity` and, for
    /// `ServiceDown`, `reason`.
    pub labels: BTreeMap<String, String>,
    /// `summary` and `description`.
    pub annotations: BTreeMap<String, String>,
    /// When the condition started, ms.
    pub starts_at_ms: i64,
    /// Firing: the end of validity (now + 4 resend intervals); resolved: when it resolved.
    pub ends_at_ms: i64,
    /// Whether the condition has cleared.
    pub resolved: bool,
}

impl HealthAlert {
    /// The alert as the alert pipeline takes it: `startsAt` when the
    /// condition started, `endsAt` the validity or the resolution time.
    ///
    /// ```
    /// use argus_health::HealthAlert;
    /// let a = HealthAlert {
    ///     labels: [("alertname".to_string(), "ServiceDown".to_string())].into(),
    ///     annotations: Default::default(),
    ///     starts_at_ms: 1_000,
    ///     ends_at_ms: 121_000,
    ///     resolved: false,
    /// };
    /// let ev = a.event();
    /// assert_eq!((ev.starts_at_ms, ev.ends_at_ms), (1_000, Some(121_000)));
    /// assert_eq!(ev.labels.get("alertname"), Some("ServiceDown"));
    /// ```
    pub fn event(&self) -> AlertEvent {
        let labels: Vec<(&String, &String)> = self.labels.iter().collect();
        AlertEvent {
            labels: Labels::from_pairs(&labels),
            annotations: self.annotations.clone(),
            starts_at_ms: self.starts_at_ms,
            ends_at_ms: Some(self.ends_at_ms),
            generator_url: String::new(),
        }
    }
}

/// One check of a service in the API.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckStatus {
    /// `heartbeat`, `http`, `tcp`, `process` or `saturation`.
    pub check: String,
    /// What is checked (key, URL, address, process, query).
    pub target: String,
    /// `up`, `down` or `unknown`; for saturation the class or `unknown`.
    pub status: String,
    /// Heartbeat: the counter; probe: seconds taken; saturation: the value.
    pub value: Option<f64>,
    /// Why the check failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Seed 004's five-tuple `(node, source, content, status, value)`, with the
/// service name and its checks added.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FiveTuple {
    /// The node the service runs on.
    pub node: String,
    /// `software` or `hardware`.
    pub source: String,
    /// The service name and what was checked.
    pub content: String,
    /// `up`, `down`, `overloaded`, `normal`, `starved` or `unknown`.
    pub status: String,
    /// Saturation when classified; 1 up, 0 down; null unknown.
    pub value: Option<f64>,
    /// The service name.
    pub service: String,
    /// Each check's own status.
    pub checks: Vec<CheckStatus>,
}

/// The status values of `argus_service_status`.
pub const STATUSES: [&str; 6] = ["up", "down", "overloaded", "normal", "starved", "unknown"];

#[derive(Debug)]
struct Heartbeat {
    source: HeartbeatSource,
    key: String,
    state: HeartbeatState,
}

#[derive(Debug)]
struct ProbeSlot {
    cfg: ProbeConfig,
    verdict: Verdict,
    last: Option<ProbeOutcome>,
}

#[derive(Debug)]
struct SatSlot {
    cfg: SaturationConfig,
    value: Option<f64>,
    class: Option<SaturationClass>,
    error: Option<String>,
}

#[derive(Debug)]
struct Svc {
    name: String,
    node: String,
    source: Source,
    hb: Option<Heartbeat>,
    probes: Vec<ProbeSlot>,
    sat: Option<SatSlot>,
}

#[derive(Debug, Clone)]
struct AlertEntry {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    starts_ms: i64,
    resolved_ms: Option<i64>,
}

/// A condition's wish for its alert.
enum Want {
    Firing(BTreeMap<String, String>, BTreeMap<String, String>),
    Clear,
    Keep,
}

/// The state of all services. Not thread-safe on its own: the service wraps
/// it in a mutex.
#[derive(Debug)]
pub struct Monitor {
    clock: Arc<dyn Clock>,
    host: String,
    redis_url: String,
    /// Firing at once, valid for four resend intervals.
    life: Lifecycle,
    services: Vec<Svc>,
    index: HashMap<String, usize>,
    store_down: Option<String>,
    alerts: BTreeMap<String, AlertEntry>,
}

impl Monitor {
    /// Validates `cfg` and sets every check to unknown, watched from now.
    pub fn new(cfg: &HealthConfig, clock: Arc<dyn Clock>) -> Result<Monitor, HealthError> {
        cfg.validate()?;
        let now = clock.now_ms();
        let host = crate::hostname();
        let mut services = Vec::new();
        let mut index = HashMap::new();
        for s in &cfg.services {
            index.insert(s.name.clone(), services.len());
            services.push(Svc {
                name: s.name.clone(),
                node: s.node.clone().unwrap_or_else(|| host.clone()),
                source: s.source,
                hb: s.heartbeat.as_ref().map(|h| Heartbeat {
                    source: h.source,
                    key: h
                        .key
                        .clone()
                        .unwrap_or_else(|| format!("argus:hb:{}", s.name)),
                    state: HeartbeatState::new(h.interval.as_millis(), now),
                }),
                probes: s
                    .probes
                    .iter()
                    .map(|p| ProbeSlot {
                        cfg: p.clone(),
                        verdict: Verdict::Unknown,
                        last: None,
                    })
                    .collect(),
                sat: s.saturation.as_ref().map(|c| SatSlot {
                    cfg: c.clone(),
                    value: None,
                    class: None,
                    error: None,
                }),
            });
        }
        Ok(Monitor {
            clock,
            host,
            redis_url: redacted(cfg.redis_url.as_deref().unwrap_or("")),
            life: Lifecycle::new(cfg.resend_interval.as_millis()),
            services,
            index,
            store_down: None,
            alerts: BTreeMap::new(),
        })
    }

    /// The monitor's clock, now.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The index of the service `name`.
    pub fn service_index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// `(service index, key)` of every heartbeat kept in Redis.
    pub fn redis_keys(&self) -> Vec<(usize, String)> {
        self.heartbeats(HeartbeatSource::Redis)
    }

    /// `(service index, name)` of every heartbeat counted by Argus.
    pub fn http_heartbeats(&self) -> Vec<(usize, String)> {
        self.heartbeats(HeartbeatSource::Http)
            .into_iter()
            .map(|(i, _)| (i, self.services[i].name.clone()))
            .collect()
    }

    fn heartbeats(&self, src: HeartbeatSource) -> Vec<(usize, String)> {
        self.services
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match &s.hb {
                Some(h) if h.source == src => Some((i, h.key.clone())),
                _ => None,
            })
            .collect()
    }

    /// The shortest heartbeat interval, ms.
    pub fn shortest_heartbeat_ms(&self) -> Option<i64> {
        self.services
            .iter()
            .filter_map(|s| s.hb.as_ref().map(|h| h.state.interval_ms()))
            .min()
    }

    /// `(service index, probe index, config)` of every probe.
    pub fn probes(&self) -> Vec<(usize, usize, ProbeConfig)> {
        let mut v = Vec::new();
        for (i, s) in self.services.iter().enumerate() {
            for (j, p) in s.probes.iter().enumerate() {
                v.push((i, j, p.cfg.clone()));
            }
        }
        v
    }

    /// `(service index, config)` of every saturation model.
    pub fn saturations(&self) -> Vec<(usize, SaturationConfig)> {
        self.services
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.sat.as_ref().map(|x| (i, x.cfg.clone())))
            .collect()
    }

    /// Readings of heartbeat counters (`(service index, value)`), taken now.
    pub fn heartbeat_readings(&mut self, readings: &[(usize, Option<String>)]) -> Vec<HealthAlert> {
        let now = self.clock.now_ms();
        for (i, v) in readings {
            if let Some(h) = self.services.get_mut(*i).and_then(|s| s.hb.as_mut()) {
                h.state.observe(v.clone(), now);
            }
        }
        self.reconcile()
    }

    /// The outcome of one Redis poll: the readings of [`Monitor::redis_keys`],
    /// or why Redis could not be read. A failure freezes every Redis
    /// heartbeat (unknown) and raises `HeartbeatStoreDown`; the first success
    /// resolves it and starts new baselines.
    pub fn redis_poll(
        &mut self,
        result: Result<Vec<(usize, Option<String>)>, String>,
    ) -> Vec<HealthAlert> {
        match result {
            Ok(readings) => {
                self.store_down = None;
                self.heartbeat_readings(&readings)
            }
            Err(e) => {
                for s in &mut self.services {
                    if let Some(h) = s.hb.as_mut().filter(|h| h.source == HeartbeatSource::Redis) {
                        h.state.freeze();
                    }
                }
                self.store_down = Some(e);
                self.reconcile()
            }
        }
    }

    /// The outcome of a probe of service `svc`, probe `probe`.
    pub fn probe_result(
        &mut self,
        svc: usize,
        probe: usize,
        out: ProbeOutcome,
    ) -> Vec<HealthAlert> {
        if let Some(p) = self
            .services
            .get_mut(svc)
            .and_then(|s| s.probes.get_mut(probe))
        {
            p.verdict = if out.success {
                Verdict::Up
            } else {
                Verdict::Down
            };
            p.last = Some(out);
        }
        self.reconcile()
    }

    /// The load rate of service `svc` (formula 2), or why it could not be had.
    /// An empty result or an error makes the class unknown.
    pub fn saturation_result(
        &mut self,
        svc: usize,
        load: Result<Option<f64>, String>,
    ) -> Vec<HealthAlert> {
        if let Some(s) = self.services.get_mut(svc).and_then(|s| s.sat.as_mut()) {
            let (value, error) = match load {
                Ok(Some(l)) => match saturation(l, &s.cfg.dimensions) {
                    Some(v) => (Some(v), None),
                    None => (None, Some(format!("load {l} gives no saturation"))),
                },
                Ok(None) => (None, Some("the load query returned no data".into())),
                Err(e) => (None, Some(e)),
            };
            s.value = value;
            s.class = value.map(|v| classify(v, s.cfg.starved_below, s.cfg.overloaded_above));
            s.error = error;
        }
        self.reconcile()
    }

    /// Every active alert again (valid for four more resend intervals) and
    /// the alerts resolved in the last 15 minutes.
    pub fn resend(&mut self) -> Vec<HealthAlert> {
        let now = self.clock.now_ms();
        self.alerts.retain(|_, a| {
            a.resolved_ms
                .is_none_or(|r| Lifecycle::retains_resolved(r, now))
        });
        self.alerts.values().map(|a| self.out(a, now)).collect()
    }

    /// Takes over alerts firing in a previous monitor (before a reload): those
    /// whose condition still exists stay active until their check says
    /// otherwise; the others (a service removed) resolve now and are returned.
    pub fn adopt(&mut self, alerts: Vec<HealthAlert>) -> Vec<HealthAlert> {
        let now = self.clock.now_ms();
        let keys: std::collections::HashSet<String> =
            self.wants().into_iter().map(|(k, _)| k).collect();
        let mut gone = Vec::new();
        for a in alerts.into_iter().filter(|a| !a.resolved) {
            let key = key_of(&a.labels);
            let mut e = AlertEntry {
                labels: a.labels,
                annotations: a.annotations,
                starts_ms: a.starts_at_ms,
                resolved_ms: None,
            };
            if !keys.contains(&key) {
                e.resolved_ms = Some(now);
                gone.push(self.out(&e, now));
            }
            self.alerts.insert(key, e);
        }
        gone
    }

    /// The alerts firing now.
    pub fn active_alerts(&self) -> Vec<HealthAlert> {
        let now = self.clock.now_ms();
        self.alerts
            .values()
            .filter(|a| a.resolved_ms.is_none())
            .map(|a| self.out(a, now))
            .collect()
    }

    fn out(&self, a: &AlertEntry, now: i64) -> HealthAlert {
        HealthAlert {
            labels: a.labels.clone(),
            annotations: a.annotations.clone(),
            starts_at_ms: a.starts_ms,
            ends_at_ms: a.resolved_ms.unwrap_or(self.life.valid_until(now)),
            resolved: a.resolved_ms.is_some(),
        }
    }

    /// Compares what every condition wants with the alerts held, and returns
    /// the alerts that started or resolved.
    fn reconcile(&mut self) -> Vec<HealthAlert> {
        let now = self.clock.now_ms();
        let mut changed = Vec::new();
        for (key, want) in self.wants() {
            let active = self
                .alerts
                .get(&key)
                .is_some_and(|a| a.resolved_ms.is_none());
            match want {
                Want::Firing(labels, annotations) if !active => {
                    let e = AlertEntry {
                        labels,
                        annotations,
                        starts_ms: now,
                        resolved_ms: None,
                    };
                    changed.push(self.out(&e, now));
                    self.alerts.insert(key, e);
                }
                Want::Clear if active => {
                    if let Some(e) = self.alerts.get_mut(&key) {
                        e.resolved_ms = Some(now);
                        let e = e.clone();
                        changed.push(self.out(&e, now));
                    }
                }
                _ => {}
            }
        }
        changed
    }
}

/// The key of an alert in the monitor's table, from its labels.
fn key_of(labels: &BTreeMap<String, String>) -> String {
    let get = |k: &str| labels.get(k).map_or("", |s| s.as_str());
    match get("alertname") {
        "ServiceDown" => format!("ServiceDown/{}/{}", get("service"), get("reason")),
        "HeartbeatStoreDown" => "HeartbeatStoreDown".to_string(),
        other => format!("{other}/{}", get("service")),
    }
}

/// The URL without its password, for labels and messages.
fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("xxx"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

mod view;
mod wants;
pub use view::service_content;

#[cfg(test)]
mod tests;
