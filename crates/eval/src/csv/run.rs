//! `argus eval csv` for one file: streams the dynamic-threshold detector
//! over a `timestamp,value[,label]` CSV, training as the live path would
//! once enough points have arrived, and writes
//! `timestamp,value,anomaly_score,level,expected,lower,upper`. With labels it
//! reports point-wise and per-event precision, recall and F1 (an alert is
//! level ≥ 1).
//!
//! ```text
//! argus eval csv --input cpu.csv --kind resource --period day --out scored.csv
//! ```

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use argus_detect::spec::RuleSpec;

use super::{parse_row, prf, Header, StreamEval};
use crate::EvalError;

/// What `argus eval csv` runs on (the command line's flags).
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// Input CSV with a `timestamp,value[,label]` header.
    pub input: PathBuf,
    /// Rule kind: business_volume, error_count, latency, saturation, resource.
    pub kind: String,
    /// Period: auto, none, day, week, month.
    pub period: String,
    /// Algorithm: auto, ma, kde, data_cluster, holt_winters.
    pub algorithm: String,
    /// Points before the first training (and between retrainings).
    pub min_points: usize,
    /// Output CSV.
    pub out: PathBuf,
}

/// Runs `argus eval csv`: writes the scored CSV to `opts.out` and a summary
/// (points, trainings and, with labels, the scores) to `report`.
pub fn run(opts: &CsvOptions, report: &mut dyn Write) -> Result<(), EvalError> {
    let spec = RuleSpec {
        kind: opts.kind.parse()?,
        period: opts.period.parse()?,
        algorithm: opts.algorithm.parse()?,
        min_points: opts.min_points,
        ..Default::default()
    };
    let path = opts.input.display().to_string();
    let out_path = opts.out.display().to_string();
    let mut eval = StreamEval::new(spec)
        .map_err(|e| EvalError::from(e).within("invalid detection settings"))?;
    let input = File::open(&opts.input).map_err(EvalError::io(format!("opening {path}")))?;
    let out = File::create(&opts.out).map_err(EvalError::io(format!("creating {out_path}")))?;
    let write_err = || EvalError::io(format!("cannot write {out_path}"));
    let mut out = BufWriter::new(out);
    writeln!(
        out,
        "timestamp,value,anomaly_score,level,expected,lower,upper"
    )
    .map_err(write_err())?;
    let mut header: Option<Header> = None;
    let mut labels = Vec::new();
    let mut predicted = Vec::new();
    let mut rows = 0usize;
    for (i, line) in BufReader::new(input).lines().enumerate() {
        let line_no = i + 1;
        let line = line.map_err(EvalError::io(format!("{path}:{line_no}: read failed")))?;
        if line.trim().is_empty() {
            continue;
        }
        let Some(h) = header else {
            header =
                Some(Header::parse(&line, line_no).map_err(|e| EvalError::from(e).within(&path))?);
            continue;
        };
        let row = parse_row(&line, line_no, h).map_err(|e| EvalError::from(e).within(&path))?;
        rows += 1;
        let v = eval
            .push(row.ts_ms, row.value)
            .map_err(|e| EvalError::from(e).within(format!("{path}:{line_no}")))?;
        writeln!(
            out,
            "{},{},{},{},{},{},{}",
            row.ts_ms, row.value, v.score, v.level, v.expected, v.lower, v.upper
        )
        .map_err(write_err())?;
        if let Some(l) = row.label {
            labels.push(l);
            predicted.push(v.level > 0);
        }
    }
    out.flush().map_err(write_err())?;
    if header.is_none() {
        return Err(EvalError::Input(format!(
            "{path}: empty file, expected a timestamp,value[,label] header"
        )));
    }
    let mut summary = format!(
        "scored {} points; {} trainings, {} models installed; wrote {}\n",
        rows, eval.trainings, eval.replacements, out_path
    );
    if !labels.is_empty() {
        let s = prf(&labels, &predicted);
        summary.push_str(&format!(
            "point-wise: precision {:.3} recall {:.3} F1 {:.3}\n",
            s.point.precision, s.point.recall, s.point.f1
        ));
        summary.push_str(&format!(
            "per event:  precision {:.3} recall {:.3} F1 {:.3}\n",
            s.event.precision, s.event.recall, s.event.f1
        ));
    }
    report
        .write_all(summary.as_bytes())
        .and_then(|()| report.flush())
        .map_err(EvalError::io("cannot write the report"))
}
