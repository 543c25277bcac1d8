//! Template mining on every system of `../shared/data/logs` (when present):
//! prints GA, FGA, PA, FTA and lines per second; asserts only that every
//! line gets a template and the scores are in range.
//! `cargo test --release -p argus-eval --test logparse -- --nocapture`

use std::path::Path;

#[test]
fn every_system_is_mined_and_scored() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/logs");
    if !dir.exists() {
        panic!(
            "{} is missing: the labelled log samples are needed",
            dir.display()
        );
    }
    let rows = argus_eval::logparse::bench(&dir).unwrap();
    assert!(rows.len() >= 9, "{} systems", rows.len());
    println!("system        lines     GA    FGA     PA    FTA   lines/s");
    let mut mean = [0.0; 4];
    for r in &rows {
        let s = r.scores;
        println!(
            "{:<12} {:>6} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>9.0}",
            r.system, r.lines, s.ga, s.fga, s.pa, s.fta, r.lines_per_s
        );
        for (m, v) in mean.iter_mut().zip([s.ga, s.fga, s.pa, s.fta]) {
            assert!((0.0..=1.0).contains(&v));
            *m += v / rows.len() as f64;
        }
        assert_eq!(r.lines, 2000);
    }
    println!(
        "mean         {:>6} {:>6.3} {:>6.3} {:>6.3} {:>6.3}",
        "", mean[0], mean[1], mean[2], mean[3]
    );
}
