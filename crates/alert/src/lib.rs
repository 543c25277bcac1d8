//! The Alertmanager-class alert pipeline: an unchanged `alertmanager.yml` (plus Argus's `argus:`
//! section), routing, aggregation groups with `group_wait`/`group_interval`/`repeat_interval`,
//! inhibition, silences, time-interval muting, a notification log for dedup, flap damping,
//! escalation with acknowledgement, channels with retry, and an embedded `redb` store.
//!
//! The [`Dispatcher`] is a synchronous state machine driven by `tick(now)`, so timelines are
//! tested on a [`argus_model::ManualClock`] without sleeping; [`runner::Runner`] drives it
//! with tokio in production. Alerts from inside Argus (rules, health checks, dynamic rules)
//! arrive as [`argus_model::alert::AlertEvent`]s through one [`Ingress`]; posted alerts are
//! converted from text at the HTTP API ([`PostableAlert`]).
//!
//! ```
//! use argus_alert::{config::Config, Alert, Dispatcher};
//! use argus_model::{Labels, ManualClock};
//! use std::sync::Arc;
//! let cfg = Config::parse(r#"
//! route:
//!   receiver: team
//!   group_by: [alertname]
//!   group_wait: 10s
//! receivers:
//!   - name: team
//!     webhook_configs: [{url: "http://127.0.0.1:5001/"}]
//! "#, "alertmanager.yml").unwrap();
//! let clock = Arc::new(ManualClock::new(0));
//! let dir = tempfile::tempdir().unwrap();
//! let store = argus_alert::store::Store::open(dir.path()).unwrap();
//! let mut d = Dispatcher::new(cfg, clock.clone(), Some(store)).unwrap();
//! d.put_alerts(vec![Alert::firing(Labels::from_pairs(&[("alertname", "Down")]), 0)]).unwrap();
//! clock.set(10_000);
//! let n = d.tick(10_000);
//! assert_eq!(n[0].webhook_message("", 0).status, "firing");
//! d.complete(&n[0], true).unwrap();
//! ```

pub mod alert;
pub mod channel;
pub mod config;
pub mod dispatch;
pub mod escalation;
pub mod flap;
pub mod ingress;
pub mod inhibit;
pub mod links;
pub mod nflog;
pub mod notification;
pub mod observe;
pub mod route;
pub mod runner;
pub mod silence;
pub mod stages;
pub mod store;
pub mod template;

pub use alert::{fingerprint, Alert, AlertStatus, PostableAlert};
pub use dispatch::{AlertInfo, DispatchError, Dispatcher, GroupId, GroupInfo, HistoryQuery};
pub use escalation::{Ack, AckTarget};
pub use ingress::{Ingress, IngressClosed, IngressQueue};
pub use notification::{IntegrationKind, Notification, NotifiedAlert, WebhookMessage};
