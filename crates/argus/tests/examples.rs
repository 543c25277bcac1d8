//! The example files under `examples/` stay valid: `argus check config`
//! accepts both configuration files, `argus check agent` the agent's file,
//! and `argus test rules` passes the rule tests. A broken copy of each is
//! refused, naming what is wrong, so the checks can fail.

use std::path::{Path, PathBuf};
use std::process::Command;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Runs `argus ARGS`; returns success and stdout + stderr.
fn argus(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(args)
        .output()
        .expect("argus runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn path(rel: &str) -> String {
    examples().join(rel).display().to_string()
}

#[test]
fn the_examples_are_valid() {
    for f in ["prometheus.yml", "argus.yml"] {
        let (ok, text) = argus(&["check", "config", &path(f)]);
        assert!(ok, "{f}: {text}");
        assert!(text.contains(": valid ("), "{f}: {text}");
    }
    let (ok, text) = argus(&["check", "agent", &path("agent.yml")]);
    assert!(ok, "{text}");
    let (ok, text) = argus(&["check", "rules", &path("rules/node.yml")]);
    assert!(ok && text.contains("SUCCESS: 3 rules found"), "{text}");
    let (ok, text) = argus(&["test", "rules", &path("tests/node_test.yml")]);
    assert!(ok && text.contains("SUCCESS"), "{text}");
}

/// A copy of the example directory with `file` rewritten by `edit`.
fn broken(file: &str, edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["", "rules", "tests"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for e in std::fs::read_dir(examples().join(sub)).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                std::fs::copy(e.path(), dir.path().join(sub).join(e.file_name())).unwrap();
            }
        }
    }
    let p = dir.path().join(file);
    let text = std::fs::read_to_string(&p).unwrap();
    let changed = edit(text.clone());
    assert_ne!(changed, text, "the edit changed {file}");
    std::fs::write(&p, changed).unwrap();
    dir
}

/// A file, how to break it, and what the error must name.
type Case = (&'static str, fn(String) -> String, &'static str);

#[test]
fn broken_copies_are_refused_by_section() {
    let cases: [Case; 6] = [
        (
            "prometheus.yml",
            |t| {
                t.replace("url: http://127.0.0.1:8428/api/v1/write", "url: http://127.0.0.1:8428/api/v1/write\n    tls_config: {ca_file: /nonexistent/ca.pem}")
            },
            "remote_write",
        ),
        (
            "argus.yml",
            |t| t.replace("horizon: 2h", "horizon: 0s"),
            "exhaustion_rules[1] (MemoryLeaksOutWithin2h): horizon",
        ),
        (
            "argus.yml",
            |t| t.replace("http_request_duration_seconds:p99{job=\"checkout\"}", "x{"),
            "dynamic_rules[0]",
        ),
        (
            "argus.yml",
            |t| t.replace("{type: tcp, address: '127.0.0.1:6379'}", "{type: tcp}"),
            "health",
        ),
        (
            "prometheus.yml",
            |t| {
                t.replace(
                    "targets: ['127.0.0.1:9093']",
                    "targets: ['127.0.0.1:9093']\n      api_version: v1",
                )
            },
            "alerting.alertmanagers[0]",
        ),
        (
            "prometheus.yml",
            |t| t.replace("job_name: argus", "job_name: node"),
            "scrape_configs",
        ),
    ];
    for (file, edit, want) in cases {
        let dir = broken(file, edit);
        let (ok, text) = argus(&[
            "check",
            "config",
            &dir.path().join(file).display().to_string(),
        ]);
        assert!(!ok, "{file} with {want} broken passed: {text}");
        assert!(text.contains(want), "{file}: {want} not named: {text}");
    }
    let dir = broken("agent.yml", |t| t.replace("top_n: 10", "top_n: ten"));
    let (ok, text) = argus(&[
        "check",
        "agent",
        &dir.path().join("agent.yml").display().to_string(),
    ]);
    assert!(!ok && text.contains("agent.yml"), "{text}");
}
