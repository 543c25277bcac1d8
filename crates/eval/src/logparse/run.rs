//! Running the miner over files: the `argus eval logparse` command and the
//! table over a directory of labelled systems.

use super::{score, Scores};
use crate::EvalError;
use argus_logs::format::Format;
use argus_logs::miner::mine;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `argus eval logparse` was asked.
#[derive(Debug, Clone)]
pub struct LogparseOptions {
    /// The log file.
    pub input: PathBuf,
    /// Its header format.
    pub format: String,
    /// Where the `LineId,EventTemplate` CSV goes.
    pub out: PathBuf,
    /// A labelled `*_structured*.csv` to score against.
    pub truth: Option<PathBuf>,
    /// Assign templates line by line as a running server does
    /// ([`argus_logs::online`]) instead of mining the whole file.
    pub online: bool,
}

fn read(path: &Path) -> Result<String, EvalError> {
    let bytes =
        std::fs::read(path).map_err(EvalError::io(format!("cannot read {}", path.display())))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The lines of a log file: LF or CRLF, with or without a last newline.
fn lines(text: &str) -> Vec<&str> {
    let mut v: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    if text.ends_with('\n') {
        v.pop();
    }
    v
}

/// The template of every line of `text` under `format`.
pub fn templates(text: &str, format: &Format) -> Vec<String> {
    let contents: Vec<&str> = lines(text).into_iter().map(|l| format.content(l)).collect();
    mine(&contents)
}

/// The template of every line as the online miner assigns them one by one;
/// each line carries its template's final text.
pub fn templates_online(text: &str, format: &Format) -> Vec<String> {
    let mut m = argus_logs::online::OnlineMiner::new();
    let ids: Vec<_> = lines(text)
        .into_iter()
        .map(|l| m.assign(format.content(l)).id)
        .collect();
    ids.into_iter()
        .map(|id| m.template(id).unwrap_or_default().to_string())
        .collect()
}

/// The `EventTemplate` column of a labelled CSV, in `LineId` order.
pub fn read_truth(path: &Path) -> Result<Vec<String>, EvalError> {
    let text = read(path)?;
    let bad = |m: String| EvalError::Input(format!("{}: {m}", path.display()));
    let mut r = ::csv::Reader::from_reader(text.as_bytes());
    let headers = r.headers().map_err(|e| bad(e.to_string()))?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(id), Some(tmpl)) = (col("LineId"), col("EventTemplate")) else {
        return Err(bad("needs the columns LineId and EventTemplate".into()));
    };
    let mut rows: Vec<(usize, String)> = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| bad(format!("row {}: {e}", i + 2)))?;
        let line: usize = rec
            .get(id)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad(format!("row {}: LineId is not a number", i + 2)))?;
        rows.push((line, rec.get(tmpl).unwrap_or("").to_string()));
    }
    rows.sort_by_key(|r| r.0);
    Ok(rows.into_iter().map(|r| r.1).collect())
}

fn write_csv(path: &Path, templates: &[String]) -> Result<(), EvalError> {
    let io = || EvalError::io(format!("cannot write {}", path.display()));
    let mut w = ::csv::Writer::from_path(path)
        .map_err(|e| EvalError::Input(format!("{}: {e}", path.display())))?;
    let enc = |e: ::csv::Error| EvalError::Input(format!("{}: {e}", path.display()));
    w.write_record(["LineId", "EventTemplate"]).map_err(enc)?;
    for (i, t) in templates.iter().enumerate() {
        w.write_record([(i + 1).to_string().as_str(), t.as_str()])
            .map_err(enc)?;
    }
    w.flush().map_err(io())
}

/// Runs `argus eval logparse`: writes the CSV, and with a truth file prints
/// the scores to `report`.
pub fn run_logparse(opts: &LogparseOptions, report: &mut dyn Write) -> Result<(), EvalError> {
    let format = Format::parse(&opts.format).map_err(|e| EvalError::Input(e.to_string()))?;
    let text = read(&opts.input)?;
    let t0 = std::time::Instant::now();
    let out = if opts.online {
        templates_online(&text, &format)
    } else {
        templates(&text, &format)
    };
    let secs = t0.elapsed().as_secs_f64();
    write_csv(&opts.out, &out)?;
    if let Some(tp) = &opts.truth {
        let truth = read_truth(tp)?;
        let s = score(&truth, &out);
        writeln!(
            report,
            "lines {}  GA {:.3}  FGA {:.3}  PA {:.3}  FTA {:.3}  {:.0} lines/s",
            out.len(),
            s.ga,
            s.fga,
            s.pa,
            s.fta,
            out.len() as f64 / secs.max(1e-9)
        )
        .map_err(EvalError::io("cannot write the report"))?;
    }
    Ok(())
}

/// One system of the table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchRow {
    /// The system's folder name.
    pub system: String,
    /// Its lines.
    pub lines: usize,
    /// The scores.
    pub scores: Scores,
    /// Lines mined per second (wall clock).
    pub lines_per_s: f64,
}

/// Every system of a Loghub-style directory whose formats are in its
/// `FORMAT.md` table (`| system | lines | templates | \`format\` |`), scored
/// against `SYSTEM_2k.log_structured_corrected.csv`.
pub fn bench(dir: &Path) -> Result<Vec<BenchRow>, EvalError> {
    let doc = read(&dir.join("FORMAT.md"))?;
    let mut rows = Vec::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split(" | ").collect();
        if cells.len() < 4 || !line.starts_with("| ") {
            continue;
        }
        let system = cells[0].trim_start_matches("| ").trim();
        let fmt = cells[3].trim_end_matches(" |").trim();
        let Some(fmt) = fmt.strip_prefix('`').and_then(|f| f.strip_suffix('`')) else {
            continue;
        };
        let log = dir.join(system).join(format!("{system}_2k.log"));
        if !log.exists() {
            continue;
        }
        let format = Format::parse(fmt).map_err(|e| EvalError::Input(format!("{system}: {e}")))?;
        let text = read(&log)?;
        let t0 = std::time::Instant::now();
        let ours = templates(&text, &format);
        let secs = t0.elapsed().as_secs_f64();
        let truth = read_truth(
            &dir.join(system)
                .join(format!("{system}_2k.log_structured_corrected.csv")),
        )?;
        rows.push(BenchRow {
            system: system.to_string(),
            lines: ours.len(),
            scores: score(&truth, &ours),
            lines_per_s: ours.len() as f64 / secs.max(1e-9),
        });
    }
    Ok(rows)
}
