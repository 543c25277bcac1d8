use argus_ingest::relabel::{relabel, RelabelConfig};
use argus_model::Labels;

fn cfgs(yaml: &str) -> Vec<RelabelConfig> {
    let c: Vec<RelabelConfig> = serde_saphyr::from_str(yaml).unwrap();
    for x in &c {
        x.validate().unwrap();
    }
    c
}

fn run(yaml: &str, pairs: &[(&str, &str)]) -> Option<Labels> {
    let mut l = Labels::from_pairs(pairs);
    relabel(&mut l, &cfgs(yaml)).then_some(l)
}

#[test]
fn replace_semantics() {
    // Joined with the separator, anchored regex, $1 default replacement.
    let l = run(
        "- {source_labels: [a, b], separator: '-', regex: '(.*)-(.*)', target_label: c, replacement: '${2}x$1'}",
        &[("a", "1"), ("b", "2")],
    )
    .unwrap();
    assert_eq!(l.get("c"), Some("2x1"));
    // No match: nothing happens (the target is not touched).
    let l = run(
        "- {source_labels: [a], regex: 'z', target_label: c, replacement: new}",
        &[("a", "1"), ("c", "old")],
    )
    .unwrap();
    assert_eq!(l.get("c"), Some("old"));
    // Anchored: "1" does not match "1x".
    let l = run(
        "- {source_labels: [a], regex: '1', target_label: c}",
        &[("a", "1x")],
    )
    .unwrap();
    assert_eq!(l.get("c"), None);
    // Empty result deletes the target.
    let l = run(
        "- {source_labels: [missing], target_label: c}",
        &[("c", "old")],
    )
    .unwrap();
    assert_eq!(l.get("c"), None);
    // $1x names a group "1x" (Go semantics) and expands to empty.
    let l = run(
        "- {source_labels: [a], target_label: c, replacement: '$1x'}",
        &[("a", "v"), ("c", "old")],
    )
    .unwrap();
    assert_eq!(l.get("c"), None);
    // Named groups and target_label expansion.
    let l = run(
        "- {source_labels: [a], regex: '(?P<k>[a-z]+)=(?P<v>.*)', target_label: '${k}', replacement: '$v'}",
        &[("a", "env=prod")],
    )
    .unwrap();
    assert_eq!(l.get("env"), Some("prod"));
    // An invalid expanded target name is skipped.
    let l = run(
        "- {source_labels: [a], regex: '(.*)', target_label: '$1', replacement: x}",
        &[("a", "1bad")],
    )
    .unwrap();
    assert_eq!(l.len(), 1);
}

#[test]
fn keep_drop_and_equal() {
    assert!(run(
        "- {source_labels: [env], regex: 'prod|stage', action: keep}",
        &[("env", "prod")]
    )
    .is_some());
    assert!(run(
        "- {source_labels: [env], regex: 'prod|stage', action: keep}",
        &[("env", "dev")]
    )
    .is_none());
    assert!(run(
        "- {source_labels: [env], regex: 'dev', action: drop}",
        &[("env", "dev")]
    )
    .is_none());
    // keep with a missing label matches against "".
    assert!(run(
        "- {source_labels: [nope], regex: '.+', action: keep}",
        &[("env", "dev")]
    )
    .is_none());
    assert!(run(
        "- {source_labels: [a], target_label: b, action: keepequal}",
        &[("a", "1"), ("b", "1")]
    )
    .is_some());
    assert!(run(
        "- {source_labels: [a], target_label: b, action: dropequal}",
        &[("a", "1"), ("b", "1")]
    )
    .is_none());
}

#[test]
fn label_actions() {
    let l = run(
        "- {regex: '__meta_kubernetes_pod_label_(.+)', action: labelmap}",
        &[("__meta_kubernetes_pod_label_app", "web"), ("x", "1")],
    )
    .unwrap();
    assert_eq!(l.get("app"), Some("web"));
    assert_eq!(l.get("__meta_kubernetes_pod_label_app"), Some("web"));
    let l = run(
        "- {regex: 'tmp_.*', action: labeldrop}",
        &[("tmp_a", "1"), ("keep", "2")],
    )
    .unwrap();
    assert_eq!(l.to_string(), r#"{keep="2"}"#);
    let l = run(
        "- {regex: '__name__|job', action: labelkeep}",
        &[("__name__", "m"), ("job", "j"), ("x", "1")],
    )
    .unwrap();
    assert_eq!(l.len(), 2);
    let l = run("- {source_labels: [a], target_label: b, action: lowercase}\n- {source_labels: [a], target_label: c, action: uppercase}", &[("a", "MiX")]).unwrap();
    assert_eq!((l.get("b"), l.get("c")), (Some("mix"), Some("MIX")));
}

#[test]
fn hashmod_is_stable_and_in_range() {
    for addr in ["a:1", "b:2", "c:3", "10.0.0.1:9100"] {
        let l = run(
            "- {source_labels: [__address__], modulus: 8, target_label: shard, action: hashmod}",
            &[("__address__", addr)],
        )
        .unwrap();
        let s: u64 = l.get("shard").unwrap().parse().unwrap();
        assert!(s < 8);
        let again = run(
            "- {source_labels: [__address__], modulus: 8, target_label: shard, action: hashmod}",
            &[("__address__", addr)],
        )
        .unwrap();
        assert_eq!(l, again);
    }
}

#[test]
fn config_errors() {
    let bad = |y: &str| {
        let c: Result<Vec<RelabelConfig>, _> = serde_saphyr::from_str(y);
        match c {
            Err(_) => true,
            Ok(c) => c.iter().any(|x| x.validate().is_err()),
        }
    };
    assert!(bad(
        "- {source_labels: [a], action: hashmod, target_label: x}"
    ));
    assert!(bad("- {source_labels: [a], action: replace}"));
    assert!(bad("- {regex: 'a', action: labeldrop, target_label: x}"));
    assert!(bad("- {regex: '(', action: drop}"));
    assert!(bad("- {action: frobnicate}"));
    assert!(bad("- {sourcelabels: [a], action: drop}"));
}
