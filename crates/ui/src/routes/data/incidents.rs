//! The incidents API's answers as the UI's structs: the list, one incident
//! (with its service map laid out), and the overview's 1-5-10 figures.
//!
//! ```
//! use argus_ui::routes::data::incidents::{duration, one_five_ten};
//! assert_eq!(duration(45.0), "45 s");
//! assert_eq!(duration(200.0), "3 min 20 s");
//! let v = serde_json::json!({"incidents": 2, "detect": {"count": 2, "p50": 30.0, "p90": 90.0},
//!     "locate": {"count": 1, "p50": 240.0, "p90": 240.0}, "recover": {"count": 0, "p50": null, "p90": null}});
//! let f = one_five_ten(&v).unwrap();
//! assert_eq!((f.figures[0].p50.as_str(), f.figures[0].over), ("30 s", false));
//! assert_eq!(f.figures[2].p50, "");
//! ```

use super::s;
use crate::graph;
use crate::model::{
    IncidentAlertRow, IncidentRow, IncidentView, Milestone, MoveRow, OneFiveTen, RootView,
    TimeFigure, TimelineRow,
};
use serde_json::Value;

/// The 1-5-10 goals, in seconds.
const DETECT_GOAL: f64 = 60.0;
const LOCATE_GOAL: f64 = 300.0;
const RECOVER_GOAL: f64 = 600.0;

/// The period the overview's figures cover, as the API takes it and as people read it.
pub const PERIOD: (&str, &str) = ("7d", "7 days");

/// Seconds as people read them: `45 s`, `3 min 20 s`, `2 h 5 min`, `3 d 4 h`.
pub fn duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return String::new();
    }
    if secs < 10.0 && secs.fract() != 0.0 {
        let t = format!("{secs:.1}");
        return format!("{} s", t.trim_end_matches(".0"));
    }
    let t = secs.round() as u64;
    let (d, h, m, s) = (t / 86_400, t / 3600 % 24, t / 60 % 60, t % 60);
    let pair = |a: u64, ua: &str, b: u64, ub: &str| {
        if b == 0 {
            format!("{a} {ua}")
        } else {
            format!("{a} {ua} {b} {ub}")
        }
    };
    if d > 0 {
        pair(d, "d", h, "h")
    } else if h > 0 {
        pair(h, "h", m, "min")
    } else if m > 0 {
        pair(m, "min", s, "s")
    } else {
        format!("{s} s")
    }
}

