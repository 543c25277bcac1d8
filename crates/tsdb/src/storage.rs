//! The one write path: [`Storage`] wraps a [`Db`] and is what every append
//! path holds (the write endpoints, scraping, the built-in agent, recording
//! rules, service health). It hands out appenders that tell the registered
//! [`CommitObserver`]s about the samples of every successful commit, and it
//! has the one "append a batch, count the refused, commit" loop
//! ([`Storage::append_batch`], [`append_batch`]).
//!
//! An observer is told in two steps, so the append path allocates nothing for
//! observers that want nothing: [`CommitObserver::begin`] opens a batch per
//! appender (or declines), [`ObservedBatch::accepted`] sees each sample the
//! store staged (refused samples are never shown), and
//! [`ObservedBatch::committed`] runs once the commit succeeded. A rolled back
//! appender or a failed commit drops the batch unseen.
//!
//! ```
//! use argus_model::{Labels, ManualClock};
//! use argus_tsdb::{AppendStats, CommitObserver, Db, ObservedBatch, Options, Storage};
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//!
//! #[derive(Default)]
//! struct Count(Arc<AtomicU64>);
//! struct Batch(Arc<AtomicU64>, u64);
//! impl CommitObserver for Count {
//!     fn begin(&self) -> Option<Box<dyn ObservedBatch>> {
//!         Some(Box::new(Batch(self.0.clone(), 0)))
//!     }
//! }
//! impl ObservedBatch for Batch {
//!     fn accepted(&mut self, _: &[(&str, &str)], _: i64, _: f64) {
//!         self.1 += 1;
//!     }
//!     fn committed(self: Box<Self>, _: &AppendStats) {
//!         self.0.fetch_add(self.1, Ordering::Relaxed);
//!     }
//! }
//!
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path(), Options::default(), Arc::new(ManualClock::new(2_000))).unwrap();
//! let storage = Storage::new(db);
//! let seen = Arc::new(AtomicU64::new(0));
//! storage.add_observer(Arc::new(Count(seen.clone())));
//! let up = Labels::from_pairs(&[("__name__", "up")]);
//! let bad = Labels::from_pairs(&[("__name__", "not a metric name")]);
//! let report = storage
//!     .append_batch([(&up, 1_000, 1.0), (&bad, 1_000, 1.0)])
//!     .unwrap();
//! assert_eq!((report.accepted, report.refused.total()), (1, 1));
//! assert_eq!(seen.load(Ordering::Relaxed), 1, "refused samples are not observed");
//! ```

use crate::{AppendStats, Appender, Db, DbAppender, SampleError, TsdbError};
use argus_model::Labels;
use parking_lot::RwLock;
use std::sync::Arc;

/// Told about the samples of every successful commit through a [`Storage`]
/// appender. Implementations must be cheap when they want nothing: `begin`
/// runs once per appender, on the append path.
pub trait CommitObserver: Send + Sync {
    /// Opens a batch for one appender; `None` when this observer wants
    /// nothing of it.
    fn begin(&self) -> Option<Box<dyn ObservedBatch>>;
}

/// One appender's samples as one observer collects them.
pub trait ObservedBatch: Send {
    /// A sample the store staged (labels as pairs sorted by name). Samples the
    /// store refused are never passed.
    fn accepted(&mut self, pairs: &[(&str, &str)], t: i64, v: f64);

    /// The commit succeeded. Not called after a rollback or a failed commit.
    fn committed(self: Box<Self>, stats: &AppendStats);
}

/// The write path of a [`Db`]: observed appenders and the batch append.
/// Cheap to clone; clones share the observers.
#[derive(Clone)]
pub struct Storage {
    db: Db,
    observers: Arc<RwLock<Vec<Arc<dyn CommitObserver>>>>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("db", &self.db)
            .field("observers", &self.observers.read().len())
            .finish()
    }
}

impl Storage {
    /// The write path of `db`, with no observer yet.
    pub fn new(db: Db) -> Storage {
        Storage {
            db,
            observers: Arc::default(),
        }
    }

    /// The store, for reads and maintenance.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// A handle on the same store whose appenders tell no observer, for
    /// writers whose series must not be observed (the service health
    /// series, which dynamic rules do not score).
    pub fn unobserved(&self) -> Storage {
        Storage::new(self.db.clone())
    }

    /// Registers `observer`; appenders created from now on tell it about
    /// their commits.
    pub fn add_observer(&self, observer: Arc<dyn CommitObserver>) {
        self.observers.write().push(observer);
    }

    /// An appender whose successful commit is told to the observers.
    /// Committing writes (and, with `wal_fsync: always`, fsyncs) the WAL:
    /// call it on a blocking thread, never on an async worker.
    pub fn appender(&self) -> StorageAppender {
        let batches = self
            .observers
            .read()
            .iter()
            .filter_map(|o| o.begin())
            .collect();
        StorageAppender {
            inner: self.db.appender(),
            batches,
        }
    }

