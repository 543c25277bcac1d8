//! Time lost on the way: a callee named by its callers' client side when
//! its own latency does not show the wait.

use super::tests::START;
use super::tests_entry::{series, wobble};
use super::*;

/// front → api → db; the answers of db reach api 0.2 s late from the
/// start. db's own latency does not move; api waits, and so does front.
/// `client` and `server` name the two families.
fn case(client: &str, server: &str, db_to: f64) -> Case {
    let after = |i: i64| i >= 60;
    let late = move |i: i64| if after(i) { db_to } else { 0.0 };
    let window = vec![
        series("db", server, &|i| 0.005 + 0.0005 * wobble(i)),
        series("api", client, &move |i| {
            0.006 + late(i) + 0.0005 * wobble(i + 1)
        }),
        series("api", server, &move |i| {
            0.01 + 0.6 * late(i) + 0.0005 * wobble(i + 2)
        }),
        series("front", client, &move |i| {
            0.012 + 0.6 * late(i) + 0.0005 * wobble(i + 3)
        }),
        series("front", server, &move |i| {
            0.02 + 0.36 * late(i) + 0.0005 * wobble(i + 4)
        }),
    ];
    Case {
        window,
        normal: Vec::new(),
        start_ms: START,
        entry: Some(Entry {
            service: Some("front".into()),
            metric: Some("latency".into()),
        }),
        edges: vec![("front".into(), "api".into()), ("api".into(), "db".into())],
    }
}

#[test]
fn a_callee_whose_answers_come_late_is_named_by_its_callers() {
    let c = case(
        "pod_client_latency_p95_seconds",
        "pod_server_latency_p95_seconds",
        0.2,
    );
    let r = rank(&c, &Settings::default()).unwrap();
    let first = &r.suspects[0];
    assert_eq!(first.service, "db", "{:?}", r.suspects);
    assert_eq!(first.kind, Kind::Network);
    assert!(first.evidence.contains("api"), "{}", first.evidence);
    // Without the delay nobody lost time, and nothing is named for it.
    let calm = rank(
        &case(
            "pod_client_latency_p95_seconds",
            "pod_server_latency_p95_seconds",
            0.0,
        ),
        &Settings::default(),
    )
    .unwrap();
    assert!(calm
        .suspects
        .iter()
        .all(|s| s.kind != Kind::Network || !s.evidence.contains("on the way")));
}

#[test]
fn rises_in_different_units_are_not_compared() {
    // The client side in milliseconds, the own latency in seconds: the
    // numbers cannot be set against each other, so db gets no evidence.
    let c = case(
        "pod_client_latency_p95_milliseconds",
        "pod_server_latency_p95_seconds",
        0.2,
    );
    let r = rank(&c, &Settings::default()).unwrap();
    assert!(
        r.suspects
            .iter()
            .all(|s| !s.evidence.contains("on the way")),
        "{:?}",
        r.suspects
    );
}
