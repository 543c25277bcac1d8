//! `argus eval rca`: multi-dimensional localisation over a folder of cases,
//! one `<case>.csv` (or `<case>.csv.gz`) each, written as `case,root_cause`
//! lines; with the folder's answers (`injection_info.csv`, columns
//! `timestamp` and `set`) it also prints precision, recall and F1 (element
//! by element, summed over the cases) and the time per case.
//!
//! ```
//! use argus_eval::rca::{score, Counts};
//!
//! let c = score("a=a1&b=b2;c=c3", "b=b2&a=a1;c=c4");
//! assert_eq!(c, Counts { tp: 1, fp: 1, fn_: 1 });
//! assert_eq!(score("", "a=a1"), Counts { tp: 0, fp: 0, fn_: 1 });
//! ```

use crate::EvalError;
use argus_rca::md::{localize, parse_case, Case, Element, Leaf, Settings};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What `argus eval rca` runs on.
#[derive(Debug, Clone)]
pub struct RcaOptions {
    /// The folder of case files.
    pub input: PathBuf,
    /// The answer file to write.
    pub out: PathBuf,
    /// The answers to score against (`injection_info.csv`); by default the
    /// one in `input`, when there is one.
    pub truth: Option<PathBuf>,
    /// The search's settings.
    pub settings: Settings,
}

/// True positives, false positives and false negatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Elements in both.
    pub tp: usize,
    /// Predicted elements not in the truth.
    pub fp: usize,
    /// True elements not predicted.
    pub fn_: usize,
}

impl Counts {
    /// F1 of the counts (1 when there is nothing to find and nothing found).
    pub fn f1(&self) -> f64 {
        let d = 2 * self.tp + self.fp + self.fn_;
        if d == 0 {
            1.0
        } else {
            2.0 * self.tp as f64 / d as f64
        }
    }

    fn add(&mut self, o: Counts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
    }
}

fn elements(set: &str) -> BTreeSet<String> {
    set.split(';')
        .filter(|s| !s.trim().is_empty())
        .map(|s| match Element::parse(s) {
            Ok(e) => e.to_string(),
            Err(_) => s.trim().to_string(),
        })
        .collect()
}

/// Scores one predicted root-cause set against the true one, element by
/// element (parts in any order, duplicates collapsed).
pub fn score(predicted: &str, truth: &str) -> Counts {
    let p = elements(predicted);
    let t = elements(truth);
    let tp = p.intersection(&t).count();
    Counts {
        tp,
        fp: p.len() - tp,
        fn_: t.len() - tp,
    }
}

/// Whether `leaf` (its values in `dims`' order) lies under `e`.
fn covers(e: &Element, dims: &[String], leaf: &Leaf) -> bool {
    e.parts.iter().all(|(d, v)| {
        dims.iter()
            .position(|x| x == d)
            .is_some_and(|j| leaf.values[j] == *v)
    })
}

/// The relative deviation the search reads, `2(a − e)/(|a| + |e|)`; `None`
/// for a leaf where both are 0.
fn rel(leaf: &Leaf) -> Option<f64> {
    let m = (leaf.actual.abs() + leaf.expected.abs()) / 2.0;
    (m > 0.0).then(|| (leaf.actual - leaf.expected) / m)
}

/// For each true element the answer missed: how many leaves it has, their
/// mean relative deviation in units of the case's noise, and, for a single
/// leaf, whether some leaf outside every true element deviates as much (no
/// method that reads the leaves alone could then tell it from the noise).
pub fn missed_detail(case: &Case, answer: &str, truth: &str, noise: f64) -> Vec<String> {
    let got = elements(answer);
    let wanted: Vec<Element> = truth
        .split(';')
        .filter_map(|s| Element::parse(s).ok())
        .collect();
    if noise <= 0.0 {
        return Vec::new();
    }
    let largest_normal = case
        .leaves
        .iter()
        .filter(|l| !wanted.iter().any(|e| covers(e, &case.dims, l)))
        .filter_map(rel)
        .fold(0.0f64, |m, x| m.max(x.abs()))
        / noise;
    let mut out = Vec::new();
    for e in wanted.iter().filter(|e| !got.contains(&e.to_string())) {
        let x: Vec<f64> = case
            .leaves
            .iter()
            .filter(|l| covers(e, &case.dims, l))
            .filter_map(rel)
            .collect();
        if x.is_empty() {
            out.push(format!("missed {e}: no leaf with a value"));
            continue;
        }
        let z = x.iter().sum::<f64>() / x.len() as f64 / noise;
        let mut line = format!(
            "missed {e}: {} leaves, mean deviation {z:.1} noise",
            x.len()
        );
        if x.len() == 1 {
            line = format!(
                "missed {e}: 1 leaf, deviation {z:.1} noise; the largest normal leaf's {largest_normal:.1}{}",
                if z.abs() <= largest_normal {
                    " (no larger than the noise's own extremes)"
                } else {
                    ""
                }
            );
        }
        out.push(line);
    }
    out
}

