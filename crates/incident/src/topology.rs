//! The service graph: who calls whom. From the configuration (`topology:`
//! with `caller`/`callee` edges), from a `caller,callee` CSV file, and from
//! series the store already has (`traces_service_graph_request_total{client,
//! server}`, `istio_requests_total{source_workload,destination_workload}`).
//!
//! A fault travels from a callee to its callers: a slow database makes its
//! callers slow. [`Topology::relation`] says how two services are related
//! within a few hops, in which direction.
//!
//! ```
//! use argus_incident::topology::{Relation, Topology};
//!
//! let topo = Topology::from_csv("caller,callee\nfrontend,checkout\ncheckout,db\n").unwrap();
//! assert_eq!(topo.relation("frontend", "db", 3), Some(Relation::Caller(2)));
//! assert_eq!(topo.relation("db", "checkout", 3), Some(Relation::Callee(1)));
//! assert_eq!(topo.relation("db", "frontend", 1), None);
//! ```

use argus_model::Labels;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// One call edge: `caller` depends on `callee`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// The service that calls.
    pub caller: String,
    /// The service it calls.
    pub callee: String,
}

/// How service `a` relates to service `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Relation {
    /// The same service.
    Same,
    /// `a` calls `b`, directly (1) or through this many hops.
    Caller(u8),
    /// `b` calls `a`, through this many hops.
    Callee(u8),
    /// Neither calls the other, but they share a neighbour this many hops
    /// away in the undirected graph (two callers of one database).
    Sibling(u8),
}

impl Relation {
    /// Hops between the two (0 for the same service).
    pub fn hops(self) -> u8 {
        match self {
            Relation::Same => 0,
            Relation::Caller(h) | Relation::Callee(h) | Relation::Sibling(h) => h,
        }
    }
}

/// A line of a graph file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct GraphError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// The call graph.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    callees: BTreeMap<String, BTreeSet<String>>,
    callers: BTreeMap<String, BTreeSet<String>>,
    cache: HashMap<(String, String, u8), Option<Relation>>,
}

/// Pairs of labels that name the two ends of a call in well-known series.
pub const EDGE_LABELS: &[(&str, &str)] = &[
    ("client", "server"),
    ("source_workload", "destination_workload"),
    ("source_app", "destination_app"),
    ("source_service", "destination_service"),
];

