//! `docs/metrics.md` lists every metric name the code writes: each
//! `argus_*` and `prometheus_*` name in a string literal of a crate's
//! sources is on the page, and each `node_*` name belongs to a family the
//! page lists (`node_disk_*`) or is named itself.

use std::path::{Path, PathBuf};

/// String literals that look like metric names but are not.
const NOT_METRICS: &[&str] = &[
    // the sign-in cookie
    "argus_session",
    // names in the exposition writer's examples
    "argus_up",
    "argus_errors_total",
    // label values and names the incident grouping reads, not metrics
    "node_exporter",
    "node_name",
    "node_failure",
];

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every `"prefix_..."` string literal naming a whole metric.
fn names_in_code() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for krate in std::fs::read_dir(&root).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() {
            rs_files(&src, &mut files);
        }
    }
    let re =
        regex::Regex::new(r#""((?:argus|prometheus|node)_[A-Za-z0-9_]*[A-Za-z0-9])""#).unwrap();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for c in re.captures_iter(&text) {
            let n = c[1].to_string();
            let histogram_part = ["_bucket", "_sum", "_count"].iter().any(|s| n.ends_with(s))
                && n.starts_with("argus_detect_alert_latency_seconds");
            if !NOT_METRICS.contains(&n.as_str()) && !histogram_part {
                out.push((n, f.clone()));
            }
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

#[test]
fn every_metric_name_is_documented() {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/metrics.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap();
    let tokens: Vec<&str> = doc
        .split('`')
        .skip(1)
        .step_by(2)
        .flat_map(|t| t.split([',', ' ']))
        .collect();
    let families: Vec<&str> = tokens
        .iter()
        .filter_map(|t| t.strip_suffix('*'))
        .filter(|t| t.starts_with("node_"))
        .collect();
    let documented = |n: &str| {
        tokens.iter().any(|t| t.split('{').next() == Some(n))
            || (n.starts_with("node_") && families.iter().any(|f| n.starts_with(f)))
    };
    let names = names_in_code();
    assert!(names.len() > 60, "the scan found too few names: {names:?}");
    let missing: Vec<String> = names
        .iter()
        .filter(|(n, _)| !documented(n))
        .map(|(n, f)| format!("{n} ({})", f.display()))
        .collect();
    assert!(
        missing.is_empty(),
        "metric names missing from docs/metrics.md:\n{}",
        missing.join("\n")
    );
}
