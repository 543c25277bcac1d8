//! Turns the JSON answers of the server's APIs into the UI's plain structs
//! (`argus_ui::model`). Pure functions: unit-tested without a server.
//!
//! ```
//! let v = serde_json::json!([{"node": "n1", "source": "software", "content": "api heartbeat",
//!     "status": "up", "value": 1.0, "service": "api", "checks": []}]);
//! let rows = argus_ui::routes::data::services(&v);
//! assert_eq!(rows[0].status, "up");
//! assert_eq!(argus_ui::routes::data::nodes(&rows)[0].services, 1);
//! ```

pub mod incidents;
pub mod runbooks;

use crate::model::{
    AlertGroup, AlertRow, LabelSet, LevelCount, ModelRow, NodeRow, RuleRow, ServiceRow, SilenceRow,
};
use serde_json::Value;
use std::collections::BTreeMap;

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn labels(v: &Value) -> LabelSet {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// A number as people read it: integers plainly, others to 4 significant digits.
pub fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else if x.abs() >= 1e-3 && x.abs() < 1e6 {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{x:.3e}")
    }
}

/// Rows of `GET /api/v1/services`.
pub fn services(v: &Value) -> Vec<ServiceRow> {
    v.as_array()
        .map(|a| a.iter().map(service).collect())
        .unwrap_or_default()
}

