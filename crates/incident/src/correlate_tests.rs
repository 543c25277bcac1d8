use super::*;

fn sig(p: &[(&str, &str)], at: i64) -> Signal {
    Signal::firing(Labels::from_pairs(p), at)
}

fn chain() -> Topology {
    Topology::from_csv("caller,callee\nweb,api\napi,db\nbilling,ledger\n").unwrap()
}

#[test]
fn unrelated_faults_at_the_same_minute_are_two_incidents() {
    let mut c = Correlator::new(Settings::default(), chain());
    let a = c.observe(sig(&[("alertname", "Slow"), ("service", "db")], 0));
    let b = c.observe(sig(&[("alertname", "Down"), ("service", "ledger")], 1_000));
    let d = c.observe(sig(&[("alertname", "Slow"), ("service", "web")], 60_000));
    let e = c.observe(sig(
        &[("alertname", "Errors"), ("service", "billing")],
        61_000,
    ));
    assert_eq!(a, d);
    assert_eq!(b, e);
    assert_ne!(a, b);
}

#[test]
fn a_callers_own_trouble_is_not_its_callees_symptom() {
    let mut c = Correlator::new(Settings::default(), chain());
    let db = c.observe(sig(&[("alertname", "SlowQueries"), ("service", "db")], 0));
    // A caller's latency is the database's symptom; web's cpu is web's own.
    let api = c.observe(sig(
        &[("alertname", "HighRequestLatency"), ("service", "api")],
        30_000,
    ));
    let cpu = c.observe(sig(
        &[("alertname", "HighCPUUsage"), ("service", "web")],
        40_000,
    ));
    // So is a dynamic rule's alert on a saturation.
    let sat = c.observe(sig(
        &[
            ("alertname", "Workers"),
            ("service", "web"),
            ("kind", "saturation"),
        ],
        41_000,
    ));
    assert_eq!(api, db);
    assert_ne!(cpu, db);
    assert_eq!(sat, cpu, "web's own troubles belong together");
    // Below the root, a callee's own trouble is the cause showing late.
    let mut c = Correlator::new(Settings::default(), chain());
    let web = c.observe(sig(
        &[("alertname", "HighRequestLatency"), ("service", "web")],
        0,
    ));
    let db = c.observe(sig(
        &[("alertname", "HighMemoryUsage"), ("service", "db")],
        30_000,
    ));
    assert_eq!(web, db);
    // Without the words, web's cpu is taken for the database's symptom.
    let settings = Settings {
        own_trouble: Vec::new(),
        ..Settings::default()
    };
    let mut c = Correlator::new(settings, chain());
    let db = c.observe(sig(&[("alertname", "SlowQueries"), ("service", "db")], 0));
    let cpu = c.observe(sig(
        &[("alertname", "HighCPUUsage"), ("service", "web")],
        40_000,
    ));
    assert_eq!(cpu, db);
}

#[test]
fn a_noisy_alert_does_not_join_through_the_graph() {
    let mut c = Correlator::new(Settings::default(), chain());
    let disk = [("alertname", "DiskWarn"), ("service", "api")];
    // It fired and resolved three times before.
    for k in 0..3 {
        let t = k * 3_600_000;
        c.observe(sig(&disk, t));
        c.observe(Signal::resolved(Labels::from_pairs(&disk), t + 60_000));
        c.tick(t + 3_000_000);
    }
    let fault = c.observe(sig(&[("alertname", "Slow"), ("service", "db")], 20_000_000));
    let noise = c.observe(sig(&disk, 20_030_000));
    assert_ne!(fault, noise);
}

#[test]
fn a_machine_alert_merges_its_instances_incidents() {
    let mut c = Correlator::new(Settings::default(), Topology::default());
    let a = c
        .observe(sig(
            &[("alertname", "Down"), ("service", "x"), ("node", "n1")],
            0,
        ))
        .unwrap();
    let b = c
        .observe(sig(
            &[("alertname", "Down"), ("service", "y"), ("node", "n1")],
            5_000,
        ))
        .unwrap();
    let n = c
        .observe(sig(
            &[
                ("alertname", "NodeDown"),
                ("job", "node"),
                ("instance", "n1:9100"),
            ],
            20_000,
        ))
        .unwrap();
    let survivors: BTreeSet<u64> = [a, b, n]
        .iter()
        .map(|&id| {
            let mut id = id;
            while let Some(t) = c.incident(id).and_then(|i| i.merged_into) {
                id = t;
            }
            id
        })
        .collect();
    assert_eq!(survivors.len(), 1, "{a} {b} {n}");
    let id = *survivors.iter().next().unwrap();
    let inc = c.incident(id).unwrap();
    assert_eq!(inc.alerts.len(), 3);
    assert_eq!(inc.root.as_ref().unwrap().node.as_deref(), Some("n1"));
}

