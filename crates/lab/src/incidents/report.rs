//! The pure half of `argus-lab incidents`' results: incidents as Argus's API
//! shows them, which incident belongs to which fault, one table row per
//! fault, and the last line:
//!
//! ```text
//! summary: faults=9 detected=9 located=7 recovered=9 met1=9 met5=7 met10=9 false=0
//! ```
//! The 1-5-10 goals: detected within 1 minute of the injection, the root
//! named right within 5 minutes, recovered within 10 minutes.

use super::plan::Fault;
use crate::failures::analysis::Notice;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write as _;

/// An incident as `GET /api/argus/v1/incidents` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentView {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The root service named, if any.
    pub root: Option<String>,
    /// Its services.
    pub services: Vec<String>,
    /// The 1-5-10 times, Unix ms.
    pub fault_start_ms: Option<i64>,
    /// See `fault_start_ms`.
    pub detected_ms: Option<i64>,
    /// See `fault_start_ms`.
    pub notified_ms: Option<i64>,
    /// See `fault_start_ms`.
    pub located_ms: Option<i64>,
    /// See `fault_start_ms`.
    pub recovered_ms: Option<i64>,
    /// Its last change, Unix ms.
    pub updated_ms: Option<i64>,
}

fn ms(v: &Value, key: &str) -> Option<i64> {
    let s = v.get("times")?.get(key)?.as_str()?;
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// One incident out of the list's (or the single incident's) JSON.
pub fn parse_incident(v: &Value) -> Option<IncidentView> {
    let strs = |x: Option<&Value>| -> Vec<String> {
        x.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut services = strs(v.get("services"));
    if services.is_empty() {
        services = strs(v.pointer("/topology/services"));
    }
    Some(IncidentView {
        id: v.get("id")?.as_str()?.to_string(),
        title: v.get("title").and_then(Value::as_str).unwrap_or("").into(),
        root: v
            .pointer("/root/service")
            .and_then(Value::as_str)
            .map(str::to_string),
        services,
        fault_start_ms: ms(v, "faultStart"),
        detected_ms: ms(v, "detected"),
        notified_ms: ms(v, "notified"),
        located_ms: ms(v, "located"),
        recovered_ms: ms(v, "recovered"),
        updated_ms: v
            .get("updated")
            .and_then(Value::as_str)
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.timestamp_millis()),
    })
}

/// The incidents of a list answer (`{"status":"success","data":[…]}`).
pub fn parse_list(v: &Value) -> Vec<IncidentView> {
    v.get("data")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(parse_incident).collect())
        .unwrap_or_default()
}

/// The incident of a fault injected at `from_ms` into `service` and healed by
/// `to_ms`: among those detected in `[from_ms − 2 s, to_ms]`, the earliest
/// that holds the service (or names it as root), else the earliest; else an
/// older incident holding the service that changed since `from_ms` (an alert
/// that fired often reopens its own incident).
pub fn match_incident<'a>(
    incidents: &'a [IncidentView],
    service: &str,
    from_ms: i64,
    to_ms: i64,
) -> Option<&'a IncidentView> {
    let mut c: Vec<&IncidentView> = incidents
        .iter()
        .filter(|i| {
            i.detected_ms
                .is_some_and(|d| d >= from_ms - 2000 && d <= to_ms)
        })
        .collect();
    c.sort_by_key(|i| i.detected_ms);
    let holds = |i: &IncidentView| {
        i.root.as_deref() == Some(service) || i.services.iter().any(|s| s == service)
    };
    c.iter()
        .copied()
        .find(|i| holds(i))
        .or_else(|| c.first().copied())
        .or_else(|| {
            incidents
                .iter()
                .filter(|i| i.detected_ms.is_some_and(|d| d < from_ms))
                .filter(|i| i.updated_ms.is_some_and(|u| u >= from_ms) && holds(i))
                .max_by_key(|i| i.updated_ms)
        })
}

/// First firing notification of an alert that started after `from_ms` (less
/// 2 s) that arrived in `[from_ms, to_ms]`: (arrival,
/// the earliest `startsAt` among its alerts that is not older than `from_ms`
/// less a scrape).
pub fn first_notice(notices: &[Notice], from_ms: i64, to_ms: i64) -> Option<(i64, Option<i64>)> {
    let first = notices
        .iter()
        .filter(|n| n.firing && n.arrival_ms >= from_ms && n.arrival_ms <= to_ms)
        // A group's update re-sends its older alerts: only a new alert counts.
        .filter(|n| n.starts_ms.is_none_or(|s| s >= from_ms - 2000))
        .map(|n| n.arrival_ms)
        .min()?;
    let start = notices
        .iter()
        .filter(|n| n.firing && n.arrival_ms == first)
        .filter_map(|n| n.starts_ms)
        .filter(|s| *s >= from_ms - 2000)
        .min();
    Some((first, start))
}

