//! Synthetic cases: a simulated call graph of eleven services with cpu,
//! memory, latency and error-rate metrics at one-minute steps, 60 minutes
//! before the start and 5 after, one fault injected at the start on one
//! service and its latency and errors carried up to the callers.

use super::*;
use argus_model::SplitMix64;

pub(super) const MINUTE: i64 = 60_000;
/// The start: minute 60 of the window, on the hour.
pub(super) const START: i64 = 1_700_000_000_000 / 3_600_000 * 3_600_000 + 60 * MINUTE;
pub(super) const T0: i64 = START - 60 * MINUTE;

/// (service, cpu cores, memory MiB, own latency s)
const SERVICES: &[(&str, f64, f64, f64)] = &[
    ("frontend", 0.30, 300.0, 0.010),
    ("cart", 0.10, 120.0, 0.004),
    ("catalog", 0.15, 200.0, 0.006),
    ("checkout", 0.05, 80.0, 0.008),
    ("recommend", 0.20, 400.0, 0.012),
    ("ad", 0.02, 150.0, 0.003),
    ("payment", 0.01, 60.0, 0.005),
    ("shipping", 0.01, 60.0, 0.004),
    ("email", 0.0005, 40.0, 0.002),
    ("currency", 0.08, 90.0, 0.002),
    ("redis", 0.03, 30.0, 0.0005),
];

const EDGES: &[(&str, &str)] = &[
    ("frontend", "cart"),
    ("frontend", "catalog"),
    ("frontend", "checkout"),
    ("frontend", "recommend"),
    ("frontend", "ad"),
    ("checkout", "payment"),
    ("checkout", "shipping"),
    ("checkout", "email"),
    ("checkout", "currency"),
    ("checkout", "cart"),
    ("cart", "redis"),
    ("recommend", "catalog"),
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    CpuHog,
    MemoryLeak,
    Delay,
    CodeError,
}

