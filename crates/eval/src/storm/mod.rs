//! Synthetic alert storms with ground truth, to measure alert grouping:
//! `argus eval storm`. Everything follows from a seed.
//!
//! A storm is a layered service graph (frontends → mid-tier → datastores,
//! caches, queues) on a set of machines, with:
//! - service faults (saturation, errors, outages, slow datastores, bad
//!   deploys) whose symptoms travel to (transitive) callers with random
//!   per-hop delays, not every caller alerting;
//! - node failures that hit every instance on the machine, and their callers;
//! - unrelated faults overlapping, sometimes in the same minute;
//! - background noise: flapping disk warnings, a failing nightly job,
//!   certificate warnings, random low-rate alerts (each source its own group);
//! - the label sets of different sources: rules (`service`, `instance`),
//!   Kubernetes (`pod`, `namespace`, `node`), node exporter (`job="node"`,
//!   `instance="10.0.0.7:9100"`), health checks (`job` only), syslog (`host`).
//!
//! Output: the alert file (`ALERTS.jsonl`), the call graph (`GRAPH.csv`),
//! where each pod and node exporter runs (`PLACEMENT.csv`, what a running
//! Argus learns from `kube_pod_info` and `node_uname_info`) and the truth
//! (`TRUTH.jsonl`, one line per alert line).
//!
//! ```
//! use argus_eval::storm::{generate, Preset};
//!
//! let s = generate(&Preset::Small.config(7));
//! assert_eq!(s.truth.len(), s.alerts.lines().count());
//! assert!(s.graph.starts_with("caller,callee\n"));
//! assert_eq!(generate(&Preset::Small.config(7)).alerts, s.alerts);
//! ```

mod faults;
mod noise;
#[cfg(test)]
mod tests;
mod world;

use std::collections::BTreeMap;
use std::path::Path;

use argus_model::SplitMix64;
use serde::Serialize;

use crate::incidents::{TruthKind, TruthLine, TruthRoot};
use crate::EvalError;
use world::World;

const MIN: i64 = 60_000;

/// The knobs of a storm.
#[derive(Debug, Clone, PartialEq)]
pub struct StormConfig {
    /// Everything follows from it.
    pub seed: u64,
    /// Services in the graph (at least 5).
    pub services: usize,
    /// Machines.
    pub nodes: usize,
    /// How long faults keep starting, ms (the stream runs 30 minutes past).
    pub duration_ms: i64,
    /// Faults (service faults and node failures).
    pub faults: usize,
    /// Share of the faults that are node failures.
    pub node_failure_share: f64,
    /// Random low-rate noise alerts per hour (beside the fixed noise sources).
    pub noise_rate: f64,
}

/// Ready-made sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// 15 services, 5 machines, 2 hours: one or two hundred lines.
    Small,
    /// 35 services, 12 machines, 6 hours: about a thousand lines.
    Medium,
    /// 60 services, 30 machines, a day: about 10 thousand lines.
    Large,
}

impl std::str::FromStr for Preset {
    type Err = EvalError;
    fn from_str(s: &str) -> Result<Self, EvalError> {
        match s {
            "small" => Ok(Preset::Small),
            "medium" => Ok(Preset::Medium),
            "large" => Ok(Preset::Large),
            _ => Err(EvalError::Input(format!(
                "unknown preset {s:?}: use small, medium or large"
            ))),
        }
    }
}

impl Preset {
    /// The preset's knobs with `seed`.
    pub fn config(self, seed: u64) -> StormConfig {
        let (services, nodes, hours, faults, noise_rate) = match self {
            Preset::Small => (15, 5, 2, 10, 6.0),
            Preset::Medium => (35, 12, 6, 40, 6.0),
            Preset::Large => (60, 30, 24, 450, 12.0),
        };
        StormConfig {
            seed,
            services,
            nodes,
            duration_ms: hours * 60 * MIN,
            faults,
            node_failure_share: 0.25,
            noise_rate,
        }
    }
}

/// A generated storm.
#[derive(Debug, Clone)]
pub struct Storm {
    /// The alert file (JSON lines, time-ordered).
    pub alerts: String,
    /// The call graph, `caller,callee` CSV.
    pub graph: String,
    /// Where each instance runs, `address,node` CSV.
    pub placement: String,
    /// One truth line per alert line.
    pub truth: Vec<TruthLine>,
}

impl Storm {
    /// The truth as JSON lines.
    pub fn truth_jsonl(&self) -> String {
        let mut s = String::new();
        for t in &self.truth {
            s.push_str(&serde_json::to_string(t).unwrap_or_default());
            s.push('\n');
        }
        s
    }

    /// Writes `ALERTS.jsonl`, `GRAPH.csv`, `PLACEMENT.csv` and `TRUTH.jsonl` into `dir`
    /// (created if missing).
    pub fn write(&self, dir: &Path) -> Result<(), EvalError> {
        std::fs::create_dir_all(dir)
            .map_err(EvalError::io(format!("cannot create {}", dir.display())))?;
        for (name, text) in [
            ("ALERTS.jsonl", self.alerts.as_str()),
            ("GRAPH.csv", self.graph.as_str()),
            ("PLACEMENT.csv", self.placement.as_str()),
            ("TRUTH.jsonl", self.truth_jsonl().as_str()),
        ] {
            let p = dir.join(name);
            std::fs::write(&p, text)
                .map_err(EvalError::io(format!("cannot write {}", p.display())))?;
        }
        Ok(())
    }
}

