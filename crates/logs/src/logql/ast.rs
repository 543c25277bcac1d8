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
    /// `| decolorize`: ANSI colour and cursor sequences removed from the line.
    Decolorize,
    /// `| unpack`: a line packed by Promtail's `pack` stage (a JSON object): its `_entry`
    /// becomes the line and its other string fields labels.
    Unpack,
    /// `| pattern "<ip> - <_> <status>"`: captures between literal parts.
    Pattern(super::pattern::Pattern),
    /// `| regexp "(?P<status>\\d+)"`: the named groups of the first match.
    Regexp(Regex),
    /// `| line_format "{{.level}}: {{__line__}}"`: the template's output replaces the line.
    LineFormat(super::template::LineTemplate),
    /// `| label_format a=b, c="{{.x}}-{{.y}}"`: renames and templated labels.
    LabelFormat(Vec<LabelFmt>),
    /// `| unwrap latency`: only in a range function, where the parser moves it to
    /// [`MetricExpr::Range`]'s `unwrap`.
    Unwrap(Unwrap),
}

/// One assignment of `label_format`.
#[derive(Debug, Clone)]
pub enum LabelFmt {
    /// `dst=src`: `dst` takes `src`'s value and `src` is removed.
    Rename {
        /// The new name.
        dst: String,
        /// The label renamed.
        src: String,
    },
    /// `dst="{{…}}"`: `dst` takes the template's output over the labels before the stage.
    Template {
        /// The label set.
        dst: String,
        /// The template.
        tmpl: super::template::LineTemplate,
    },
}

/// How `unwrap` reads a label's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// `unwrap x`: a float.
    Number,
    /// `unwrap duration(x)` or `duration_seconds(x)`: a Go duration, in seconds.
    Duration,
    /// `unwrap bytes(x)`: a byte size (`20KB`, `1.5MiB`), in bytes.
    Bytes,
}

/// `| unwrap x` and the label filters after it.
#[derive(Debug, Clone)]
pub struct Unwrap {
    /// The label whose value becomes the sample.
    pub label: String,
    /// How the value is read.
    pub conv: Conversion,
    /// Label filters after the unwrap (`| __error__=""`).
    pub post: Vec<LabelExpr>,
    /// Byte offset of `unwrap` in the query.
    pub pos: usize,
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
    /// `|>`: the line fits the pattern (`<_>` for any text).
    Fits,
    /// `!>`: the line does not fit the pattern.
    NotFits,
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
    /// The compiled pattern for `|>` and `!>`.
    pub pattern: Option<super::pattern::Pattern>,
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
    /// Sum of the unwrapped values.
    SumOverTime,
    /// Mean of the unwrapped values.
    AvgOverTime,
    /// Largest unwrapped value.
    MaxOverTime,
    /// Smallest unwrapped value.
    MinOverTime,
    /// Oldest unwrapped value in the window.
    FirstOverTime,
    /// Newest unwrapped value in the window.
    LastOverTime,
    /// Population variance of the unwrapped values.
    StdvarOverTime,
    /// Population standard deviation of the unwrapped values.
    StddevOverTime,
    /// The φ-quantile of the unwrapped values (`quantile_over_time(0.99, …)`).
    QuantileOverTime,
    /// Per-second increase of unwrapped values read as a counter (resets allowed),
    /// extrapolated as Prometheus's `rate`.
    RateCounter,
    /// 1 when the window holds no line at all.
    AbsentOverTime,
}

impl RangeFn {
    /// The function's name in LogQL.
    pub fn name(self) -> &'static str {
        match self {
            RangeFn::CountOverTime => "count_over_time",
            RangeFn::Rate => "rate",
            RangeFn::BytesOverTime => "bytes_over_time",
            RangeFn::BytesRate => "bytes_rate",
            RangeFn::SumOverTime => "sum_over_time",
            RangeFn::AvgOverTime => "avg_over_time",
            RangeFn::MaxOverTime => "max_over_time",
            RangeFn::MinOverTime => "min_over_time",
            RangeFn::FirstOverTime => "first_over_time",
            RangeFn::LastOverTime => "last_over_time",
            RangeFn::StdvarOverTime => "stdvar_over_time",
            RangeFn::StddevOverTime => "stddev_over_time",
            RangeFn::QuantileOverTime => "quantile_over_time",
            RangeFn::RateCounter => "rate_counter",
            RangeFn::AbsentOverTime => "absent_over_time",
        }
    }

    /// The function called `name`.
    pub fn from_name(name: &str) -> Option<RangeFn> {
        ALL_RANGE_FNS.iter().copied().find(|f| f.name() == name)
    }

    /// True when the function reads log lines and refuses `unwrap`.
    pub fn lines_only(self) -> bool {
        matches!(
            self,
            RangeFn::CountOverTime | RangeFn::BytesOverTime | RangeFn::BytesRate
        )
    }

    /// True when the function needs `unwrap`.
    pub fn needs_unwrap(self) -> bool {
        !self.lines_only() && !matches!(self, RangeFn::Rate | RangeFn::AbsentOverTime)
    }

    /// True when Loki accepts `by`/`without` on the function (every unwrapped function but
    /// `sum_over_time`, `rate`, `rate_counter` and `absent_over_time`).
    pub fn allows_grouping(self) -> bool {
        self.needs_unwrap() && !matches!(self, RangeFn::SumOverTime | RangeFn::RateCounter)
    }
}

