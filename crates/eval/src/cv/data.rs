//! Loading the cross-validation groups from a data folder holding `nab/`
//! (a NAB directory) and `detect/` (the detection corpus: one folder per
//! dataset with `split.csv` and one CSV per series).
//!
//! ```text
//! DATA/nab/data/<category>/<file>.csv          NAB's four shared categories
//! DATA/nab/labels/combined_windows.json
//! DATA/detect/<group>/split.csv                file,rows,test_start,interval_s,...
//! DATA/detect/<group>/<series>.csv             timestamp,value,label
//!                                              or timestamp,m0,...,mN,label
//! ```
//!
//! A multi-metric file (smd, asd) is one series with a column per metric;
//! its `label` marks the whole row (the server).

use std::path::Path;

use crate::error::read_text;
use crate::nab::run::{parse_timestamp as nab_timestamp, read_series, read_windows, Layout};
use crate::nab::{self, CostMatrix};
use crate::EvalError;

type Result<T, E = EvalError> = std::result::Result<T, E>;

/// The four NAB categories of the corpus, each a group of its own.
pub const NAB_GROUPS: [&str; 4] = [
    "artificialNoAnomaly",
    "artificialWithAnomaly",
    "realAWSCloudwatch",
    "realKnownCause",
];

/// The five datasets of `detect/`, each a group of its own.
pub const DETECT_GROUPS: [&str; 5] = ["tods", "ucr", "mscloud", "smd", "asd"];

/// Every group's name, in the report's order (`nab/<category>`, then the
/// detection datasets).
pub fn all_groups() -> Vec<String> {
    NAB_GROUPS
        .iter()
        .map(|c| format!("nab/{c}"))
        .chain(DETECT_GROUPS.iter().map(|g| (*g).to_string()))
        .collect()
}

/// Resolves `--groups` names (`nab/realKnownCause`, or just
/// `realKnownCause`; `tods`) to full names in the report's order; empty
/// means all nine.
pub fn select_groups(wanted: &[String]) -> Result<Vec<String>> {
    let all = all_groups();
    if wanted.is_empty() {
        return Ok(all);
    }
    for w in wanted {
        let known = all
            .iter()
            .any(|g| g == w || g.strip_prefix("nab/") == Some(w.as_str()));
        if !known {
            return Err(EvalError::Input(format!(
                "unknown group {w:?}; the groups are {}",
                all.join(", ")
            )));
        }
    }
    Ok(all
        .into_iter()
        .filter(|g| {
            wanted
                .iter()
                .any(|w| g == w || g.strip_prefix("nab/") == Some(w.as_str()))
        })
        .collect())
}

/// How a group is scored.
#[derive(Debug, Clone, PartialEq)]
pub enum Scoring {
    /// NAB's scorer over the group's files, under this cost matrix (the
    /// standard profile).
    Nab(CostMatrix),
    /// Best F1 with k-delay point adjustment ([`super::f1`]).
    F1,
}

/// One series: timestamps, one or more metric columns, labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// `group/file.csv`.
    pub name: String,
    /// Timestamps, seconds.
    pub ts: Vec<i64>,
    /// One column of values per metric (one for a univariate series).
    pub columns: Vec<Vec<f64>>,
    /// Row labels (F1 groups; empty for NAB files).
    pub labels: Vec<bool>,
    /// The first scored row (F1 groups).
    pub test_start: usize,
    /// The detection delay in rows: 3 for hourly data, 7 otherwise.
    pub k: usize,
    /// NAB anomaly windows, seconds, inclusive (NAB groups).
    pub windows: Vec<(i64, i64)>,
}

impl Series {
    /// Rows × columns: the samples a detector sees.
    pub fn samples(&self) -> usize {
        self.ts.len() * self.columns.len()
    }
}

/// One cross-validation group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// `nab/<category>` or the dataset's name.
    pub name: String,
    /// How it is scored.
    pub scoring: Scoring,
    /// Its series, in file order.
    pub series: Vec<Series>,
}

/// Loads the named groups (full names, as [`select_groups`] returns them)
/// from `data` (the folder with `nab/` and `detect/`).
pub fn load_groups(data: &Path, names: &[String]) -> Result<Vec<Group>> {
    if !data.is_dir() {
        return Err(EvalError::Input(format!(
            "{}: not a directory (expected the folder holding nab/ and detect/)",
            data.display()
        )));
    }
    names
        .iter()
        .map(|name| match name.strip_prefix("nab/") {
            Some(category) => load_nab(&data.join("nab"), category),
            None => load_detect(&data.join("detect").join(name), name),
        })
        .collect()
}

