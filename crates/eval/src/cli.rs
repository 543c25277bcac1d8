//! The `argus eval` command line: one subcommand a run, each a set of
//! flags turned into the options of the module that does the work
//! ([`crate::nab::run`], [`crate::csv::run`], [`crate::cv::run`],
//! [`crate::incidents::run_incidents`], [`crate::incidents::run_storms`],
//! [`crate::storm::generate`], [`crate::logparse::run_logparse`],
//! [`crate::logstore::run_logstore`], [`crate::rca::run`] and
//! [`crate::rca_topology::batch`]). The `argus` binary mounts [`EvalCmd`]
//! under `argus eval` and calls [`run`]; results go to standard output,
//! progress to standard error.
//!
//! ```text
//! argus eval nab --data ../shared/data/nab --out /tmp/nab-results
//! argus eval nab --data DIR --out OUT --config variant.json --categories realKnownCause
//! argus eval csv --input cpu.csv --kind resource --period day --out scored.csv
//! argus eval cv --data ../shared/data --json cv.json
//! argus eval storm --seed N --preset medium --out /tmp/storm
//! argus eval incidents --alerts /tmp/storm/ALERTS.jsonl --graph /tmp/storm/GRAPH.csv \
//!     --placement /tmp/storm/PLACEMENT.csv --out incidents.jsonl --truth /tmp/storm/TRUTH.jsonl
//! argus eval storms --seeds A-B --preset medium --json storms.json
//! argus eval rca-topology --cases DIR --labels labels.csv
//! ```
//!
//! ```
//! use argus_eval::cli::EvalCmd;
//! use clap::Parser;
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(subcommand)]
//!     eval: EvalCmd,
//! }
//! let cli = Cli::try_parse_from(["eval", "storm", "--seed", "7", "--out", "/tmp/s"]).unwrap();
//! assert!(matches!(cli.eval, EvalCmd::Storm(_)));
//! ```
//!
//! The default NAB configuration is the production scorer's; a `--config`
//! file selects a variant, e.g. the contextual detector alone with 64 levels:
//! `{"context_add": 0, "context_weight": 6, "point_weight": 0,
//! "likelihood_weight": 0, "context": {"levels": 64}}`.

