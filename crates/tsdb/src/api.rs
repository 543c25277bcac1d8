//! The storage interfaces other crates program against.
//!
//! Ingestion writes through [`Appender`]; PromQL, the HTTP API and rules read
//! through [`Querier`]. Both are implemented by [`crate::Db`].

use argus_model::{Labels, Matcher, Sample};

/// One series with its samples, as returned by [`Querier::select`].
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The full label set, including `__name__`.
    pub labels: Labels,
    /// Samples in strictly increasing timestamp order. Stale markers are included.
    pub samples: Vec<Sample>,
}

/// Why one sample was refused. The rest of the batch is unaffected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SampleError {
    /// Older than the series' newest sample by more than the out-of-order window.
    #[error("out of order sample for series {series}: timestamp {t} is older than the accepted window (newest {newest}, window {window_ms} ms)")]
    OutOfOrder {
        /// The series, in text form.
        series: String,
        /// The refused timestamp.
        t: i64,
        /// The newest timestamp of the series.
        newest: i64,
        /// The out-of-order window in force.
        window_ms: i64,
    },
    /// Older than what the head still holds (already compacted into a block).
    #[error("out of bounds sample for series {series}: timestamp {t} is before the head's lower bound {min_valid}")]
    OutOfBounds {
        /// The series, in text form.
        series: String,
        /// The refused timestamp.
        t: i64,
        /// The oldest timestamp the head accepts now.
        min_valid: i64,
    },
    /// The timestamp is outside the window the store accepts around its
    /// clock's now (too far in the future, older than the retention, or
    /// beyond years 0 to 9999).
    #[error("sample for series {series} has timestamp {t} ({}), outside the accepted window {min} ({}) to {max} ({}); timestamps are milliseconds since 1970-01-01 UTC, no further ahead of the server's clock than the allowed future skew and not older than the retention", crate::format_ms(*.t), crate::format_ms(*.min), crate::format_ms(*.max))]
    OutOfWindow {
        /// The series, in text form.
        series: String,
        /// The refused timestamp.
        t: i64,
        /// The oldest timestamp accepted now.
        min: i64,
        /// The newest timestamp accepted now.
        max: i64,
    },
    /// Same timestamp as an existing sample but a different value.
    #[error("duplicate sample for series {series} at timestamp {t} with a different value")]
    Duplicate {
        /// The series, in text form.
        series: String,
        /// The timestamp.
        t: i64,
    },
    /// The label set is not acceptable (empty, bad name, no metric name...).
    #[error("invalid labels {series}: {reason}")]
    InvalidLabels {
        /// The series, in text form.
        series: String,
        /// What is wrong.
        reason: String,
    },
}

/// Counts returned by a commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendStats {
    /// Samples made durable by this commit.
    pub samples: u64,
    /// Series created by this commit.
    pub new_series: u64,
    /// Staged samples the store refused when the commit applied them (they
    /// are in the WAL but not stored): a concurrent commit or a compaction
    /// got there between staging and commit. A sender must not count them as
    /// stored.
    pub rejected: u64,
}

/// A batch writer. Samples are invisible to readers and not durable until
/// [`Appender::commit`] returns `Ok`; only then may a sender be acknowledged.
pub trait Appender {
    /// Stages one sample for a label set given as pairs **sorted by name, names unique**.
    /// This is the fast path: no allocation when the series already exists.
    fn append_pairs(&mut self, pairs: &[(&str, &str)], t: i64, v: f64) -> Result<(), SampleError>;

    /// Stages one sample for `labels`.
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), SampleError> {
        let pairs: Vec<(&str, &str)> = labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        self.append_pairs(&pairs, t, v)
    }

    /// Writes the staged samples to the WAL and then makes them visible.
    fn commit(self) -> Result<AppendStats, crate::TsdbError>;

    /// Drops the staged samples.
    fn rollback(self);
}

/// Read access to stored series. `mint` and `maxt` are inclusive, in milliseconds.
pub trait Querier: Send + Sync {
    /// Series matching all `matchers` that have at least one sample in `[mint, maxt]`,
    /// with those samples, sorted by label set.
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, crate::TsdbError>;

    /// [`Querier::select`] that fails with [`crate::TsdbError::Limit`] once
    /// more than `max_samples` samples (0: no limit) would be loaded; a store
    /// that can stops reading there instead of loading everything first.
    fn select_limited(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        max_samples: usize,
    ) -> Result<Vec<Series>, crate::TsdbError> {
        let out = self.select(matchers, mint, maxt)?;
        let n: usize = out.iter().map(|s| s.samples.len()).sum();
        if max_samples > 0 && n > max_samples {
            return Err(crate::TsdbError::Limit(format!(
                "the query would load more than {max_samples} samples"
            )));
        }
        Ok(out)
    }

    /// Label sets of the matching series with data in `[mint, maxt]`, sorted.
    fn series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Labels>, crate::TsdbError>;

    /// Sorted label names over matching series (all series when `matchers` is empty).
    fn label_names(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, crate::TsdbError>;

    /// Sorted values of label `name` over matching series (all series when `matchers` is empty).
    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, crate::TsdbError>;
}
