use super::*;
use crate::record::LogSource;
use argus_model::Matcher;

const NOW: i64 = 1_800_000_000_000_000_000;
const SEC: i64 = 1_000_000_000;

fn rec(app: &str, ts: i64, line: &str) -> LogRecord {
    LogRecord::new(Labels::from_pairs(&[("app", app)]), ts, line)
}

fn lines(store: &LogStore, app: &str, start: i64, end: i64) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    store
        .scan(&[Matcher::eq("app", app)], start, end, &mut |_, es| {
            out.extend(es.iter().map(|e| (e.ts_ns, e.line.clone())));
            true
        })
        .unwrap();
    out
}

fn opts() -> StoreOptions {
    StoreOptions {
        fsync: Fsync::Always,
        ..StoreOptions::default()
    }
}

#[test]
fn lines_survive_reopen_from_the_wal_and_from_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let (s, r) = LogStore::open(dir.path(), opts()).unwrap();
    assert_eq!((r.replayed, r.chunks), (0, 0));
    s.append(
        vec![rec("api", NOW - 3 * SEC, "a"), rec("db", NOW, "x")],
        NOW,
    )
    .unwrap();
    s.flush().unwrap();
    s.append(
        vec![rec("api", NOW - SEC, "c"), rec("api", NOW - 2 * SEC, "b")],
        NOW,
    )
    .unwrap();
    // No flush and no clean close: as after kill -9, the second batch lives only in the WAL.
    drop(s);
    let (s, r) = LogStore::open(dir.path(), opts()).unwrap();
    assert_eq!((r.replayed, r.chunks), (2, 1), "{:?}", r.warnings);
    let got = lines(&s, "api", 0, i64::MAX);
    let want: Vec<(i64, String)> = vec![
        (NOW - 3 * SEC, "a".into()),
        (NOW - 2 * SEC, "b".into()),
        (NOW - SEC, "c".into()),
    ];
    assert_eq!(got, want);
    assert_eq!(
        lines(&s, "api", NOW - 2 * SEC, NOW - SEC),
        want[1..2].to_vec()
    );
    assert_eq!(lines(&s, "db", 0, i64::MAX).len(), 1);
    // A second flush leaves one more chunk and an empty WAL.
    s.flush().unwrap();
    drop(s);
    let (s, r) = LogStore::open(dir.path(), opts()).unwrap();
    assert_eq!((r.replayed, r.chunks), (0, 2));
    assert_eq!(lines(&s, "api", 0, i64::MAX), want);
    assert_eq!(
        s.label_values("app", &[], 0, i64::MAX).unwrap(),
        ["api", "db"]
    );
    assert_eq!(s.label_names(0, i64::MAX).unwrap(), ["app"]);
    assert_eq!(
        s.series(&[Matcher::eq("app", "db")], 0, i64::MAX).unwrap(),
        vec![Labels::from_pairs(&[("app", "db")])]
    );
}

#[test]
fn wild_timestamps_are_refused_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = LogStore::open(dir.path(), opts()).unwrap();
    let r = s
        .append(
            vec![
                rec("api", NOW, "ok"),
                rec("api", NOW + 3_600 * SEC, "future"),
                rec("api", NOW - 30 * 86_400 * SEC, "ancient"),
                rec("api", i64::MIN, "min"),
            ],
            NOW,
        )
        .unwrap();
    assert_eq!(r.accepted, 1);
    assert_eq!(r.refused.len(), 3);
    assert!(
        r.refused[0].reason.contains("10m in the future"),
        "{:?}",
        r.refused
    );
    assert!(
        r.refused[1]
            .reason
            .contains("older than the retention of 1w"),
        "{:?}",
        r.refused
    );
    assert_eq!(lines(&s, "api", 0, i64::MAX).len(), 1);
    assert_eq!(s.stats().refused, 3);
}

#[test]
fn retention_and_size_drop_whole_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let o = StoreOptions {
        retention: Duration::from_secs(3_600),
        ..opts()
    };
    let (s, _) = LogStore::open(dir.path(), o).unwrap();
    s.append(vec![rec("api", NOW - 1_800 * SEC, "old")], NOW)
        .unwrap();
    s.flush().unwrap();
    s.append(vec![rec("api", NOW, "new")], NOW).unwrap();
    s.flush().unwrap();
    assert_eq!(s.stats().chunks, 2);
    // An hour later the first chunk is past the retention.
    assert_eq!(s.enforce_retention(NOW + 1_900 * SEC), 1);
    assert_eq!(
        lines(&s, "api", 0, i64::MAX),
        vec![(NOW, "new".to_string())]
    );
    assert_eq!(fs::read_dir(dir.path().join("chunks")).unwrap().count(), 1);
}