/// One alert's life: its labels and when it fired and resolved (`None`:
/// still firing at the end).
#[derive(Debug, Clone)]
pub(crate) struct Episode {
    pub labels: BTreeMap<String, String>,
    pub summary: String,
    pub group: usize,
    pub spans: Vec<(i64, Option<i64>)>,
}

#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub id: String,
    pub root: TruthRoot,
    pub kind: TruthKind,
}

/// The generator's state.
pub(crate) struct Gen {
    pub rng: SplitMix64,
    pub world: World,
    pub start_ms: i64,
    pub horizon_ms: i64,
    pub episodes: Vec<Episode>,
    pub groups: Vec<Group>,
}

#[derive(Serialize)]
struct OutLine<'a> {
    at: String,
    status: &'static str,
    labels: &'a BTreeMap<String, String>,
    annotations: BTreeMap<&'static str, &'a str>,
}

/// Builds a label map from pairs.
pub(crate) fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Gen {
    /// Uniform in `lo..=hi`, rounded to the second.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        let v = lo + (self.rng.unit() * (hi - lo) as f64) as i64;
        v / 1000 * 1000
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.unit() < p
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.index(items.len())]
    }

    pub fn group(&mut self, id: String, root: TruthRoot, kind: TruthKind) -> usize {
        self.groups.push(Group { id, root, kind });
        self.groups.len() - 1
    }

    /// Adds an alert firing from `on` to `off`; with probability `flap` it
    /// resolves once (or twice) in between and fires again.
    pub fn alert(
        &mut self,
        group: usize,
        labels: BTreeMap<String, String>,
        summary: String,
        on: i64,
        off: i64,
        flap: f64,
    ) {
        let (on, off) = (on / 1000 * 1000, (off / 1000 * 1000).max(on + 30_000));
        let mut spans = Vec::new();
        let mut t = on;
        for _ in 0..2 {
            if off - t < 4 * MIN || !self.chance(flap) {
                break;
            }
            let up = self.between(30_000, (off - t) / 2);
            let gap = self.between(30_000, 3 * MIN);
            spans.push((t, Some(t + up)));
            t += up + gap;
        }
        if t < off {
            spans.push((t, Some(off)));
        }
        self.episodes.push(Episode {
            labels,
            summary,
            group,
            spans,
        });
    }

    /// Turns the episodes into the time-ordered alert file and its truth.
    /// An episode that would overlap an earlier one of the same alert
    /// (same labels) is dropped: one alert cannot fire twice at once.
    fn finish(mut self) -> (String, Vec<TruthLine>) {
        self.episodes.sort_by_key(|e| e.spans.first().map(|s| s.0));
        let mut taken: BTreeMap<&BTreeMap<String, String>, Vec<(i64, i64)>> = BTreeMap::new();
        let mut events: Vec<(i64, usize, usize, bool)> = Vec::new();
        for (ei, e) in self.episodes.iter().enumerate() {
            let (Some(first), Some(last)) = (e.spans.first(), e.spans.last()) else {
                continue;
            };
            let from = first.0 - MIN;
            let to = last.1.unwrap_or(i64::MAX).saturating_add(MIN);
            let spans = taken.entry(&e.labels).or_default();
            if spans.iter().any(|&(a, b)| a < to && from < b) {
                continue;
            }
            spans.push((from, to));
            for (si, &(on, off)) in e.spans.iter().enumerate() {
                if on > self.horizon_ms {
                    break;
                }
                events.push((on, ei, si * 2, true));
                if let Some(off) = off.filter(|&o| o <= self.horizon_ms) {
                    events.push((off, ei, si * 2 + 1, false));
                }
            }
        }
        events.sort_unstable();
        let mut text = String::new();
        let mut truth = Vec::with_capacity(events.len());
        for (line, &(at, ei, _, firing)) in events.iter().enumerate() {
            let e = &self.episodes[ei];
            let mut annotations = BTreeMap::new();
            annotations.insert("summary", e.summary.as_str());
            let out = OutLine {
                at: argus_incident::replay::format_time(at),
                status: if firing { "firing" } else { "resolved" },
                labels: &e.labels,
                annotations,
            };
            text.push_str(&serde_json::to_string(&out).unwrap_or_default());
            text.push('\n');
            let g = &self.groups[e.group];
            truth.push(TruthLine {
                line,
                group: g.id.clone(),
                root: g.root.clone(),
                kind: g.kind,
            });
        }
        (text, truth)
    }
}

/// Generates the storm `cfg` describes.
pub fn generate(cfg: &StormConfig) -> Storm {
    let mut rng = SplitMix64::new(cfg.seed ^ 0x005e_ed0f_a1e7_5707);
    let world = World::build(&mut rng, cfg.services, cfg.nodes);
    let graph = world.graph_csv();
    let placement = world.placement_csv();
    // A weekday evening in 2026, so the nightly job falls inside longer storms.
    let start_ms = 1_772_488_800_000 + (cfg.seed % 5) as i64 * 86_400_000;
    let duration = cfg.duration_ms.max(10 * MIN);
    let mut g = Gen {
        rng,
        world,
        start_ms,
        horizon_ms: start_ms + duration + 30 * MIN,
        episodes: Vec::new(),
        groups: Vec::new(),
    };
    g.faults(cfg.faults, duration, cfg.node_failure_share);
    g.noise(duration, cfg.noise_rate);
    let (alerts, truth) = g.finish();
    Storm {
        alerts,
        graph,
        placement,
        truth,
    }
}
