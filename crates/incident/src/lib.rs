//! Incidents: one fault, one incident.
//!
//! Alerts from every source (static rules, dynamic rules, health checks,
//! Alertmanager's API) are grouped online into incidents by the
//! [`correlate::Correlator`]: by time, by what their labels name however the
//! source spells it ([`entity`]), by the service graph ([`topology`]) and by
//! which alerts fired together before. Each incident names a root candidate
//! ([`root`]), keeps a timeline, and carries the 1-5-10 times
//! ([`model::Times`]): fault start, detected, notified, acknowledged,
//! located, recovered. [`store::Store`] keeps incidents in an embedded file
//! across restarts and `kill -9`. [`replay`] runs an alert file through the
//! same correlator, for `argus eval incidents`.
//!
//! This crate knows nothing of the rules engine, the alert pipeline or the
//! detectors: the server turns their alerts into [`correlate::Signal`]s.
//!
//! ```
//! use argus_incident::correlate::{Correlator, Settings, Signal};
//! use argus_incident::topology::Topology;
//! use argus_model::Labels;
//!
//! let topo = Topology::from_csv("caller,callee\nfrontend,cart\ncart,redis\n").unwrap();
//! let mut c = Correlator::new(Settings::default(), topo);
//! let fire = |p: &[(&str, &str)], at| Signal::firing(Labels::from_pairs(p), at);
//! let a = c.observe(fire(&[("alertname", "RedisDown"), ("service", "redis")], 0)).unwrap();
//! let b = c.observe(fire(&[("alertname", "CartErrors"), ("job", "cart")], 20_000)).unwrap();
//! let d = c.observe(fire(&[("alertname", "FrontendLatency"), ("app", "frontend")], 45_000)).unwrap();
//! assert!(a == b && b == d);
//! let inc = c.incident(a).unwrap();
//! assert_eq!(inc.root.as_ref().unwrap().service.as_deref(), Some("redis"));
//! assert_eq!(inc.times.detected_ms, 0);
//! ```

pub mod actions;
pub mod api;
pub mod changes;
pub mod config;
pub mod correlate;
pub mod entity;
pub mod evidence;
pub mod model;
pub mod placement;
pub mod replay;
pub mod root;
pub mod service;
pub mod store;
pub mod suspects;
pub mod topology;

pub use correlate::{Correlator, Settings, Signal};
pub use model::{Incident, Root, Severity, State, Times};
