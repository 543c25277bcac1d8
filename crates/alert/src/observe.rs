//! What the pipeline tells an observer: every alert it takes, every
//! notification it delivers and every acknowledgement. The server uses it
//! to feed incidents without this crate knowing them.
//!
//! An observer is called on the dispatcher's thread after the change is
//! committed (or deferred while the store fails): it must only queue the
//! news and return.
//!
//! ```
//! use argus_alert::observe::{AlertChange, AlertObserver};
//! use argus_alert::{config::Config, Alert, Dispatcher};
//! use argus_model::{Labels, ManualClock};
//! use std::sync::{Arc, Mutex};
//!
//! #[derive(Debug, Default)]
//! struct Seen(Mutex<Vec<(u64, bool)>>);
//! impl AlertObserver for Seen {
//!     fn alerts(&self, changes: &[AlertChange]) {
//!         self.0.lock().unwrap().extend(changes.iter().map(|c| (c.fingerprint, c.firing)));
//!     }
//!     fn delivered(&self, _: &[u64], _: &str, _: i64) {}
//!     fn acknowledged(&self, _: &[u64], _: &str, _: i64) {}
//! }
//!
//! let cfg = Config::parse("route: {receiver: r}\nreceivers: [{name: r}]\n", "am.yml").unwrap();
//! let mut d = Dispatcher::new(cfg, Arc::new(ManualClock::new(0)), None).unwrap();
//! let seen = Arc::new(Seen::default());
//! d.set_observer(Some(seen.clone()));
//! let a = Alert::firing(Labels::from_pairs(&[("alertname", "Down")]), 0);
//! d.put_alerts(vec![a.clone()]).unwrap();
//! assert_eq!(*seen.0.lock().unwrap(), vec![(a.fingerprint(), true)]);
//! ```

use argus_model::Labels;
use std::collections::BTreeMap;

/// One alert as the pipeline took it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertChange {
    /// Its fingerprint.
    pub fingerprint: u64,
    /// Its labels.
    pub labels: Labels,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
    /// True while it fires (its end is in the future).
    pub firing: bool,
    /// Its `startsAt`, ms.
    pub starts_at_ms: i64,
    /// Its `endsAt`, ms: the resolution time, or how long a firing alert's
    /// last send is valid.
    pub ends_at_ms: i64,
    /// When the pipeline took it, ms.
    pub at_ms: i64,
}

/// Told about the pipeline's changes; see the module docs.
pub trait AlertObserver: Send + Sync + std::fmt::Debug {
    /// Alerts were taken (new, refreshed or resolved), in order.
    fn alerts(&self, changes: &[AlertChange]);
    /// A notification about these alerts was delivered to `receiver`.
    fn delivered(&self, fingerprints: &[u64], receiver: &str, at_ms: i64);
    /// These alerts were acknowledged by `who`.
    fn acknowledged(&self, fingerprints: &[u64], who: &str, at_ms: i64);
    /// The incident an alert is in, asked right after [`AlertObserver::alerts`]
    /// told of it: a route whose `group_by` lists [`INCIDENT_LABEL`] groups
    /// its alerts by incident, so a storm pages once per incident. `None`
    /// (the default) when unknown.
    fn incident_of(&self, _fingerprint: u64) -> Option<String> {
        None
    }
    /// The runbooks a person may run from a notification about this firing
    /// alert (a signed link each); none by default.
    fn runbooks(&self, _fingerprint: u64, _labels: &argus_model::Labels) -> Vec<String> {
        Vec::new()
    }
}

/// The label a route can `group_by` to page once per incident; set on the
/// group's labels (never on the alert) from [`AlertObserver::incident_of`].
pub const INCIDENT_LABEL: &str = "incident";