/// One NAB category, scored under the directory's standard profile.
pub fn load_nab(dir: &Path, category: &str) -> Result<Group> {
    let layout = Layout::locate(dir)?;
    let profiles = nab::parse_profiles(&read_text(&layout.profiles)?)
        .map_err(|e| EvalError::from(e).within(layout.profiles.display().to_string()))?;
    let cost = profiles
        .iter()
        .find(|(n, _)| n == "standard")
        .map(|(_, c)| *c)
        .ok_or_else(|| {
            EvalError::Input(format!(
                "{}: no \"standard\" profile",
                layout.profiles.display()
            ))
        })?;
    let windows = read_windows(&layout.windows)?;
    let mut series = Vec::new();
    for (rel, wins) in windows
        .iter()
        .filter(|(rel, _)| rel.split('/').next() == Some(category))
    {
        let (_, ts, values) = read_series(&dir.join("data").join(rel))?;
        let windows = wins
            .iter()
            .map(|(a, b)| {
                let p = |s: &str| {
                    nab_timestamp(s).map_err(|e| {
                        EvalError::Input(format!(
                            "{}: window of {rel}: bad timestamp {s:?}: {e}",
                            layout.windows.display()
                        ))
                    })
                };
                Ok((p(a)?, p(b)?))
            })
            .collect::<Result<Vec<_>>>()?;
        series.push(Series {
            name: format!("nab/{rel}"),
            labels: Vec::new(),
            test_start: 0,
            k: 0,
            windows,
            ts,
            columns: vec![values],
        });
    }
    if series.is_empty() {
        return Err(EvalError::Input(format!(
            "{}: lists no file of category {category}",
            layout.windows.display()
        )));
    }
    Ok(Group {
        name: format!("nab/{category}"),
        scoring: Scoring::Nab(cost),
        series,
    })
}

/// One row of `split.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Split {
    file: String,
    rows: usize,
    test_start: usize,
    interval_s: u64,
}

/// Reads `split.csv`: the columns `file,rows,test_start,interval_s` by
/// name (others are ignored).
fn read_split(path: &Path) -> Result<Vec<Split>> {
    let text = read_text(path)?;
    let bad =
        |line: usize, msg: String| EvalError::Input(format!("{}:{line}: {msg}", path.display()));
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(EvalError::Input(format!("{}: empty file", path.display())));
    };
    let cols: Vec<&str> = header
        .trim_start_matches('\u{feff}')
        .split(',')
        .map(str::trim)
        .collect();
    let col = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .ok_or_else(|| bad(1, format!("header lacks the {name} column")))
    };
    let (fi, ri, ti, ii) = (
        col("file")?,
        col("rows")?,
        col("test_start")?,
        col("interval_s")?,
    );
    let mut out = Vec::new();
    for (i, line) in lines {
        let n = i + 1;
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != cols.len() {
            return Err(bad(
                n,
                format!("expected {} fields, found {}", cols.len(), f.len()),
            ));
        }
        let num = |j: usize, what: &str| -> Result<u64> {
            f[j].parse()
                .map_err(|_| bad(n, format!("{what} {:?} is not a whole number", f[j])))
        };
        out.push(Split {
            file: f[fi].to_string(),
            rows: num(ri, "rows")? as usize,
            test_start: num(ti, "test_start")? as usize,
            interval_s: num(ii, "interval_s")?,
        });
    }
    if out.is_empty() {
        return Err(EvalError::Input(format!(
            "{}: lists no series",
            path.display()
        )));
    }
    Ok(out)
}

/// One detection dataset: every series `split.csv` lists.
pub fn load_detect(dir: &Path, name: &str) -> Result<Group> {
    let split_path = dir.join("split.csv");
    if !dir.is_dir() {
        return Err(EvalError::Input(format!(
            "{}: missing dataset folder for group {name}",
            dir.display()
        )));
    }
    let mut series = Vec::new();
    for s in read_split(&split_path)? {
        let path = dir.join(&s.file);
        let (ts, columns, labels) = read_labelled(&path)?;
        if ts.len() != s.rows {
            return Err(EvalError::Input(format!(
                "{}: {} data rows, but {} says {}",
                path.display(),
                ts.len(),
                split_path.display(),
                s.rows
            )));
        }
        if s.test_start > s.rows {
            return Err(EvalError::Input(format!(
                "{}: {}: test_start {} is past its {} rows",
                split_path.display(),
                s.file,
                s.test_start,
                s.rows
            )));
        }
        series.push(Series {
            name: format!("{name}/{}", s.file),
            ts,
            columns,
            labels,
            test_start: s.test_start,
            k: if s.interval_s >= 3600 { 3 } else { 7 },
            windows: Vec::new(),
        });
    }
    Ok(Group {
        name: name.to_string(),
        scoring: Scoring::F1,
        series,
    })
}

