//! The offline replay behind `argus eval incidents`: an alert stream from a
//! file through the same correlator the server runs, deterministic, so a
//! grouping can be measured.
//!
//! Input, one alert event per line, in time order:
//! `{"at": "RFC3339", "status": "firing"|"resolved", "labels": {…}, "annotations": {…}}`.
//! An alert's identity is its label set; it may fire, resolve and fire again.
//! Output, one incident per line: `{"id", "alerts": [0-based line numbers of
//! its firing lines], "root": {"service": …}, "opened_at"}`. Every firing
//! line is in exactly one incident.
//!
//! ```
//! use argus_incident::replay::{read_alerts, replay};
//! use argus_incident::correlate::Settings;
//! use argus_incident::topology::Topology;
//!
//! let text = r#"{"at":"2026-01-01T00:00:00Z","status":"firing","labels":{"alertname":"Slow","service":"web"}}
//! {"at":"2026-01-01T00:00:30Z","status":"firing","labels":{"alertname":"Down","service":"db"}}
//! {"at":"2026-01-01T00:10:00Z","status":"resolved","labels":{"alertname":"Down","service":"db"}}
//! "#;
//! let alerts = read_alerts(text).unwrap();
//! let topo = Topology::from_csv("caller,callee\nweb,db\n").unwrap();
//! let out = replay(&alerts, topo, &Settings::default());
//! assert_eq!(out.len(), 1);
//! assert_eq!(out[0].alerts, vec![0, 1]);
//! assert_eq!(out[0].root.service.as_deref(), Some("db"));
//! ```

use crate::correlate::{Correlator, Settings, Signal};
use crate::model::Root;
use crate::placement::Placement;
use crate::topology::Topology;
use argus_model::Labels;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// One input line, read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayAlert {
    /// Its 0-based line number in the file.
    pub line: usize,
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// Firing or resolved.
    pub firing: bool,
    /// Its labels (its identity).
    pub labels: Labels,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    at: String,
    status: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// A line of the alert file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ReplayError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Parses an RFC 3339 time into ms since the epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Formats ms since the epoch as RFC 3339 (UTC, milliseconds when any).
pub fn format_time(ms: i64) -> String {
    argus_model::time::format_rfc3339_ms(ms, argus_model::time::Fraction::MillisIfAny)
        .unwrap_or_default()
}

/// Reads the alert file. Blank lines are skipped but counted, so line
/// numbers match the file. Times must not go backwards.
pub fn read_alerts(text: &str) -> Result<Vec<ReplayAlert>, ReplayError> {
    let mut out = Vec::new();
    let mut last = i64::MIN;
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let err = |reason: String| ReplayError {
            line: i + 1,
            reason,
        };
        let l: Line = serde_json::from_str(raw).map_err(|e| err(e.to_string()))?;
        let at_ms =
            parse_time(&l.at).ok_or_else(|| err(format!("`at` is not RFC 3339: {:?}", l.at)))?;
        let firing = match l.status.as_str() {
            "firing" => true,
            "resolved" => false,
            other => {
                return Err(err(format!(
                    "`status` must be \"firing\" or \"resolved\", not {other:?}"
                )))
            }
        };
        if l.labels.is_empty() {
            return Err(err("`labels` is empty: an alert needs labels".into()));
        }
        if at_ms < last {
            return Err(err(format!(
                "time goes backwards: {} is before the line above",
                l.at
            )));
        }
        last = at_ms;
        let pairs: Vec<(String, String)> = l.labels.into_iter().collect();
        out.push(ReplayAlert {
            line: i,
            at_ms,
            firing,
            labels: Labels::from_pairs(&pairs),
            annotations: l.annotations,
        });
    }
    Ok(out)
}

/// One incident of the output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayIncident {
    /// Its id.
    pub id: String,
    /// The 0-based line numbers of its firing lines.
    pub alerts: Vec<usize>,
    /// The root candidate (`service`, and `node` for a machine's fault).
    pub root: ReplayRoot,
    /// When it opened, RFC 3339.
    pub opened_at: String,
}

/// The root as written in the output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplayRoot {
    /// The root service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The root machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl From<&Root> for ReplayRoot {
    fn from(r: &Root) -> Self {
        ReplayRoot {
            service: r.service.clone(),
            node: r.node.clone(),
        }
    }
}

/// Replays `alerts` through a fresh correlator over `topo`.
pub fn replay(alerts: &[ReplayAlert], topo: Topology, settings: &Settings) -> Vec<ReplayIncident> {
    replay_placed(alerts, topo, &Placement::default(), settings)
}

