//! Scoring an alert grouping against ground truth: the library behind
//! `argus eval incidents` and `argus eval storms`.
//!
//! The truth file has one line per alert line:
//! `{"line": N, "group": "…", "root": {"service": …} | {"node": …}, "kind":
//! "service_fault"|"node_failure"|"noise"}`. Every metric is computed over
//! the *firing* lines only:
//! - event compression `1 − incidents / firing lines`, and the perfect one
//!   `1 − true groups / firing lines`;
//! - pairwise precision, recall and F1 of "same incident" against "same true
//!   group" (from contingency counts);
//! - root top-1: over the true faults (not noise), the share whose main
//!   incident (the one holding most of the fault's firing lines) names the
//!   right root: the service for a service fault, the node for a node failure.
//!
//! Two simple online baselines ([`baseline`]) are scored beside Argus.
//!
//! ```
//! use argus_eval::incidents::{read_truth, score, Grouping};
//! use argus_incident::replay::{read_alerts, ReplayRoot};
//!
//! let alerts = read_alerts(concat!(
//!     r#"{"at":"2026-01-01T00:00:00Z","status":"firing","labels":{"service":"db"}}"#, "\n",
//!     r#"{"at":"2026-01-01T00:01:00Z","status":"firing","labels":{"service":"web"}}"#, "\n",
//! )).unwrap();
//! let truth = read_truth(concat!(
//!     r#"{"line":0,"group":"f1","root":{"service":"db"},"kind":"service_fault"}"#, "\n",
//!     r#"{"line":1,"group":"f1","root":{"service":"db"},"kind":"service_fault"}"#, "\n",
//! )).unwrap();
//! let root = ReplayRoot { service: Some("db".into()), node: None };
//! let g = Grouping::from_lists(vec![(vec![0, 1], root)]);
//! let s = score(&alerts, &truth, &g).unwrap();
//! assert_eq!((s.incidents, s.f1, s.root_top1), (1, 1.0, 1.0));
//! assert_eq!(s.compression, 0.5);
//! ```

pub mod baseline;
pub mod diagnose;
pub mod lab;
mod run;
#[cfg(test)]
mod tests;

pub use run::{
    compare, format_summary, format_table, mean_table, parse_seeds, run_incidents, run_storms,
    score_storms, IncidentsOptions, MethodScores, StormScores, StormsOptions, StormsSummary,
};

use std::collections::HashMap;

use argus_incident::replay::{ReplayAlert, ReplayIncident, ReplayRoot};
use serde::{Deserialize, Serialize};

use crate::EvalError;

/// What a true group is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TruthKind {
    /// A fault of one service, cascading to its callers.
    ServiceFault,
    /// A machine's failure: every instance on it, and their callers.
    NodeFailure,
    /// Background noise; each noise source is its own group.
    Noise,
}

/// The true root of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruthRoot {
    /// The root service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The root machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// One line of the truth file: the group of one alert line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruthLine {
    /// The 0-based line of the alert file.
    pub line: usize,
    /// The fault or noise source it belongs to.
    pub group: String,
    /// The group's root.
    pub root: TruthRoot,
    /// What kind of group.
    pub kind: TruthKind,
}

/// Reads a truth file; errors name the 1-based line.
pub fn read_truth(text: &str) -> Result<Vec<TruthLine>, EvalError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let t: TruthLine = serde_json::from_str(raw).map_err(|source| EvalError::Json {
            what: format!(
                "line {}: expected {{\"line\", \"group\", \"root\", \"kind\"}}",
                i + 1
            ),
            source,
        })?;
        out.push(t);
    }
    Ok(out)
}

/// A grouping of firing lines into incidents, each with its root.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grouping {
    /// Line → index into `roots`.
    pub of_line: HashMap<usize, usize>,
    /// Each incident's root.
    pub roots: Vec<ReplayRoot>,
}

impl Grouping {
    /// From lists of lines, one per incident, with its root.
    pub fn from_lists(groups: Vec<(Vec<usize>, ReplayRoot)>) -> Self {
        let mut g = Grouping::default();
        for (i, (lines, root)) in groups.into_iter().enumerate() {
            for l in lines {
                g.of_line.insert(l, i);
            }
            g.roots.push(root);
        }
        g
    }

    /// From the replay's incidents.
    pub fn from_incidents(incidents: &[ReplayIncident]) -> Self {
        Self::from_lists(
            incidents
                .iter()
                .map(|i| (i.alerts.clone(), i.root.clone()))
                .collect(),
        )
    }
}

