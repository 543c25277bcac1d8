//! History imported into a running store: samples older than the head are
//! written to blocks at commit, are queryable at once and after a restart,
//! merge into one block per window at maintenance, and age out with
//! retention; samples inside the head keep the usual out-of-order rules.

use crate::open;
use argus_model::{ManualClock, Matcher};
use argus_tsdb::{Appender, Db, Querier, SampleError};
use std::path::Path;
use std::sync::Arc;

const H: i64 = 3_600_000;
const DAY: i64 = 24 * H;
/// 2023-11-14T22:13:20Z.
const NOW: i64 = 1_700_000_000_000;

fn times(db: &Db, job: &str) -> Vec<i64> {
    db.select(&[Matcher::eq("job", job)], i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .flat_map(|s| s.samples.into_iter().map(|x| x.t))
        .collect()
}

/// A store that has run for a while and cut its head: its lower bound is
/// past `NOW - 2h`.
fn running(dir: &Path, clock: &Arc<ManualClock>) -> Db {
    let db = open(dir, clock);
    let mut a = db.appender();
    for k in 0..12 {
        a.append_pairs(
            &[("__name__", "up"), ("job", "live")],
            NOW - 3 * H + k * 15 * 60_000,
            1.0,
        )
        .unwrap();
    }
    a.commit().unwrap();
    db.compact_head_fully().unwrap();
    assert!(db
        .stats()
        .head_min_valid_time
        .is_some_and(|t| t > NOW - 2 * H));
    db
}

#[test]
fn history_before_the_head_is_accepted_queryable_and_durable() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let db = running(dir.path(), &clock);
    // Four days of 10-minute history for a new series and for the live one.
    let mut want = Vec::new();
    let mut a = db.appender();
    for k in 0..(4 * 144) {
        let t = NOW - 4 * DAY + k * 600_000;
        if t >= NOW - 3 * H {
            break;
        }
        a.append_pairs(&[("__name__", "orders"), ("job", "history")], t, k as f64)
            .unwrap();
        want.push(t);
    }
    // Older than anything the head holds for the live series: history too.
    a.append_pairs(&[("__name__", "up"), ("job", "live")], NOW - 2 * DAY, 0.0)
        .unwrap();
    let st = a.commit().unwrap();
    assert_eq!((st.samples, st.rejected), (want.len() as u64 + 1, 0));
    assert_eq!(times(&db, "history"), want);
    assert_eq!(times(&db, "live")[0], NOW - 2 * DAY);
    assert_eq!(db.stats().samples_backfilled_total, want.len() as u64 + 1);
    // A restart keeps it.
    db.close().unwrap();
    let db = open(dir.path(), &clock);
    assert_eq!(times(&db, "history"), want);
    // Blocks stay one per window after maintenance, with the same answers.
    let blocks = db.stats().blocks;
    db.maintenance().unwrap();
    assert_eq!(times(&db, "history"), want);
    assert!(db.stats().blocks <= blocks);
}

#[test]
fn many_small_imports_merge_into_one_block_per_window() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let db = running(dir.path(), &clock);
    let base = (NOW - 3 * DAY).div_euclid(2 * H) * 2 * H; // a window's start
                                                          // Ten commits into the same window, one of them rewriting a value.
    for k in 0..10 {
        let mut a = db.appender();
        a.append_pairs(
            &[("__name__", "m"), ("job", "h")],
            base + k * 60_000,
            k as f64,
        )
        .unwrap();
        a.append_pairs(&[("__name__", "m"), ("job", "h2")], base + k * 60_000, 1.0)
            .unwrap();
        a.commit().unwrap();
    }
    let mut a = db.appender();
    a.append_pairs(&[("__name__", "m"), ("job", "h")], base, 42.0)
        .unwrap();
    a.commit().unwrap();
    let before = db.stats().blocks;
    assert!(before >= 11, "one block per commit until merged: {before}");
    assert_eq!(db.merge_blocks().unwrap(), 1);
    assert_eq!(db.stats().blocks, before - 10);
    let s = db
        .select(&[Matcher::eq("job", "h")], i64::MIN, i64::MAX)
        .unwrap();
    assert_eq!(s[0].samples.len(), 10);
    assert_eq!(s[0].samples[0].v, 42.0, "the later write of a time wins");
    assert_eq!(times(&db, "h2").len(), 10);
    // Nothing left to merge; the merge survives a restart.
    assert_eq!(db.merge_blocks().unwrap(), 0);
    db.close().unwrap();
    let db = open(dir.path(), &clock);
    assert_eq!(times(&db, "h").len(), 10);
}

