//! Alerts as the sources hand them to the alert pipeline, and the timing
//! every source shares.
//!
//! - [`AlertEvent`]: one alert as sent — labels, annotations, start and end
//!   in milliseconds, a link back to its source. The rules engine, the
//!   health checks and dynamic rules each convert their own alert into this
//!   value once; the pipeline takes nothing else from inside the process.
//! - [`Lifecycle`]: Prometheus's alert timing — pending until `for` has
//!   passed, `keep_firing_for`, the resend interval, the validity of a send
//!   (`endsAt` of a firing alert) and how long a resolved alert is resent
//!   ([`RESOLVED_RETENTION_MS`]). Each source keeps its own state (value,
//!   level, `alertstate`); the timing decisions are made here.
//!
//! ```
//! use argus_model::alert::{AlertEvent, Lifecycle, ResendEdge};
//! use argus_model::Labels;
//!
//! let life = Lifecycle::new(60_000).with_for(120_000).with_eval_interval(15_000);
//! assert!(!life.fires(0, 60_000));
//! assert!(life.fires(0, 120_000));
//! // A firing alert sent at 2m is valid for four resend intervals.
//! assert_eq!(life.valid_until(120_000), 360_000);
//! assert!(life.resend_due(Some(120_000), 180_000));
//! let prometheus = life.with_resend_edge(ResendEdge::AfterInterval);
//! assert!(!prometheus.resend_due(Some(120_000), 180_000));
//!
//! let ev = AlertEvent::new(Labels::from_pairs(&[("alertname", "Down")]), 120_000)
//!     .ending_at(life.valid_until(120_000));
//! assert!(ev.is_firing_at(200_000));
//! ```

use crate::Labels;
use std::collections::BTreeMap;

/// How long a resolved alert is kept and resent, as in Prometheus: 15 minutes.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// A firing alert's send is valid for this many resend intervals (Prometheus
/// sets `endsAt` four intervals after the send).
pub const VALIDITY_INTERVALS: i64 = 4;

/// One alert on its way into the pipeline. Times are milliseconds since the
/// Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertEvent {
    /// Identifying labels (`alertname` and the rest).
    pub labels: Labels,
    /// Descriptive annotations (`summary`, `description`, …). Kept as given:
    /// an empty value is a value.
    pub annotations: BTreeMap<String, String>,
    /// When the alert started firing.
    pub starts_at_ms: i64,
    /// When it ends: the resolution time of a resolved alert, the validity
    /// of the send of a firing one. `None` lets the pipeline choose (its
    /// `resolve_timeout`).
    pub ends_at_ms: Option<i64>,
    /// A link back to what raised it; empty when there is none.
    pub generator_url: String,
}

impl AlertEvent {
    /// A firing alert with `labels` that started at `starts_at_ms`, with no
    /// end, annotations or link.
    ///
    /// ```
    /// use argus_model::{alert::AlertEvent, Labels};
    /// let ev = AlertEvent::new(Labels::from_pairs(&[("alertname", "Down")]), 5);
    /// assert_eq!((ev.starts_at_ms, ev.ends_at_ms), (5, None));
    /// ```
    pub fn new(labels: Labels, starts_at_ms: i64) -> Self {
        AlertEvent {
            labels,
            starts_at_ms,
            ..Default::default()
        }
    }

    /// The same alert with its end set.
    pub fn ending_at(mut self, ends_at_ms: i64) -> Self {
        self.ends_at_ms = Some(ends_at_ms);
        self
    }

    /// The same alert with `annotations` (a label set or any name/value pairs).
    ///
    /// ```
    /// use argus_model::{alert::AlertEvent, Labels};
    /// let ev = AlertEvent::new(Labels::from_pairs(&[("alertname", "A")]), 0)
    ///     .with_annotations(Labels::from_pairs(&[("summary", "down")]).iter().map(|l| (&l.name, &l.value)));
    /// assert_eq!(ev.annotations["summary"], "down");
    /// ```
    pub fn with_annotations<N: Into<String>, V: Into<String>>(
        mut self,
        annotations: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        self.annotations = annotations
            .into_iter()
            .map(|(n, v)| (n.into(), v.into()))
            .collect();
        self
    }

    /// The same alert with a link back to its source.
    pub fn with_generator_url(mut self, url: impl Into<String>) -> Self {
        self.generator_url = url.into();
        self
    }

