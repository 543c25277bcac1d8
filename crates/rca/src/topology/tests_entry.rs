//! Ranking by what the entry saw and what a series measures: an incident
//! seen by failing requests counts failing requests and resources and
//! blames a slow callee for its callers' timeouts; a success rate is
//! measured by the share that fails; a client-side latency is read as its
//! callees' time.

use super::tests::{MINUTE, START, T0};
use super::*;

/// A bounded wobble in [-0.5, 0.5), the same for every run.
pub(super) fn wobble(i: i64) -> f64 {
    ((i * 7919) % 13) as f64 / 13.0 - 0.5
}

/// A series of `svc` in family `fam`: 65 one-minute points, the start at
/// the 61st.
pub(super) fn series(svc: &str, fam: &str, f: &dyn Fn(i64) -> f64) -> Series {
    Series {
        labels: Labels::from_pairs(&[("__name__", fam), ("service", svc)]),
        samples: (0..65).map(|i| (T0 + i * MINUTE, f(i))).collect(),
    }
}

#[test]
fn an_error_entry_ranks_by_errors_not_by_a_slow_neighbour() {
    // The front end calls payment and ad. Payment starts failing 5 % of its
    // requests at the start, and the front end's success rate with it; at
    // the same minute ad's latency triples (a slow neighbour, no errors).
    let after = |i: i64| i >= 60;
    let window = vec![
        series("frontend", "success_rate", &|i| {
            (if after(i) { 0.95 } else { 0.999 }) + 0.0005 * wobble(i)
        }),
        series("frontend", "latency_p95_seconds", &|i| {
            0.02 + 0.001 * wobble(i)
        }),
        series("payment", "success_rate", &|i| {
            (if after(i) { 0.95 } else { 0.999 }) + 0.0005 * wobble(i + 3)
        }),
        series("payment", "latency_p95_seconds", &|i| {
            0.01 + 0.0005 * wobble(i + 5)
        }),
        series("ad", "success_rate", &|i| 0.999 + 0.0005 * wobble(i + 7)),
        // Search recovers at the same minute: its success rate rises, the
        // healthy way.
        series("search", "success_rate", &|i| {
            (if after(i) { 0.999 } else { 0.95 }) + 0.0005 * wobble(i + 11)
        }),
        series("ad", "latency_p95_seconds", &|i| {
            (if after(i) { 0.03 } else { 0.01 }) + 0.0005 * wobble(i + 9)
        }),
    ];
    let case = |metric: &str| Case {
        window: window.clone(),
        normal: Vec::new(),
        start_ms: START,
        entry: Some(Entry {
            service: Some("frontend".into()),
            metric: Some(metric.into()),
        }),
        edges: vec![
            ("frontend".into(), "payment".into()),
            ("frontend".into(), "ad".into()),
            ("frontend".into(), "search".into()),
        ],
    };
    let order = |metric: &str| -> Vec<String> {
        rank(&case(metric), &Settings::default())
            .unwrap()
            .suspects
            .into_iter()
            .map(|s| s.service)
            .collect()
    };
    // Seen by failing requests: payment first; ad's latency and search's
    // recovery do not count (both trail, on their success rates' wobble).
    let by_errors = order("HighErrorRate");
    assert_eq!(by_errors, ["payment", "frontend", "ad", "search"]);
    // Seen by latency, or with the weight at 1, ad's tripled latency leads
    // and search's move counts in either direction (below payment, whose
    // failing share went from 0.1 % to 5 %).
    assert_eq!(order("latency"), ["ad", "payment", "search", "frontend"]);
    let off = Settings {
        entry_kind_weight: 1.0,
        ..Settings::default()
    };
    let first = rank(&case("availability"), &off).unwrap().suspects[0]
        .service
        .clone();
    assert_eq!(first, "ad");
}

