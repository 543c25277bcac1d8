//! Row weights, the threshold sweep and corpus evaluation (see the module
//! header in `nab/mod.rs` for the rules).

use super::{CostMatrix, FileInput, NabError};

/// Share of each file that is probationary (NAB: 0.15).
const PROBATION_PERCENT: f64 = 0.15;
/// NAB caps the probationary period at `0.15 · 5000` rows.
const PROBATION_CAP: f64 = PROBATION_PERCENT * 5000.0;
/// NAB's first sweep threshold: above every score, so nothing is detected.
const START_THRESHOLD: f64 = 1.1;

/// NAB's scaled sigmoid of a relative position: `2/(1+e^{5x}) − 1`, and −1
/// beyond 3 (a false positive far behind a window).
///
/// ```
/// use argus_eval::nab::scaled_sigmoid;
/// assert!((scaled_sigmoid(-1.0) - 0.98661).abs() < 1e-5); // left edge of a window
/// assert_eq!(scaled_sigmoid(0.0), 0.0); // right edge
/// assert_eq!(scaled_sigmoid(3.5), -1.0);
/// ```
pub fn scaled_sigmoid(x: f64) -> f64 {
    if x > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * x).exp()) - 1.0
    }
}

/// Number of leading rows NAB leaves unscored: `min(floor(0.15·n), 750)`.
///
/// ```
/// assert_eq!(argus_eval::nab::probationary_length(4032), 604);
/// assert_eq!(argus_eval::nab::probationary_length(22695), 750);
/// ```
pub fn probationary_length(rows: usize) -> usize {
    let p = (PROBATION_PERCENT * rows as f64).floor().min(PROBATION_CAP);
    p as usize
}

/// What a row is for scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// In the probationary period: never scored.
    Probationary,
    /// Outside every window: a detection here is a false positive.
    Outside,
    /// Inside the window with this corpus-wide id.
    Window(u32),
}

/// One row prepared for scoring.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepRow {
    /// The detector's anomaly score.
    pub score: f64,
    /// The unweighted scaled-sigmoid value of a detection on this row.
    pub sigmoid: f64,
    /// Probationary, outside, or in which window.
    pub kind: RowKind,
}

impl SweepRow {
    /// The row's contribution when detected, under `cost`.
    fn weight(&self, cost: &CostMatrix) -> f64 {
        match self.kind {
            RowKind::Window(_) => self.sigmoid * cost.tp_weight / scaled_sigmoid(-1.0),
            RowKind::Outside => self.sigmoid * cost.fp_weight,
            RowKind::Probationary => 0.0,
        }
    }
}

/// Resolves each window of a file to the inclusive row range it covers.
pub fn window_ranges(file: &FileInput<'_>) -> Result<Vec<(usize, usize)>, NabError> {
    let ts = file.timestamps;
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(file.windows.len());
    let mut prev_end: Option<i64> = None;
    for (index, &(start, end)) in file.windows.iter().enumerate() {
        let bad = |reason| NabError::BadWindow {
            file: file.name.to_string(),
            index,
            start,
            end,
            reason,
        };
        if start > end {
            return Err(bad("ends before it starts"));
        }
        if prev_end.is_some_and(|p| start <= p) {
            return Err(bad("overlaps or precedes the previous window"));
        }
        prev_end = Some(end);
        // As NAB: a window opens at the first row (after the previous window)
        // stamped at or after its start, and closes at the first row stamped
        // with its end, or at the last row before the end when none is.
        let from = out.last().map_or(0, |w| w.1 + 1);
        let Some(left) = (from..ts.len()).find(|&i| ts[i] >= start) else {
            return Err(bad("starts after the last row"));
        };
        let right = match (left..ts.len()).find(|&j| ts[j] >= end) {
            Some(j) if ts[j] == end => j,
            Some(j) if j > left => j - 1,
            Some(_) => return Err(bad("holds no data row")),
            None => ts.len() - 1,
        };
        out.push((left, right));
    }
    Ok(out)
}

