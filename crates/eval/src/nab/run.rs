//! `argus eval nab`: runs the streaming anomaly scorer over a Numenta Anomaly
//! Benchmark directory with one global configuration, writes NAB-format
//! results and prints the NAB scores (the scoring itself is in the parent
//! module).
//!
//! The default configuration is the production scorer's
//! (`AnomalyConfig::default()`: the forecasters and likelihood layer with the
//! contextual novelty detector added; ADR 0009's addenda have the figures
//! and the variants). A `--config` file selects a variant, e.g. the
//! contextual detector alone with 64 levels:
//! `{"context_add": 0, "context_weight": 6, "point_weight": 0,
//! "likelihood_weight": 0, "context": {"levels": 64}}`.
//!
//! As in NAB's own runner, every detector gets its data file's min and max
//! (`inputMin`/`inputMax`, look-ahead that NAB allows): the scorer is built
//! with `AnomalyScorer::with_range`, which fixes the contextual detector's
//! grid from them. `--no-input-range` scores as production does, with the
//! grid fixed online from the first samples.
//!
//! ```text
//! argus eval nab --data ../shared/data/nab --out /tmp/nab-results
//! argus eval nab --data DIR --out OUT --config variant.json --categories realKnownCause
//! argus eval nab --data DIR --out OUT --no-input-range
//! ```
//!
//! Input: `DIR/data/<category>/<file>.csv` (`timestamp,value`),
//! `DIR/labels/combined_windows.json` and `DIR/labels/profiles.json`, or,
//! as in an upstream NAB checkout, `DIR/config/profiles.json`. Only files
//! that have an entry in the windows file are run, as NAB does.
//!
//! Output, in the layout NAB's own scorer reads:
//! - `OUT/argus/<category>/argus_<file>.csv`: `timestamp,value,anomaly_score,label`
//!   (label is 1 inside a window, as in NAB's results files);
//! - `OUT/argus/argus_<profile>_scores.csv`: NAB's per-file score table;
//! - `OUT/final_results.json`: the normalised score per profile.

use crate::error::read_text;
use crate::nab::{self, peers, CorpusScore, CostMatrix, FileInput};
use crate::EvalError;
use argus_detect::anomaly::{AnomalyConfig, AnomalyScorer};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

type Result<T, E = EvalError> = std::result::Result<T, E>;

/// The detector name used in result paths.
const DETECTOR: &str = "argus";

/// What `argus eval nab` runs on (the command line's flags).
#[derive(Debug, Clone, Default)]
pub struct NabOptions {
    /// NAB directory with `data/` and `labels/`.
    pub data: PathBuf,
    /// Output directory for the results (created if missing).
    pub out: PathBuf,
    /// JSON file with a scorer configuration (keys of `AnomalyConfig`;
    /// missing keys take their defaults), for every file; `None`: defaults.
    pub config: Option<PathBuf>,
    /// Only these categories; empty: all.
    pub categories: Vec<String>,
    /// One threshold for every profile instead of optimising it.
    pub threshold: Option<f64>,
    /// Give the scorer each file's min and max (NAB's `inputMin`/`inputMax`);
    /// `false` scores as production does.
    pub input_range: bool,
    /// Per-file score tables of published detectors ([`peers`]).
    pub peers: Vec<PathBuf>,
}

/// One data file, read and scored.
struct DataFile {
    /// `category/file.csv`.
    rel: String,
    raw_ts: Vec<String>,
    ts: Vec<i64>,
    values: Vec<f64>,
    windows: Vec<(i64, i64)>,
    scores: Vec<f64>,
}

