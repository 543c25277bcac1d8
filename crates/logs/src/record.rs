//! Log records as every ingest path produces them and every reader sees them.
//!
//! A record belongs to a *stream*, named by its labels (`{service="api", level="error"}`),
//! as in Loki. Structured metadata (Loki's name for per-line key/value pairs that are not
//! labels: OpenTelemetry attributes, a trace id) rides with the line and costs no index.
//!
//! ```
//! use argus_logs::record::{LogRecord, Refusal, Decoded};
//! use argus_model::Labels;
//! let r = LogRecord::new(Labels::from_pairs(&[("service", "api")]), 1_700_000_000_000_000_000, "GET / 200");
//! let mut d = Decoded::default();
//! d.records.push(r);
//! d.refused.push(Refusal::new("stream 1, entry 2", "the timestamp is not a number"));
//! assert_eq!(d.summary(), "1 accepted, 1 refused (stream 1, entry 2: the timestamp is not a number)");
//! ```

use crate::patterns::PatternCounter;
use argus_model::Labels;
use argus_model::Matcher;
use std::fmt;

/// One log line with its stream labels, time and structured metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// The stream's labels (indexed).
    pub labels: Labels,
    /// Unix time in nanoseconds.
    pub ts_ns: i64,
    /// The line as sent.
    pub line: String,
    /// Structured metadata: per-line pairs that are not labels.
    pub metadata: Vec<(String, String)>,
}

impl LogRecord {
    /// A record without structured metadata.
    pub fn new(labels: Labels, ts_ns: i64, line: impl Into<String>) -> LogRecord {
        LogRecord {
            labels,
            ts_ns,
            line: line.into(),
            metadata: Vec::new(),
        }
    }
}

/// A record refused by a decoder, and why; the rest of the request is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Where in the request: "stream 2, entry 5", "line 14".
    pub at: String,
    /// Why, as a sentence fragment a user can act on.
    pub reason: String,
}

impl Refusal {
    /// A refusal at `at` for `reason`.
    pub fn new(at: impl Into<String>, reason: impl Into<String>) -> Refusal {
        Refusal {
            at: at.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.reason)
    }
}

/// What a decoder made of one request: the good records and the refused ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    /// Records to keep.
    pub records: Vec<LogRecord>,
    /// Records refused, in request order.
    pub refused: Vec<Refusal>,
}

impl Decoded {
    /// "3 accepted, 1 refused (line 2: …)": the first three refusals are named.
    pub fn summary(&self) -> String {
        summarise(self.records.len(), &self.refused)
    }
}

/// "3 accepted, 1 refused (line 2: …)": the first three refusals are named.
pub fn summarise(accepted: usize, refused: &[Refusal]) -> String {
    let mut s = format!("{accepted} accepted, {} refused", refused.len());
    if !refused.is_empty() {
        let named: Vec<String> = refused.iter().take(3).map(|r| r.to_string()).collect();
        s.push_str(&format!(" ({}", named.join("; ")));
        if refused.len() > 3 {
            s.push_str("; …");
        }
        s.push(')');
    }
    s
}

/// A stream's entries, oldest first, as a reader sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// The stream's labels.
    pub labels: Labels,
    /// Its entries in the asked range, ascending by time.
    pub entries: Vec<Entry>,
}

/// One stored line.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Unix time in nanoseconds.
    pub ts_ns: i64,
    /// The line.
    pub line: String,
    /// Structured metadata.
    pub metadata: Vec<(String, String)>,
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The store could not be read.
    #[error("the log store could not be read: {0}")]
    Io(#[from] std::io::Error),
    /// The query would read more than the configured limit.
    #[error(
        "the query would read more than {limit} log lines; narrow the time range or the selector"
    )]
    TooMany {
        /// The limit that was hit.
        limit: usize,
    },
}

/// What a query engine reads: the log store, or a fixed set of streams in tests.
///
/// Ranges are `[start_ns, end_ns)`; a stream is visited once, its entries oldest first.
pub trait LogSource {
    /// Calls `visit` with each stream whose labels match every matcher and that has entries in
    /// the range, with those entries. `visit` returns `false` to stop early.
    fn scan(
        &self,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
        visit: &mut dyn FnMut(&Labels, &[Entry]) -> bool,
    ) -> Result<(), SourceError>;

    /// As [`scan`](Self::scan), but the entries' lines may be empty: for counting, which needs
    /// only the times and the structured metadata. By default it is `scan`; the log store
    /// leaves the lines in its chunks unread.
    fn scan_times(
        &self,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
        visit: &mut dyn FnMut(&Labels, &[Entry]) -> bool,
    ) -> Result<(), SourceError> {
        self.scan(matchers, start_ns, end_ns, visit)
    }

    /// The label names of streams with entries in the range, sorted.
    fn label_names(&self, start_ns: i64, end_ns: i64) -> Result<Vec<String>, SourceError>;

    /// The values of `name` among streams matching `matchers` with entries in the range, sorted.
    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Vec<String>, SourceError>;

