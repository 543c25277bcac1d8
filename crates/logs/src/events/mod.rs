//! Events: deploys, configuration changes, Kubernetes events and business events, as a second
//! kind of record next to log lines, and a learned model of their normal mix.
//!
//! - [`model`]: the [`Event`] record, its [`EventKind`] classified from the type, and its form
//!   as a log record (stream `{source="…", type="…", kind="…"}`, the JSON as the line).
//! - [`cloudevents`]: CloudEvents 1.0 over HTTP (structured, batch and binary modes) and
//!   Kubernetes `Event` objects, decoded with per-event refusals.
//! - [`mix`]: counts per event type in fixed windows, a model of the normal mix trained on
//!   history, and an online detector that raises "abnormal event mix" with the types out of
//!   line.
//! - [`generate`]: a reproducible synthetic event stream with injected abnormal mixes, and the
//!   evaluation of the detector on it.
//!
//! ```
//! use argus_logs::events::{decode_events, EventKind};
//! use argus_logs::push::DecodeLimits;
//! let body = br#"{"specversion":"1.0","id":"42","source":"/ci","type":"com.example.deploy.finished",
//!   "time":"2023-11-14T22:13:20Z","service":"api"}"#;
//! let headers = vec![("Content-Type".to_string(), "application/cloudevents+json".to_string())];
//! let d = decode_events(body, &headers, 0, &DecodeLimits::default()).unwrap();
//! let e = &d.events[0];
//! assert_eq!(e.kind, EventKind::Deploy);
//! assert_eq!(e.labels.get("service"), Some("api"));
//! let r = e.to_log_record();
//! assert_eq!(r.labels.to_string(), r#"{kind="deploy",source="/ci",type="com.example.deploy.finished"}"#);
//! ```

pub mod cloudevents;
mod k8s;
pub mod model;

pub use cloudevents::{decode_events, DecodedEvents, EventsError};
pub use model::{Event, EventKind, UnknownKind};
pub mod mix;

pub use mix::{Direction, MixConfig, MixDetector, MixModel, MixVerdict, MixWindow, TypeDeviation};
pub mod generate;
