//! The runs behind `argus eval incidents` (one alert file) and `argus eval
//! storms` (many generated storms): Argus's replay and the two baselines over
//! the same parsed alerts, scored side by side.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use argus_incident::correlate::Settings;
use argus_incident::placement::Placement;
use argus_incident::replay::{read_alerts, replay_placed, to_jsonl, ReplayAlert, ReplayIncident};
use argus_incident::topology::Topology;
use serde::Serialize;

use super::{baseline, read_truth, score, Grouping, Scores, TruthLine};
use crate::error::read_text;
use crate::storm::{generate, Preset};
use crate::EvalError;

/// One method's scores.
#[derive(Debug, Clone, Serialize)]
pub struct MethodScores {
    /// `argus`, `labels` or `graph`.
    pub method: String,
    /// Its scores.
    pub scores: Scores,
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed().as_secs_f64() * 1000.0)
}

/// Runs Argus (taught `placement`, as a running Argus learns it) and the
/// baselines over `alerts` and scores them against `truth`. Returns Argus's
/// incidents and the scores, Argus first.
pub fn compare(
    alerts: &[ReplayAlert],
    topo: &Topology,
    placement: &Placement,
    truth: &[TruthLine],
    settings: &Settings,
) -> Result<(Vec<ReplayIncident>, Vec<MethodScores>), EvalError> {
    let (incidents, ms) = timed(|| replay_placed(alerts, topo.clone(), placement, settings));
    let mut rows = Vec::new();
    let mut push = |method: &str, g: &Grouping, ms: f64| -> Result<(), EvalError> {
        let mut scores = score(alerts, truth, g)?;
        scores.replay_ms = ms;
        rows.push(MethodScores {
            method: method.into(),
            scores,
        });
        Ok(())
    };
    push("argus", &Grouping::from_incidents(&incidents), ms)?;
    let (g, ms) = timed(|| baseline::by_labels(alerts));
    push("labels", &g, ms)?;
    let (g, ms) = timed(|| baseline::by_graph(alerts, topo));
    push("graph", &g, ms)?;
    Ok((incidents, rows))
}

/// The comparison as a text table.
pub fn format_table(rows: &[MethodScores]) -> String {
    let mut s = format!(
        "{:<8} {:>9} {:>11} {:>8} {:>9} {:>7} {:>6} {:>7} {:>9}\n",
        "method",
        "incidents",
        "compression",
        "perfect",
        "precision",
        "recall",
        "F1",
        "root@1",
        "replay_ms"
    );
    for r in rows {
        let x = &r.scores;
        s.push_str(&format!(
            "{:<8} {:>9} {:>11.3} {:>8.3} {:>9.3} {:>7.3} {:>6.3} {:>7.3} {:>9.1}\n",
            r.method,
            x.incidents,
            x.compression,
            x.perfect_compression,
            x.precision,
            x.recall,
            x.f1,
            x.root_top1,
            x.replay_ms
        ));
    }
    s
}

/// Means (and worst F1 and root top-1) of one method over many storms.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StormsSummary {
    /// The method.
    pub method: String,
    /// Storms averaged.
    pub storms: usize,
    /// The means.
    pub mean: Scores,
    /// The lowest F1 of any storm.
    pub worst_f1: f64,
    /// The lowest root top-1 of any storm.
    pub worst_root_top1: f64,
}

/// Averages per-storm rows (each Argus first, then the baselines).
pub fn mean_table(per_storm: &[Vec<MethodScores>]) -> Vec<StormsSummary> {
    let Some(first) = per_storm.first() else {
        return Vec::new();
    };
    let n = per_storm.len() as f64;
    (0..first.len())
        .map(|m| {
            let all: Vec<&Scores> = per_storm
                .iter()
                .filter_map(|r| r.get(m))
                .map(|r| &r.scores)
                .collect();
            let mean = |f: fn(&Scores) -> f64| all.iter().map(|s| f(s)).sum::<f64>() / n;
            let avg = |f: fn(&Scores) -> usize| {
                (all.iter().map(|s| f(s)).sum::<usize>() as f64 / n).round() as usize
            };
            StormsSummary {
                method: first[m].method.clone(),
                storms: all.len(),
                mean: Scores {
                    firing: avg(|s| s.firing),
                    incidents: avg(|s| s.incidents),
                    true_groups: avg(|s| s.true_groups),
                    compression: mean(|s| s.compression),
                    perfect_compression: mean(|s| s.perfect_compression),
                    precision: mean(|s| s.precision),
                    recall: mean(|s| s.recall),
                    f1: mean(|s| s.f1),
                    faults: avg(|s| s.faults),
                    root_top1: mean(|s| s.root_top1),
                    replay_ms: mean(|s| s.replay_ms),
                },
                worst_f1: all.iter().map(|s| s.f1).fold(f64::INFINITY, f64::min),
                worst_root_top1: all
                    .iter()
                    .map(|s| s.root_top1)
                    .fold(f64::INFINITY, f64::min),
            }
        })
        .collect()
}

