//! Shared vocabulary for Argus, with no I/O: labels, matchers, samples, the
//! remote_write protobuf messages, the injected [`Clock`], a seeded
//! generator for synthetic data ([`SplitMix64`]), and the alert value and
//! alert timing every alert source shares ([`alert`]).
//!
//! Small helpers that several crates need live here once: calendar maths and
//! RFC 3339 formatting ([`time`]), URL percent-encoding ([`url`]), the
//! Prometheus exposition writer ([`exposition`]) and the host name ([`host`],
//! the one read from the system).
//!
//! Every other crate builds on these types, so they stay small and stable.
//!
//! ```
//! use argus_model::{Labels, Matcher, MatchOp};
//!
//! let l = Labels::from_pairs(&[("__name__", "up"), ("job", "node")]);
//! assert_eq!(l.get("job"), Some("node"));
//! assert_eq!(l.to_string(), r#"up{job="node"}"#);
//!
//! let m = Matcher::new(MatchOp::Re, "job", "no.*").unwrap();
//! assert!(m.matches(l.get("job").unwrap_or("")));
//! ```

pub mod alert;
mod clock;
mod duration;
pub mod exposition;
pub mod host;
pub mod html;
mod labels;
mod matcher;
pub mod prompb;
mod sample;
pub mod size;
mod splitmix;
pub mod time;
pub mod url;

pub use clock::{Clock, ManualClock, SystemClock};
pub use duration::{format_duration, parse_duration, DurationError, PromDuration};
pub use labels::{
    hash_pairs, is_valid_label_name, is_valid_metric_name, Label, Labels, METRIC_NAME,
};
pub use matcher::{MatchOp, Matcher};
pub use sample::{is_stale_nan, Sample, STALE_NAN, STALE_NAN_BITS};
pub use splitmix::SplitMix64;

/// Errors raised while building model values from outside input.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    /// A regular expression in a matcher did not compile.
    #[error("invalid regular expression {pattern:?} in matcher for label {label:?}: {reason}")]
    BadRegex {
        /// The label the matcher applies to.
        label: String,
        /// The pattern as given.
        pattern: String,
        /// What the regex compiler said.
        reason: String,
    },
}
