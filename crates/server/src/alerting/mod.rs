//! The alerting service as the server composes it: the pipeline and its
//! API live in `argus-alert-service`; here are the sources that feed its
//! ingress ([`sources`]: rule groups, health checks, dynamic rules, log and
//! event detectors) and the localisation added to a dynamic rule's alert at
//! its first firing ([`localize`]).

pub mod localize;
pub mod sources;

pub use argus_alert_service::*;
pub use sources::IngressSink;
