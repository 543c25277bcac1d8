use super::*;
use argus_tsdb::{Appender, Db, Options};

fn db(dir: &Path) -> Db {
    let opts = Options {
        wal_segment_bytes: 4096,
        ..Options::default()
    };
    Db::open(dir, opts, Arc::new(argus_model::SystemClock)).unwrap()
}

thread_local! {
    /// A day back, so the store's accepted window holds every sample.
    static BASE: i64 = {
        use argus_model::Clock;
        (argus_model::SystemClock.now_ms() - 86_400_000) / 1000 * 1000
    };
}

fn push(db: &Db, from: i64, n: i64) {
    for t in from..from + n {
        let mut app = db.appender();
        for s in 0..5 {
            let id = s.to_string();
            app.append_pairs(
                &[("__name__", "m"), ("s", id.as_str())],
                BASE.with(|b| *b) + t * 1000,
                t as f64,
            )
            .unwrap();
        }
        app.commit().unwrap();
    }
}

fn drain(c: &mut Cursor) -> Vec<Item> {
    let mut out = Vec::new();
    loop {
        let st = c.read(1000, i64::MIN, &mut out).unwrap();
        if st.at_end {
            return out;
        }
    }
}

#[test]
fn reads_across_segments_and_resumes_mid_record() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    let mut ext = BTreeMap::new();
    ext.insert("cluster".to_string(), "eu".to_string());
    ext.insert("s".to_string(), "external loses".to_string());
    let mut c = Cursor::open(db.wal_dir(), None, ext.clone(), Vec::new()).unwrap();
    push(&db, 1, 200);
    assert!(wal_read::list(db.wal_dir()).unwrap().segments.len() > 3);
    let all = drain(&mut c);
    assert_eq!(all.len(), 1000);
    assert!(all.windows(2).all(|w| w[0].t <= w[1].t));
    assert_eq!(
        all[0].labels.as_slice(),
        &[
            ("__name__".to_string(), "m".to_string()),
            ("cluster".to_string(), "eu".to_string()),
            ("s".to_string(), "0".to_string()),
        ]
    );
    // Resume from a position inside a record: exactly the rest comes back.
    let mut c = Cursor::open(
        db.wal_dir(),
        Some(Position {
            segment: 1,
            offset: 0,
            index: 0,
        }),
        ext.clone(),
        Vec::new(),
    )
    .unwrap();
    let mut first = Vec::new();
    c.read(7, i64::MIN, &mut first).unwrap();
    let mid = c.position();
    assert_eq!(mid.index, 2, "{mid:?}");
    let mut c2 = Cursor::open(db.wal_dir(), Some(mid), ext, Vec::new()).unwrap();
    let rest = drain(&mut c2);
    assert_eq!(first.len() + rest.len(), 1000);
    assert_eq!(
        (rest[0].t, &rest[0].labels[2].1),
        (BASE.with(|b| *b) + 2000, &"2".to_string())
    );
}

#[test]
fn a_checkpoint_keeps_held_segments_and_their_series() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    push(&db, 1, 100);
    db.hold_wal("remote_write/x", 1);
    db.checkpoint().unwrap();
    let files = wal_read::list(db.wal_dir()).unwrap();
    assert_eq!(files.segments[0], 1, "{files:?}");
    assert!(files.checkpoint.is_some());
    let start = Position {
        segment: 1,
        offset: 0,
        index: 0,
    };
    let mut c = Cursor::open(db.wal_dir(), Some(start), BTreeMap::new(), Vec::new()).unwrap();
    assert_eq!(drain(&mut c).len(), 500);
    // Released, the next checkpoint deletes them; a cursor at a deleted
    // segment resumes at the oldest remaining one.
    db.release_wal("remote_write/x");
    push(&db, 101, 10);
    db.checkpoint().unwrap();
    push(&db, 111, 10);
    let files = wal_read::list(db.wal_dir()).unwrap();
    assert!(files.segments[0] > 1, "{files:?}");
    let mut c = Cursor::open(db.wal_dir(), Some(start), BTreeMap::new(), Vec::new()).unwrap();
    let got = drain(&mut c);
    assert_eq!(got.len(), 50);
    assert!(
        got.iter().all(|i| i.labels.len() == 2),
        "series learned from the checkpoint"
    );
}

#[test]
fn relabel_drops_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    let rel: Vec<RelabelConfig> =
        serde_saphyr::from_str("- source_labels: [s]\n  regex: '[01]'\n  action: drop\n").unwrap();
    let mut c = Cursor::open(db.wal_dir(), None, BTreeMap::new(), rel).unwrap();
    push(&db, 1, 10);
    let mut out = Vec::new();
    let st = c.read(1000, i64::MIN, &mut out).unwrap();
    assert_eq!((out.len(), st.dropped), (30, 20));
}
