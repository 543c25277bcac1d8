//! Label limits: a series over a limit is refused alone with an error that
//! names the limit and a cut-down form of the series, while good series in
//! the same batch are stored; replay keeps series written before a limit
//! was lowered.

use argus_model::{ManualClock, Matcher};
use argus_tsdb::{
    Appender, Db, FsyncPolicy, LabelLimits, Options, Querier, SampleError, MAX_SERIES_TEXT,
};
use std::path::Path;
use std::sync::Arc;

const NOW: i64 = 1_700_000_000_000;

fn open(dir: &Path, limits: LabelLimits) -> Db {
    let opts = Options {
        wal_fsync: FsyncPolicy::Never,
        min_free_bytes: 0,
        label_limits: limits,
        ..Options::default()
    };
    Db::open(dir, opts, Arc::new(ManualClock::new(NOW))).unwrap()
}

fn count(db: &Db, name: &str) -> usize {
    db.select(&[Matcher::eq("__name__", name)], i64::MIN, i64::MAX)
        .unwrap()
        .len()
}

fn refused(e: SampleError) -> (String, String) {
    match e {
        SampleError::InvalidLabels { series, reason } => (series, reason),
        other => panic!("expected InvalidLabels, got {other}"),
    }
}

#[test]
fn too_many_labels_are_refused_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), LabelLimits::default());
    let names: Vec<String> = (0..100_000).map(|i| format!("l{i:06}")).collect();
    let mut big: Vec<(&str, &str)> = vec![("__name__", "wide")];
    big.extend(names.iter().map(|n| (n.as_str(), "v")));
    let mut a = db.appender();
    a.append_pairs(&[("__name__", "up"), ("job", "a")], NOW, 1.0)
        .unwrap();
    let (series, reason) = refused(a.append_pairs(&big, NOW, 1.0).unwrap_err());
    assert!(series.len() < 2 * MAX_SERIES_TEXT, "{series}");
    assert!(series.starts_with("wide{"), "{series}");
    assert!(
        reason.contains("100001 labels") && reason.contains("limit of 64"),
        "{reason}"
    );
    let st = a.commit().unwrap();
    assert_eq!(st.samples, 1);
    assert_eq!((count(&db, "up"), count(&db, "wide")), (1, 0));
}

#[test]
fn long_names_and_values_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), LabelLimits::default());
    let huge = "x".repeat(16 << 20);
    let mut a = db.appender();
    let e = a
        .append_pairs(&[("__name__", "big"), ("q", &huge)], NOW, 1.0)
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.len() < 1024,
        "the message echoes the value: {} bytes",
        text.len()
    );
    assert!(
        text.contains("16384 bytes") && text.contains("label \"q\""),
        "{text}"
    );
    let long_name = "n".repeat(300);
    let (_, reason) = refused(
        a.append_pairs(&[("__name__", "big"), (&long_name, "v")], NOW, 1.0)
            .unwrap_err(),
    );
    assert!(
        reason.contains("300 bytes") && reason.contains("limit of 256"),
        "{reason}"
    );
    let at_limit = "y".repeat(16 << 10);
    a.append_pairs(&[("__name__", "ok"), ("q", &at_limit)], NOW, 1.0)
        .unwrap();
    a.commit().unwrap();
    assert_eq!((count(&db, "big"), count(&db, "ok")), (0, 1));
}

#[test]
fn replay_keeps_series_from_before_a_lower_limit() {
    let dir = tempfile::tempdir().unwrap();
    let wide = [("__name__", "w"), ("a", "1"), ("b", "2"), ("c", "3")];
    {
        let db = open(dir.path(), LabelLimits::default());
        let mut a = db.appender();
        a.append_pairs(&wide, NOW, 1.0).unwrap();
        a.commit().unwrap();
        db.close().unwrap();
    }
    let small = LabelLimits {
        max_labels: 2,
        ..LabelLimits::default()
    };
    let db = open(dir.path(), small);
    assert_eq!(count(&db, "w"), 1);
    // Existing series still take samples; new wide ones are refused.
    let mut a = db.appender();
    a.append_pairs(&wide, NOW + 1, 2.0).unwrap();
    let other = [("__name__", "w2"), ("a", "1"), ("b", "2")];
    refused(a.append_pairs(&other, NOW, 1.0).unwrap_err());
    a.commit().unwrap();
}

#[test]
fn zero_limits_are_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        label_limits: LabelLimits {
            max_labels: 0,
            ..LabelLimits::default()
        },
        ..Options::default()
    };
    let e = Db::open(dir.path(), opts, Arc::new(ManualClock::new(NOW))).unwrap_err();
    assert!(e.to_string().contains("label limits"), "{e}");
}
