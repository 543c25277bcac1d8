//! `argus backtest`: replays a dynamic rule over the stored history of every
//! series it selects, as the server would have run it, and prints what
//! would have fired and when. The store is opened directly: it takes the
//! store's lock, so stop the server (or copy the data directory) first.
//!
//! ```text
//! argus backtest --config argus.yml --data-dir ./data --rule ApiTrafficDrop --from 2024-05-01T00:00:00Z
//! ```

use anyhow::{bail, Context};
use argus_dynamic::backtest::backtest_series;
use argus_dynamic::compile_rules;
use argus_server::config::Config;
use argus_tsdb::Querier;
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `argus backtest`.
#[derive(clap::Args)]
pub struct Args {
    /// The configuration file with the `dynamic_rules:` section.
    #[arg(long)]
    config: PathBuf,
    /// The store's directory (the server must not be running on it).
    #[arg(long)]
    data_dir: PathBuf,
    /// The dynamic rule's name.
    #[arg(long)]
    rule: String,
    /// Start of the history (RFC 3339 or Unix seconds). Default: all.
    #[arg(long)]
    from: Option<String>,
    /// End of the history (RFC 3339 or Unix seconds). Default: now.
    #[arg(long)]
    to: Option<String>,
}

/// Parses RFC 3339 or Unix seconds into ms.
pub fn parse_time(s: &str) -> anyhow::Result<i64> {
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() {
            return Ok((secs * 1000.0).round() as i64);
        }
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp_millis())
        .with_context(|| format!("{s:?} is neither RFC 3339 nor Unix seconds"))
}

fn fmt_ms(ms: i64) -> String {
    argus_model::time::format_rfc3339_ms(ms, argus_model::time::Fraction::Omit)
        .unwrap_or_else(|| ms.to_string())
}

/// Runs `argus backtest`; returns the process exit code.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let cfg = Config::load(&args.config)?;
    let rules = compile_rules(&cfg.dynamic_rules)?;
    let Some(rule) = rules.iter().find(|r| r.name == args.rule) else {
        bail!(
            "{} has no dynamic rule named {:?} (it has: {})",
            args.config.display(),
            args.rule,
            rules
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let from = args
        .from
        .as_deref()
        .map(parse_time)
        .transpose()?
        .unwrap_or(0);
    let to = match args.to.as_deref() {
        Some(t) => parse_time(t)?,
        None => chrono::Utc::now().timestamp_millis(),
    };
    if from > to {
        bail!("--from is after --to");
    }
    let db = argus_tsdb::Db::open(
        &args.data_dir,
        cfg.tsdb_options(),
        Arc::new(argus_model::SystemClock),
    )
    .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
    let mut series = Vec::new();
    for set in &rule.sets {
        series.extend(db.select(set, from, to).context("reading the history")?);
    }
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    series.dedup_by(|a, b| a.labels == b.labels);
    series.retain(|s| {
        !s.labels
            .metric_name()
            .is_some_and(|n| n.starts_with("argus_baseline_") || n.starts_with("argus_anomaly_"))
    });
    println!(
        "Rule {} over {} series, {} to {}.",
        rule.name,
        series.len(),
        fmt_ms(from),
        fmt_ms(to)
    );
    println!("start\tend\tmax_level\tvalue\tmodel\tseries");
    let (mut fired, mut samples, mut trainings) = (0usize, 0usize, 0usize);
    for s in &series {
        let ts: Vec<i64> = s.samples.iter().map(|p| p.t).collect();
        let vs: Vec<f64> = s.samples.iter().map(|p| p.v).collect();
        let r = backtest_series(rule, &s.labels, &ts, &vs)
            .map_err(|e| anyhow::anyhow!("{}: {e}", s.labels))?;
        samples += r.samples;
        trainings += r.trainings;
        for e in &r.training_errors {
            eprintln!("training {}: {e}", s.labels);
        }
        for e in &r.episodes {
            fired += 1;
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}",
                fmt_ms(e.start_ms),
                e.end_ms.map_or("firing".to_string(), fmt_ms),
                e.max_level,
                e.value,
                e.model,
                e.series
            );
        }
    }
    println!("{fired} alerts would have fired ({samples} samples scored, {trainings} trainings).");
    drop(db);
    Ok(0)
}