fn read_case(path: &Path) -> Result<String, EvalError> {
    let bytes =
        std::fs::read(path).map_err(EvalError::io(format!("cannot read {}", path.display())))?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .map_err(EvalError::io(format!(
                "cannot decompress {}",
                path.display()
            )))?;
        Ok(s)
    } else {
        String::from_utf8(bytes)
            .map_err(|_| EvalError::Input(format!("{}: not UTF-8 text", path.display())))
    }
}

/// The case files of `dir`, by case name.
fn cases(dir: &Path) -> Result<BTreeMap<String, PathBuf>, EvalError> {
    let mut out = BTreeMap::new();
    let rd =
        std::fs::read_dir(dir).map_err(EvalError::io(format!("cannot read {}", dir.display())))?;
    for e in rd {
        let e = e.map_err(EvalError::io(format!("cannot read {}", dir.display())))?;
        let name = e.file_name().to_string_lossy().to_string();
        let case = name
            .strip_suffix(".csv.gz")
            .or_else(|| name.strip_suffix(".csv"));
        if let Some(case) = case {
            if case != "injection_info" {
                out.insert(case.to_string(), e.path());
            }
        }
    }
    Ok(out)
}

/// Reads `timestamp,set` answers.
pub fn read_truth(path: &Path) -> Result<BTreeMap<String, String>, EvalError> {
    let text = std::fs::read_to_string(path)
        .map_err(EvalError::io(format!("cannot read {}", path.display())))?;
    let mut r = ::csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header = r
        .headers()
        .map_err(|e| EvalError::Input(format!("{}: {e}", path.display())))?
        .clone();
    let col = |n: &str| {
        header
            .iter()
            .position(|h| h == n)
            .ok_or_else(|| EvalError::Input(format!("{}: no `{n}` column", path.display())))
    };
    let (ts, set) = (col("timestamp")?, col("set")?);
    let mut out = BTreeMap::new();
    for (i, rec) in r.records().enumerate() {
        let rec =
            rec.map_err(|e| EvalError::Input(format!("{}:{}: {e}", path.display(), i + 2)))?;
        out.insert(
            rec.get(ts).unwrap_or_default().to_string(),
            rec.get(set).unwrap_or_default().to_string(),
        );
    }
    Ok(out)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The result of a run.
#[derive(Debug, Clone, Default)]
pub struct RcaReport {
    /// Cases run.
    pub cases: usize,
    /// Summed counts, when answers were given.
    pub counts: Option<Counts>,
    /// Time per case (parse and search), ms: p50 and p95.
    pub p50_ms: f64,
    /// See `p50_ms`.
    pub p95_ms: f64,
    /// Leaves per case, the largest.
    pub max_leaves: usize,
}

/// Runs `argus eval rca`: writes `case,root_cause` lines to `opts.out` and,
/// with answers, prints the scores to `w`.
pub fn run(opts: &RcaOptions, w: &mut dyn Write) -> Result<RcaReport, EvalError> {
    let files = cases(&opts.input)?;
    if files.is_empty() {
        return Err(EvalError::Input(format!(
            "{}: no case files (`<case>.csv` or `<case>.csv.gz`)",
            opts.input.display()
        )));
    }
    let truth_path = opts
        .truth
        .clone()
        .or_else(|| Some(opts.input.join("injection_info.csv")).filter(|p| p.exists()));
    let truth = truth_path.as_deref().map(read_truth).transpose()?;
    let mut out = String::new();
    let mut times = Vec::new();
    let mut counts = Counts::default();
    let mut report = RcaReport::default();
    for (case, path) in &files {
        let text = read_case(path)?;
        let t0 = Instant::now();
        let parsed =
            parse_case(&text).map_err(|e| EvalError::Input(format!("{}: {e}", path.display())))?;
        let found = localize(&parsed.dims, &parsed.leaves, &opts.settings)
            .map_err(|e| EvalError::Input(format!("{}: {e}", path.display())))?;
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
        report.max_leaves = report.max_leaves.max(parsed.leaves.len());
        let answer = found.to_string();
        if let Some(t) = &truth {
            let Some(want) = t.get(case) else {
                return Err(EvalError::Input(format!(
                    "{}: no answer for case {case}",
                    truth_path
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                )));
            };
            let c = score(&answer, want);
            if c.fp + c.fn_ > 0 {
                writeln!(
                    w,
                    "  {case}: got {answer:?}, want {want:?} (noise {:.3})",
                    found.noise
                )
                .map_err(EvalError::io("cannot write the report"))?;
                for line in missed_detail(&parsed, &answer, want, found.noise) {
                    writeln!(w, "    {line}").map_err(EvalError::io("cannot write the report"))?;
                }
            }
            counts.add(c);
        }
        out.push_str(&format!("{case},{answer}\n"));
    }
    std::fs::write(&opts.out, out).map_err(EvalError::io(format!(
        "cannot write {}",
        opts.out.display()
    )))?;
    times.sort_by(f64::total_cmp);
    report.cases = files.len();
    report.p50_ms = quantile(&times, 0.5);
    report.p95_ms = quantile(&times, 0.95);
    if truth.is_some() {
        report.counts = Some(counts);
        writeln!(
            w,
            "{}: {} cases, F1 {:.3} (TP {}, FP {}, FN {}), {:.1} ms per case p50, {:.1} ms p95 (up to {} leaves)",
            opts.input.display(),
            report.cases,
            counts.f1(),
            counts.tp,
            counts.fp,
            counts.fn_,
            report.p50_ms,
            report.p95_ms,
            report.max_leaves
        )
        .map_err(EvalError::io("cannot write the report"))?;
    } else {
        writeln!(
            w,
            "{}: {} cases, {:.1} ms per case p50, {:.1} ms p95",
            opts.input.display(),
            report.cases,
            report.p50_ms,
            report.p95_ms
        )
        .map_err(EvalError::io("cannot write the report"))?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(rows: &[(&str, &str, f64, f64)]) -> Case {
        Case {
            dims: vec!["a".into(), "b".into()],
            leaves: rows
                .iter()
                .map(|&(a, b, act, exp)| Leaf::new(vec![a.into(), b.into()], act, exp))
                .collect(),
        }
    }

    #[test]
    fn a_missed_leaf_is_compared_with_the_largest_normal_one() {
        // Noise 0.1; the normal leaf a2/b2 deviates by 0.5 (5 noise), the
        // missed leaf a1/b1 by 0.2 (2 noise), the missed a3/b1 by 1 (10).
        let c = case(&[
            ("a1", "b1", 110.0, 90.0),
            ("a1", "b2", 100.0, 100.0),
            ("a2", "b2", 125.0, 75.0),
            ("a3", "b1", 150.0, 50.0),
            ("a3", "b2", 0.0, 0.0),
        ]);
        let lines = missed_detail(&c, "", "a=a1&b=b1;b=b1&a=a3", 0.1);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("missed a=a1&b=b1: 1 leaf, deviation 2.0 noise; the largest normal leaf's 5.0 (no larger"), "{}", lines[0]);
        assert!(
            lines[1].starts_with(
                "missed a=a3&b=b1: 1 leaf, deviation 10.0 noise; the largest normal leaf's 5.0"
            ),
            "{}",
            lines[1]
        );
        assert!(!lines[1].contains("no larger"), "{}", lines[1]);
        // A found element is not listed; a larger element reports its mean.
        let lines = missed_detail(&c, "a=a3&b=b1", "a=a1;a=a3&b=b1", 0.1);
        assert_eq!(lines, ["missed a=a1: 2 leaves, mean deviation 1.0 noise"]);
    }
}
