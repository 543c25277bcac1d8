//! The Argus agent library: host collectors reading `/proc` and `/sys`, GPUs
//! through NVML, the Prometheus text / OpenMetrics encoders, and a
//! remote_write pusher with an on-disk queue, and a log file tailer
//! ([`tail`]) shipping lines to the server through another.
//!
//! The collectors parse the kernel's files by hand into reused buffers and
//! render straight into one reused `String`, so that a scrape costs a fraction
//! of node_exporter's CPU and memory. Metric names, labels, types and units
//! follow node_exporter 1.5 wherever the meaning is the same.
//!
//! ```no_run
//! use std::sync::Arc;
//! use argus_collect::{negotiate, Agent, AgentConfig};
//! use argus_model::SystemClock;
//!
//! let agent = Agent::new(AgentConfig::default(), Arc::new(SystemClock))?;
//! let format = negotiate(Some("application/openmetrics-text; version=1.0.0"));
//! let body = agent.render(format);
//! assert!(body.ends_with("# EOF\n"));
//! # Ok::<(), argus_collect::CollectError>(())
//! ```

pub mod agent;
pub mod collectors;
pub mod expose;
pub mod push;
pub mod queue;
pub mod tail;

pub use agent::{Agent, AgentConfig, CollectorsConfig, FilesystemConfig, ServiceConfig};
pub use collectors::gpu::GpuConfig;
pub use expose::{negotiate, render, to_samples, Format, MetricFamily, MetricKind, MetricSample};
pub use push::{PushConfig, PushStats, Pusher, SampleSource};
pub use queue::DiskQueue;

use std::path::PathBuf;

/// Errors of the agent library. Each names what failed and where.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// A file under `/proc` or `/sys` (or the queue directory) could not be read or written.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A kernel file had content that could not be parsed.
    #[error("could not parse {path}: {reason}")]
    Parse {
        /// The file that was being parsed.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The agent configuration is invalid.
    #[error("invalid agent configuration: {0}")]
    Config(String),
    /// A record in the push queue is corrupt.
    #[error("corrupt push queue record in {path} at offset {offset}: {reason}")]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the record.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// Sending a remote_write batch failed.
    #[error("remote_write to {url} failed: {reason}")]
    Send {
        /// The endpoint.
        url: String,
        /// What happened (connection error or HTTP status).
        reason: String,
        /// Whether retrying later may succeed (connection errors, 5xx, 429).
        retryable: bool,
    },
}

impl CollectError {
    /// Builds an [`CollectError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CollectError::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether retrying the operation later may succeed: I/O errors and
    /// retryable send errors are; parse, config and corruption errors are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            CollectError::Io { .. } => true,
            CollectError::Send { retryable, .. } => *retryable,
            _ => false,
        }
    }
}