/// The averaged table.
pub fn format_summary(rows: &[StormsSummary]) -> String {
    let mut s = format!(
        "{:<8} {:>9} {:>11} {:>8} {:>9} {:>7} {:>6} {:>8} {:>7} {:>11} {:>9}\n",
        "method",
        "incidents",
        "compression",
        "perfect",
        "precision",
        "recall",
        "F1",
        "worst_F1",
        "root@1",
        "worst_root1",
        "replay_ms"
    );
    for r in rows {
        let x = &r.mean;
        s.push_str(&format!(
            "{:<8} {:>9} {:>11.3} {:>8.3} {:>9.3} {:>7.3} {:>6.3} {:>8.3} {:>7.3} {:>11.3} {:>9.1}\n",
            r.method,
            x.incidents,
            x.compression,
            x.perfect_compression,
            x.precision,
            x.recall,
            x.f1,
            r.worst_f1,
            x.root_top1,
            r.worst_root_top1,
            x.replay_ms
        ));
    }
    s
}

/// What `argus eval incidents` runs on.
#[derive(Debug, Clone)]
pub struct IncidentsOptions {
    /// The alert file (JSON lines).
    pub alerts: PathBuf,
    /// The call graph, `caller,callee` CSV.
    pub graph: Option<PathBuf>,
    /// Where instances run, `address,node` CSV.
    pub placement: Option<PathBuf>,
    /// Where the incidents go (JSON lines).
    pub out: PathBuf,
    /// The truth file; with it, the comparison table is printed.
    pub truth: Option<PathBuf>,
}

fn read_alert_file(path: &Path) -> Result<Vec<ReplayAlert>, EvalError> {
    read_alerts(&read_text(path)?).map_err(|e| EvalError::Input(format!("{}: {e}", path.display())))
}

fn read_graph(path: &Path) -> Result<Topology, EvalError> {
    Topology::from_csv(&read_text(path)?)
        .map_err(|e| EvalError::Input(format!("{}: {e}", path.display())))
}

fn read_placement(path: &Path) -> Result<Placement, EvalError> {
    Placement::from_csv(&read_text(path)?)
        .map_err(|e| EvalError::Input(format!("{}: {e}", path.display())))
}

/// Runs `argus eval incidents`: writes the incidents, and with a truth file
/// prints Argus beside the baselines to `report`.
pub fn run_incidents(opts: &IncidentsOptions, report: &mut dyn Write) -> Result<(), EvalError> {
    let alerts = read_alert_file(&opts.alerts)?;
    let topo = match &opts.graph {
        Some(p) => read_graph(p)?,
        None => Topology::default(),
    };
    let placement = match &opts.placement {
        Some(p) => read_placement(p)?,
        None => Placement::default(),
    };
    let out_err = || EvalError::io(format!("cannot write {}", opts.out.display()));
    let write = |incidents: &[ReplayIncident]| std::fs::write(&opts.out, to_jsonl(incidents));
    let Some(truth_path) = &opts.truth else {
        let incidents = replay_placed(&alerts, topo, &placement, &Settings::default());
        write(&incidents).map_err(out_err())?;
        writeln!(
            report,
            "{} incidents from {} alert lines",
            incidents.len(),
            alerts.len()
        )
        .map_err(out_err())?;
        return Ok(());
    };
    let truth = read_truth(&read_text(truth_path)?)
        .map_err(|e| e.within(truth_path.display().to_string()))?;
    let (incidents, rows) = compare(&alerts, &topo, &placement, &truth, &Settings::default())
        .map_err(|e| e.within(truth_path.display().to_string()))?;
    write(&incidents).map_err(out_err())?;
    let io = EvalError::io("cannot write the report");
    write!(report, "{}", format_table(&rows)).map_err(io)?;
    Ok(())
}

