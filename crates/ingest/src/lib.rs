//! Argus ingestion: everything that turns outside bytes into samples.
//!
//! - [`remote_write`]: the Prometheus remote_write 1.0 receiver, with a
//!   zero-copy protobuf walker over the snappy-decompressed body.
//! - [`text`]: a hand-written parser for the Prometheus text format 0.0.4 and
//!   OpenMetrics 1.0, plus [`text::ingest_text`] for the import endpoint.
//! - [`push`]: the JSON push format (see `docs/format/json-push.md`).
//! - [`relabel`]: Prometheus `relabel_configs`.
//! - [`remote_out`]: remote_write out: queues that read the WAL and send to
//!   Prometheus-compatible receivers.
//! - [`scrape`]: the scrape manager (static and file-based discovery,
//!   staleness markers, `up` and the other report series).
//!
//! Receivers write through any [`argus_tsdb::Appender`] and never commit: the
//! caller commits once the whole request has been handled, and only then
//! acknowledges the sender. Bad series are rejected and counted in an
//! [`IngestReport`]; the good series of the same request are kept.
//!
//! ```
//! use argus_ingest::text::{ingest_text, TextFormat};
//! use argus_tsdb::{AppendStats, Appender, SampleError, TsdbError};
//!
//! /// A recorder standing in for the store.
//! #[derive(Default)]
//! struct Rec(Vec<(String, i64, f64)>);
//! impl Appender for Rec {
//!     fn append_pairs(&mut self, p: &[(&str, &str)], t: i64, v: f64) -> Result<(), SampleError> {
//!         self.0.push((format!("{p:?}"), t, v));
//!         Ok(())
//!     }
//!     fn commit(self) -> Result<AppendStats, TsdbError> { Ok(AppendStats::default()) }
//!     fn rollback(self) {}
//! }
//!
//! let mut app = Rec::default();
//! let body = b"# TYPE up gauge\nup{job=\"node\"} 1 1700000000000\nbroken{ 1\n";
//! let report = ingest_text(&mut app, body, 0, TextFormat::Prometheus);
//! assert_eq!((report.accepted, report.rejected), (1, 1));
//! assert!(report.errors[0].starts_with("line 3"));
//! assert_eq!(app.0[0].1, 1_700_000_000_000);
//! ```

pub mod push;
pub mod relabel;
pub mod remote_out;
pub mod remote_write;
mod report;
pub mod scrape;
pub mod text;
mod validate;

pub use report::{IngestError, IngestReport, MAX_BODY_BYTES, MAX_REPORTED_ERRORS};
pub use validate::{describe_pairs, validate_pairs};

/// Something that makes appenders: the scrape manager opens one per scrape
/// (and commits it on a blocking thread). The store's write path
/// ([`argus_tsdb::Storage`]) is one.
pub trait AppenderFactory: Send + Sync + 'static {
    /// The appender type.
    type App: argus_tsdb::Appender + Send;
    /// A fresh appender; its samples become visible on `commit`.
    fn appender(&self) -> Self::App;
}

impl AppenderFactory for argus_tsdb::Storage {
    type App = argus_tsdb::StorageAppender;
    fn appender(&self) -> Self::App {
        argus_tsdb::Storage::appender(self)
    }
}