fn secs(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn fmt_secs(v: &Value) -> String {
    secs(v).map(duration).unwrap_or_default()
}

/// An RFC 3339 time as the pages show it (`2026-01-02 10:00:00`, UTC); empty for null.
pub fn when(v: &Value) -> String {
    v.as_str()
        .map(|t| t.chars().take(19).collect::<String>().replace('T', " "))
        .unwrap_or_default()
}

/// The overview's figures from `GET /api/argus/v1/incidents/times` (`data`);
/// `None` when no incident was detected in the period.
pub fn one_five_ten(data: &Value) -> Option<OneFiveTen> {
    let incidents = data["incidents"].as_u64().unwrap_or(0) as usize;
    if incidents == 0 {
        return None;
    }
    let figure = |name: &str, key: &str, goal: f64| {
        let q = &data[key];
        TimeFigure {
            name: name.into(),
            target: duration(goal),
            p50: fmt_secs(&q["p50"]),
            p90: fmt_secs(&q["p90"]),
            count: q["count"].as_u64().unwrap_or(0) as usize,
            over: secs(&q["p50"]).is_some_and(|x| x > goal),
            missed: data["missed"][key].as_u64().unwrap_or(0) as usize,
        }
    };
    Some(OneFiveTen {
        incidents,
        period: PERIOD.1.into(),
        figures: vec![
            figure("Detect", "detect", DETECT_GOAL),
            figure("Locate", "locate", LOCATE_GOAL),
            figure("Recover", "recover", RECOVER_GOAL),
        ],
    })
}

/// The root as one phrase: `db`, `db (10.0.0.5:5432)` or `machine db-1`.
fn root_place(root: &Value) -> String {
    let (service, instance, node) = (s(root, "service"), s(root, "instance"), s(root, "node"));
    if !service.is_empty() {
        if instance.is_empty() {
            service
        } else {
            format!("{service} ({instance})")
        }
    } else if !node.is_empty() {
        format!("machine {node}")
    } else {
        s(root, "metric")
    }
}

fn is_active(v: &Value) -> bool {
    s(v, "state") != "resolved" && v["mergedInto"].is_null()
}

/// Rows of `GET /api/argus/v1/incidents` (`data`).
pub fn incident_rows(data: &Value) -> Vec<IncidentRow> {
    data.as_array()
        .map(|a| a.iter().map(incident_row).collect())
        .unwrap_or_default()
}

fn incident_row(v: &Value) -> IncidentRow {
    let t = &v["times"];
    IncidentRow {
        id: s(v, "id"),
        title: s(v, "title"),
        state: s(v, "state"),
        severity: s(v, "severity"),
        owner: s(v, "owner"),
        root: root_place(&v["root"]),
        alerts: v["alerts"].as_u64().unwrap_or(0),
        firing: v["firing"].as_u64().unwrap_or(0),
        detected: when(&t["detected"]),
        time_to_detect: fmt_secs(&t["timeToDetect"]),
        time_to_locate: fmt_secs(&t["timeToLocate"]),
        time_to_recover: fmt_secs(&t["timeToRecover"]),
        active: is_active(v),
    }
}

fn milestones(t: &Value) -> Vec<Milestone> {
    let one = |name: &str, at: &str, since: Option<&str>, goal: Option<f64>| {
        let after = since.map(|k| &t[k]).unwrap_or(&Value::Null);
        Milestone {
            name: name.into(),
            at: when(&t[at]),
            since_fault: fmt_secs(after),
            target: goal.map(duration).unwrap_or_default(),
            over: match (secs(after), goal) {
                (Some(x), Some(g)) => x > g,
                _ => false,
            },
        }
    };
    vec![
        one("Fault start", "faultStart", None, None),
        one(
            "Detected",
            "detected",
            Some("timeToDetect"),
            Some(DETECT_GOAL),
        ),
        one("Notified", "notified", Some("timeToNotify"), None),
        one(
            "Acknowledged",
            "acknowledged",
            Some("timeToAcknowledge"),
            None,
        ),
        one(
            "Located",
            "located",
            Some("timeToLocate"),
            Some(LOCATE_GOAL),
        ),
        one(
            "Recovered",
            "recovered",
            Some("timeToRecover"),
            Some(RECOVER_GOAL),
        ),
    ]
}

fn root_view(r: &Value) -> Option<RootView> {
    if !r.is_object() {
        return None;
    }
    let (service, node) = (s(r, "service"), s(r, "node"));
    let what = if !service.is_empty() {
        format!("service {}", root_place(r))
    } else {
        root_place(r)
    };
    Some(RootView {
        what,
        service,
        instance: s(r, "instance"),
        node,
        metric: s(r, "metric"),
        confidence: r["confidence"]
            .as_f64()
            .map(|c| format!("{:.0}%", (c * 100.0).clamp(0.0, 100.0)))
            .unwrap_or_default(),
        confirmed_by: s(r, "confirmed_by"),
    })
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// A value for people: up to four significant digits.
fn num(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.abs() >= 1000.0 || x == x.trunc() => format!("{x:.0}"),
        Some(x) => format!("{:.4}", x)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string(),
        None => String::new(),
    }
}

/// One moved series of an incident's `evidence`.
fn move_row(m: &Value) -> MoveRow {
    let labels = m["labels"].as_object().cloned().unwrap_or_default();
    let name = labels
        .get("__name__")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let inner: Vec<String> = labels
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| format!("{k}={:?}", v.as_str().unwrap_or("")))
        .collect();
    let series = format!("{name}{{{}}}", inner.join(", "));
    let distance = match m["hops"].as_u64() {
        Some(0) => "root".to_string(),
        Some(1) => "1 call".to_string(),
        Some(h) => format!("{h} calls"),
        None => String::new(),
    };
    MoveRow {
        explore: format!("/ui/explorer?q={}", argus_model::url::query_escape(&series)),
        series,
        moved_at: when(&m["movedAt"]),
        direction: s(m, "direction"),
        change: format!("{} → {}", num(&m["baseline"]), num(&m["peak"])),
        strength: m["strength"]
            .as_f64()
            .map(|z| format!("{z:.0}σ"))
            .unwrap_or_default(),
        distance,
    }
}

