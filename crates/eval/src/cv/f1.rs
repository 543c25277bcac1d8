//! Best F1 with k-delay point adjustment at one threshold shared by a
//! whole group, as the detection corpus's protocol defines it:
//!
//! - a labelled segment spanning rows `s..=e` (of the scored part) counts as
//!   detected when some row in `s..=min(e, s + k)` has a score at or above
//!   the threshold; then all its points are true positives, otherwise all
//!   are false negatives;
//! - an alarm outside every labelled segment is a false positive, point by
//!   point; an alarm inside a segment that came too late is neither;
//! - TP, FP and FN are summed over every series of the group (each series
//!   with its own `k`), and the best F1 over all thresholds is reported.
//!
//! ```
//! use argus_eval::cv::f1::{best_f1, Scored};
//! // Rows 0..10, one segment over rows 4..=6; the score fires at row 5.
//! let labels = [false, false, false, false, true, true, true, false, false, false];
//! let scores = [0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0, 0.0];
//! let s = Scored { scores: &scores, labels: &labels, start: 0, k: 7 };
//! let best = best_f1(&[s]).unwrap();
//! assert_eq!((best.tp, best.fp, best.fn_), (3, 0, 0));
//! assert_eq!(best.f1, 1.0);
//! ```

use serde::Serialize;

use crate::EvalError;

/// One series to score: a score and a label per row, the first scored row
/// and the detection delay `k` in rows.
#[derive(Debug, Clone, Copy)]
pub struct Scored<'a> {
    /// The detector's score per row (an alarm is `score >= threshold`).
    pub scores: &'a [f64],
    /// The label per row (true = anomalous).
    pub labels: &'a [bool],
    /// The first scored row; earlier rows are neither counted nor adjusted.
    pub start: usize,
    /// The detection delay: a segment starting at `s` must be alarmed by
    /// row `s + k`.
    pub k: usize,
}

/// Counts and F1 at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct F1Score {
    /// Rows scoring at least this alarm (`+∞`: none; written as `null` in JSON).
    pub threshold: f64,
    /// `2·TP / (2·TP + FP + FN)`, 0 when nothing is labelled or alarmed.
    pub f1: f64,
    /// `TP / (TP + FP)` (0 without alarms).
    pub precision: f64,
    /// `TP / (TP + FN)` (0 without labels).
    pub recall: f64,
    /// True positives (points of detected segments).
    pub tp: u64,
    /// False positives (alarmed points outside every segment).
    pub fp: u64,
    /// False negatives (points of missed segments).
    pub fn_: u64,
}

impl F1Score {
    fn new(threshold: f64, tp: u64, fp: u64, fn_: u64) -> Self {
        let ratio = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
        Self {
            threshold,
            f1: ratio(2 * tp, 2 * tp + fp + fn_),
            precision: ratio(tp, tp + fp),
            recall: ratio(tp, tp + fn_),
            tp,
            fp,
            fn_,
        }
    }
}

/// The labelled segments of `labels[start..]`, as inclusive row ranges
/// (a segment that began before `start` is cut at `start`).
pub fn segments(labels: &[bool], start: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut open = None;
    for (i, &l) in labels.iter().enumerate().skip(start) {
        match (l, open) {
            (true, None) => open = Some(i),
            (false, Some(s)) => {
                out.push((s, i - 1));
                open = None;
            }
            _ => {}
        }
    }
    if let Some(s) = open {
        out.push((s, labels.len() - 1));
    }
    out
}

/// What each scored row or segment adds once the threshold reaches its
/// score: a segment adds its length to TP, a row outside segments 1 to FP.
struct Item {
    score: f64,
    tp: u64,
    fp: u64,
}

