//! Topology-aware ranking of the services (and their metrics) that most
//! likely caused an incident.
//!
//! [`rank`] takes the series of a window around the incident's start (with
//! the history before it), optionally the same series over a normal period,
//! the start, the service or metric that alerted, and the call graph as
//! `(caller, callee)` edges; it returns a [`Ranking`] of [`Suspect`]s, best
//! first, each with its strongest metric, a [`Kind`] and a sentence of
//! evidence. It is pure and deterministic: the server reads the series from
//! the store and calls it live; `argus eval rca-topology` calls it offline.
//!
//! How a service is scored:
//! 1. **Placing.** A series counts for the value of its `service` label; an
//!    edge series (source and destination labels, no service) counts for its
//!    destination, weighted by [`Settings::edge_weight`], and adds its edge to
//!    the graph. Unlabelled series (front-end SLIs) are not candidates. A
//!    series that another service's series of the same family repeats
//!    point for point (a machine's cpu beside each pod on it) is weighted by
//!    [`Settings::shared_weight`]: it cannot tell those services apart. So
//!    is a client-side series (`client` or `outbound` in its family name:
//!    the latency of the calls a service makes), which moves with the
//!    service's callees as much as with the service.
//! 2. **Per series.** Counters (`_total` families that never fall) become
//!    rates. The points from the start on are summed up by one value (the
//!    second furthest from the normal level when there are three or more,
//!    so one spike is not a move) and measured in robust z units against the
//!    normal period *and* the history before the start, keeping the smaller
//!    (the more conservative; but a history of at least
//!    [`Settings::history_points`] points that disagrees with the normal
//!    period about the level is used alone, since the service was rescaled
//!    or redeployed since); a level already reached in the last points
//!    before the start (an earlier incident) is no news. The scale is the
//!    MAD, floored by a fraction of the series' own level and by a fraction
//!    of its family's typical magnitude, so an idle series with near-zero
//!    variance does not turn a tiny blip into a huge score. For what adds
//!    up over services (cpu, memory, bytes, requests) that magnitude is the
//!    size of the series that carry the bulk of it, however many idle
//!    services sit near zero. A success rate
//!    or an availability (0–1 or 0–100) is sized by the share that fails:
//!    99.9 % is 0.1 % failing, so its own floor is a fraction of that.
//! 3. **Per service.** The best series, plus [`Settings::second_weight`] times
//!    the second best: a service is as anomalous as its clearest metric, not
//!    as its number of metrics. When the entry's metric is of the error kind
//!    (the incident was seen by failing requests), a service's latency and
//!    traffic series, and its error series that moved the healthy way, count
//!    at [`Settings::entry_kind_weight`] (0): only its failing requests and
//!    its cpu and memory say whether it caused the failures. One exception:
//!    requests that time out fail at the caller, not at the slow callee. A
//!    service whose latency rose, that reports cpu or memory of its own, and
//!    that a failing service calls (one whose own callees do not fail) keeps
//!    its latency series in full.
//! 4. **Graph.** A moving service with a callee (up to
//!    [`Settings::downstream_depth`] hops, through nodes without metrics) that
//!    moved about as much is more likely a victim than the root, so its score
//!    is multiplied by [`Settings::downstream_penalty`]. With an entry
//!    service, services the entry cannot reach are multiplied by
//!    [`Settings::unreachable_penalty`]; a moving service it reaches only
//!    through callers that did not move (each hop at robust z
//!    [`Settings::path_z`] or more, or without metrics: the anomaly traversal
//!    from the entry) by [`Settings::path_penalty`]. A caller whose client
//!    side (the latency of its calls) rose by more than its callees' own
//!    latencies together lost that time on the way: its callees get that
//!    loss as evidence of their own (a network fault on a callee's
//!    interface delays its answers, which its own latency does not show),
//!    unless the caller is itself such a callee (then its interface is the
//!    source of both). See `wire.rs`.
//! 5. **Kind.** A rising cpu or memory series among the service's moving
//!    series makes it cpu or memory; else an error or success-rate series
//!    makes it code; else latency and traffic make it network. The words
//!    read from family names are listed in `kind.rs`.
//!
//! ```
//! use argus_model::Labels;
//! use argus_rca::topology::{rank, Case, Kind, Series, Settings};
//!
//! let minute = 60_000;
//! let start = 60 * minute;
//! let series = |svc: &str, fam: &str, f: &dyn Fn(i64) -> f64| Series {
//!     labels: Labels::from_pairs(&[("__name__", fam), ("service", svc)]),
//!     samples: (0..65).map(|i| (i * minute, f(i))).collect(),
//! };
//! let wobble = |i: i64| ((i * 7919) % 13) as f64 / 13.0;
//! let case = Case {
//!     window: vec![
//!         // The front end's latency follows its callee's.
//!         series("front", "latency_seconds", &|i| 0.1 + 0.01 * wobble(i) + if i >= 60 { 0.3 } else { 0.0 }),
//!         series("cart", "latency_seconds", &|i| 0.02 + 0.002 * wobble(i) + if i >= 60 { 0.3 } else { 0.0 }),
//!         series("cart", "cpu_usage", &|i| 0.2 + 0.02 * wobble(i) + if i >= 60 { 1.0 } else { 0.0 }),
//!         series("front", "cpu_usage", &|i| 0.3 + 0.02 * wobble(i)),
//!     ],
//!     start_ms: start,
//!     edges: vec![("front".into(), "cart".into())],
//!     ..Case::default()
//! };
//! let ranking = rank(&case, &Settings::default()).unwrap();
//! assert_eq!(ranking.suspects[0].service, "cart");
//! assert_eq!(ranking.suspects[0].kind, Kind::Cpu);
//! assert_eq!(ranking.suspects[0].metric, "cpu_usage");
//! assert!(ranking.suspects[0].evidence.contains("rose"));
//! ```