use crate::rca_topology::{batch, load_case, settings, write_ranking, TopologyEvalError};
use crate::EvalError;
use argus_rca::topology;
use std::path::PathBuf;

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file, a setting or a detector refused the run.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// A topology case, its labels or the ranking's settings were refused.
    #[error(transparent)]
    Topology(#[from] TopologyEvalError),
    /// The ranking refused a case.
    #[error(transparent)]
    Rank(#[from] topology::TopologyError),
    /// The flags given do not make a run.
    #[error("{0}")]
    Usage(&'static str),
}

/// The subcommands of `argus eval`.
#[derive(clap::Subcommand)]
pub enum EvalCmd {
    /// Score the detector on the Numenta Anomaly Benchmark (NAB layout).
    Nab(NabArgs),
    /// Run the dynamic-threshold detector over one `timestamp,value[,label]` CSV.
    Csv(CsvArgs),
    /// Cross-validate the anomaly scorer's settings, leaving one dataset out at a time.
    Cv(CvArgs),
    /// Group an alert file into incidents; with a truth file, score Argus beside two baselines.
    Incidents(IncidentsArgs),
    /// Write a synthetic alert storm with its call graph, placement and ground truth.
    Storm(StormArgs),
    /// Generate and score many storms; print the means, Argus beside two baselines.
    Storms(StormsArgs),
    /// Turn a recorded run of `argus-lab failures` into an alert file and its truth.
    LabStorm(LabStormArgs),
    /// Mine the templates of a log file: `LineId,EventTemplate`, `<*>` for values.
    Logparse(LogparseArgs),
    /// Measure the log store: bytes per line beside gzip and zstd, and a day's searches.
    Logstore(LogstoreArgs),
    /// Localise a KPI's deviation over its dimensions, for a folder of cases.
    Rca(RcaArgs),
    /// Rank the services most likely to have caused an incident, for one case or a labelled folder of cases.
    #[command(name = "rca-topology")]
    RcaTopology(RcaTopologyArgs),
}

/// Runs one evaluation; returns the process exit code (1 when a
/// topology case failed, else 0).
pub fn run(cmd: EvalCmd) -> Result<i32, CliError> {
    match cmd {
        EvalCmd::Nab(a) => nab(a),
        EvalCmd::Csv(a) => csv(a),
        EvalCmd::Cv(a) => cv(a),
        EvalCmd::Incidents(a) => incidents(a),
        EvalCmd::Storm(a) => storm(a),
        EvalCmd::Storms(a) => storms(a),
        EvalCmd::LabStorm(a) => lab_storm(a),
        EvalCmd::Logparse(a) => logparse(a),
        EvalCmd::Logstore(a) => logstore(a),
        EvalCmd::Rca(a) => rca(a),
        EvalCmd::RcaTopology(a) => rca_topology(a),
    }
}

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
fn nab(a: NabArgs) -> Result<i32, CliError> {
    let opts = crate::nab::NabOptions {
        data: a.data,
        out: a.out,
        config: a.config,
        categories: a.categories,
        threshold: a.threshold,
        input_range: !a.no_input_range,
        peers: a.peers,
    };
    crate::nab::run(&opts, &mut std::io::stdout().lock())?;
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
fn csv(a: CsvArgs) -> Result<i32, CliError> {
    let opts = crate::csv::CsvOptions {
        input: a.input,
        kind: a.kind,
        period: a.period,
        algorithm: a.algorithm,
        min_points: a.min_points,
        out: a.out,
    };
    crate::csv::run(&opts, &mut std::io::stdout().lock())?;
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
fn cv(a: CvArgs) -> Result<i32, CliError> {
    let opts = crate::cv::CvOptions {
        data: a.data,
        groups: a.groups,
        grid: a.grid.parse()?,
        threads: a.threads,
        json: a.json,
    };
    crate::cv::run(
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
    /// Where instances run, an `address,node` CSV (what `kube_pod_info` and
    /// `node_uname_info` tell a running Argus).
    #[arg(long)]
    placement: Option<PathBuf>,
    /// Where the incidents go, one JSON object a line.
    #[arg(long)]
    out: PathBuf,
    /// The truth file (one `{"line", "group", "root", "kind"}` a line): with
    /// it, prints Argus beside two simple baselines.
    #[arg(long)]
    truth: Option<PathBuf>,
}

/// Runs `argus eval incidents`; returns the process exit code.
fn incidents(a: IncidentsArgs) -> Result<i32, CliError> {
    let opts = crate::incidents::IncidentsOptions {
        alerts: a.alerts,
        graph: a.graph,
        placement: a.placement,
        out: a.out,
        truth: a.truth,
    };
    crate::incidents::run_incidents(&opts, &mut std::io::stdout().lock())?;
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
    /// Directory for ALERTS.jsonl, GRAPH.csv, PLACEMENT.csv and TRUTH.jsonl (created if missing).
    #[arg(long)]
    out: PathBuf,
}

/// Runs `argus eval storm`; returns the process exit code.
fn storm(a: StormArgs) -> Result<i32, CliError> {
    let preset: crate::storm::Preset = a.preset.parse()?;
    let storm = crate::storm::generate(&preset.config(a.seed));
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
    /// Replay without the storms' placement (which machine each pod is on).
    #[arg(long)]
    no_placement: bool,
}

/// Runs `argus eval storms`: the averaged table on stdout.
fn storms(a: StormsArgs) -> Result<i32, CliError> {
    let opts = crate::incidents::StormsOptions {
        seeds: crate::incidents::parse_seeds(&a.seeds)?,
        preset: a.preset.parse()?,
        json: a.json,
        no_placement: a.no_placement,
    };
    crate::incidents::run_storms(&opts, &mut std::io::stdout().lock())?;
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
fn lab_storm(a: LabStormArgs) -> Result<i32, CliError> {
    use crate::incidents::lab;
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
fn logparse(a: LogparseArgs) -> Result<i32, CliError> {
    let opts = crate::logparse::LogparseOptions {
        input: a.input,
        format: a.format,
        out: a.out,
        truth: a.truth,
        online: a.online,
    };
    crate::logparse::run_logparse(&opts, &mut std::io::stdout().lock())?;
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
fn logstore(a: LogstoreArgs) -> Result<i32, CliError> {
    let opts = crate::logstore::LogstoreOptions {
        dir: a.dir,
        lines_per_day: a.lines_per_day,
    };
    crate::logstore::run_logstore(&opts, &mut std::io::stdout().lock())?;
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
fn rca(a: RcaArgs) -> Result<i32, CliError> {
    let opts = crate::rca::RcaOptions {
        input: a.input,
        out: a.out,
        truth: a.truth,
        settings: argus_rca::md::Settings {
            penalty: a.penalty,
            ..argus_rca::md::Settings::default()
        },
    };
    crate::rca::run(&opts, &mut std::io::stdout().lock())?;
    Ok(0)
}

/// Arguments of `argus eval rca-topology`.
#[derive(clap::Args)]
pub struct RcaTopologyArgs {
    /// One case folder: `metrics.om` (OpenMetrics text, timestamps in
    /// seconds) and `incident.json` (`{"start": unix seconds, "entry":
    /// {"service": ..., "metric": ...}}`, entry optional).
    #[arg(
        long,
        conflicts_with = "cases",
        required_unless_present = "cases",
        requires = "out"
    )]
    case: Option<PathBuf>,
    /// Where the ranking of `--case` goes: JSON, best first.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The call graph: a CSV file with a `caller,callee` header line.
    #[arg(long, requires = "case")]
    graph: Option<PathBuf>,
    /// A normal period of the same series, OpenMetrics text.
    #[arg(long, requires = "case")]
    normal: Option<PathBuf>,
    /// A root folder: every folder under it holding `metrics.om` is a case;
    /// `graph.csv` and `normal.om` in its parent folder are used when there.
    #[arg(long, requires = "labels")]
    cases: Option<PathBuf>,
    /// The answers for `--cases`: CSV with `case`, `system` and `service`
    /// columns, `case` being the case folder relative to the root.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Also write every case's ranks and times, and the summary, here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Overrides a numeric setting of the ranking, `NAME=VALUE` (repeatable):
    /// edge_weight, min_baseline_points, recent_points, relative_floor,
    /// family_floor, second_weight, anomalous_z, downstream_ratio,
    /// downstream_penalty, downstream_depth, unreachable_penalty, kind_share,
    /// path_penalty, path_z, onset_share, resource_weight, entry_kind_weight, history_points.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
}

/// Runs the command; exit code 1 when a case failed.
fn rca_topology(a: RcaTopologyArgs) -> Result<i32, CliError> {
    if let (Some(dir), Some(out)) = (&a.case, &a.out) {
        let case = load_case(dir, a.graph.as_deref(), a.normal.as_deref())?;
        let ranking = topology::rank(&case, &settings(&a.set)?)?;
        write_ranking(out, &ranking)?;
        return Ok(0);
    }
    match (&a.cases, &a.labels) {
        (Some(root), Some(labels)) => {
            let ok = batch(
                root,
                labels,
                a.json.as_deref(),
                &settings(&a.set)?,
                &mut std::io::stdout(),
                &mut std::io::stderr(),
            )?;
            Ok(if ok { 0 } else { 1 })
        }
        _ => Err(CliError::Usage(
            "give --case DIR --out FILE, or --cases ROOT --labels FILE",
        )),
    }
}
