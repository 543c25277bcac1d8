//! `argus tsdb import` writes two weeks of minute history from an
//! OpenMetrics file into a store that already holds newer data and has cut
//! its head: every sample is stored and queryable, and a bad line is
//! refused by line with a non-zero exit.

use argus_model::{Matcher, SystemClock};
use argus_tsdb::{Appender, Db, Options, Querier};
use std::process::Command;
use std::sync::Arc;

const MIN: i64 = 60_000;

fn count(dir: &std::path::Path, center: &str) -> usize {
    let db = Db::open(dir, Options::default(), Arc::new(SystemClock)).unwrap();
    let n = db
        .select(&[Matcher::eq("center", center)], i64::MIN, i64::MAX)
        .unwrap()
        .iter()
        .map(|s| s.samples.len())
        .sum();
    db.close().unwrap();
    n
}

#[test]
fn two_weeks_of_history_import_into_a_store_with_newer_data() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let now = chrono::Utc::now().timestamp_millis();
    {
        let db = Db::open(&data, Options::default(), Arc::new(SystemClock)).unwrap();
        let mut a = db.appender();
        for k in (0..30).rev() {
            a.append_pairs(
                &[("__name__", "orders"), ("center", "c1")],
                now - k * MIN,
                1.0,
            )
            .unwrap();
        }
        a.commit().unwrap();
        db.compact_head_fully().unwrap();
        db.close().unwrap();
    }
    let first = (now - 14 * 1440 * MIN) / MIN * MIN;
    let mut body = String::from("# TYPE orders gauge\n");
    let mut n = 0;
    for k in 0..(14 * 1440 - 60) {
        let t = first + k * MIN;
        for c in ["c1", "c2"] {
            // OpenMetrics timestamps are seconds.
            body.push_str(&format!(
                "orders{{center=\"{c}\"}} {} {}\n",
                k % 50,
                t / 1000
            ));
        }
        n += 1;
    }
    body.push_str("# EOF\n");
    let file = tmp.path().join("history.om");
    std::fs::write(&file, &body).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(["tsdb", "import"])
        .arg(&file)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("{} samples stored", 2 * n)),
        "{text}"
    );
    assert_eq!(count(&data, "c2"), n as usize);
    assert_eq!(count(&data, "c1"), n as usize + 30);
    // A bad line is refused by line number; the good ones are kept.
    std::fs::write(&file, format!("bad{{ 1 {now}\nok 1 {now}\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(["tsdb", "import", "--format", "prometheus"])
        .arg(&file)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 samples stored"));
}
