//! Where a grouping's wrong pairs come from: every wrong pair is counted
//! once, on the line that went astray (half on each when both did), and
//! each such line is described by its fault's kind, its part in the fault
//! and why it may have gone astray. Each fault whose main incident names
//! another root is counted too, by what it names.
//!
//! - A **wrong merge** is a pair of lines in one incident from two true
//!   groups. A line of an incident's minority group (not the group with the
//!   most lines there) is described against that majority group: are the
//!   two faults concurrent (started within five minutes of each other), and
//!   how is the line related to the majority's root (its machine, the call
//!   graph, a service of the majority's lines, or nothing).
//! - A **wrong split** is a pair of lines of one true group in two
//!   incidents. A line outside its group's main incident is described by
//!   where it went (an incident of another fault, or one of its own group's
//!   fragments) and when (late: more than five minutes after the fault's
//!   first line; a refire of an alert that fired before).
//!
//! ```
//! use argus_eval::incidents::diagnose::diagnose;
//! use argus_eval::incidents::TruthLine;
//! use argus_incident::placement::Placement;
//! use argus_incident::replay::{read_alerts, ReplayIncident, ReplayRoot};
//! use argus_incident::topology::Topology;
//!
//! let alerts = read_alerts(concat!(
//!     r#"{"at":"2026-01-01T00:00:00Z","status":"firing","labels":{"service":"db"}}"#, "\n",
//!     r#"{"at":"2026-01-01T00:01:00Z","status":"firing","labels":{"service":"web"}}"#, "\n",
//! )).unwrap();
//! let truth: Vec<TruthLine> = serde_json::from_str(r#"[
//!     {"line":0,"group":"f1","root":{"service":"db"},"kind":"service_fault"},
//!     {"line":1,"group":"f2","root":{"service":"web"},"kind":"service_fault"}]"#).unwrap();
//! let one = ReplayIncident { id: "1".into(), alerts: vec![0, 1], root: ReplayRoot::default(), opened_at: String::new() };
//! let d = diagnose(&alerts, &truth, &[one], &Topology::default(), &Placement::default());
//! assert_eq!(d.merge_pairs(), 1.0);
//! assert_eq!(d.split_pairs(), 0.0);
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use argus_incident::entity::{AliasBook, Entities};
use argus_incident::placement::Placement;
use argus_incident::replay::{ReplayAlert, ReplayIncident};
use argus_incident::topology::{Relation, Topology};

use super::{TruthKind, TruthLine};

const NEAR_MS: i64 = 5 * 60_000;

/// The wrong pairs of one grouping, by description.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagnosis {
    /// (description, pairs) of wrong merges.
    pub merges: BTreeMap<String, f64>,
    /// (description, pairs) of wrong splits.
    pub splits: BTreeMap<String, f64>,
    /// (description, faults) of faults whose main incident names another
    /// root.
    pub roots: BTreeMap<String, f64>,
    /// A few lines of each split description, for reading.
    pub examples: BTreeMap<String, Vec<String>>,
}

impl Diagnosis {
    /// All wrong-merge pairs.
    pub fn merge_pairs(&self) -> f64 {
        self.merges.values().sum()
    }

    /// All wrong-split pairs.
    pub fn split_pairs(&self) -> f64 {
        self.splits.values().sum()
    }

    /// Adds another storm's counts.
    pub fn add(&mut self, o: &Diagnosis) {
        for (k, v) in &o.merges {
            *self.merges.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.splits {
            *self.splits.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.roots {
            *self.roots.entry(k.clone()).or_default() += v;
        }
    }

    /// The three tables, largest first.
    pub fn format(&self) -> String {
        let mut s = String::new();
        for (title, m) in [
            ("wrong merges", &self.merges),
            ("wrong splits", &self.splits),
            ("wrong roots", &self.roots),
        ] {
            let total: f64 = m.values().sum();
            let _ = writeln!(s, "{title}: {total:.0}");
            let mut rows: Vec<(&String, &f64)> = m.iter().collect();
            rows.sort_by(|a, b| b.1.total_cmp(a.1));
            for (k, v) in rows.into_iter().take(25) {
                let _ = writeln!(s, "  {v:>9.0}  {:>5.1} %  {k}", 100.0 * v / total.max(1.0));
            }
        }
        s
    }
}

fn kind(k: TruthKind) -> &'static str {
    match k {
        TruthKind::ServiceFault => "service",
        TruthKind::NodeFailure => "node",
        TruthKind::Noise => "noise",
    }
}

/// A line's part in its fault.
fn part(e: &Entities, t: &TruthLine) -> &'static str {
    match t.kind {
        TruthKind::Noise => "noise",
        TruthKind::NodeFailure if e.is_node_level() => "machine alert",
        TruthKind::NodeFailure
            if e.node.is_some() && e.node.as_deref() == t.root.node.as_deref() =>
        {
            "instance on it"
        }
        TruthKind::NodeFailure => "caller symptom",
        TruthKind::ServiceFault if e.service.is_some() && e.service == t.root.service => {
            "root's alert"
        }
        TruthKind::ServiceFault => "caller symptom",
    }
}

