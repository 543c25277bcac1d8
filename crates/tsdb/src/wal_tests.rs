//! Unit tests of the WAL: record round trips, torn and corrupt tails,
//! rotation, checkpoints and cleanup.

use super::*;

fn all(path: &Path) -> (Vec<Record>, ReadEnd) {
    let mut v = Vec::new();
    let end = read_file(path, &mut |r| v.push(r)).unwrap();
    (v, end)
}

#[test]
fn records_round_trip_and_tail_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::create(dir.path(), 1, 1 << 20, FsyncPolicy::Always, 0).unwrap();
    let mut b = Vec::new();
    encode_series(&mut b, [(7u64, [("__name__", "up"), ("job", "a")])]);
    let samples = vec![
        (7u64, 1000i64, 1.5f64),
        (3, 900, f64::from_bits(0x7ff0_0000_0000_0002)),
        (7, 2000, -0.0),
    ];
    encode_samples(&mut b, &samples);
    encode_chunk(&mut b, 9, &[1, 2, 3]);
    encode_checkpoint(&mut b, -5);
    w.write(&b).unwrap();
    assert_eq!(w.fsyncs, 1);
    let path = segment_path(dir.path(), 1);
    let (recs, end) = all(&path);
    assert_eq!(end, ReadEnd::Clean);
    assert_eq!(recs.len(), 4);
    assert_eq!(
        recs[0],
        Record::Series(vec![(
            7,
            vec![("__name__".into(), "up".into()), ("job".into(), "a".into())]
        )])
    );
    match &recs[1] {
        Record::Samples(s) => {
            assert_eq!(s.len(), 3);
            for (a, b) in s.iter().zip(&samples) {
                assert_eq!((a.0, a.1, a.2.to_bits()), (b.0, b.1, b.2.to_bits()));
            }
        }
        r => panic!("unexpected {r:?}"),
    }
    assert_eq!(recs[2], Record::Chunk(9, vec![1, 2, 3]));
    assert_eq!(recs[3], Record::Checkpoint { min_valid: -5 });
    // Tear the last record.
    let len = fs::metadata(&path).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 2)
        .unwrap();
    let (recs, end) = all(&path);
    assert_eq!(recs.len(), 3);
    assert!(
        matches!(
            end,
            ReadEnd::Torn {
                reason: "truncated record header",
                ..
            }
        ),
        "{end:?}"
    );
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 12)
        .unwrap();
    let (recs, end) = all(&path);
    assert_eq!(recs.len(), 2);
    assert!(
        matches!(
            end,
            ReadEnd::Torn {
                reason: "truncated record",
                ..
            }
        ),
        "{end:?}"
    );
}

#[test]
fn rotation_checkpoint_and_cleanup() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wal::create(dir.path(), 1, 4096, FsyncPolicy::Never, 0).unwrap();
    let mut b = Vec::new();
    encode_samples(&mut b, &vec![(1u64, 5i64, 1.0f64); 300]);
    for _ in 0..3 {
        w.write(&b).unwrap();
    }
    assert!(w.segment() >= 2);
    let mut cp = CheckpointWriter::create(dir.path(), 3).unwrap();
    encode_checkpoint(cp.buf(), 10);
    cp.finish().unwrap();
    fs::write(dir.path().join("checkpoint.00000009.tmp"), b"x").unwrap();
    remove_before(dir.path(), 3, 3).unwrap();
    let (segs, cps) = list(dir.path()).unwrap();
    assert_eq!(cps, vec![3]);
    assert!(segs.iter().all(|&s| s >= 3));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), segs.len() + 1);
}

#[test]
fn garbage_is_reported_not_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("00000001");
    fs::write(&p, b"nonsense").unwrap();
    assert!(matches!(all(&p).1, ReadEnd::Corrupt { offset: 0, .. }));
    let mut b = FILE_MAGIC.to_vec();
    b.extend_from_slice(&[0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 2]);
    fs::write(&p, &b).unwrap();
    assert!(matches!(
        all(&p).1,
        ReadEnd::Corrupt {
            offset: 8,
            reason: "record length too large"
        }
    ));
}

#[test]
fn interrupted_writes_read_as_torn_not_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("00000001");
    for partial in [&b""[..], &FILE_MAGIC[..3]] {
        fs::write(&p, partial).unwrap();
        assert!(matches!(all(&p).1, ReadEnd::Torn { offset: 0, .. }));
    }
    let mut b = FILE_MAGIC.to_vec();
    encode_samples(&mut b, &[(1, 5, 1.0)]);
    let whole = b.len();
    b.extend_from_slice(&[0u8; 100]);
    fs::write(&p, &b).unwrap();
    let (recs, end) = all(&p);
    assert_eq!(recs.len(), 1);
    assert_eq!(
        end,
        ReadEnd::Torn {
            offset: whole as u64,
            reason: "zero-filled tail"
        }
    );
    b.truncate(whole);
    b.extend_from_slice(&[1, 0, 0, 0, 9, 9, 9, 9, 2, 0]);
    fs::write(&p, &b).unwrap();
    assert!(
        matches!(all(&p).1, ReadEnd::Corrupt { .. }),
        "a bad checksum is damage"
    );
}