impl Topology {
    /// A graph with these edges.
    pub fn from_edges<'a>(edges: impl IntoIterator<Item = &'a Edge>) -> Self {
        let mut t = Topology::default();
        for e in edges {
            t.add_call(&e.caller, &e.callee);
        }
        t
    }

    /// Reads `caller,callee` lines after that header; blank lines are skipped.
    pub fn from_csv(text: &str) -> Result<Self, GraphError> {
        let mut t = Topology::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if i == 0 {
                if line.replace(' ', "") != "caller,callee" {
                    return Err(GraphError {
                        line: 1,
                        reason: format!("the header must be `caller,callee`, not `{line}`"),
                    });
                }
                continue;
            }
            let mut parts = line.split(',').map(str::trim);
            match (parts.next(), parts.next(), parts.next()) {
                (Some(a), Some(b), None) if !a.is_empty() && !b.is_empty() => {
                    t.add_call(a, b);
                }
                _ => {
                    return Err(GraphError {
                        line: i + 1,
                        reason: format!("expected `caller,callee`, found `{line}`"),
                    });
                }
            }
        }
        Ok(t)
    }

    /// Adds the edge `caller → callee` (a self-call is ignored). True when it
    /// was new.
    pub fn add_call(&mut self, caller: &str, callee: &str) -> bool {
        if caller == callee || caller.is_empty() || callee.is_empty() {
            return false;
        }
        let new = self
            .callees
            .entry(caller.to_string())
            .or_default()
            .insert(callee.to_string());
        if new {
            self.callers
                .entry(callee.to_string())
                .or_default()
                .insert(caller.to_string());
            self.cache.clear();
        }
        new
    }

    /// Learns an edge from a series whose labels name both ends of a call.
    pub fn learn(&mut self, labels: &Labels) -> bool {
        EDGE_LABELS
            .iter()
            .any(|(c, s)| match (labels.get(c), labels.get(s)) {
                (Some(a), Some(b)) if a != "unknown" && b != "unknown" => self.add_call(a, b),
                _ => false,
            })
    }

    /// Every edge, sorted.
    pub fn edges(&self) -> Vec<Edge> {
        self.callees
            .iter()
            .flat_map(|(a, bs)| {
                bs.iter().map(move |b| Edge {
                    caller: a.clone(),
                    callee: b.clone(),
                })
            })
            .collect()
    }

    /// The services `s` calls directly.
    pub fn callees(&self, s: &str) -> impl Iterator<Item = &str> {
        self.callees
            .get(s)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// The services that call `s` directly.
    pub fn callers(&self, s: &str) -> impl Iterator<Item = &str> {
        self.callers
            .get(s)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// True when the graph names `s`.
    pub fn knows(&self, s: &str) -> bool {
        self.callees.contains_key(s) || self.callers.contains_key(s)
    }

    /// True when there are no edges.
    pub fn is_empty(&self) -> bool {
        self.callees.is_empty()
    }

    fn directed(&self, from: &str, to: &str, max: u8, down: bool) -> Option<u8> {
        let mut seen = BTreeSet::from([from]);
        let mut q = VecDeque::from([(from, 0u8)]);
        while let Some((s, d)) = q.pop_front() {
            if d >= max {
                continue;
            }
            let next: Box<dyn Iterator<Item = &str>> = if down {
                Box::new(self.callees(s))
            } else {
                Box::new(self.callers(s))
            };
            for n in next {
                if n == to {
                    return Some(d + 1);
                }
                if seen.insert(n) {
                    q.push_back((n, d + 1));
                }
            }
        }
        None
    }

    fn undirected(&self, from: &str, to: &str, max: u8) -> Option<u8> {
        let mut seen = BTreeSet::from([from]);
        let mut q = VecDeque::from([(from, 0u8)]);
        while let Some((s, d)) = q.pop_front() {
            if d >= max {
                continue;
            }
            for n in self.callees(s).chain(self.callers(s)) {
                if n == to {
                    return Some(d + 1);
                }
                if seen.insert(n) {
                    q.push_back((n, d + 1));
                }
            }
        }
        None
    }

    /// How `a` relates to `b` within `max` hops: the same, a (transitive)
    /// caller, a callee, or a sibling through a shared neighbour; `None`
    /// beyond `max`.
    pub fn relation(&self, a: &str, b: &str, max: u8) -> Option<Relation> {
        if a == b {
            return Some(Relation::Same);
        }
        if let Some(h) = self.directed(a, b, max, true) {
            return Some(Relation::Caller(h));
        }
        if let Some(h) = self.directed(a, b, max, false) {
            return Some(Relation::Callee(h));
        }
        self.undirected(a, b, max).map(Relation::Sibling)
    }

    /// [`Topology::relation`], remembered: the correlator asks the same pairs
    /// again and again.
    pub fn relation_cached(&mut self, a: &str, b: &str, max: u8) -> Option<Relation> {
        let key = (a.to_string(), b.to_string(), max);
        if let Some(r) = self.cache.get(&key) {
            return *r;
        }
        let r = self.relation(a, b, max);
        if self.cache.len() > 200_000 {
            self.cache.clear();
        }
        self.cache.insert(key, r);
        r
    }

    /// True when `a` reaches `b` by following calls (`a` depends on `b`).
    pub fn depends_on(&self, a: &str, b: &str, max: u8) -> bool {
        a != b && self.directed(a, b, max, true).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_errors_name_the_line() {
        let e = Topology::from_csv("caller,callee\na,b\nc\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(Topology::from_csv("from,to\n").is_err());
        assert!(Topology::from_csv("caller,callee\n").unwrap().is_empty());
    }

    #[test]
    fn siblings_share_a_callee() {
        let t = Topology::from_csv("caller,callee\na,db\nb,db\n").unwrap();
        assert_eq!(t.relation("a", "b", 2), Some(Relation::Sibling(2)));
        assert!(t.depends_on("a", "db", 3));
        assert!(!t.depends_on("db", "a", 3));
    }

    #[test]
    fn edges_are_learned_from_series() {
        let mut t = Topology::default();
        let l = Labels::from_pairs(&[
            ("__name__", "traces_service_graph_request_total"),
            ("client", "web"),
            ("server", "api"),
        ]);
        assert!(t.learn(&l));
        assert!(!t.learn(&l));
        assert_eq!(t.callees("web").collect::<Vec<_>>(), vec!["api"]);
    }
}
