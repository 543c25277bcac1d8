//! The seam to the alert pipeline: dynamic alerts as plain values
//! ([`DynamicAlert`]) handed to an [`AlertSink`] that the caller provides.
//! This crate never names the rules engine or the alert pipeline; the server
//! implements the sink and hands each alert to the pipeline's ingress as an
//! [`AlertEvent`] ([`DynamicAlert::event`]).
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use argus_dynamic::{AlertSink, DynamicAlert};
//!
//! let got: Arc<Mutex<Vec<DynamicAlert>>> = Arc::default();
//! let g = got.clone();
//! let sink: Arc<dyn AlertSink> = Arc::new(move |a: Vec<DynamicAlert>| g.lock().unwrap().extend(a));
//! sink.send(Vec::new());
//! assert!(got.lock().unwrap().is_empty());
//! ```

use argus_model::alert::AlertEvent;
use argus_model::Labels;

/// The state of a dynamic alert when it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    /// Firing (sent when it fires, escalates, and at every resend).
    Firing,
    /// Resolved: the episode ended, a higher level replaced it, or a reload
    /// dropped its series.
    Resolved,
}

/// One dynamic alert as sent. Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicAlert {
    /// Identifying labels: the series' labels without `__name__`, then
    /// `metric`, the rule's labels, `alertname`, `level` and `kind`.
    pub labels: Labels,
    /// The rule's annotations and the explanation (value, band, level, model).
    pub annotations: Labels,
    /// Firing or resolved.
    pub state: AlertState,
    /// The value of the last sample at level ≥ 1.
    pub value: f64,
    /// When the episode started (sample time).
    pub active_at_ms: i64,
    /// When it fired (sample time).
    pub fired_at_ms: i64,
    /// When it was resolved (sample time), for a resolved alert.
    pub resolved_at_ms: Option<i64>,
    /// When it was handed to the sink (the server's clock).
    pub sent_at_ms: i64,
    /// Until when a firing alert is valid (four resend delays after sending).
    pub valid_until_ms: Option<i64>,
}

impl DynamicAlert {
    /// The alert as the alert pipeline takes it: it starts when it fired and
    /// ends at its resolution, else at the validity of this send; no
    /// generator URL.
    ///
    /// ```
    /// use argus_dynamic::{AlertState, DynamicAlert};
    /// use argus_model::Labels;
    /// let a = DynamicAlert {
    ///     labels: Labels::from_pairs(&[("alertname", "Lat"), ("level", "2")]),
    ///     annotations: Labels::from_pairs(&[("summary", "high")]),
    ///     state: AlertState::Firing,
    ///     value: 3.5,
    ///     active_at_ms: 1_000,
    ///     fired_at_ms: 2_000,
    ///     resolved_at_ms: None,
    ///     sent_at_ms: 4_000,
    ///     valid_until_ms: Some(244_000),
    /// };
    /// let ev = a.event();
    /// assert_eq!((ev.starts_at_ms, ev.ends_at_ms), (2_000, Some(244_000)));
    /// assert_eq!(ev.annotations["summary"], "high");
    /// ```
    pub fn event(&self) -> AlertEvent {
        AlertEvent {
            labels: self.labels.clone(),
            annotations: self
                .annotations
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect(),
            starts_at_ms: self.fired_at_ms,
            ends_at_ms: self.resolved_at_ms.or(self.valid_until_ms),
            generator_url: String::new(),
        }
    }
}

/// Where dynamic alerts go. Called from the detector task and from reloads;
/// it must not block.
pub trait AlertSink: Send + Sync {
    /// Delivers `alerts`.
    fn send(&self, alerts: Vec<DynamicAlert>);
}

impl<F> AlertSink for F
where
    F: Fn(Vec<DynamicAlert>) + Send + Sync,
{
    fn send(&self, alerts: Vec<DynamicAlert>) {
        self(alerts)
    }
}