    /// True when it has no end or its end is after `now_ms`.
    pub fn is_firing_at(&self, now_ms: i64) -> bool {
        self.ends_at_ms.is_none_or(|e| e > now_ms)
    }
}

/// Whether a resend falls due when exactly one resend interval has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResendEdge {
    /// As soon as the interval has passed (`now - last ≥ interval`).
    #[default]
    AtInterval,
    /// Only once more than the interval has passed (`last + interval <
    /// now`), Prometheus's `needsSending`: with a resend delay equal to the
    /// evaluation interval, every other evaluation resends.
    AfterInterval,
}

/// The timing of one alert source's alerts: `for`, `keep_firing_for`, the
/// resend interval and the validity of each send.
///
/// ```
/// use argus_model::alert::Lifecycle;
/// let life = Lifecycle::new(30_000).with_keep_firing_for(60_000);
/// // The condition went away at 100 s: still firing until 160 s.
/// assert!(life.keeps_firing(100_000, 159_999));
/// assert!(!life.keeps_firing(100_000, 160_000));
/// assert!(Lifecycle::retains_resolved(0, 15 * 60_000));
/// assert!(!Lifecycle::retains_resolved(0, 15 * 60_000 + 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lifecycle {
    /// How long a condition must hold before its alert fires (`for`); 0
    /// fires at once.
    pub for_ms: i64,
    /// How long a firing alert stays firing after its condition is gone
    /// (`keep_firing_for`); 0 resolves at once.
    pub keep_firing_for_ms: i64,
    /// How often a firing alert is sent again.
    pub resend_ms: i64,
    /// The evaluation interval: a send stays valid for four times the longer
    /// of it and the resend interval. 0 when the source has none.
    pub eval_interval_ms: i64,
    /// Whether a resend is due at exactly one interval.
    pub resend_edge: ResendEdge,
}

impl Lifecycle {
    /// Alerts resent every `resend_ms`, firing at once, resolving at once.
    pub fn new(resend_ms: i64) -> Self {
        Lifecycle {
            resend_ms,
            ..Default::default()
        }
    }

    /// With `for`.
    pub fn with_for(mut self, for_ms: i64) -> Self {
        self.for_ms = for_ms;
        self
    }

    /// With `keep_firing_for`.
    pub fn with_keep_firing_for(mut self, ms: i64) -> Self {
        self.keep_firing_for_ms = ms;
        self
    }

    /// With an evaluation interval (a floor of the validity's interval).
    pub fn with_eval_interval(mut self, ms: i64) -> Self {
        self.eval_interval_ms = ms;
        self
    }

    /// With the given resend edge.
    pub fn with_resend_edge(mut self, edge: ResendEdge) -> Self {
        self.resend_edge = edge;
        self
    }

    /// True when a condition active since `active_since_ms` has held for
    /// `for` at `now_ms`: a pending alert fires.
    pub fn fires(&self, active_since_ms: i64, now_ms: i64) -> bool {
        now_ms - active_since_ms >= self.for_ms
    }

    /// True when a firing alert whose condition went away at `gone_since_ms`
    /// is still kept firing at `now_ms` by `keep_firing_for`.
    pub fn keeps_firing(&self, gone_since_ms: i64, now_ms: i64) -> bool {
        self.keep_firing_for_ms > 0 && now_ms - gone_since_ms < self.keep_firing_for_ms
    }

    /// True when an alert last sent at `last_sent_ms` (never: `None`) is due
    /// again at `now_ms`.
    pub fn resend_due(&self, last_sent_ms: Option<i64>, now_ms: i64) -> bool {
        let Some(last) = last_sent_ms else {
            return true;
        };
        match self.resend_edge {
            ResendEdge::AtInterval => now_ms - last >= self.resend_ms,
            ResendEdge::AfterInterval => last + self.resend_ms < now_ms,
        }
    }

    /// Prometheus's `needsSending` for an alert that has `fired` (a pending
    /// one is never sent): at once when it resolved after its last send,
    /// otherwise when a resend is due.
    ///
    /// ```
    /// use argus_model::alert::Lifecycle;
    /// let life = Lifecycle::new(60_000);
    /// assert!(!life.needs_sending(false, None, None, 0));
    /// assert!(life.needs_sending(true, Some(10), Some(5), 11));
    /// assert!(!life.needs_sending(true, Some(5), Some(10), 11));
    /// ```
    pub fn needs_sending(
        &self,
        fired: bool,
        resolved_at_ms: Option<i64>,
        last_sent_ms: Option<i64>,
        now_ms: i64,
    ) -> bool {
        if !fired {
            return false;
        }
        let last = last_sent_ms.unwrap_or(i64::MIN);
        if resolved_at_ms.is_some_and(|r| r > last) {
            return true;
        }
        self.resend_due(last_sent_ms, now_ms)
    }

