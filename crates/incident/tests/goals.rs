//! The 1-5-10 report counts the incidents that missed each goal.

use argus_incident::config::IncidentsConfig;
use argus_incident::service::IncidentService;
use argus_incident::Signal;
use argus_model::{Labels, ManualClock};
use std::sync::Arc;

#[test]
fn the_times_report_counts_missed_goals() {
    let clock = Arc::new(ManualClock::new(10_000_000));
    let svc = IncidentService::open(None, &IncidentsConfig::default(), clock.clone()).unwrap();
    // Detected 30 s after its start; another 2 minutes after its start.
    let quick = Signal::firing(
        Labels::from_pairs(&[("alertname", "Down"), ("service", "a")]),
        10_000_000,
    );
    let mut late = Signal::firing(
        Labels::from_pairs(&[("alertname", "Slow"), ("service", "b")]),
        10_000_000,
    );
    late.starts_at_ms = 10_000_000 - 120_000;
    let mut quick = quick;
    quick.starts_at_ms = 10_000_000 - 30_000;
    svc.observe_now(vec![quick, late]);
    let r = svc.times_report(86_400_000);
    assert_eq!(r.incidents, 2);
    assert_eq!(r.missed.detect, 1);
    assert_eq!(r.missed.recover, 0, "neither is past 10 minutes yet");
    // Eleven minutes on, neither recovered: both missed recover (and locate, unless located).
    clock.advance(11 * 60_000);
    let r = svc.times_report(86_400_000);
    assert_eq!(r.missed.recover, 2);
    let mut m = String::new();
    svc.metrics_text(&mut m);
    assert!(
        m.contains("argus_incident_goal_missed{goal=\"recover\"} 2"),
        "{m}"
    );
}
