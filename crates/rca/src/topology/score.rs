//! Per-series scoring: how far the points after the start stand from the
//! series' normal level, in units of a scale that cannot collapse to zero.

use super::kind::{fails_falling, is_client_side, is_latency, signal_of, Signal};
use super::stats::{clean, median, median_mad, quantile, volume_quantile};
use super::{Series, Settings};
use std::collections::{BTreeMap, HashMap};

/// One scored series.
#[derive(Debug, Clone)]
pub(crate) struct Scored {
    /// The service it counts for.
    pub service: String,
    /// The metric family (`__name__`).
    pub family: String,
    /// What the family measures.
    pub signal: Signal,
    /// The robust z score (capped), before weighting.
    pub z: f64,
    /// `weight · ln(1 + z)`: what services are compared by.
    pub score: f64,
    /// The normal level (median of the baseline used).
    pub level: f64,
    /// The representative value after the start.
    pub value: f64,
    /// When the move began (ms), if it crossed the threshold.
    pub onset_ms: Option<i64>,
}

impl Scored {
    /// True when the value rose above its normal level.
    pub fn rose(&self) -> bool {
        self.value > self.level
    }
}

/// A series placed: which service it counts for, with which weight, and
/// the call edge it names, if any.
pub(crate) struct Placed<'a> {
    pub series: &'a Series,
    pub family: String,
    pub service: String,
    pub weight: f64,
    pub edge: Option<(String, String)>,
}

/// Finds the service of a series: its service label, else the destination
/// of an edge series (source and destination labels). Unlabelled series
/// (front-end SLIs) are left out.
pub(crate) fn place<'a>(s: &'a Series, set: &Settings) -> Option<Placed<'a>> {
    let family = s.labels.metric_name().unwrap_or("").to_string();
    if let Some(svc) = s.labels.get(&set.service_label) {
        // A client-side series moves with the service's callees as much as
        // with the service: like a series shared with them, it cannot tell
        // which of them is at fault.
        let weight = if is_client_side(&family) {
            set.shared_weight
        } else {
            1.0
        };
        return Some(Placed {
            series: s,
            family,
            service: svc.to_string(),
            weight,
            edge: None,
        });
    }
    let find = |names: &[String]| names.iter().find_map(|n| s.labels.get(n));
    let src = find(&set.source_labels)?;
    let dst = find(&set.destination_labels)?;
    Some(Placed {
        series: s,
        family,
        service: dst.to_string(),
        weight: set.edge_weight,
        edge: Some((src.to_string(), dst.to_string())),
    })
}

/// Multiplies by `weight` the weight of every series whose family and
/// samples (times and values, bit for bit) another service's series also
/// has: one machine's metric reported beside each pod on it. Series of
/// fewer than two distinct values are left alone (an idle counter is the
/// same everywhere and moves nowhere).
pub(crate) fn weigh_shared(placed: &mut [Placed<'_>], weight: f64) {
    if weight >= 1.0 {
        return;
    }
    let key = |p: &Placed<'_>| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&p.family, &mut h);
        for &(t, v) in &p.series.samples {
            std::hash::Hash::hash(&t, &mut h);
            std::hash::Hash::hash(&v.to_bits(), &mut h);
        }
        std::hash::Hasher::finish(&h)
    };
    let varied = |p: &Placed<'_>| {
        let s = &p.series.samples;
        s.iter().any(|x| x.1.to_bits() != s[0].1.to_bits())
    };
    let keys: Vec<Option<u64>> = placed.iter().map(|p| varied(p).then(|| key(p))).collect();
    let mut services: HashMap<u64, Vec<&str>> = HashMap::new();
    for (p, k) in placed.iter().zip(&keys) {
        if let Some(k) = k {
            let v = services.entry(*k).or_default();
            if !v.contains(&p.service.as_str()) {
                v.push(p.service.as_str());
            }
        }
    }
    let shared: Vec<bool> = keys
        .iter()
        .map(|k| k.is_some_and(|k| services.get(&k).is_some_and(|v| v.len() > 1)))
        .collect();
    for (p, s) in placed.iter_mut().zip(shared) {
        if s {
            p.weight *= weight;
        }
    }
}

