//! Rule-file parsing and validation, with positions.

use std::path::PathBuf;

use argus_rules::{check_rule_files, parse_rule_file, RuleKind};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn err(yaml: &str) -> (usize, String) {
    let e = parse_rule_file("f.yml", yaml).expect_err("must be refused");
    assert!(!e.problems.is_empty());
    (e.problems[0].line, e.to_string())
}

#[test]
fn good_file_parses_with_group_labels_merged() {
    let r = check_rule_files(&[data("rules_node.yml")]);
    let s = r[0].as_ref().unwrap();
    assert_eq!((s.groups, s.rules), (2, 4));
    assert_eq!(s.to_string(), "SUCCESS: 4 rules found");
    let f = argus_rules::load_rule_file(&data("rules_node.yml")).unwrap();
    let host_down = &f.groups[0].rules[0];
    assert_eq!(host_down.kind, RuleKind::Alert("HostDown".into()));
    assert_eq!(host_down.for_ms, 180_000);
    assert_eq!(host_down.line, 8);
    assert_eq!(
        host_down.labels,
        vec![
            ("severity".into(), "critical".into()),
            ("team".into(), "infra".into())
        ]
    );
    assert_eq!(f.groups[0].interval_ms, Some(60_000));
    assert_eq!(f.groups[1].interval_ms, None);
}

#[test]
fn bad_expression_points_at_the_expr_line() {
    let (line, msg) = err("groups:\n- name: g\n  rules:\n  - record: a:b\n    expr: sum(x\n");
    assert_eq!(line, 5);
    assert!(msg.starts_with("f.yml:5:"), "{msg}");
    assert!(
        msg.contains("group \"g\", rule 1, \"a:b\": could not parse expression"),
        "{msg}"
    );
    // A block scalar: the first line of the expression's text.
    let (line, _) = err("groups:\n- name: g\n  rules:\n  - record: ok\n    expr: up\n  - alert: A\n    expr: |\n      sum(\n        x\n");
    assert_eq!(line, 8);
}

#[test]
fn every_problem_is_reported_with_its_line() {
    let e = argus_rules::load_rule_file(&data("bad_rules.yml")).unwrap_err();
    let text = e.to_string();
    let lines: Vec<usize> = e.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![7, 9, 11], "{text}");
    assert!(text.contains("bad_rules.yml:9:"), "{text}");
    assert!(
        text.contains("\"broken\" is repeated in the same file"),
        "{text}"
    );
    assert!(
        text.contains("invalid recording rule name: not a metric"),
        "{text}"
    );
}

#[test]
fn structural_errors() {
    let cases: &[(&str, usize, &str)] = &[
        ("groups:\n- name: g\n  rules:\n  - record: a:b\n    bogus: 1\n    expr: x\n", 5, "unknown field `bogus`"),
        ("groups:\n- name: g\n  intervall: 1m\n  rules: []\n", 3, "unknown field `intervall`"),
        ("groups:\n- name: g\n  interval: 5x\n  rules: []\n", 3, "invalid duration"),
        ("groups: [\n", 1, "unclosed"),
        ("groups:\n- rules: []\n", 2, "Groupname must not be empty"),
        ("groups:\n- name: g\n  rules:\n  - expr: up\n", 4, "one of 'record' or 'alert' must be set"),
        ("groups:\n- name: g\n  rules:\n  - record: a\n    alert: b\n    expr: up\n", 4, "only one of 'record' and 'alert' must be set"),
        ("groups:\n- name: g\n  rules:\n  - alert: A\n", 4, "field 'expr' must be set in rule"),
        ("groups:\n- name: g\n  rules:\n  - record: a\n    expr: up\n    for: 1m\n", 4, "invalid field 'for' in recording rule"),
        ("groups:\n- name: g\n  rules:\n  - record: a\n    expr: up\n    annotations: {x: y}\n", 4, "invalid field 'annotations' in recording rule"),
        ("groups:\n- name: g\n  rules:\n  - record: a\n    expr: up\n    keep_firing_for: 1m\n", 4, "invalid field 'keep_firing_for' in recording rule"),
        ("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    labels: {\"bad-name\": x}\n", 4, "invalid label name: bad-name"),
        ("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    annotations: {s: '{{ $labels.x }'}\n", 4, "msg=template: __alert_A:"),
        ("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    annotations: {s: '{{ nosuch }}'}\n", 4, "function \"nosuch\" not defined"),
    ];
    for (yaml, line, want) in cases {
        let (l, msg) = err(yaml);
        assert!(msg.contains(want), "{yaml:?}: {msg}");
        assert_eq!(l, *line, "{yaml:?}: {msg}");
    }
}

#[test]
fn accepts_prometheus_3_keys_and_empty_files() {
    let f = parse_rule_file(
        "f.yml",
        "groups:\n- name: g\n  interval: 30s\n  query_offset: 1m\n  limit: 10\n  labels: {env: prod}\n  rules:\n  - alert: A\n    expr: up == 0\n    keep_firing_for: 5m\n",
    )
    .unwrap();
    let g = &f.groups[0];
    assert_eq!(
        (g.interval_ms, g.query_offset_ms, g.limit),
        (Some(30_000), Some(60_000), 10)
    );
    assert_eq!(g.rules[0].keep_firing_for_ms, 300_000);
    assert!(parse_rule_file("f.yml", "").unwrap().groups.is_empty());
    assert!(parse_rule_file("f.yml", "groups: []\n")
        .unwrap()
        .groups
        .is_empty());
}

#[test]
fn missing_file_is_an_error_with_the_path() {
    let r = check_rule_files(&[data("nope.yml")]);
    let e = r[0].as_ref().unwrap_err();
    assert!(
        e.to_string()
            .contains("nope.yml:0:0: cannot read the rule file"),
        "{e}"
    );
    assert!(e.is_retryable());
}

#[test]
fn globs_expand_sorted() {
    let dir = tempfile::tempdir().unwrap();
    for n in ["b.yml", "a.yml", "c.txt"] {
        std::fs::write(dir.path().join(n), "groups: []\n").unwrap();
    }
    let got =
        argus_rules::expand_rule_globs(&["*.yml".into(), "c.txt".into()], dir.path()).unwrap();
    let names: Vec<String> = got
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["a.yml", "b.yml", "c.txt"]);
}
