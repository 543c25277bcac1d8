use std::io::Write;
use std::path::Path;

use super::*;

fn cfg(pattern: &Path, state: &Path) -> LogTailConfig {
    let g = FileGroup {
        paths: vec![pattern.to_string_lossy().into_owned()],
        labels: [("job".to_string(), "app".to_string())].into(),
        exclude: vec!["*.gz".into()],
        multiline_start: None,
    };
    let mut c = LogTailConfig::new("http://127.0.0.1:1", vec![g], state);
    c.start_at = StartAt::Beginning;
    c
}

fn open(c: &LogTailConfig) -> Tailer {
    Tailer::open(c.clone(), Arc::new(LogStats::default())).unwrap()
}

fn append(p: &Path, s: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .unwrap();
    f.write_all(s.as_bytes()).unwrap();
}

/// Acknowledges every queued batch and returns its records' (filename, line).
fn drain(t: &Tailer) -> Vec<(String, String)> {
    let q = t.queue();
    let mut q = q.lock();
    let mut out = Vec::new();
    while let Some((pos, rec)) = q.peek().unwrap() {
        let (h, body) = BatchHeader::split(&rec).unwrap();
        let mut n = 0;
        for l in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let v: serde_json::Value = serde_json::from_slice(l).unwrap();
            assert_eq!(v["labels"]["job"], "app");
            assert!(v["ts"].as_str().unwrap().parse::<i64>().unwrap() > 0);
            out.push((
                v["labels"]["filename"].as_str().unwrap().to_string(),
                v["line"].as_str().unwrap().to_string(),
            ));
            n += 1;
        }
        assert_eq!(h.lines, n);
        q.ack(pos).unwrap();
    }
    out
}

fn lines(t: &Tailer) -> Vec<String> {
    drain(t).into_iter().map(|(_, l)| l).collect()
}

#[test]
fn appended_lines_are_read_once_with_labels() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("app.log");
    append(&log, "one\ntwo\r\n");
    let mut t = open(&cfg(&log, &d.path().join("state")));
    t.poll().unwrap();
    let got = drain(&t);
    assert_eq!(
        got,
        vec![
            (log.display().to_string(), "one".into()),
            (log.display().to_string(), "two".into())
        ]
    );
    t.poll().unwrap();
    assert!(drain(&t).is_empty());
    append(&log, "three\n");
    t.poll().unwrap();
    assert_eq!(lines(&t), vec!["three"]);
    assert_eq!(t.sink.stats.lines_read.load(Ordering::Relaxed), 3);
    assert_eq!(t.sink.stats.files_watched.load(Ordering::Relaxed), 1);
}

#[test]
fn rename_rotation_reads_the_old_file_to_its_end() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("app.log");
    append(&log, "a1\n");
    let mut t = open(&cfg(&log, &d.path().join("state")));
    t.poll().unwrap();
    assert_eq!(lines(&t), vec!["a1"]);
    // The writer keeps its handle across the rename, as a logger does.
    let mut writer = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::fs::rename(&log, d.path().join("app.log.1")).unwrap();
    writer.write_all(b"a2 after rename\n").unwrap();
    append(&log, "b1\n");
    t.poll().unwrap();
    writer.write_all(b"a3 late\n").unwrap();
    append(&log, "b2\n");
    for _ in 0..IDLE_POLLS + 2 {
        t.poll().unwrap();
    }
    let mut got = lines(&t);
    got.sort();
    assert_eq!(got, vec!["a2 after rename", "a3 late", "b1", "b2"]);
    // The old file is let go once idle; the new one stays.
    assert_eq!(t.watched(), vec![log.clone()]);
}

#[test]
fn truncate_and_copytruncate_restart_at_zero() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("app.log");
    append(&log, "first line here\nsecond line\n");
    let mut t = open(&cfg(&log, &d.path().join("state")));
    t.poll().unwrap();
    assert_eq!(lines(&t).len(), 2);
    // Truncate: shorter than the offset.
    std::fs::write(&log, "x\n").unwrap();
    t.poll().unwrap();
    assert_eq!(lines(&t), vec!["x"]);
    // copytruncate, then the writer goes past the old offset before the next
    // poll: the changed first bytes tell.
    std::fs::copy(&log, d.path().join("app.log.1")).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
    f.set_len(0).unwrap();
    append(&log, "y: a longer line than before\nz\n");
    t.poll().unwrap();
    assert_eq!(lines(&t), vec!["y: a longer line than before", "z"]);
}

#[test]
fn globs_pick_up_new_files_and_start_at_end_skips_old_content() {
    let d = tempfile::tempdir().unwrap();
    append(&d.path().join("a.log"), "old\n");
    append(&d.path().join("skip.gz"), "zip\n");
    let mut c = cfg(&d.path().join("*"), &d.path().join("state"));
    c.start_at = StartAt::End;
    let mut t = open(&c);
    t.poll().unwrap();
    assert!(drain(&t).is_empty());
    append(&d.path().join("a.log"), "new\n");
    append(&d.path().join("b.log"), "b from its start\n");
    t.poll().unwrap();
    let mut got = lines(&t);
    got.sort();
    assert_eq!(got, vec!["b from its start", "new"]);
    assert_eq!(t.watched().len(), 2);
}