mod baseline;
mod graph;
mod kind;
mod score;
mod settings;
mod stats;
#[cfg(test)]
mod synth;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_entry;
#[cfg(test)]
mod tests_wire;
mod wire;

pub use baseline::zscore_baseline;
pub use kind::Kind;
pub use settings::Settings;

use argus_model::Labels;
use graph::Graph;
use kind::{fails_falling, is_client_side, is_latency, signal_of, Signal};
use score::Scored;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One series: its labels (`__name__` included) and its samples as
/// `(milliseconds, value)`, in any order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// The label set.
    pub labels: Labels,
    /// `(timestamp ms, value)` pairs.
    pub samples: Vec<(i64, f64)>,
}

/// Where the incident was first seen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    /// The service that alerted, if known.
    pub service: Option<String>,
    /// The metric (or kind of metric) that alerted, if known.
    pub metric: Option<String>,
}

/// Everything [`rank`] looks at.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Case {
    /// The series of a window around the start, with the history before it.
    pub window: Vec<Series>,
    /// The same series over a normal period (matched by label set); may be empty.
    pub normal: Vec<Series>,
    /// When the incident started (ms).
    pub start_ms: i64,
    /// Where it was first seen.
    pub entry: Option<Entry>,
    /// Call edges `(caller, callee)`; may be empty.
    pub edges: Vec<(String, String)>,
}

/// One ranked service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suspect {
    /// The service (the value of its service label).
    pub service: String,
    /// Higher is more likely: `ln(1 + z)` of its best series' robust z
    /// score, after the graph's adjustments.
    pub score: f64,
    /// The metric family that points there.
    pub metric: String,
    /// The kind of fault it points to.
    pub kind: Kind,
    /// A short sentence saying what moved, by how much and when.
    pub evidence: String,
}

/// The suspects, best first.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Ranking {
    /// Best first; ties broken by service name.
    pub suspects: Vec<Suspect>,
}

/// Why [`rank`] refused its input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TopologyError {
    /// A setting is out of its range.
    #[error("setting {name} is {value}, which is out of range: {expected}")]
    InvalidSetting {
        /// The field of [`Settings`].
        name: &'static str,
        /// The value given.
        value: f64,
        /// What it must be.
        expected: &'static str,
    },
}

