//! Dynamic thresholds ("AI bounds") and anomaly scoring for Argus: pure
//! computation with no I/O. The server feeds samples in and stores what comes
//! out; the store, the rules engine and the alert pipeline are not imported.
//!
//! Module map (each module's own header has its example):
//! - [`levels`]: seed 002's alert levels from N = |value − bound| / |bound|.
//! - [`kind`]: rule kinds (business_volume, error_count, latency, saturation,
//!   resource), their direction and the saturation rules.
//! - [`baseline`]: MA, KDE, DataCluster, Holt-Winters and the robust
//!   short-history model, all giving expected/lower/upper per point.
//! - [`detector`]: the streaming API: per-series state, `observe` → `Verdict`.
//! - [`period`]: periodicity, declared or detected (detrended periodogram).
//! - [`spec`]: the dynamic rule's settings (serde, unknown keys rejected).
//! - [`train`]: training, retraining with decay, model versions and scores.
//! - [`health`]: seed 000's composite performance index.
//! - [`exhaust`]: time-to-exhaustion prediction.
//! - [`anomaly`]: the streaming anomaly scorer (0–1) that `argus eval nab`
//!   measures (the evaluation itself is the `argus-eval` crate); a dynamic
//!   rule runs it beside the band with `anomaly: {}`.

pub mod anomaly;
pub mod baseline;
pub mod detector;
pub mod exhaust;
pub mod health;
pub mod kind;
pub mod levels;
pub mod period;
pub mod spec;
pub mod train;

/// Errors from detection: bad configuration or bad input. Each names what
/// was wrong and where.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum DetectError {
    /// A rule or model setting is out of range; the message names the key.
    #[error("invalid detection config: {0}")]
    Config(String),
    /// Input data cannot be used; the message says which and why.
    #[error("invalid input: {0}")]
    Input(String),
}
