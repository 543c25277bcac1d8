//! Timelines of the monitor on a [`ManualClock`]: no sleeps.

use super::*;
use crate::probe::ProbeOutcome;
use argus_model::ManualClock;

fn monitor(yaml: &str) -> (Monitor, Arc<ManualClock>) {
    let cfg: HealthConfig = serde_saphyr::from_str(yaml).expect("test yaml parses");
    let clock = Arc::new(ManualClock::new(1_000_000));
    (Monitor::new(&cfg, clock.clone()).expect("valid"), clock)
}

fn names(alerts: &[HealthAlert]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| {
            format!(
                "{}/{}/{}{}",
                a.labels["alertname"],
                a.labels["service"],
                a.labels.get("reason").map_or("", |s| s.as_str()),
                if a.resolved { " resolved" } else { "" }
            )
        })
        .collect()
}

fn v(n: u64) -> Option<String> {
    Some(n.to_string())
}

const TWO_REDIS: &str = "redis_url: redis://127.0.0.1:6379\nresend_interval: 10s\nservices:\n  - {name: a, node: n1, heartbeat: {interval: 1s}}\n  - {name: b, node: n1, source: hardware, heartbeat: {key: 'k:b', interval: 2s}}\n";

#[test]
fn heartbeat_stop_fires_once_and_resume_resolves() {
    let (mut m, c) = monitor(TWO_REDIS);
    assert_eq!(
        m.redis_keys(),
        vec![(0, "argus:hb:a".into()), (1, "k:b".into())]
    );
    assert!(m.redis_poll(Ok(vec![(0, v(1)), (1, v(1))])).is_empty());
    for i in 2..6 {
        c.advance(200);
        assert!(m.redis_poll(Ok(vec![(0, v(i)), (1, v(i))])).is_empty());
    }
    assert_eq!(m.five_tuples()[0].status, "up");
    // a stops at 5; b goes on.
    c.advance(999);
    assert!(m.redis_poll(Ok(vec![(0, v(5)), (1, v(6))])).is_empty());
    c.advance(1);
    let fired = m.redis_poll(Ok(vec![(0, v(5)), (1, v(7))]));
    assert_eq!(names(&fired), ["ServiceDown/a/heartbeat"]);
    let a = &fired[0];
    assert_eq!(a.starts_at_ms, c.now_ms());
    assert_eq!(a.ends_at_ms, c.now_ms() + 40_000);
    assert_eq!(a.labels["node"], "n1");
    assert_eq!(a.labels["source"], "software");
    assert_eq!(a.labels["severity"], "critical");
    // Still down: nothing new, but the resend repeats it with a later end.
    c.advance(200);
    assert!(m.redis_poll(Ok(vec![(0, v(5)), (1, v(8))])).is_empty());
    let again = m.resend();
    assert_eq!(names(&again), ["ServiceDown/a/heartbeat"]);
    assert_eq!(again[0].starts_at_ms, a.starts_at_ms);
    assert_eq!(again[0].ends_at_ms, c.now_ms() + 40_000);
    let t = m.five_tuples();
    assert_eq!((t[0].status.as_str(), t[0].value), ("down", Some(0.0)));
    assert_eq!(t[1].source, "hardware");
    assert_eq!(t[0].content, "a: heartbeat redis argus:hb:a");
    // Resumes.
    c.advance(300);
    let resolved = m.redis_poll(Ok(vec![(0, v(6)), (1, v(9))]));
    assert_eq!(names(&resolved), ["ServiceDown/a/heartbeat resolved"]);
    assert_eq!(resolved[0].ends_at_ms, c.now_ms());
    assert!(m.active_alerts().is_empty());
    // Resolved alerts are repeated for 15 minutes, then dropped.
    assert_eq!(names(&m.resend()), ["ServiceDown/a/heartbeat resolved"]);
    c.advance(RESOLVED_RETENTION_MS + 1);
    let _ = m.redis_poll(Ok(vec![(0, None), (1, None)]));
    assert!(m.resend().is_empty());
}

