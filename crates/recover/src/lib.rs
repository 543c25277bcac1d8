//! Recovery: runbooks matched to incidents, run by hand (a button, or a
//! signed link in a notification), after someone else's approval, or by
//! themselves within guards; each execution is verified against the
//! incident's alerts (and an optional PromQL condition) and rolled back when
//! verification does not hold. Every request, refusal, approval, step (its
//! rendered inputs and its output) and outcome is written to an append-only
//! journal before it takes effect.
//!
//! The crate imports nothing of Argus beyond `model` and `gotmpl`: the
//! server builds each incident's [`matching::Subject`], implements
//! [`service::Host`] (are the incident's alerts still firing, does a
//! condition hold, an execution changed), and ticks the executor.
//!
//! ```
//! use argus_recover::{config::RecoverConfig, matching::Subject, service::RecoverService};
//! use argus_model::ManualClock;
//! use std::sync::Arc;
//! let cfg: RecoverConfig = serde_saphyr::from_str(
//!     "runbooks: [{name: failover, mode: approval, steps: [{wait: 10s}]}]").unwrap();
//! let svc = RecoverService::open(None, &cfg, Arc::new(ManualClock::new(0))).unwrap();
//! let s = Subject { incident: 4, ..Subject::default() };
//! let e = svc.request("failover", &s, "alice", false).unwrap();
//! assert_eq!(e.state.as_str(), "pending_approval");
//! assert!(svc.approve(e.id, "alice").is_err(), "someone else must approve");
//! svc.approve(e.id, "bob").unwrap();
//! assert_eq!(svc.get(e.id).unwrap().state.as_str(), "running");
//! ```
#![warn(missing_docs)]

pub mod actions;
mod check;
pub mod config;
mod drive;
pub mod exec;
pub mod journal;
mod limits;
pub mod matching;
pub mod process;
pub mod service;
pub mod template;

pub use config::{RecoverConfig, Runbook};
pub use exec::{Event, Execution, State};
pub use service::{Host, RecoverError, RecoverService};
