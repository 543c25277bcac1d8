//! `argus eval rca-topology`: rank the services most likely to have caused
//! an incident, for one case folder or for every case under a root, scored
//! against a labels file beside a robust z-score baseline.
//! The loading and scoring live in `argus_eval::rca_topology`.

use anyhow::bail;
use argus_eval::rca_topology::{batch, load_case, settings, write_ranking};
use argus_rca::topology;
use std::path::PathBuf;

/// Arguments of `argus eval rca-topology`.
#[derive(clap::Args)]
pub struct Args {
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
    /// path_penalty, path_z, onset_share, resource_weight, history_points.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
}

/// Runs the command; exit code 1 when a case failed.
pub fn run(a: Args) -> anyhow::Result<i32> {
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
        _ => bail!("give --case DIR --out FILE, or --cases ROOT --labels FILE"),
    }
}
