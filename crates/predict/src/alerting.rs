//! The alert state both rule kinds share: per (rule, key) an alert goes
//! pending while its condition holds, fires after `for`, is resent every
//! resend interval (each send valid for four intervals), and once the
//! condition is gone is sent resolved, and again at each resend for 15
//! minutes, as every Argus alert is ([`Lifecycle`]).

use argus_model::alert::{AlertEvent, Lifecycle};
use argus_model::Labels;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::Arc;

/// Where the alerts go; must not block.
pub type AlertSinkFn = dyn Fn(Vec<AlertEvent>) + Send + Sync;

#[derive(Debug, Default)]
struct Track {
    active_since: Option<i64>,
    fired_at: Option<i64>,
    resolved_at: Option<i64>,
    last_sent: Option<i64>,
    event: Option<AlertEvent>,
}

/// The alerts of a set of rules and where they go.
pub(crate) struct AlertBook {
    resend_ms: i64,
    tracks: Mutex<HashMap<(String, Labels), Track>>,
    sink: RwLock<Option<Arc<AlertSinkFn>>>,
}

impl AlertBook {
    pub(crate) fn new(resend_ms: i64) -> AlertBook {
        AlertBook {
            resend_ms: resend_ms.max(1_000),
            tracks: Mutex::new(HashMap::new()),
            sink: RwLock::new(None),
        }
    }

    pub(crate) fn set_sink(&self, sink: Arc<AlertSinkFn>) {
        *self.sink.write() = Some(sink);
    }

    /// Forgets the alerts of every rule not in `kept`, sending the firing
    /// ones resolved at `now`.
    pub(crate) fn keep_rules(&self, kept: &[String], now: i64) {
        let mut out = Vec::new();
        self.tracks.lock().retain(|(rule, _), t| {
            if kept.contains(rule) {
                return true;
            }
            if let (Some(_), None, Some(ev)) = (t.fired_at, t.resolved_at, &t.event) {
                out.push(ev.clone().ending_at(now));
            }
            false
        });
        self.send(out);
    }

    /// One evaluation of `rule`: `active` holds the alert of every key whose
    /// condition holds now (its start is set here). Sends what is due.
    pub(crate) fn step(
        &self,
        rule: &str,
        active: &HashMap<Labels, AlertEvent>,
        for_ms: i64,
        interval_ms: i64,
        now: i64,
    ) {
        let life = Lifecycle::new(self.resend_ms)
            .with_for(for_ms)
            .with_eval_interval(interval_ms);
        let mut out = Vec::new();
        {
            let mut tracks = self.tracks.lock();
            for (key, ev) in active {
                let t = tracks.entry((rule.to_string(), key.clone())).or_default();
                if t.resolved_at.is_some() {
                    *t = Track::default();
                }
                let since = *t.active_since.get_or_insert(now);
                if t.fired_at.is_none() && life.fires(since, now) {
                    t.fired_at = Some(now);
                }
                let mut ev = ev.clone();
                ev.starts_at_ms = t.fired_at.unwrap_or(now);
                t.event = Some(ev);
            }
            tracks.retain(|(r, key), t| {
                if r != rule {
                    return true;
                }
                if !active.contains_key(key) {
                    match (t.fired_at, t.resolved_at) {
                        (None, _) => return false,
                        (Some(_), None) => {
                            t.resolved_at = Some(now);
                            t.last_sent = None;
                        }
                        (Some(_), Some(r)) if !Lifecycle::retains_resolved(r, now) => return false,
                        _ => {}
                    }
                }
                let Some(ev) = &t.event else { return true };
                if t.fired_at.is_some() && life.resend_due(t.last_sent, now) {
                    out.push(match t.resolved_at {
                        Some(r) => ev.clone().ending_at(r),
                        None => ev.clone().ending_at(life.valid_until(now)),
                    });
                    t.last_sent = Some(now);
                }
                true
            });
        }
        self.send(out);
    }

    fn send(&self, events: Vec<AlertEvent>) {
        if events.is_empty() {
            return;
        }
        if let Some(s) = self.sink.read().clone() {
            s(events);
        }
    }
}
