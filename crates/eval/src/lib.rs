//! Evaluation of Argus's own detectors over a user's labelled files, the
//! library behind `argus eval` (as `promtool test` is behind promtool): it
//! reads the files, runs the detectors of `argus-detect` over them and scores
//! the result. Nothing here starts or installs other systems; that is the
//! evaluation lab's job (`argus-lab`).
//!
//! Module map (each module's own header has its example):
//! - [`cli`]: the `argus eval` subcommands and their flags ([`cli::run`]).
//! - [`nab`]: the Numenta Anomaly Benchmark scorer, the `argus eval nab`
//!   run over a NAB directory ([`nab::run`]) and the published detectors'
//!   scores beside ours ([`nab::peers`]).
//! - [`cv`]: `argus eval cv`: leave-one-dataset-out cross-validation of
//!   the anomaly scorer's settings over NAB's categories and the detection
//!   corpus, with k-delay point-adjusted F1 ([`cv::run`]).
//! - [`storm`]: `argus eval storm`: synthetic alert storms (a service
//!   graph, cascading faults, node failures, noise) with ground truth.
//! - [`incidents`]: `argus eval incidents` and `argus eval storms`: an
//!   alert grouping scored against that truth (compression, pairwise F1,
//!   root top-1), Argus beside two simple baselines.
//! - [`rca`]: `argus eval rca`: multi-dimensional localisation over a
//!   folder of cases, scored element by element.
//! - [`csv`]: `argus eval csv`: the dynamic-threshold detector streamed over
//!   one `timestamp,value[,label]` file, with precision, recall and F1.
//!
//! ```
//! use argus_eval::csv::prf;
//! use argus_eval::nab::{evaluate, CostMatrix, FileInput};
//!
//! let s = prf(&[true, false, true], &[true, false, false]);
//! assert_eq!((s.point.precision, s.point.recall), (1.0, 0.5));
//!
//! let ts: Vec<i64> = (0..20).map(|i| i * 60).collect();
//! let mut scores = vec![0.0; 20];
//! scores[10] = 1.0;
//! let file = FileInput { name: "a.csv", timestamps: &ts, scores: &scores, windows: &[(600, 780)] };
//! let r = evaluate(&[file], &CostMatrix::STANDARD).unwrap();
//! assert!((r.normalized.unwrap() - 100.0).abs() < 1e-9);
//! ```

pub mod cli;
pub mod csv;
pub mod cv;
mod error;
pub mod incidents;
pub mod logparse;
pub mod logstore;
pub mod nab;
pub mod rca;
pub mod rca_topology;
pub mod storm;

pub use error::EvalError;