#[test]
fn recovery_needs_every_alert_resolved_for_the_stable_time() {
    let mut c = Correlator::new(Settings::default(), chain());
    let a = [("alertname", "Slow"), ("service", "db")];
    let b = [("alertname", "Slow"), ("service", "api")];
    let id = c.observe(sig(&a, 0)).unwrap();
    c.observe(sig(&b, 10_000));
    c.observe(Signal::resolved(Labels::from_pairs(&a), 100_000));
    assert!(c.tick(1_000_000).is_empty(), "one alert still fires");
    c.observe(Signal::resolved(Labels::from_pairs(&b), 200_000));
    assert!(c.tick(200_000 + 299_000).is_empty());
    assert_eq!(c.tick(500_000), vec![id]);
    let inc = c.incident(id).unwrap();
    assert_eq!(inc.state, State::Resolved);
    assert_eq!(inc.times.recovered_ms, Some(200_000));
    // Firing again after recovery opens a new incident.
    let again = c.observe(sig(&a, 600_000)).unwrap();
    assert_ne!(again, id);
}

#[test]
fn restore_keeps_ids_and_active_alerts() {
    let mut c = Correlator::new(Settings::default(), chain());
    let id = c
        .observe(sig(&[("alertname", "Slow"), ("service", "db")], 0))
        .unwrap();
    let saved: Vec<Incident> = c.incidents().cloned().collect();
    let mut d = Correlator::new(Settings::default(), chain());
    d.restore(saved);
    // The same alert firing again after a restart is the same incident, not a duplicate.
    assert_eq!(
        d.observe(sig(&[("alertname", "Slow"), ("service", "db")], 30_000)),
        Some(id)
    );
    assert_eq!(d.incident(id).unwrap().alerts.len(), 1);
    let other = d
        .observe(sig(&[("alertname", "X"), ("service", "ledger")], 40_000))
        .unwrap();
    assert!(other > id);
}

#[test]
fn the_root_is_located_once_confident() {
    let mut c = Correlator::new(Settings::default(), chain());
    let id = c
        .observe(sig(&[("alertname", "Slow"), ("service", "web")], 0))
        .unwrap();
    c.observe(sig(&[("alertname", "Slow"), ("service", "api")], 10_000));
    let inc = c.incident(id).unwrap();
    assert_eq!(inc.root.as_ref().unwrap().service.as_deref(), Some("api"));
    c.observe(sig(&[("alertname", "Slow"), ("service", "db")], 50_000));
    let inc = c.incident(id).unwrap();
    assert_eq!(inc.root.as_ref().unwrap().service.as_deref(), Some("db"));
    // Located when the root moved to the database, not before.
    assert_eq!(inc.times.located_ms, Some(50_000));
    assert!(inc.title.starts_with("Slow on db"), "{}", inc.title);
}

#[test]
fn placement_joins_a_machine_alert_with_the_pod_alerts_on_it() {
    use crate::placement::Placement;
    // Two pods on n1 (named only by address and service in their alerts), one
    // on n2, and n1's node exporter.
    let placement = Placement::from_csv(
        "address,node\n10.244.1.5:8080,n1\n10.244.1.9:5432,n1\n10.244.2.7:8080,n2\n10.0.0.1:9100,n1\n",
    )
    .unwrap();
    let run = || {
        let mut c = Correlator::new(Settings::default(), Topology::default());
        for l in placement.label_sets() {
            c.learn(&l);
        }
        let node = [
            ("alertname", "NodeDown"),
            ("job", "node"),
            ("instance", "10.0.0.1:9100"),
        ];
        let n = c.observe(sig(&node, 0)).unwrap();
        let a = c.observe(sig(
            &[
                ("alertname", "TargetDown"),
                ("job", "cart"),
                ("instance", "10.244.1.5:8080"),
            ],
            40_000,
        ));
        let b = c.observe(sig(
            &[
                ("alertname", "InstanceUnreachable"),
                ("service", "orders-db"),
                ("instance", "10.244.1.9:5432"),
            ],
            70_000,
        ));
        let other = c.observe(sig(
            &[
                ("alertname", "TargetDown"),
                ("job", "search"),
                ("instance", "10.244.2.7:8080"),
            ],
            75_000,
        ));
        (n, a.unwrap(), b.unwrap(), other.unwrap(), c)
    };
    let (n, a, b, other, c) = run();
    assert_eq!((a, b), (n, n));
    // A pod on another machine stays out.
    assert_ne!(other, n);
    let root = c.incident(n).unwrap().root.clone().unwrap();
    assert_eq!(root.node.as_deref(), Some("n1"));
}

