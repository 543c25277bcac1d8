//! End to end on a tiny corpus written by the test: one NAB category and
//! one detection dataset, the whole grid, the table and the JSON.

use std::fmt::Write as _;
use std::path::Path;

use super::grid::{Candidate, GridKind};
use super::*;

/// Bounded noise around 10.
fn noise(i: usize) -> f64 {
    10.0 + ((i * 7919) % 13) as f64 * 0.1
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `DATA/nab`: one artificialWithAnomaly file of 1 200 five-minute rows,
/// a spike at row 1 000 inside a window over rows 990..=1 010.
/// `DATA/detect/tods`: two series of 1 500 minute rows, scored from row
/// 500; `a.csv` has a spike labelled at rows 1 200..=1 202, `b.csv` none.
fn corpus(dir: &Path) {
    let stamp = |secs: i64| {
        let (d, s) = (secs / 86_400, secs % 86_400);
        format!(
            "2024-01-{:02} {:02}:{:02}:00",
            d + 1,
            s / 3600,
            s % 3600 / 60
        )
    };
    let mut nab = String::from("timestamp,value\n");
    for i in 0..1200 {
        let v = if i == 1000 { 60.0 } else { noise(i) };
        let _ = writeln!(nab, "{},{v}", stamp(i as i64 * 300));
    }
    write(&dir.join("nab/data/artificialWithAnomaly/spike.csv"), &nab);
    write(
        &dir.join("nab/labels/combined_windows.json"),
        &format!(
            r#"{{"artificialWithAnomaly/spike.csv": [["{}.000000", "{}.000000"]]}}"#,
            stamp(990 * 300),
            stamp(1010 * 300)
        ),
    );
    write(
        &dir.join("nab/labels/profiles.json"),
        r#"{"standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}}}"#,
    );
    for (name, spike) in [("a.csv", true), ("b.csv", false)] {
        let mut s = String::from("timestamp,value,label\n");
        for i in 0..1500 {
            let hit = spike && (1200..=1202).contains(&i);
            let v = if hit { 80.0 } else { noise(i) };
            let _ = writeln!(s, "{},{v},{}", stamp(i as i64 * 60), u8::from(hit));
        }
        write(&dir.join("detect/tods").join(name), &s);
    }
    write(
        &dir.join("detect/tods/split.csv"),
        "file,rows,test_start,interval_s,anomaly_points\na.csv,1500,500,60,3\nb.csv,1500,500,60,0\n",
    );
}

#[test]
fn a_tiny_corpus_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    let json = dir.path().join("cv.json");
    let opts = CvOptions {
        data: dir.path().to_path_buf(),
        groups: vec!["artificialWithAnomaly".into(), "tods".into()],
        grid: GridKind::Full,
        threads: 2,
        json: Some(json.clone()),
    };
    let mut out = Vec::new();
    let mut progress = Vec::new();
    let r = run(&opts, &mut out, &mut progress).unwrap();
    let names: Vec<&str> = r.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["nab/artificialWithAnomaly", "tods"]);
    assert_eq!(r.candidates.len(), 48);
    assert_eq!(r.scores.len(), 48);
    assert_eq!(r.groups[1].samples, 3000);
    // The z-score baseline sees the tods spike at once and nothing else
    // scores as high: a perfect F1 at the best threshold.
    let z = &r.baseline_scores[1];
    assert_eq!(z.best, 1.0, "{z:?}");
    assert_eq!(z.f1.unwrap().tp, 3);
    // Each fold's figure is the chosen candidate's score on the held-out
    // group, chosen on the other group alone.
    for f in &r.cv.folds {
        let other = 1 - f.group;
        assert_eq!(f.held_out, r.scores[f.chosen][f.group].best);
        let best_other = r
            .scores
            .iter()
            .map(|row| row[other].best)
            .fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(f.mean_others, best_other);
    }
    let figure = (r.cv.folds[0].held_out + r.cv.folds[1].held_out) / 2.0;
    assert!((r.cv.figure - figure).abs() < 1e-12);
    for row in &r.scores {
        for s in row {
            assert!(s.best <= 1.0 && s.at_alarm <= 1.0, "{s:?}");
            assert!(
                s.best >= s.at_alarm - 1e-12,
                "the optimum is an optimum: {s:?}"
            );
        }
    }
    let table = String::from_utf8(out).unwrap();
    for want in [
        "nab/artificialWithAnomaly",
        "tods",
        "cross-validated",
        "z-score/300",
    ] {
        assert!(table.contains(want), "{want} missing from:\n{table}");
    }
    let progress = String::from_utf8(progress).unwrap();
    assert!(
        progress.contains("[48/48]") && progress.contains("series 2/2"),
        "{progress}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["candidates"].as_array().unwrap().len(), 48);
    assert_eq!(v["cv"]["folds"].as_array().unwrap().len(), 2);
}

#[test]
fn a_missing_folder_or_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let opts = |data: &Path, g: &str| CvOptions {
        data: data.to_path_buf(),
        groups: vec![g.into()],
        grid: GridKind::DefaultOnly,
        ..CvOptions::default()
    };
    let missing = dir.path().join("nowhere");
    let e = run(
        &opts(&missing, "tods"),
        &mut Vec::new(),
        &mut std::io::sink(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("nowhere: not a directory"), "{e}");
    corpus(dir.path());
    std::fs::remove_file(dir.path().join("detect/tods/b.csv")).unwrap();
    let e = run(
        &opts(dir.path(), "tods"),
        &mut Vec::new(),
        &mut std::io::sink(),
    )
    .unwrap_err();
    assert!(
        format!("{e}").contains("cannot read") && format!("{e}").contains("b.csv"),
        "{e}"
    );
    let e = run(
        &opts(dir.path(), "ucr"),
        &mut Vec::new(),
        &mut std::io::sink(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("missing dataset folder for group ucr"),
        "{e}"
    );
    std::fs::write(
        dir.path().join("detect/tods/split.csv"),
        "file,rows,test_start,interval_s\na.csv,1499,500,60\n",
    )
    .unwrap();
    let e = run(
        &opts(dir.path(), "tods"),
        &mut Vec::new(),
        &mut std::io::sink(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("1500 data rows, but"), "{e}");
}

#[test]
fn the_scores_are_the_production_detectors() {
    // A dynamic rule with an `anomaly` section, streamed as `argus eval csv`
    // streams a file, reports the same score as the candidate, sample for
    // sample.
    use argus_detect::anomaly::AnomalyConfig;
    use argus_detect::spec::RuleSpec;
    let cfg = AnomalyConfig::default();
    let spec = RuleSpec {
        anomaly: Some(cfg.clone()),
        min_points: 300,
        ..Default::default()
    };
    let mut stream = crate::csv::StreamEval::new(spec).unwrap();
    let ts: Vec<i64> = (0..1500).map(|i| 1_704_067_200 + i * 60).collect();
    let values: Vec<f64> = (0..1500)
        .map(|i| if i == 1200 { 80.0 } else { noise(i) })
        .collect();
    let ours = Candidate::scorer(cfg).score(&ts, &values);
    for (i, (&t, &v)) in ts.iter().zip(&values).enumerate() {
        let verdict = stream.push(t * 1000, v).unwrap();
        assert_eq!(verdict.anomaly, Some(ours[i]), "row {i}");
    }
    assert!(ours[1200] >= 0.5, "the spike fires: {}", ours[1200]);
}