/// One incident of `GET /api/argus/v1/incidents/{id}` (`data`).
pub fn incident(v: &Value) -> IncidentView {
    let alerts: Vec<IncidentAlertRow> = v["alerts"]
        .as_array()
        .map(|a| a.iter().map(incident_alert).collect())
        .unwrap_or_default();
    let timeline = v["timeline"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    let kind = s(e, "kind");
                    TimelineRow {
                        at: when(&e["at"]),
                        kind_text: kind.replace('_', " "),
                        kind,
                        text: s(e, "text"),
                        alert: s(e, "alert"),
                        at_ms: e["at"]
                            .as_str()
                            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                            .map_or(0, |t| t.timestamp_millis()),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let services = strings(&v["topology"]["services"]);
    let edges: Vec<(String, String)> = v["topology"]["edges"]
        .as_array()
        .map(|a| a.iter().map(|e| (s(e, "caller"), s(e, "callee"))).collect())
        .unwrap_or_default();
    let root = root_view(&v["root"]);
    let root_service = root
        .as_ref()
        .map(|r| r.service.as_str())
        .filter(|r| !r.is_empty());
    let evidence = v["evidence"]
        .as_array()
        .map(|a| a.iter().map(move_row).collect())
        .unwrap_or_default();
    let changes = v["changes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| crate::model::ChangeRow {
                    at: s(c, "at"),
                    kind: s(c, "kind"),
                    service: s(c, "service"),
                    summary: s(c, "summary"),
                })
                .collect()
        })
        .unwrap_or_default();
    let suspects = v["suspects"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| crate::model::SuspectRow {
                    service: s(x, "service"),
                    kind: s(x, "kind"),
                    metric: s(x, "metric"),
                    score: x["score"]
                        .as_f64()
                        .map(|f| format!("{f:.2}"))
                        .unwrap_or_default(),
                    evidence: s(x, "evidence"),
                })
                .collect()
        })
        .unwrap_or_default();
    let a = &v["assistant"];
    let assistant = a.is_object().then(|| crate::model::AssistantView {
        model: s(a, "model"),
        at: a["at_ms"]
            .as_i64()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default(),
        who: s(a, "who"),
        answer: s(a, "answer"),
        error: s(a, "error"),
        system: s(a, "system"),
        evidence: s(a, "evidence"),
    });
    IncidentView {
        changes,
        runbooks: None,
        evidence,
        suspects,
        assistant,
        assistant_configured: v["assistantConfigured"].as_bool().unwrap_or(false),
        evidence_at: when(&v["evidenceAt"]),
        id: s(v, "id"),
        title: s(v, "title"),
        state: s(v, "state"),
        severity: s(v, "severity"),
        owner: s(v, "owner"),
        active: is_active(v),
        times: milestones(&v["times"]),
        timeline,
        alerts,
        graph: graph::layout(&services, &edges, root_service),
        services,
        merged_into: s(v, "mergedInto"),
        root,
    }
}

