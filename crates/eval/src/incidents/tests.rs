use argus_incident::replay::{read_alerts, ReplayAlert, ReplayRoot};
use argus_incident::topology::Topology;

use super::baseline::{by_graph, by_labels};
use super::run::parse_seeds;
use super::{machine, read_truth, score, Grouping, TruthKind, TruthLine, TruthRoot};

/// Six firing lines (0-5) and one resolved (6): faults A (0, 1, 2, root
/// service db), B (3, 4, root node n1) and noise N (5).
fn fixture() -> (Vec<ReplayAlert>, Vec<TruthLine>) {
    let mut text = String::new();
    for i in 0..7 {
        let status = if i == 6 { "resolved" } else { "firing" };
        text.push_str(&format!(
            "{{\"at\":\"2026-01-01T00:0{i}:00Z\",\"status\":\"{status}\",\"labels\":{{\"a\":\"{i}\"}}}}\n"
        ));
    }
    let svc = |s: &str| TruthRoot {
        service: Some(s.into()),
        node: None,
    };
    let node = |s: &str| TruthRoot {
        service: None,
        node: Some(s.into()),
    };
    let t = |line, group: &str, root, kind| TruthLine {
        line,
        group: group.into(),
        root,
        kind,
    };
    let truth = vec![
        t(0, "A", svc("db"), TruthKind::ServiceFault),
        t(1, "A", svc("db"), TruthKind::ServiceFault),
        t(2, "A", svc("db"), TruthKind::ServiceFault),
        t(3, "B", node("n1"), TruthKind::NodeFailure),
        t(4, "B", node("n1"), TruthKind::NodeFailure),
        t(5, "N", svc("cron"), TruthKind::Noise),
        t(6, "A", svc("db"), TruthKind::ServiceFault),
    ];
    (read_alerts(&text).unwrap(), truth)
}

