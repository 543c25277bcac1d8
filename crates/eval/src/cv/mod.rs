//! `argus eval cv`: leave-one-dataset-out cross-validation of the streaming
//! anomaly scorer's settings over the detection corpus. Nine groups (NAB's
//! four shared categories and five other datasets) are each scored by
//! their own metric; a fixed grid of candidate settings
//! ([`grid`]) gets a score s(c, g) per group on a 0–1 scale; for each
//! group the candidate best on the other groups is scored on it
//! ([`select`]); the mean of those held-out figures is the
//! cross-validated figure. A rolling z-score baseline runs through the
//! same scoring as the reference row.
//!
//! - [`data`]: loading the groups (`nab/` and `detect/` under one folder).
//! - [`f1`]: best F1 with k-delay point adjustment.
//! - [`grid`]: the candidates and the z-score baseline.
//! - [`select`]: the leave-one-group-out choice and figures.
//! - [`run()`]: all of it, printing the table ([`CvReport::table`]).
//!
//! Every series is streamed from its first row (training part included)
//! through a fresh scorer without look-ahead, as a dynamic rule runs it;
//! only rows from the split's `test_start` are scored. A multi-metric file
//! (one server) runs one scorer per metric and alarms when any metric
//! does: its row score is the maximum over its metrics.
//!
//! ```text
//! argus eval cv --data ../shared/data
//! argus eval cv --data ../shared/data --groups tods,realKnownCause --grid default-only --json cv.json
//! ```
//!
//! ```
//! use argus_eval::cv::{run, CvOptions};
//! # let dir = tempfile::tempdir().unwrap();
//! # let g = dir.path().join("detect/tods");
//! # std::fs::create_dir_all(&g).unwrap();
//! # std::fs::write(g.join("split.csv"), "file,rows,test_start,interval_s\na.csv,3,1,60\n").unwrap();
//! # std::fs::write(g.join("a.csv"), "timestamp,value,label\n2024-01-01 00:00:00,1,0\n2024-01-01 00:01:00,1,0\nbad row\n").unwrap();
//! let opts = CvOptions {
//!     data: dir.path().to_path_buf(),
//!     groups: vec!["tods".into()],
//!     ..CvOptions::default()
//! };
//! let err = run(&opts, &mut Vec::new(), &mut std::io::sink()).unwrap_err();
//! assert!(err.to_string().contains("a.csv:4: expected 3 fields"), "{err}");
//! ```

pub mod data;
pub mod f1;
pub mod grid;
mod report;
mod run;
pub mod select;
#[cfg(test)]
mod tests;

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

pub use report::{CvReport, GroupInfo};
pub use run::{score_all, score_group, series_scores, GroupScore, NabDetail};

use crate::EvalError;
use data::Scoring;
use grid::{Candidate, GridKind};

/// What `argus eval cv` runs on (the command line's flags).
#[derive(Debug, Clone, Default)]
pub struct CvOptions {
    /// The folder holding `nab/` and `detect/`.
    pub data: PathBuf,
    /// Only these groups (`nab/realKnownCause` or `realKnownCause`,
    /// `tods`, ...); empty: all nine.
    pub groups: Vec<String>,
    /// The candidates.
    pub grid: GridKind,
    /// Worker threads; 0: as many as the machine has.
    pub threads: usize,
    /// Also write the report as JSON here.
    pub json: Option<PathBuf>,
}

/// Runs the cross-validation: loads the groups, scores every candidate and
/// the baseline, prints the table to `out` and progress to `progress`, and
/// writes the JSON report when asked.
pub fn run(
    opts: &CvOptions,
    out: &mut dyn Write,
    progress: &mut dyn Write,
) -> Result<CvReport, EvalError> {
    let names = data::select_groups(&opts.groups)?;
    let groups = data::load_groups(&opts.data, &names)?;
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let infos: Vec<GroupInfo> = groups
        .iter()
        .map(|g| GroupInfo {
            name: g.name.clone(),
            metric: match g.scoring {
                Scoring::Nab(_) => "nab",
                Scoring::F1 => "f1",
            },
            series: g.series.len(),
            samples: g.series.iter().map(data::Series::samples).sum(),
        })
        .collect();
    for i in &infos {
        let _ = writeln!(
            progress,
            "cv: loaded {}: {} series, {} samples",
            i.name, i.series, i.samples
        );
    }
    let candidates = grid::grid(opts.grid);
    let baseline = Candidate::zscore();
    let start = Instant::now();
    let baseline_scores = score_all(&groups, std::slice::from_ref(&baseline), threads, progress)?
        .pop()
        .unwrap_or_default();
    let scores = score_all(&groups, &candidates, threads, progress)?;
    let seconds = start.elapsed().as_secs_f64();
    let table = |pick: fn(&GroupScore) -> f64| -> Vec<Vec<f64>> {
        scores
            .iter()
            .map(|row| row.iter().map(pick).collect())
            .collect()
    };
    let report = CvReport {
        groups: infos,
        cv: select::cross_validate(&table(|s| s.best)),
        cv_at_alarm: select::cross_validate(&table(|s| s.at_alarm)),
        candidates,
        scores,
        baseline,
        baseline_scores,
        threads,
        seconds,
    };
    if let Some(path) = &opts.json {
        let text = serde_json::to_string_pretty(&report).map_err(EvalError::Encode)?;
        std::fs::write(path, text)
            .map_err(EvalError::io(format!("cannot write {}", path.display())))?;
    }
    out.write_all(report.table().as_bytes())
        .and_then(|()| out.flush())
        .map_err(EvalError::io("cannot write the report"))?;
    Ok(report)
}
