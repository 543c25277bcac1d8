use crate::common::{get, VecApp};
use argus_ingest::push::ingest_json;
use argus_model::{is_stale_nan, ManualClock};

#[test]
fn array_and_ndjson() {
    let clock = ManualClock::new(5_000);
    let body = br#"[{"labels": {"__name__": "cpu", "host": "a"}, "samples": [[1700000000000, 1.5], [1700000015000, "NaN"], [1700000030000, "stale"]]},
                    {"labels": {"__name__": "mem"}, "value": "+Inf"},
                    {"labels": {"host": "noname"}, "value": 1},
                    {"labels": {"__name__": "x"}, "value": "oops"}]"#;
    let mut app = VecApp::default();
    let r = ingest_json(&mut app, body, &clock).unwrap();
    assert_eq!((r.accepted, r.rejected), (4, 2), "{:?}", r.errors);
    assert!(
        r.errors[0].starts_with("entry 2:") && r.errors[0].contains("missing metric name"),
        "{:?}",
        r.errors
    );
    assert!(r.errors[1].starts_with("entry 3:"));
    assert!(is_stale_nan(app.staged[2].2));
    assert_eq!((app.staged[3].1, app.staged[3].2), (5_000, f64::INFINITY));
    assert_eq!(get(&app.staged[0], "host"), Some("a"));

    let nd = b"{\"labels\": {\"__name__\": \"a\"}, \"value\": 1, \"timestamp\": 7}\n\n{broken\n{\"labels\": {\"__name__\": \"b\"}, \"value\": -2}\n";
    let mut app = VecApp::default();
    let r = ingest_json(&mut app, nd, &clock).unwrap();
    assert_eq!((r.accepted, r.rejected), (2, 1));
    assert!(
        r.errors[0].starts_with("entry 1 (line 3)"),
        "{:?}",
        r.errors
    );
}

#[test]
fn broken_array_is_a_400() {
    let clock = ManualClock::new(0);
    let mut app = VecApp::default();
    let e = ingest_json(&mut app, b"[{\"labels\": {}}, ", &clock).unwrap_err();
    assert_eq!(e.http_status(), 400);
    assert!(e.to_string().contains("line 1"));
}