struct Sim {
    seed: u64,
    fault: Option<(Fault, &'static str)>,
    /// An earlier cpu hog on this service, minutes 25 to 35, recovered since.
    earlier: Option<&'static str>,
    /// Idle services blip after the start.
    blips: bool,
}

fn idx(svc: &str) -> usize {
    SERVICES
        .iter()
        .position(|s| s.0 == svc)
        .expect("a known service")
}

/// The end-to-end latency and error rate of `v` at one minute, from the own
/// values of every service (callees first, by recursion: the graph is acyclic).
fn total(v: usize, own_lat: &[f64], own_err: &[f64]) -> (f64, f64) {
    let mut lat = own_lat[v];
    let mut err = own_err[v];
    for (a, b) in EDGES {
        if *a == SERVICES[v].0 {
            let (l, e) = total(idx(b), own_lat, own_err);
            lat += 0.5 * l;
            err = err.max(0.8 * e);
        }
    }
    (lat, err)
}

fn simulate(sim: &Sim) -> Vec<Series> {
    let mut rng = SplitMix64::new(sim.seed);
    let n = SERVICES.len();
    let mut out: Vec<Vec<Vec<(i64, f64)>>> = vec![vec![Vec::new(); 4]; n];
    for i in 0..65i64 {
        let t = T0 + i * MINUTE;
        let mut noise = |scale: f64| 1.0 + scale * (2.0 * rng.unit() - 1.0);
        let mut cpu: Vec<f64> = SERVICES.iter().map(|s| s.1 * noise(0.08)).collect();
        let mut mem: Vec<f64> = SERVICES
            .iter()
            .map(|s| s.2 * 1_048_576.0 * noise(0.01))
            .collect();
        let mut lat: Vec<f64> = SERVICES.iter().map(|s| s.3 * noise(0.1)).collect();
        let mut err: Vec<f64> = (0..n).map(|_| 0.001 * noise(0.5)).collect();
        if let Some(e) = sim.earlier {
            if (25..35).contains(&i) {
                cpu[idx(e)] += 0.8;
                lat[idx(e)] *= 2.0;
            }
        }
        if i >= 60 {
            if sim.blips {
                cpu[idx("email")] += 0.003;
                cpu[idx("ad")] += 0.004;
            }
            if let Some((f, svc)) = sim.fault {
                let v = idx(svc);
                match f {
                    Fault::CpuHog => {
                        cpu[v] += 1.0;
                        lat[v] *= 2.0;
                    }
                    Fault::MemoryLeak => mem[v] *= 1.0 + 0.15 * (i - 59) as f64,
                    Fault::Delay => lat[v] += 0.2,
                    Fault::CodeError => {
                        err[v] = 0.3;
                        lat[v] *= 1.1;
                    }
                }
            }
        }
        for v in 0..n {
            let (l, e) = total(v, &lat, &err);
            for (k, x) in [cpu[v], mem[v], l, e].into_iter().enumerate() {
                out[v][k].push((t, x));
            }
        }
    }
    let families = [
        "cpu_usage_cores",
        "memory_usage_bytes",
        "latency_p90_seconds",
        "error_ratio",
    ];
    let mut series = Vec::new();
    for (v, per) in out.into_iter().enumerate() {
        for (k, samples) in per.into_iter().enumerate() {
            series.push(Series {
                labels: Labels::from_pairs(&[
                    ("__name__", families[k]),
                    ("service", SERVICES[v].0),
                ]),
                samples,
            });
        }
    }
    series
}

fn case(sim: &Sim, with_normal: bool, with_graph: bool) -> Case {
    let normal = if with_normal {
        // A fault-free hour on another day, shifted so its times do not overlap.
        simulate(&Sim {
            seed: sim.seed ^ 0xA5A5,
            fault: None,
            earlier: None,
            blips: false,
        })
        .into_iter()
        .map(|mut s| {
            s.samples.iter_mut().for_each(|p| p.0 -= 86_400_000);
            s
        })
        .collect()
    } else {
        Vec::new()
    };
    Case {
        window: simulate(sim),
        normal,
        start_ms: START,
        entry: Some(Entry {
            service: Some("frontend".into()),
            metric: Some("latency".into()),
        }),
        edges: if with_graph {
            EDGES
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        } else {
            Vec::new()
        },
    }
}

fn expected_kind(f: Fault) -> Kind {
    match f {
        Fault::CpuHog => Kind::Cpu,
        Fault::MemoryLeak => Kind::Memory,
        Fault::Delay => Kind::Network,
        Fault::CodeError => Kind::Code,
    }
}

fn check(f: Fault, culprit: &'static str, seed: u64, normal: bool, graph: bool, blips: bool) {
    let sim = Sim {
        seed,
        fault: Some((f, culprit)),
        earlier: None,
        blips,
    };
    let r = rank(&case(&sim, normal, graph), &Settings::default()).unwrap();
    let top = &r.suspects[0];
    assert_eq!(
        (top.service.as_str(), top.kind),
        (culprit, expected_kind(f)),
        "{f:?} on {culprit} (normal {normal}, graph {graph}): {:#?}",
        &r.suspects[..3]
    );
}

const CULPRITS: &[&str] = &["cart", "checkout", "payment", "catalog", "redis", "email"];

#[test]
fn each_fault_on_each_culprit_ranks_first_with_its_kind() {
    for (k, f) in [
        Fault::CpuHog,
        Fault::MemoryLeak,
        Fault::Delay,
        Fault::CodeError,
    ]
    .into_iter()
    .enumerate()
    {
        for (j, c) in CULPRITS.iter().enumerate() {
            let seed = 1000 + 10 * k as u64 + j as u64;
            check(f, c, seed, true, true, true);
            check(f, c, seed, false, true, false);
        }
    }
}

#[test]
fn resource_faults_need_no_graph() {
    for (j, c) in CULPRITS.iter().enumerate() {
        check(Fault::CpuHog, c, 77 + j as u64, true, false, true);
        check(Fault::MemoryLeak, c, 88 + j as u64, false, false, true);
    }
}

#[test]
fn the_graph_blames_the_callee_that_moved_first() {
    // Errors of checkout's callee payment reach checkout and the front end
    // at almost the same strength; the graph picks the deepest.
    let sim = Sim {
        seed: 5,
        fault: Some((Fault::CodeError, "payment")),
        earlier: None,
        blips: false,
    };
    let r = rank(&case(&sim, true, true), &Settings::default()).unwrap();
    assert_eq!(r.suspects[0].service, "payment", "{:#?}", &r.suspects[..4]);
    let checkout = r.suspects.iter().find(|s| s.service == "checkout").unwrap();
    assert!(
        checkout
            .evidence
            .contains("its callee payment moved as much"),
        "{}",
        checkout.evidence
    );
}

#[test]
fn an_earlier_recovered_incident_does_not_steal_the_blame() {
    for (j, c) in ["shipping", "cart", "catalog"].into_iter().enumerate() {
        let sim = Sim {
            seed: 300 + j as u64,
            fault: Some((Fault::Delay, c)),
            earlier: Some("currency"),
            blips: true,
        };
        let r = rank(&case(&sim, false, true), &Settings::default()).unwrap();
        assert_eq!(r.suspects[0].service, c, "{:#?}", &r.suspects[..3]);
        let cur = r
            .suspects
            .iter()
            .position(|s| s.service == "currency")
            .unwrap();
        assert!(cur >= 3, "currency ranked {cur}");
    }
}

#[test]
fn idle_blips_rank_below_a_real_move() {
    let sim = Sim {
        seed: 9,
        fault: Some((Fault::Delay, "payment")),
        earlier: None,
        blips: true,
    };
    let r = rank(&case(&sim, false, false), &Settings::default()).unwrap();
    let pos = |svc: &str| r.suspects.iter().position(|s| s.service == svc).unwrap();
    assert!(pos("payment") < pos("email") && pos("payment") < pos("ad"));
    assert!(r.suspects[pos("email")].score < Settings::default().anomalous_z.ln_1p());
}

#[test]
fn deterministic_and_evidence_is_a_sentence() {
    let sim = Sim {
        seed: 11,
        fault: Some((Fault::CpuHog, "cart")),
        earlier: None,
        blips: true,
    };
    let c = case(&sim, true, true);
    let a = rank(&c, &Settings::default()).unwrap();
    let b = rank(&c, &Settings::default()).unwrap();
    assert_eq!(a, b);
    let e = &a.suspects[0].evidence;
    assert!(e.starts_with("cpu_usage_cores rose "), "{e}");
    assert!(e.contains(" UTC, at the start"), "{e}");
    let json = serde_json::to_value(&a.suspects[0]).unwrap();
    assert_eq!(json["kind"], "cpu");
}

#[test]
fn bad_input_gives_an_empty_ranking_or_an_error_never_a_panic() {
    assert!(rank(&Case::default(), &Settings::default())
        .unwrap()
        .suspects
        .is_empty());
    let weird = Case {
        window: vec![
            Series {
                labels: Labels::from_pairs(&[("__name__", "x"), ("service", "a")]),
                samples: vec![
                    (5, f64::NAN),
                    (1, f64::INFINITY),
                    (START, 1.0),
                    (START, 2.0),
                ],
            },
            Series {
                labels: Labels::from_pairs(&[("service", "b")]),
                samples: vec![],
            },
            Series {
                labels: Labels::from_pairs(&[
                    ("__name__", "edge_latency"),
                    ("source", "a"),
                    ("destination", "b"),
                ]),
                samples: vec![(0, 1.0), (START + 1, 5.0)],
            },
        ],
        start_ms: START,
        entry: Some(Entry::default()),
        edges: vec![("a".into(), "a".into())],
        ..Case::default()
    };
    let r = rank(&weird, &Settings::default()).unwrap();
    assert_eq!(r.suspects.len(), 1);
    assert_eq!(r.suspects[0].service, "b");
    let bad = Settings {
        downstream_penalty: f64::NAN,
        ..Settings::default()
    };
    assert!(matches!(
        rank(&weird, &bad),
        Err(TopologyError::InvalidSetting {
            name: "downstream_penalty",
            ..
        })
    ));
}

#[test]
fn the_baseline_scores_the_largest_robust_z() {
    let sim = Sim {
        seed: 3,
        fault: Some((Fault::CpuHog, "checkout")),
        earlier: None,
        blips: false,
    };
    let r = zscore_baseline(&case(&sim, true, false), "service");
    assert_eq!(r.suspects[0].service, "checkout");
    assert_eq!(r.suspects.len(), SERVICES.len());
}

#[test]
fn a_long_history_beats_a_normal_period_at_another_level() {
    // "a" was rescaled since the normal period (cpu 1.0 there, 0.2 in the
    // hour before the start) and its cpu rises back to 0.9 at the start;
    // "b"'s latency moves less but agrees with both baselines.
    let wobble = |i: i64| ((i * 7919) % 13) as f64 / 13.0;
    let mk = |svc: &str, fam: &str, shift: i64, f: &dyn Fn(i64) -> f64| Series {
        labels: Labels::from_pairs(&[("__name__", fam), ("service", svc)]),
        samples: (0..65).map(|i| (T0 + shift + i * MINUTE, f(i))).collect(),
    };
    let a_now = |i: i64| if i >= 60 { 0.9 } else { 0.2 + 0.01 * wobble(i) };
    let b_now = |i: i64| 0.1 + 0.005 * wobble(i) + if i >= 60 { 0.05 } else { 0.0 };
    let c = Case {
        window: vec![
            mk("a", "cpu_usage_cores", 0, &a_now),
            mk("b", "latency_seconds", 0, &b_now),
        ],
        normal: vec![
            mk("a", "cpu_usage_cores", -86_400_000, &|i| {
                1.0 + 0.05 * wobble(i)
            }),
            mk("b", "latency_seconds", -86_400_000, &|i| {
                0.1 + 0.005 * wobble(i)
            }),
        ],
        start_ms: START,
        ..Case::default()
    };
    let r = rank(&c, &Settings::default()).unwrap();
    assert_eq!(r.suspects[0].service, "a", "{:#?}", r.suspects);
    let off = Settings {
        history_points: 0,
        ..Settings::default()
    };
    let r = rank(&c, &off).unwrap();
    assert_eq!(r.suspects[0].service, "b", "{:#?}", r.suspects);
}

/// A machine's cpu reported beside each of its two pods moves for both; the
/// pod whose own cpu moved too is ranked first, though the machine's series
/// moved further and the other pod's name sorts first.
#[test]
fn a_machine_series_shared_by_two_services_does_not_decide() {
    let series = |name: &str, svc: &str, f: &dyn Fn(i64) -> f64| Series {
        labels: Labels::from_pairs(&[("__name__", name), ("service", svc)]),
        samples: (0..65).map(|i| (T0 + i * MINUTE, f(i))).collect(),
    };
    let wobble = |i: i64| ((i * 7919) % 13) as f64 / 13.0 - 0.5;
    let node = |i: i64| 0.10 + 0.005 * wobble(i) + if i >= 60 { 0.60 } else { 0.0 };
    let own = |i: i64| 0.50 + 0.05 * wobble(i) + if i >= 60 { 0.60 } else { 0.0 };
    let quiet = |i: i64| 0.30 + 0.03 * wobble(i);
    let case = Case {
        window: vec![
            series("node_cpu_usage_ratio", "a-idle", &node),
            series("node_cpu_usage_ratio", "z-hog", &node),
            series("container_cpu_usage_ratio", "a-idle", &quiet),
            series("container_cpu_usage_ratio", "z-hog", &own),
        ],
        start_ms: START,
        ..Case::default()
    };
    let ranked = |shared_weight| {
        let s = Settings {
            shared_weight,
            ..Settings::default()
        };
        rank(&case, &s)
            .unwrap()
            .suspects
            .into_iter()
            .map(|s| s.service)
            .collect::<Vec<_>>()
    };
    assert_eq!(ranked(Settings::default().shared_weight)[0], "z-hog");
    // Counted in full, the machine's series ties the two and the name decides.
    assert_eq!(ranked(1.0)[0], "a-idle");
}

#[test]
fn an_istio_edge_series_counts_for_its_destination() {
    // Only the mesh's view: request durations from the front end to cart,
    // labelled by workload, five times slower after the start.
    let edge = Series {
        labels: Labels::from_pairs(&[
            ("__name__", "istio_request_duration_milliseconds"),
            ("source_workload", "frontend"),
            ("destination_workload", "cart"),
        ]),
        samples: (0..65)
            .map(|i| {
                let wobble = ((i * 7919) % 13) as f64 / 13.0;
                (T0 + i * MINUTE, if i >= 60 { 50.0 } else { 10.0 } + wobble)
            })
            .collect(),
    };
    let case = Case {
        window: vec![edge],
        start_ms: START,
        ..Case::default()
    };
    let r = rank(&case, &Settings::default()).unwrap();
    assert_eq!(r.suspects.len(), 1, "{:?}", r.suspects);
    assert_eq!(r.suspects[0].service, "cart");
    assert_eq!(r.suspects[0].kind, Kind::Network);
}