type Labelled = (Vec<i64>, Vec<Vec<f64>>, Vec<bool>);

/// Reads `timestamp,<metric>...,label` (one or more metric columns);
/// timestamps in seconds. Errors name the file and line.
pub fn read_labelled(path: &Path) -> Result<Labelled> {
    let text = read_text(path)?;
    parse_labelled(&text, &path.display().to_string())
}

/// [`read_labelled`] over text; `name` is used in errors.
pub fn parse_labelled(text: &str, name: &str) -> Result<Labelled> {
    let bad = |line: usize, msg: String| EvalError::Input(format!("{name}:{line}: {msg}"));
    let mut lines = text.lines().enumerate();
    let header = lines
        .next()
        .map(|(_, l)| l.trim().trim_start_matches('\u{feff}'))
        .ok_or_else(|| EvalError::Input(format!("{name}: empty file")))?;
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    if cols.len() < 3 || cols[0] != "timestamp" || cols[cols.len() - 1] != "label" {
        return Err(bad(
            1,
            format!("header must be timestamp,<metric>...,label, got {header:?}"),
        ));
    }
    let metrics = cols.len() - 2;
    let mut ts = Vec::new();
    let mut columns = vec![Vec::new(); metrics];
    let mut labels = Vec::new();
    for (i, line) in lines {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != cols.len() {
            return Err(bad(
                n,
                format!("expected {} fields, found {}", cols.len(), f.len()),
            ));
        }
        let ms = crate::csv::parse_timestamp(f[0]).map_err(|e| bad(n, e.to_string()))?;
        let t = ms.div_euclid(1000);
        if ts.last().is_some_and(|&prev| t <= prev) {
            return Err(bad(n, format!("timestamp {:?} does not increase", f[0])));
        }
        ts.push(t);
        for (j, col) in columns.iter_mut().enumerate() {
            let v = f[j + 1];
            let x: f64 = v
                .parse()
                .ok()
                .filter(|x: &f64| x.is_finite())
                .ok_or_else(|| bad(n, format!("{} {v:?} is not a finite number", cols[j + 1])))?;
            col.push(x);
        }
        let l = f[cols.len() - 1];
        labels.push(match l {
            "0" => false,
            "1" => true,
            _ => return Err(bad(n, format!("label {l:?} is not 0 or 1"))),
        });
    }
    if ts.is_empty() {
        return Err(EvalError::Input(format!("{name}: no data rows")));
    }
    Ok((ts, columns, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_parse_and_errors_name_the_line() {
        let (ts, cols, labels) = parse_labelled(
            "timestamp,m0,m1,label\n2024-01-01 00:00:00,1,2,0\n2024-01-01 00:01:00,3,4.5,1\n",
            "x.csv",
        )
        .unwrap();
        assert_eq!(ts, vec![1_704_067_200, 1_704_067_260]);
        assert_eq!(cols, vec![vec![1.0, 3.0], vec![2.0, 4.5]]);
        assert_eq!(labels, vec![false, true]);
        for (text, want) in [
            ("time,value,label\n", "x.csv:1: header"),
            (
                "timestamp,value,label\n2024-01-01 00:00:00,1\n",
                "x.csv:2: expected 3 fields",
            ),
            (
                "timestamp,value,label\n2024-01-01 00:00:00,abc,0\n",
                "x.csv:2: value \"abc\"",
            ),
            (
                "timestamp,value,label\n2024-01-01 00:00:00,1,2\n",
                "x.csv:2: label \"2\"",
            ),
            ("timestamp,value,label\nsoon,1,0\n", "x.csv:2: "),
            (
                "timestamp,value,label\n2024-01-01 00:01:00,1,0\n2024-01-01 00:00:00,1,0\n",
                "x.csv:3: timestamp",
            ),
            ("timestamp,value,label\n", "x.csv: no data rows"),
        ] {
            let e = parse_labelled(text, "x.csv").unwrap_err().to_string();
            assert!(e.contains(want), "{e} lacks {want}");
        }
    }

    #[test]
    fn groups_are_selected_by_name() {
        assert_eq!(select_groups(&[]).unwrap().len(), 9);
        let g = select_groups(&["smd".into(), "realKnownCause".into()]).unwrap();
        assert_eq!(g, vec!["nab/realKnownCause".to_string(), "smd".to_string()]);
        let e = select_groups(&["yahoo".into()]).unwrap_err().to_string();
        assert!(e.contains("unknown group \"yahoo\""), "{e}");
    }
}