/// What `argus eval storms` runs on.
#[derive(Debug, Clone)]
pub struct StormsOptions {
    /// The seeds, one storm each.
    pub seeds: Vec<u64>,
    /// Their size.
    pub preset: Preset,
    /// Also write every storm's scores and the means as JSON here.
    pub json: Option<PathBuf>,
    /// Replay without the storms' placement (as before it was written).
    pub no_placement: bool,
}

/// Parses seeds: a range `A-B`, a list `A,B,C` or a mix.
pub fn parse_seeds(s: &str) -> Result<Vec<u64>, EvalError> {
    let bad = || {
        EvalError::Input(format!(
            "seeds {s:?}: expected a range `A-B` or a list `A,B,C`"
        ))
    };
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u64, u64) = (
                    a.trim().parse().map_err(|_| bad())?,
                    b.trim().parse().map_err(|_| bad())?,
                );
                if b < a || b - a > 100_000 {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| bad())?),
        }
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

#[derive(Serialize)]
struct StormsJson<'a> {
    preset: String,
    storms: &'a [StormScores],
    summary: &'a [StormsSummary],
}

/// One storm's scores.
#[derive(Debug, Clone, Serialize)]
pub struct StormScores {
    /// Its seed.
    pub seed: u64,
    /// Lines of its alert file.
    pub alert_lines: usize,
    /// Argus first, then the baselines.
    pub methods: Vec<MethodScores>,
}

/// Generates and scores one storm per seed, Argus taught each storm's
/// placement when `placed`; returns the per-storm rows and their means.
pub fn score_storms(
    seeds: &[u64],
    preset: Preset,
    settings: &Settings,
    placed: bool,
) -> Result<(Vec<StormScores>, Vec<StormsSummary>), EvalError> {
    let mut per = Vec::new();
    for &seed in seeds {
        let storm = generate(&preset.config(seed));
        let what = || format!("storm {preset:?} {seed}");
        let alerts =
            read_alerts(&storm.alerts).map_err(|e| EvalError::Input(format!("{}: {e}", what())))?;
        let topo = Topology::from_csv(&storm.graph)
            .map_err(|e| EvalError::Input(format!("{}: {e}", what())))?;
        let placement = if placed {
            Placement::from_csv(&storm.placement)
                .map_err(|e| EvalError::Input(format!("{}: {e}", what())))?
        } else {
            Placement::default()
        };
        let (_, rows) = compare(&alerts, &topo, &placement, &storm.truth, settings)
            .map_err(|e| e.within(what()))?;
        per.push(StormScores {
            seed,
            alert_lines: alerts.len(),
            methods: rows,
        });
    }
    let rows: Vec<Vec<MethodScores>> = per.iter().map(|p| p.methods.clone()).collect();
    let summary = mean_table(&rows);
    Ok((per, summary))
}

/// Runs `argus eval storms`: the averaged table to `report`.
pub fn run_storms(
    opts: &StormsOptions,
    report: &mut dyn Write,
) -> Result<Vec<StormsSummary>, EvalError> {
    let (per, summary) = score_storms(
        &opts.seeds,
        opts.preset,
        &Settings::default(),
        !opts.no_placement,
    )?;
    let io = EvalError::io("cannot write the report");
    write!(
        report,
        "{} storms ({:?}), means over storms:\n{}",
        per.len(),
        opts.preset,
        format_summary(&summary)
    )
    .map_err(io)?;
    if let Some(path) = &opts.json {
        let doc = StormsJson {
            preset: format!("{:?}", opts.preset).to_lowercase(),
            storms: &per,
            summary: &summary,
        };
        let text = serde_json::to_string_pretty(&doc).map_err(EvalError::Encode)?;
        std::fs::write(path, text)
            .map_err(EvalError::io(format!("cannot write {}", path.display())))?;
    }
    Ok(summary)
}