fn refire(r: Option<bool>) -> &'static str {
    match r {
        None => "",
        Some(false) => " | refire",
        Some(true) => " | refire of another fault's alert",
    }
}

/// Lists the wrong pairs of `incidents` against `truth`, described.
pub fn diagnose(
    alerts: &[ReplayAlert],
    truth: &[TruthLine],
    incidents: &[ReplayIncident],
    topo: &Topology,
    placement: &Placement,
) -> Diagnosis {
    let mut book = AliasBook::default();
    for l in placement.label_sets() {
        book.learn(&l);
    }
    for a in alerts {
        book.learn(&a.labels);
    }
    let by_line: HashMap<usize, &TruthLine> = truth.iter().map(|t| (t.line, t)).collect();
    let mut inc_of: HashMap<usize, usize> = HashMap::new();
    for (i, inc) in incidents.iter().enumerate() {
        for &l in &inc.alerts {
            inc_of.insert(l, i);
        }
    }
    struct L<'a> {
        at: i64,
        t: &'a TruthLine,
        e: Entities,
        inc: usize,
        /// Fired before: `Some(true)` when that firing was another group's.
        refire: Option<bool>,
    }
    let mut lines: Vec<L> = Vec::new();
    let mut seen_labels: HashMap<u64, &str> = HashMap::new();
    let mut extra = incidents.len();
    for a in alerts.iter().filter(|a| a.firing) {
        let Some(t) = by_line.get(&a.line) else {
            continue;
        };
        let inc = inc_of.get(&a.line).copied().unwrap_or_else(|| {
            extra += 1;
            extra - 1
        });
        let refire = seen_labels
            .insert(a.labels.stable_hash(), t.group.as_str())
            .map(|g| g != t.group);
        lines.push(L {
            at: a.at_ms,
            t,
            e: book.resolve(&a.labels),
            inc,
            refire,
        });
    }
    // Counts per (incident, group), group sizes, first times.
    let mut cell: HashMap<(usize, &str), usize> = HashMap::new();
    let mut size_inc: HashMap<usize, usize> = HashMap::new();
    let mut size_g: HashMap<&str, usize> = HashMap::new();
    let mut first_g: HashMap<&str, i64> = HashMap::new();
    for l in &lines {
        let g = l.t.group.as_str();
        *cell.entry((l.inc, g)).or_default() += 1;
        *size_inc.entry(l.inc).or_default() += 1;
        *size_g.entry(g).or_default() += 1;
        first_g.entry(g).or_insert(l.at);
    }
    let mut owner: HashMap<usize, (&str, usize)> = HashMap::new();
    let mut main: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut cells: Vec<(&(usize, &str), &usize)> = cell.iter().collect();
    cells.sort();
    for (&(p, g), &n) in cells {
        let o = owner.entry(p).or_insert((g, n));
        if n > o.1 {
            *o = (g, n);
        }
        let m = main.entry(g).or_insert((p, n));
        if n > m.1 {
            *m = (p, n);
        }
    }
    // Services and machines of each (incident, group).
    let mut services: HashMap<(usize, &str), Vec<String>> = HashMap::new();
    for l in &lines {
        if let Some(s) = &l.e.service {
            let v = services.entry((l.inc, l.t.group.as_str())).or_default();
            if !v.contains(s) {
                v.push(s.clone());
            }
        }
    }
    let root_of: HashMap<&str, &TruthLine> =
        lines.iter().map(|l| (l.t.group.as_str(), l.t)).collect();
    let mut d = Diagnosis::default();
    for l in &lines {
        let g = l.t.group.as_str();
        let me = format!("{} {}", kind(l.t.kind), part(&l.e, l.t));
        // Wrong merges, half of each pair to each line.
        let n_in = size_inc[&l.inc];
        let mine = cell[&(l.inc, g)];
        let (og, on) = owner[&l.inc];
        if og != g {
            // The majority's pairs with this line, and half of those with the
            // other minorities.
            let w = on as f64 + (n_in - on - mine) as f64 / 2.0;
            let key = {
                let o = root_of[og];
                let near = (first_g[g] - first_g[og]).abs() <= NEAR_MS;
                let rel = if let (Some(n), Some(m)) = (&l.e.node, &o.root.node) {
                    if n == m {
                        "on its machine"
                    } else {
                        "other machine"
                    }
                } else if let (Some(s), Some(r)) = (&l.e.service, &o.root.service) {
                    match topo.relation(s, r, 4) {
                        Some(Relation::Same) => "same service as root",
                        Some(Relation::Caller(h)) if h <= 2 => "caller of root",
                        Some(Relation::Caller(_)) => "far caller of root",
                        Some(Relation::Callee(_)) => "callee of root",
                        _ if services.get(&(l.inc, og)).is_some_and(|v| {
                            v.iter().any(|x| topo.relation(s, x, 2).is_some())
                        }) =>
                        {
                            "near a service of it"
                        }
                        _ => "unrelated",
                    }
                } else {
                    "unrelated"
                };
                format!(
                    "{me} | into {} ({}) | {rel}{}",
                    kind(o.kind),
                    if near { "concurrent" } else { "not concurrent" },
                    refire(l.refire)
                )
            };
            let ex = d.examples.entry(key.clone()).or_default();
            if ex.len() < 6 {
                ex.push(format!(
                    "{g} +{:.1} min {:?}: in #{} (owner {og}, {n_in} lines)",
                    (l.at - first_g[g]) as f64 / 60_000.0,
                    l.e,
                    l.inc
                ));
            }
            *d.merges.entry(key).or_default() += w;
        }
        // Wrong splits.
        let (mp, mn) = main[g];
        // The main fragment's pairs with this line, and half of those with
        // the other fragments (used only for a line outside the main one,
        // where its fragment and the main one are apart).
        let w = mn as f64 + size_g[g].saturating_sub(mn + mine) as f64 / 2.0;
        if mp != l.inc && l.t.kind != TruthKind::Noise {
            let (og, _) = owner[&l.inc];
            let whr = if og == g {
                "own fragment"
            } else {
                "in another fault's incident"
            };
            let late = l.at - first_g[g] > NEAR_MS;
            let key = format!(
                "{me} | {whr} | {}{}",
                if late { "late" } else { "early" },
                refire(l.refire)
            );
            let ex = d.examples.entry(key.clone()).or_default();
            if ex.len() < 6 {
                let ts = |t: i64| (t - first_g[g]) as f64 / 60_000.0;
                ex.push(format!(
                    "{g} +{:.1} min {:?}: in #{} (owner {og}, {} lines), main #{mp} ({mn} lines)",
                    ts(l.at),
                    l.e,
                    l.inc,
                    n_in
                ));
            }
            *d.splits.entry(key).or_default() += w;
        } else if mp != l.inc {
            *d.splits.entry("noise split".into()).or_default() += w;
        }
    }
    // Roots: each fault's main incident against the fault's root.
    for (g, &(p, _)) in &main {
        let t = root_of[g];
        if t.kind == TruthKind::Noise {
            continue;
        }
        let named = incidents.get(p).map(|i| i.root.clone()).unwrap_or_default();
        let led_by_other = owner.get(&p).is_some_and(|o| o.0 != *g);
        let true_node = t.root.node.as_deref().map(super::machine);
        let key = match (t.kind, &named.service, &named.node) {
            (TruthKind::NodeFailure, _, Some(n)) if Some(super::machine(n)) == true_node => {
                continue
            }
            (TruthKind::NodeFailure, _, Some(_)) => "node fault: another machine".to_string(),
            (TruthKind::NodeFailure, Some(_), None) => "node fault: a service".to_string(),
            (_, Some(s), _) if Some(s) == t.root.service.as_ref() => continue,
            (_, _, Some(_)) => format!(
                "service fault: a machine{}",
                if led_by_other {
                    " (incident led by another fault)"
                } else {
                    ""
                }
            ),
            (_, Some(s), None) => {
                let r = t.root.service.clone().unwrap_or_default();
                let rel = match topo.relation(s, &r, 4) {
                    Some(Relation::Caller(_)) => "a caller",
                    Some(Relation::Callee(_)) => "a callee",
                    _ => "an unrelated service",
                };
                format!(
                    "service fault: {rel}{}",
                    if led_by_other {
                        " (incident led by another fault)"
                    } else {
                        ""
                    }
                )
            }
            _ => "no root".to_string(),
        };
        // What the named root's alerts in the incident were, and whose.
        let ex = d.examples.entry(format!("root: {key}")).or_default();
        if ex.len() < 6 {
            if let Some(inc) = incidents.get(p) {
                let named_alerts: Vec<String> = alerts
                    .iter()
                    .filter(|a| a.firing && inc.alerts.contains(&a.line))
                    .filter(|a| {
                        let e = book.resolve(&a.labels);
                        (named.service.is_some() && e.service == named.service)
                            || (named.service.is_none()
                                && named.node.is_some()
                                && e.node.as_deref().map(super::machine)
                                    == named.node.as_deref().map(super::machine))
                    })
                    .map(|a| {
                        let group = by_line.get(&a.line).map_or("?", |t| t.group.as_str());
                        format!("{} ({group})", a.labels.get("alertname").unwrap_or("?"))
                    })
                    .take(4)
                    .collect();
                ex.push(format!(
                    "{g}: true root {:?}, named {:?}/{:?} from {named_alerts:?}",
                    t.root.service.as_deref().or(t.root.node.as_deref()),
                    named.service,
                    named.node
                ));
            }
        }
        *d.roots.entry(key).or_default() += 1.0;
    }
    d
}