/// Runs `argus eval nab`: scores every file, writes the results under
/// `args.out` and the report to `report`. The report is written before the
/// peer tables are read, so a broken peer table fails only the comparison.
pub fn run(args: &NabOptions, report_out: &mut dyn std::io::Write) -> Result<()> {
    let cfg = match &args.config {
        Some(p) => {
            let text = read_text(p)?;
            serde_json::from_str::<AnomalyConfig>(&text).map_err(|source| EvalError::Json {
                what: format!("{}: invalid scorer configuration", p.display()),
                source,
            })?
        }
        None => AnomalyConfig::default(),
    };
    let layout = Layout::locate(&args.data)?;
    let windows_path = layout.windows;
    let windows = read_windows(&windows_path)?;
    let profiles_path = layout.profiles;
    let profiles_text = read_text(&profiles_path)?;
    let profiles = nab::parse_profiles(&profiles_text)
        .map_err(|e| EvalError::from(e).within(profiles_path.display().to_string()))?;

    let mut files = Vec::new();
    for (rel, wins) in &windows {
        let category = rel.split('/').next().unwrap_or_default();
        if !args.categories.is_empty() && !args.categories.iter().any(|c| c == category) {
            continue;
        }
        let path = args.data.join("data").join(rel);
        let (raw_ts, ts, values) = read_series(&path)?;
        let wins = wins
            .iter()
            .map(|(a, b)| {
                let p = |s: &str| {
                    parse_timestamp(s).map_err(|e| {
                        EvalError::Input(format!(
                            "{}: window of {rel}: bad timestamp {s:?}: {e}",
                            windows_path.display()
                        ))
                    })
                };
                Ok((p(a)?, p(b)?))
            })
            .collect::<Result<Vec<_>>>()?;
        files.push(DataFile {
            rel: rel.clone(),
            raw_ts,
            ts,
            values,
            windows: wins,
            scores: Vec::new(),
        });
    }
    if files.is_empty() {
        return Err(EvalError::Input(format!(
            "no data file to score: {} lists none{}",
            windows_path.display(),
            if args.categories.is_empty() {
                String::new()
            } else {
                format!(" in categories {:?}", args.categories)
            }
        )));
    }
    let input_range = args.input_range;
    for f in &mut files {
        let mut scorer = if input_range {
            let (lo, hi) = f
                .values
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                    (lo.min(v), hi.max(v))
                });
            AnomalyScorer::with_range(cfg.clone(), lo, hi)
        } else {
            AnomalyScorer::new(cfg.clone())
        };
        f.scores =
            f.ts.iter()
                .zip(&f.values)
                .map(|(&t, &v)| scorer.update(t, v))
                .collect();
    }
    write_results(&args.out, &files)?;

    let inputs: Vec<FileInput<'_>> = files
        .iter()
        .map(|f| FileInput {
            name: &f.rel,
            timestamps: &f.ts,
            scores: &f.scores,
            windows: &f.windows,
        })
        .collect();
    let categories: Vec<&str> = {
        let mut c: Vec<&str> = files.iter().map(|f| category_of(&f.rel)).collect();
        c.dedup();
        c
    };
    let mut report = String::new();
    let n_windows: usize = files.iter().map(|f| f.windows.len()).sum();
    let _ = writeln!(
        report,
        "NAB: {} files, {} categories, {} windows, {} rows; detector config: {}; input range: {}",
        files.len(),
        categories.len(),
        n_windows,
        files.iter().map(|f| f.ts.len()).sum::<usize>(),
        args.config
            .as_ref()
            .map_or("default".to_string(), |p| p.display().to_string()),
        if input_range {
            "the file's min/max (NAB)"
        } else {
            "none (online)"
        }
    );
    let _ = writeln!(
        report,
        "{:<20} {:>9} {:>9} {:>9} {:>8} {:>8}",
        "profile", "threshold", "raw", "null", "perfect", "score"
    );
    let mut finals = BTreeMap::new();
    let mut details = Vec::new();
    let mut corpora = BTreeMap::new();
    for (name, cost) in &profiles {
        let r = nab::evaluate_with(&inputs, cost, args.threshold)?;
        let _ = writeln!(
            report,
            "{:<20} {:>9.4} {:>9.3} {:>9.3} {:>8.1} {:>8}",
            name,
            r.threshold,
            r.raw,
            r.null,
            r.perfect,
            fmt_score(r.normalized)
        );
        write_score_table(&args.out, name, &r)?;
        finals.insert(name.clone(), r.normalized);
        corpora.insert(name.clone(), r.clone());
        details.push((name.clone(), *cost, r));
    }
    if let Some((name, cost, r)) = details
        .iter()
        .find(|d| d.0 == "standard")
        .or(details.first())
    {
        category_detail(&mut report, name, cost, r, &inputs, &categories)?;
    }
    let final_json = serde_json::json!({ DETECTOR: finals });
    let final_path = args.out.join("final_results.json");
    let final_text = serde_json::to_string_pretty(&final_json).map_err(EvalError::Encode)?;
    std::fs::write(&final_path, final_text).map_err(EvalError::io(format!(
        "cannot write {}",
        final_path.display()
    )))?;
    // Our results are written and printed first: a broken peer table
    // fails only the comparison.
    emit(report_out, &report)?;
    if !args.peers.is_empty() {
        let mut rows = Vec::new();
        for p in &args.peers {
            rows.extend(peers::read(p)?);
        }
        let names: Vec<&str> = files.iter().map(|f| f.rel.as_str()).collect();
        let scores = peers::score(&rows, &corpora, &names);
        let mut table = String::new();
        peers::write_report(&mut table, &scores, &corpora);
        emit(report_out, &table)?;
    }
    Ok(())
}

