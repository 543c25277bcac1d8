//! `argus eval csv`: streams the dynamic-threshold detector over one
//! `timestamp,value[,label]` CSV, training as the live path would once
//! enough points have arrived, and writes
//! `timestamp,value,anomaly_score,level,expected,lower,upper`. With labels it
//! prints point-wise and per-event precision, recall and F1 (an alert is
//! level ≥ 1). The computation lives in `argus_detect::evalcsv`.
//!
//! ```text
//! argus eval csv --input cpu.csv --kind resource --period day --out scored.csv
//! ```

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use argus_detect::evalcsv::{parse_row, prf, Header, StreamEval};
use argus_detect::spec::RuleSpec;

/// Arguments of `argus eval csv`.
#[derive(clap::Args)]
pub struct Args {
    /// Input CSV with a `timestamp,value[,label]` header.
    #[arg(long)]
    input: PathBuf,
    /// Rule kind: business_volume, error_count, latency, saturation, resource.
    #[arg(long, default_value = "resource")]
    kind: String,
    /// Period: auto, none, day, week, month.
    #[arg(long, default_value = "auto")]
    period: String,
    /// Algorithm: auto, ma, kde, data_cluster, holt_winters.
    #[arg(long, default_value = "auto")]
    algorithm: String,
    /// Points before the first training (and between retrainings).
    #[arg(long, default_value_t = 10_080)]
    min_points: usize,
    /// Output CSV.
    #[arg(long)]
    out: PathBuf,
}

/// Runs `argus eval csv`; returns the process exit code.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let spec = RuleSpec {
        kind: args.kind.parse()?,
        period: args.period.parse()?,
        algorithm: args.algorithm.parse()?,
        min_points: args.min_points,
        ..Default::default()
    };
    let path = args.input.display().to_string();
    let mut eval = StreamEval::new(spec).context("invalid detection settings")?;
    let input = File::open(&args.input).with_context(|| format!("opening {path}"))?;
    let out =
        File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut out = BufWriter::new(out);
    writeln!(
        out,
        "timestamp,value,anomaly_score,level,expected,lower,upper"
    )?;
    let mut header: Option<Header> = None;
    let mut labels = Vec::new();
    let mut predicted = Vec::new();
    let mut rows = 0usize;
    for (i, line) in BufReader::new(input).lines().enumerate() {
        let line_no = i + 1;
        let line = line.with_context(|| format!("{path}:{line_no}: read failed"))?;
        if line.trim().is_empty() {
            continue;
        }
        let Some(h) = header else {
            header = Some(Header::parse(&line, line_no).with_context(|| path.clone())?);
            continue;
        };
        let row = parse_row(&line, line_no, h).with_context(|| path.clone())?;
        rows += 1;
        let v = eval
            .push(row.ts_ms, row.value)
            .with_context(|| format!("{path}:{line_no}"))?;
        writeln!(
            out,
            "{},{},{},{},{},{},{}",
            row.ts_ms, row.value, v.score, v.level, v.expected, v.lower, v.upper
        )?;
        if let Some(l) = row.label {
            labels.push(l);
            predicted.push(v.level > 0);
        }
    }
    out.flush()?;
    if header.is_none() {
        anyhow::bail!("{path}: empty file, expected a timestamp,value[,label] header");
    }
    println!(
        "scored {} points; {} trainings, {} models installed; wrote {}",
        rows,
        eval.trainings,
        eval.replacements,
        args.out.display()
    );
    if !labels.is_empty() {
        let s = prf(&labels, &predicted);
        println!(
            "point-wise: precision {:.3} recall {:.3} F1 {:.3}",
            s.point.precision, s.point.recall, s.point.f1
        );
        println!(
            "per event:  precision {:.3} recall {:.3} F1 {:.3}",
            s.event.precision, s.event.recall, s.event.f1
        );
    }
    Ok(0)
}