#[test]
fn size_limit_drops_oldest_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = LogStore::open(dir.path(), opts()).unwrap();
    for i in 0..3 {
        s.append(vec![rec("api", NOW + i, &format!("line {i}"))], NOW)
            .unwrap();
        s.flush().unwrap();
    }
    let per = s.stats().chunk_bytes / 3;
    drop(s);
    let o = StoreOptions {
        max_bytes: per * 2,
        ..opts()
    };
    let (s, _) = LogStore::open(dir.path(), o).unwrap();
    assert_eq!(s.enforce_retention(NOW), 1);
    let got: Vec<String> = lines(&s, "api", 0, i64::MAX)
        .into_iter()
        .map(|x| x.1)
        .collect();
    assert_eq!(got, ["line 1", "line 2"]);
}

#[test]
fn reads_over_the_limit_fail_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = StoreOptions {
        max_read_lines: 10,
        ..opts()
    };
    let (s, _) = LogStore::open(dir.path(), o).unwrap();
    let many: Vec<LogRecord> = (0..11).map(|i| rec("api", NOW + i, "x")).collect();
    s.append(many, NOW).unwrap();
    let err = s.scan(&[], 0, i64::MAX, &mut |_, _| true).unwrap_err();
    assert!(err.to_string().contains("more than 10 log lines"), "{err}");
    assert_eq!(lines(&s, "api", NOW, NOW + 5).len(), 5);
}

#[test]
fn a_damaged_chunk_is_set_aside_and_the_rest_opens() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = LogStore::open(dir.path(), opts()).unwrap();
    s.append(vec![rec("api", NOW, "one")], NOW).unwrap();
    s.flush().unwrap();
    s.append(vec![rec("api", NOW + 1, "two")], NOW).unwrap();
    s.flush().unwrap();
    drop(s);
    let first = dir.path().join("chunks").join(format!("{:012}.chunk", 1));
    fs::write(&first, b"garbage").unwrap();
    let (s, r) = LogStore::open(dir.path(), opts()).unwrap();
    assert_eq!(r.chunks, 1);
    assert!(r.warnings[0].contains("set aside"), "{:?}", r.warnings);
    assert_eq!(
        lines(&s, "api", 0, i64::MAX),
        vec![(NOW + 1, "two".to_string())]
    );
    // The next chunk does not reuse a number that a set-aside file still names.
    s.append(vec![rec("api", NOW + 2, "three")], NOW).unwrap();
    s.flush().unwrap();
    assert_eq!(lines(&s, "api", 0, i64::MAX).len(), 2);
}

#[test]
fn concurrent_appends_and_reads_see_every_acknowledged_line() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = LogStore::open(dir.path(), StoreOptions::default()).unwrap();
    let s = Arc::new(s);
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    s.append(vec![rec(&format!("w{w}"), NOW + i, "x")], NOW)
                        .unwrap();
                    if i % 50 == 0 {
                        s.flush().unwrap();
                    }
                }
            })
        })
        .collect();
    for _ in 0..20 {
        let mut n = 0;
        s.scan(&[], 0, i64::MAX, &mut |_, es| {
            n += es.len();
            true
        })
        .unwrap();
        assert!(n <= 800);
    }
    for w in writers {
        w.join().unwrap();
    }
    for w in 0..4 {
        assert_eq!(lines(&s, &format!("w{w}"), 0, i64::MAX).len(), 200);
    }
}

