//! "What else moved": for an incident's window, the series that changed
//! against their own baseline, ranked by how early and how strongly they
//! moved and how close they sit to the root in the topology.
//!
//! For each series, the baseline is its median and median absolute
//! deviation before the window; the change point is the first of two
//! consecutive points whose robust z-score passes [`Z_MOVED`]; the strength
//! is the largest robust z-score in the window. A series that moved before
//! the first alert moves the fault's estimated start earlier.
//!
//! ```
//! use argus_incident::evidence::{rank, SeriesData, Window};
//! use argus_incident::entity::{AliasBook, Entities};
//! use argus_incident::topology::Topology;
//! use argus_model::Labels;
//!
//! let flat: Vec<(i64, f64)> = (0..120).map(|i| (i * 60_000, 10.0 + (i % 3) as f64)).collect();
//! let mut jump = flat.clone();
//! for p in jump.iter_mut().skip(100) { p.1 = 90.0; }
//! let series = vec![
//!     SeriesData { labels: Labels::from_pairs(&[("__name__", "cpu"), ("service", "db")]), samples: jump },
//!     SeriesData { labels: Labels::from_pairs(&[("__name__", "cpu"), ("service", "web")]), samples: flat },
//! ];
//! let w = Window { baseline_from_ms: 0, from_ms: 90 * 60_000, to_ms: 120 * 60_000 };
//! let root = Entities { service: Some("db".into()), ..Entities::default() };
//! let moves = rank(&series, &w, &root, &Topology::default(), &AliasBook::default(), 10);
//! assert_eq!(moves.len(), 1);
//! assert_eq!(moves[0].moved_at_ms, 100 * 60_000);
//! assert_eq!(moves[0].hops, Some(0));
//! ```

use crate::entity::{AliasBook, Entities};
use crate::topology::{Relation, Topology};
use argus_model::Labels;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A robust z-score at or above this counts as moved.
pub const Z_MOVED: f64 = 4.0;

/// One series read from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesData {
    /// Its labels.
    pub labels: Labels,
    /// Its samples, oldest first.
    pub samples: Vec<(i64, f64)>,
}

/// The times the ranking looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The baseline runs from here to `from_ms`.
    pub baseline_from_ms: i64,
    /// The window in which a move counts starts here…
    pub from_ms: i64,
    /// …and ends here.
    pub to_ms: i64,
}

/// One series that moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Move {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// When it first moved, ms.
    pub moved_at_ms: i64,
    /// The largest robust z-score in the window (capped at 100).
    pub strength: f64,
    /// Up (true) or down.
    pub up: bool,
    /// Its baseline median.
    pub baseline: f64,
    /// Its most extreme value in the window.
    pub peak: f64,
    /// Calls between its service and the root's (0: the root itself or its
    /// machine); `None` when unrelated or unknown.
    pub hops: Option<u8>,
    /// The ranking score (higher first).
    pub score: f64,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Where a series' change point is, if it moved.
fn moved(samples: &[(i64, f64)], w: &Window) -> Option<(i64, f64, bool, f64, f64)> {
    let mut base: Vec<f64> = samples
        .iter()
        .filter(|(t, v)| *t >= w.baseline_from_ms && *t < w.from_ms && v.is_finite())
        .map(|(_, v)| *v)
        .collect();
    if base.len() < 5 {
        return None;
    }
    let med = median(&mut base);
    let mut dev: Vec<f64> = base.iter().map(|v| (v - med).abs()).collect();
    // A flat baseline still has a scale: 1 % of its level, or a tiny floor.
    let mad = median(&mut dev).max(med.abs() * 0.01).max(1e-9);
    let z = |v: f64| ((v - med) / (1.4826 * mad)).clamp(-100.0, 100.0);
    let inside: Vec<(i64, f64)> = samples
        .iter()
        .filter(|(t, v)| *t >= w.from_ms && *t <= w.to_ms && v.is_finite())
        .copied()
        .collect();
    let mut first = None;
    for pair in inside.windows(2) {
        let (a, b) = (z(pair[0].1), z(pair[1].1));
        if a.abs() >= Z_MOVED && b.abs() >= Z_MOVED && a.signum() == b.signum() {
            first = Some(pair[0].0);
            break;
        }
    }
    let at = first?;
    let (peak_v, peak_z) = inside
        .iter()
        .filter(|(t, _)| *t >= at)
        .map(|(_, v)| (*v, z(*v)))
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))?;
    Some((at, peak_z.abs(), peak_z > 0.0, med, peak_v))
}

