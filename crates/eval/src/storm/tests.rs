use std::collections::{BTreeMap, BTreeSet, HashMap};

use argus_incident::replay::read_alerts;
use argus_incident::topology::Topology;

use super::{generate, Preset, StormConfig};
use crate::incidents::TruthKind;

#[test]
fn the_same_seed_gives_the_same_storm_and_another_seed_another() {
    let a = generate(&Preset::Medium.config(42));
    let b = generate(&Preset::Medium.config(42));
    assert_eq!(a.alerts, b.alerts);
    assert_eq!(a.graph, b.graph);
    assert_eq!(a.truth, b.truth);
    let c = generate(&Preset::Medium.config(43));
    assert_ne!(a.alerts, c.alerts);
}

#[test]
fn every_line_has_its_truth_and_fault_roots_are_in_the_graph() {
    for seed in [1u64, 2, 3, 99] {
        let s = generate(&Preset::Medium.config(seed));
        let alerts = read_alerts(&s.alerts).expect("the generated file reads back");
        let topo = Topology::from_csv(&s.graph).expect("the graph reads back");
        assert_eq!(alerts.len(), s.truth.len());
        assert_eq!(s.truth_jsonl().lines().count(), alerts.len());
        let services: BTreeSet<String> = s
            .graph
            .lines()
            .skip(1)
            .flat_map(|l| l.split(',').map(str::to_string))
            .collect();
        let mut kinds: BTreeMap<String, TruthKind> = BTreeMap::new();
        for (i, t) in s.truth.iter().enumerate() {
            assert_eq!(t.line, i);
            assert_eq!(alerts[i].line, i);
            // One group, one kind and one root.
            let k = kinds.entry(t.group.clone()).or_insert(t.kind);
            assert_eq!(*k, t.kind, "{}", t.group);
            match t.kind {
                TruthKind::ServiceFault => {
                    let root = t.root.service.as_deref().expect("a service root");
                    assert!(services.contains(root) && topo.knows(root), "{root}");
                }
                TruthKind::NodeFailure => assert!(t.root.node.is_some()),
                TruthKind::Noise => assert!(t.group.starts_with("noise-")),
            }
        }
        let count = |k: TruthKind| kinds.values().filter(|&&v| v == k).count();
        assert!(count(TruthKind::ServiceFault) > 5, "seed {seed}: {kinds:?}");
        assert!(count(TruthKind::Noise) >= 3, "seed {seed}");
    }
}

#[test]
fn alerts_alternate_firing_and_resolved_and_stay_in_order() {
    let s = generate(&Preset::Medium.config(5));
    let alerts = read_alerts(&s.alerts).unwrap();
    let mut firing: HashMap<String, bool> = HashMap::new();
    let mut resolved = 0;
    for a in &alerts {
        let key = a.labels.to_string();
        let was = firing.insert(key.clone(), a.firing).unwrap_or(false);
        assert_ne!(
            was, a.firing,
            "line {}: {key} fired or resolved twice",
            a.line
        );
        resolved += usize::from(!a.firing);
    }
    assert!(resolved * 3 > alerts.len(), "most alerts resolve");
}

#[test]
fn label_sets_are_those_of_different_sources() {
    let s = generate(&Preset::Medium.config(11));
    let alerts = read_alerts(&s.alerts).unwrap();
    let has = |f: &dyn Fn(&argus_incident::replay::ReplayAlert) -> bool| alerts.iter().any(f);
    assert!(has(
        &|a| a.labels.get("service").is_some() && a.labels.get("instance").is_some()
    ));
    assert!(has(
        &|a| a.labels.get("pod").is_some() && a.labels.get("namespace").is_some()
    ));
    assert!(has(
        &|a| a.labels.get("job") == Some("node") && a.labels.get("service").is_none()
    ));
    assert!(has(&|a| a.labels.get("host").is_some()));
    assert!(has(
        &|a| a.labels.len() == 3 && a.labels.get("job").is_some()
    ));
    assert!(has(&|a| a.labels.get("severity") == Some("critical")));
    assert!(alerts.iter().all(|a| a.labels.get("severity").is_some()));
}

#[test]
fn presets_have_their_sizes() {
    let small = generate(&Preset::Small.config(1)).truth.len();
    let medium = generate(&Preset::Medium.config(1)).truth.len();
    let large = generate(&Preset::Large.config(1)).truth.len();
    println!("lines: small {small}, medium {medium}, large {large}");
    assert!(small < medium && medium < large);
    assert!((6_000..16_000).contains(&large), "{large}");
    let tiny = StormConfig {
        services: 1,
        nodes: 1,
        faults: 0,
        noise_rate: 0.0,
        ..Preset::Small.config(3)
    };
    let s = generate(&tiny);
    assert!(read_alerts(&s.alerts).is_ok());
    assert!(s.truth.iter().all(|t| t.kind == TruthKind::Noise));
}
