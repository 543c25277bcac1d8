//! Runbook configuration: files named by `runbook_files`, and errors that
//! name the file, the line and the runbook.

use argus_recover::config::{LoadError, RecoverConfig};

#[test]
fn runbook_files_are_read_and_their_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("runbooks")).unwrap();
    std::fs::write(
        dir.path().join("runbooks/a.yml"),
        "- name: drain\n  steps:\n    - wait: 10s\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("runbooks/b.yml"),
        "runbooks:\n  - name: flip\n    match: {root_service: db}\n    steps:\n      - redis_set: {key: k, value: v}\n",
    )
    .unwrap();
    let text =
        "runbook_files: [runbooks/*.yml]\nrunbooks:\n  - name: inline\n    steps: [{wait: 1s}]\n";
    let mut c: RecoverConfig = serde_saphyr::from_str(text).unwrap();
    c.load_files(dir.path(), "argus.yml", text).unwrap();
    let names: Vec<&str> = c.runbooks.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["inline", "drain", "flip"]);

    std::fs::write(
        dir.path().join("runbooks/c.yml"),
        "- name: ok\n  steps: [{wait: 1s}]\n- name: two-actions\n  steps:\n    - {wait: 1s, http: {url: 'http://x/'}}\n  match: {labels: {service: '(unclosed'}}\n",
    )
    .unwrap();
    let mut c: RecoverConfig = serde_saphyr::from_str(text).unwrap();
    let err = c.load_files(dir.path(), "argus.yml", text).unwrap_err();
    let LoadError::Runbooks(errs) = &err else {
        panic!("{err}")
    };
    let msg = err.to_string();
    assert_eq!(errs.len(), 2, "{msg}");
    assert!(msg.contains("c.yml:3: runbook \"two-actions\""), "{msg}");
    assert!(msg.contains("has 2 actions (http, wait)"), "{msg}");
    assert!(msg.contains("match.labels.service"), "{msg}");

    // A duplicate name across files, and a file that is not YAML.
    std::fs::write(
        dir.path().join("runbooks/c.yml"),
        "- name: drain\n  steps: [{wait: 1s}]\n",
    )
    .unwrap();
    let mut c: RecoverConfig = serde_saphyr::from_str(text).unwrap();
    let msg = c
        .load_files(dir.path(), "argus.yml", text)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("another runbook has this name"), "{msg}");
    std::fs::write(dir.path().join("runbooks/c.yml"), "- name: [\n").unwrap();
    let mut c: RecoverConfig = serde_saphyr::from_str(text).unwrap();
    let msg = c
        .load_files(dir.path(), "argus.yml", text)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("c.yml"), "{msg}");
}

#[test]
fn mistakes_in_the_section_are_refused() {
    let cases = [
        (
            "runbooks: [{name: 'a b', steps: [{wait: 1s}]}]",
            "the name must be",
        ),
        ("runbooks: [{name: a, steps: []}]", "has no steps"),
        ("runbooks: [{name: a, steps: [{name: x}]}]", "has no action"),
        (
            "runbooks: [{name: a, steps: [{http: {method: TRACE, url: 'http://x'}}]}]",
            "method TRACE",
        ),
        (
            "runbooks: [{name: a, steps: [{http: {url: 'ftp://x'}}]}]",
            "is not http",
        ),
        (
            "runbooks: [{name: a, steps: [{http: {url: 'http://x/{{ .Labels.a'}}]}]",
            "template",
        ),
        (
            "runbooks: [{name: a, steps: [{wait: 1s}], rate_limit: {max: 0, per: 1h}}]",
            "rate_limit",
        ),
        (
            "runbooks: [{name: a, steps: [{wait: 1s}], verify: {resolved: false}}]",
            "verify needs",
        ),
        ("commands: [bin/true]\nrunbooks: []", "not an absolute path"),
        ("max_concurrent: 0", "at least 1"),
    ];
    for (yaml, want) in cases {
        let c: RecoverConfig = serde_saphyr::from_str(yaml).unwrap();
        let err = c.validate("argus.yml", yaml).unwrap_err().to_string();
        assert!(err.contains(want), "{yaml}: {err}");
    }
    // Unknown keys are refused by the parser, with their line.
    let e = serde_saphyr::from_str::<RecoverConfig>("runbooks:\n  - name: a\n    stepz: []\n")
        .unwrap_err();
    assert!(e.to_string().contains("stepz"), "{e}");
}