/// The scores of one grouping.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scores {
    /// Firing lines scored.
    pub firing: usize,
    /// Incidents among them (a firing line the grouping left out counts as
    /// an incident of its own).
    pub incidents: usize,
    /// True groups among them.
    pub true_groups: usize,
    /// `1 − incidents / firing`.
    pub compression: f64,
    /// `1 − true groups / firing`.
    pub perfect_compression: f64,
    /// Pairs in one incident that are in one true group, over pairs in one incident.
    pub precision: f64,
    /// Pairs in one true group that are in one incident, over pairs in one true group.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// True faults (not noise) among the firing lines.
    pub faults: usize,
    /// Share of those faults whose main incident names the right root.
    pub root_top1: f64,
    /// Time to produce the grouping, ms (filled in by the harness).
    pub replay_ms: f64,
}

fn pairs(n: usize) -> f64 {
    (n as f64) * (n as f64 - 1.0) / 2.0
}

/// The part of a host name that names the machine: no port, no domain
/// (an IP address is kept whole), lower case.
pub fn machine(s: &str) -> String {
    let s = s.trim().to_ascii_lowercase();
    let host = match s.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h.to_string(),
        _ => s,
    };
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return host;
    }
    host.split('.').next().unwrap_or_default().to_string()
}

/// Scores `grouping` over the firing lines of `alerts` against `truth`.
/// Fails when a firing line has no truth line.
pub fn score(
    alerts: &[ReplayAlert],
    truth: &[TruthLine],
    grouping: &Grouping,
) -> Result<Scores, EvalError> {
    let by_line: HashMap<usize, &TruthLine> = truth.iter().map(|t| (t.line, t)).collect();
    let mut group_ix: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<&TruthLine> = Vec::new();
    // (predicted, true) → count; a line the grouping left out gets its own
    // predicted id past the grouping's.
    let mut cont: HashMap<(usize, usize), usize> = HashMap::new();
    let mut pred_size: HashMap<usize, usize> = HashMap::new();
    let mut true_size: Vec<usize> = Vec::new();
    let mut extra = grouping.roots.len();
    let mut firing = 0;
    for a in alerts.iter().filter(|a| a.firing) {
        firing += 1;
        let t = by_line.get(&a.line).ok_or_else(|| {
            EvalError::Input(format!(
                "alert line {}: no truth line has \"line\": {}",
                a.line + 1,
                a.line
            ))
        })?;
        let g = *group_ix.entry(t.group.as_str()).or_insert_with(|| {
            groups.push(t);
            true_size.push(0);
            groups.len() - 1
        });
        true_size[g] += 1;
        let p = match grouping.of_line.get(&a.line) {
            Some(&p) => p,
            None => {
                extra += 1;
                extra - 1
            }
        };
        *pred_size.entry(p).or_default() += 1;
        *cont.entry((p, g)).or_default() += 1;
    }
    let tp: f64 = cont.values().map(|&n| pairs(n)).sum();
    let pred_pairs: f64 = pred_size.values().map(|&n| pairs(n)).sum();
    let true_pairs: f64 = true_size.iter().map(|&n| pairs(n)).sum();
    let precision = if pred_pairs > 0.0 {
        tp / pred_pairs
    } else {
        1.0
    };
    let recall = if true_pairs > 0.0 {
        tp / true_pairs
    } else {
        1.0
    };
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    // The main incident of each true group: most of its lines, ties to the
    // lower incident index.
    let mut main: Vec<Option<(usize, usize)>> = vec![None; groups.len()];
    for (&(p, g), &n) in &cont {
        let better = match main[g] {
            None => true,
            Some((bp, bn)) => n > bn || (n == bn && p < bp),
        };
        if better {
            main[g] = Some((p, n));
        }
    }
    let (mut faults, mut right) = (0usize, 0usize);
    for (g, t) in groups.iter().enumerate() {
        if t.kind == TruthKind::Noise {
            continue;
        }
        faults += 1;
        let Some(root) = main[g].and_then(|(p, _)| grouping.roots.get(p)) else {
            continue;
        };
        let ok = match t.kind {
            TruthKind::NodeFailure => match (&root.node, &t.root.node) {
                (Some(a), Some(b)) => machine(a) == machine(b),
                _ => false,
            },
            _ => root.service.is_some() && root.service == t.root.service,
        };
        right += usize::from(ok);
    }
    let frac = |n: usize| {
        if firing == 0 {
            0.0
        } else {
            1.0 - n as f64 / firing as f64
        }
    };
    Ok(Scores {
        firing,
        incidents: pred_size.len(),
        true_groups: groups.len(),
        compression: frac(pred_size.len()),
        perfect_compression: frac(groups.len()),
        precision,
        recall,
        f1,
        faults,
        root_top1: if faults == 0 {
            1.0
        } else {
            right as f64 / faults as f64
        },
        replay_ms: 0.0,
    })
}
