//! `argus eval nab --peers FILE`: the published detectors' scores on the
//! files of this run, beside ours.
//!
//! NAB's repository keeps, for every detector, a per-file score table
//! (`results/<detector>/<detector>_<profile>_scores.csv`: `Detector,
//! Profile,File,Threshold,Score,...`), each row scored at that detector's own
//! corpus-wide threshold. Summing `Score` over the files of this run and
//! normalising with this run's null and perfect scores gives the detector's
//! NAB score on the same files, so a subset such as `../shared/data/nab`
//! (35 of NAB's 58 files) can be compared with the published detectors.
//! Their threshold was optimised on all 58 files, not re-optimised here, so
//! the figure is a lower bound on what they would reach with a threshold
//! chosen on the subset. `bench/nab/published_scores.csv` holds the rows of
//! ARTime, Numenta HTM and CAD OSE for those 35 files.
//!
//! ```text
//! argus eval nab --data ../shared/data/nab --out /tmp/nab --peers bench/nab/published_scores.csv
//! ```

use super::CorpusScore;
use crate::error::read_text;
use crate::EvalError;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One row of a per-file score table.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerRow {
    /// Detector name (`numenta`, `ARTime`, ...).
    pub detector: String,
    /// NAB profile name (`standard`, `reward_low_FP_rate`, ...).
    pub profile: String,
    /// `category/file.csv`.
    pub file: String,
    /// The detector's threshold for that profile.
    pub threshold: f64,
    /// The file's raw NAB score at that threshold.
    pub score: f64,
}

/// Reads a per-file score table; errors name the file and the line. A
/// `Totals` row, as NAB writes at the end, is skipped.
pub fn read(path: &Path) -> Result<Vec<PeerRow>, EvalError> {
    let text = read_text(path)?;
    parse(&text).map_err(|e| EvalError::Input(e).within(path.display().to_string()))
}

/// Parses a score table; the error names the line.
fn parse(text: &str) -> Result<Vec<PeerRow>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err("empty score table".into());
    };
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let col = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .ok_or_else(|| format!("line 1: no {name:?} column in {header:?}"))
    };
    let (d, p, f, t, s) = (
        col("Detector")?,
        col("Profile")?,
        col("File")?,
        col("Threshold")?,
        col("Score")?,
    );
    let mut out = Vec::new();
    for (i, line) in lines {
        let n = i + 1;
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.first() == Some(&"Totals") {
            continue;
        }
        let get = |k: usize| {
            fields.get(k).copied().ok_or_else(|| {
                format!("line {n}: {} fields, expected {}", fields.len(), cols.len())
            })
        };
        let num = |k: usize, what: &str| -> Result<f64, String> {
            let v = get(k)?;
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("line {n}: bad {what} {v:?}"))
        };
        out.push(PeerRow {
            detector: get(d)?.to_string(),
            profile: get(p)?.to_string(),
            file: get(f)?.to_string(),
            threshold: num(t, "threshold")?,
            score: num(s, "score")?,
        });
    }
    Ok(out)
}

/// One published detector's score on this run's files under one profile.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerScore {
    /// Detector name.
    pub detector: String,
    /// Profile name.
    pub profile: String,
    /// The detector's own threshold.
    pub threshold: f64,
    /// Raw score summed over this run's files.
    pub raw: f64,
    /// Normalised with this run's null and perfect scores (`None` when the
    /// table lacks some of the run's files, or the run has no window).
    pub normalized: Option<f64>,
    /// The run's files the table has no score for.
    pub missing: Vec<String>,
}

/// Scores every (detector, profile) in `rows` that has a profile in
/// `ours` on exactly `files`. A detector whose table lacks some of the files
/// cannot be compared: its score is `None` and the missing files are named
/// (the run's own results are not affected).
pub fn score(
    rows: &[PeerRow],
    ours: &BTreeMap<String, CorpusScore>,
    files: &[&str],
) -> Vec<PeerScore> {
    let mut groups: BTreeMap<(&str, &str), BTreeMap<&str, &PeerRow>> = BTreeMap::new();
    for r in rows {
        groups
            .entry((&r.detector, &r.profile))
            .or_default()
            .insert(&r.file, r);
    }
    let mut out = Vec::new();
    for ((detector, profile), by_file) in groups {
        let Some(corpus) = ours.get(profile) else {
            continue;
        };
        let mut raw = 0.0;
        let mut threshold = f64::NAN;
        let mut missing = Vec::new();
        for f in files {
            match by_file.get(f) {
                Some(row) => {
                    raw += row.score;
                    threshold = row.threshold;
                }
                None => missing.push((*f).to_string()),
            }
        }
        let span = corpus.perfect - corpus.null;
        out.push(PeerScore {
            detector: detector.to_string(),
            profile: profile.to_string(),
            threshold,
            raw,
            normalized: (span > 0.0 && missing.is_empty())
                .then(|| 100.0 * (raw - corpus.null) / span),
            missing,
        });
    }
    out
}

