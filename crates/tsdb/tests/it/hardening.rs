//! One bad timestamp must not poison the store: extreme and far-future
//! samples are refused one by one, the head keeps its bounds through
//! maintenance and restarts, backfill within the retention still works, and
//! a WAL left by an interrupted write replays without a false corruption.

use crate::{open, opts};
use argus_model::{ManualClock, Matcher};
use argus_tsdb::{Appender, Db, Options, Querier, SampleError};
use std::sync::Arc;

/// 2023-11-14T22:13:20Z.
const NOW: i64 = 1_700_000_000_000;
const DAY: i64 = 86_400_000;
const UP: &[(&str, &str)] = &[("__name__", "up"), ("job", "api")];

fn ts(db: &Db) -> Vec<i64> {
    db.select(&[Matcher::eq("job", "api")], i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .flat_map(|s| s.samples.into_iter().map(|x| x.t))
        .collect()
}

/// Appends one good sample at `good` and one at `bad` in the same batch;
/// returns the bad one's error after checking the good one was committed.
fn append_with_bad(db: &Db, good: i64, bad: i64) -> SampleError {
    let mut a = db.appender();
    a.append_pairs(UP, good, 1.0).unwrap();
    let err = a.append_pairs(UP, bad, 2.0).unwrap_err();
    let st = a.commit().unwrap();
    assert_eq!((st.samples, st.rejected), (1, 0));
    err
}

/// Writes every 30 s for `hours` hours up to the clock, then runs maintenance
/// the way the server does, and checks a write at now is still accepted.
fn keeps_accepting(db: &Db, clock: &ManualClock, hours: i64) {
    for _ in 0..hours * 120 {
        clock.advance(30_000);
        let mut a = db.appender();
        a.append_pairs(UP, clock.now_ms(), 1.0).unwrap();
        a.commit().unwrap();
        db.maintenance().unwrap();
    }
    let st = db.stats();
    let min_valid = st.head_min_valid_time.unwrap_or(i64::MIN);
    assert!(
        min_valid <= clock.now_ms(),
        "head lower bound ran ahead: {st:?}"
    );
    assert!(st.head_samples > 0, "the head was wiped: {st:?}");
}

use argus_model::Clock;

#[test]
fn i64_min_sample_is_refused_and_the_head_survives() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let db = open(dir.path(), &clock);
    let err = append_with_bad(&db, NOW - 1000, i64::MIN);
    assert!(matches!(err, SampleError::OutOfWindow { t: i64::MIN, .. }));
    let msg = err.to_string();
    for part in [
        r#"up{job="api"}"#,
        "-9223372036854775808",
        "before year 0",
        "2023-10-30T22:13:20.000Z",
        "2023-11-14T22:23:20.000Z",
    ] {
        assert!(msg.contains(part), "{part:?} missing from {msg}");
    }
    assert_eq!(db.stats().samples_rejected_out_of_window_total, 1);
    db.maintenance().unwrap();
    assert_eq!(ts(&db), vec![NOW - 1000]);
    keeps_accepting(&db, &clock, 4);
    let n = ts(&db).len();
    drop(db);
    let db = open(dir.path(), &clock);
    assert_eq!(ts(&db).len(), n, "everything survives a restart");
    let mut a = db.appender();
    a.append_pairs(UP, clock.now_ms() + 1, 1.0).unwrap();
    a.commit().unwrap();
}

#[test]
fn year_2500_sample_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let db = open(dir.path(), &clock);
    let y2500 = 16_725_225_600_000;
    let err = append_with_bad(&db, NOW, y2500);
    assert!(
        err.to_string().contains("2500-01-01T00:00:00.000Z"),
        "{err}"
    );
    // Up to max_future ahead is fine (clock skew), one ms more is not.
    let mut a = db.appender();
    a.append_pairs(UP, NOW + 600_000, 1.0).unwrap();
    assert!(a.append_pairs(UP, NOW + 600_001, 1.0).is_err());
    a.commit().unwrap();
    keeps_accepting(&db, &clock, 3);
}

#[test]
fn microseconds_sent_as_milliseconds_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let db = open(dir.path(), &clock);
    let err = append_with_bad(&db, NOW, NOW * 1000);
    assert!(err.to_string().contains("after year 9999"), "{err}");
    keeps_accepting(&db, &clock, 3);
}

#[test]
fn backfill_within_the_retention_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let db = open(dir.path(), &clock);
    let mut a = db.appender();
    a.append_pairs(UP, NOW - 14 * DAY, 1.0).unwrap();
    a.append_pairs(UP, NOW - DAY, 1.0).unwrap();
    let old = a.append_pairs(UP, NOW - 16 * DAY, 1.0).unwrap_err();
    assert!(matches!(old, SampleError::OutOfWindow { .. }), "{old}");
    a.commit().unwrap();
    assert_eq!(ts(&db), vec![NOW - 14 * DAY, NOW - DAY]);
    drop(db);
    // Without a retention, only years 0 to 9999 bound the past.
    let o = Options {
        retention_ms: None,
        ..opts()
    };
    let db = Db::open(dir.path(), o, clock.clone()).unwrap();
    let mut a = db.appender();
    a.append_pairs(&[("__name__", "old")], -DAY, 1.0).unwrap();
    a.commit().unwrap();
}

#[test]
fn concurrent_commits_report_samples_refused_at_apply() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let db = open(dir.path(), &clock);
    let (mut a, mut b) = (db.appender(), db.appender());
    a.append_pairs(UP, NOW, 1.0).unwrap();
    b.append_pairs(UP, NOW, 2.0).unwrap();
    assert_eq!(a.commit().unwrap().rejected, 0);
    let st = b.commit().unwrap();
    assert_eq!((st.samples, st.rejected), (0, 1));
}

#[test]
fn empty_segment_in_the_middle_is_not_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    for t in [NOW, NOW + 1] {
        let db = open(dir.path(), &clock);
        append_with_bad(&db, t, i64::MAX);
    }
    // An older version left an empty segment behind when the disk was full
    // at start; the next start wrote the segment after it.
    let wal = dir.path().join("wal");
    let seg = |n: u64| wal.join(format!("{n:08}"));
    std::fs::rename(seg(2), seg(3)).unwrap();
    std::fs::write(seg(2), b"").unwrap();
    let db = open(dir.path(), &clock);
    assert_eq!(ts(&db), vec![NOW, NOW + 1]);
    assert_eq!(db.stats().wal_corruptions_total, 0);
}