    /// The label sets of streams matching `matchers` with entries in the range.
    fn series(
        &self,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Vec<Labels>, SourceError>;

    /// Counts the lines of streams matching `matchers` in `counter`'s range under their
    /// templates. By default each stream's lines are mined; the log store reads the templates
    /// kept in its chunks.
    fn patterns(
        &self,
        matchers: &[Matcher],
        counter: &mut PatternCounter,
    ) -> Result<(), SourceError> {
        let (start_ns, end_ns) = counter.range();
        self.scan(matchers, start_ns, end_ns, &mut |_, entries| {
            counter.add_mined(entries);
            true
        })
    }
}

/// True when `labels` match every matcher (a missing label matches as empty, as in Prometheus).
pub fn selects(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers
        .iter()
        .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
}

/// The entries (sorted by time) stamped in `[start_ns, end_ns)`.
pub fn in_range(entries: &[Entry], start_ns: i64, end_ns: i64) -> &[Entry] {
    let lo = entries.partition_point(|e| e.ts_ns < start_ns);
    let hi = entries.partition_point(|e| e.ts_ns < end_ns);
    &entries[lo..hi.max(lo)]
}

/// A [`LogSource`] over streams held in memory: tests, and small answers built by hand.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    /// The streams, each with entries sorted by time.
    pub streams: Vec<Stream>,
}

impl MemorySource {
    /// Groups records into streams by their labels, entries sorted by time.
    pub fn from_records(records: impl IntoIterator<Item = LogRecord>) -> MemorySource {
        let mut streams: Vec<Stream> = Vec::new();
        for r in records {
            let e = Entry {
                ts_ns: r.ts_ns,
                line: r.line,
                metadata: r.metadata,
            };
            match streams.iter_mut().find(|s| s.labels == r.labels) {
                Some(s) => s.entries.push(e),
                None => streams.push(Stream {
                    labels: r.labels,
                    entries: vec![e],
                }),
            }
        }
        for s in &mut streams {
            s.entries.sort_by_key(|e| e.ts_ns);
        }
        MemorySource { streams }
    }

    fn matching<'a>(
        &'a self,
        matchers: &'a [Matcher],
        start_ns: i64,
        end_ns: i64,
    ) -> impl Iterator<Item = (&'a Stream, &'a [Entry])> + 'a {
        self.streams.iter().filter_map(move |s| {
            if !selects(matchers, &s.labels) {
                return None;
            }
            let e = in_range(&s.entries, start_ns, end_ns);
            (!e.is_empty()).then_some((s, e))
        })
    }
}

impl LogSource for MemorySource {
    fn scan(
        &self,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
        visit: &mut dyn FnMut(&Labels, &[Entry]) -> bool,
    ) -> Result<(), SourceError> {
        for (s, entries) in self.matching(matchers, start_ns, end_ns) {
            if !visit(&s.labels, entries) {
                break;
            }
        }
        Ok(())
    }

    fn label_names(&self, start_ns: i64, end_ns: i64) -> Result<Vec<String>, SourceError> {
        let mut names: Vec<String> = self
            .matching(&[], start_ns, end_ns)
            .flat_map(|(s, _)| s.labels.iter().map(|l| l.name.to_string()))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Vec<String>, SourceError> {
        let mut values: Vec<String> = self
            .matching(matchers, start_ns, end_ns)
            .filter_map(|(s, _)| s.labels.get(name).map(str::to_string))
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }

    fn series(
        &self,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Vec<Labels>, SourceError> {
        Ok(self
            .matching(matchers, start_ns, end_ns)
            .map(|(s, _)| s.labels.clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(svc: &str, ts: i64, line: &str) -> LogRecord {
        LogRecord::new(Labels::from_pairs(&[("service", svc)]), ts, line)
    }

    #[test]
    fn memory_source_groups_sorts_and_ranges() {
        let src = MemorySource::from_records(vec![
            rec("api", 30, "c"),
            rec("db", 10, "x"),
            rec("api", 10, "a"),
            rec("api", 20, "b"),
        ]);
        let mut seen = Vec::new();
        src.scan(&[Matcher::eq("service", "api")], 15, 31, &mut |l, e| {
            seen.push((
                l.get("service").unwrap().to_string(),
                e.len(),
                e[0].line.clone(),
            ));
            true
        })
        .unwrap();
        assert_eq!(seen, vec![("api".to_string(), 2, "b".to_string())]);
        assert_eq!(
            src.label_values("service", &[], 0, 100).unwrap(),
            ["api", "db"]
        );
        assert_eq!(
            src.label_values("service", &[], 0, 10).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(src.series(&[], 10, 11).unwrap().len(), 2);
        assert_eq!(src.label_names(0, 100).unwrap(), ["service"]);
    }

    #[test]
    fn summary_names_at_most_three() {
        let mut d = Decoded::default();
        for i in 0..5 {
            d.refused.push(Refusal::new(format!("line {i}"), "bad"));
        }
        assert_eq!(
            d.summary(),
            "0 accepted, 5 refused (line 0: bad; line 1: bad; line 2: bad; …)"
        );
    }
}
