//! A LogQL engine that answers in Loki's JSON shapes, reading through a
//! [`LogSource`](crate::record::LogSource).
//!
//! Supported: stream selectors (`{app="api", env=~"prod|dev"}`, at least one matcher that does
//! not match the empty string), line filters (`|=`, `!=`, `|~`, `!~`, with Go-quoted or
//! backtick strings), the `json`, `logfmt`, `pattern` and `regexp` parsers, `drop` and `keep` (label names,
//! optionally with a matcher: Grafana's log volume sends `| drop __error__`), label filters
//! (string matchers, numbers, durations and byte sizes, combined with `and`, `or`, `,` and
//! parentheses), `line_format` and `label_format` (Go templates on `argus-gotmpl` with Loki's
//! common functions, [`LINE_FUNCS`]; `__line__` and `__timestamp__`), the range functions
//! `count_over_time`, `rate`, `bytes_over_time`, `bytes_rate` and `absent_over_time`, `unwrap`
//! (`x`, `duration(x)`, `duration_seconds(x)`, `bytes(x)`, then label filters) with
//! `sum_over_time`, `avg_over_time`, `max_over_time`, `min_over_time`, `first_over_time`,
//! `last_over_time`, `stdvar_over_time`, `stddev_over_time`, `quantile_over_time`, `rate` and
//! `rate_counter` (with `by`/`without` on the function where Loki allows it), and the
//! aggregations `sum`, `min`, `max`, `avg`, `count`, `stddev`, `stdvar`, `topk` and `bottomk`
//! with `by`/`without` before or after the argument.
//!
//! Refused with a message naming the construct and its byte offset: `offset`, binary
//! operators, `unpack`, `decolorize`, `distinct`, `label_replace`, `sort`, `vector`, pattern
//! line filters, and log queries as instant queries (as Loki 3.2+ does).
//!
//! A parsed line keeps its stream labels, its structured metadata (as Loki 3 does) and what
//! parsers extracted; a name the stream already
//! has is extracted as `name_extracted`. A line a parser could not read carries
//! `__error__="JSONParserErr"` (or `LogfmtParserErr` with `| logfmt --strict`; plain `logfmt`
//! skips malformed pairs as Loki does) and passes on unless `| __error__=""` drops it; a
//! template that fails on a line marks it `TemplateFormatErr`. `unwrap` skips a line without
//! the label (Loki ≥ 2.7) and marks a value it cannot read `SampleExtractionErr`; an unwrapped
//! series that keeps an `__error__` fails the query with [`LogqlError::Pipeline`], as Loki's
//! "pipeline error", unless a label filter drops those lines.
//!
//! ```
//! use argus_logs::logql::{self, Direction, Limits};
//! use argus_logs::record::{LogRecord, MemorySource};
//! use argus_model::Labels;
//!
//! let s = 1_000_000_000i64; // one second in nanoseconds
//! let app = Labels::from_pairs(&[("app", "api")]);
//! let src = MemorySource::from_records(vec![
//!     LogRecord::new(app.clone(), 10 * s, r#"{"level":"error","req":{"ms":12}}"#),
//!     LogRecord::new(app.clone(), 20 * s, r#"{"level":"info","req":{"ms":3}}"#),
//!     LogRecord::new(app.clone(), 70 * s, r#"{"level":"error","req":{"ms":40}}"#),
//! ]);
//!
//! let q = logql::parse(r#"{app="api"} |= "error""#).unwrap();
//! let v = logql::query_range(&src, &q, 0, 100 * s, 0, 100, Direction::Backward, &Limits::default()).unwrap();
//! let values = &v["data"]["result"][0]["values"];
//! assert_eq!(values[0][0], "70000000000"); // newest first
//! assert_eq!(values.as_array().unwrap().len(), 2);
//!
//! let q = logql::parse(r#"sum by (level) (count_over_time({app="api"} | json | req_ms > 10 [1m]))"#).unwrap();
//! let v = logql::query_instant(&src, &q, 60 * s, &Limits::default()).unwrap();
//! assert_eq!(v["data"]["resultType"], "vector");
//! assert_eq!(v["data"]["result"][0]["metric"]["level"], "error");
//! assert_eq!(v["data"]["result"][0]["value"][1], "1");
//!
//! // 12 and 40 ms in the window (-50s, 70s]: their mean, per level, with the level in upper case.
//! let q = logql::parse(r#"avg_over_time({app="api"} | json | level="error" | label_format level=`{{ .level | ToUpper }}` | unwrap req_ms [2m]) by (level)"#).unwrap();
//! let v = logql::query_instant(&src, &q, 70 * s, &Limits::default()).unwrap();
//! assert_eq!(v["data"]["result"][0]["metric"]["level"], "ERROR");
//! assert_eq!(v["data"]["result"][0]["value"][1], "26");
//!
//! let q = logql::parse(r#"{app="api"} | json | line_format "{{.level}} took {{.req_ms}}ms""#).unwrap();
//! let v = logql::query_range(&src, &q, 0, 100 * s, 0, 100, Direction::Forward, &Limits::default()).unwrap();
//! assert_eq!(v["data"]["result"][0]["values"][0][1], "error took 12ms");
//! ```

