//! Running the candidates over the groups: every series streamed through a
//! fresh detector on worker threads, each group scored by its metric.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde::Serialize;

use super::data::{Group, Scoring};
use super::f1::{best_f1, f1_at, F1Score, Scored};
use super::grid::Candidate;
use crate::nab::{self, CorpusScore, CostMatrix, FileInput};
use crate::EvalError;

type Result<T, E = EvalError> = std::result::Result<T, E>;

/// NAB detail of a group at the chosen threshold and at the alarm threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NabDetail {
    /// Raw score at the optimised threshold.
    pub raw: f64,
    /// Raw score at the alarm threshold.
    pub alarm_raw: f64,
    /// Labelled windows.
    pub windows: usize,
    /// Windows detected at the optimised threshold.
    pub detected: usize,
    /// False-positive rows at the optimised threshold.
    pub fp_rows: usize,
    /// Windows detected at the alarm threshold.
    pub alarm_detected: usize,
    /// False-positive rows at the alarm threshold.
    pub alarm_fp_rows: usize,
}

/// One candidate's score on one group, on a 0–1 scale.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GroupScore {
    /// At the threshold chosen with the group's labels (NAB's optimiser,
    /// best F1): the protocol's s(c, g).
    pub best: f64,
    /// At the detector's own alarm threshold, chosen without labels.
    pub at_alarm: f64,
    /// The threshold chosen with the labels.
    pub threshold: f64,
    /// F1 groups: the best F1 and its counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub f1: Option<F1Score>,
    /// F1 groups: F1 at the alarm threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub f1_at_alarm: Option<F1Score>,
    /// NAB groups: raw scores, windows and false positives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nab: Option<NabDetail>,
}

/// One metric column's row scores: `((series, column), scores)`.
type ColumnScores = ((usize, usize), Vec<f64>);

/// Every series' row scores for one candidate: each metric column streamed
/// through its own detector (jobs shared by `threads` workers, longest
/// first), a multi-metric row scoring the maximum over its metrics (an
/// alarm on the server when any metric alarms).
pub fn series_scores(group: &Group, cand: &Candidate, threads: usize) -> Vec<Vec<f64>> {
    let mut jobs: Vec<(usize, usize)> = group
        .series
        .iter()
        .enumerate()
        .flat_map(|(i, s)| (0..s.columns.len()).map(move |j| (i, j)))
        .collect();
    jobs.sort_by_key(|&(i, _)| std::cmp::Reverse(group.series[i].ts.len()));
    let next = AtomicUsize::new(0);
    let workers = threads.clamp(1, jobs.len().max(1));
    let done: Vec<Vec<ColumnScores>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(i, j)) = jobs.get(n) else { break };
                        let s = &group.series[i];
                        out.push(((i, j), cand.score(&s.ts, &s.columns[j])));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            // A worker only panics if the detector does; pass that on.
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut rows: Vec<Vec<f64>> = group.series.iter().map(|_| Vec::new()).collect();
    for ((i, _), scores) in done.into_iter().flatten() {
        let row = &mut rows[i];
        if row.is_empty() {
            *row = scores;
        } else {
            for (a, b) in row.iter_mut().zip(scores) {
                *a = a.max(b);
            }
        }
    }
    rows
}

/// A NAB result on the 0–1 scale: the normalised score ÷ 100. A group
/// without windows has no normalised score (perfect equals null); it scores
/// `1 + raw / files`, 1 without false positives, each file weighing as
/// much as one window.
fn nab_scale(r: &CorpusScore, cost: &CostMatrix, files: usize) -> f64 {
    match r.normalized {
        Some(v) => v / 100.0,
        None => 1.0 + r.raw / (cost.tp_weight * files.max(1) as f64),
    }
}

/// Scores one candidate on one group.
pub fn score_group(group: &Group, cand: &Candidate, threads: usize) -> Result<GroupScore> {
    let rows = series_scores(group, cand, threads);
    let alarm = cand.alarm_threshold();
    match &group.scoring {
        Scoring::Nab(cost) => {
            let inputs: Vec<FileInput<'_>> = group
                .series
                .iter()
                .zip(&rows)
                .map(|(s, scores)| FileInput {
                    name: &s.name,
                    timestamps: &s.ts,
                    scores,
                    windows: &s.windows,
                })
                .collect();
            let best = nab::evaluate_with(&inputs, cost, None)?;
            let at = nab::evaluate_with(&inputs, cost, Some(alarm))?;
            let sum = |r: &CorpusScore, f: fn(&nab::FileScore) -> usize| -> usize {
                r.files.iter().map(f).sum()
            };
            Ok(GroupScore {
                best: nab_scale(&best, cost, inputs.len()),
                at_alarm: nab_scale(&at, cost, inputs.len()),
                threshold: best.threshold,
                f1: None,
                f1_at_alarm: None,
                nab: Some(NabDetail {
                    raw: best.raw,
                    alarm_raw: at.raw,
                    windows: sum(&best, |f| f.windows),
                    detected: sum(&best, |f| f.detected_windows),
                    fp_rows: sum(&best, |f| f.at_threshold.fp),
                    alarm_detected: sum(&at, |f| f.detected_windows),
                    alarm_fp_rows: sum(&at, |f| f.at_threshold.fp),
                }),
            })
        }
        Scoring::F1 => {
            let scored: Vec<Scored<'_>> = group
                .series
                .iter()
                .zip(&rows)
                .map(|(s, scores)| Scored {
                    scores,
                    labels: &s.labels,
                    start: s.test_start,
                    k: s.k,
                })
                .collect();
            let best = best_f1(&scored)?;
            let at = f1_at(&scored, alarm)?;
            Ok(GroupScore {
                best: best.f1,
                at_alarm: at.f1,
                threshold: best.threshold,
                f1: Some(best),
                f1_at_alarm: Some(at),
                nab: None,
            })
        }
    }
}

/// Scores every candidate on every group: `[candidate][group]`. Writes a
/// progress line per candidate and group to `progress`.
pub fn score_all(
    groups: &[Group],
    cands: &[Candidate],
    threads: usize,
    progress: &mut dyn Write,
) -> Result<Vec<Vec<GroupScore>>> {
    let start = Instant::now();
    let mut out = Vec::with_capacity(cands.len());
    for (ci, cand) in cands.iter().enumerate() {
        let mut row = Vec::with_capacity(groups.len());
        for g in groups {
            let t = Instant::now();
            let s = score_group(g, cand, threads)?;
            let _ = writeln!(
                progress,
                "cv: [{}/{}] {}: {}: series {n}/{n}, {:.1} s, s = {:.3} (alarm {:.3}), elapsed {:.0} s",
                ci + 1,
                cands.len(),
                cand.name,
                g.name,
                t.elapsed().as_secs_f64(),
                s.best,
                s.at_alarm,
                start.elapsed().as_secs_f64(),
                n = g.series.len(),
            );
            row.push(s);
        }
        out.push(row);
    }
    Ok(out)
}