#[test]
fn a_redis_outage_and_restart_raise_no_service_alert() {
    let (mut m, c) = monitor(TWO_REDIS);
    m.redis_poll(Ok(vec![(0, v(100)), (1, v(200))]));
    c.advance(200);
    m.redis_poll(Ok(vec![(0, v(101)), (1, v(201))]));
    // Redis goes away for a minute; polls keep failing.
    c.advance(200);
    let down = m.redis_poll(Err("connection refused".into()));
    assert_eq!(names(&down), ["HeartbeatStoreDown/heartbeat-store/"]);
    assert_eq!(down[0].labels["store"], "redis://127.0.0.1:6379");
    for _ in 0..300 {
        c.advance(200);
        assert!(m.redis_poll(Err("connection refused".into())).is_empty());
    }
    assert_eq!(m.five_tuples()[0].status, "unknown");
    assert!(!m
        .samples()
        .iter()
        .any(|(l, _, _)| l.get("__name__") == Some("argus_service_up")));
    // Redis is back, restarted: the counters are gone (lower than before).
    c.advance(200);
    let back = m.redis_poll(Ok(vec![(0, None), (1, None)]));
    assert_eq!(
        names(&back),
        ["HeartbeatStoreDown/heartbeat-store/ resolved"]
    );
    // a comes back at once; b takes most of its 2 s interval: no alert.
    c.advance(300);
    assert!(m.redis_poll(Ok(vec![(0, v(1)), (1, None)])).is_empty());
    c.advance(1_600);
    assert!(m.redis_poll(Ok(vec![(0, v(2)), (1, v(1))])).is_empty());
    assert_eq!(m.five_tuples()[1].status, "up");
    // A service really dead across the outage fails one full interval after
    // the reconnect, not before.
    c.advance(200);
    m.redis_poll(Err("refused".into()));
    c.advance(30_000);
    m.redis_poll(Ok(vec![(0, v(2)), (1, v(1))]));
    c.advance(999);
    assert!(m.redis_poll(Ok(vec![(0, v(3)), (1, v(1))])).is_empty());
    c.advance(1_000);
    assert!(m.redis_poll(Ok(vec![(0, v(4)), (1, v(1))])).is_empty());
    c.advance(1);
    let fired = m.redis_poll(Ok(vec![(0, v(5)), (1, v(1))]));
    assert_eq!(names(&fired), ["ServiceDown/b/heartbeat"]);
}

#[test]
fn an_alert_firing_before_an_outage_is_kept_not_resolved() {
    let (mut m, c) = monitor(TWO_REDIS);
    m.redis_poll(Ok(vec![(0, v(1)), (1, v(1))]));
    c.advance(1_000);
    let fired = m.redis_poll(Ok(vec![(0, v(1)), (1, v(2))]));
    assert_eq!(names(&fired), ["ServiceDown/a/heartbeat"]);
    c.advance(100);
    let out = m.redis_poll(Err("timeout".into()));
    assert_eq!(names(&out), ["HeartbeatStoreDown/heartbeat-store/"]);
    assert_eq!(m.active_alerts().len(), 2);
    c.advance(100);
    // Back; a still does not move: it stays down, no resolve, no new start.
    let back = m.redis_poll(Ok(vec![(0, v(1)), (1, v(3))]));
    assert_eq!(
        names(&back),
        ["HeartbeatStoreDown/heartbeat-store/ resolved"]
    );
    c.advance(1_500);
    assert!(m.redis_poll(Ok(vec![(0, v(1)), (1, v(4))])).is_empty());
    assert_eq!(names(&m.active_alerts()), ["ServiceDown/a/heartbeat"]);
    assert_eq!(m.active_alerts()[0].starts_at_ms, fired[0].starts_at_ms);
}

fn outcome(success: bool) -> ProbeOutcome {
    ProbeOutcome {
        success,
        duration_s: 0.01,
        attempts: 1,
        error: (!success).then(|| "refused".to_string()),
    }
}