#[test]
fn a_slow_callee_is_blamed_for_its_callers_timeouts() {
    // frontend calls api and ad; api calls db. db gets five times slower at
    // the start and api's calls to it time out: api fails 8 % of its
    // requests, and the front end with it. ad gets slower at the same
    // minute, a neighbour whose caller's failures api explains.
    let after = |i: i64| i >= 60;
    let window = |db_resources: bool| {
        let mut w = vec![
            series("frontend", "success_rate", &|i| {
                (if after(i) { 0.92 } else { 0.999 }) + 0.0002 * wobble(i)
            }),
            series("api", "success_rate", &|i| {
                (if after(i) { 0.92 } else { 0.999 }) + 0.0002 * wobble(i + 3)
            }),
            series("db", "success_rate", &|i| 0.999 + 0.0002 * wobble(i + 5)),
            series("ad", "success_rate", &|i| 0.999 + 0.0002 * wobble(i + 6)),
            series("db", "latency_p95_seconds", &|i| {
                (if after(i) { 0.05 } else { 0.01 }) + 0.0005 * wobble(i + 7)
            }),
            series("ad", "latency_p95_seconds", &|i| {
                (if after(i) { 0.05 } else { 0.01 }) + 0.0005 * wobble(i + 8)
            }),
        ];
        for svc in ["frontend", "api", "ad"]
            .into_iter()
            .chain(db_resources.then_some("db"))
        {
            w.push(series(svc, "container_cpu_usage_ratio", &|i| {
                0.2 + 0.01 * wobble(i + 2)
            }));
        }
        w
    };
    let evidence = std::cell::RefCell::new(String::new());
    let order = |db_resources: bool| -> Vec<String> {
        let case = Case {
            window: window(db_resources),
            normal: Vec::new(),
            start_ms: START,
            entry: Some(Entry {
                service: Some("frontend".into()),
                metric: Some("HighErrorRate".into()),
            }),
            edges: vec![
                ("frontend".into(), "api".into()),
                ("frontend".into(), "ad".into()),
                ("api".into(), "db".into()),
            ],
        };
        let r = rank(&case, &Settings::default()).unwrap();
        *evidence.borrow_mut() = r.suspects[0].evidence.clone();
        r.suspects.into_iter().map(|s| s.service).collect()
    };
    let seen = order(true);
    assert_eq!(seen[0], "db", "{seen:?}");
    assert!(
        evidence.borrow().contains("their calls time out"),
        "{}",
        evidence.borrow()
    );
    // ad's latency does not count: its caller's failures come from api.
    let ad = seen.iter().position(|s| s == "ad").unwrap();
    assert!(
        ad > seen.iter().position(|s| s == "api").unwrap(),
        "{seen:?}"
    );
    // A node known only by its latency may be its callers' view of their
    // own calls: without cpu or memory of its own, db is not blamed.
    assert_eq!(order(false)[0], "api");
}

#[test]
fn a_success_rate_is_measured_by_the_share_that_fails() {
    // 99.9 % to 95 %: fifty times as many requests fail. Against a floor
    // of 5 % of the success rate itself (0.05) that is one unit; the floor
    // is now 5 % of the failing share, and the family's (1 % of a success
    // rate's typical size, one point) binds: about five units.
    let s = series("pay", "pod_success_rate", &|i| {
        (if i >= 60 { 0.95 } else { 0.999 }) + 0.0001 * wobble(i)
    });
    let case = Case {
        window: vec![s],
        start_ms: START,
        ..Case::default()
    };
    let r = rank(&case, &Settings::default()).unwrap();
    assert_eq!(r.suspects[0].kind, Kind::Code);
    assert!(
        r.suspects[0].score >= Settings::default().anomalous_z.ln_1p(),
        "{:?}",
        r.suspects[0]
    );
}

#[test]
fn a_client_side_latency_points_below_its_service() {
    // db gets slower by 0.2 s; api, which calls it, sees its calls slow by
    // as much (a client-side latency). No graph: only the family's name
    // says that api's move is its callee's time.
    let slow = |i: i64| if i >= 60 { 0.2 } else { 0.0 };
    let case = Case {
        window: vec![
            series("db", "pod_server_latency_p90_seconds", &|i| {
                0.05 + slow(i) + 0.001 * wobble(i)
            }),
            series("api", "pod_client_latency_p90_seconds", &|i| {
                0.05 + slow(i) + 0.001 * wobble(i + 4)
            }),
        ],
        start_ms: START,
        ..Case::default()
    };
    let r = rank(&case, &Settings::default()).unwrap();
    assert_eq!(r.suspects[0].service, "db", "{:?}", r.suspects);
    assert!(
        r.suspects[1].score < 0.6 * r.suspects[0].score,
        "{:?}",
        r.suspects
    );
}

#[test]
fn many_idle_services_do_not_shrink_the_size_of_cpu() {
    // Six busy services and thirty idle ones (about a thousandth of a core
    // each). At the start every idle one blips to three thousandths, and
    // the culprit's cpu rises by a fifth. Against the idle services' own
    // size the blips would be threefold moves; against what the busy
    // services use they are nothing.
    let after = |i: i64| i >= 60;
    let mut window: Vec<Series> = (0..6)
        .map(|k| {
            let busy = 0.1 + 0.08 * k as f64;
            let culprit = k == 2;
            series(&format!("busy-{k}"), "cpu_usage_cores", &move |i| {
                let lift = if culprit && after(i) { 1.2 } else { 1.0 };
                busy * lift + 0.002 * wobble(i + k)
            })
        })
        .collect();
    window.extend((0..30).map(|k| {
        series(&format!("idle-{k:02}"), "cpu_usage_cores", &move |i| {
            (if after(i) { 0.003 } else { 0.001 }) + 0.0001 * wobble(i + k)
        })
    }));
    let case = Case {
        window,
        normal: Vec::new(),
        start_ms: START,
        entry: None,
        edges: Vec::new(),
    };
    let r = rank(&case, &Settings::default()).unwrap();
    assert_eq!(r.suspects[0].service, "busy-2", "{:?}", &r.suspects[..3]);
}
