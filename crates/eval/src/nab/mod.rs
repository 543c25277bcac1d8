//! The Numenta Anomaly Benchmark (NAB) scorer, written from the NAB paper
//! (Lavin & Ahmad 2015) and the behaviour of NAB v1.1's `nab/sweeper.py`,
//! `nab/optimizer.py` and `nab/runner.py`. The scoring functions are pure,
//! over in-memory data; [`run`] (`argus eval nab`) reads the files, runs the
//! anomaly scorer and writes NAB-format results, and [`peers`] puts the
//! published detectors' scores beside ours.
//!
//! The rules, as NAB applies them:
//! - **Probationary period:** the first `min(floor(0.15·n), 750)` rows of each
//!   file are not scored at all ([`probationary_length`]).
//! - **Windows:** each labelled anomaly window `[t1, t2]` counts once. If any
//!   row in it is detected, the window scores the weight of its *earliest*
//!   detection, `tpWeight · σ(p) / σ(−1)`, with the scaled sigmoid
//!   `σ(p) = 2/(1+e^{5p}) − 1` ([`scaled_sigmoid`]) and the relative position
//!   `p = −(right − i + 1)/width`; otherwise it scores `−fnWeight`.
//! - **False positives:** each detected row outside every window costs
//!   `fpWeight · σ(d)` (a negative number), where `d` is the distance past the
//!   preceding window's right edge in units of `width − 1`; rows before the
//!   first window cost the full `−fpWeight`.
//! - **Threshold:** a row is detected when its anomaly score is at least the
//!   threshold. One threshold per profile is chosen for the whole corpus by
//!   sweeping every distinct score ([`sweep_thresholds`]).
//! - **Normalisation:** `100 · (raw − null) / (perfect − null)`, where
//!   `perfect = tpWeight · (number of windows)` and `null` is the best score of
//!   the null detector (a constant 0.5 on every row) ([`evaluate`]).
//!
//! ```
//! use argus_eval::nab::{evaluate, CostMatrix, FileInput};
//! // One file of 20 rows, one window over rows 10..=13, detector fires at row 10.
//! let ts: Vec<i64> = (0..20).map(|i| i * 60).collect();
//! let mut scores = vec![0.0; 20];
//! scores[10] = 1.0;
//! let file = FileInput { name: "a.csv", timestamps: &ts, scores: &scores, windows: &[(600, 780)] };
//! let r = evaluate(&[file], &CostMatrix::STANDARD).unwrap();
//! assert!((r.normalized.unwrap() - 100.0).abs() < 1e-9); // earliest possible detection, no FP
//! ```

pub mod peers;
pub(crate) mod run;
mod sweep;
#[cfg(test)]
mod tests;

pub use run::{run, NabOptions};

pub use sweep::{
    evaluate, evaluate_with, probationary_length, scaled_sigmoid, score_at, sweep_file,
    sweep_thresholds, window_ranges, CorpusScore, FileScore, RowKind, SweepRow, ThresholdScore,
};

use serde::Deserialize;
use std::collections::BTreeMap;

/// Errors of the NAB scorer: malformed inputs, each naming the file.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum NabError {
    /// Timestamps and scores differ in length.
    #[error("{file}: {timestamps} timestamps but {scores} anomaly scores")]
    LengthMismatch {
        /// Data file name.
        file: String,
        /// Number of timestamps.
        timestamps: usize,
        /// Number of scores.
        scores: usize,
    },
    /// A window is empty, reversed, overlaps the previous one or holds no row.
    #[error("{file}: window {index} ({start}..={end}) {reason}")]
    BadWindow {
        /// Data file name.
        file: String,
        /// Position of the window in the file's list.
        index: usize,
        /// Window start (seconds).
        start: i64,
        /// Window end (seconds).
        end: i64,
        /// What is wrong.
        reason: &'static str,
    },
    /// An anomaly score is NaN.
    #[error("{file}: row {row} has a NaN anomaly score")]
    NanScore {
        /// Data file name.
        file: String,
        /// Zero-based data row.
        row: usize,
    },
    /// The profiles JSON could not be parsed.
    #[error("profiles JSON: {0}")]
    Profiles(String),
}

/// A NAB cost matrix (one profile of `labels/profiles.json`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct CostMatrix {
    /// Weight of a true positive (1.0 in all NAB profiles).
    #[serde(rename = "tpWeight")]
    pub tp_weight: f64,
    /// Weight of a false positive (0.11 standard, 0.22 reward_low_FP_rate).
    #[serde(rename = "fpWeight")]
    pub fp_weight: f64,
    /// Weight of a missed window (1.0 standard, 2.0 reward_low_FN_rate).
    #[serde(rename = "fnWeight")]
    pub fn_weight: f64,
    /// Weight of a true negative; NAB reads it but never uses it.
    #[serde(rename = "tnWeight", default)]
    pub tn_weight: f64,
}

impl CostMatrix {
    /// NAB's `standard` profile.
    pub const STANDARD: CostMatrix = CostMatrix {
        tp_weight: 1.0,
        fp_weight: 0.11,
        fn_weight: 1.0,
        tn_weight: 1.0,
    };
}

#[derive(Deserialize)]
struct ProfileEntry {
    #[serde(rename = "CostMatrix")]
    cost_matrix: CostMatrix,
}

/// Parses NAB's `labels/profiles.json` into `(profile name, cost matrix)`,
/// sorted by name.
///
/// ```
/// let json = r#"{"standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}}}"#;
/// let p = argus_eval::nab::parse_profiles(json).unwrap();
/// assert_eq!(p[0].0, "standard");
/// assert_eq!(p[0].1.fp_weight, 0.11);
/// ```
pub fn parse_profiles(json: &str) -> Result<Vec<(String, CostMatrix)>, NabError> {
    let map: BTreeMap<String, ProfileEntry> =
        serde_json::from_str(json).map_err(|e| NabError::Profiles(e.to_string()))?;
    Ok(map.into_iter().map(|(k, v)| (k, v.cost_matrix)).collect())
}

/// One data file's input to the scorer.
#[derive(Debug, Clone, Copy)]
pub struct FileInput<'a> {
    /// The file's name, used in errors and results (e.g. `realKnownCause/nyc_taxi.csv`).
    pub name: &'a str,
    /// Row timestamps (any monotonic unit, e.g. seconds), in file order.
    pub timestamps: &'a [i64],
    /// The detector's anomaly score per row, normally in `[0, 1]`.
    pub scores: &'a [f64],
    /// Anomaly windows `(start, end)`, inclusive, in the timestamps' unit, sorted.
    pub windows: &'a [(i64, i64)],
}
