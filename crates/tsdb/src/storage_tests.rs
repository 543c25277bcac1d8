//! Tests of the write path: the batch append's report and the commit
//! observers (refused samples unseen, nothing on rollback or failed commit).

use super::*;
use argus_model::ManualClock;
use parking_lot::Mutex;

type Seen = Arc<Mutex<Vec<Vec<(String, i64, f64)>>>>;

/// Records every committed batch (sample name, t, v).
#[derive(Default, Clone)]
struct Recorder(Seen);

struct RecBatch(Seen, Vec<(String, i64, f64)>);

impl CommitObserver for Recorder {
    fn begin(&self) -> Option<Box<dyn ObservedBatch>> {
        Some(Box::new(RecBatch(self.0.clone(), Vec::new())))
    }
}

impl ObservedBatch for RecBatch {
    fn accepted(&mut self, pairs: &[(&str, &str)], t: i64, v: f64) {
        let name = pairs
            .iter()
            .find(|(n, _)| *n == "__name__")
            .map_or("", |(_, v)| v);
        self.1.push((name.to_string(), t, v));
    }
    fn committed(self: Box<Self>, _: &AppendStats) {
        let RecBatch(seen, got) = *self;
        seen.lock().push(got);
    }
}

/// An observer that never wants anything.
struct Uninterested;

impl CommitObserver for Uninterested {
    fn begin(&self) -> Option<Box<dyn ObservedBatch>> {
        None
    }
}

fn open(dir: &std::path::Path, min_free_bytes: u64) -> Storage {
    let opts = crate::Options {
        min_free_bytes,
        ooo_window_ms: 0,
        ..crate::Options::default()
    };
    Storage::new(Db::open(dir, opts, Arc::new(ManualClock::new(10_000))).unwrap())
}

fn l(name: &str) -> Labels {
    Labels::from_pairs(&[("__name__", name), ("job", "t")])
}

#[test]
fn the_report_counts_accepted_and_refused_by_reason() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), 0);
    let (a, b) = (l("a"), l("b"));
    let invalid = Labels::from_pairs(&[("__name__", "1 bad")]);
    let r = s
        .append_batch([
            (&a, 5_000, 1.0),
            (&b, 5_000, 1.0),
            (&b, i64::MAX / 2, 1.0), // far in the future
            (&invalid, 5_000, 1.0),  // not a metric name
        ])
        .unwrap();
    assert_eq!(r.accepted, 2);
    assert_eq!(r.new_series, 2);
    assert_eq!(
        r.refused,
        Refused {
            out_of_window: 1,
            invalid_labels: 1,
            ..Refused::default()
        }
    );
    assert_eq!(r.refused.total(), 2);
    assert!(r
        .first_error
        .unwrap()
        .contains("outside the accepted window"));
    // Now the head holds a at 5 s: another value there is a duplicate.
    let r = s
        .append_batch([(&a, 5_000, 3.0), (&a, 6_000, 3.0)])
        .unwrap();
    assert_eq!(
        (r.accepted, r.refused.duplicate, r.refused.total()),
        (1, 1, 1)
    );
    assert!(r.first_error.unwrap().contains("duplicate"));
    // Older than the newest sample, with no out-of-order window.
    let r = s.append_batch([(&a, 5_500, 1.0)]).unwrap();
    assert_eq!((r.accepted, r.refused.total()), (0, 1));
    assert_eq!(r.refused.out_of_order + r.refused.out_of_bounds, 1);
    // An empty batch is an empty report.
    let r = s.append_batch(std::iter::empty()).unwrap();
    assert_eq!(r, AppendReport::default());
}

#[test]
fn observers_see_committed_samples_but_not_refused_ones() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), 0);
    let rec = Recorder::default();
    s.add_observer(Arc::new(rec.clone()));
    s.add_observer(Arc::new(Uninterested));
    let (a, b) = (l("a"), l("b"));
    s.append_batch([(&a, 5_000, 1.0)]).unwrap();
    let r = s
        .append_batch([(&a, 5_000, 9.0), (&b, 6_000, 2.0), (&b, i64::MAX / 2, 1.0)])
        .unwrap();
    assert_eq!((r.accepted, r.refused.total()), (1, 2));
    assert_eq!(
        *rec.0.lock(),
        vec![
            vec![("a".to_string(), 5_000, 1.0)],
            vec![("b".to_string(), 6_000, 2.0)]
        ]
    );
    // Observed appenders handed to ingest code behave the same.
    let mut app = s.appender();
    app.append_pairs(&[("__name__", "c")], 7_000, 3.0).unwrap();
    assert!(app
        .append_pairs(&[("__name__", "c")], i64::MAX / 2, 4.0)
        .is_err());
    assert_eq!(app.len(), 1);
    app.commit().unwrap();
    assert_eq!(rec.0.lock().len(), 3);
    assert_eq!(rec.0.lock()[2], vec![("c".to_string(), 7_000, 3.0)]);
}

#[test]
fn observers_see_nothing_of_a_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), 0);
    let rec = Recorder::default();
    s.add_observer(Arc::new(rec.clone()));
    let mut app = s.appender();
    app.append(&l("a"), 5_000, 1.0).unwrap();
    app.rollback();
    assert!(rec.0.lock().is_empty());
}

#[test]
fn observers_see_nothing_of_a_failed_commit() {
    let dir = tempfile::tempdir().unwrap();
    // No disk has u64::MAX bytes free: every commit is refused (read-only).
    let s = open(dir.path(), u64::MAX);
    let rec = Recorder::default();
    s.add_observer(Arc::new(rec.clone()));
    let a = l("a");
    let err = s.append_batch([(&a, 5_000, 1.0)]).unwrap_err();
    assert!(err.is_read_only(), "{err}");
    assert!(rec.0.lock().is_empty());
}

#[test]
fn an_observer_added_later_sees_only_later_appenders() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), 0);
    let before = s.appender();
    let rec = Recorder::default();
    s.clone().add_observer(Arc::new(rec.clone()));
    let mut before = before;
    before.append(&l("a"), 5_000, 1.0).unwrap();
    before.commit().unwrap();
    assert!(rec.0.lock().is_empty());
    s.append_batch([(&l("b"), 5_000, 1.0)]).unwrap();
    assert_eq!(rec.0.lock().len(), 1, "clones share the observers");
    s.unobserved()
        .append_batch([(&l("c"), 5_000, 1.0)])
        .unwrap();
    assert_eq!(rec.0.lock().len(), 1, "an unobserved handle tells no one");
}