/// Writes part of the report and flushes it, so it is out before the next
/// step can fail.
fn emit(out: &mut dyn std::io::Write, text: &str) -> Result<()> {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(EvalError::io("cannot write the report"))
}

fn fmt_score(s: Option<f64>) -> String {
    s.map_or_else(|| "n/a".to_string(), |v| format!("{v:.2}"))
}

fn category_of(rel: &str) -> &str {
    rel.split('/').next().unwrap_or(rel)
}

/// Per-category detail at the corpus threshold of one profile; each category
/// is normalised against its own null and perfect scores.
fn category_detail(
    report: &mut String,
    profile: &str,
    cost: &CostMatrix,
    corpus: &CorpusScore,
    inputs: &[FileInput<'_>],
    categories: &[&str],
) -> Result<()> {
    let _ = writeln!(
        report,
        "per category ({profile} profile, threshold {:.4}):",
        corpus.threshold
    );
    let _ = writeln!(
        report,
        "{:<24} {:>5} {:>7} {:>8} {:>6} {:>9} {:>8}",
        "category", "files", "windows", "detected", "FP", "raw", "score"
    );
    for cat in categories {
        let sub: Vec<FileInput<'_>> = inputs
            .iter()
            .filter(|f| category_of(f.name) == *cat)
            .copied()
            .collect();
        let r = nab::evaluate_with(&sub, cost, Some(corpus.threshold))?;
        let windows: usize = r.files.iter().map(|f| f.windows).sum();
        let detected: usize = r.files.iter().map(|f| f.detected_windows).sum();
        let fp: usize = r.files.iter().map(|f| f.at_threshold.fp).sum();
        let _ = writeln!(
            report,
            "{:<24} {:>5} {:>7} {:>8} {:>6} {:>9.3} {:>8}",
            cat,
            sub.len(),
            windows,
            detected,
            fp,
            r.raw,
            fmt_score(r.normalized)
        );
    }
    Ok(())
}

/// Where a NAB directory keeps its files. Two layouts are read: this
/// repository's (`data/`, `labels/combined_windows.json`,
/// `labels/profiles.json`) and an upstream NAB checkout's, which keeps the
/// profiles in `config/profiles.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// `DIR/labels/combined_windows.json`.
    pub windows: PathBuf,
    /// `DIR/labels/profiles.json`, else `DIR/config/profiles.json`.
    pub profiles: PathBuf,
}