fn service(v: &Value) -> ServiceRow {
    let saturation = v["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["check"] == "saturation"))
        .map(|c| s(c, "status"))
        .unwrap_or_default();
    ServiceRow {
        node: s(v, "node"),
        source: s(v, "source"),
        content: s(v, "content"),
        status: s(v, "status"),
        value: v["value"].as_f64().map(num).unwrap_or_default(),
        saturation,
        service: s(v, "service"),
    }
}

/// Adds the hosts that report metrics (an answer of
/// `count by (instance, nodename) (node_uname_info)`) to `nodes`, by host
/// name (or instance), and marks them reporting.
pub fn reporting_nodes(nodes: &mut Vec<NodeRow>, query_data: &Value) {
    let Some(rows) = query_data["result"].as_array() else {
        return;
    };
    for r in rows {
        let name = r["metric"]["nodename"]
            .as_str()
            .filter(|n| !n.is_empty())
            .or_else(|| r["metric"]["instance"].as_str())
            .unwrap_or_default();
        if name.is_empty() {
            continue;
        }
        match nodes.iter_mut().find(|n| n.node == name) {
            Some(n) => n.reporting = true,
            None => nodes.push(NodeRow {
                node: name.to_string(),
                reporting: true,
                ..NodeRow::default()
            }),
        }
    }
    nodes.sort_by(|a, b| a.node.cmp(&b.node));
}

/// Nodes among the services, with how many of their services are unhealthy.
pub fn nodes(services: &[ServiceRow]) -> Vec<NodeRow> {
    let mut by: BTreeMap<&str, NodeRow> = BTreeMap::new();
    for s in services {
        let n = by.entry(&s.node).or_insert_with(|| NodeRow {
            node: s.node.clone(),
            ..NodeRow::default()
        });
        n.services += 1;
        if !matches!(s.status.as_str(), "up" | "normal") {
            n.unhealthy += 1;
        }
    }
    by.into_values().collect()
}

fn level_of(l: &LabelSet) -> String {
    l.get("level")
        .or_else(|| l.get("severity"))
        .filter(|x| !x.is_empty())
        .cloned()
        .unwrap_or_else(|| "none".into())
}

/// Sort key: numeric levels high first, then the usual severity words, then the rest.
pub fn level_rank(level: &str) -> (i64, String) {
    if let Ok(n) = level.parse::<i64>() {
        return (-100 - n, String::new());
    }
    let r = match level {
        "critical" | "page" | "error" => 0,
        "warning" | "warn" => 1,
        "info" => 2,
        "none" => 9,
        _ => 3,
    };
    (r, level.to_string())
}

fn time_ms(v: &Value, k: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(v.get(k)?.as_str()?)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// A `gettableAlert` as a row; `now_ms` decides whether it has resolved.
pub fn alert(v: &Value, now_ms: i64) -> AlertRow {
    let l = labels(&v["labels"]);
    let summary = ["summary", "description", "message"]
        .iter()
        .map(|k| s(&v["annotations"], k))
        .find(|x| !x.is_empty())
        .unwrap_or_default();
    // `level` is left out: a dynamic rule's alert changes level while the
    // episode lasts, and a silence should cover it at every level.
    let silence_matchers = l
        .iter()
        .filter(|(k, _)| k.as_str() != "level")
        .map(|(k, v)| format!("{k}={}", serde_json::Value::String(v.clone())))
        .collect::<Vec<_>>()
        .join("\n");
    AlertRow {
        fingerprint: s(v, "fingerprint"),
        name: l.get("alertname").cloned().unwrap_or_default(),
        level: level_of(&l),
        state: s(&v["status"], "state"),
        acked_by: v
            .get("acknowledged")
            .map(|a| s(a, "by"))
            .filter(|x| !x.is_empty()),
        resolved: time_ms(v, "endsAt").is_some_and(|e| e <= now_ms),
        summary,
        starts_at: s(v, "startsAt")
            .chars()
            .take(19)
            .collect::<String>()
            .replace('T', " "),
        silenced_by: v["status"]["silencedBy"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        silence_matchers,
        labels: l,
    }
}

/// Firing alerts of `GET /api/v2/alerts`, most severe first, with counts by level.
pub fn firing(v: &Value, now_ms: i64) -> (Vec<AlertRow>, Vec<LevelCount>) {
    let mut rows: Vec<AlertRow> = v
        .as_array()
        .map(|a| a.iter().map(|x| alert(x, now_ms)).collect())
        .unwrap_or_default();
    rows.retain(|a| !a.resolved);
    rows.sort_by(|a, b| {
        level_rank(&a.level)
            .cmp(&level_rank(&b.level))
            .then(a.starts_at.cmp(&b.starts_at))
    });
    let mut counts: Vec<LevelCount> = Vec::new();
    for r in &rows {
        match counts.iter_mut().find(|c| c.level == r.level) {
            Some(c) => c.count += 1,
            None => counts.push(LevelCount {
                level: r.level.clone(),
                count: 1,
            }),
        }
    }
    (rows, counts)
}

/// Groups of `GET /api/v2/alerts/groups`.
pub fn groups(v: &Value, now_ms: i64) -> Vec<AlertGroup> {
    v.as_array()
        .map(|gs| {
            gs.iter()
                .map(|g| AlertGroup {
                    receiver: s(&g["receiver"], "name"),
                    labels: labels(&g["labels"]),
                    alerts: g["alerts"]
                        .as_array()
                        .map(|a| a.iter().map(|x| alert(x, now_ms)).collect())
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One Alertmanager matcher as text (`name="value"`, `name=~"re"` …).
pub fn matcher(m: &Value) -> String {
    let op = match (
        m["isEqual"].as_bool().unwrap_or(true),
        m["isRegex"].as_bool().unwrap_or(false),
    ) {
        (true, false) => "=",
        (false, false) => "!=",
        (true, true) => "=~",
        (false, true) => "!~",
    };
    format!("{}{op}{}", s(m, "name"), Value::String(s(m, "value")))
}

/// Silences of `GET /api/v2/silences` (already sorted by the API).
pub fn silences(v: &Value) -> Vec<SilenceRow> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| SilenceRow {
                    id: s(x, "id"),
                    state: s(&x["status"], "state"),
                    matchers: x["matchers"]
                        .as_array()
                        .map(|ms| ms.iter().map(matcher).collect())
                        .unwrap_or_default(),
                    starts_at: s(x, "startsAt"),
                    ends_at: s(x, "endsAt"),
                    created_by: s(x, "createdBy"),
                    comment: s(x, "comment"),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Rules of `GET /api/v1/rules` (`data`).
pub fn rules(data: &Value) -> Vec<RuleRow> {
    let mut out = Vec::new();
    for g in data["groups"].as_array().into_iter().flatten() {
        for r in g["rules"].as_array().into_iter().flatten() {
            let t = s(r, "lastEvaluation");
            out.push(RuleRow {
                group: s(g, "name"),
                name: s(r, "name"),
                kind: s(r, "type"),
                query: s(r, "query"),
                health: s(r, "health"),
                last_error: s(r, "lastError"),
                last_evaluation: if t.starts_with("0001-") {
                    String::new()
                } else {
                    t
                },
                evaluation_time: r["evaluationTime"]
                    .as_f64()
                    .map(|x| format!("{} ms", num(x * 1000.0)))
                    .unwrap_or_default(),
            });
        }
    }
    out
}

fn selector(l: &LabelSet) -> String {
    let name = l.get("__name__").cloned().unwrap_or_default();
    let rest: Vec<String> = l
        .iter()
        .filter(|(k, _)| *k != "__name__")
        .map(|(k, v)| format!("{k}={}", Value::String(v.clone())))
        .collect();
    format!("{name}{{{}}}", rest.join(","))
}

/// One entry of `GET /api/v1/models` (`data[i]`).
pub fn model(v: &Value) -> ModelRow {
    let l = labels(&v["labels"]);
    let progress = v.get("progress").map(|p| {
        format!(
            "{}/{} {}",
            p["done"].as_u64().unwrap_or(0),
            p["total"].as_u64().unwrap_or(0),
            s(p, "stage")
        )
    });
    let scores = v["scores"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, x)| {
                    format!(
                        "{k}={}",
                        x.as_f64().map(num).unwrap_or_else(|| x.to_string())
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| v["scores"].as_f64().map(num).unwrap_or_default());
    ModelRow {
        rule: s(v, "rule"),
        series: selector(&l),
        selector: selector(&l),
        state: s(v, "state"),
        progress: progress.unwrap_or_default(),
        algorithm: s(v, "algorithm"),
        version: v["version"].as_u64().unwrap_or(0),
        scores,
        trained_at: s(v, "trained_at"),
        points_seen: v["points_seen"].as_u64().unwrap_or(0),
        last_error: s(v, "last_error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn alerts_count_by_level_and_skip_resolved() {
        let v = json!([
            {"labels": {"alertname": "A", "level": "2"}, "fingerprint": "01", "status": {"state": "active"},
             "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z",
             "annotations": {"summary": "hot"}},
            {"labels": {"alertname": "B", "severity": "critical"}, "fingerprint": "02", "status": {"state": "active"},
             "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z", "annotations": {},
             "acknowledged": {"by": "ann"}},
            {"labels": {"alertname": "C", "level": "4"}, "fingerprint": "03", "status": {"state": "active"},
             "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2000-01-01T00:00:00Z", "annotations": {}}
        ]);
        let (rows, counts) = firing(&v, 1_800_000_000_000);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].name, "A", "numeric levels sort first");
        assert_eq!(rows[0].summary, "hot");
        assert_eq!(rows[1].acked_by.as_deref(), Some("ann"));
        assert_eq!(counts.len(), 2);
        assert_eq!(
            rows[1].silence_matchers,
            "alertname=\"B\"\nseverity=\"critical\""
        );
        assert_eq!(
            rows[0].silence_matchers, "alertname=\"A\"",
            "the level changes between firings"
        );
    }

    #[test]
    fn matchers_and_numbers_format() {
        assert_eq!(
            matcher(&json!({"name": "job", "value": "a|b", "isRegex": true, "isEqual": false})),
            "job!~\"a|b\""
        );
        assert_eq!(num(3.0), "3");
        assert_eq!(num(0.25), "0.25");
        assert_eq!(num(1.0e-7), "1.000e-7");
    }

    #[test]
    fn models_show_progress_and_selector() {
        let m = model(
            &json!({"rule": "R", "labels": {"__name__": "m", "host": "a"}, "state": "training",
            "progress": {"stage": "backtest", "done": 2, "total": 5}, "algorithm": "kde", "version": 3,
            "scores": {"f1": 0.5}, "points_seen": 10}),
        );
        assert_eq!(m.selector, "m{host=\"a\"}");
        assert_eq!(m.progress, "2/5 backtest");
        assert_eq!(m.scores, "f1=0.5");
    }

    #[test]
    fn hosts_that_report_metrics_are_nodes() {
        let mut nodes = vec![NodeRow {
            node: "web-1".into(),
            services: 2,
            ..NodeRow::default()
        }];
        let answer = serde_json::json!({"result": [
            {"metric": {"instance": "web-1:9100", "nodename": "web-1"}, "value": [0, "1"]},
            {"metric": {"instance": "laptop", "nodename": ""}, "value": [0, "1"]},
        ]});
        reporting_nodes(&mut nodes, &answer);
        let got: Vec<(&str, usize, bool)> = nodes
            .iter()
            .map(|n| (n.node.as_str(), n.services, n.reporting))
            .collect();
        assert_eq!(got, vec![("laptop", 0, true), ("web-1", 2, true)]);
    }
}