mod ast;
mod eval;
mod lex;
mod parse;
mod pattern;
mod pipeline;
mod response;
mod template;
mod unwrap;

#[cfg(test)]
mod tests_binary;
#[cfg(test)]
mod tests_eval;
#[cfg(test)]
mod tests_parse;
#[cfg(test)]
mod tests_parsers;
#[cfg(test)]
mod tests_template;
#[cfg(test)]
mod tests_unwrap;

pub use eval::{eval_instant, query_instant, query_range};
pub use parse::{
    parse, parse_selector, AggOp, CmpOp, Conversion, Grouping, LabelExpr, LabelFmt, LabelSel,
    LineFilter, LineOp, LogQuery, MetricExpr, NumKind, Query, RangeFn, Stage, Unwrap, MAX_DEPTH,
    MAX_QUERY_BYTES, MAX_TERMS,
};
pub use pattern::Pattern;
pub use pipeline::{
    ERROR_DETAILS_LABEL, ERROR_LABEL, JSON_ERR, LABEL_FILTER_ERR, LOGFMT_ERR, SAMPLE_ERR,
    TEMPLATE_ERR,
};
pub use response::{label_names, label_values, labels_response, series, series_response};
pub use template::{LineTemplate, LINE_FUNCS};

use crate::record::SourceError;

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum LogqlError {
    /// The query does not parse.
    #[error("parse error at byte {pos}: {msg}")]
    Syntax {
        /// Byte offset in the query.
        pos: usize,
        /// What was wrong.
        msg: String,
    },
    /// The query uses LogQL this engine does not implement.
    #[error("at byte {pos}: {what} is not supported")]
    Unsupported {
        /// Byte offset in the query.
        pos: usize,
        /// The construct.
        what: String,
    },
    /// The selector matches every stream.
    #[error("parse error at byte {pos}: queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will")]
    EmptyCompatible {
        /// Byte offset of the selector.
        pos: usize,
    },
    /// The query text is too long.
    #[error("the query is longer than {max} bytes")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// The query nests too deeply.
    #[error("the query nests parentheses or aggregations deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// A request parameter is out of range (a step of zero, an end before the start…).
    #[error("{0}")]
    BadParam(String),
    /// The answer would hold more series than allowed.
    #[error("the query would return more than {limit} series; aggregate with sum by (…) or narrow the selector")]
    TooManySeries {
        /// The limit.
        limit: usize,
    },
    /// A series of an unwrapped range function carries `__error__` (a value `unwrap` could not
    /// read, a parser error): Loki fails the query unless a label filter drops such lines.
    #[error("pipeline error: '{error}' for series: '{series}'. Use a label filter to intentionally skip this error. (e.g | __error__!=\"{error}\"). To skip all potential errors you can match empty errors.(e.g __error__=\"\") The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )")]
    Pipeline {
        /// The `__error__` value.
        error: String,
        /// The series' labels, as `{a="b", …}`.
        series: String,
    },
    /// Two vectors' series cannot be paired as the operator asks (many to many, or many to
    /// one without `group_left`/`group_right`), or relabelled series collide.
    #[error("{0}")]
    Matching(String),
    /// The store failed, or the query would read more lines than allowed.
    #[error(transparent)]
    Source(#[from] SourceError),
}

impl LogqlError {
    /// True when the request is at fault (HTTP 400): a bad or unsupported query, a bad
    /// parameter, or a query over a limit. False when the store failed (HTTP 500).
    pub fn is_bad_request(&self) -> bool {
        !matches!(self, LogqlError::Source(SourceError::Io(_)))
    }
}

/// Bounds on the work one query may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Log lines read at most (all streams, before filters).
    pub max_lines_scanned: usize,
    /// Streams or series in an answer at most (also before aggregation).
    pub max_series: usize,
    /// Steps of a range query at most.
    pub max_steps: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_lines_scanned: 5_000_000,
            max_series: 10_000,
            max_steps: 11_000,
        }
    }
}

/// The order of log lines in an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Newest first (Loki's default).
    #[default]
    Backward,
    /// Oldest first.
    Forward,
}

impl Direction {
    /// `"backward"` or `"forward"`, in any case, as Loki's `direction` parameter.
    pub fn parse(s: &str) -> Result<Direction, LogqlError> {
        if s.eq_ignore_ascii_case("backward") {
            Ok(Direction::Backward)
        } else if s.eq_ignore_ascii_case("forward") {
            Ok(Direction::Forward)
        } else {
            Err(LogqlError::BadParam(format!(
                "invalid direction {s:?}: use backward or forward"
            )))
        }
    }
}
