//! Naming an incident's root: the alerting service that best explains the
//! others, or the machine under them.
//!
//! A fault travels from a callee to its callers, so among the incident's
//! services the root is the one the most others depend on (through the call
//! graph) and that depends on no other alerting service itself; ties go to
//! the earlier and the more severe. A service whose alerts say its own
//! resources or process fail (its cpu or memory, a crash loop: the
//! correlator's [`crate::correlate::Settings::own_trouble`]) comes before
//! one showing only symptoms (latency, errors), which any fault below it
//! could cause. A drop in traffic travels both ways: a
//! service whose only alerts say its volume fell (a `business_volume`
//! dynamic rule) is explained by an alerting caller (which stopped sending)
//! as well as by an alerting callee (which failed its transactions), and
//! explains nothing itself. A machine whose own alert fired (node
//! down, disk full) and that hosts the incident's alerting instances is the
//! root before any service on it; a service whose alerts name several
//! machines does not count as hosted (one machine does not explain a
//! service failing everywhere), and neither does a lone hosted service
//! reporting its own trouble (it explains its alerts itself). The confidence is the share of the
//! incident's services the root explains.
//!
//! ```
//! use argus_incident::root::{rank, Candidate};
//! use argus_incident::topology::Topology;
//! use argus_incident::model::Severity;
//!
//! let topo = Topology::from_csv("caller,callee\nweb,api\napi,db\n").unwrap();
//! let c = |s: &str, t| Candidate { service: s.into(), first_ms: t, severity: Severity::Warning, metric: "HighLatency".into(), instance: None, volume_drop: false, own_trouble: false };
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
    /// Every alert of it says its traffic volume dropped.
    pub volume_drop: bool,
    /// One of its alerts reports its own resources or process failing.
    pub own_trouble: bool,
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
    /// How many of the incident's services alert on this machine and on no
    /// other (a service failing on several machines at once is not one
    /// machine's fault).
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
    // `o` is a symptom of `c`: a caller of `c`; for a drop in volume, a caller
    // or a callee (`c` stopped calling it, or failed its transactions). A drop
    // in volume explains nothing.
    let explains = |c: &Candidate, o: &Candidate| {
        if c.volume_drop {
            false
        } else if o.volume_drop {
            topo.depends_on(&c.service, &o.service, max_hops)
                || topo.depends_on(&o.service, &c.service, max_hops)
        } else {
            topo.depends_on(&o.service, &c.service, max_hops)
        }
    };
    for c in services {
        let explained = services.iter().filter(|o| explains(c, o)).count();
        let blocked = services.iter().filter(|o| explains(o, c)).count();
        let score = explained as f64 - 1.5 * blocked as f64
            + if c.first_ms == earliest { 0.5 } else { 0.0 }
            + 0.1 * (c.severity as u8) as f64;
        // A service reporting its own trouble comes before one showing only
        // symptoms; within each, the graph decides.
        let better = match &best {
            None => true,
            Some((s, _, b, _)) => {
                c.own_trouble && !b.own_trouble
                    || c.own_trouble == b.own_trouble
                        && (score > *s + 1e-9
                            || ((score - *s).abs() <= 1e-9
                                && (c.first_ms, &c.service) < (b.first_ms, &b.service)))
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
            volume_drop: false,
            own_trouble: false,
        }
    }

    #[test]
    fn a_drop_in_volume_points_at_the_caller_that_stopped_calling() {
        let topo = Topology::from_csv("caller,callee\ngateway,orders\norders,db\n").unwrap();
        let drop = |s: &str, t| Candidate {
            volume_drop: true,
            metric: "OrdersDrop".into(),
            ..c(s, t)
        };
        // The gateway is down; the orders it no longer sends drop: the gateway is the root,
        // whichever alert came first.
        for (g, o) in [(0, 20), (20, 0)] {
            let r = rank(&[c("gateway", g), drop("orders", o)], &[], &topo, 3).unwrap();
            assert_eq!(r.service.as_deref(), Some("gateway"), "{g} {o}");
            assert!(r.confidence > 0.99);
        }
        // A drop alone is its own root; above a failing callee, the callee is.
        let r = rank(&[drop("orders", 0)], &[], &topo, 3).unwrap();
        assert_eq!(r.service.as_deref(), Some("orders"));
        let r = rank(&[drop("orders", 0), c("db", 5)], &[], &topo, 3).unwrap();
        assert_eq!(r.service.as_deref(), Some("db"));
        // A latency alert below the gateway still points down the graph.
        let r = rank(&[c("gateway", 0), c("orders", 20)], &[], &topo, 3).unwrap();
        assert_eq!(r.service.as_deref(), Some("orders"));
    }

    #[test]
    fn a_service_in_trouble_of_its_own_comes_before_symptoms() {
        let topo = Topology::from_csv("caller,callee\nweb,api\napi,db\n").unwrap();
        // db's latency would explain api's; api reports its own memory failing.
        let own = Candidate {
            own_trouble: true,
            ..c("api", 10)
        };
        let r = rank(&[c("web", 0), own.clone(), c("db", 20)], &[], &topo, 3).unwrap();
        assert_eq!(r.service.as_deref(), Some("api"));
        // Without it, the callee explains the most.
        let r = rank(&[c("web", 0), c("api", 10), c("db", 20)], &[], &topo, 3).unwrap();
        assert_eq!(r.service.as_deref(), Some("db"));
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
