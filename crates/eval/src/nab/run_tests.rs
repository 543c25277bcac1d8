//! `argus eval nab`'s file handling: timestamps, and the two directory
//! layouts (this repository's and an upstream NAB checkout's).

use super::{parse_timestamp, run, Layout, NabOptions};
use std::fmt::Write as _;
use std::path::Path;

/// A tiny NAB directory: one file of 200 rows with a spike inside its
/// one window; the profiles in `profiles_dir` (`labels` here, `config`
/// in an upstream NAB checkout).
fn tiny_nab(dir: &Path, profiles_dir: &str) {
    let mut csv = String::from("timestamp,value\n");
    for i in 0..200 {
        let v = if i == 150 {
            90.0
        } else {
            10.0 + (i % 3) as f64
        };
        let _ = writeln!(csv, "2015-01-01 {:02}:{:02}:00,{v}", i / 60, i % 60);
    }
    std::fs::create_dir_all(dir.join("data/realKnownCause")).unwrap();
    std::fs::write(dir.join("data/realKnownCause/tiny.csv"), csv).unwrap();
    // Upstream also keeps READMEs and other categories under data/.
    std::fs::write(dir.join("data/README.md"), "not a series").unwrap();
    std::fs::create_dir_all(dir.join("labels")).unwrap();
    std::fs::write(
        dir.join("labels/combined_windows.json"),
        r#"{"realKnownCause/tiny.csv": [["2015-01-01 02:25:00.000000", "2015-01-01 02:40:00.000000"]]}"#,
    )
    .unwrap();
    std::fs::create_dir_all(dir.join(profiles_dir)).unwrap();
    std::fs::write(
        dir.join(profiles_dir).join("profiles.json"),
        r#"{"standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}}}"#,
    )
    .unwrap();
}

#[test]
fn an_upstream_checkout_with_config_profiles_runs() {
    for profiles_dir in ["labels", "config"] {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("nab");
        tiny_nab(&data, profiles_dir);
        let layout = Layout::locate(&data).unwrap();
        assert!(layout
            .profiles
            .ends_with(format!("{profiles_dir}/profiles.json")));
        let opts = NabOptions {
            data,
            out: tmp.path().join("out"),
            input_range: true,
            ..NabOptions::default()
        };
        let mut report = Vec::new();
        run(&opts, &mut report).unwrap();
        let report = String::from_utf8(report).unwrap();
        assert!(
            report.contains("NAB: 1 files, 1 categories, 1 windows, 200 rows"),
            "{report}"
        );
        assert!(
            report.lines().any(|l| l.starts_with("standard")),
            "{report}"
        );
        assert!(tmp
            .path()
            .join("out/argus/realKnownCause/argus_tiny.csv")
            .is_file());
    }
}

#[test]
fn a_directory_without_profiles_names_both_places() {
    let tmp = tempfile::tempdir().unwrap();
    tiny_nab(tmp.path(), "labels");
    std::fs::remove_file(tmp.path().join("labels/profiles.json")).unwrap();
    let e = Layout::locate(tmp.path()).unwrap_err().to_string();
    assert!(
        e.contains("labels/profiles.json") && e.contains("config/profiles.json"),
        "{e}"
    );
    let e = Layout::locate(&tmp.path().join("missing"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing: not a directory"), "{e}");
}

#[test]
fn timestamps() {
    assert_eq!(parse_timestamp("1970-01-01 00:00:00").unwrap(), 0);
    assert_eq!(
        parse_timestamp("2014-04-10 07:15:00.000000").unwrap(),
        1_397_114_100
    );
    assert_eq!(parse_timestamp("2000-03-01T00:00:01").unwrap(), 951_868_801);
    assert!(parse_timestamp("2014-13-01 00:00:00").is_err());
    assert!(parse_timestamp("yesterday").is_err());
}