/// Appends the comparison table to `report`.
pub fn write_report(
    report: &mut String,
    peers: &[PeerScore],
    ours: &BTreeMap<String, CorpusScore>,
) {
    let _ = writeln!(
        report,
        "published detectors on these files (their per-file scores at their own threshold):"
    );
    let _ = writeln!(
        report,
        "{:<20} {:<20} {:>9} {:>9} {:>8}",
        "detector", "profile", "threshold", "raw", "score"
    );
    for (profile, c) in ours {
        let _ = writeln!(
            report,
            "{:<20} {:<20} {:>9.4} {:>9.3} {:>8}",
            "argus (this run)",
            profile,
            c.threshold,
            c.raw,
            c.normalized.map_or("n/a".into(), |s| format!("{s:.2}"))
        );
        for p in peers.iter().filter(|p| &p.profile == profile) {
            if !p.missing.is_empty() {
                let shown = p.missing.len().min(3);
                let _ = writeln!(
                    report,
                    "{:<20} {:<20} n/a: no score for {} of these files ({}{})",
                    p.detector,
                    p.profile,
                    p.missing.len(),
                    p.missing[..shown].join(", "),
                    if p.missing.len() > shown { ", ..." } else { "" }
                );
                continue;
            }
            let _ = writeln!(
                report,
                "{:<20} {:<20} {:>9.4} {:>9.3} {:>8}",
                p.detector,
                p.profile,
                p.threshold,
                p.raw,
                p.normalized.map_or("n/a".into(), |s| format!("{s:.2}"))
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "Detector,Profile,File,Threshold,Score,TP\n\
        d,standard,a/x.csv,0.5,0.8,1\n\
        d,standard,a/y.csv,0.5,-1.0,0\n\
        d,standard,b/z.csv,0.5,2.0,2\n\
        Totals,,,,1.8,3\n";

    fn corpus(null: f64, perfect: f64) -> CorpusScore {
        CorpusScore {
            threshold: 0.5,
            raw: 0.0,
            null,
            perfect,
            normalized: Some(0.0),
            files: Vec::new(),
        }
    }

    #[test]
    fn sums_the_run_files_and_normalises_with_the_runs_null_and_perfect() {
        let rows = parse(TABLE).unwrap();
        assert_eq!(rows.len(), 3, "the Totals row is skipped");
        let ours = BTreeMap::from([("standard".to_string(), corpus(-2.0, 2.0))]);
        let s = score(&rows, &ours, &["a/x.csv", "a/y.csv"]);
        assert_eq!(s.len(), 1);
        assert!((s[0].raw - (-0.2)).abs() < 1e-12);
        // 100 · (−0.2 − (−2)) / (2 − (−2)) = 45.
        assert!((s[0].normalized.unwrap() - 45.0).abs() < 1e-9);
        let mut out = String::new();
        write_report(&mut out, &s, &ours);
        assert!(out.contains("45.00"), "{out}");
    }

    #[test]
    fn a_missing_file_is_named_and_a_bad_line_is_an_error() {
        let rows = parse(TABLE).unwrap();
        let ours = BTreeMap::from([("standard".to_string(), corpus(-1.0, 1.0))]);
        let s = score(&rows, &ours, &["a/x.csv", "c/w.csv"]);
        assert_eq!((s[0].normalized, s[0].missing.len()), (None, 1));
        let mut out = String::new();
        write_report(&mut out, &s, &ours);
        assert!(
            out.contains("n/a: no score for 1 of these files (c/w.csv)"),
            "{out}"
        );
        let e =
            parse("Detector,Profile,File,Threshold,Score\nd,standard,a.csv,0.5,abc\n").unwrap_err();
        assert!(
            e.to_string().contains("line 2") && e.to_string().contains("abc"),
            "{e}"
        );
        let e = parse("Detector,File,Score\n").unwrap_err();
        assert!(e.to_string().contains("Profile"), "{e}");
    }

    #[test]
    fn profiles_we_did_not_run_are_left_out() {
        let rows = parse(&TABLE.replace("standard", "reward_low_FN_rate")).unwrap();
        let ours = BTreeMap::from([("standard".to_string(), corpus(-1.0, 1.0))]);
        assert!(score(&rows, &ours, &["a/x.csv"]).is_empty());
    }
}