/// How many calls separate `e` from the root.
fn distance(e: &Entities, root: &Entities, topo: &Topology) -> Option<u8> {
    if (e.service.is_some() && e.service == root.service)
        || (e.instance.is_some() && e.instance == root.instance)
        || (e.node.is_some() && e.node == root.node)
    {
        return Some(0);
    }
    match (&e.service, &root.service) {
        (Some(a), Some(b)) => topo.relation(a, b, 3).map(Relation::hops),
        _ => None,
    }
}

/// The series of `series` that moved in `w`, best first, at most `limit`:
/// strong, early and close to `root` first.
pub fn rank(
    series: &[SeriesData],
    w: &Window,
    root: &Entities,
    topo: &Topology,
    aliases: &AliasBook,
    limit: usize,
) -> Vec<Move> {
    let span = (w.to_ms - w.from_ms).max(1) as f64;
    let mut out: Vec<Move> = series
        .iter()
        .filter_map(|s| {
            let (at, strength, up, baseline, peak) = moved(&s.samples, w)?;
            let e = aliases.resolve(&s.labels);
            let hops = distance(&e, root, topo);
            let closeness = match hops {
                Some(h) => 1.0 / (1.0 + h as f64),
                None => 0.25,
            };
            let earliness = 1.0 - 0.5 * ((at - w.from_ms) as f64 / span).clamp(0.0, 1.0);
            let score = (strength.min(20.0) / 20.0) * closeness * earliness;
            Some(Move {
                labels: s
                    .labels
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect(),
                moved_at_ms: at,
                strength,
                up,
                baseline,
                peak,
                hops,
                score,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.moved_at_ms.cmp(&b.moved_at_ms))
    });
    out.truncate(limit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, svc: &str, jump_at: Option<usize>, to: f64) -> SeriesData {
        let samples = (0..120)
            .map(|i| {
                let v = 50.0 + ((i * 7) % 5) as f64;
                let v = match jump_at {
                    Some(j) if i >= j => to,
                    _ => v,
                };
                (i as i64 * 60_000, v)
            })
            .collect();
        SeriesData {
            labels: Labels::from_pairs(&[("__name__", name), ("service", svc)]),
            samples,
        }
    }

    #[test]
    fn closer_and_earlier_rank_first() {
        let topo = Topology::from_csv("caller,callee\nweb,api\napi,db\n").unwrap();
        let root = Entities {
            service: Some("db".into()),
            ..Entities::default()
        };
        let w = Window {
            baseline_from_ms: 0,
            from_ms: 90 * 60_000,
            to_ms: 119 * 60_000,
        };
        let s = vec![
            series("latency", "web", Some(100), 500.0),
            series("cpu", "db", Some(95), 99.0),
            series("errors", "api", Some(98), 0.0),
            series("quiet", "db", None, 0.0),
        ];
        let m = rank(&s, &w, &root, &topo, &AliasBook::default(), 10);
        let names: Vec<&str> = m.iter().map(|m| m.labels["__name__"].as_str()).collect();
        assert_eq!(names, vec!["cpu", "errors", "latency"]);
        assert!(!m[1].up, "errors fell");
        assert_eq!(m[0].moved_at_ms, 95 * 60_000);
    }

    #[test]
    fn short_or_missing_baselines_are_skipped() {
        let w = Window {
            baseline_from_ms: 100 * 60_000,
            from_ms: 102 * 60_000,
            to_ms: 119 * 60_000,
        };
        let s = vec![series("cpu", "db", Some(105), 99.0)];
        assert!(rank(
            &s,
            &w,
            &Entities::default(),
            &Topology::default(),
            &AliasBook::default(),
            5
        )
        .is_empty());
    }
}