/// Every incident that holds more than one true group, and every fault
/// split over several incidents, line by line (time from the storm's first
/// line, true group, incident, labels), for reading one storm closely.
pub fn details(
    alerts: &[ReplayAlert],
    truth: &[TruthLine],
    incidents: &[ReplayIncident],
) -> String {
    let by_line: HashMap<usize, &TruthLine> = truth.iter().map(|t| (t.line, t)).collect();
    let mut inc_of: HashMap<usize, usize> = HashMap::new();
    for (i, inc) in incidents.iter().enumerate() {
        for &l in &inc.alerts {
            inc_of.insert(l, i);
        }
    }
    let mut groups_of: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    let mut incs_of: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for a in alerts.iter().filter(|a| a.firing) {
        let (Some(t), Some(&p)) = (by_line.get(&a.line), inc_of.get(&a.line)) else {
            continue;
        };
        let g = groups_of.entry(p).or_default();
        if !g.contains(&t.group.as_str()) {
            g.push(t.group.as_str());
        }
        let v = incs_of.entry(t.group.as_str()).or_default();
        if !v.contains(&p) {
            v.push(p);
        }
    }
    let t0 = alerts.first().map_or(0, |a| a.at_ms);
    let mut s = String::new();
    let bad: Vec<usize> = (0..incidents.len())
        .filter(|p| {
            groups_of.get(p).is_some_and(|g| {
                g.len() > 1
                    || g.iter().any(|g| {
                        by_line
                            .values()
                            .any(|t| t.group == *g && t.kind != TruthKind::Noise)
                            && incs_of.get(g).is_some_and(|v| v.len() > 1)
                    })
            })
        })
        .collect();
    for p in bad {
        let inc = &incidents[p];
        let _ = writeln!(
            s,
            "incident #{p} root {:?}/{:?} groups {:?}",
            inc.root.service,
            inc.root.node,
            groups_of.get(&p)
        );
        for a in alerts
            .iter()
            .filter(|a| a.firing && inc_of.get(&a.line) == Some(&p))
        {
            let Some(t) = by_line.get(&a.line) else {
                continue;
            };
            let labels: Vec<String> = a
                .labels
                .iter()
                .filter(|l| {
                    !["severity", "env", "namespace", "container"].contains(&l.name.as_str())
                })
                .map(|l| format!("{}={}", l.name, l.value))
                .collect();
            let _ = writeln!(
                s,
                "  {:>6.1} min  {:<10} {:?} {} {}",
                (a.at_ms - t0) as f64 / 60_000.0,
                t.group,
                incs_of.get(t.group.as_str()),
                t.root
                    .service
                    .as_deref()
                    .or(t.root.node.as_deref())
                    .unwrap_or("-"),
                labels.join(" ")
            );
        }
    }
    s
}
