//! Logs: header formats and template mining.
//!
//! - [`mod@format`]: Loghub-style header formats (`<Date> <Time> <Level>
//!   <Component>: <Content>`), splitting a line into its fields and message.
//! - [`miner`]: which messages are the same template with different values;
//!   every line gets its template with `<*>` for the values.
//! - [`online`]: online template assignment: each message gets a template id as it arrives.
//! - [`patterns`]: a selector's lines counted per template over time (Loki's patterns API).
//! - [`record`]: log records, streams, what a decoder refused, and the
//!   [`record::LogSource`] a query engine reads.
//! - [`store`]: the log store: a WAL that acknowledges, a head in memory, and
//!   zstd chunk files (lines kept as templates and values) with retention by time and size.
//! - [`push`]: decoders for every ingest protocol (Loki push, OTLP logs, JSON lines, plain
//!   text, syslog), pure functions from request bytes to records and refusals.
//! - [`logql`]: a LogQL engine over a [`record::LogSource`] (selectors, line filters, `json`,
//!   `logfmt`, label filters, `count_over_time`/`rate` and aggregations), answering in Loki's
//!   JSON shapes.
//! - [`events`]: deploys, configuration changes, Kubernetes and business events, decoded from
//!   CloudEvents and stored as log streams, with a learned model of their normal mix that
//!   flags an abnormal one.
//!
//! This crate knows nothing of the rest of Argus beyond `argus-model`.
//!
//! ```
//! use argus_logs::{format::Format, miner::mine};
//! let f = Format::parse("<Level> <Content>").unwrap();
//! let lines = ["INFO took 12 ms", "INFO took 7 ms", "WARN disk full"];
//! let contents: Vec<&str> = lines.iter().map(|l| f.content(l)).collect();
//! let t = mine(&contents);
//! assert_eq!(t, vec!["took <*> ms", "took <*> ms", "disk full"]);
//! ```

pub mod events;
pub mod format;
pub mod logql;
pub mod miner;
pub mod online;
pub mod patterns;
pub mod push;
pub mod record;
pub mod store;