    /// The end of validity of a firing alert sent at `sent_at_ms`: four times
    /// the longer of the resend and evaluation intervals later.
    pub fn valid_until(&self, sent_at_ms: i64) -> i64 {
        sent_at_ms + VALIDITY_INTERVALS * self.resend_ms.max(self.eval_interval_ms)
    }

    /// True while an alert resolved at `resolved_at_ms` is still kept (and
    /// resent) at `now_ms`: for [`RESOLVED_RETENTION_MS`].
    pub fn retains_resolved(resolved_at_ms: i64, now_ms: i64) -> bool {
        now_ms - resolved_at_ms <= RESOLVED_RETENTION_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_fires_after_for() {
        let l = Lifecycle::new(60_000).with_for(30_000);
        assert!(!l.fires(1_000, 30_999));
        assert!(l.fires(1_000, 31_000));
        assert!(Lifecycle::new(1).fires(5, 5), "for 0 fires at once");
    }

    #[test]
    fn keep_firing_for_only_when_set() {
        assert!(!Lifecycle::new(1).keeps_firing(0, 0));
        let l = Lifecycle::new(1).with_keep_firing_for(10);
        assert!(l.keeps_firing(0, 9) && !l.keeps_firing(0, 10));
    }

    #[test]
    fn resend_edges_differ_at_exactly_one_interval() {
        let at = Lifecycle::new(60_000);
        let after = at.with_resend_edge(ResendEdge::AfterInterval);
        for l in [at, after] {
            assert!(l.resend_due(None, 0));
            assert!(!l.resend_due(Some(0), 59_999));
            assert!(l.resend_due(Some(0), 60_001));
        }
        assert!(at.resend_due(Some(0), 60_000));
        assert!(!after.resend_due(Some(0), 60_000));
    }

    #[test]
    fn needs_sending_like_prometheus() {
        let l = Lifecycle::new(60_000).with_resend_edge(ResendEdge::AfterInterval);
        // Pending: never.
        assert!(!l.needs_sending(false, None, None, 1_000_000));
        // Fired, never sent: now.
        assert!(l.needs_sending(true, None, None, 0));
        // Sent at 0: not again at 60 s, at 61 s yes.
        assert!(!l.needs_sending(true, None, Some(0), 60_000));
        assert!(l.needs_sending(true, None, Some(0), 61_000));
        // Resolved after the last send: at once.
        assert!(l.needs_sending(true, Some(10_000), Some(0), 10_000));
        // Resolved and already sent resolved: at the resend interval.
        assert!(!l.needs_sending(true, Some(10_000), Some(10_000), 20_000));
        assert!(l.needs_sending(true, Some(10_000), Some(10_000), 70_001));
    }

    #[test]
    fn validity_is_four_of_the_longer_interval() {
        assert_eq!(Lifecycle::new(60_000).valid_until(1_000), 241_000);
        let l = Lifecycle::new(10_000).with_eval_interval(30_000);
        assert_eq!(l.valid_until(0), 120_000);
    }

    #[test]
    fn resolved_alerts_are_kept_fifteen_minutes() {
        let r = 1_000;
        assert!(Lifecycle::retains_resolved(r, r));
        assert!(Lifecycle::retains_resolved(r, r + RESOLVED_RETENTION_MS));
        assert!(!Lifecycle::retains_resolved(
            r,
            r + RESOLVED_RETENTION_MS + 1
        ));
    }

    #[test]
    fn events_fire_until_their_end() {
        let l = Labels::from_pairs(&[("alertname", "X")]);
        let open = AlertEvent::new(l.clone(), 0);
        assert!(open.is_firing_at(i64::MAX));
        let ev = AlertEvent::new(l, 0)
            .ending_at(10)
            .with_generator_url("http://x/")
            .with_annotations([("summary", "")]);
        assert!(ev.is_firing_at(9) && !ev.is_firing_at(10));
        assert_eq!(ev.annotations["summary"], "", "empty annotations are kept");
        assert_eq!(ev.generator_url, "http://x/");
    }
}
