//! What the server and the service crates it composes share, so that a
//! service (logs, say) can live in a crate of its own and still serve its
//! HTTP routes the way every other Argus endpoint does:
//!
//! - [`parts`]: a started part of the server ([`parts::Component`]), and the
//!   stack that stops every part in reverse start order;
//! - [`params`]: the Prometheus-style JSON envelope, its error types, and
//!   the parsing of times, durations, selectors and form parameters;
//! - [`WriteGate`]: the budget of concurrent write requests shared by every
//!   ingest endpoint.
//!
//! ```
//! use argus_web::params::{parse_time, ApiError};
//! assert_eq!(parse_time("time", "1.5").unwrap(), 1500);
//! let e: ApiError = parse_time("time", "soon").unwrap_err();
//! assert!(e.message.contains("time"));
//! ```

#![warn(missing_docs)]

pub mod guard;
pub mod params;
pub mod parts;
pub mod redact;
pub mod values;
mod write_gate;

pub use write_gate::{Throttled, WriteGate, WritePermit};
