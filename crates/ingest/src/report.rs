//! The outcome of one ingest request, and the errors that refuse a whole request.

/// The largest body (compressed or decompressed) any receiver accepts: 64 MiB.
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// How many rejection reasons an [`IngestReport`] keeps.
pub const MAX_REPORTED_ERRORS: usize = 10;

/// What happened to the samples of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Samples staged in the appender.
    pub accepted: u64,
    /// Samples refused (bad series, bad line, or refused by the store).
    pub rejected: u64,
    /// The first [`MAX_REPORTED_ERRORS`] reasons, each naming the series, line or entry.
    pub errors: Vec<String>,
}

impl IngestReport {
    /// Counts `n` rejected samples; `reason` is only built while fewer than
    /// [`MAX_REPORTED_ERRORS`] reasons are kept.
    pub fn reject(&mut self, n: u64, reason: impl FnOnce() -> String) {
        self.rejected += n;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(reason());
        }
    }

    /// True when nothing was rejected.
    pub fn is_clean(&self) -> bool {
        self.rejected == 0
    }

    /// Adds the counts and reasons of `other`.
    pub fn merge(&mut self, other: IngestReport) {
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        for e in other.errors {
            if self.errors.len() < MAX_REPORTED_ERRORS {
                self.errors.push(e);
            }
        }
    }
}

/// Why a whole request was refused. Nothing of it was appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// The Content-Type is not one this endpoint reads.
    #[error("unsupported Content-Type {content_type:?}: {reason}")]
    UnsupportedMediaType {
        /// The header as sent.
        content_type: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The Content-Encoding is not one this endpoint reads.
    #[error("unsupported Content-Encoding {0:?}: remote_write 1.0 bodies must be snappy block-compressed (Content-Encoding: snappy)")]
    UnsupportedEncoding(String),
    /// The body, or its decompressed form, is larger than allowed.
    #[error("{what} is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        /// Which size ("request body", "decompressed body").
        what: &'static str,
        /// The size found (or announced).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The snappy block could not be decompressed.
    #[error("snappy decompression failed: {0} (remote_write uses the snappy block format, not the framed format)")]
    BadSnappy(String),
    /// The protobuf framing is corrupt; no sample of the request was kept.
    #[error("malformed protobuf at byte offset {offset} of the decompressed body: {reason}; no sample of this request was written")]
    BadProtobuf {
        /// Offset in the decompressed body where decoding failed.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// The JSON document could not be read at all.
    #[error("malformed JSON at line {line}, column {column}: {reason}; no sample of this request was written")]
    BadJson {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the JSON reader said.
        reason: String,
    },
}

impl IngestError {
    /// The HTTP status to answer with: 413 for size, 415 for media type or
    /// encoding, 400 for bad data.
    pub fn http_status(&self) -> u16 {
        match self {
            IngestError::UnsupportedMediaType { .. } | IngestError::UnsupportedEncoding(_) => 415,
            IngestError::TooLarge { .. } => 413,
            IngestError::BadSnappy(_)
            | IngestError::BadProtobuf { .. }
            | IngestError::BadJson { .. } => 400,
        }
    }

    /// Always false: a bad request stays bad when sent again.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_keeps_first_reasons_only() {
        let mut r = IngestReport::default();
        for i in 0..20 {
            r.reject(2, || format!("bad {i}"));
        }
        assert_eq!(r.rejected, 40);
        assert_eq!(r.errors.len(), MAX_REPORTED_ERRORS);
        assert_eq!(r.errors[9], "bad 9");
        assert!(!r.is_clean());
    }

    #[test]
    fn statuses() {
        assert_eq!(
            IngestError::UnsupportedEncoding("gzip".into()).http_status(),
            415
        );
        let e = IngestError::TooLarge {
            what: "request body",
            size: 2,
            limit: 1,
        };
        assert_eq!(e.http_status(), 413);
        assert_eq!(
            IngestError::BadProtobuf {
                offset: 3,
                reason: "x".into()
            }
            .http_status(),
            400
        );
    }
}