/// Ranks the services of `case`, most likely root cause first.
pub fn rank(case: &Case, settings: &Settings) -> Result<Ranking, TopologyError> {
    settings.validate()?;
    let mut placed: Vec<score::Placed<'_>> = case
        .window
        .iter()
        .filter_map(|s| score::place(s, settings))
        .collect();
    score::weigh_shared(&mut placed, settings.shared_weight);
    let graph = Graph::new(
        case.edges
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .chain(
                placed
                    .iter()
                    .filter_map(|p| p.edge.as_ref().map(|(a, b)| (a.as_str(), b.as_str()))),
            ),
    );
    let scored = score::score_all(&placed, &case.normal, case.start_ms, settings);
    let moved = settings.anomalous_z.ln_1p();
    // With an entry seen by failing requests, latency and traffic count at
    // `entry_kind_weight`; a service's series are ordered by what counts,
    // so its evidence names the series its score comes from.
    let entry_signal = case
        .entry
        .as_ref()
        .and_then(|e| e.metric.as_deref())
        .map(signal_of)
        .filter(|s| *s == Signal::Errors);
    // Requests that fail because a callee got slow (their calls to it time
    // out) fail at the callers, not at the slow service: a service whose
    // latency rose and that a failing service calls keeps its latency.
    let timed_out = match entry_signal {
        Some(_) if !graph.is_empty() => slow_callees_of_failing(&scored, &graph, moved, settings),
        _ => BTreeSet::new(),
    };
    let weighted = |s: &Scored| match entry_signal {
        _ if own_latency(&s.family) && s.rose() && timed_out.contains(s.service.as_str()) => {
            s.score
        }
        Some(e) if !matches!(s.signal, Signal::Cpu | Signal::Memory) && s.signal != e => {
            s.score * settings.entry_kind_weight
        }
        // An error-kind series that moved the healthy way (a success rate
        // up, errors down) does not show failing requests either.
        Some(_) if failing_way(s) == Some(false) => s.score * settings.entry_kind_weight,
        _ => s.score,
    };
    // Each series' weighted score, computed once (the weight reads the
    // family's words), then each service's series best first.
    let mut by_service: BTreeMap<&str, Vec<(f64, &Scored)>> = BTreeMap::new();
    for s in &scored {
        by_service
            .entry(s.service.as_str())
            .or_default()
            .push((weighted(s), s));
    }
    for v in by_service.values_mut() {
        v.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| a.1.family.cmp(&b.1.family))
        });
    }
    let mut raw: BTreeMap<&str, f64> = by_service
        .iter()
        .map(|(svc, v)| {
            let second = v.get(1).map_or(0.0, |s| s.0);
            (*svc, v[0].0 + settings.second_weight * second)
        })
        .collect();
    // Time lost on the way to or from a callee, read from its callers'
    // client side against its own latency: the callee's evidence when it
    // has none stronger of its own.
    let mut lost = wire::lost_on_the_way(&scored, &graph, moved);
    lost.retain(|c, l| raw.get(c).is_some_and(|r| l.score > *r));
    for (c, l) in &lost {
        raw.insert(c, l.score);
    }
    let entry_reach = case
        .entry
        .as_ref()
        .and_then(|e| e.service.as_deref())
        .filter(|e| !graph.is_empty() && graph.contains(e))
        .map(|e| {
            let mut r = graph.downstream(e, usize::MAX);
            r.insert(e);
            r
        });
    // The services the entry reaches through moving callees (or callees
    // without metrics): where the notebook-style traversal can go.
    let hop = settings.path_z.ln_1p();
    let path_reach = case
        .entry
        .as_ref()
        .and_then(|e| e.service.as_deref())
        .filter(|_| entry_reach.is_some())
        .map(|e| graph.reach_through(e, |n| raw.get(n).is_none_or(|z| *z >= hop)));
    let mut onsets: BTreeMap<&str, i64> = BTreeMap::new();
    let mut suspects: Vec<Suspect> = by_service
        .iter()
        .map(|(svc, series)| {
            let mut score = raw[svc];
            let mut notes = String::new();
            if score >= moved && !graph.is_empty() {
                let victim_of = graph
                    .downstream(svc, settings.downstream_depth)
                    .into_iter()
                    .filter(|u| u != svc)
                    .filter_map(|u| raw.get(u).map(|z| (u, *z)))
                    .filter(|(_, z)| *z >= moved && *z >= settings.downstream_ratio * score)
                    .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(a.0)));
                if let Some((u, _)) = victim_of {
                    score *= settings.downstream_penalty;
                    notes.push_str(&format!("; its callee {u} moved as much"));
                }
            }
            if let Some(reach) = &entry_reach {
                if !reach.contains(svc) {
                    score *= settings.unreachable_penalty;
                    notes.push_str("; not reachable from the entry");
                } else if score >= moved && path_reach.as_ref().is_some_and(|p| !p.contains(*svc)) {
                    score *= settings.path_penalty;
                    notes.push_str("; no moving path from the entry");
                }
            }
            let (kind, top) = kind_of(series, settings.kind_share);
            if let Some(t) = top.onset_ms {
                onsets.insert(svc, t);
            }
            if timed_out.contains(svc) && own_latency(&top.family) {
                notes.push_str("; services calling it fail (their calls time out)");
            }
            if let Some(l) = lost.get(svc) {
                return Suspect {
                    service: svc.to_string(),
                    score,
                    metric: l.family.to_string(),
                    kind: Kind::Network,
                    evidence: format!(
                        "calls to it from {} lost time on the way ({} rose more than its own latency){notes}",
                        l.callers.join(", "),
                        l.family
                    ),
                };
            }
            Suspect {
                service: svc.to_string(),
                score,
                metric: top.family.clone(),
                kind,
                evidence: format!("{}{notes}", evidence(top, case.start_ms)),
            }
        })
        .collect();
    suspects.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.service.cmp(&b.service))
    });
    earliest_first(&mut suspects, &onsets, moved, settings.onset_share);
    Ok(Ranking { suspects })
}

