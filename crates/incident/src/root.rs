//! Naming an incident's root: the alerting service that best explains the
//! others, or the machine under them.
//!
//! A fault travels from a callee to its callers, so among the incident's
//! services the root is the one the most others depend on (through the call
//! graph) and that depends on no other alerting service itself; ties go to
//! the earlier and the more severe. A machine whose own alert fired (node
//! down, disk full) and that hosts the incident's alerting instances is the
//! root before any service on it. The confidence is the share of the
//! incident's services the root explains.
//!
//! ```
//! use argus_incident::root::{rank, Candidate};
//! use argus_incident::topology::Topology;
//! use argus_incident::model::Severity;
//!
//! let topo = Topology::from_csv("caller,callee\nweb,api\napi,db\n").unwrap();
//! let c = |s: &str, t| Candidate { service: s.into(), first_ms: t, severity: Severity::Warning, metric: "HighLatency".into(), instance: None };
//! // The callers alerted first; the database is still the root.
//! let r = rank(&[c("web", 0), c("api", 10), c("db", 30)], &[], &topo, 3).unwrap();
//! assert_eq!(r.service.as_deref(), Some("db"));
//! assert!(r.confidence > 0.99);
//! ```

use crate::model::{Root, Severity};
use crate::topology::Topology;

/// A service of the incident, as the ranking sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The service.
    pub service: String,
    /// When its first alert in the incident fired.
    pub first_ms: i64,
    /// Its worst alert.
    pub severity: Severity,
    /// The name of its first alert.
    pub metric: String,
    /// Its instance, when all its alerts name one.
    pub instance: Option<String>,
}

/// A machine with a machine-level alert in the incident.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeCandidate {
    /// The machine.
    pub node: String,
    /// When its first alert fired.
    pub first_ms: i64,
    /// The name of that alert.
    pub metric: String,
    /// How many of the incident's services have an alerting instance on it.
    pub hosted: usize,
}

/// The root of an incident with these services and machines, or `None` for
/// an incident with neither.
pub fn rank(
    services: &[Candidate],
    nodes: &[NodeCandidate],
    topo: &Topology,
    max_hops: u8,
) -> Option<Root> {
    let n = services.len();
    // A machine that hosts alerting services, or that is all there is.
    if let Some(node) = nodes
        .iter()
        .filter(|m| m.hosted > 0 || n == 0)
        .max_by(|a, b| a.hosted.cmp(&b.hosted).then(b.first_ms.cmp(&a.first_ms)))
    {
        let confidence = if n == 0 {
            1.0
        } else {
            ((node.hosted + 1) as f64 / (n + 1) as f64).max(0.5)
        };
        return Some(Root {
            node: Some(node.node.clone()),
            metric: Some(node.metric.clone()),
            confidence,
            ..Root::default()
        });
    }
    if n == 0 {
        return nodes.iter().min_by_key(|m| m.first_ms).map(|m| Root {
            node: Some(m.node.clone()),
            metric: Some(m.metric.clone()),
            confidence: 0.5,
            ..Root::default()
        });
    }
    let earliest = services.iter().map(|c| c.first_ms).min().unwrap_or(0);
    let mut best: Option<(f64, usize, &Candidate, bool)> = None;
    for c in services {
        let explained = services
            .iter()
            .filter(|o| topo.depends_on(&o.service, &c.service, max_hops))
            .count();
        let blocked = services
            .iter()
            .filter(|o| topo.depends_on(&c.service, &o.service, max_hops))
            .count();
        let score = explained as f64 - 1.5 * blocked as f64
            + if c.first_ms == earliest { 0.5 } else { 0.0 }
            + 0.1 * (c.severity as u8) as f64;
        let better = match &best {
            None => true,
            Some((s, _, b, _)) => {
                score > *s + 1e-9
                    || ((score - *s).abs() <= 1e-9
                        && (c.first_ms, &c.service) < (b.first_ms, &b.service))
            }
        };
        if better {
            best = Some((score, explained, c, blocked > 0));
        }
    }
    let (_, explained, c, blocked) = best?;
    let mut confidence = (explained + 1) as f64 / n as f64;
    if blocked {
        confidence *= 0.5;
    }
    Some(Root {
        service: Some(c.service.clone()),
        instance: c.instance.clone(),
        metric: Some(c.metric.clone()),
        confidence: confidence.min(1.0),
        ..Root::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str, t: i64) -> Candidate {
        Candidate {
            service: s.into(),
            first_ms: t,
            severity: Severity::Warning,
            metric: "X".into(),
            instance: None,
        }
    }

    #[test]
    fn a_machine_under_the_services_is_the_root() {
        let topo = Topology::default();
        let node = NodeCandidate {
            node: "n1".into(),
            first_ms: 50,
            metric: "NodeDown".into(),
            hosted: 2,
        };
        let r = rank(&[c("a", 0), c("b", 0)], &[node], &topo, 3).unwrap();
        assert_eq!(r.node.as_deref(), Some("n1"));
        assert_eq!(r.service, None);
    }

    #[test]
    fn unrelated_services_go_to_the_earliest_with_low_confidence() {
        let topo = Topology::default();
        let r = rank(&[c("b", 5), c("a", 9)], &[], &topo, 3).unwrap();
        assert_eq!(r.service.as_deref(), Some("b"));
        assert!(r.confidence <= 0.5);
        assert_eq!(rank(&[], &[], &topo, 3), None);
    }
}