#[test]
fn two_machines_failing_together_are_two_incidents_and_take_their_pods_back() {
    let topo = Topology::from_csv("caller,callee\nweb,api\n").unwrap();
    let mut c = Correlator::new(Settings::default(), topo);
    let n1 = c
        .observe(sig(&[("alertname", "NodeDown"), ("node", "n1")], 0))
        .unwrap();
    let api = [
        ("alertname", "KubePodNotReady"),
        ("pod", "api-7d9f8c6b5-x2k4q"),
        ("node", "n1"),
    ];
    assert_eq!(c.observe(sig(&api, 5_000)), Some(n1));
    // A pod of a caller, on another machine whose own alert has not fired
    // yet: through the graph, it first joins n1's incident.
    let web = [
        ("alertname", "KubePodNotReady"),
        ("pod", "web-6c8d7f9b4-p9z2m"),
        ("node", "n2"),
    ];
    assert_eq!(c.observe(sig(&web, 10_000)), Some(n1));
    // n2's own alert: an incident of its own, which takes its pod's alert.
    let n2 = c
        .observe(sig(
            &[("alertname", "KubeNodeNotReady"), ("node", "n2")],
            30_000,
        ))
        .unwrap();
    assert_ne!(n2, n1);
    let key = Labels::from_pairs(&web).stable_hash();
    assert_eq!(c.incident_of(key), Some(n2));
    assert_eq!(c.last_moves(), &[(key, n1, n2)]);
    assert_eq!(c.incident(n1).unwrap().alerts.len(), 2);
    let root = |id| c.incident(id).unwrap().root.clone().unwrap().node;
    assert_eq!(root(n1).as_deref(), Some("n1"));
    assert_eq!(root(n2).as_deref(), Some("n2"));
}

#[test]
fn an_alert_back_after_its_fault_cleared_joins_the_new_fault() {
    let topo = Topology::from_csv("caller,callee\nweb,db\nweb,cache\n").unwrap();
    let mut c = Correlator::new(Settings::default(), topo);
    let db = [("alertname", "Slow"), ("service", "db")];
    let web = [("alertname", "Latency"), ("service", "web")];
    let first = c.observe(sig(&db, 0)).unwrap();
    assert_eq!(c.observe(sig(&web, 20_000)), Some(first));
    // The database recovers, then the web's symptom clears.
    c.observe(Signal::resolved(Labels::from_pairs(&db), 100_000));
    c.observe(Signal::resolved(Labels::from_pairs(&web), 110_000));
    // The cache fails; the web's latency comes back: the cache's symptom.
    let cache = c
        .observe(sig(&[("alertname", "Down"), ("service", "cache")], 150_000))
        .unwrap();
    assert_ne!(cache, first);
    assert_eq!(c.observe(sig(&web, 170_000)), Some(cache));
    // While the root fires, a symptom that clears and fires again is a flap.
    let flap = c.observe(sig(&web, 170_000)).unwrap();
    c.observe(Signal::resolved(Labels::from_pairs(&web), 200_000));
    assert_eq!(c.observe(sig(&web, 230_000)), Some(flap));
}

#[test]
fn an_alert_whose_lone_incident_was_merged_away_is_not_noise() {
    let topo = Topology::from_csv("caller,callee\nx,db\ny,db\n").unwrap();
    let mut c = Correlator::new(Settings::default(), topo);
    let x = [("alertname", "Down"), ("service", "x"), ("node", "n1")];
    let y = [("alertname", "Down"), ("service", "y"), ("node", "n1")];
    let node = [
        ("alertname", "NodeDown"),
        ("job", "node"),
        ("instance", "n1:9100"),
    ];
    // Each opens an incident alone; the machine's alert merges them, so one
    // of the two incidents is left empty, marked merged.
    let a = c.observe(sig(&x, 0)).unwrap();
    let b = c.observe(sig(&y, 5_000)).unwrap();
    c.observe(sig(&node, 20_000)).unwrap();
    let emptied = [(a, x), (b, y)]
        .into_iter()
        .find(|(id, _)| c.incident(*id).unwrap().merged_into.is_some());
    let (_, subject) = emptied.expect("the machine's alert merged an incident");
    for p in [&x, &y, &node] {
        c.observe(Signal::resolved(Labels::from_pairs(p), 60_000));
    }
    // Three more times, each a symptom of a slow database: it fires as
    // often as noise, but never on its own, so it joins the fault each time.
    let db = [("alertname", "Slow"), ("service", "db")];
    for k in 1..=3 {
        let t = k * 3_600_000;
        c.tick(t - 1);
        let fault = c.observe(sig(&db, t)).unwrap();
        assert_eq!(
            c.observe(sig(&subject, t + 30_000)),
            Some(fault),
            "round {k}"
        );
        c.observe(Signal::resolved(Labels::from_pairs(&db), t + 60_000));
        c.observe(Signal::resolved(Labels::from_pairs(&subject), t + 60_000));
    }
}