/// Prepares one file's rows; its windows get ids `first_window_id..`.
/// Timestamps need not be sorted (NAB's files step back at DST changes).
pub fn sweep_file(file: &FileInput<'_>, first_window_id: u32) -> Result<Vec<SweepRow>, NabError> {
    let n = file.timestamps.len();
    if n != file.scores.len() {
        return Err(NabError::LengthMismatch {
            file: file.name.to_string(),
            timestamps: n,
            scores: file.scores.len(),
        });
    }
    if let Some(row) = file.scores.iter().position(|s| s.is_nan()) {
        return Err(NabError::NanScore {
            file: file.name.to_string(),
            row,
        });
    }
    let ranges = window_ranges(file)?;
    let probation = probationary_length(n);
    let mut rows = Vec::with_capacity(n);
    let mut next = 0usize; // index of the next window not yet passed
    for (i, &score) in file.scores.iter().enumerate() {
        while next < ranges.len() && ranges[next].1 < i {
            next += 1;
        }
        let inside = ranges.get(next).filter(|r| r.0 <= i);
        let (sigmoid, kind) = match inside {
            Some(&(left, right)) => {
                let width = (right - left + 1) as f64;
                let pos = -((right - i + 1) as f64) / width;
                (
                    scaled_sigmoid(pos),
                    RowKind::Window(first_window_id + next as u32),
                )
            }
            None => {
                let value = match next.checked_sub(1).map(|k| ranges[k]) {
                    // No preceding window: the full false-positive cost.
                    None => -1.0,
                    // NAB divides by (width − 1), which is 0 for a one-row
                    // window; that case costs the full −1 here.
                    Some((left, right)) if right == left => -1.0,
                    Some((left, right)) => {
                        scaled_sigmoid((i - right) as f64 / (right - left) as f64)
                    }
                };
                (value, RowKind::Outside)
            }
        };
        let kind = if i < probation {
            RowKind::Probationary
        } else {
            kind
        };
        rows.push(SweepRow {
            score,
            sigmoid,
            kind,
        });
    }
    Ok(rows)
}

/// The score of a corpus (or file) at one threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdScore {
    /// Rows with an anomaly score `>=` this are detections.
    pub threshold: f64,
    /// Raw NAB score.
    pub score: f64,
    /// Detected rows inside windows.
    pub tp: usize,
    /// Undetected rows outside windows.
    pub tn: usize,
    /// Detected rows outside windows.
    pub fp: usize,
    /// Undetected rows inside windows.
    pub fn_: usize,
}

/// Per-window best contribution, with `None` for windows with no scorable row.
fn window_parts(rows: &[SweepRow], cost: &CostMatrix) -> Vec<Option<f64>> {
    let mut parts: Vec<Option<f64>> = Vec::new();
    for r in rows {
        if let RowKind::Window(id) = r.kind {
            let id = id as usize;
            if parts.len() <= id {
                parts.resize(id + 1, None);
            }
            parts[id] = Some(-cost.fn_weight);
        }
    }
    parts
}

/// The score at every distinct threshold, from 1.1 (nothing detected) down to
/// the lowest score (everything detected), as NAB's sweeper lists them.
pub fn sweep_thresholds(rows: &[SweepRow], cost: &CostMatrix) -> Vec<ThresholdScore> {
    let mut scorable: Vec<&SweepRow> = rows
        .iter()
        .filter(|r| r.kind != RowKind::Probationary)
        .collect();
    scorable.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut parts = window_parts(rows, cost);
    let mut total: f64 = parts.iter().flatten().sum();
    let mut tp = 0;
    let mut fp = 0;
    let mut fn_ = scorable
        .iter()
        .filter(|r| matches!(r.kind, RowKind::Window(_)))
        .count();
    let mut tn = scorable.len() - fn_;
    let mut out = Vec::new();
    let mut current = START_THRESHOLD;
    for r in scorable {
        if r.score != current {
            out.push(ThresholdScore {
                threshold: current,
                score: total,
                tp,
                tn,
                fp,
                fn_,
            });
            current = r.score;
        }
        let w = r.weight(cost);
        match r.kind {
            RowKind::Window(id) => {
                tp += 1;
                fn_ -= 1;
                if let Some(Some(best)) = parts.get_mut(id as usize) {
                    if w > *best {
                        total += w - *best;
                        *best = w;
                    }
                }
            }
            _ => {
                fp += 1;
                tn -= 1;
                total += w;
            }
        }
    }
    out.push(ThresholdScore {
        threshold: current,
        score: total,
        tp,
        tn,
        fp,
        fn_,
    });
    out
}