/// `alertname@service` of the firing alerts of the notifications that arrived at `arrival_ms`.
pub fn alerts_at(notices: &[Notice], arrival_ms: i64) -> Vec<String> {
    let mut v: Vec<String> = notices
        .iter()
        .filter(|n| n.firing && n.arrival_ms == arrival_ms)
        .map(|n| format!("{}@{}", n.alertname, n.service.as_deref().unwrap_or("-")))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The outcome of one fault.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Row {
    /// The fault.
    pub n: usize,
    /// Its kind's name.
    pub kind: String,
    /// The injected service.
    pub service: String,
    /// For a KPI drop, the region.
    pub region: Option<String>,
    /// Injection time, Unix ms.
    pub inject_ms: i64,
    /// Argus's incident, if one matched.
    pub incident: Option<String>,
    /// Argus: seconds from injection to the incident's detection.
    pub detect_s: Option<f64>,
    /// Argus: seconds from injection to the first notification received.
    pub notify_s: Option<f64>,
    /// Argus: the firing alerts of its first notification.
    pub first_alerts: Vec<String>,
    /// The root service the incident named.
    pub root: Option<String>,
    /// Seconds from injection until the right root was named.
    pub locate_s: Option<f64>,
    /// Seconds from injection until the incident recovered.
    pub recover_s: Option<f64>,
    /// Who fixed it: `runbook <name>: <state>` or `lab heal`.
    pub fixed_by: String,
    /// The KPI alert's `root_cause` annotation, when there was one.
    pub root_cause: Option<String>,
    /// Prometheus: seconds from injection to the first notified alert's
    /// startsAt (when its rule fired).
    pub prom_detect_s: Option<f64>,
    /// Prometheus + Alertmanager: seconds from injection to the first notification.
    pub prom_notify_s: Option<f64>,
}

impl Row {
    /// A row for `f` injected at `inject_ms`, nothing measured yet.
    pub fn new(f: &Fault, inject_ms: i64) -> Row {
        Row {
            n: f.n,
            kind: f.kind.name().into(),
            service: f.service.clone(),
            region: f.region.clone(),
            inject_ms,
            ..Row::default()
        }
    }

    /// Fills Argus's figures from the incident matched to the fault; the
    /// times of a reopened incident (detected before the fault) count from
    /// the first notification instead.
    pub fn set_incident(&mut self, i: &IncidentView) {
        let t0 = self.inject_ms;
        let reopened = i.detected_ms.is_some_and(|d| d < t0 - 2000);
        let since = |t: Option<i64>| {
            t.filter(|t| !reopened || *t >= t0)
                .map(|t| (t - t0).max(0) as f64 / 1000.0)
        };
        self.incident = Some(i.id.clone());
        self.detect_s = since(i.detected_ms);
        self.root = i.root.clone();
        if self.located() {
            self.locate_s =
                since(i.located_ms.or(i.detected_ms)).or(self.notify_s.filter(|_| reopened));
        }
        self.recover_s = since(i.recovered_ms);
    }

    /// A notification came from Argus.
    pub fn detected(&self) -> bool {
        self.notify_s.is_some() || self.detect_s.is_some()
    }

    /// The root named is the injected service.
    pub fn located(&self) -> bool {
        self.root.as_deref() == Some(self.service.as_str())
    }

    /// The incident recovered.
    pub fn recovered(&self) -> bool {
        self.recover_s.is_some()
    }

    /// Detected within a minute.
    pub fn met1(&self) -> bool {
        self.detected() && self.detect_s.or(self.notify_s).is_some_and(|s| s <= 60.0)
    }

    /// Located right within five minutes.
    pub fn met5(&self) -> bool {
        self.locate_s.is_some_and(|s| s <= 300.0)
    }

    /// Recovered within ten minutes.
    pub fn met10(&self) -> bool {
        self.recover_s.is_some_and(|s| s <= 600.0)
    }
}

/// The counts of the last line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Faults injected.
    pub faults: usize,
    /// Detected by Argus.
    pub detected: usize,
    /// Root named right.
    pub located: usize,
    /// Recovered.
    pub recovered: usize,
    /// Met the 1-minute goal.
    pub met1: usize,
    /// Met the 5-minute goal.
    pub met5: usize,
    /// Met the 10-minute goal.
    pub met10: usize,
    /// Incidents Argus opened during the quiet phase.
    pub false_incidents: usize,
}