#[test]
fn multiline_records_are_joined() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("app.log");
    let mut c = cfg(&log, &d.path().join("state"));
    c.files[0].multiline_start = Some(r"^\d{4}-".into());
    append(
        &log,
        "2026-01-01 boom\n  at a()\n  at b()\n2026-01-01 next\n",
    );
    let mut t = open(&c);
    t.poll().unwrap();
    assert_eq!(lines(&t), vec!["2026-01-01 boom\n  at a()\n  at b()"]);
    // The open record survives a restart: its start is what was saved.
    drop(t);
    let mut t = open(&c);
    append(&log, "  at c()\n");
    t.poll().unwrap();
    assert!(drain(&t).is_empty());
    for _ in 0..IDLE_POLLS {
        t.poll().unwrap();
    }
    assert_eq!(lines(&t), vec!["2026-01-01 next\n  at c()"]);
}

#[test]
fn a_restart_neither_repeats_nor_skips() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("app.log");
    let state = d.path().join("state");
    let c = cfg(&log, &state);
    append(&log, "1\n2\n");
    let mut t = open(&c);
    t.poll().unwrap();
    let mut got = lines(&t);
    append(&log, "3\n");
    t.poll().unwrap(); // queued, not sent
    drop(t);
    append(&log, "4\n");
    let mut t = open(&c);
    t.poll().unwrap();
    got.extend(lines(&t));
    assert_eq!(got, vec!["1", "2", "3", "4"]);
    // A crash between queueing a batch and saving the offsets: the old
    // offsets file comes back, the queue holds the batch.
    let before = std::fs::read(state.join("offsets.json")).unwrap();
    append(&log, "5\n");
    t.poll().unwrap();
    drop(t);
    std::fs::write(state.join("offsets.json"), before).unwrap();
    append(&log, "6\n");
    let mut t = open(&c);
    t.poll().unwrap();
    assert_eq!(lines(&t), vec!["5", "6"]);
}

#[test]
fn a_rotated_file_is_found_after_a_restart() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("app.log");
    let c = cfg(&log, &d.path().join("state"));
    append(&log, "a1\n");
    let mut t = open(&c);
    t.poll().unwrap();
    assert_eq!(lines(&t), vec!["a1"]);
    drop(t);
    append(&log, "a2\n");
    std::fs::rename(&log, d.path().join("app.log.1")).unwrap();
    append(&log, "b1\n");
    let mut t = open(&c);
    t.poll().unwrap();
    let mut got = lines(&t);
    got.sort();
    assert_eq!(got, vec!["a2", "b1"]);
}

#[test]
fn partial_and_long_lines() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("app.log");
    let mut c = cfg(&log, &d.path().join("state"));
    c.max_line_bytes = 16;
    append(&log, "partial");
    let mut t = open(&c);
    t.poll().unwrap();
    append(&log, " ok");
    t.poll().unwrap();
    assert!(drain(&t).is_empty(), "a growing partial line waits");
    for _ in 0..IDLE_POLLS {
        t.poll().unwrap();
    }
    assert_eq!(lines(&t), vec!["partial ok"]);
    for _ in 0..IDLE_POLLS + 1 {
        t.poll().unwrap();
    }
    assert!(drain(&t).is_empty(), "emitted once");
    append(&log, &format!("{}\n", "x".repeat(40)));
    t.poll().unwrap();
    assert_eq!(
        lines(&t),
        vec!["x".repeat(16), "x".repeat(16), "x".repeat(8)]
    );
    assert_eq!(t.sink.stats.lines_split.load(Ordering::Relaxed), 1);
}

#[test]
fn batches_hold_at_most_batch_lines() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("app.log");
    let mut c = cfg(&log, &d.path().join("state"));
    c.batch_lines = 3;
    let all: String = (0..10).map(|i| format!("{i}\n")).collect();
    append(&log, &all);
    let mut t = open(&c);
    assert_eq!(t.poll().unwrap(), 10);
    assert_eq!(t.queue().lock().depth(), 4);
    assert_eq!(lines(&t).len(), 10);
}

#[test]
fn bad_settings_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let mut c = cfg(&d.path().join("x"), d.path());
    c.url = "argus:9797".into();
    assert!(Tailer::open(c, Arc::new(LogStats::default())).is_err());
    let mut c = cfg(&d.path().join("x"), d.path());
    c.files[0].multiline_start = Some("(".into());
    assert!(Tailer::open(c, Arc::new(LogStats::default())).is_err());
    let mut c = cfg(&d.path().join("x"), d.path());
    c.state_dir = None;
    assert!(Tailer::open(c, Arc::new(LogStats::default())).is_err());
}