const ALL_RANGE_FNS: &[RangeFn] = &[
    RangeFn::CountOverTime,
    RangeFn::Rate,
    RangeFn::BytesOverTime,
    RangeFn::BytesRate,
    RangeFn::SumOverTime,
    RangeFn::AvgOverTime,
    RangeFn::MaxOverTime,
    RangeFn::MinOverTime,
    RangeFn::FirstOverTime,
    RangeFn::LastOverTime,
    RangeFn::StdvarOverTime,
    RangeFn::StddevOverTime,
    RangeFn::QuantileOverTime,
    RangeFn::RateCounter,
    RangeFn::AbsentOverTime,
];

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
        /// `| unwrap x` at the end of the log query, for the functions over values.
        unwrap: Option<Unwrap>,
        /// φ of `quantile_over_time`.
        param: Option<f64>,
        /// `by`/`without` on the range function: series with the same group labels are
        /// merged before the function runs.
        grouping: Option<Grouping>,
        /// `offset 1h`: every window ends this long before its step, in nanoseconds.
        offset_ns: i64,
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
    /// A number: `2`, `0.5`, `1e3`.
    Literal(f64),
    /// `vector(1)`: one series without labels, the number at every step.
    Vector(f64),
    /// `a / b`, `x > bool 10`, `a and on (app) b`.
    Binary(Box<Binary>),
    /// `sort(…)`, `sort_desc(…)`: the series ordered by value (the first step's, in a range).
    Sort {
        /// Largest first.
        desc: bool,
        /// The sorted expression.
        inner: Box<MetricExpr>,
    },
    /// `label_replace(v, "dst", "$1", "src", "(.*)-.*")`.
    LabelReplace {
        /// The expression whose series are relabelled.
        inner: Box<MetricExpr>,
        /// The label written.
        dst: String,
        /// The replacement, with `$1` and `${name}` for the groups.
        replacement: String,
        /// The label read.
        src: String,
        /// The regex, anchored at both ends.
        regex: Regex,
    },
}

/// A binary operator between metric expressions, as in PromQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `==`
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
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
}

impl BinOp {
    /// Binding strength: `^` 6, `* / %` 5, `+ -` 4, comparisons 3, `and unless` 2, `or` 1.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Pow => 6,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 5,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::Le => 3,
            BinOp::And | BinOp::Unless => 2,
            BinOp::Or => 1,
        }
    }

    /// A comparison (`== != > >= < <=`).
    pub fn is_comparison(self) -> bool {
        self.precedence() == 3
    }

    /// A set operator (`and or unless`).
    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }

    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Unless => "unless",
        }
    }

    /// Applies an arithmetic operator, or a comparison as 1 (true) or 0.
    pub fn apply(self, a: f64, b: f64) -> f64 {
        let t = |c: bool| if c { 1.0 } else { 0.0 };
        match self {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
            BinOp::Mod => a % b,
            BinOp::Pow => a.powf(b),
            BinOp::Eq => t(a == b),
            BinOp::Ne => t(a != b),
            BinOp::Gt => t(a > b),
            BinOp::Ge => t(a >= b),
            BinOp::Lt => t(a < b),
            BinOp::Le => t(a <= b),
            BinOp::And | BinOp::Or | BinOp::Unless => f64::NAN,
        }
    }
}

/// A binary operation and its modifiers.
#[derive(Debug, Clone)]
pub struct Binary {
    /// The operator.
    pub op: BinOp,
    /// The left operand.
    pub lhs: MetricExpr,
    /// The right operand.
    pub rhs: MetricExpr,
    /// `bool` after a comparison: 0 or 1 instead of filtering.
    pub return_bool: bool,
    /// `on (…)`/`ignoring (…)` and `group_left`/`group_right`.
    pub matching: Option<Matching>,
}

/// How the series of two vectors are paired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matching {
    /// `on`: pair by these labels only; else `ignoring`: by all labels but these.
    pub on: bool,
    /// The labels of `on` or `ignoring`.
    pub labels: Vec<String>,
    /// `group_left (…)` or `group_right (…)`: which side may have many series to one, and
    /// the labels copied from the "one" side.
    pub group: Option<(Side, Vec<String>)>,
}

/// The side of a many-to-one match that has many series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `group_left`
    Left,
    /// `group_right`
    Right,
}
