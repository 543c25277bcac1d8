//! The tap as a commit observer on the store's write path: what it sees and
//! when.

use super::*;
use crate::config::{compile_rules, DynamicRuleConfig};
use argus_model::{ManualClock, STALE_NAN};
use argus_tsdb::{Appender, Db, Options, Storage};

fn rules(y: &str) -> Arc<[CompiledRule]> {
    let c: Vec<DynamicRuleConfig> = serde_saphyr::from_str(y).unwrap();
    compile_rules(&c).unwrap().into()
}

/// A store with a tap for `job="api"` registered; the tap's queue.
fn rig(dir: &std::path::Path) -> (Storage, Tap, mpsc::Receiver<TapBatch>) {
    let (tx, rx) = mpsc::channel(16);
    let tap = Tap::new(
        rules("- {name: A, selector: '{job=\"api\"}'}\n"),
        tx,
        Arc::new(DetectMetrics::default()),
    );
    let db = Db::open(dir, Options::default(), Arc::new(ManualClock::new(100_000))).unwrap();
    let storage = Storage::new(db);
    storage.add_observer(Arc::new(tap.clone()));
    (storage, tap, rx)
}

fn got(b: &TapBatch) -> Vec<(String, i64, f64)> {
    b.samples
        .iter()
        .map(|s| (s.series.labels.to_string(), s.t, s.v))
        .collect()
}

#[test]
fn the_tap_sees_matching_committed_samples_only_after_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, _tap, mut rx) = rig(dir.path());
    let mut app = storage.appender();
    let api = [("__name__", "x"), ("job", "api")];
    app.append_pairs(&api, 1_000, 1.0).unwrap();
    app.append_pairs(&[("__name__", "x"), ("job", "db")], 1_000, 1.0)
        .unwrap();
    // Refused by the store (far in the future), a stale marker, an output
    // series.
    assert!(app.append_pairs(&api, i64::MAX / 2, 2.0).is_err());
    app.append_pairs(&api, 2_000, STALE_NAN).unwrap();
    app.append_pairs(
        &[("__name__", "argus_anomaly_score"), ("job", "api")],
        1_000,
        1.0,
    )
    .unwrap();
    assert!(rx.try_recv().is_err(), "nothing before the commit");
    app.commit().unwrap();
    let b = rx.try_recv().unwrap();
    assert_eq!(got(&b), vec![(r#"x{job="api"}"#.to_string(), 1_000, 1.0)]);
    assert!(rx.try_recv().is_err(), "one batch per commit");
}

#[test]
fn the_tap_sees_nothing_of_a_rollback_a_failed_commit_or_a_batch_without_matches() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, _tap, mut rx) = rig(dir.path());
    let mut app = storage.appender();
    app.append_pairs(&[("__name__", "x"), ("job", "api")], 1_000, 1.0)
        .unwrap();
    app.rollback();
    let mut app = storage.appender();
    app.append_pairs(&[("__name__", "x"), ("job", "db")], 1_000, 1.0)
        .unwrap();
    app.commit().unwrap();
    assert!(rx.try_recv().is_err());

    // A store that refuses every commit (no disk has u64::MAX bytes free).
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        min_free_bytes: u64::MAX,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts, Arc::new(ManualClock::new(100_000))).unwrap();
    let full = Storage::new(db);
    let (tx, mut rx) = mpsc::channel(16);
    full.add_observer(Arc::new(Tap::new(
        rules("- {name: A, selector: x}\n"),
        tx,
        Arc::new(DetectMetrics::default()),
    )));
    let mut app = full.appender();
    app.append_pairs(&[("__name__", "x")], 1_000, 1.0).unwrap();
    assert!(app.commit().is_err());
    assert!(rx.try_recv().is_err());
}

#[test]
fn a_reload_takes_effect_for_an_appender_already_open() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, tap, mut rx) = rig(dir.path());
    let mut app = storage.appender();
    app.append_pairs(&[("__name__", "y"), ("job", "db")], 1_000, 1.0)
        .unwrap();
    tap.set_rules(rules("- {name: B, selector: y}\n"), 1);
    app.append_pairs(&[("__name__", "y"), ("job", "web")], 1_000, 1.0)
        .unwrap();
    app.commit().unwrap();
    let b = rx.try_recv().unwrap();
    assert_eq!(got(&b), vec![(r#"y{job="web"}"#.to_string(), 1_000, 1.0)]);
    assert_eq!(b.samples[0].series.generation, 1);
}
