//! The query error type and its mapping onto Prometheus's API error types.

/// Why a query failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromqlError {
    /// The expression does not parse or is ill-typed (`bad_data`, HTTP 400).
    #[error("{0}")]
    Parse(String),
    /// Evaluation failed, e.g. many-to-many matching (`execution`, HTTP 422).
    #[error("{0}")]
    Execution(String),
    /// The query ran past its deadline (`timeout`, HTTP 503).
    #[error("query timed out in query execution")]
    Timeout,
    /// The caller canceled the query (`canceled`, HTTP 503).
    #[error("query was canceled in query execution")]
    Canceled,
    /// The query would load more samples than allowed (`execution`, HTTP 422).
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples,
    /// The query would hold more memory than allowed (`execution`, HTTP 422).
    #[error("query processing would use more than {limit} bytes of memory in query execution")]
    TooMuchMemory {
        /// The limit in force (bytes).
        limit: usize,
    },
    /// The queries running now hold the memory all queries may share; this
    /// one may succeed a little later (`unavailable`, HTTP 503).
    #[error("the queries running now hold {used} of the {limit} bytes all queries may use together; try again shortly")]
    Busy {
        /// Bytes held by running queries when this one asked for more.
        used: usize,
        /// The shared limit (bytes).
        limit: usize,
    },
    /// The store failed (`internal`, HTTP 500).
    #[error("storage error: {0}")]
    Storage(String),
}

impl PromqlError {
    /// Prometheus's `errorType` string for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            PromqlError::Parse(_) => "bad_data",
            PromqlError::Execution(_)
            | PromqlError::TooManySamples
            | PromqlError::TooMuchMemory { .. } => "execution",
            PromqlError::Timeout => "timeout",
            PromqlError::Busy { .. } => "unavailable",
            PromqlError::Canceled => "canceled",
            PromqlError::Storage(_) => "internal",
        }
    }

    /// The HTTP status Prometheus answers this error with.
    pub fn http_status(&self) -> u16 {
        match self {
            PromqlError::Parse(_) => 400,
            PromqlError::Execution(_)
            | PromqlError::TooManySamples
            | PromqlError::TooMuchMemory { .. } => 422,
            PromqlError::Timeout | PromqlError::Canceled | PromqlError::Busy { .. } => 503,
            PromqlError::Storage(_) => 500,
        }
    }

    /// Whether retrying the same query may succeed (timeouts, storage failures
    /// and a full shared memory pool).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            PromqlError::Timeout | PromqlError::Storage(_) | PromqlError::Busy { .. }
        )
    }
}

pub(crate) fn exec<T>(msg: impl Into<String>) -> Result<T, PromqlError> {
    Err(PromqlError::Execution(msg.into()))
}
