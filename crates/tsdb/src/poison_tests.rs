//! Tests of data that the append path now refuses but an older version let
//! in: a legacy WAL holding extreme timestamps, a far-future sample already
//! in the head, and queries over series with extreme timestamps.

use crate::wal::{self, FsyncPolicy, Wal};
use crate::{Appender, Db, Options, Querier};
use argus_model::{Clock, ManualClock, Matcher};
use std::sync::atomic::Ordering;
use std::sync::Arc;

const NOW: i64 = 1_700_000_000_000;
const H: i64 = 3_600_000;

fn opts() -> Options {
    Options {
        wal_fsync: FsyncPolicy::Never,
        min_free_bytes: 0,
        ..Options::default()
    }
}

/// Puts samples into the head the way an older version did: no window check.
fn force(db: &Db, name: &str, ts: &[i64]) {
    let pairs = [("__name__", name)];
    let key = crate::head::series_key(&pairs, &mut Vec::new());
    let head = &db.inner.head;
    let (id, _, _) = head.stage(&pairs, key, NOW, 0.0).unwrap();
    let s: Vec<(u64, i64, f64)> = ts.iter().map(|&t| (u64::from(id), t, 1.0)).collect();
    head.apply(&s);
}

#[test]
fn legacy_wal_with_extreme_samples_does_not_poison_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path().join("wal");
    std::fs::create_dir_all(&wal_dir).unwrap();
    // What the old code wrote: a checkpoint whose lower bound one i64::MIN
    // sample had pushed to i64::MAX, then a segment with both poisons.
    let mut cp = wal::CheckpointWriter::create(&wal_dir, 1).unwrap();
    wal::encode_checkpoint(cp.buf(), i64::MAX);
    cp.finish().unwrap();
    let mut w = Wal::create(&wal_dir, 1, 1 << 20, FsyncPolicy::Always, 0).unwrap();
    let mut b = Vec::new();
    // A series id names its shard in its low bits (slot 0 of that shard).
    let key = crate::head::series_key(&[("__name__", "up")], &mut Vec::new());
    let id = key.h & (crate::head::SHARDS as u64 - 1);
    wal::encode_series(&mut b, [(id, [("__name__", "up")])]);
    wal::encode_samples(
        &mut b,
        &[
            (id, i64::MIN, 1.0),
            (id, NOW - 1000, 2.0),
            (id, 16_725_225_600_000, 3.0),
        ],
    );
    w.write(&b).unwrap();
    drop(w);
    let clock = Arc::new(ManualClock::new(NOW));
    let db = Db::open(dir.path(), opts(), clock.clone()).unwrap();
    let st = db.stats();
    assert_eq!(st.wal_replay_dropped_samples_total, 2, "{st:?}");
    assert_eq!(
        (st.head_min_time, st.head_max_time),
        (Some(NOW - 1000), Some(NOW - 1000))
    );
    assert_eq!(
        st.head_min_valid_time, None,
        "the poisoned bound is ignored"
    );
    db.maintenance().unwrap();
    let mut a = db.appender();
    a.append_pairs(&[("__name__", "up")], NOW + 1, 4.0).unwrap();
    a.commit().unwrap();
    let got = db
        .select(&[Matcher::eq("__name__", "up")], i64::MIN, i64::MAX)
        .unwrap();
    assert_eq!(got[0].samples.len(), 2);
}

#[test]
fn a_far_future_sample_in_the_head_does_not_move_the_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let db = Db::open(dir.path(), opts(), clock.clone()).unwrap();
    let mut a = db.appender();
    a.append_pairs(&[("__name__", "up")], NOW - 60_000, 1.0)
        .unwrap();
    a.commit().unwrap();
    force(&db, "future", &[16_725_225_600_000]);
    db.compact().unwrap();
    db.compact_head_fully().unwrap();
    let min_valid = db.inner.head.min_valid.load(Ordering::Acquire);
    assert!(
        min_valid <= NOW + 600_001,
        "lower bound moved to {min_valid}"
    );
    let mut a = db.appender();
    a.append_pairs(&[("__name__", "up")], NOW + 1000, 1.0)
        .unwrap();
    a.commit().unwrap();
    // Hours of real data later, compaction cuts real windows only.
    for i in 1..=4 * 60 {
        clock.set(NOW + i * 60_000);
        let mut a = db.appender();
        a.append_pairs(&[("__name__", "up")], NOW + i * 60_000, 1.0)
            .unwrap();
        a.commit().unwrap();
        db.compact().unwrap();
    }
    let min_valid = db.inner.head.min_valid.load(Ordering::Acquire);
    assert!(min_valid <= clock.now_ms() - H, "lower bound {min_valid}");
    assert!(db.stats().blocks >= 1);
}

#[test]
fn queries_over_extreme_timestamps_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let db = Db::open(dir.path(), opts(), clock).unwrap();
    force(
        &db,
        "x",
        &[i64::MIN, i64::MIN + 1, NOW - 1000, NOW, i64::MAX - 1],
    );
    for (mint, maxt) in [
        (NOW - 300_000, NOW),
        (i64::MIN, i64::MAX),
        (0, i64::MAX),
        (i64::MIN, 0),
        (i64::MAX - 10, i64::MAX),
    ] {
        let got = db
            .select(&[Matcher::eq("__name__", "x")], mint, maxt)
            .unwrap();
        assert!(got.len() <= 1);
        db.series(&[], mint, maxt).unwrap();
        db.label_names(&[Matcher::eq("__name__", "x")], mint, maxt)
            .unwrap();
    }
    let all = db
        .select(&[Matcher::eq("__name__", "x")], i64::MIN, i64::MAX)
        .unwrap();
    assert_eq!(all[0].samples.len(), 5);
    db.stats();
}