    /// Appends `samples` through one observed appender and commits them (see
    /// [`append_batch`]). Blocking.
    pub fn append_batch<'a, I>(&self, samples: I) -> Result<AppendReport, TsdbError>
    where
        I: IntoIterator<Item = (&'a Labels, i64, f64)>,
    {
        append_batch(self.appender(), samples)
    }
}

/// Appends `samples` to `app`, counting the refused by reason, then commits.
/// The refused samples do not stop the batch; a failed commit is the error
/// (nothing of the batch is stored). Blocking.
///
/// ```
/// use argus_model::{Labels, ManualClock};
/// use argus_tsdb::{append_batch, Db, Options};
/// use std::sync::Arc;
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path(), Options::default(), Arc::new(ManualClock::new(2_000))).unwrap();
/// let x = Labels::from_pairs(&[("__name__", "x")]);
/// let r = append_batch(db.appender(), [(&x, 1_000, 1.0)]).unwrap();
/// assert_eq!((r.accepted, r.new_series), (1, 1));
/// // Same timestamp, other value: refused, the rest of the batch is kept.
/// let r = append_batch(db.appender(), [(&x, 1_000, 2.0), (&x, 1_500, 2.0)]).unwrap();
/// assert_eq!((r.accepted, r.refused.duplicate), (1, 1));
/// assert!(r.first_error.unwrap().contains("duplicate"));
/// ```
pub fn append_batch<'a, A, I>(mut app: A, samples: I) -> Result<AppendReport, TsdbError>
where
    A: Appender,
    I: IntoIterator<Item = (&'a Labels, i64, f64)>,
{
    let mut report = AppendReport::default();
    let mut staged = 0u64;
    for (labels, t, v) in samples {
        match app.append(labels, t, v) {
            Ok(()) => staged += 1,
            Err(e) => report.refuse(&e),
        }
    }
    let stats = app.commit()?;
    report.refused.at_commit = stats.rejected;
    report.accepted = staged.saturating_sub(stats.rejected);
    report.new_series = stats.new_series;
    Ok(report)
}

/// What [`append_batch`] did with a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendReport {
    /// Samples stored.
    pub accepted: u64,
    /// Samples the store refused, by reason.
    pub refused: Refused,
    /// The first refusal's message, if any.
    pub first_error: Option<String>,
    /// Series the commit created.
    pub new_series: u64,
}

/// Refused samples by reason (see [`SampleError`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refused {
    /// Older than the series' out-of-order window allows.
    pub out_of_order: u64,
    /// Older than what the head still holds.
    pub out_of_bounds: u64,
    /// Outside the window of timestamps accepted around now.
    pub out_of_window: u64,
    /// Same timestamp, other value.
    pub duplicate: u64,
    /// Label set not acceptable.
    pub invalid_labels: u64,
    /// Staged, then refused when the commit applied them (a concurrent commit
    /// or a compaction got there first).
    pub at_commit: u64,
}

impl Refused {
    /// All refused samples.
    pub fn total(&self) -> u64 {
        self.out_of_order
            + self.out_of_bounds
            + self.out_of_window
            + self.duplicate
            + self.invalid_labels
            + self.at_commit
    }
}

impl AppendReport {
    /// Counts one refused sample.
    pub fn refuse(&mut self, e: &SampleError) {
        let r = &mut self.refused;
        match e {
            SampleError::OutOfOrder { .. } => r.out_of_order += 1,
            SampleError::OutOfBounds { .. } => r.out_of_bounds += 1,
            SampleError::OutOfWindow { .. } => r.out_of_window += 1,
            SampleError::Duplicate { .. } => r.duplicate += 1,
            SampleError::InvalidLabels { .. } => r.invalid_labels += 1,
        }
        self.first_error.get_or_insert_with(|| e.to_string());
    }

    /// Logs the refused samples at debug level, if any, naming the writer
    /// (`"rule results"`, `"service health samples"`...).
    pub fn log_refused(&self, writer: &str) {
        let refused = self.refused.total();
        if refused > 0 {
            tracing::debug!(
                writer,
                refused,
                first_error = self.first_error.as_deref().unwrap_or(""),
                "The store refused some samples of a batch."
            );
        }
    }
}

/// The appender of [`Storage::appender`]: a [`DbAppender`] whose successful
/// commit is told to the observers.
pub struct StorageAppender {
    inner: DbAppender,
    batches: Vec<Box<dyn ObservedBatch>>,
}

impl std::fmt::Debug for StorageAppender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageAppender")
            .field("inner", &self.inner)
            .field("observers", &self.batches.len())
            .finish()
    }
}

impl StorageAppender {
    /// Number of staged samples.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// True when nothing is staged.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

impl Appender for StorageAppender {
    fn append_pairs(&mut self, pairs: &[(&str, &str)], t: i64, v: f64) -> Result<(), SampleError> {
        let history = self.inner.history_len();
        self.inner.append_pairs(pairs, t, v)?;
        // History (older than the head) is stored, not live: observers such
        // as the dynamic rules' scoring are not told about it.
        if self.inner.history_len() == history {
            for b in &mut self.batches {
                b.accepted(pairs, t, v);
            }
        }
        Ok(())
    }

    fn commit(self) -> Result<AppendStats, TsdbError> {
        let StorageAppender { inner, batches } = self;
        let stats = inner.commit()?;
        for b in batches {
            b.committed(&stats);
        }
        Ok(stats)
    }

    fn rollback(self) {
        self.inner.rollback();
    }
}

#[cfg(test)]
#[path = "storage_tests.rs"]
mod tests;
