//! The error of an evaluation run: each names the file (and line) at fault.

use argus_detect::DetectError;

use crate::nab::NabError;

/// Errors of `argus eval`. Printed with their sources (`{:#}` through
/// `anyhow`), each reads `what: why`, e.g. `cannot read x.csv: No such file
/// or directory (os error 2)`.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file or directory could not be read, written or created; `what`
    /// says which and what was being done.
    #[error("{what}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file is malformed; `what` names it and what was expected.
    #[error("{what}")]
    Json {
        /// The file and what it should hold.
        what: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A result could not be encoded as JSON.
    #[error(transparent)]
    Encode(serde_json::Error),
    /// The input cannot be used; the message names the file and line.
    #[error("{0}")]
    Input(String),
    /// The NAB scorer refused its input.
    #[error(transparent)]
    Nab(#[from] NabError),
    /// The detector refused its settings or a sample.
    #[error(transparent)]
    Detect(#[from] DetectError),
    /// An error from reading one file, with that file (and line) named.
    #[error("{what}")]
    In {
        /// The file (and line).
        what: String,
        /// What went wrong there.
        #[source]
        source: Box<EvalError>,
    },
}

impl EvalError {
    /// An [`EvalError::Io`] maker for `map_err`.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> EvalError {
        let what = what.into();
        move |source| EvalError::Io { what, source }
    }

    /// Wraps `self` with the file (and line) it came from.
    pub(crate) fn within(self, what: impl Into<String>) -> EvalError {
        EvalError::In {
            what: what.into(),
            source: Box::new(self),
        }
    }
}

/// Reads a whole file; the error reads `cannot read PATH: ...`.
pub(crate) fn read_text(path: &std::path::Path) -> Result<String, EvalError> {
    std::fs::read_to_string(path).map_err(EvalError::io(format!("cannot read {}", path.display())))
}
