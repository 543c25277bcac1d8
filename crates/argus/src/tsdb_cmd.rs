//! `argus tsdb import`: writes history from an OpenMetrics or Prometheus
//! text file (samples with timestamps) into a store directory, as
//! `promtool tsdb create-blocks-from openmetrics` does. Samples older than
//! the store's head go straight to blocks; the rest go through the WAL like
//! any write. The store is opened directly and takes its lock, so stop the
//! server first (or import into a running server through
//! `POST /api/v1/import/prometheus`, which takes the same history).
//!
//! ```text
//! argus tsdb import history.om --data-dir ./data [--config argus.yml]
//! ```

use anyhow::{bail, Context};
use argus_ingest::text::TextFormat;
use argus_server::config::Config;
use argus_tsdb::{Appender, Db};
use std::path::PathBuf;
use std::sync::Arc;

/// `argus tsdb` subcommands.
#[derive(clap::Subcommand)]
pub enum TsdbCmd {
    /// Import samples with timestamps from an OpenMetrics or Prometheus text file.
    Import(ImportArgs),
}

/// Arguments of `argus tsdb import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// The file: OpenMetrics text (ending in `# EOF`) or Prometheus text,
    /// each sample with its timestamp (a sample without one is stamped now).
    file: PathBuf,
    /// The store's directory (the server must not be running on it).
    #[arg(long, default_value = "./data")]
    data_dir: PathBuf,
    /// The configuration whose `storage:` section the server uses
    /// (retention, block range); default: the server's defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// `openmetrics` or `prometheus`; default: from the file's `# EOF` line.
    #[arg(long)]
    format: Option<String>,
}

/// Runs `argus tsdb …`; returns the process exit code.
pub fn run(cmd: TsdbCmd) -> anyhow::Result<i32> {
    match cmd {
        TsdbCmd::Import(a) => import(a),
    }
}

fn import(args: ImportArgs) -> anyhow::Result<i32> {
    let cfg = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let body =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let format = match args.format.as_deref() {
        Some("openmetrics") => TextFormat::OpenMetrics,
        Some("prometheus") => TextFormat::Prometheus,
        Some(other) => bail!("--format {other:?}: expected openmetrics or prometheus"),
        None if body.trim_ascii_end().ends_with(b"# EOF") => TextFormat::OpenMetrics,
        None => TextFormat::Prometheus,
    };
    let clock = Arc::new(argus_model::SystemClock);
    let db = Db::open(&args.data_dir, cfg.tsdb_options(), clock.clone())
        .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
    let before = db.stats();
    let now = argus_model::Clock::now_ms(&*clock);
    let mut app = db.appender();
    let report = argus_ingest::text::ingest_text(&mut app, &body, now, format);
    let stats = app
        .commit()
        .with_context(|| format!("storing the samples of {}", args.file.display()))?;
    let after = db.stats();
    db.close().context("closing the store")?;
    let to_blocks = after.samples_backfilled_total - before.samples_backfilled_total;
    println!(
        "{}: {} samples stored ({} older than the head, written to blocks), {} new series, {} refused",
        args.file.display(),
        stats.samples,
        to_blocks,
        stats.new_series,
        report.rejected + stats.rejected,
    );
    for e in &report.errors {
        eprintln!("argus: refused: {e}");
    }
    Ok(if report.rejected + stats.rejected > 0 {
        1
    } else {
        0
    })
}