/// The score when every row with an anomaly score `>= threshold` is a detection.
pub fn score_at(rows: &[SweepRow], cost: &CostMatrix, threshold: f64) -> ThresholdScore {
    let mut parts = window_parts(rows, cost);
    let (mut tp, mut tn, mut fp, mut fn_) = (0, 0, 0, 0);
    let mut fp_total = 0.0;
    for r in rows {
        let detected = r.score >= threshold;
        match (r.kind, detected) {
            (RowKind::Probationary, _) => {}
            (RowKind::Outside, true) => {
                fp += 1;
                fp_total += r.weight(cost);
            }
            (RowKind::Outside, false) => tn += 1,
            (RowKind::Window(id), true) => {
                tp += 1;
                let w = r.weight(cost);
                if let Some(Some(best)) = parts.get_mut(id as usize) {
                    *best = best.max(w);
                }
            }
            (RowKind::Window(_), false) => fn_ += 1,
        }
    }
    ThresholdScore {
        threshold,
        score: fp_total + parts.iter().flatten().sum::<f64>(),
        tp,
        tn,
        fp,
        fn_,
    }
}

/// The best of a sweep; ties go to the higher threshold, as NAB's stable sort does.
fn best(sweep: &[ThresholdScore]) -> ThresholdScore {
    let mut best = sweep[0];
    for s in &sweep[1..] {
        if s.score > best.score {
            best = *s;
        }
    }
    best
}

/// One file's result at the corpus threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct FileScore {
    /// The file's name.
    pub name: String,
    /// Its score and counts at the corpus threshold.
    pub at_threshold: ThresholdScore,
    /// Number of labelled windows.
    pub windows: usize,
    /// Windows with at least one detection.
    pub detected_windows: usize,
}

/// A corpus result for one profile.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusScore {
    /// The threshold used (optimised unless it was given).
    pub threshold: f64,
    /// Raw score summed over the files.
    pub raw: f64,
    /// The null detector's best raw score.
    pub null: f64,
    /// The perfect detector's score: `tpWeight · windows`.
    pub perfect: f64,
    /// `100 · (raw − null) / (perfect − null)`; `None` when the corpus has no
    /// window (perfect equals null, so the ratio is undefined).
    pub normalized: Option<f64>,
    /// Per-file detail.
    pub files: Vec<FileScore>,
}

/// Scores a corpus under one profile, optimising the threshold as NAB does.
pub fn evaluate(files: &[FileInput<'_>], cost: &CostMatrix) -> Result<CorpusScore, NabError> {
    evaluate_with(files, cost, None)
}

/// Scores a corpus under one profile at `threshold`, or at the optimised
/// threshold when it is `None`.
pub fn evaluate_with(
    files: &[FileInput<'_>],
    cost: &CostMatrix,
    threshold: Option<f64>,
) -> Result<CorpusScore, NabError> {
    let mut per_file = Vec::with_capacity(files.len());
    let mut all = Vec::new();
    let mut null_rows = Vec::new();
    let mut next_id = 0u32;
    for f in files {
        let rows = sweep_file(f, next_id)?;
        null_rows.extend(rows.iter().map(|r| SweepRow { score: 0.5, ..*r }));
        all.extend_from_slice(&rows);
        per_file.push((rows, next_id));
        next_id += f.windows.len() as u32;
    }
    let threshold = match threshold {
        Some(t) => t,
        None => best(&sweep_thresholds(&all, cost)).threshold,
    };
    let null = best(&sweep_thresholds(&null_rows, cost)).score;
    let perfect = cost.tp_weight * next_id as f64;
    let mut raw = 0.0;
    let mut out_files = Vec::with_capacity(files.len());
    for (f, (rows, first)) in files.iter().zip(&per_file) {
        let s = score_at(rows, cost, threshold);
        raw += s.score;
        let mut hit = vec![false; f.windows.len()];
        for r in rows {
            if let (RowKind::Window(id), true) = (r.kind, r.score >= threshold) {
                if let Some(h) = hit.get_mut((id - first) as usize) {
                    *h = true;
                }
            }
        }
        out_files.push(FileScore {
            name: f.name.to_string(),
            at_threshold: s,
            windows: f.windows.len(),
            detected_windows: hit.iter().filter(|h| **h).count(),
        });
    }
    let normalized = (perfect != null).then(|| 100.0 * (raw - null) / (perfect - null));
    Ok(CorpusScore {
        threshold,
        raw,
        null,
        perfect,
        normalized,
        files: out_files,
    })
}