/// [`replay`], with the correlator first taught where instances run, as a
/// running Argus learns it from its series before the alerts come.
pub fn replay_placed(
    alerts: &[ReplayAlert],
    topo: Topology,
    placement: &Placement,
    settings: &Settings,
) -> Vec<ReplayIncident> {
    let mut c = Correlator::new(settings.clone(), topo);
    for labels in placement.label_sets() {
        c.learn(&labels);
    }
    let mut line_of: Vec<(usize, u64)> = Vec::new();
    // Alert key → its entries in `line_of`, to follow an alert moved alone.
    let mut of_key: HashMap<u64, Vec<usize>> = HashMap::new();
    for a in alerts {
        c.tick(a.at_ms);
        let mut s = if a.firing {
            Signal::firing(a.labels.clone(), a.at_ms)
        } else {
            Signal::resolved(a.labels.clone(), a.at_ms)
        };
        s.annotations.clone_from(&a.annotations);
        let key = s.key;
        let id = c.observe(s);
        if let (true, Some(id)) = (a.firing, id) {
            of_key.entry(key).or_default().push(line_of.len());
            line_of.push((a.line, id));
        }
        for &(key, from, to) in c.last_moves() {
            for &i in of_key.get(&key).into_iter().flatten() {
                if merged_target(&c, line_of[i].1) == from {
                    line_of[i].1 = to;
                }
            }
        }
        // Keep the correlator's own bookkeeping from growing with the file.
        let _ = c.take_dirty();
    }
    // Follow merges to the incident that holds the alerts now.
    let target = |id: u64| merged_target(&c, id);
    let mut groups: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (line, id) in line_of {
        groups.entry(target(id)).or_default().push(line);
    }
    let mut out: Vec<ReplayIncident> = groups
        .into_iter()
        .filter_map(|(id, lines)| {
            let inc = c.incident(id)?;
            Some(ReplayIncident {
                id: id.to_string(),
                alerts: lines,
                root: inc.root.as_ref().map(ReplayRoot::from).unwrap_or_default(),
                opened_at: format_time(inc.times.detected_ms),
            })
        })
        .collect();
    out.sort_by_key(|i| (i.alerts.first().copied(), i.id.clone()));
    out
}

/// The incident `id` was merged into, following merges, or `id`.
fn merged_target(c: &Correlator, mut id: u64) -> u64 {
    while let Some(next) = c.incident(id).and_then(|i| i.merged_into) {
        if next == id {
            break;
        }
        id = next;
    }
    id
}

/// The same as [`replay`], as JSON lines.
pub fn to_jsonl(incidents: &[ReplayIncident]) -> String {
    let mut s = String::new();
    for i in incidents {
        s.push_str(&serde_json::to_string(i).unwrap_or_default());
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_named() {
        let e = read_alerts("{\"at\":\"x\",\"status\":\"firing\",\"labels\":{\"a\":\"b\"}}\n")
            .unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.reason.contains("RFC 3339"), "{e}");
        let e = read_alerts(
            "\n{\"at\":\"2026-01-01T00:00:00Z\",\"status\":\"burning\",\"labels\":{\"a\":\"b\"}}\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 2);
        let two = "{\"at\":\"2026-01-01T00:01:00Z\",\"status\":\"firing\",\"labels\":{\"a\":\"b\"}}\n{\"at\":\"2026-01-01T00:00:00Z\",\"status\":\"firing\",\"labels\":{\"a\":\"c\"}}\n";
        assert!(read_alerts(two).unwrap_err().reason.contains("backwards"));
    }

    #[test]
    fn every_firing_line_is_in_exactly_one_incident() {
        let mut lines = String::new();
        for i in 0..50 {
            let svc = format!("s{}", i % 7);
            let status = if i % 5 == 4 { "resolved" } else { "firing" };
            lines.push_str(&format!(
                "{{\"at\":\"2026-01-01T00:{:02}:00Z\",\"status\":\"{status}\",\"labels\":{{\"alertname\":\"A\",\"service\":\"{svc}\"}}}}\n",
                i
            ));
        }
        let alerts = read_alerts(&lines).unwrap();
        let out = replay(&alerts, Topology::default(), &Settings::default());
        let mut seen: Vec<usize> = out.iter().flat_map(|i| i.alerts.clone()).collect();
        seen.sort_unstable();
        let firing: Vec<usize> = (0..50).filter(|i| i % 5 != 4).collect();
        assert_eq!(seen, firing);
    }
}