/// Scores every placed series of the window against its history before the
/// start and against the matching normal-period series.
pub(crate) fn score_all(
    placed: &[Placed<'_>],
    normal: &[Series],
    start_ms: i64,
    set: &Settings,
) -> Vec<Scored> {
    let normal_by_labels: HashMap<&argus_model::Labels, &Series> =
        normal.iter().map(|s| (&s.labels, s)).collect();
    let cleaned: Vec<Vec<(i64, f64)>> = placed
        .iter()
        .map(|p| clean(&p.family, &p.series.samples))
        .collect();
    let cleaned_normal: Vec<Option<Vec<f64>>> = placed
        .iter()
        .map(|p| {
            normal_by_labels.get(&p.series.labels).map(|n| {
                clean(&p.family, &n.samples)
                    .into_iter()
                    .map(|x| x.1)
                    .collect()
            })
        })
        .collect();
    // The typical magnitude of each family, from each series' median
    // absolute value in the window. What adds up over services (cpu,
    // memory, bytes and requests) is sized by the series that carry the
    // bulk of it (the volume-weighted median), so that many idle services
    // near zero do not shrink it, and with it the floor that keeps their
    // blips small; a level (a latency, a success rate) by the upper
    // quartile over the family's series.
    let mut levels: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for (p, c) in placed.iter().zip(&cleaned) {
        let abs: Vec<f64> = c.iter().map(|x| x.1.abs()).collect();
        if let Some(m) = median(&abs) {
            levels.entry(p.family.as_str()).or_default().push(m);
        }
    }
    let family_level: BTreeMap<&str, f64> = levels
        .into_iter()
        .map(|(f, v)| {
            let level = if adds_up(f) {
                volume_quantile(&v, 0.5)
            } else {
                quantile(&v, 0.75)
            };
            (f, level.unwrap_or(0.0))
        })
        .collect();
    placed
        .iter()
        .zip(cleaned.iter().zip(&cleaned_normal))
        .filter_map(|(p, (c, n))| {
            let fam = family_level.get(p.family.as_str()).copied().unwrap_or(0.0);
            score_one(p, c, n.as_deref(), fam, start_ms, set)
        })
        .collect()
}

/// Whether a family measures something that adds up over services and
/// scales with their load (cpu, memory, bytes, requests), rather than a
/// level each service has whatever its load (a latency, a share).
fn adds_up(family: &str) -> bool {
    match signal_of(family) {
        Signal::Cpu | Signal::Memory => true,
        Signal::Network => !is_latency(family),
        Signal::Errors | Signal::Other => false,
    }
}

/// A baseline: its level and its floored scale.
struct Base {
    level: f64,
    scale: f64,
}

fn base(xs: &[f64], family_level: f64, falls: bool, set: &Settings) -> Option<Base> {
    let (m, s) = median_mad(xs)?;
    // A share of requests that succeed (0–1 or 0–100) is measured by the
    // share that fails: 99.9 % is 0.1 % failing, and its floor is a
    // fraction of that.
    let size = match falls {
        true if (0.0..=1.0).contains(&m) => 1.0 - m,
        true if (0.0..=100.0).contains(&m) => 100.0 - m,
        _ => m.abs(),
    };
    let scale = s
        .max(set.relative_floor * size)
        .max(set.family_floor * family_level)
        .max(f64::MIN_POSITIVE);
    Some(Base { level: m, scale })
}

fn score_one(
    p: &Placed<'_>,
    samples: &[(i64, f64)],
    normal: Option<&[f64]>,
    family_level: f64,
    start_ms: i64,
    set: &Settings,
) -> Option<Scored> {
    let split = samples.partition_point(|s| s.0 < start_ms);
    let (before, after) = samples.split_at(split);
    if after.is_empty() {
        return None;
    }
    let hist: Vec<f64> = before.iter().map(|s| s.1).collect();
    let mut bases: Vec<Base> = Vec::new();
    let normal = normal.filter(|n| n.len() >= set.min_baseline_points);
    let falls = fails_falling(&p.family) == Some(true);
    if let Some(n) = normal {
        bases.extend(base(n, family_level, falls, set));
    }
    if hist.len() >= set.min_baseline_points || (bases.is_empty() && !hist.is_empty()) {
        bases.extend(base(&hist, family_level, falls, set));
    }
    // A long history that disagrees with the normal period about the level
    // (a deploy or a rescale since) is the better reference: the normal
    // period is dropped.
    if set.history_points > 0
        && hist.len() >= set.history_points
        && bases.len() == 2
        && (bases[0].level - bases[1].level).abs() > set.anomalous_z * bases[1].scale
    {
        bases.remove(0);
    }
    // The scoring baseline is the first (the normal period when there is
    // one); the others can only lower the score.
    let first = bases.first()?;
    let value = representative(after, first.level);
    let mut z = bases
        .iter()
        .map(|b| (value - b.level).abs() / b.scale)
        .fold(f64::INFINITY, f64::min);
    // A level reached before the start (an earlier incident still going) is
    // no news: score only the change from the last points before the start.
    if set.recent_points > 0 && !hist.is_empty() {
        let k = set.recent_points.min(hist.len());
        let recent = median(&hist[hist.len() - k..]).unwrap_or(first.level);
        let scale = bases.last().map_or(first.scale, |b| b.scale);
        z = z.min((value - recent).abs() / scale);
    }
    let z = z.min(set.max_z);
    let onset_ms = onset(before, after, first, set.anomalous_z);
    let signal = signal_of(&p.family);
    let resource = matches!(signal, Signal::Cpu | Signal::Memory) && value > first.level;
    let weight = p.weight * if resource { set.resource_weight } else { 1.0 };
    Some(Scored {
        service: p.service.clone(),
        family: p.family.clone(),
        signal,
        z,
        score: weight * z.ln_1p(),
        level: first.level,
        value,
        onset_ms,
    })
}

/// The value after the start that represents the move: the second furthest
/// from the level when there are three points or more (one spike is not a
/// move), else the furthest.
fn representative(after: &[(i64, f64)], level: f64) -> f64 {
    let mut v: Vec<f64> = after.iter().map(|s| s.1).collect();
    v.sort_by(|a, b| (b - level).abs().total_cmp(&(a - level).abs()));
    if v.len() >= 3 {
        v[1]
    } else {
        v[0]
    }
}

/// The first point after the start beyond the threshold, moved back over
/// the points just before the start that were already beyond it.
fn onset(before: &[(i64, f64)], after: &[(i64, f64)], b: &Base, thr: f64) -> Option<i64> {
    let beyond = |x: f64| (x - b.level).abs() / b.scale >= thr;
    let mut t = after.iter().find(|s| beyond(s.1))?.0;
    if after.first().map(|s| s.0) == Some(t) {
        for s in before.iter().rev().take(5) {
            if !beyond(s.1) {
                break;
            }
            t = s.0;
        }
    }
    Some(t)
}
