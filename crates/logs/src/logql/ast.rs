//! The syntax tree of a parsed query.

use argus_model::Matcher;
use regex::Regex;

/// A parsed query: it returns log lines or numbers.
#[derive(Debug, Clone)]
pub enum Query {
    /// `{app="api"} |= "error" | json`
    Log(LogQuery),
    /// `sum by (level) (count_over_time({app="api"} | json [5m]))`
    Metric(MetricExpr),
}

/// A stream selector and its pipeline.
#[derive(Debug, Clone)]
pub struct LogQuery {
    /// The stream selector's matchers.
    pub matchers: Vec<Matcher>,
    /// The pipeline stages, in order.
    pub stages: Vec<Stage>,
}

/// One pipeline stage.
#[derive(Debug, Clone)]
pub enum Stage {
    /// `|= "s"`, `!= "s"`, `|~ "re"`, `!~ "re"`.
    Line(LineFilter),
    /// `| json`: the line's JSON object becomes labels, nested keys joined with `_`.
    Json,
    /// `| logfmt`, optionally `--strict` (stop and flag the line at the first error).
    Logfmt {
        /// `--strict` was given.
        strict: bool,
    },
    /// `| level="error" and status >= 500`.
    Labels(LabelExpr),
    /// `| drop a, b="x"`: removes the labels (those with a matcher only when it matches).
    Drop(Vec<LabelSel>),
    /// `| keep a, b="x"`: keeps only these labels (those with a matcher only when it matches).
    Keep(Vec<LabelSel>),
    /// `| pattern "<ip> - <_> <status>"`: captures between literal parts.
    Pattern(super::pattern::Pattern),
    /// `| regexp "(?P<status>\\d+)"`: the named groups of the first match.
    Regexp(Regex),
}

/// A label named in `drop` or `keep`, with an optional matcher on its value.
#[derive(Debug, Clone)]
pub struct LabelSel {
    /// The label.
    pub name: String,
    /// The value must match this, when given.
    pub matcher: Option<Matcher>,
}

impl LabelSel {
    /// True when the label `name` with `value` is selected.
    pub fn selects(&self, name: &str, value: &str) -> bool {
        self.name == name && self.matcher.as_ref().is_none_or(|m| m.matches(value))
    }
}

/// The operator of a line filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineOp {
    /// `|=`: the line contains the text.
    Contains,
    /// `!=`: the line does not contain the text.
    NotContains,
    /// `|~`: the regex matches somewhere in the line.
    Match,
    /// `!~`: the regex matches nowhere in the line.
    NotMatch,
}

/// A line filter.
#[derive(Debug, Clone)]
pub struct LineFilter {
    /// The operator.
    pub op: LineOp,
    /// The text or the regex as written.
    pub text: String,
    /// The compiled regex for `|~` and `!~`.
    pub re: Option<Regex>,
}

/// A comparison operator of a numeric label filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==` (or `=` before a number)
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

/// How a numeric label filter reads the label's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumKind {
    /// A plain number: `status >= 500`.
    Number,
    /// A Go duration, compared in seconds: `duration > 10s`.
    Duration,
    /// A byte size: `size > 20KB`.
    Bytes,
}

/// A label filter expression.
#[derive(Debug, Clone)]
pub enum LabelExpr {
    /// Both sides pass.
    And(Box<LabelExpr>, Box<LabelExpr>),
    /// Either side passes.
    Or(Box<LabelExpr>, Box<LabelExpr>),
    /// A string matcher: `level="error"`, `path=~"/api/.*"`.
    Str(Matcher),
    /// A numeric comparison.
    Num {
        /// The label.
        name: String,
        /// The operator.
        op: CmpOp,
        /// The right-hand side: a number, seconds or bytes per `kind`.
        value: f64,
        /// How to read the label.
        kind: NumKind,
    },
}

/// A range function over log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeFn {
    /// Lines in the window.
    CountOverTime,
    /// Lines per second over the window.
    Rate,
    /// Bytes of the lines in the window.
    BytesOverTime,
    /// Bytes per second over the window.
    BytesRate,
}

/// A vector aggregation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggOp {
    /// `sum`
    Sum,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `avg`
    Avg,
    /// `count`
    Count,
    /// `stddev`
    Stddev,
    /// `stdvar`
    Stdvar,
    /// `topk(k, …)`
    Topk,
    /// `bottomk(k, …)`
    Bottomk,
}

/// `by (a, b)` or `without (a)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grouping {
    /// Keep only these labels.
    By(Vec<String>),
    /// Drop these labels.
    Without(Vec<String>),
}

/// A metric expression.
#[derive(Debug, Clone)]
pub enum MetricExpr {
    /// `count_over_time({…} | … [5m])` and its kin.
    Range {
        /// The function.
        func: RangeFn,
        /// The log query it reads.
        log: LogQuery,
        /// The window, in nanoseconds.
        range_ns: i64,
    },
    /// `sum by (a) (…)`, `topk(3, …)`.
    Agg {
        /// The operator.
        op: AggOp,
        /// `k` of `topk`/`bottomk`.
        k: Option<usize>,
        /// The grouping; none means all series form one group.
        grouping: Option<Grouping>,
        /// The aggregated expression.
        inner: Box<MetricExpr>,
    },
}