#[test]
fn a_crash_between_the_chunk_and_the_wal_cleanup_brings_nothing_back_twice() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("wal");
    let (s, _) = LogStore::open(dir.path(), opts()).unwrap();
    s.append(vec![rec("api", NOW, "a"), rec("api", NOW + 1, "b")], NOW)
        .unwrap();
    // The segments as they were before the flush: a crash right after the
    // chunk's rename leaves them all on disk.
    let saved: Vec<(std::path::PathBuf, Vec<u8>)> = fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.clone(), fs::read(&p).unwrap()))
        .collect();
    s.flush().unwrap();
    drop(s);
    for (p, bytes) in &saved {
        fs::write(p, bytes).unwrap();
    }
    let (s, r) = LogStore::open(dir.path(), opts()).unwrap();
    assert_eq!(r.replayed, 0, "segments a chunk holds are not replayed");
    assert_eq!(lines(&s, "api", 0, i64::MAX).len(), 2);
    // New segments are numbered after the covered ones, so they are replayed.
    s.append(vec![rec("api", NOW + 2, "c")], NOW).unwrap();
    drop(s);
    let (s, r) = LogStore::open(dir.path(), opts()).unwrap();
    assert_eq!(r.replayed, 1);
    let got: Vec<String> = lines(&s, "api", 0, i64::MAX)
        .into_iter()
        .map(|x| x.1)
        .collect();
    assert_eq!(got, ["a", "b", "c"]);
}

#[test]
fn patterns_come_from_chunk_templates_and_from_the_head_alike() {
    use crate::patterns::PatternCounter;
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = LogStore::open(dir.path(), opts()).unwrap();
    let batch = |from: i64| -> Vec<LogRecord> {
        (0..10)
            .map(|i| {
                let t = NOW - 100 * SEC + (from + i) * SEC;
                if i % 5 == 4 {
                    rec("api", t, "cache  warmed")
                } else {
                    rec(
                        "api",
                        t,
                        &format!("GET /items/{} took {} ms", from + i, i * 3),
                    )
                }
            })
            .collect()
    };
    s.append(batch(0), NOW).unwrap();
    s.flush().unwrap();
    s.append(batch(10), NOW).unwrap();
    s.append(vec![rec("db", NOW - 50 * SEC, "vacuum done")], NOW)
        .unwrap();
    // Ten lines in a chunk (with their templates), ten in the head (mined when asked).
    let mut c = PatternCounter::new(NOW - 100 * SEC, NOW, 10 * SEC);
    s.patterns(&[Matcher::eq("app", "api")], &mut c).unwrap();
    let p = c.finish(10);
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(p[0].pattern, "GET /items/<_> took <_> ms");
    assert_eq!(p[0].total, 16);
    assert_eq!(
        p[0].samples,
        vec![(NOW - 100 * SEC, 8), (NOW - 90 * SEC, 8)]
    );
    assert_eq!((p[1].pattern.as_str(), p[1].total), ("cache warmed", 4));
    // The chunk gives back every line byte for byte (two spaces kept).
    let got = lines(&s, "api", 0, i64::MAX);
    assert_eq!(got.len(), 20);
    assert_eq!(got[4].1, "cache  warmed");
    assert_eq!(got[3].1, "GET /items/3 took 9 ms");
}

#[test]
fn counting_reads_times_and_metadata_but_no_line() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = LogStore::open(dir.path(), opts()).unwrap();
    let mut recs: Vec<LogRecord> = (0..30)
        .map(|i| rec("api", NOW - 60 * SEC + i * SEC, &format!("GET /x/{i} 200")))
        .collect();
    recs[3]
        .metadata
        .push(("detected_level".into(), "error".into()));
    s.append(recs, NOW).unwrap();
    s.flush().unwrap();
    s.append(vec![rec("api", NOW - SEC, "in memory")], NOW)
        .unwrap();
    let mut seen = Vec::new();
    s.scan_times(&[Matcher::eq("app", "api")], 0, i64::MAX, &mut |_, es| {
        seen.extend(es.iter().cloned());
        true
    })
    .unwrap();
    assert_eq!(seen.len(), 31);
    assert!(seen[..30].iter().all(|e| e.line.is_empty()));
    assert_eq!(
        seen[3].metadata,
        vec![("detected_level".into(), "error".into())]
    );
    assert_eq!(seen[30].line, "in memory");
    // A count over the store gives the same answer as ever, split by the metadata's label.
    let q = crate::logql::parse(r#"sum by (detected_level) (count_over_time({app="api"}[2m]))"#)
        .unwrap();
    let v = crate::logql::query_instant(&s, &q, NOW, &crate::logql::Limits::default()).unwrap();
    let r = v["data"]["result"].as_array().unwrap();
    let count = |level: &str| -> String {
        r.iter()
            .find(|x| x["metric"]["detected_level"].as_str().unwrap_or("") == level)
            .map(|x| x["value"][1].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert_eq!(
        (count("error"), count("")),
        ("1".to_string(), "30".to_string())
    );
}
