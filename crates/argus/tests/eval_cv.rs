//! `argus eval cv` end to end on a tiny dataset written by the test: the
//! table on stdout, progress on stderr, and errors (a malformed row, an
//! unknown grid) that name what is wrong and exit non-zero.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// `DIR/detect/tods`: two minute series of 1 200 rows scored from row 400,
/// one with a labelled spike at rows 1 000..=1 001.
fn tiny(dir: &Path) {
    let g = dir.join("detect/tods");
    std::fs::create_dir_all(&g).unwrap();
    for (name, spike) in [("a.csv", true), ("b.csv", false)] {
        let mut s = String::from("timestamp,value,label\n");
        for i in 0..1200usize {
            let hit = spike && (1000..=1001).contains(&i);
            let v = if hit {
                90.0
            } else {
                10.0 + ((i * 7919) % 13) as f64 * 0.1
            };
            let _ = writeln!(
                s,
                "2024-01-01 {:02}:{:02}:00,{v},{}",
                i / 60,
                i % 60,
                u8::from(hit)
            );
        }
        std::fs::write(g.join(name), s).unwrap();
    }
    std::fs::write(
        g.join("split.csv"),
        "file,rows,test_start,interval_s\na.csv,1200,400,60\nb.csv,1200,400,60\n",
    )
    .unwrap();
}

fn argus(args: &[&str], data: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(["eval", "cv", "--data"])
        .arg(data)
        .args(args)
        .output()
        .expect("run argus")
}

#[test]
fn eval_cv_prints_the_table_and_names_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    tiny(tmp.path());
    let json = tmp.path().join("cv.json");
    let out = argus(
        &[
            "--groups",
            "tods",
            "--grid",
            "default-only",
            "--json",
            json.to_str().unwrap(),
        ],
        tmp.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("cross-validated figure"), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with("tods ")),
        "a row for the group: {stdout}"
    );
    assert!(stderr.contains("tods: series 2/2"), "progress: {stderr}");
    assert!(json.is_file());

    let out = argus(&["--grid", "everything"], tmp.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown grid \"everything\""), "{stderr}");

    let a = tmp.path().join("detect/tods/a.csv");
    let text = std::fs::read_to_string(&a).unwrap();
    let broken = text.replacen("2024-01-01 00:00:00,10,", "2024-01-01 00:00:00,ten,", 1);
    assert_ne!(broken, text);
    std::fs::write(&a, broken).unwrap();
    let out = argus(&["--groups", "tods"], tmp.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a.csv:2: value \"ten\" is not a finite number")
            && !stderr.contains("panicked"),
        "{stderr}"
    );

    let out = argus(&[], &tmp.path().join("missing"));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("missing: not a directory"), "{stderr}");
}
