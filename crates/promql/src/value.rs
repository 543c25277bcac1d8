//! Query results (public) and the evaluator's intermediate values (crate-private).

use argus_model::{Labels, Sample};
pub use argus_tsdb::Series;

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSample {
    /// The series' labels.
    pub labels: Labels,
    /// Evaluation timestamp in milliseconds.
    pub t: i64,
    /// The value.
    pub v: f64,
}

/// The result of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar at time `t` (ms).
    Scalar {
        /// Timestamp in milliseconds.
        t: i64,
        /// The value.
        v: f64,
    },
    /// A string at time `t` (ms).
    String {
        /// Timestamp in milliseconds.
        t: i64,
        /// The value.
        s: String,
    },
    /// An instant vector.
    Vector(Vec<VectorSample>),
    /// A range vector (instant query on a range expression) or a range query result.
    Matrix(Vec<Series>),
}

impl Value {
    /// Prometheus's `resultType` name: `scalar`, `string`, `vector` or `matrix`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// A series over the evaluation grid: points at step timestamps.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SSeries {
    pub labels: Labels,
    /// Prometheus 3's delayed `__name__` removal: drop the name at the end.
    pub drop_name: bool,
    pub pts: Vec<Sample>,
}

impl SSeries {
    pub fn new(labels: Labels, drop_name: bool) -> Self {
        SSeries {
            labels,
            drop_name,
            pts: Vec::new(),
        }
    }
}

/// An intermediate value over the whole evaluation grid.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    /// One value per step.
    Scalar(Vec<f64>),
    /// A string literal.
    Str(String),
    /// An instant vector at every step.
    Vector(Vec<SSeries>),
    /// A range vector: raw samples (only for instant evaluation at the top level).
    Matrix(Vec<SSeries>),
}
