//! Runs every Prometheus `.test` script in `../shared/data/promql` and checks
//! the total pass count against `tests/promql_baseline.txt`.

use std::path::PathBuf;

use argus_promql::testscript::run_file;

#[test]
fn prometheus_test_scripts() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/promql");
    assert!(
        dir.is_dir(),
        "the Prometheus test scripts are missing: expected a directory at {} (../shared/data/promql beside the repository)",
        dir.display()
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .test files in {}", dir.display());
    let verbose = std::env::var("PROMQL_TEST_VERBOSE").is_ok();
    let (mut p, mut f, mut s) = (0, 0, 0);
    let mut details = Vec::new();
    for path in &files {
        let r = run_file(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        println!(
            "{}: passed {}, failed {}, skipped {}",
            r.name, r.passed, r.failed, r.skipped
        );
        p += r.passed;
        f += r.failed;
        s += r.skipped;
        let n = if verbose { usize::MAX } else { 3 };
        for m in r.failures.iter().take(n) {
            details.push(format!("  FAIL {}: {m}", r.name));
        }
        for m in &r.skips {
            details.push(format!("  SKIP {}: {m}", r.name));
        }
    }
    println!("TOTAL: passed {p}, failed {f}, skipped {s}");
    for d in &details {
        println!("{d}");
    }
    let baseline_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/promql_baseline.txt");
    let baseline: usize = std::fs::read_to_string(&baseline_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", baseline_path.display()))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("bad baseline in {}: {e}", baseline_path.display()));
    assert!(
        p >= baseline,
        "regression: {p} cases passed, the committed baseline is {baseline}"
    );
}
