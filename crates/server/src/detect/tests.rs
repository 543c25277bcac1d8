//! Unit tests of the tap and of the engine's alert timeline (ManualClock,
//! no sleeps).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use argus_model::{Labels, ManualClock};
use argus_rules::{Alert, AlertState};
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::config::{compile_rules, DynamicRuleConfig};
use super::engine::Shared;
use super::metrics::DetectMetrics;
use super::store::ModelStore;
use super::tap::{Tap, TapBatch, TapSample};

fn rules(y: &str) -> Arc<[super::config::CompiledRule]> {
    let c: Vec<DynamicRuleConfig> = serde_saphyr::from_str(y).unwrap();
    compile_rules(&c).unwrap().into()
}

#[test]
fn tap_matches_caches_skips_outputs_and_counts_drops() {
    let r = rules("- {name: A, selector: '{job=\"api\"}'}\n");
    let (tx, mut rx) = mpsc::channel(1);
    let m = Arc::new(DetectMetrics::default());
    let tap = Tap::new(r, tx, m.clone());
    let hit = tap.lookup(&[("__name__", "x"), ("job", "api")]).unwrap();
    assert_eq!(hit.rules, vec![0]);
    // Cached: the same entry comes back.
    let again = tap.lookup(&[("__name__", "x"), ("job", "api")]).unwrap();
    assert!(Arc::ptr_eq(&hit, &again));
    assert!(tap.lookup(&[("__name__", "x"), ("job", "db")]).is_none());
    assert!(tap
        .lookup(&[("__name__", "argus_baseline_upper"), ("job", "api")])
        .is_none());
    let batch = || TapBatch {
        samples: vec![TapSample {
            series: hit.clone(),
            t: 1,
            v: 1.0,
        }],
        appended_at: Instant::now(),
    };
    tap.send(batch());
    tap.send(batch()); // the queue holds one batch
    assert_eq!(m.tapped.load(Ordering::Relaxed), 1);
    assert_eq!(m.dropped.load(Ordering::Relaxed), 1);
    assert!(rx.try_recv().is_ok());
    assert!(!Tap::default().enabled());
}

struct Sink(Mutex<Vec<Alert>>);
impl argus_rules::AlertSink for Sink {
    fn send(&self, alerts: Vec<Alert>) {
        self.0.lock().extend(alerts);
    }
}

#[test]
fn alert_fires_resends_on_the_clock_and_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000_000));
    let db = argus_tsdb::Db::open(dir.path(), Default::default(), clock.clone()).unwrap();
    let r = rules("- {name: Lat, selector: lat, detector: {kind: latency}}\n");
    let (train_tx, _train_rx) = mpsc::unbounded_channel();
    let sh = Shared {
        rules: r.clone(),
        series: Mutex::new(vec![HashMap::new()]),
        db,
        clock: clock.clone(),
        alerts: std::sync::OnceLock::new(),
        metrics: Arc::new(DetectMetrics::default()),
        store: ModelStore::new(dir.path().join("models")),
        resend_ms: 60_000,
        train_tx,
        jobs: Mutex::new(HashMap::new()),
        next_job: AtomicU64::new(1),
    };
    let sink = Arc::new(Sink(Mutex::new(Vec::new())));
    let _ = sh.alerts.set(sink.clone());
    let series = Arc::new(super::tap::TappedSeries {
        labels: Labels::from_pairs(&[("__name__", "lat"), ("i", "a")]),
        rules: vec![0],
    });
    let feed = |t: i64, v: f64| {
        sh.process(TapBatch {
            samples: vec![TapSample {
                series: series.clone(),
                t,
                v,
            }],
            appended_at: Instant::now(),
        })
    };
    for i in 0..30 {
        feed(i * 1000, 10.0 + (i % 3) as f64);
    }
    assert!(sink.0.lock().is_empty());
    feed(30_000, 500.0);
    let fired = sink.0.lock().clone();
    assert_eq!(fired.len(), 1);
    let a = &fired[0];
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!(a.labels.get("alertname"), Some("Lat"));
    assert_eq!(a.annotations.get("algorithm"), Some("cold_start"));
    assert_eq!(
        a.annotations.get("training_window"),
        Some("none (cold start)")
    );
    assert_eq!(a.valid_until_ms, Some(1_000_000 + 240_000));
    assert_eq!(sh.metrics.alert_latency.count(), 1);
    // Re-sent only once the resend delay has passed on the clock.
    sh.tick();
    assert_eq!(sink.0.lock().len(), 1);
    clock.advance(60_000);
    sh.tick();
    assert_eq!(sink.0.lock().len(), 2);
    assert_eq!(sink.0.lock()[1].valid_until_ms, Some(1_060_000 + 240_000));
    // A normal sample resolves it at its own timestamp.
    feed(31_000, 11.0);
    let last = sink.0.lock().last().cloned().unwrap();
    assert_eq!(
        (last.state, last.resolved_at_ms),
        (AlertState::Inactive, Some(31_000))
    );
    clock.advance(600_000);
    sh.tick();
    assert_eq!(sink.0.lock().len(), 3, "resolved alerts are not re-sent");
    // Every sample was scored.
    assert!(sh.metrics.scored.load(Ordering::Relaxed) >= 32);
}