/// Whether an error-kind series moved the way failing requests move it
/// (errors up, a success rate down); `None` for other series and for error
/// families whose name does not say which way they go.
fn failing_way(s: &Scored) -> Option<bool> {
    if s.signal != Signal::Errors {
        return None;
    }
    fails_falling(&s.family).map(|falls| falls != s.rose())
}

/// The services whose own latency (not a client-side one) rose (robust z
/// at least `anomalous_z`), that report cpu or memory of their own, and
/// that a failing service (an error-kind series that moved the failing way
/// as much) whose own callees do not fail calls, within `downstream_depth`
/// hops. A node known only by latency and traffic (an external endpoint, a
/// managed table, a function seen by tracing) is left out: its latency may
/// be its callers' view of their own calls.
fn slow_callees_of_failing<'a>(
    scored: &'a [Scored],
    graph: &Graph,
    moved: f64,
    settings: &Settings,
) -> BTreeSet<&'a str> {
    let inside: BTreeSet<&str> = scored
        .iter()
        .filter(|s| matches!(s.signal, Signal::Cpu | Signal::Memory))
        .map(|s| s.service.as_str())
        .collect();
    let slow: BTreeSet<&str> = scored
        .iter()
        .filter(|s| own_latency(&s.family) && s.rose() && s.score >= moved)
        .map(|s| s.service.as_str())
        .filter(|svc| inside.contains(svc))
        .collect();
    let failing: BTreeSet<&str> = scored
        .iter()
        .filter(|s| s.score >= moved && failing_way(s) == Some(true))
        .map(|s| s.service.as_str())
        .collect();
    let below = |f: &str| -> Vec<String> {
        graph
            .downstream(f, settings.downstream_depth)
            .into_iter()
            .filter(|c| *c != f)
            .map(str::to_string)
            .collect()
    };
    let mut out = BTreeSet::new();
    // Only where failures begin: a failing service whose callees do not
    // fail themselves (else those callees explain its failures).
    for f in &failing {
        let callees = below(f);
        if callees.iter().any(|c| failing.contains(c.as_str())) {
            continue;
        }
        out.extend(callees.iter().filter_map(|c| slow.get(c.as_str()).copied()));
    }
    out
}

