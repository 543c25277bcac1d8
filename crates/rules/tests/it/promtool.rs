//! `promtool test rules` files: passing ones pass, failing ones fail with a diff.

use std::path::PathBuf;

use argus_rules::{run_rule_test_files, run_rule_tests};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn passing_tests_pass() {
    let r = run_rule_tests(&data("test_node_pass.yml"));
    assert!(r.passed(), "{r}");
    assert_eq!(r.files[0].passed, 2);
    assert!(r.to_string().ends_with("  SUCCESS\n"), "{r}");
}

#[test]
fn failing_tests_fail_with_a_clear_diff() {
    let r = run_rule_tests(&data("test_node_fail.yml"));
    assert!(!r.passed());
    let f = &r.files[0];
    assert_eq!((f.passed, f.failures.len()), (0, 3), "{r}");
    let text = r.to_string();
    assert!(text.contains("  FAILED:"), "{text}");
    assert!(text.contains("name: wrong annotation"), "{text}");
    assert!(text.contains("summary=\"Host api-1 is down\""), "{text}");
    assert!(
        text.contains("summary=\"Host api-1:8080 is down\""),
        "{text}"
    );
    assert!(text.contains("alertname: HostDown, time: 2m"), "{text}");
    assert!(text.contains("got:[]"), "{text}");
    assert!(
        text.contains("exp: [job:go_goroutines:sum{job=\"web\"} 21]\n        got: [job:go_goroutines:sum{job=\"web\"} 20]"),
        "{text}"
    );
}

#[test]
fn bad_inputs_are_reported() {
    let r = run_rule_test_files(&[
        data("test_bad_order.yml"),
        data("test_bad_rules.yml"),
        data("missing.yml"),
    ]);
    assert!(!r.passed());
    let text = r.to_string();
    assert!(
        text.contains("group_eval_order not present in rule files: no-such-group"),
        "{text}"
    );
    assert!(text.contains("bad_rules.yml:7:"), "{text}");
    assert!(text.contains("cannot read"), "{text}");
    assert_eq!(r.files.len(), 3);
}

#[test]
fn inline_test_file_with_fuzzy_compare_and_external_labels() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("r.yml"),
        "groups:\n- name: g\n  rules:\n  - alert: Ratio\n    expr: errors / requests > 0.1\n    annotations:\n      s: '{{ $value | humanizePercentage }} in {{ $externalLabels.dc }}'\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("t.yml"),
        r#"rule_files: [r.yml]
fuzzy_compare: true
tests:
  - external_labels: {dc: west}
    input_series:
      - series: errors
        values: 1 1 1
      - series: requests
        values: 3 3 3
    alert_rule_test:
      - eval_time: 1m
        alertname: Ratio
        exp_alerts:
          - exp_annotations: {s: "33.33% in west"}
    promql_expr_test:
      - expr: errors / requests
        eval_time: 2m
        exp_samples:
          - value: 0.3333333333
"#,
    )
    .unwrap();
    let r = run_rule_tests(&dir.path().join("t.yml"));
    assert!(r.passed(), "{r}");
}