/// The items of a group and its number of labelled points.
fn items(series: &[Scored<'_>]) -> Result<(Vec<Item>, u64), EvalError> {
    let mut out = Vec::new();
    let mut positives = 0u64;
    for (n, s) in series.iter().enumerate() {
        if s.scores.len() != s.labels.len() {
            return Err(EvalError::Input(format!(
                "series {n}: {} scores but {} labels",
                s.scores.len(),
                s.labels.len()
            )));
        }
        for i in s.start..s.scores.len() {
            if !s.labels[i] {
                out.push(Item {
                    score: s.scores[i],
                    tp: 0,
                    fp: 1,
                });
            }
        }
        for (a, b) in segments(s.labels, s.start) {
            let last = b.min(a.saturating_add(s.k));
            let score = s.scores[a..=last]
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            let len = (b - a + 1) as u64;
            positives += len;
            out.push(Item {
                score,
                tp: len,
                fp: 0,
            });
        }
    }
    Ok((out, positives))
}

/// TP, FP, FN and F1 of a group at one threshold.
pub fn f1_at(series: &[Scored<'_>], threshold: f64) -> Result<F1Score, EvalError> {
    let (items, positives) = items(series)?;
    let (mut tp, mut fp) = (0, 0);
    for it in items.iter().filter(|it| it.score >= threshold) {
        tp += it.tp;
        fp += it.fp;
    }
    Ok(F1Score::new(threshold, tp, fp, positives - tp))
}

/// The best F1 of a group over every threshold (each distinct score, and
/// `+∞` for no alarm); ties go to the higher threshold.
pub fn best_f1(series: &[Scored<'_>]) -> Result<F1Score, EvalError> {
    let (mut items, positives) = items(series)?;
    items.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut best = F1Score::new(f64::INFINITY, 0, 0, positives);
    let (mut tp, mut fp) = (0, 0);
    let mut i = 0;
    while i < items.len() {
        let t = items[i].score;
        while i < items.len() && items[i].score.total_cmp(&t).is_eq() {
            tp += items[i].tp;
            fp += items[i].fp;
            i += 1;
        }
        let s = F1Score::new(t, tp, fp, positives - tp);
        if s.f1 > best.f1 {
            best = s;
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(n: usize, segs: &[(usize, usize)]) -> Vec<bool> {
        let mut l = vec![false; n];
        for &(a, b) in segs {
            l[a..=b].fill(true);
        }
        l
    }

    fn one(scores: &[f64], labels: &[bool], start: usize, k: usize) -> Vec<F1Score> {
        let s = [Scored {
            scores,
            labels,
            start,
            k,
        }];
        vec![best_f1(&s).unwrap(), f1_at(&s, 0.5).unwrap()]
    }

    #[test]
    fn segments_are_cut_at_the_scored_part() {
        let l = labels(12, &[(1, 3), (6, 8), (11, 11)]);
        assert_eq!(segments(&l, 0), vec![(1, 3), (6, 8), (11, 11)]);
        assert_eq!(segments(&l, 7), vec![(7, 8), (11, 11)]);
        assert_eq!(segments(&l, 12), vec![]);
    }

    #[test]
    fn a_segment_alarmed_at_s_plus_k_counts_and_at_s_plus_k_plus_1_does_not() {
        // One segment over rows 10..=29 (20 points), k = 7: rows 10..=17 count.
        let l = labels(40, &[(10, 29)]);
        let mut at = vec![0.0; 40];
        at[17] = 1.0;
        let r = f1_at(
            &[Scored {
                scores: &at,
                labels: &l,
                start: 0,
                k: 7,
            }],
            0.5,
        )
        .unwrap();
        assert_eq!((r.tp, r.fp, r.fn_), (20, 0, 0));
        assert_eq!(r.f1, 1.0);
        let mut late = vec![0.0; 40];
        late[18] = 1.0;
        let r = f1_at(
            &[Scored {
                scores: &late,
                labels: &l,
                start: 0,
                k: 7,
            }],
            0.5,
        )
        .unwrap();
        // The late alarm is inside the segment: not a false positive, and
        // the whole segment is missed.
        assert_eq!((r.tp, r.fp, r.fn_), (0, 0, 20));
        assert_eq!(r.f1, 0.0);
        // With k = 3 (hourly data) row 13 is the last that counts.
        let mut k3 = vec![0.0; 40];
        k3[14] = 1.0;
        assert_eq!(one(&k3, &l, 0, 3)[1].tp, 0);
        k3[13] = 1.0;
        assert_eq!(one(&k3, &l, 0, 3)[1].tp, 20);
    }

    #[test]
    fn a_short_segment_must_be_alarmed_inside_itself() {
        // Segment 10..=11, k = 7: min(e, s + k) = 11, so an alarm at 12 is a
        // false positive and the segment is missed.
        let l = labels(30, &[(10, 11)]);
        let mut s = vec![0.0; 30];
        s[12] = 1.0;
        let r = &one(&s, &l, 0, 7)[1];
        assert_eq!((r.tp, r.fp, r.fn_), (0, 1, 2));
    }

    #[test]
    fn false_positives_count_point_by_point_and_only_in_the_scored_part() {
        let l = labels(20, &[(15, 16)]);
        let mut s = vec![0.0; 20];
        // Three alarmed points outside the segment in the scored part, one
        // before it (row 2, not scored), the segment caught at row 15.
        for i in [2, 6, 7, 8, 15] {
            s[i] = 1.0;
        }
        let r = &one(&s, &l, 5, 7)[1];
        assert_eq!((r.tp, r.fp, r.fn_), (2, 3, 0));
        assert!((r.precision - 0.4).abs() < 1e-12);
        assert_eq!(r.recall, 1.0);
        assert!((r.f1 - 4.0 / 7.0).abs() < 1e-12);
    }

    #[test]
    fn the_best_threshold_is_found_and_pooled_over_series() {
        // Series A: segment 5..=9 (5 points) scored 0.8 at its start; a noise
        // point scored 0.6. Series B: segment 2..=3 (2 points) scored 0.4.
        let la = labels(12, &[(5, 9)]);
        let mut sa = vec![0.1; 12];
        sa[5] = 0.8;
        sa[0] = 0.6;
        let lb = labels(6, &[(2, 3)]);
        let mut sb = vec![0.0; 6];
        sb[2] = 0.4;
        let group = [
            Scored {
                scores: &sa,
                labels: &la,
                start: 0,
                k: 7,
            },
            Scored {
                scores: &sb,
                labels: &lb,
                start: 0,
                k: 3,
            },
        ];
        // t = 0.8: TP 5, FP 0, FN 2 -> 10/12. t = 0.6: FP 1 -> 10/13.
        // t = 0.4: TP 7, FP 1 -> 14/15, the best. t = 0.1: FP 7 -> 14/21.
        let best = best_f1(&group).unwrap();
        assert_eq!(best.threshold, 0.4);
        assert_eq!((best.tp, best.fp, best.fn_), (7, 1, 0));
        assert!((best.f1 - 14.0 / 15.0).abs() < 1e-12);
        let at = f1_at(&group, 0.8).unwrap();
        assert!((at.f1 - 10.0 / 12.0).abs() < 1e-12);
        // The best is never below any single threshold's F1.
        for t in [0.0, 0.1, 0.4, 0.6, 0.8, 1.0] {
            assert!(f1_at(&group, t).unwrap().f1 <= best.f1);
        }
    }

    #[test]
    fn nothing_labelled_or_nothing_alarmed_scores_zero() {
        let l = vec![false; 10];
        let s = vec![0.3; 10];
        let r = one(&s, &l, 0, 7);
        assert_eq!(r[0].f1, 0.0);
        assert_eq!(r[0].threshold, f64::INFINITY);
        let l = labels(10, &[(3, 4)]);
        let r = &one(&[0.0; 10], &l, 0, 7)[1];
        assert_eq!((r.tp, r.fp, r.fn_, r.f1), (0, 0, 2, 0.0));
    }

    #[test]
    fn mismatched_lengths_are_an_error() {
        let e = best_f1(&[Scored {
            scores: &[0.0; 3],
            labels: &[false; 4],
            start: 0,
            k: 7,
        }])
        .unwrap_err();
        assert!(e.to_string().contains("3 scores but 4 labels"), "{e}");
    }
}
