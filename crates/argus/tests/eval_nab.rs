//! `argus eval nab` end to end on a three-file subset of the NAB corpus in
//! `../shared/data/nab`: the result layout NAB's scorer reads, the printed
//! scores, and errors that name the file and line.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The subset: a daily series with a jump (one
/// window), a real series with two windows, and a noise file with none.
const SUBSET: [&str; 3] = [
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "realKnownCause/rogue_agent_key_hold.csv",
    "artificialNoAnomaly/art_noisy.csv",
];

fn nab_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/nab");
    assert!(
        dir.join("labels/combined_windows.json").is_file(),
        "the NAB corpus is missing: expected {} (../shared/data/nab beside the repository)",
        dir.display()
    );
    dir
}

/// Copies the subset and the matching label entries into `dst`.
fn make_subset(dst: &Path) {
    let src = nab_dir();
    let windows: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(src.join("labels/combined_windows.json")).unwrap(),
    )
    .unwrap();
    let mut sub = serde_json::Map::new();
    for rel in SUBSET {
        let to = dst.join("data").join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(src.join("data").join(rel), &to).unwrap();
        sub.insert(rel.to_string(), windows[rel].clone());
    }
    std::fs::create_dir_all(dst.join("labels")).unwrap();
    std::fs::write(
        dst.join("labels/combined_windows.json"),
        serde_json::to_string(&sub).unwrap(),
    )
    .unwrap();
    std::fs::copy(
        src.join("labels/profiles.json"),
        dst.join("labels/profiles.json"),
    )
    .unwrap();
}

fn run(data: &Path, out: &Path) -> std::process::Output {
    run_with(data, out, &[])
}

fn run_with(data: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(["eval", "nab", "--data"])
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("run argus")
}

/// The normalised score printed for `profile`.
fn printed_score(stdout: &str, profile: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(profile))
        .unwrap_or_else(|| panic!("no {profile} line in:\n{stdout}"));
    line.split_whitespace().last().unwrap().parse().unwrap()
}

#[test]
fn eval_nab_writes_nab_results_and_prints_scores() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("nab");
    let out = tmp.path().join("out");
    make_subset(&data);
    let o = run(&data, &out);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&o.stderr)
    );

    for rel in SUBSET {
        let (cat, name) = rel.split_once('/').unwrap();
        let path = out.join("argus").join(cat).join(format!("argus_{name}"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let input = std::fs::read_to_string(data.join("data").join(rel)).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("timestamp,value,anomaly_score,label"));
        assert_eq!(text.lines().count(), input.lines().count(), "{rel}");
        let mut labelled = 0;
        for (l, inl) in lines.zip(input.lines().skip(1)) {
            let f: Vec<&str> = l.split(',').collect();
            let inf: Vec<&str> = inl.split(',').collect();
            assert_eq!(f[0], inf[0], "{rel}: timestamps are copied verbatim");
            let (a, b): (f64, f64) = (f[1].parse().unwrap(), inf[1].parse().unwrap());
            assert_eq!(a, b, "{rel}: values are copied");
            let s: f64 = f[2].parse().unwrap();
            assert!((0.0..=1.0).contains(&s), "{rel}: score {s}");
            labelled += f[3].parse::<u32>().unwrap();
        }
        // Window rows are labelled 1: 403 rows for jumpsup, 2 × 95 for rogue_agent_key_hold.
        let expected = match name {
            "art_daily_jumpsup.csv" => 403,
            "rogue_agent_key_hold.csv" => 190,
            _ => 0,
        };
        assert_eq!(labelled, expected, "{rel}");
    }
    for p in ["standard", "reward_low_FP_rate", "reward_low_FN_rate"] {
        assert!(
            out.join(format!("argus/argus_{p}_scores.csv")).is_file(),
            "{p}"
        );
    }
    let finals: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("final_results.json")).unwrap())
            .unwrap();

    // Three windows in all; the null detector scores 0 and a perfect one 100.
    // The default configuration with NAB's input range (ADR 0009's second
    // addendum: 68.4 on the whole corpus) finds the jump and one of
    // rogue_agent_key_hold's two windows with no false positive here: 52.4
    // standard, 57.2 low-FN when this was written (the first addendum's
    // default: 46.9 / 53.5). Losing one more window costs about 33 points,
    // so 35 is the floor that still catches such a regression; the ceiling
    // is the perfect score.
    assert!(
        stdout.contains("input range: the file's min/max (NAB)"),
        "{stdout}"
    );
    let standard = printed_score(&stdout, "standard");
    assert!(
        (35.0..=100.0).contains(&standard),
        "standard {standard}\n{stdout}"
    );
    assert!((finals["argus"]["standard"].as_f64().unwrap() - standard).abs() < 0.01);
    let low_fn = printed_score(&stdout, "reward_low_FN_rate");
    assert!(
        (35.0..=100.0).contains(&low_fn),
        "low FN {low_fn}\n{stdout}"
    );
    assert!(stdout.contains("artificialNoAnomaly"), "{stdout}");

    // Without the input range the contextual detector fixes its grid
    // online, as in production: a different run (68.1 standard here when
    // this was written: it finds both rogue_agent_key_hold windows, with
    // two false-positive rows), so the flag reaches the scorer.
    let peers =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/nab/published_scores.csv");
    let o = run_with(
        &data,
        &tmp.path().join("online"),
        &["--no-input-range", "--peers", peers.to_str().unwrap()],
    );
    let online = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(online.contains("input range: none (online)"), "{online}");
    let online_standard = printed_score(&online, "standard");
    assert!(
        (35.0..=100.0).contains(&online_standard),
        "online standard {online_standard}\n{online}"
    );
    assert!(
        (online_standard - standard).abs() > 1.0,
        "the input range changed nothing: {standard} / {online_standard}"
    );
    // The published detectors' per-file scores on the same files, beside
    // ours: one line each, with a score.
    for det in ["ARTime", "numenta", "contextOSE"] {
        let line = online
            .lines()
            .find(|l| l.starts_with(det))
            .unwrap_or_else(|| panic!("no {det} line\n{online}"));
        let score: f64 = line.split_whitespace().last().unwrap().parse().unwrap();
        assert!((-100.0..=100.0).contains(&score), "{line}");
    }
}

#[test]
fn a_bad_row_is_reported_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("nab");
    make_subset(&data);
    let file = data.join("data").join(SUBSET[2]);
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("2014-04-15 00:00:00,not-a-number\n");
    std::fs::write(&file, &text).unwrap();
    let o = run(&data, &tmp.path().join("out"));
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let line = text.lines().count();
    assert!(
        err.contains(&format!("art_noisy.csv:{line}: bad value")),
        "{err}"
    );
}