/// A latency the service measures of itself (not of the calls it makes).
pub(super) fn own_latency(family: &str) -> bool {
    is_latency(family) && !is_client_side(family)
}

/// Among the leading moving suspects (score at least `share` of the best),
/// moves the one whose move began first to the front, if it began strictly
/// before the leader's.
fn earliest_first(suspects: &mut [Suspect], onsets: &BTreeMap<&str, i64>, moved: f64, share: f64) {
    let Some(lead) = suspects.first() else {
        return;
    };
    if share <= 0.0 || lead.score < moved {
        return;
    }
    let floor = (share * lead.score).max(moved);
    let lead_onset = onsets.get(lead.service.as_str()).copied();
    let earliest = suspects
        .iter()
        .enumerate()
        .take_while(|(_, s)| s.score >= floor)
        .filter_map(|(i, s)| onsets.get(s.service.as_str()).map(|t| (i, *t)))
        .min_by_key(|&(i, t)| (t, i));
    if let (Some((i, t)), Some(l)) = (earliest, lead_onset) {
        if i > 0 && t < l {
            suspects[..=i].rotate_right(1);
            let e = &mut suspects[0].evidence;
            e.push_str("; it moved before the others");
        }
    }
}

/// The kind of a service and the series that decided it. `series` is
/// sorted best first and not empty.
fn kind_of<'a>(series: &[(f64, &'a Scored)], share: f64) -> (Kind, &'a Scored) {
    let best = series[0].1;
    let strong = series
        .iter()
        .map(|s| s.1)
        .filter(|s| s.score > 0.0 && s.score >= share * best.score);
    let mut resource: Option<&Scored> = None;
    let mut errors: Option<&Scored> = None;
    for s in strong {
        match s.signal {
            Signal::Cpu | Signal::Memory if s.rose() => {
                resource = resource.or(Some(s));
            }
            Signal::Errors => errors = errors.or(Some(s)),
            _ => {}
        }
    }
    if let Some(s) = resource {
        return (s.signal.kind(), s);
    }
    if let Some(s) = errors {
        return (Kind::Code, s);
    }
    (best.signal.kind(), best)
}

/// "cpu_usage rose 4.2x (0.2 to 0.84) at 10:02 UTC, 3 minutes before the start".
fn evidence(s: &Scored, start_ms: i64) -> String {
    let dir = if s.rose() { "rose" } else { "fell" };
    let by = if s.level.abs() > 1e-12 && s.value / s.level > 0.0 {
        let r = s.value / s.level;
        if r >= 1.0 {
            format!(" {r:.1}x")
        } else {
            format!(" to {:.0} %", r * 100.0)
        }
    } else {
        String::new()
    };
    let when = match s.onset_ms {
        None => format!("after the start, robust z {:.1}", s.z),
        Some(t) => {
            let clock = argus_model::time::format_rfc3339_ms(t, argus_model::time::Fraction::Omit)
                .and_then(|d| d.get(11..16).map(str::to_string))
                .unwrap_or_else(|| t.to_string());
            let mins = (start_ms - t) / 60_000;
            let rel = match mins {
                0 => "at the start".to_string(),
                1 => "1 minute before the start".to_string(),
                -1 => "1 minute after the start".to_string(),
                m if m > 0 => format!("{m} minutes before the start"),
                m => format!("{} minutes after the start", -m),
            };
            format!("at {clock} UTC, {rel}")
        }
    };
    format!(
        "{}{} {dir}{by} ({} to {}) {when}",
        s.family,
        if s.family.is_empty() { "(unnamed)" } else { "" },
        num(s.level),
        num(s.value)
    )
}

/// Three significant digits, without exponent for everyday magnitudes.
fn num(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if (1e-3..1e6).contains(&a) {
        let digits = (2 - a.log10().floor() as i32).max(0) as usize;
        format!("{x:.digits$}")
    } else {
        format!("{x:.2e}")
    }
}
