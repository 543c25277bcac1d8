//! `argus eval nab|csv|cv|incidents|storm|storms`: Argus's own detectors
//! and alert grouping over a user's labelled files (as `promtool test` runs
//! rules over test files). This module holds the flags; the runs are
//! `argus_eval::nab::run`, `argus_eval::csv::run`, `argus_eval::cv::run`,
//! `argus_eval::incidents::{run_incidents, run_storms}` and
//! `argus_eval::storm::generate`.
//!
//! ```text
//! argus eval nab --data ../shared/data/nab --out /tmp/nab-results
//! argus eval nab --data DIR --out OUT --config variant.json --categories realKnownCause
//! argus eval csv --input cpu.csv --kind resource --period day --out scored.csv
//! argus eval cv --data ../shared/data --json cv.json
//! argus eval storm --seed N --preset medium --out /tmp/storm
//! argus eval incidents --alerts /tmp/storm/ALERTS.jsonl --graph /tmp/storm/GRAPH.csv \
//!     --out incidents.jsonl --truth /tmp/storm/TRUTH.jsonl
//! argus eval storms --seeds A-B --preset medium --json storms.json
//! ```
//!
//! The default NAB configuration is the production scorer's; a `--config`
//! file selects a variant, e.g. the contextual detector alone with 64 levels:
//! `{"context_add": 0, "context_weight": 6, "point_weight": 0,
//! "likelihood_weight": 0, "context": {"levels": 64}}`.

use std::path::PathBuf;

/// Arguments of `argus eval nab`.
#[derive(clap::Args)]
pub struct NabArgs {
    /// NAB directory with `data/` and `labels/` (profiles in `labels/` or,
    /// as in an upstream NAB checkout, `config/`).
    #[arg(long)]
    data: PathBuf,
    /// Output directory for the results (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Optional JSON file with a scorer configuration (keys of
    /// `AnomalyConfig`; missing keys take their defaults). Applies to every file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Only these categories (comma-separated), e.g. `realKnownCause`.
    #[arg(long, value_delimiter = ',')]
    categories: Vec<String>,
    /// Use this threshold for every profile instead of optimising it (for
    /// held-out evaluation: a threshold chosen on another split).
    #[arg(long)]
    threshold: Option<f64>,
    /// Give the scorer each file's min and max as its input range, as NAB
    /// does for every detector (`inputMin`/`inputMax`); the default.
    #[arg(long, overrides_with = "no_input_range")]
    nab_input_range: bool,
    /// Score without the file's range: the scorer fixes its discretisation
    /// online, as in production.
    #[arg(long, overrides_with = "nab_input_range")]
    no_input_range: bool,
    /// Per-file score tables of published detectors, in NAB's
    /// `<detector>_<profile>_scores.csv` format (e.g.
    /// `bench/nab/published_scores.csv`): prints their scores on the files
    /// of this run beside ours. Repeatable.
    #[arg(long)]
    peers: Vec<PathBuf>,
}

/// Runs `argus eval nab`; returns the process exit code.
pub fn nab(a: NabArgs) -> anyhow::Result<i32> {
    let opts = argus_eval::nab::NabOptions {
        data: a.data,
        out: a.out,
        config: a.config,
        categories: a.categories,
        threshold: a.threshold,
        input_range: !a.no_input_range,
        peers: a.peers,
    };
    argus_eval::nab::run(&opts, &mut std::io::stdout().lock())?;
    Ok(0)
}

