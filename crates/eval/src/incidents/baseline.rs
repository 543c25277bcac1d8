//! Two simple online groupers to score Argus against, over the same parsed
//! alerts. Each firing alert joins the most recent open group it matches
//! (whose last alert is at most [`WINDOW_MS`] old) or opens a new one;
//! groups are never merged; resolved lines are ignored.
//!
//! - [`by_labels`]: alerts match when they share any value of the labels
//!   `service`, `job`, `pod`, `instance` (and its host part), `node`, `host`.
//!   Root: the first alert's `service` (and its `node`, else `host`).
//! - [`by_graph`]: alerts match when their service (`service`, else `job`)
//!   is the same as, or a direct neighbour in the call graph of, a service
//!   already in the group. Root: the group's most downstream service (the
//!   one the others call).
//!
//! ```
//! use argus_eval::incidents::baseline::{by_graph, by_labels};
//! use argus_incident::replay::read_alerts;
//! use argus_incident::topology::Topology;
//!
//! let alerts = read_alerts(concat!(
//!     r#"{"at":"2026-01-01T00:00:00Z","status":"firing","labels":{"service":"web"}}"#, "\n",
//!     r#"{"at":"2026-01-01T00:01:00Z","status":"firing","labels":{"job":"db"}}"#, "\n",
//! )).unwrap();
//! assert_eq!(by_labels(&alerts).roots.len(), 2);
//! let topo = Topology::from_csv("caller,callee\nweb,db\n").unwrap();
//! let g = by_graph(&alerts, &topo);
//! assert_eq!(g.roots.len(), 1);
//! assert_eq!(g.roots[0].service.as_deref(), Some("db"));
//! ```

use std::collections::{HashMap, HashSet};

use argus_incident::replay::{ReplayAlert, ReplayRoot};
use argus_incident::topology::Topology;

use super::{machine, Grouping};

/// How long after a group's last alert it still takes alerts.
pub const WINDOW_MS: i64 = 5 * 60_000;

struct Open {
    last_ms: i64,
    keys: HashSet<String>,
}

fn label_keys(a: &ReplayAlert) -> Vec<String> {
    let mut keys = Vec::new();
    for name in ["service", "job", "pod", "instance", "node", "host"] {
        if let Some(v) = a.labels.get(name) {
            keys.push(v.to_string());
            if name == "instance" || name == "host" {
                let m = machine(v);
                if m != v {
                    keys.push(m);
                }
            }
        }
    }
    keys
}

/// Groups alerts that share a service, instance or machine label value.
pub fn by_labels(alerts: &[ReplayAlert]) -> Grouping {
    let mut groups: Vec<Open> = Vec::new();
    let mut lists: Vec<(Vec<usize>, ReplayRoot)> = Vec::new();
    let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
    for a in alerts.iter().filter(|a| a.firing) {
        let keys = label_keys(a);
        let found = keys
            .iter()
            .filter_map(|k| by_key.get(k))
            .flatten()
            .copied()
            .filter(|&g| a.at_ms - groups[g].last_ms <= WINDOW_MS)
            .max_by_key(|&g| (groups[g].last_ms, g));
        let g = match found {
            Some(g) => g,
            None => {
                let root = ReplayRoot {
                    service: a.labels.get("service").map(str::to_string),
                    node: a
                        .labels
                        .get("node")
                        .or_else(|| a.labels.get("host"))
                        .map(str::to_string),
                };
                groups.push(Open {
                    last_ms: a.at_ms,
                    keys: HashSet::new(),
                });
                lists.push((Vec::new(), root));
                groups.len() - 1
            }
        };
        groups[g].last_ms = a.at_ms;
        lists[g].0.push(a.line);
        for k in keys {
            if groups[g].keys.insert(k.clone()) {
                by_key.entry(k).or_default().push(g);
            }
        }
    }
    Grouping::from_lists(lists)
}

fn service_of(a: &ReplayAlert) -> Option<&str> {
    a.labels.get("service").or_else(|| a.labels.get("job"))
}

/// Groups alerts of the same or neighbouring services in the call graph.
pub fn by_graph(alerts: &[ReplayAlert], topo: &Topology) -> Grouping {
    let mut groups: Vec<Open> = Vec::new();
    let mut services: Vec<Vec<String>> = Vec::new();
    let mut lines: Vec<Vec<usize>> = Vec::new();
    let mut by_service: HashMap<String, Vec<usize>> = HashMap::new();
    for a in alerts.iter().filter(|a| a.firing) {
        let svc = service_of(a);
        let found = svc.and_then(|s| {
            let near = std::iter::once(s)
                .chain(topo.callers(s))
                .chain(topo.callees(s));
            near.filter_map(|n| by_service.get(n))
                .flatten()
                .copied()
                .filter(|&g| a.at_ms - groups[g].last_ms <= WINDOW_MS)
                .max_by_key(|&g| (groups[g].last_ms, g))
        });
        let g = match found {
            Some(g) => g,
            None => {
                groups.push(Open {
                    last_ms: a.at_ms,
                    keys: HashSet::new(),
                });
                services.push(Vec::new());
                lines.push(Vec::new());
                groups.len() - 1
            }
        };
        groups[g].last_ms = a.at_ms;
        lines[g].push(a.line);
        if let Some(s) = svc {
            if groups[g].keys.insert(s.to_string()) {
                services[g].push(s.to_string());
                by_service.entry(s.to_string()).or_default().push(g);
            }
        }
    }
    let lists = lines
        .into_iter()
        .zip(&services)
        .map(|(l, svcs)| {
            (
                l,
                ReplayRoot {
                    service: downstream(svcs, topo),
                    node: None,
                },
            )
        })
        .collect();
    Grouping::from_lists(lists)
}

/// The service of `svcs` that most of the others call (directly) and that
/// calls fewest of them; ties to the one seen first.
fn downstream(svcs: &[String], topo: &Topology) -> Option<String> {
    let set: HashSet<&str> = svcs.iter().map(String::as_str).collect();
    let mut best: Option<(i64, &String)> = None;
    for s in svcs {
        let called_by = topo.callers(s).filter(|c| set.contains(c)).count() as i64;
        let calls = topo.callees(s).filter(|c| set.contains(c)).count() as i64;
        let v = called_by - calls;
        if best.is_none_or(|(b, _)| v > b) {
            best = Some((v, s));
        }
    }
    best.map(|(_, s)| s.clone())
}
