//! The call graph: who calls whom, what each node reaches, and the two
//! rules that use it (a caller whose callee moved as much is a victim; a
//! service the entry cannot reach is less likely).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Callers to callees; nodes without metrics are kept, so reachability goes
/// through them.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    callees: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    pub fn new<'a>(edges: impl IntoIterator<Item = (&'a str, &'a str)>) -> Graph {
        let mut g = Graph::default();
        for (a, b) in edges {
            if a != b {
                g.callees
                    .entry(a.to_string())
                    .or_default()
                    .insert(b.to_string());
            }
        }
        g
    }

    pub fn is_empty(&self) -> bool {
        self.callees.is_empty()
    }

    pub fn contains(&self, node: &str) -> bool {
        self.callees.contains_key(node) || self.callees.values().any(|c| c.contains(node))
    }

    /// Every node reachable from `from` through callee edges, at most
    /// `depth` hops away (`from` itself excluded unless on a cycle).
    pub fn downstream(&self, from: &str, depth: usize) -> BTreeSet<&str> {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut queue: VecDeque<(&str, usize)> = VecDeque::new();
        queue.push_back((from, 0));
        while let Some((n, d)) = queue.pop_front() {
            if d >= depth {
                continue;
            }
            if let Some(cs) = self.callees.get(n) {
                for c in cs {
                    if seen.insert(c.as_str()) {
                        queue.push_back((c.as_str(), d + 1));
                    }
                }
            }
        }
        seen
    }
}

impl Graph {
    /// The nodes `n` calls directly.
    pub fn callees_of(&self, n: &str) -> impl Iterator<Item = &str> {
        self.callees
            .get(n)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// The nodes that call `n` directly.
    pub fn callers_of<'a>(&'a self, n: &'a str) -> impl Iterator<Item = &'a str> {
        self.callees
            .iter()
            .filter(move |(_, cs)| cs.contains(n))
            .map(|(a, _)| a.as_str())
    }

    /// `from` and every node reachable from it through callees that `pass`
    /// accepts (a refused callee is neither entered nor reached).
    pub fn reach_through(&self, from: &str, pass: impl Fn(&str) -> bool) -> BTreeSet<String> {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        seen.insert(from.to_string());
        let mut queue: VecDeque<&str> = VecDeque::from([from]);
        while let Some(n) = queue.pop_front() {
            for c in self.callees.get(n).into_iter().flatten() {
                if pass(c) && seen.insert(c.clone()) {
                    queue.push_back(c.as_str());
                }
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reachability_goes_through_nodes_without_metrics() {
        let g = Graph::new([("a", "b"), ("b", "c"), ("c", "a"), ("x", "y")]);
        assert!(!g.is_empty() && g.contains("y") && !g.contains("z"));
        let d = g.downstream("a", 8);
        assert_eq!(d.into_iter().collect::<Vec<_>>(), vec!["a", "b", "c"]);
        assert_eq!(g.downstream("a", 1).len(), 1);
        assert!(g.downstream("y", 8).is_empty());
        let r = g.reach_through("a", |n| n != "c");
        assert_eq!(r.into_iter().collect::<Vec<_>>(), vec!["a", "b"]);
    }
}
