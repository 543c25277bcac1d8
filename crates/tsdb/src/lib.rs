//! Argus's embedded time-series store.
//!
//! Samples are written to a checksummed write-ahead log, kept in an in-memory
//! head of compressed chunks (Gorilla XOR, or scaled decimals for counters and
//! few-decimal gauges), and compacted into immutable `pco`-compressed blocks. A postings index answers label matchers.
//! Retention drops whole blocks by age and by total size. The on-disk formats
//! are documented in `docs/format/`.
//!
//! ```
//! use argus_model::{Labels, ManualClock, Matcher};
//! use argus_tsdb::{Appender, Db, Options, Querier};
//! use std::sync::Arc;
//!
//! let dir = tempfile::tempdir().unwrap();
//! // Samples must lie near the clock's now (see `Options::max_future_ms`).
//! let clock = Arc::new(ManualClock::new(2_000));
//! let db = Db::open(dir.path(), Options::default(), clock).unwrap();
//! let mut app = db.appender();
//! let up = Labels::from_pairs(&[("__name__", "up"), ("job", "node")]);
//! app.append(&up, 1_000, 1.0).unwrap();
//! app.commit().unwrap();
//! let got = db.select(&[Matcher::eq("job", "node")], 0, 2_000).unwrap();
//! assert_eq!(got[0].samples[0].v, 1.0);
//! ```

mod api;
mod appender;
mod backfill;
pub mod block;
pub mod blockcodec;
pub mod chunk;
mod compact;
mod db;
mod enc;
mod head;
mod index;
mod limits;
#[cfg(test)]
mod poison_tests;
mod querier;
mod replay;
mod series;
mod space;
mod storage;
mod wal;
mod wal_hold;
pub mod wal_read;
mod window;

pub use api::{AppendStats, Appender, Querier, SampleError, Series};
pub use appender::DbAppender;
pub use block::{BlockMeta, BLOCK_VERSION};
pub use db::{Db, DbStats, Options};
pub use limits::{LabelLimits, MAX_SERIES_TEXT};
pub use space::ReadOnlyReason;
pub use storage::{
    append_batch, AppendReport, CommitObserver, ObservedBatch, Refused, Storage, StorageAppender,
};
pub use wal::FsyncPolicy;
pub use window::{format_ms, MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS};

/// Errors from the store. Disk errors are retryable; corruption is not.
#[derive(Debug, thiserror::Error)]
pub enum TsdbError {
    /// An I/O error on `path`.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file failed its checksum or could not be decoded.
    #[error("corrupt data in {path} at byte {offset}: {reason}")]
    Corrupt {
        /// The file involved.
        path: std::path::PathBuf,
        /// Byte offset where decoding failed.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// The data directory is locked by another process.
    #[error("data directory {0} is in use by another process")]
    Locked(std::path::PathBuf),
    /// A query hit a limit.
    #[error("query limit exceeded: {0}")]
    Limit(String),
    /// Invalid options.
    #[error("invalid storage option: {0}")]
    Options(String),
    /// Writes are refused for now (the disk is full or nearly full); queries
    /// still work, and writes resume by themselves once space is freed.
    #[error("the store is read-only for now: {0}; queries still work and writes resume by themselves once space is freed")]
    ReadOnly(ReadOnlyReason),
}

impl TsdbError {
    /// True when trying again later may succeed (disk full, transient I/O).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            TsdbError::Io { .. } | TsdbError::Locked(_) | TsdbError::ReadOnly(_)
        )
    }

    /// True when the error means the store refuses writes until disk space
    /// is freed (see [`ReadOnlyReason`]).
    pub fn is_read_only(&self) -> bool {
        matches!(self, TsdbError::ReadOnly(_))
    }
}
