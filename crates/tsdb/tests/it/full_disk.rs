//! A full disk, for real: each test mounts a small tmpfs (the tests run as
//! root, here and in CI) and fills it. A failed mount fails the test loudly;
//! it is never skipped. The store must open and serve queries on a full
//! disk, refuse writes with a retryable error, recover by itself once space
//! is freed, and not report the interrupted writes as corruption later.

use argus_model::{Clock, ManualClock, Matcher};
use argus_tsdb::{Appender, Db, FsyncPolicy, Options, Querier, ReadOnlyReason, TsdbError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

const NOW: i64 = 1_700_000_000_000;

/// A tmpfs mounted on a temporary directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(bytes: u64) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("running mount(8)");
        assert!(
            out.status.success(),
            "mounting a tmpfs failed (these tests need root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Fills the filesystem with `path` until a write fails with "no space".
fn fill(path: &Path) -> PathBuf {
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 << 10];
    loop {
        if let Err(e) = f.write_all(&block) {
            assert_eq!(e.raw_os_error(), Some(28), "expected ENOSPC, got {e}");
            break;
        }
    }
    let _ = f.flush();
    path.to_path_buf()
}

fn opts(min_free: u64) -> Options {
    Options {
        wal_fsync: FsyncPolicy::Always,
        wal_segment_bytes: 64 << 10,
        min_free_bytes: min_free,
        ..Options::default()
    }
}

fn write(db: &Db, t: i64, series: u32) -> Result<(), TsdbError> {
    let mut a = db.appender();
    for s in 0..series {
        let name = format!("s{s}");
        a.append_pairs(&[("__name__", "m"), ("i", &name)], t, f64::from(s))
            .unwrap();
    }
    a.commit().map(|_| ())
}

fn count(db: &Db) -> usize {
    db.select(&[Matcher::eq("__name__", "m")], 0, i64::MAX)
        .unwrap()
        .iter()
        .map(|s| s.samples.len())
        .sum()
}

fn assert_read_only(r: Result<(), TsdbError>) {
    match r {
        Err(e @ TsdbError::ReadOnly(_)) => {
            assert!(e.is_retryable(), "{e}");
            assert!(e.to_string().contains("read-only"), "{e}");
        }
        other => panic!("expected a read-only refusal, got {other:?}"),
    }
}

/// One test at a time: each forks mount(8) and umount(8), and a child forked
/// while another test drops and reopens its store still holds that store's
/// lock file until it execs, so the reopen would find the directory locked.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn full_disk_at_open_serves_queries_then_recovers() {
    let _serial = serial();
    let fs = Tmpfs::mount(2 << 20);
    let data = fs.path().join("data");
    let clock = Arc::new(ManualClock::new(NOW));
    let db = Db::open(&data, opts(0), clock.clone()).unwrap();
    write(&db, NOW - 1000, 10).unwrap();
    drop(db);
    let filler = fill(&fs.path().join("filler"));
    let db = Db::open(&data, opts(0), clock.clone()).expect("opens on a full disk");
    assert_eq!(count(&db), 10, "queries serve what exists");
    assert_read_only(write(&db, NOW, 10));
    let st = db.stats();
    assert!(st.read_only, "{st:?}");
    assert!(
        st.read_only_reason
            .as_deref()
            .unwrap_or("")
            .contains("full"),
        "{st:?}"
    );
    std::fs::remove_file(filler).unwrap();
    // Refusals hold until the next free-space measurement (once a second).
    assert_read_only(write(&db, NOW, 10));
    clock.advance(1000);
    write(&db, NOW, 10).expect("writes resume once space is freed");
    assert!(!db.stats().read_only);
    drop(db);
    let db = Db::open(&data, opts(0), clock.clone()).unwrap();
    assert_eq!(count(&db), 20);
    assert_eq!(db.stats().wal_corruptions_total, 0);
}

#[test]
fn disk_filling_while_running_recovers_without_false_corruption() {
    let _serial = serial();
    let fs = Tmpfs::mount(2 << 20);
    let data = fs.path().join("data");
    let clock = Arc::new(ManualClock::new(NOW));
    let db = Db::open(&data, opts(0), clock.clone()).unwrap();
    write(&db, NOW - 60_000, 50).unwrap();
    let filler = fill(&fs.path().join("filler"));
    // Leave about one page: the next commit is cut short part-way.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len - 6000).unwrap();
    drop(f); // an open descriptor would keep the file's space after removal
    let mut acked = 50;
    let mut t = NOW - 59_000;
    loop {
        match write(&db, t, 300) {
            Ok(()) => acked += 300,
            Err(e) => {
                assert_read_only(Err(e));
                break;
            }
        }
        t += 1000;
        assert!(t < NOW, "the disk never filled");
    }
    assert_eq!(count(&db), acked, "a refused commit stores nothing");
    std::fs::remove_file(&filler).unwrap();
    clock.advance(1000);
    write(&db, clock.now_ms(), 300).expect("writes resume once space is freed");
    acked += 300;
    drop(db);
    let db = Db::open(&data, opts(0), clock.clone()).unwrap();
    assert_eq!(count(&db), acked);
    assert_eq!(
        db.stats().wal_corruptions_total,
        0,
        "a write cut short by a full disk is a torn tail, not corruption"
    );
}

#[test]
fn low_free_space_makes_the_store_read_only_until_space_returns() {
    let _serial = serial();
    let fs = Tmpfs::mount(8 << 20);
    let data = fs.path().join("data");
    let clock = Arc::new(ManualClock::new(NOW));
    let db = Db::open(&data, opts(4 << 20), clock.clone()).unwrap();
    write(&db, NOW - 1000, 10).unwrap();
    let filler = fs.path().join("filler");
    std::fs::write(&filler, vec![0u8; 5 << 20]).unwrap();
    clock.advance(1000);
    let err = write(&db, NOW, 10).unwrap_err();
    match &err {
        TsdbError::ReadOnly(ReadOnlyReason::LowDiskSpace {
            free_bytes,
            min_free_bytes,
            ..
        }) => assert!(free_bytes < min_free_bytes),
        other => panic!("expected low disk space, got {other:?}"),
    }
    assert!(err.to_string().contains("configured minimum"), "{err}");
    assert_eq!(count(&db), 10, "queries continue");
    let st = db.stats();
    assert!(st.read_only && st.disk_free_bytes.is_some(), "{st:?}");
    std::fs::remove_file(&filler).unwrap();
    clock.advance(1000);
    write(&db, NOW, 10).expect("read-only mode ends by itself");
    assert!(!db.stats().read_only);
}
