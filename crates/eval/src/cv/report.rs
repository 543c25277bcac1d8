//! The cross-validation report: the result as data (written as JSON with
//! `--json`) and as the table `argus eval cv` prints.

use std::fmt::Write as _;

use serde::Serialize;

use super::grid::Candidate;
use super::run::GroupScore;
use super::select::CrossValidation;

/// A group as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupInfo {
    /// `nab/<category>` or the dataset's name.
    pub name: String,
    /// `nab` (NAB standard score ÷ 100) or `f1` (best point-adjusted F1).
    pub metric: &'static str,
    /// Series (files) in the group.
    pub series: usize,
    /// Samples streamed per candidate (rows × metric columns).
    pub samples: usize,
}

/// The whole result of `argus eval cv`.
#[derive(Debug, Clone, Serialize)]
pub struct CvReport {
    /// The groups, in table order.
    pub groups: Vec<GroupInfo>,
    /// The candidates; the first is the current defaults.
    pub candidates: Vec<Candidate>,
    /// `scores[c][g]`.
    pub scores: Vec<Vec<GroupScore>>,
    /// The reference row: the rolling z-score baseline.
    pub baseline: Candidate,
    /// The baseline's score per group.
    pub baseline_scores: Vec<GroupScore>,
    /// Leave-one-group-out on the scores at the threshold chosen with each
    /// group's labels (the protocol's metric).
    pub cv: CrossValidation,
    /// The same at each detector's own alarm threshold (no labels used).
    pub cv_at_alarm: CrossValidation,
    /// Worker threads.
    pub threads: usize,
    /// Wall-clock seconds of the scoring.
    pub seconds: f64,
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        0.0
    } else {
        s / n as f64
    }
}

impl CvReport {
    /// The printed table.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "leave-one-group-out cross-validation: {} groups, {} candidate(s) and the {} baseline; {} threads, {:.1} s",
            self.groups.len(),
            self.candidates.len(),
            self.baseline.name,
            self.threads,
            self.seconds
        );
        let _ = writeln!(
            t,
            "scores on a 0-1 scale: NAB standard score / 100 (nab/ groups; one without windows: 1 + raw / files), \
             best F1 with k-delay point adjustment (others)"
        );
        self.section(
            &mut t,
            "threshold chosen with each group's labels (NAB's optimiser, best F1)",
            &self.cv,
            |s| s.best,
        );
        self.section(
            &mut t,
            "at each detector's own alarm threshold (the scorer's firing point, three sigma for the baseline)",
            &self.cv_at_alarm,
            |s| s.at_alarm,
        );
        t
    }

    fn section(
        &self,
        t: &mut String,
        title: &str,
        cv: &CrossValidation,
        pick: fn(&GroupScore) -> f64,
    ) {
        let name_w = self
            .groups
            .iter()
            .map(|g| g.name.len())
            .max()
            .unwrap_or(5)
            .max(7);
        let _ = writeln!(t, "\n{title}:");
        let _ = writeln!(
            t,
            "{:<name_w$} {:>6} {:>8} {:>8} {:>9}  chosen without this group",
            "group", "metric", "default", "z-score", "held-out"
        );
        for (g, info) in self.groups.iter().enumerate() {
            let fold = &cv.folds[g];
            let _ = writeln!(
                t,
                "{:<name_w$} {:>6} {:>8.3} {:>8.3} {:>9.3}  {}",
                info.name,
                info.metric,
                pick(&self.scores[0][g]),
                pick(&self.baseline_scores[g]),
                fold.held_out,
                self.candidates[fold.chosen].name
            );
        }
        let default_mean = mean(self.scores[0].iter().map(pick));
        let _ = writeln!(
            t,
            "{:<name_w$} {:>6} {:>8.3} {:>8.3} {:>9.3}  (the cross-validated figure)",
            "mean",
            "",
            default_mean,
            mean(self.baseline_scores.iter().map(pick)),
            cv.figure
        );
        let worst = |v: Vec<(usize, f64)>| {
            v.into_iter()
                .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a })
        };
        let dw = worst(self.scores[0].iter().map(pick).enumerate().collect());
        let bw = worst(self.baseline_scores.iter().map(pick).enumerate().collect());
        let _ = writeln!(
            t,
            "{:<name_w$} {:>6} {:>8.3} {:>8.3} {:>9.3}  (worst: default {}, z-score {}, held-out {})",
            "worst",
            "",
            dw.1,
            bw.1,
            cv.worst,
            self.groups[dw.0].name,
            self.groups[bw.0].name,
            self.groups[cv.worst_group].name
        );
        let mut chosen: Vec<usize> = cv.folds.iter().map(|f| f.chosen).collect();
        chosen.sort_unstable();
        chosen.dedup();
        let _ = writeln!(
            t,
            "folds chose {} distinct candidate(s); in-sample best over all {} groups: {} (mean {:.3} in-sample; \
             quote the cross-validated {:.3}); current defaults: mean {:.3}",
            chosen.len(),
            self.groups.len(),
            self.candidates[cv.in_sample_best].name,
            cv.in_sample_mean,
            cv.figure,
            default_mean
        );
    }
}