fn incident_alert(a: &Value) -> IncidentAlertRow {
    let l = &a["labels"];
    let summary = ["summary", "description", "message"]
        .iter()
        .map(|k| s(&a["annotations"], k))
        .find(|x| !x.is_empty())
        .unwrap_or_default();
    IncidentAlertRow {
        fingerprint: s(a, "fingerprint"),
        name: s(l, "alertname"),
        summary,
        service: s(a, "service"),
        instance: s(a, "instance"),
        node: s(a, "node"),
        severity: s(a, "severity"),
        firing: a["firing"].as_bool().unwrap_or(false),
        firings: a["firings"].as_u64().unwrap_or(0),
        starts_at: when(&a["startsAt"]),
        located: s(&a["annotations"], "root_cause_detail"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn times() -> Value {
        json!({"faultStart": "2026-03-01T10:00:00Z", "detected": "2026-03-01T10:00:40Z",
            "notified": "2026-03-01T10:01:00.250Z", "acknowledged": null, "located": "2026-03-01T10:07:00Z",
            "recovered": null, "timeToDetect": 40.0, "timeToNotify": 60.25, "timeToAcknowledge": null,
            "timeToLocate": 420.0, "timeToRecover": null})
    }

    #[test]
    fn durations_read_like_speech() {
        assert_eq!(duration(0.0), "0 s");
        assert_eq!(duration(1.5), "1.5 s");
        assert_eq!(duration(60.0), "1 min");
        assert_eq!(duration(3_725.0), "1 h 2 min");
        assert_eq!(duration(90_000.0), "1 d 1 h");
        assert_eq!(duration(f64::NAN), "");
        assert_eq!(duration(-1.0), "");
    }

    #[test]
    fn list_rows_name_the_root_and_the_times() {
        let v = json!([
            {"id": "12", "title": "SlowQueries on db and 2 more alerts", "state": "open", "severity": "critical",
             "owner": null, "root": {"service": "db", "confidence": 0.8}, "times": times(),
             "alerts": 3, "firing": 2, "services": ["api", "db", "web"], "updated": "2026-03-01T10:07:00Z"},
            {"id": "13", "title": "DiskFull", "state": "resolved", "severity": "warning", "owner": "ann",
             "root": {"node": "db-1", "confidence": 1.0, "confirmed_by": "ann"}, "times": times(),
             "alerts": 1, "firing": 0, "services": [], "updated": "2026-03-01T10:07:00Z"}
        ]);
        let rows = incident_rows(&v);
        assert_eq!(rows.len(), 2);
        let r = &rows[0];
        assert_eq!(
            (r.id.as_str(), r.root.as_str(), r.owner.as_str()),
            ("12", "db", "")
        );
        assert_eq!((r.alerts, r.firing), (3, 2));
        assert_eq!(r.detected, "2026-03-01 10:00:40");
        assert_eq!(r.time_to_detect, "40 s");
        assert_eq!(r.time_to_locate, "7 min");
        assert_eq!(r.time_to_recover, "");
        assert!(r.active);
        assert_eq!(rows[1].root, "machine db-1");
        assert!(!rows[1].active);
        assert!(incident_rows(&json!(null)).is_empty());
    }

    #[test]
    fn one_incident_has_milestones_timeline_alerts_and_a_map() {
        let v = json!({
            "id": "12", "title": "SlowQueries on db", "state": "acknowledged", "severity": "critical",
            "owner": "ann", "root": {"service": "db", "instance": "10.0.0.5:5432", "metric": "SlowQueries", "confidence": 0.834},
            "times": times(),
            "alerts": [
                {"fingerprint": "00000000000000ab", "labels": {"alertname": "SlowQueries", "app": "db"},
                 "annotations": {"summary": "p99 over 2 s"}, "service": "db", "instance": "10.0.0.5:5432", "node": null,
                 "severity": "critical", "startsAt": "2026-03-01T10:00:30Z", "joined": "2026-03-01T10:00:40Z",
                 "changed": "2026-03-01T10:00:40Z", "firing": true, "firings": 2},
                {"fingerprint": "00000000000000cd", "labels": {"alertname": "Errors"}, "annotations": {},
                 "service": "api", "instance": null, "node": null, "severity": "warning",
                 "startsAt": "2026-03-01T10:00:35Z", "joined": "2026-03-01T10:00:41Z",
                 "changed": "2026-03-01T10:05:00Z", "firing": false, "firings": 1}
            ],
            "timeline": [
                {"at": "2026-03-01T10:00:40Z", "kind": "opened", "text": "Opened by SlowQueries.", "alert": "00000000000000ab"},
                {"at": "2026-03-01T10:02:00Z", "kind": "alert_resolved", "text": "Errors resolved.", "alert": null}
            ],
            "topology": {"services": ["api", "db"], "edges": [{"caller": "web", "callee": "api"}, {"caller": "api", "callee": "db"}]},
            "mergedInto": null, "updated": "2026-03-01T10:07:00Z"
        });
        let i = incident(&v);
        assert_eq!(i.title, "SlowQueries on db");
        assert!(i.active);
        let root = i.root.as_ref().unwrap();
        assert_eq!(root.what, "service db (10.0.0.5:5432)");
        assert_eq!(root.confidence, "83%");
        let names: Vec<&str> = i.times.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Fault start",
                "Detected",
                "Notified",
                "Acknowledged",
                "Located",
                "Recovered"
            ]
        );
        assert_eq!(i.times[0].since_fault, "");
        assert_eq!(i.times[1].since_fault, "40 s");
        assert!(!i.times[1].over);
        assert_eq!(i.times[2].at, "2026-03-01 10:01:00");
        assert_eq!(i.times[3].at, "", "not acknowledged yet");
        assert!(i.times[4].over, "located after 7 min, the goal is 5");
        assert_eq!(i.times[4].target, "5 min");
        assert_eq!(i.timeline.len(), 2);
        assert_eq!(i.timeline[1].kind_text, "alert resolved");
        assert_eq!(i.timeline[0].alert, "00000000000000ab");
        assert_eq!(i.timeline[1].alert, "");
        assert_eq!(i.timeline[0].at_ms, 1_772_359_240_000);
        assert_eq!(i.alerts[0].name, "SlowQueries");
        assert_eq!(i.alerts[0].summary, "p99 over 2 s");
        assert_eq!(i.alerts[0].node, "");
        assert!(i.alerts[0].firing && !i.alerts[1].firing);
        assert_eq!(i.services, ["api", "db"]);
        assert_eq!(i.graph.nodes.len(), 3);
        let db = i.graph.nodes.iter().find(|n| n.name == "db").unwrap();
        assert!(db.root && db.incident && db.layer == 2);
        assert!(i.graph.nodes.iter().any(|n| n.name == "web" && !n.incident));
        assert_eq!(i.merged_into, "");
    }

    #[test]
    fn merged_incidents_take_no_actions_and_a_rootless_one_has_no_root() {
        let i = incident(
            &json!({"id": "3", "state": "open", "mergedInto": "2", "root": null, "times": times()}),
        );
        assert!(!i.active);
        assert_eq!(i.merged_into, "2");
        assert!(i.root.is_none());
        assert!(i.graph.nodes.is_empty());
    }

    #[test]
    fn no_incidents_means_no_figures() {
        assert!(one_five_ten(&json!({"incidents": 0})).is_none());
        let f = one_five_ten(
            &json!({"incidents": 3, "detect": {"count": 3, "p50": 75.0, "p90": 120.0}}),
        )
        .unwrap();
        assert_eq!(f.incidents, 3);
        assert_eq!(f.period, "7 days");
        assert!(f.figures[0].over, "a median of 75 s misses the 1 min goal");
        assert_eq!(f.figures[0].p90, "2 min");
        assert_eq!(f.figures[1].count, 0);
        assert_eq!(f.figures[2].target, "10 min");
    }
}
