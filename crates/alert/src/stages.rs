//! The filtering stages of the notification pipeline, in Alertmanager's order: inhibit →
//! active time → mute time → silence. Each takes the group's alerts and returns those that may
//! be notified; [`run`] chains them. Dedup (the notification log) and retry follow per
//! integration, in the dispatcher and the channels.
//!
//! ```
//! use argus_alert::stages::{run, Ctx, SilenceStage, Stage};
//! use argus_alert::silence::{Silence, SilenceMatcher, Silences};
//! use argus_alert::{Alert, AlertStatus, NotifiedAlert};
//! use argus_model::Labels;
//! let mut s = Silences::default();
//! s.set(Silence::new(vec![SilenceMatcher::equal("a", "1")], 0, 100, "me", ""), 0).unwrap();
//! let alerts = vec![
//!     NotifiedAlert::new(Alert::firing(Labels::from_pairs(&[("a", "1")]), 0), AlertStatus::Firing),
//!     NotifiedAlert::new(Alert::firing(Labels::from_pairs(&[("a", "2")]), 0), AlertStatus::Firing),
//! ];
//! let left = run(&[&SilenceStage { silences: &s }], &Ctx { now: 10, mute: &[], active: &[] }, alerts);
//! assert_eq!(left.len(), 1);
//! ```

use crate::config::TimeIntervalConfig;
use crate::inhibit::{Inhibitor, SourceCache};
use crate::notification::NotifiedAlert;
use crate::silence::Silences;

/// What the stages know about the flush.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The flush time, ms.
    pub now: i64,
    /// The route's mute intervals, resolved.
    pub mute: &'a [&'a TimeIntervalConfig],
    /// The route's active intervals, resolved.
    pub active: &'a [&'a TimeIntervalConfig],
}

/// One filtering stage.
pub trait Stage {
    /// A short name for logs.
    fn name(&self) -> &'static str;
    /// Returns the alerts that pass.
    fn exec(&self, ctx: &Ctx<'_>, alerts: Vec<NotifiedAlert>) -> Vec<NotifiedAlert>;
}

/// Runs the stages in order.
pub fn run(
    stages: &[&dyn Stage],
    ctx: &Ctx<'_>,
    mut alerts: Vec<NotifiedAlert>,
) -> Vec<NotifiedAlert> {
    for s in stages {
        if alerts.is_empty() {
            break;
        }
        alerts = s.exec(ctx, alerts);
    }
    alerts
}

/// Drops alerts muted by an inhibition rule.
#[derive(Debug)]
pub struct InhibitStage<'a> {
    /// The rules.
    pub inhibitor: &'a Inhibitor,
    /// The firing sources at this instant.
    pub cache: &'a SourceCache,
}

impl Stage for InhibitStage<'_> {
    fn name(&self) -> &'static str {
        "inhibit"
    }
    fn exec(&self, _: &Ctx<'_>, alerts: Vec<NotifiedAlert>) -> Vec<NotifiedAlert> {
        if self.inhibitor.is_empty() {
            return alerts;
        }
        alerts
            .into_iter()
            .filter(|a| self.inhibitor.mutes(self.cache, &a.alert.labels).is_none())
            .collect()
    }
}

/// Drops everything outside the route's `active_time_intervals` (when it has any).
#[derive(Debug)]
pub struct TimeActiveStage;

impl Stage for TimeActiveStage {
    fn name(&self) -> &'static str {
        "time_active"
    }
    fn exec(&self, ctx: &Ctx<'_>, alerts: Vec<NotifiedAlert>) -> Vec<NotifiedAlert> {
        if ctx.active.is_empty() || ctx.active.iter().any(|t| t.active(ctx.now)) {
            alerts
        } else {
            Vec::new()
        }
    }
}

/// Drops everything inside the route's `mute_time_intervals`.
#[derive(Debug)]
pub struct TimeMuteStage;

impl Stage for TimeMuteStage {
    fn name(&self) -> &'static str {
        "time_mute"
    }
    fn exec(&self, ctx: &Ctx<'_>, alerts: Vec<NotifiedAlert>) -> Vec<NotifiedAlert> {
        if ctx.mute.iter().any(|t| t.active(ctx.now)) {
            Vec::new()
        } else {
            alerts
        }
    }
}

/// Drops alerts matched by an active silence.
#[derive(Debug)]
pub struct SilenceStage<'a> {
    /// The silences.
    pub silences: &'a Silences,
}

impl Stage for SilenceStage<'_> {
    fn name(&self) -> &'static str {
        "silence"
    }
    fn exec(&self, ctx: &Ctx<'_>, alerts: Vec<NotifiedAlert>) -> Vec<NotifiedAlert> {
        if self.silences.is_empty() {
            return alerts;
        }
        alerts
            .into_iter()
            .filter(|a| !self.silences.is_muted(&a.alert.labels, ctx.now))
            .collect()
    }
}
