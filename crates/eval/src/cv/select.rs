//! Choosing defaults by leave-one-group-out: for each group `g`, the
//! candidate `c*₋g` with the best mean score over the other groups, and its
//! score on `g` (the held-out figure). The cross-validated figure is the
//! mean of the held-out figures; the worst one is reported beside it.
//!
//! Scores are `s[candidate][group]` on a 0–1 scale. Ties go to the earlier
//! candidate (the grid lists the current defaults first).
//!
//! ```
//! use argus_eval::cv::select::{cross_validate, leave_one_group_out};
//! // Candidate 1 wins groups 0 and 1 by a lot, candidate 0 wins group 2.
//! let s = vec![vec![0.5, 0.5, 0.9], vec![0.9, 0.9, 0.1]];
//! let folds = leave_one_group_out(&s);
//! assert_eq!(folds[2].chosen, 1); // chosen without group 2
//! assert_eq!(folds[2].held_out, 0.1);
//! let cv = cross_validate(&s);
//! assert!((cv.figure - (0.5 + 0.5 + 0.1) / 3.0).abs() < 1e-12);
//! assert_eq!(cv.worst_group, 2);
//! ```

use serde::Serialize;

/// One fold: the group held out, the candidate chosen without it and the
/// chosen candidate's score on it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fold {
    /// The held-out group's index.
    pub group: usize,
    /// The candidate with the best mean over the other groups.
    pub chosen: usize,
    /// That mean (0 when there is no other group).
    pub mean_others: f64,
    /// The chosen candidate's score on the held-out group.
    pub held_out: f64,
}

/// The cross-validated result of a score table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrossValidation {
    /// One fold per group.
    pub folds: Vec<Fold>,
    /// The mean of the held-out figures.
    pub figure: f64,
    /// The lowest held-out figure.
    pub worst: f64,
    /// Its group's index.
    pub worst_group: usize,
    /// The candidate best on all groups together (the one to ship).
    pub in_sample_best: usize,
    /// Its mean over all groups (in-sample, not to be quoted as its skill).
    pub in_sample_mean: f64,
}

/// The index of the best mean over the groups `keep` admits; ties go to the
/// earlier candidate. Candidates with no score are skipped.
fn best_mean(s: &[Vec<f64>], keep: impl Fn(usize) -> bool) -> (usize, f64) {
    let mut best = (0, f64::NEG_INFINITY);
    for (c, row) in s.iter().enumerate() {
        let kept: Vec<f64> = row
            .iter()
            .enumerate()
            .filter(|(g, _)| keep(*g))
            .map(|(_, v)| *v)
            .collect();
        let mean = if kept.is_empty() {
            0.0
        } else {
            kept.iter().sum::<f64>() / kept.len() as f64
        };
        if mean > best.1 {
            best = (c, mean);
        }
    }
    best
}

/// For each group, the candidate chosen without it and its score there.
/// `s[c][g]`: every row has one score per group.
pub fn leave_one_group_out(s: &[Vec<f64>]) -> Vec<Fold> {
    let groups = s.first().map_or(0, Vec::len);
    (0..groups)
        .map(|g| {
            let (chosen, mean_others) = best_mean(s, |h| h != g);
            Fold {
                group: g,
                chosen,
                mean_others,
                held_out: s[chosen][g],
            }
        })
        .collect()
}

/// The folds, the cross-validated figure and worst group, and the
/// in-sample best candidate.
pub fn cross_validate(s: &[Vec<f64>]) -> CrossValidation {
    let folds = leave_one_group_out(s);
    let n = folds.len().max(1) as f64;
    let figure = folds.iter().map(|f| f.held_out).sum::<f64>() / n;
    let (worst_group, worst) = folds
        .iter()
        .map(|f| (f.group, f.held_out))
        .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
    let (in_sample_best, in_sample_mean) = best_mean(s, |_| true);
    CrossValidation {
        folds,
        figure,
        worst,
        worst_group,
        in_sample_best,
        in_sample_mean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chosen_candidate_never_sees_the_held_out_group() {
        // Candidate 2 is perfect on group 0 only; with group 0 in the mean it
        // would win every fold (mean 0.7 against 0.6), so choosing it for
        // fold 0 would mean the held-out group was looked at.
        let s = vec![
            vec![0.0, 0.6, 0.6, 0.6],
            vec![0.0, 0.5, 0.5, 0.5],
            vec![1.0, 0.6, 0.6, 0.6],
        ];
        let folds = leave_one_group_out(&s);
        // Without group 0, candidates 0 and 2 tie at 0.6: the earlier wins.
        assert_eq!(folds[0].chosen, 0);
        assert_eq!(folds[0].held_out, 0.0);
        // Without another group, candidate 2's 1.0 on group 0 counts.
        for f in &folds[1..] {
            assert_eq!(f.chosen, 2, "fold {}", f.group);
            assert!((f.mean_others - (1.0 + 0.6 + 0.6) / 3.0).abs() < 1e-12);
        }
        let cv = cross_validate(&s);
        assert!((cv.figure - (0.0 + 0.6 * 3.0) / 4.0).abs() < 1e-12);
        assert_eq!((cv.worst_group, cv.worst), (0, 0.0));
        assert_eq!(cv.in_sample_best, 2);
        assert!((cv.in_sample_mean - 0.7).abs() < 1e-12);
    }

    #[test]
    fn ties_go_to_the_first_candidate_and_one_group_falls_back_to_it() {
        let s = vec![vec![0.3, 0.3], vec![0.3, 0.3]];
        assert!(leave_one_group_out(&s).iter().all(|f| f.chosen == 0));
        let one = vec![vec![0.2], vec![0.9]];
        let f = leave_one_group_out(&one);
        assert_eq!((f[0].chosen, f[0].held_out), (0, 0.2));
        assert_eq!(cross_validate(&one).in_sample_best, 1);
    }
}