/// Counts over `rows`.
pub fn summarize(rows: &[Row], false_incidents: usize) -> Summary {
    let count = |f: fn(&Row) -> bool| rows.iter().filter(|r| f(r)).count();
    Summary {
        faults: rows.len(),
        detected: count(Row::detected),
        located: count(Row::located),
        recovered: count(Row::recovered),
        met1: count(Row::met1),
        met5: count(Row::met5),
        met10: count(Row::met10),
        false_incidents,
    }
}

/// The last line of the report.
pub fn summary_line(s: &Summary) -> String {
    format!(
        "summary: faults={} detected={} located={} recovered={} met1={} met5={} met10={} false={}",
        s.faults, s.detected, s.located, s.recovered, s.met1, s.met5, s.met10, s.false_incidents
    )
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |s| format!("{s:.1}"))
}

/// The table, one row per fault.
pub fn table(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>3} {:<13} {:<9} {:>3} {:>7} {:>7} {:<16} {:>7} {:>8} {:<28} {:<6} | {:>8} {:>8}",
        "#",
        "kind",
        "service",
        "det",
        "detect",
        "notify",
        "root (top-1)",
        "locate",
        "recover",
        "fixed by",
        "1/5/10",
        "prom det",
        "prom ntf"
    );
    for r in rows {
        let yn = |b: bool| if b { "y" } else { "n" };
        let root = match &r.root {
            Some(x) if r.located() => format!("{x} ok"),
            Some(x) => format!("{x} WRONG"),
            None => "-".into(),
        };
        let _ = writeln!(
            s,
            "{:>3} {:<13} {:<9} {:>3} {:>7} {:>7} {:<16} {:>7} {:>8} {:<28} {:<6} | {:>8} {:>8}",
            r.n,
            r.kind,
            r.service,
            yn(r.detected()),
            secs(r.detect_s),
            secs(r.notify_s),
            root,
            secs(r.locate_s),
            secs(r.recover_s),
            r.fixed_by,
            format!("{}/{}/{}", yn(r.met1()), yn(r.met5()), yn(r.met10())),
            secs(r.prom_detect_s),
            secs(r.prom_notify_s)
        );
    }
    s
}