/// Fires and resolves the alerts `ps` together at `t` (`at_ms` apart), then
/// lets the incident recover.
fn fail_together(c: &mut Correlator, ps: &[&[(&str, &str)]], t: i64) -> Vec<Option<u64>> {
    let ids = ps
        .iter()
        .enumerate()
        .map(|(i, p)| c.observe(sig(p, t + i as i64 * 10_000)))
        .collect();
    for p in ps {
        c.observe(Signal::resolved(Labels::from_pairs(p), t + 120_000));
    }
    c.tick(t + 900_000);
    ids
}

/// Twice, the machine of `pay` and `fraud` failed and took both down: one
/// incident each time.
fn down_twice_with_their_machine(c: &mut Correlator) {
    let node = [
        ("alertname", "NodeDown"),
        ("job", "node"),
        ("instance", "n1:9100"),
    ];
    let pay_n = [("alertname", "Errors"), ("service", "pay"), ("node", "n1")];
    let fraud_n = [
        ("alertname", "Errors"),
        ("service", "fraud"),
        ("node", "n1"),
    ];
    for k in 0..2 {
        fail_together(c, &[&pay_n, &fraud_n, &node], k * 7_200_000);
    }
}

#[test]
fn services_that_failed_together_before_are_related_without_an_edge() {
    let mut c = Correlator::new(Settings::default(), Topology::default());
    down_twice_with_their_machine(&mut c);
    // Now they fail together with no machine alert and no edge between them.
    let pay = [("alertname", "Latency"), ("service", "pay")];
    let fraud = [("alertname", "Latency"), ("service", "fraud")];
    let ids = fail_together(&mut c, &[&pay, &fraud], 20_000_000);
    assert_eq!(ids[0], ids[1]);
}

#[test]
fn busy_services_that_met_by_chance_stay_apart() {
    let mut c = Correlator::new(Settings::default(), Topology::default());
    down_twice_with_their_machine(&mut c);
    let day = 86_400_000;
    // Each also failed eight times without the other (days apart, so
    // neither counts as noise).
    let pay = [("alertname", "Latency"), ("service", "pay")];
    let fraud = [("alertname", "Latency"), ("service", "fraud")];
    for k in 1..=8 {
        fail_together(&mut c, &[&pay], k * 2 * day);
        fail_together(&mut c, &[&fraud], k * 2 * day + day);
    }
    // Two shared incidents out of ten each is chance: apart.
    let ids = fail_together(&mut c, &[&pay, &fraud], 20 * day);
    assert_ne!(ids[0], ids[1]);
    assert!(ids.iter().all(Option::is_some));
}

#[test]
fn a_machine_warning_does_not_take_the_root_from_a_service_failing_everywhere() {
    let mut c = Correlator::new(Settings::default(), Topology::default());
    let api = |inst: &'static str, node: &'static str| {
        [
            ("alertname", "HighErrorRate"),
            ("service", "api"),
            ("instance", inst),
            ("node", node),
        ]
    };
    let id = c.observe(sig(&api("api-1", "n1"), 0)).unwrap();
    assert_eq!(c.observe(sig(&api("api-2", "n2"), 5_000)), Some(id));
    // A disk warning on one of its machines joins the incident.
    let disk = [
        ("alertname", "NodeFilesystemSpaceFillingUp"),
        ("job", "node"),
        ("instance", "n1:9100"),
        ("severity", "warning"),
    ];
    assert_eq!(c.observe(sig(&disk, 20_000)), Some(id));
    let root = c.incident(id).unwrap().root.clone().unwrap();
    assert_eq!(root.service.as_deref(), Some("api"), "{root:?}");
    assert_eq!(root.node, None);
}

#[test]
fn a_machine_warning_does_not_take_the_root_from_its_one_service_in_trouble_of_its_own() {
    // A service alerts on machine n1, then the machine warns of its disk.
    let root_after = |service_alert: &'static str| {
        let mut c = Correlator::new(Settings::default(), Topology::default());
        let on_n1 = [
            ("alertname", service_alert),
            ("service", "accounts"),
            ("instance", "10.0.0.1:80"),
            ("node", "n1"),
        ];
        let id = c.observe(sig(&on_n1, 0)).unwrap();
        let disk = [("alertname", "NodeDiskFilling"), ("node", "n1")];
        assert_eq!(c.observe(sig(&disk, 10_000)), Some(id));
        c.incident(id).unwrap().root.clone().unwrap()
    };
    // Its cpu fails: the service explains its own alert.
    let root = root_after("HighCPUUsage");
    assert_eq!(root.service.as_deref(), Some("accounts"), "{root:?}");
    // Its requests fail there: the machine under it.
    let root = root_after("HighErrorRate");
    assert_eq!(root.node.as_deref(), Some("n1"), "{root:?}");
}
