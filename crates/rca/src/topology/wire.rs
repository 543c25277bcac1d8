//! Time lost on the way. A caller whose client side (the latency of the
//! calls it makes) rose by more than its callees' own latencies together
//! lost that time on the way to or from a callee: a network fault on the
//! callee's interface delays its answers (and its own calls), and the
//! callee's own latency does not show it. Only the graph can then name the
//! callee: it gets the votes of the callers that lost time on the way. A
//! callee that lost time on its own calls too is the source of both (its
//! interface delays what it sends either way), so its own votes are
//! withdrawn. Rises are compared only between families that name the same
//! unit of time.

use super::graph::Graph;
use super::kind::{is_client_side, is_latency, time_unit};
use super::own_latency;
use super::score::Scored;
use std::collections::{BTreeMap, BTreeSet};

/// The case against one callee: time lost on the way to or from it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Lost<'a> {
    /// `ln(1 + z)` of the largest loss its callers saw (in their client
    /// series' own scale), times the share of its callers reporting a
    /// client side that lost time.
    pub score: f64,
    /// That caller's client-side family.
    pub family: &'a str,
    /// The callers that lost time.
    pub callers: Vec<&'a str>,
}

fn rise(s: &Scored) -> f64 {
    s.value - s.level
}

/// The series' scale, from its score: `|value − level| / z`.
fn scale(s: &Scored) -> Option<f64> {
    (s.z > 0.0 && s.z.is_finite()).then(|| rise(s).abs() / s.z)
}

/// The callees suspected of losing time on the way, from each service's
/// own and client-side latency against the graph; `moved` is the least
/// `ln(1 + z)` that counts.
pub(super) fn lost_on_the_way<'a>(
    scored: &'a [Scored],
    graph: &Graph,
    moved: f64,
) -> BTreeMap<&'a str, Lost<'a>> {
    let mut out = BTreeMap::new();
    if graph.is_empty() {
        return out;
    }
    // Each service's largest rise of its own latency (0 when none rose),
    // with the unit of time its family names: rises are compared only in
    // one unit.
    let mut own: BTreeMap<&str, (f64, Option<&str>)> = BTreeMap::new();
    for s in scored.iter().filter(|s| own_latency(&s.family)) {
        let e = own
            .entry(s.service.as_str())
            .or_insert((0.0, time_unit(&s.family)));
        if e.1 != time_unit(&s.family) {
            e.1 = None;
        }
        e.0 = e.0.max(rise(s).max(0.0));
    }
    let comparable =
        |s: &Scored, o: &(f64, Option<&str>)| o.1.is_some() && o.1 == time_unit(&s.family);
    // Each service's client side that rose the most (in its own z).
    let mut client: BTreeMap<&str, &Scored> = BTreeMap::new();
    for s in scored
        .iter()
        .filter(|s| is_client_side(&s.family) && is_latency(&s.family) && s.rose())
    {
        let e = client.entry(s.service.as_str()).or_insert(s);
        if s.z > e.z {
            *e = s;
        }
    }
    let reporting: BTreeSet<&str> = scored
        .iter()
        .filter(|s| is_client_side(&s.family) && is_latency(&s.family))
        .map(|s| s.service.as_str())
        .collect();
    // The callers that lost time on the way, with their loss and callees.
    let mut voters: BTreeMap<&str, (f64, &Scored, Vec<&str>)> = BTreeMap::new();
    for (&u, &s) in &client {
        if s.z.ln_1p() < moved {
            continue;
        }
        // Every callee must have a latency of its own in the same unit (one
        // without could explain the wait); the names are the scored ones.
        let callees: Option<Vec<&str>> = graph
            .callees_of(u)
            .map(|c| {
                own.get_key_value(c)
                    .filter(|(_, o)| comparable(s, o))
                    .map(|(k, _)| *k)
            })
            .collect();
        let Some(callees) = callees.filter(|c| !c.is_empty()) else {
            continue;
        };
        // At most the callees' own rises together, were they called one
        // after another.
        let explained: f64 = callees.iter().map(|c| own[c].0).sum();
        let Some(sc) = scale(s) else {
            continue;
        };
        let strength = ((rise(s) - explained) / sc).max(0.0).ln_1p();
        if strength >= moved {
            voters.insert(u, (strength, s, callees));
        }
    }
    let voted: BTreeSet<&str> = voters.values().flat_map(|v| v.2.iter().copied()).collect();
    let mut votes: BTreeMap<&str, Vec<(&str, f64, &Scored)>> = BTreeMap::new();
    for (&u, (strength, s, callees)) in &voters {
        // A voter that is voted for lost time both ways: the source.
        if voted.contains(u) {
            continue;
        }
        for &c in callees {
            votes.entry(c).or_default().push((u, *strength, s));
        }
    }
    for (c, v) in votes {
        let callers = graph
            .callers_of(c)
            .filter(|u| reporting.contains(u))
            .count()
            .max(v.len());
        let Some(best) = v.iter().max_by(|a, b| a.1.total_cmp(&b.1)) else {
            continue;
        };
        out.insert(
            c,
            Lost {
                score: best.1 * v.len() as f64 / callers as f64,
                family: best.2.family.as_str(),
                callers: v.iter().map(|x| x.0).collect(),
            },
        );
    }
    out
}