/// `runbook <name>: <state>` of the latest execution for incident `id`
/// (the API lists the newest first).
pub fn runbook_outcome(executions: &[Value], id: &str) -> String {
    executions
        .iter()
        .find(|e| {
            e.get("incident")
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .as_deref()
                == Some(id)
        })
        .map(|e| {
            let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
            format!("runbook {}: {}", s("runbook"), s("state"))
        })
        .unwrap_or_else(|| "runbook (no execution)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::plan::FaultKind;

    fn inc(id: &str, root: &str, services: &[&str], detected: i64) -> IncidentView {
        IncidentView {
            id: id.into(),
            title: String::new(),
            root: Some(root.into()),
            services: services.iter().map(|s| s.to_string()).collect(),
            fault_start_ms: Some(detected - 1000),
            detected_ms: Some(detected),
            notified_ms: Some(detected + 500),
            located_ms: Some(detected + 60_000),
            recovered_ms: None,
            updated_ms: Some(detected + 1000),
        }
    }

    #[test]
    fn parses_the_api_shape() {
        let v: Value = serde_json::from_str(
            r#"{"status":"success","data":[{"id":"17","title":"db down","state":"open",
              "root":{"service":"db","confidence":0.8},"services":["db","orders"],
              "times":{"faultStart":"2026-01-01T00:00:00Z","detected":"2026-01-01T00:00:05.5Z",
                "notified":null,"located":"2026-01-01T00:01:00Z","recovered":null}}]}"#,
        )
        .expect("json");
        let l = parse_list(&v);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].id, "17");
        assert_eq!(l[0].root.as_deref(), Some("db"));
        assert_eq!(l[0].services, ["db", "orders"]);
        assert_eq!(
            l[0].detected_ms
                .zip(l[0].fault_start_ms)
                .map(|(a, b)| a - b),
            Some(5500)
        );
        assert_eq!(l[0].notified_ms, None);
    }

    #[test]
    fn matches_the_incident_holding_the_service_in_the_window() {
        let list = vec![
            inc("1", "cache", &["cache"], 500),        // before the fault
            inc("2", "gateway", &["gateway"], 10_000), // in the window, other service
            inc("3", "db", &["db", "orders"], 12_000), // in the window, holds db
            inc("4", "db", &["db"], 200_000),          // after the heal
        ];
        assert_eq!(
            match_incident(&list, "db", 9_000, 100_000).map(|i| i.id.as_str()),
            Some("3")
        );
        assert_eq!(
            match_incident(&list, "users", 9_000, 100_000).map(|i| i.id.as_str()),
            Some("2")
        );
        assert!(match_incident(&list, "db", 20_000, 100_000).is_none());
        // Reopened: detected long before the fault, changed after it.
        let mut old = inc("5", "orders", &["orders"], 1_000);
        old.updated_ms = Some(50_000);
        old.located_ms = Some(2_000);
        let l2 = vec![old];
        let m = match_incident(&l2, "orders", 40_000, 60_000).expect("reopened");
        let f = Fault {
            n: 1,
            kind: FaultKind::KpiDrop,
            service: "orders".into(),
            region: Some("eu".into()),
        };
        let mut r = Row::new(&f, 40_000);
        r.notify_s = Some(12.0);
        r.set_incident(m);
        assert_eq!(r.detect_s, None);
        assert_eq!(r.locate_s, Some(12.0));
        assert!(r.detected() && r.located() && r.met1());
    }

    #[test]
    fn rows_and_summary() {
        let f = Fault {
            n: 1,
            kind: FaultKind::DependencyDown,
            service: "db".into(),
            region: None,
        };
        let mut r = Row::new(&f, 10_000);
        let mut i = inc("3", "db", &["db"], 15_000);
        i.recovered_ms = Some(130_000);
        r.set_incident(&i);
        r.notify_s = Some(5.5);
        assert!(r.detected() && r.located() && r.recovered());
        assert_eq!(r.locate_s, Some(65.0));
        assert!(r.met1() && r.met5() && r.met10());
        let mut wrong = Row::new(&f, 0);
        wrong.set_incident(&inc("4", "orders", &["orders", "db"], 70_000));
        assert!(!wrong.located() && wrong.locate_s.is_none() && !wrong.met1());
        let missed = Row::new(&f, 0);
        let s = summarize(&[r.clone(), wrong, missed], 2);
        assert_eq!(
            summary_line(&s),
            "summary: faults=3 detected=2 located=1 recovered=1 met1=1 met5=1 met10=1 false=2"
        );
        let t = table(&[r]);
        assert!(t
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("db ok") && l.contains("y/y/y")));
    }

    #[test]
    fn runbook_outcome_is_the_newest_execution_of_the_incident() {
        let v: Vec<Value> = serde_json::from_str(
            r#"[{"id":9,"runbook":"heal-kpi","incident":8,"state":"running"},
                {"id":8,"runbook":"restart-service","incident":7,"state":"rolled_back"},
                {"id":7,"runbook":"restart-service","incident":7,"state":"failed"}]"#,
        )
        .expect("json");
        assert_eq!(
            runbook_outcome(&v, "7"),
            "runbook restart-service: rolled_back"
        );
        assert_eq!(runbook_outcome(&v, "8"), "runbook heal-kpi: running");
        assert_eq!(runbook_outcome(&v, "6"), "runbook (no execution)");
    }

    #[test]
    fn first_notice_takes_the_window_and_its_start() {
        let n = |arrival_ms, firing, starts_ms| Notice {
            arrival_ms,
            service: Some("db".into()),
            alertname: "ServiceDown".into(),
            firing,
            starts_ms,
        };
        let v = vec![
            n(1_000, true, Some(500)),
            n(11_000, true, Some(2_000)),
            n(12_000, false, Some(9_000)),
            n(13_000, true, Some(11_000)),
            n(13_000, true, Some(1_000)),
        ];
        assert_eq!(
            first_notice(&v, 10_000, 20_000),
            Some((13_000, Some(11_000)))
        );
        assert_eq!(first_notice(&v, 14_000, 20_000), None);
        assert_eq!(alerts_at(&v, 13_000), ["ServiceDown@db"]);
    }
}