impl Layout {
    /// Finds the windows and profiles files under `dir`; the error names
    /// the paths that were tried.
    pub(crate) fn locate(dir: &Path) -> Result<Layout> {
        if !dir.is_dir() {
            return Err(EvalError::Input(format!(
                "{}: not a directory (expected a NAB directory with data/ and labels/)",
                dir.display()
            )));
        }
        let windows = dir.join("labels").join("combined_windows.json");
        if !windows.is_file() {
            return Err(EvalError::Input(format!(
                "{}: missing; a NAB directory has data/ and labels/combined_windows.json",
                windows.display()
            )));
        }
        let tried = [
            dir.join("labels").join("profiles.json"),
            dir.join("config").join("profiles.json"),
        ];
        let Some(profiles) = tried.iter().find(|p| p.is_file()).cloned() else {
            return Err(EvalError::Input(format!(
                "no profiles file: neither {} nor {} exists",
                tried[0].display(),
                tried[1].display()
            )));
        };
        Ok(Layout { windows, profiles })
    }
}

/// Reads `combined_windows.json`: file → list of `[start, end]` strings.
pub(crate) fn read_windows(path: &Path) -> Result<BTreeMap<String, Vec<(String, String)>>> {
    let text = read_text(path)?;
    let raw: BTreeMap<String, Vec<Vec<String>>> =
        serde_json::from_str(&text).map_err(|source| EvalError::Json {
            what: format!(
                "{}: expected {{\"category/file.csv\": [[start, end], ...]}}",
                path.display()
            ),
            source,
        })?;
    raw.into_iter()
        .map(|(k, v)| {
            let pairs = v
                .into_iter()
                .enumerate()
                .map(|(i, w)| match <[String; 2]>::try_from(w) {
                    Ok([a, b]) => Ok((a, b)),
                    Err(w) => Err(EvalError::Input(format!(
                        "{}: {k}: window {i} has {} timestamps, expected 2",
                        path.display(),
                        w.len()
                    ))),
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((k, pairs))
        })
        .collect()
}

pub(crate) type Series = (Vec<String>, Vec<i64>, Vec<f64>);

/// Reads a `timestamp,value` CSV; errors name the file and the line.
pub(crate) fn read_series(path: &Path) -> Result<Series> {
    let text = read_text(path)?;
    let bad = |msg: String| EvalError::Input(format!("{}:{msg}", path.display()));
    let mut lines = text.lines().enumerate();
    let header = lines
        .next()
        .map(|(_, l)| l.trim())
        .ok_or_else(|| EvalError::Input(format!("{}: empty file", path.display())))?;
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let ti = cols.iter().position(|c| *c == "timestamp");
    let vi = cols.iter().position(|c| *c == "value");
    let (Some(ti), Some(vi)) = (ti, vi) else {
        return Err(bad(format!(
            "1: header {header:?} lacks the timestamp and value columns"
        )));
    };
    let (mut raw, mut ts, mut vals) = (Vec::new(), Vec::new(), Vec::new());
    for (i, line) in lines {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let n = i + 1;
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let (Some(t), Some(v)) = (fields.get(ti), fields.get(vi)) else {
            return Err(bad(format!(
                "{n}: expected {} fields, found {}",
                cols.len(),
                fields.len()
            )));
        };
        let secs = parse_timestamp(t).map_err(|e| bad(format!("{n}: bad timestamp {t:?}: {e}")))?;
        let value: f64 = v
            .parse()
            .map_err(|e| bad(format!("{n}: bad value {v:?}: {e}")))?;
        raw.push((*t).to_string());
        ts.push(secs);
        vals.push(value);
    }
    if ts.is_empty() {
        return Err(EvalError::Input(format!(
            "{}: no data rows",
            path.display()
        )));
    }
    Ok((raw, ts, vals))
}

/// Parses `YYYY-MM-DD HH:MM:SS[.frac]` (or with `T`) as seconds since
/// 1970-01-01, ignoring any fraction; the NAB files carry no zone. The
/// error says what is wrong.
pub(crate) fn parse_timestamp(s: &str) -> Result<i64, String> {
    const SHAPE: &str = "expected \"YYYY-MM-DD HH:MM:SS\"";
    let s = s.trim();
    let (date, time) = s.split_once([' ', 'T']).ok_or(SHAPE)?;
    let num = |p: &str, what: &str| -> Result<i64, String> {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("bad {what} {p:?}"));
        }
        p.parse()
            .map_err(|e: std::num::ParseIntError| e.to_string())
    };
    let d: Vec<&str> = date.split('-').collect();
    let time = time.split('.').next().unwrap_or(time);
    let t: Vec<&str> = time.split(':').collect();
    if d.len() != 3 || t.len() != 3 {
        return Err(SHAPE.into());
    }
    let (y, mo, da) = (num(d[0], "year")?, num(d[1], "month")?, num(d[2], "day")?);
    let (h, mi, se) = (
        num(t[0], "hour")?,
        num(t[1], "minute")?,
        num(t[2], "second")?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || se > 60 {
        return Err("date or time out of range".into());
    }
    // In range after the check above.
    let days = argus_model::time::days_from_civil(y, mo as u32, da as u32);
    Ok(days * 86_400 + h * 3600 + mi * 60 + se)
}

fn write_results(out: &Path, files: &[DataFile]) -> Result<()> {
    for f in files {
        let (cat, name) = f.rel.rsplit_once('/').unwrap_or(("", &f.rel));
        let dir = out.join(DETECTOR).join(cat);
        std::fs::create_dir_all(&dir)
            .map_err(EvalError::io(format!("cannot create {}", dir.display())))?;
        let mut csv = String::with_capacity(f.ts.len() * 48);
        csv.push_str("timestamp,value,anomaly_score,label\n");
        let input = FileInput {
            name: &f.rel,
            timestamps: &f.ts,
            scores: &f.scores,
            windows: &f.windows,
        };
        // NAB's labels: 1 for the rows inside a window.
        let mut labels = vec![0u8; f.ts.len()];
        for (a, b) in nab::window_ranges(&input)? {
            labels[a..=b].fill(1);
        }
        for (i, label) in labels.iter().enumerate() {
            let _ = writeln!(
                csv,
                "{},{},{},{}",
                f.raw_ts[i], f.values[i], f.scores[i], label
            );
        }
        let path = dir.join(format!("{DETECTOR}_{name}"));
        std::fs::write(&path, csv)
            .map_err(EvalError::io(format!("cannot write {}", path.display())))?;
    }
    Ok(())
}

/// NAB's `<detector>_<profile>_scores.csv`, with its Totals row.
fn write_score_table(out: &Path, profile: &str, r: &CorpusScore) -> Result<()> {
    let mut csv = String::from("Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count\n");
    let mut tot = [0usize; 5];
    for f in &r.files {
        let s = &f.at_threshold;
        let total = s.tp + s.tn + s.fp + s.fn_;
        let _ = writeln!(
            csv,
            "{DETECTOR},{profile},{},{},{},{},{},{},{},{}",
            f.name, r.threshold, s.score, s.tp, s.tn, s.fp, s.fn_, total
        );
        for (t, v) in tot.iter_mut().zip([s.tp, s.tn, s.fp, s.fn_, total]) {
            *t += v;
        }
    }
    let _ = writeln!(
        csv,
        "Totals,,,,{},{},{},{},{},{}",
        r.raw, tot[0], tot[1], tot[2], tot[3], tot[4]
    );
    let path = out
        .join(DETECTOR)
        .join(format!("{DETECTOR}_{profile}_scores.csv"));
    std::fs::write(&path, csv).map_err(EvalError::io(format!("cannot write {}", path.display())))
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