/// The blocks under `dir/blocks` whose samples all lie in `[start, end)`.
fn block_dirs_in(dir: &Path, start: i64, end: i64) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir.join("blocks")).unwrap() {
        let p = e.unwrap().path();
        let Ok(raw) = std::fs::read(p.join("meta.json")) else {
            continue;
        };
        let m: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        let (a, z) = (m["mint"].as_i64().unwrap(), m["maxt"].as_i64().unwrap());
        if a >= start && z < end {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_damaged_block_keeps_its_window_unmerged_and_the_others_merge() {
    use std::io::{Seek, SeekFrom, Write};
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let db = running(dir.path(), &clock);
    let early = (NOW - 4 * DAY).div_euclid(2 * H) * 2 * H;
    let late = (NOW - 2 * DAY).div_euclid(2 * H) * 2 * H;
    // Two commits into each of two windows: two blocks per window.
    for base in [early, late] {
        for k in 0..2 {
            let mut a = db.appender();
            a.append_pairs(&[("__name__", "m"), ("job", "w")], base + k * 60_000, 1.0)
                .unwrap();
            a.commit().unwrap();
        }
    }
    // Damage the series data of one of the early window's blocks in place.
    let damaged = block_dirs_in(dir.path(), early, early + 2 * H);
    assert_eq!(damaged.len(), 2, "{damaged:?}");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(damaged[0].join("data"))
        .unwrap();
    f.seek(SeekFrom::Start(8 + 3)).unwrap();
    f.write_all(&[0xff, 0xff, 0xff]).unwrap();
    drop(f);
    let e = db.merge_blocks().unwrap_err().to_string();
    assert!(e.contains("checksum"), "{e}");
    // The late window merged despite the early one failing first.
    assert_eq!(block_dirs_in(dir.path(), late, late + 2 * H).len(), 1);
    assert_eq!(block_dirs_in(dir.path(), early, early + 2 * H).len(), 2);
    let s = db
        .select(&[Matcher::eq("job", "w")], late, late + 2 * H)
        .unwrap();
    assert_eq!(s[0].samples.len(), 2);
    // Maintenance reports the failure and keeps going.
    assert!(db.maintenance().is_err());
}

#[test]
fn history_sent_in_many_small_writes_does_not_pile_up_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let db = running(dir.path(), &clock);
    let base = (NOW - 3 * DAY).div_euclid(2 * H) * 2 * H;
    let before = db.stats().blocks;
    // Two hundred one-sample writes into one window, with no maintenance.
    for k in 0..200 {
        let mut a = db.appender();
        a.append_pairs(
            &[("__name__", "m"), ("job", "flood")],
            base + k * 1_000,
            k as f64,
        )
        .unwrap();
        a.commit().unwrap();
        let here = block_dirs_in(dir.path(), base, base + 2 * H).len();
        assert!(here <= 17, "write {k}: {here} blocks in one window");
    }
    assert!(db.stats().blocks - before <= 17);
    assert_eq!(times(&db, "flood").len(), 200);
    db.close().unwrap();
    let db = open(dir.path(), &clock);
    assert_eq!(times(&db, "flood").len(), 200);
}

#[test]
fn history_ages_out_and_the_head_keeps_its_rules() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let db = running(dir.path(), &clock);
    let mut a = db.appender();
    // Outside the retention (15 days by default): refused by name.
    let err = a
        .append_pairs(&[("__name__", "m"), ("job", "old")], NOW - 20 * DAY, 1.0)
        .unwrap_err();
    assert!(matches!(err, SampleError::OutOfWindow { .. }), "{err}");
    a.append_pairs(&[("__name__", "m"), ("job", "old")], NOW - 14 * DAY, 1.0)
        .unwrap();
    a.commit().unwrap();
    // Inside the head, a sample behind its series' newest beyond the
    // out-of-order window is still refused: it is not history.
    let mut a = db.appender();
    a.append_pairs(&[("__name__", "up"), ("job", "now")], NOW - 60_000, 1.0)
        .unwrap();
    a.append_pairs(&[("__name__", "up"), ("job", "now")], NOW, 1.0)
        .unwrap();
    a.commit().unwrap();
    let mut a = db.appender();
    a.append_pairs(&[("__name__", "up"), ("job", "now")], NOW - 30_000, 1.0)
        .unwrap();
    a.commit().unwrap();
    assert_eq!(times(&db, "now").len(), 3, "inside the out-of-order window");
    // Two days on, the imported day is past the retention and goes.
    clock.set(NOW + 2 * DAY);
    let mut a = db.appender();
    a.append_pairs(&[("__name__", "up"), ("job", "now")], NOW + 2 * DAY, 1.0)
        .unwrap();
    a.commit().unwrap();
    db.apply_retention().unwrap();
    assert!(times(&db, "old").is_empty());
}