/// Arguments of `argus eval csv`.
#[derive(clap::Args)]
pub struct CsvArgs {
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
pub fn csv(a: CsvArgs) -> anyhow::Result<i32> {
    let opts = argus_eval::csv::CsvOptions {
        input: a.input,
        kind: a.kind,
        period: a.period,
        algorithm: a.algorithm,
        min_points: a.min_points,
        out: a.out,
    };
    argus_eval::csv::run(&opts, &mut std::io::stdout().lock())?;
    Ok(0)
}

/// Arguments of `argus eval cv`.
#[derive(clap::Args)]
pub struct CvArgs {
    /// The folder holding `nab/` (a NAB directory) and `detect/` (the
    /// detection datasets, each with `split.csv`).
    #[arg(long)]
    data: PathBuf,
    /// Only these groups (comma-separated): `nab/<category>` (or just the
    /// category), tods, ucr, mscloud, smd, asd. Default: all nine.
    #[arg(long, value_delimiter = ',')]
    groups: Vec<String>,
    /// Candidates: `full` (the fixed grid, defaults first) or
    /// `default-only` (the current defaults alone).
    #[arg(long, default_value = "full")]
    grid: String,
    /// Worker threads; 0: one per core.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Also write the whole result (every candidate's score on every
    /// group, the folds) as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Runs `argus eval cv`: the table on stdout, progress on stderr.
pub fn cv(a: CvArgs) -> anyhow::Result<i32> {
    let opts = argus_eval::cv::CvOptions {
        data: a.data,
        groups: a.groups,
        grid: a.grid.parse()?,
        threads: a.threads,
        json: a.json,
    };
    argus_eval::cv::run(
        &opts,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )?;
    Ok(0)
}

/// Arguments of `argus eval incidents`.
#[derive(clap::Args)]
pub struct IncidentsArgs {
    /// The alert file: one `{"at", "status", "labels", "annotations"}` JSON
    /// object a line, in time order.
    #[arg(long)]
    alerts: PathBuf,
    /// The call graph, a `caller,callee` CSV.
    #[arg(long)]
    graph: Option<PathBuf>,
    /// Where the incidents go, one JSON object a line.
    #[arg(long)]
    out: PathBuf,
    /// The truth file (one `{"line", "group", "root", "kind"}` a line): with
    /// it, prints Argus beside two simple baselines.
    #[arg(long)]
    truth: Option<PathBuf>,
}

/// Runs `argus eval incidents`; returns the process exit code.
pub fn incidents(a: IncidentsArgs) -> anyhow::Result<i32> {
    let opts = argus_eval::incidents::IncidentsOptions {
        alerts: a.alerts,
        graph: a.graph,
        out: a.out,
        truth: a.truth,
    };
    argus_eval::incidents::run_incidents(&opts, &mut std::io::stdout().lock())?;
    Ok(0)
}

/// Arguments of `argus eval storm`.
#[derive(clap::Args)]
pub struct StormArgs {
    /// The storm follows from it.
    #[arg(long)]
    seed: u64,
    /// Size: small, medium or large (about 10 000 alert lines).
    #[arg(long, default_value = "medium")]
    preset: String,
    /// Directory for ALERTS.jsonl, GRAPH.csv and TRUTH.jsonl (created if missing).
    #[arg(long)]
    out: PathBuf,
}

/// Runs `argus eval storm`; returns the process exit code.
pub fn storm(a: StormArgs) -> anyhow::Result<i32> {
    let preset: argus_eval::storm::Preset = a.preset.parse()?;
    let storm = argus_eval::storm::generate(&preset.config(a.seed));
    storm.write(&a.out)?;
    println!(
        "{} alert lines in {}",
        storm.truth.len(),
        a.out.join("ALERTS.jsonl").display()
    );
    Ok(0)
}

/// Arguments of `argus eval storms`.
#[derive(clap::Args)]
pub struct StormsArgs {
    /// Seeds, one storm each: a range `A-B`, a list `A,B,C` or a mix.
    #[arg(long)]
    seeds: String,
    /// Size: small, medium or large.
    #[arg(long, default_value = "medium")]
    preset: String,
    /// Also write every storm's scores and the means as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Runs `argus eval storms`: the averaged table on stdout.
pub fn storms(a: StormsArgs) -> anyhow::Result<i32> {
    let opts = argus_eval::incidents::StormsOptions {
        seeds: argus_eval::incidents::parse_seeds(&a.seeds)?,
        preset: a.preset.parse()?,
        json: a.json,
    };
    argus_eval::incidents::run_storms(&opts, &mut std::io::stdout().lock())?;
    Ok(0)
}

/// Arguments of `argus eval lab-storm`.
#[derive(clap::Args)]
pub struct LabStormArgs {
    /// The work directory of an `argus-lab failures --work-dir DIR` run
    /// (its `failures.json` and `notices.json`).
    #[arg(long)]
    lab: PathBuf,
    /// Directory for ALERTS.jsonl, GRAPH.csv and TRUTH.jsonl (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// How far before a failure's injection a notice's start may be and
    /// still belong to it, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    tolerance_ms: i64,
}

/// Runs `argus eval lab-storm`; returns the process exit code.
pub fn lab_storm(a: LabStormArgs) -> anyhow::Result<i32> {
    use argus_eval::incidents::lab;
    let (failures, notices) = lab::read_dir(&a.lab)?;
    let r = lab::record(&failures, &notices, a.tolerance_ms);
    r.write(&a.out)?;
    println!(
        "{} alert lines from {} failures in {}",
        r.truth.len(),
        failures.len(),
        a.out.join("ALERTS.jsonl").display()
    );
    Ok(0)
}

/// Arguments of `argus eval logparse`.
#[derive(clap::Args)]
pub struct LogparseArgs {
    /// The log file (LF or CRLF line endings).
    #[arg(long)]
    input: PathBuf,
    /// The header format, e.g. `<Date> <Time> <Level> <Component>: <Content>`:
    /// `<Name>` fields, the text between them a regular-expression fragment,
    /// `<Content>` (the message) last.
    #[arg(long)]
    format: String,
    /// The CSV to write: `LineId,EventTemplate`, one row per input line.
    #[arg(long)]
    out: PathBuf,
    /// A labelled CSV (`LineId` and `EventTemplate` columns) to score against:
    /// prints GA, FGA, PA, FTA and lines per second.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Assign templates line by line, as the server does for arriving logs,
    /// instead of mining the whole file at once.
    #[arg(long)]
    online: bool,
}

/// Runs `argus eval logparse`; returns the process exit code.
pub fn logparse(a: LogparseArgs) -> anyhow::Result<i32> {
    let opts = argus_eval::logparse::LogparseOptions {
        input: a.input,
        format: a.format,
        out: a.out,
        truth: a.truth,
        online: a.online,
    };
    argus_eval::logparse::run_logparse(&opts, &mut std::io::stdout().lock())?;
    Ok(0)
}

/// Arguments of `argus eval logstore`.
#[derive(clap::Args)]
pub struct LogstoreArgs {
    /// A directory of `*.log` files (one system each; one level of
    /// sub-directories is searched too), such as the Loghub samples.
    #[arg(long)]
    dir: PathBuf,
    /// Lines in the replayed day searched for the query timings.
    #[arg(long, default_value_t = 1_000_000)]
    lines_per_day: usize,
}

/// Runs `argus eval logstore`: bytes per line on disk beside gzip and zstd,
/// and the time of a day's searches.
pub fn logstore(a: LogstoreArgs) -> anyhow::Result<i32> {
    let opts = argus_eval::logstore::LogstoreOptions {
        dir: a.dir,
        lines_per_day: a.lines_per_day,
    };
    argus_eval::logstore::run_logstore(&opts, &mut std::io::stdout().lock())?;
    Ok(0)
}

/// Arguments of `argus eval rca`.
#[derive(clap::Args)]
pub struct RcaArgs {
    /// A folder of cases: one `<case>.csv` (or `.csv.gz`) each, a header
    /// line with the columns `real` and `predict` and any dimension columns,
    /// in any order, one row per leaf.
    #[arg(long)]
    input: PathBuf,
    /// Where the answers go: one `case,root_cause` line per case.
    #[arg(long)]
    out: PathBuf,
    /// The answers (`timestamp,set` columns) to score against; by default
    /// `injection_info.csv` in the input folder, when there is one.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Scales the penalty each element pays: higher finds fewer, surer
    /// elements.
    #[arg(long, default_value_t = argus_rca::md::Settings::default().penalty)]
    penalty: f64,
}

/// Runs `argus eval rca`.
pub fn rca(a: RcaArgs) -> anyhow::Result<i32> {
    let opts = argus_eval::rca::RcaOptions {
        input: a.input,
        out: a.out,
        truth: a.truth,
        settings: argus_rca::md::Settings {
            penalty: a.penalty,
            ..argus_rca::md::Settings::default()
        },
    };
    argus_eval::rca::run(&opts, &mut std::io::stdout().lock())?;
    Ok(0)
}
