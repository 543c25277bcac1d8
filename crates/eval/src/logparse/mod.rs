//! `argus eval logparse`: template mining scored against labelled log
//! files (Loghub's layout), and the command that writes `LineId,EventTemplate`.
//!
//! Metrics, over the lines of one file (templates compared after runs of
//! whitespace become one space and the ends are trimmed):
//! - **GA**: the share of lines whose true group is exactly one of ours;
//! - **FGA**: the harmonic mean of the share of our groups that are exactly
//!   a true group and the share of true groups we reproduce exactly;
//! - **PA**: the share of lines whose template string is the true one;
//! - **FTA**: the harmonic mean of the shares of our templates (of ours, and
//!   of the true ones) that are right: every line they cover has exactly
//!   that true template.
//!
//! ```
//! use argus_eval::logparse::score;
//! let truth = ["a <*>", "a <*>", "b"].map(String::from);
//! let ours = ["a <*>", "a <*>", "b c"].map(String::from);
//! let s = score(&truth, &ours);
//! assert_eq!(s.ga, 1.0);
//! assert!((s.pa - 2.0 / 3.0).abs() < 1e-9);
//! ```

mod run;

pub use run::{bench, read_truth, run_logparse, BenchRow, LogparseOptions};

use std::collections::HashMap;

/// The four accuracies of one file.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Scores {
    /// Grouping accuracy.
    pub ga: f64,
    /// F1 of groups reproduced exactly.
    pub fga: f64,
    /// Parsing accuracy: exact template strings.
    pub pa: f64,
    /// F1 of templates right in text and in grouping.
    pub fta: f64,
}

/// Runs of whitespace as one space, trimmed.
pub fn normalize(t: &str) -> String {
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

/// Scores `ours` against `truth`, line by line (equal lengths; extra lines
/// on either side are ignored).
pub fn score(truth: &[String], ours: &[String]) -> Scores {
    let n = truth.len().min(ours.len());
    if n == 0 {
        return Scores::default();
    }
    let t: Vec<String> = truth[..n].iter().map(|s| normalize(s)).collect();
    let o: Vec<String> = ours[..n].iter().map(|s| normalize(s)).collect();
    let mut t_groups: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut o_groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for i in 0..n {
        t_groups.entry(t[i].as_str()).or_default().push(i);
        o_groups.entry(o[i].as_str()).or_default().push(i);
    }
    // A true group is reproduced when our group of its first line holds
    // exactly its lines.
    let mut exact_lines = 0usize;
    let mut exact_groups = 0usize;
    for lines in t_groups.values() {
        let ours_of_first = &o_groups[o[lines[0]].as_str()];
        if ours_of_first == lines {
            exact_lines += lines.len();
            exact_groups += 1;
        }
    }
    let ga = exact_lines as f64 / n as f64;
    let fga = f1(
        exact_groups as f64 / o_groups.len() as f64,
        exact_groups as f64 / t_groups.len() as f64,
    );
    let pa = (0..n).filter(|&i| t[i] == o[i]).count() as f64 / n as f64;
    let right = o_groups
        .iter()
        .filter(|(tmpl, lines)| lines.iter().all(|&i| t[i] == **tmpl))
        .count();
    let fta = f1(
        right as f64 / o_groups.len() as f64,
        right as f64 / t_groups.len() as f64,
    );
    Scores { ga, fga, pa, fta }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn splitting_and_merging_both_cost() {
        let truth = v(&["a", "a", "b", "b"]);
        let split = score(&truth, &v(&["x", "y", "b", "b"]));
        assert_eq!(split.ga, 0.5);
        let merged = score(&truth, &v(&["x", "x", "x", "x"]));
        assert_eq!(merged.ga, 0.0);
        assert_eq!(merged.fga, 0.0);
        let same = score(&truth, &v(&["a", "a", " b  ", "b"]));
        assert_eq!((same.ga, same.fga, same.pa, same.fta), (1.0, 1.0, 1.0, 1.0));
    }
}