#[test]
fn probes_fire_per_type_and_clear_when_all_pass() {
    let (mut m, _c) = monitor(
        "services:\n  - name: web\n    probes:\n      - {type: http, url: 'http://127.0.0.1:1/a'}\n      - {type: http, url: 'http://127.0.0.1:1/b'}\n      - {type: tcp, address: '127.0.0.1:1'}\n",
    );
    assert_eq!(m.five_tuples()[0].status, "unknown");
    assert!(m.probe_result(0, 0, outcome(true)).is_empty());
    assert_eq!(m.five_tuples()[0].status, "up");
    let f = m.probe_result(0, 1, outcome(false));
    assert_eq!(names(&f), ["ServiceDown/web/http"]);
    assert!(f[0].annotations["description"].contains("http://127.0.0.1:1/b: refused"));
    assert_eq!(
        names(&m.probe_result(0, 2, outcome(false))),
        ["ServiceDown/web/tcp"]
    );
    assert!(m.probe_result(0, 0, outcome(false)).is_empty());
    assert!(m.probe_result(0, 0, outcome(true)).is_empty());
    assert_eq!(
        names(&m.probe_result(0, 1, outcome(true))),
        ["ServiceDown/web/http resolved"]
    );
    assert_eq!(m.five_tuples()[0].status, "down");
    assert_eq!(
        names(&m.probe_result(0, 2, outcome(true))),
        ["ServiceDown/web/tcp resolved"]
    );
    let s = m.samples();
    let succ = s
        .iter()
        .filter(|(l, _, _)| l.get("__name__") == Some("argus_probe_success"))
        .count();
    assert_eq!(succ, 3);
}

#[test]
fn saturation_classes_raise_and_clear_their_alerts() {
    let (mut m, _c) = monitor(
        "services:\n  - name: q\n    probes: [{type: tcp, address: '127.0.0.1:1'}]\n    saturation:\n      load_query: 'rate(x[1m])'\n      dimensions:\n        - {name: cpu, capacity: 4, weight: 0.5}\n        - {name: memory, capacity: 8, weight: 0.5}\n",
    );
    m.probe_result(0, 0, outcome(true));
    // Ideal ability 6/s.
    assert!(m.saturation_result(0, Ok(Some(3.0))).is_empty());
    let t = &m.five_tuples()[0];
    assert_eq!((t.status.as_str(), t.value), ("normal", Some(0.5)));
    assert_eq!(
        names(&m.saturation_result(0, Ok(Some(6.0)))),
        ["ServiceOverloaded/q/"]
    );
    assert_eq!(m.five_tuples()[0].status, "overloaded");
    // No data: unknown, the alert stays.
    assert!(m.saturation_result(0, Ok(None)).is_empty());
    assert_eq!(m.five_tuples()[0].status, "up");
    let both = m.saturation_result(0, Ok(Some(0.375)));
    assert_eq!(
        names(&both),
        ["ServiceOverloaded/q/ resolved", "ServiceStarved/q/"]
    );
    let sat: Vec<f64> = m
        .samples()
        .iter()
        .filter(|(l, _, _)| l.get("__name__") == Some("argus_service_saturation"))
        .map(|(_, _, v)| *v)
        .collect();
    assert_eq!(sat, [0.0625]);
    let status: Vec<(String, f64)> = m
        .samples()
        .iter()
        .filter(|(l, _, _)| l.get("__name__") == Some("argus_service_status"))
        .map(|(l, _, v)| (l.get("status").unwrap_or("").to_string(), *v))
        .collect();
    assert_eq!(status.len(), 6);
    assert_eq!(status.iter().filter(|(_, v)| *v == 1.0).count(), 1);
    assert!(status.contains(&("starved".to_string(), 1.0)));
    assert!(m.saturation_result(0, Err("bad query".into())).is_empty());
    assert_eq!(
        m.five_tuples()[0].checks[1].error.as_deref(),
        Some("bad query")
    );
}

#[test]
fn http_heartbeats_need_no_redis_and_raise_no_store_alert() {
    let (mut m, c) =
        monitor("services:\n  - {name: h, heartbeat: {source: http, interval: 500ms}}\n");
    assert!(m.redis_keys().is_empty());
    assert_eq!(m.http_heartbeats(), vec![(0, "h".to_string())]);
    m.heartbeat_readings(&[(0, v(0))]);
    c.advance(500);
    assert_eq!(
        names(&m.heartbeat_readings(&[(0, v(0))])),
        ["ServiceDown/h/heartbeat"]
    );
    c.advance(1);
    assert_eq!(
        names(&m.heartbeat_readings(&[(0, v(1))])),
        ["ServiceDown/h/heartbeat resolved"]
    );
    assert!(!m
        .samples()
        .iter()
        .any(|(l, _, _)| l.get("__name__") == Some("argus_heartbeat_store_up")));
}