fn root(service: Option<&str>, node: Option<&str>) -> ReplayRoot {
    ReplayRoot {
        service: service.map(str::to_string),
        node: node.map(str::to_string),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn the_perfect_grouping_scores_one() {
    let (alerts, truth) = fixture();
    let g = Grouping::from_lists(vec![
        (vec![0, 1, 2], root(Some("db"), None)),
        (vec![3, 4], root(Some("web"), Some("n1.example.net"))),
        (vec![5], root(None, None)),
    ]);
    let s = score(&alerts, &truth, &g).unwrap();
    assert_eq!(
        (s.firing, s.incidents, s.true_groups, s.faults),
        (6, 3, 3, 2)
    );
    assert!(close(s.compression, 0.5) && close(s.perfect_compression, 0.5));
    assert_eq!(
        (s.precision, s.recall, s.f1, s.root_top1),
        (1.0, 1.0, 1.0, 1.0)
    );
}

#[test]
fn all_in_one_has_full_recall_and_the_share_of_true_pairs_as_precision() {
    let (alerts, truth) = fixture();
    let g = Grouping::from_lists(vec![((0..6).collect(), root(Some("db"), None))]);
    let s = score(&alerts, &truth, &g).unwrap();
    // 15 pairs, of which 3 (A) + 1 (B) are true.
    assert!(close(s.precision, 4.0 / 15.0));
    assert_eq!(s.recall, 1.0);
    assert!(close(s.f1, 2.0 * (4.0 / 15.0) / (4.0 / 15.0 + 1.0)));
    assert!(close(s.compression, 1.0 - 1.0 / 6.0));
    // A's root is right; B's main incident names no node.
    assert!(close(s.root_top1, 0.5));
}

#[test]
fn all_singletons_have_no_recall() {
    let (alerts, truth) = fixture();
    let g = Grouping::from_lists(
        (0..6)
            .map(|l| (vec![l], root(Some("db"), Some("n1"))))
            .collect(),
    );
    let s = score(&alerts, &truth, &g).unwrap();
    assert_eq!((s.precision, s.recall, s.f1), (1.0, 0.0, 0.0));
    assert_eq!(s.compression, 0.0);
    assert_eq!(s.root_top1, 1.0);
    // Leaving every line out is the same as singletons.
    let none = score(&alerts, &truth, &Grouping::default()).unwrap();
    assert_eq!((none.incidents, none.recall), (6, 0.0));
}

#[test]
fn a_split_fault_counts_its_pairs_and_its_main_incident() {
    let (alerts, truth) = fixture();
    // A split 2 + 1 with the 1 joined to B; noise alone.
    let g = Grouping::from_lists(vec![
        (vec![0, 1], root(Some("web"), None)),
        (vec![2, 3, 4], root(None, Some("n1"))),
        (vec![5], root(None, None)),
    ]);
    let s = score(&alerts, &truth, &g).unwrap();
    // TP = 1 (0-1) + 1 (3-4); predicted pairs 1 + 3; true pairs 3 + 1.
    assert!(close(s.precision, 0.5) && close(s.recall, 0.5) && close(s.f1, 0.5));
    // A's main incident (lines 0, 1) names web, not db; B's names n1.
    assert!(close(s.root_top1, 0.5));
}

#[test]
fn a_firing_line_without_truth_is_an_error_naming_it() {
    let (alerts, mut truth) = fixture();
    truth.remove(2);
    let e = score(&alerts, &truth, &Grouping::default()).unwrap_err();
    assert!(e.to_string().contains("alert line 3"), "{e}");
}

#[test]
fn truth_files_read_and_bad_lines_are_named() {
    let t = read_truth(
        "{\"line\":0,\"group\":\"g\",\"root\":{\"node\":\"n\"},\"kind\":\"node_failure\"}\n\n",
    )
    .unwrap();
    assert_eq!(t[0].kind, TruthKind::NodeFailure);
    let e = read_truth(
        "{\"line\":0,\"group\":\"g\",\"root\":{},\"kind\":\"node_failure\"}\n{\"line\":1}\n",
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("line 2:"), "{e}");
}

#[test]
fn machines_compare_without_port_or_domain() {
    assert_eq!(machine("ip-10-0-3-7.ec2.internal"), "ip-10-0-3-7");
    assert_eq!(machine("10.0.3.7:9100"), "10.0.3.7");
    assert_eq!(machine("Node-01"), "node-01");
}

#[test]
fn seeds_parse_as_ranges_and_lists() {
    assert_eq!(parse_seeds("1-3,7").unwrap(), vec![1, 2, 3, 7]);
    assert!(parse_seeds("3-1").is_err());
    assert!(parse_seeds("x").is_err());
}

#[test]
fn the_label_baseline_joins_shared_values_within_five_minutes() {
    let text = concat!(
        r#"{"at":"2026-01-01T00:00:00Z","status":"firing","labels":{"alertname":"A","service":"db","instance":"10.0.0.1:5432"}}"#,
        "\n",
        r#"{"at":"2026-01-01T00:02:00Z","status":"firing","labels":{"alertname":"B","job":"node","instance":"10.0.0.1:9100"}}"#,
        "\n",
        r#"{"at":"2026-01-01T00:03:00Z","status":"resolved","labels":{"alertname":"A","service":"db","instance":"10.0.0.1:5432"}}"#,
        "\n",
        r#"{"at":"2026-01-01T00:06:00Z","status":"firing","labels":{"alertname":"C","service":"web"}}"#,
        "\n",
        r#"{"at":"2026-01-01T00:20:00Z","status":"firing","labels":{"alertname":"D","job":"node","instance":"10.0.0.9:9100"}}"#,
        "\n",
    );
    let alerts = read_alerts(text).unwrap();
    let g = by_labels(&alerts);
    // 0 and 1 share the host 10.0.0.1; 3 shares nothing; 4 is too late.
    assert_eq!(g.roots.len(), 3);
    assert_eq!(g.of_line[&0], g.of_line[&1]);
    assert_eq!(g.roots[g.of_line[&0]].service.as_deref(), Some("db"));
    assert!(!g.of_line.contains_key(&2));
}

#[test]
fn the_graph_baseline_joins_neighbours_and_roots_downstream() {
    let text = concat!(
        r#"{"at":"2026-01-01T00:00:00Z","status":"firing","labels":{"alertname":"Slow","service":"web"}}"#,
        "\n",
        r#"{"at":"2026-01-01T00:01:00Z","status":"firing","labels":{"alertname":"Err","service":"api"}}"#,
        "\n",
        r#"{"at":"2026-01-01T00:02:00Z","status":"firing","labels":{"alertname":"Down","job":"db"}}"#,
        "\n",
        r#"{"at":"2026-01-01T00:02:30Z","status":"firing","labels":{"alertname":"X","service":"mail"}}"#,
        "\n",
        r#"{"at":"2026-01-01T00:03:00Z","status":"firing","labels":{"alertname":"N","instance":"10.0.0.1:9100"}}"#,
        "\n",
    );
    let alerts = read_alerts(text).unwrap();
    let topo = Topology::from_csv("caller,callee\nweb,api\napi,db\n").unwrap();
    let g = by_graph(&alerts, &topo);
    assert_eq!(g.roots.len(), 3);
    let first = g.of_line[&0];
    assert_eq!((g.of_line[&1], g.of_line[&2]), (first, first));
    assert_eq!(g.roots[first].service.as_deref(), Some("db"));
    assert_ne!(g.of_line[&3], first);
}

#[test]
fn the_file_run_writes_incidents_and_names_bad_files_and_lines() {
    use super::{run_incidents, IncidentsOptions};
    let dir = tempfile::tempdir().unwrap();
    let storm = crate::storm::generate(&crate::storm::Preset::Small.config(3));
    storm.write(dir.path()).unwrap();
    let opts = IncidentsOptions {
        alerts: dir.path().join("ALERTS.jsonl"),
        graph: Some(dir.path().join("GRAPH.csv")),
        placement: Some(dir.path().join("PLACEMENT.csv")),
        out: dir.path().join("INCIDENTS.jsonl"),
        truth: Some(dir.path().join("TRUTH.jsonl")),
    };
    let mut report = Vec::new();
    run_incidents(&opts, &mut report).unwrap();
    let report = String::from_utf8(report).unwrap();
    assert!(
        report.contains("argus") && report.contains("graph"),
        "{report}"
    );
    let out = std::fs::read_to_string(&opts.out).unwrap();
    assert!(out.lines().count() > 0);

    let bad = dir.path().join("BAD.jsonl");
    let first = storm.alerts.lines().next().unwrap();
    std::fs::write(&bad, format!("{first}\n{{\"at\": 1}}\n")).unwrap();
    let e = run_incidents(
        &IncidentsOptions {
            alerts: bad,
            ..opts.clone()
        },
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("BAD.jsonl: line 2"), "{e}");
    let placement = dir.path().join("PLACEMENT.csv");
    let good = std::fs::read_to_string(&placement).unwrap();
    assert!(good.starts_with("address,node\n") && good.lines().count() > 3);
    std::fs::write(&placement, "address,node\n10.0.0.1:80,n1\n10.0.0.2:80\n").unwrap();
    let e = run_incidents(&opts, &mut Vec::new()).unwrap_err();
    assert!(e.to_string().contains("PLACEMENT.csv: line 3"), "{e}");
    std::fs::write(&placement, good).unwrap();
    std::fs::write(dir.path().join("GRAPH.csv"), "a,b\n").unwrap();
    let e = run_incidents(&opts, &mut Vec::new()).unwrap_err();
    assert!(e.to_string().contains("GRAPH.csv: line 1"), "{e}");
}
