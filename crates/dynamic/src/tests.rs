//! Unit tests of the tap, of the engine's alert timeline (ManualClock, no
//! sleeps), of the trainer's slots and concurrent jobs, and of applying
//! reloaded rules.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use argus_model::{Labels, ManualClock};
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;

use super::config::{compile_rules, DynamicRuleConfig};
use super::engine::Shared;
use super::metrics::DetectMetrics;
use super::sink::{AlertState, DynamicAlert as Alert};
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

/// A `Shared` over `rules` (generation 0) and the trainer queue's receiver.
fn shared(
    rules: Arc<[super::config::CompiledRule]>,
    db: argus_tsdb::Db,
    clock: Arc<ManualClock>,
    dir: &std::path::Path,
) -> (Shared, mpsc::UnboundedReceiver<super::engine::TrainRequest>) {
    let (train_tx, train_rx) = mpsc::unbounded_channel();
    let sh = Shared {
        series: Mutex::new(rules.iter().map(|_| HashMap::new()).collect()),
        rules: RwLock::new(rules),
        generation: AtomicU64::new(0),
        db,
        clock,
        alerts: std::sync::OnceLock::new(),
        metrics: Arc::new(DetectMetrics::default()),
        store: ModelStore::new(dir.join("models")),
        resend_ms: 60_000,
        train_tx,
        jobs: Mutex::new(HashMap::new()),
        next_job: AtomicU64::new(1),
        warm_tx: mpsc::unbounded_channel().0,
    };
    (sh, train_rx)
}

struct Sink(Mutex<Vec<Alert>>);
impl super::sink::AlertSink for Sink {
    fn send(&self, alerts: Vec<Alert>) {
        self.0.lock().extend(alerts);
    }
}

/// A detector over `yaml`'s rules with a sink for its alerts and one tapped
/// series, `lat{i="a"}`, matched by rule 0.
struct Rig {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    sh: Arc<Shared>,
    sink: Arc<Sink>,
    series: Arc<super::tap::TappedSeries>,
    /// Warm-ups the engine asked for.
    warm_rx: Mutex<mpsc::UnboundedReceiver<super::warm::WarmRequest>>,
}

impl Rig {
    fn new(yaml: &str, now_ms: i64) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(now_ms));
        let db = open_db(dir.path(), clock.clone());
        let (mut sh, _train_rx) = shared(rules(yaml), db, clock.clone(), dir.path());
        let (warm_tx, warm_rx) = mpsc::unbounded_channel();
        sh.warm_tx = warm_tx;
        let sink = Arc::new(Sink(Mutex::new(Vec::new())));
        let _ = sh.alerts.set(sink.clone());
        let series = Arc::new(super::tap::TappedSeries {
            labels: Labels::from_pairs(&[("__name__", "lat"), ("i", "a")]),
            rules: vec![0],
            generation: 0,
        });
        Rig {
            _dir: dir,
            clock,
            sh: Arc::new(sh),
            sink,
            series,
            warm_rx: Mutex::new(warm_rx),
        }
    }

    /// Commits the series' samples at minutes `mins` to the store (as ingest
    /// does before the tap sees them).
    fn store(&self, mins: std::ops::Range<i64>, v: impl Fn(i64) -> f64) {
        use argus_tsdb::Appender;
        let mut app = self.sh.db.appender();
        for i in mins {
            app.append(&self.series.labels, i * 60_000, v(i)).unwrap();
        }
        app.commit().unwrap();
    }

    /// A warm-up request for the series under rule `rule`.
    fn warm_request(&self, rule: &str) -> super::warm::WarmRequest {
        super::warm::WarmRequest {
            rule: rule.into(),
            labels: self.series.labels.clone(),
        }
    }

    /// Warm-ups asked for since the last call.
    fn warm_requests(&self) -> Vec<super::warm::WarmRequest> {
        let mut rx = self.warm_rx.lock();
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    /// Taps one sample of the series at `t` ms.
    fn feed(&self, t: i64, v: f64) {
        self.sh.process(TapBatch {
            samples: vec![TapSample {
                series: self.series.clone(),
                t,
                v,
            }],
            appended_at: Instant::now(),
        })
    }

    fn alerts(&self) -> Vec<Alert> {
        self.sink.0.lock().clone()
    }

    /// The stored `argus_anomaly_stream_score` values, oldest first.
    fn stream_scores(&self) -> Vec<f64> {
        use argus_tsdb::Querier;
        let m = [argus_model::Matcher::eq(
            "__name__",
            "argus_anomaly_stream_score",
        )];
        let found = self.sh.db.select(&m, i64::MIN, i64::MAX).unwrap();
        found
            .into_iter()
            .flat_map(|s| s.samples.into_iter().map(|p| p.v))
            .collect()
    }
}

/// One-minute samples of 100 ± 3 (deterministic).
fn quiet(i: i64) -> f64 {
    100.0 + ((i * 7919) % 13) as f64 * 0.5 - 3.0
}

#[test]
fn alert_fires_resends_on_the_clock_and_resolves() {
    let rig = Rig::new(
        "- {name: Lat, selector: lat, detector: {kind: latency}}\n",
        1_000_000,
    );
    let (sh, clock) = (&rig.sh, &rig.clock);
    for i in 0..30 {
        rig.feed(i * 1000, 10.0 + (i % 3) as f64);
    }
    assert!(rig.alerts().is_empty());
    rig.feed(30_000, 500.0);
    let fired = rig.alerts();
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
    assert_eq!(rig.alerts().len(), 1);
    clock.advance(60_000);
    sh.tick();
    assert_eq!(rig.alerts().len(), 2);
    assert_eq!(rig.alerts()[1].valid_until_ms, Some(1_060_000 + 240_000));
    // A normal sample resolves it at its own timestamp.
    rig.feed(31_000, 11.0);
    let last = rig.alerts().last().cloned().unwrap();
    assert_eq!(
        (last.state, last.resolved_at_ms),
        (AlertState::Resolved, Some(31_000))
    );
    clock.advance(600_000);
    sh.tick();
    assert_eq!(rig.alerts().len(), 3, "resolved alerts are not re-sent");
    // Every sample was scored; without `anomaly` no scorer series is written.
    assert!(sh.metrics.scored.load(Ordering::Relaxed) >= 32);
    assert!(rig.stream_scores().is_empty());
}

#[test]
fn an_anomaly_the_scorer_reports_keeps_the_alert_for_the_hold() {
    let rig = Rig::new(
        "- {name: Lat, selector: lat, detector: {kind: latency, anomaly: {}, anomaly_hold_minutes: 2}}\n",
        1_000_000,
    );
    let feed = |minute: i64, v: f64| rig.feed(minute * 60_000, v);
    for i in 0..2000 {
        feed(i, quiet(i));
    }
    assert!(rig.alerts().is_empty());
    feed(2000, 300.0);
    let fired = rig.alerts().last().cloned().unwrap();
    assert_eq!(fired.state, AlertState::Firing);
    assert_eq!(fired.annotations.get("anomaly_active"), Some("true"));
    let score: f64 = fired
        .annotations
        .get("anomaly_score")
        .unwrap()
        .parse()
        .unwrap();
    assert!(score >= 0.5, "{score}");
    assert!(
        fired
            .annotations
            .get("summary")
            .unwrap()
            .contains("anomaly scorer"),
        "{:?}",
        fired.annotations
    );
    let summary = fired.annotations.get("summary").unwrap();
    assert!(
        summary.contains("level 1 starts above N = 0.1 and each further 0.2 adds a level"),
        "{summary}"
    );
    let long_number = summary
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .any(|w| w.split('.').nth(1).is_some_and(|d| d.len() > 3));
    assert!(!long_number, "numbers are rounded: {summary}");
    // Normal samples: the band alone would resolve at once; the scorer's
    // anomaly holds the alert for two minutes.
    feed(2001, quiet(2001));
    feed(2002, quiet(2002));
    assert!(rig.alerts().iter().all(|a| a.state == AlertState::Firing));
    feed(2003, quiet(2003));
    let last = rig.alerts().last().cloned().unwrap();
    assert_eq!(
        (last.state, last.resolved_at_ms),
        (AlertState::Resolved, Some(2003 * 60_000))
    );
    // The scorer's score is stored beside the band, one point per sample.
    let stored = rig.stream_scores();
    assert_eq!(stored.len(), 2004);
    assert!(stored[2000] >= 0.5 && stored[..2000].iter().all(|&x| x < 0.5));
}

/// A store whose clock the test drives by hand: samples may run ahead of it.
fn open_db(dir: &std::path::Path, clock: Arc<ManualClock>) -> argus_tsdb::Db {
    let opts = argus_tsdb::Options {
        max_future_ms: 100 * 365 * 86_400_000,
        ..Default::default()
    };
    argus_tsdb::Db::open(dir, opts, clock).unwrap()
}

fn request(rule: &str, series: &str) -> super::engine::TrainRequest {
    super::engine::TrainRequest {
        rule: rule.into(),
        labels: Labels::from_pairs(&[("__name__", "m"), ("i", series)]),
        force: true,
        job: None,
    }
}

#[test]
fn slots_limit_concurrency_and_serialise_a_series() {
    let mut s = super::trainer::Slots::new(2);
    assert!(s.offer(request("A", "a")).is_some());
    // The same series waits while it trains, even with a free slot, and
    // does not hold up other series.
    assert!(s.offer(request("A", "a")).is_none());
    assert!(s.has_room());
    assert!(s.offer(request("A", "b")).is_some());
    assert_eq!(s.running(), 2);
    assert!(!s.has_room(), "both slots are busy");
    // b finishes: nothing starts (the waiting request's series still trains).
    assert!(s.finish("A", &request("A", "b").labels).is_empty());
    assert_eq!(s.running(), 1);
    // a finishes: its second request starts.
    let started = s.finish("A", &request("A", "a").labels);
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].labels, request("A", "a").labels);
    assert_eq!(s.running(), 1);
    // Rules are part of the key: B's series a is another series.
    assert!(s.offer(request("B", "a")).is_some());
    assert_eq!(s.running(), 2);
    // Never below one slot.
    let mut one = super::trainer::Slots::new(0);
    assert!(one.offer(request("A", "a")).is_some());
    assert!(!one.has_room());
}

fn append_history(db: &argus_tsdb::Db, series: &[&str], points: i64) {
    use argus_tsdb::Appender;
    let mut app = db.appender();
    for s in series {
        let l = Labels::from_pairs(&[("__name__", "m"), ("i", s)]);
        for k in 0..points {
            app.append(&l, k * 60_000, 10.0 + (k % 7) as f64).unwrap();
        }
    }
    app.commit().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_trains_every_series_with_parallel_trainings() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(200 * 60_000));
    let db = open_db(dir.path(), clock.clone());
    let names = ["a", "b", "c", "d", "e"];
    append_history(&db, &names, 200);
    let r = rules("- {name: M, selector: m, detector: {algorithm: ma, period: none}}\n");
    let (sh, rx) = shared(r, db, clock, dir.path());
    let sh = Arc::new(sh);
    let trainer = tokio::spawn(super::trainer::run(sh.clone(), rx, 3));
    let job = super::trainer::start_job(&sh, "M", Vec::new(), None);
    let t0 = Instant::now();
    let snap = loop {
        let s = job.snapshot();
        if s.state != "listing" && s.state != "running" {
            break s;
        }
        assert!(t0.elapsed().as_secs() < 30, "the job did not finish: {s:?}");
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    assert_eq!(
        (snap.state, snap.total, snap.done, snap.failed),
        ("done", 5, 5, 0),
        "{snap:?}"
    );
    let all = sh.series.lock();
    for n in names {
        let st = &all[0][&Labels::from_pairs(&[("__name__", "m"), ("i", n)])];
        assert!(st.det.model().is_some(), "{n} has a model");
        assert!(st.training.is_none(), "{n} is no longer training");
    }
    drop(all);
    assert_eq!(sh.metrics.trainings_ok.load(Ordering::Relaxed), 5);
    assert_eq!(
        std::fs::read_dir(dir.path().join("models"))
            .unwrap()
            .count(),
        5
    );
    trainer.abort();
}

#[test]
fn reloaded_rules_keep_unchanged_models_and_drop_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_000_000));
    let db = open_db(dir.path(), clock.clone());
    let r = rules(
        "- {name: Keep, selector: 'm{i=~\"a|b\"}', detector: {kind: latency}}\n\
         - {name: Change, selector: m, detector: {kind: latency}}\n\
         - {name: Gone, selector: m}\n",
    );
    let (sh, _rx) = shared(r, db, clock, dir.path());
    let sink = Arc::new(Sink(Mutex::new(Vec::new())));
    let _ = sh.alerts.set(sink.clone());
    let a = Labels::from_pairs(&[("__name__", "m"), ("i", "a")]);
    let b = Labels::from_pairs(&[("__name__", "m"), ("i", "b")]);
    let tapped = |l: &Labels, rules: Vec<u16>| {
        Arc::new(super::tap::TappedSeries {
            labels: l.clone(),
            rules,
            generation: 0,
        })
    };
    let (sa, sb) = (tapped(&a, vec![0, 1, 2]), tapped(&b, vec![0, 1, 2]));
    let feed = |s: &Arc<super::tap::TappedSeries>, t: i64, v: f64| {
        sh.process(TapBatch {
            samples: vec![TapSample {
                series: s.clone(),
                t,
                v,
            }],
            appended_at: Instant::now(),
        })
    };
    for i in 0..30 {
        feed(&sa, i * 1000, 10.0 + (i % 3) as f64);
        feed(&sb, i * 1000, 10.0 + (i % 3) as f64);
    }
    feed(&sb, 30_000, 500.0); // fires Keep, Change and Gone for b
    let fired = sink.0.lock().len();
    assert_eq!(fired, 3);
    for map in sh.series.lock().iter_mut() {
        for st in map.values_mut() {
            st.last_trained_ms = Some(42); // a marker that survives a keep
        }
    }
    // Keep: same detector, narrower selector (b no longer matches);
    // Change: other detector; Gone: removed; New: added.
    let new = super::reload::prepare(
        &serde_saphyr::from_str::<Vec<DynamicRuleConfig>>(
            "- {name: New, selector: m}\n\
             - {name: Change, selector: m, detector: {kind: latency, t2: 0.2}}\n\
             - {name: Keep, selector: 'm{i=\"a\"}', detector: {kind: latency}, for: 1m}\n",
        )
        .unwrap(),
    )
    .unwrap();
    let sum = sh.apply_rules(new);
    assert_eq!(sum.added, vec!["New"]);
    assert_eq!(sum.changed, vec!["Change"]);
    assert_eq!(sum.kept, vec!["Keep"]);
    assert_eq!(sum.removed, vec!["Gone"]);
    assert_eq!((sum.series_dropped, sum.generation), (5, 1));
    let names: Vec<String> = sh.rules().iter().map(|r| r.name.clone()).collect();
    assert_eq!(names, ["New", "Change", "Keep"]);
    assert_eq!(sh.rules()[2].for_ms, 60_000, "kept rules take new settings");
    {
        let all = sh.series.lock();
        assert!(all[0].is_empty() && all[1].is_empty());
        assert_eq!(all[2].len(), 1);
        assert_eq!(all[2][&a].last_trained_ms, Some(42), "a's state is kept");
    }
    // The firing alerts of b under Keep, Change and Gone are resolved.
    let sent = sink.0.lock().clone();
    assert_eq!(sent.len(), fired + 3);
    assert!(sent[fired..]
        .iter()
        .all(|x| x.state == AlertState::Resolved && x.labels.get("i") == Some("b")));
    // A sample tapped before the reload (old indexes) is matched again:
    // a goes to New, Change and Keep, b to New and Change.
    feed(&sa, 31_000, 11.0);
    feed(&sb, 31_000, 11.0);
    let all = sh.series.lock();
    assert!(all[0].contains_key(&a) && all[0].contains_key(&b));
    assert!(all[1].contains_key(&a) && all[1].contains_key(&b));
    assert_eq!(all[2].len(), 1);
    assert_eq!(all[2][&a].last_trained_ms, Some(42));
}

#[test]
fn tap_follows_reloaded_rules() {
    let (tx, _rx) = mpsc::channel(4);
    let tap = Tap::new(
        rules("").to_vec().into(),
        tx,
        Arc::new(DetectMetrics::default()),
    );
    assert!(!tap.enabled());
    assert!(tap.lookup(&[("__name__", "x")]).is_none());
    tap.set_rules(
        rules("- {name: A, selector: x}\n- {name: B, selector: y}\n"),
        1,
    );
    assert!(tap.enabled());
    let hit = tap.lookup(&[("__name__", "y")]).unwrap();
    assert_eq!((hit.rules.clone(), hit.generation), (vec![1], 1));
    tap.set_rules(rules("- {name: B, selector: y}\n"), 2);
    let hit = tap.lookup(&[("__name__", "y")]).unwrap();
    assert_eq!((hit.rules.clone(), hit.generation), (vec![0], 2));
    assert!(tap.lookup(&[("__name__", "x")]).is_none());
}

#[tokio::test]
async fn a_detector_warmed_from_history_reports_at_once() {
    let rig = Rig::new(
        "- {name: Lat, selector: lat, detector: {kind: latency, anomaly: {}}}\n",
        3_000 * 60_000,
    );
    let labels = rig.series.labels.clone();
    rig.store(0..2000, quiet);
    let req = rig.warm_request("Lat");
    // The first sample this process sees builds a cold detector ...
    rig.feed(1999 * 60_000, quiet(1999));
    let seen = || rig.sh.series.lock()[0][&labels].det.state().seen;
    assert_eq!(seen(), 1);
    // ... which a cold scorer could not judge for ~700 samples; warmed from
    // the store it has the last 1024 stored samples behind it.
    assert!(super::warm::warm_one(&rig.sh, &req).await.unwrap());
    assert_eq!(seen(), super::warm::WARM_POINTS as u64);
    assert_eq!(rig.sh.metrics.warmed.load(Ordering::Relaxed), 1);
    // A detector with that much behind it is left as it is.
    assert!(!super::warm::warm_one(&rig.sh, &req).await.unwrap());
    assert_eq!(rig.sh.metrics.warmed.load(Ordering::Relaxed), 1);
    assert!(rig.alerts().is_empty(), "replayed samples send no alerts");
    rig.feed(2000 * 60_000, 300.0);
    let fired = rig.alerts().last().cloned().expect("an alert");
    assert_eq!(fired.annotations.get("anomaly_active"), Some("true"));
    // A rule that no longer exists is an error, not a panic.
    let gone = rig.warm_request("Nope");
    assert!(super::warm::warm_one(&rig.sh, &gone).await.is_err());
}

#[tokio::test]
async fn the_warm_up_is_cut_at_the_first_live_sample_so_a_queued_one_is_scored_live() {
    let rig = Rig::new(
        "- {name: Lat, selector: lat, detector: {kind: latency, anomaly: {}}}\n",
        3_000 * 60_000,
    );
    let labels = rig.series.labels.clone();
    rig.store(0..2000, quiet);
    let req = rig.warm_request("Lat");
    // A detector built before any live sample (a stored model at start) is
    // not warmed: no cut would keep samples still in the tap out of the
    // replay.
    {
        let rule = rig.sh.rules()[0].clone();
        let st = super::engine::SeriesState::new(&rule, &labels).unwrap();
        rig.sh.series.lock()[0].insert(labels.clone(), st);
    }
    assert!(!super::warm::warm_one(&rig.sh, &req).await.unwrap());
    // Its first live sample asks for the warm-up, once.
    rig.feed(1999 * 60_000, quiet(1999));
    rig.feed(1999 * 60_000 + 1, quiet(1999));
    assert_eq!(rig.warm_requests(), vec![req.clone()]);
    // A spike is stored but still queued in the tap when the warm-up reads:
    // the replay stops at the live detector's last sample, so the spike is
    // scored live afterwards (an alert), not refused as already replayed.
    rig.store(2000..2001, |_| 300.0);
    assert!(super::warm::warm_one(&rig.sh, &req).await.unwrap());
    rig.feed(2000 * 60_000, 300.0);
    assert_eq!(rig.sh.metrics.refused.load(Ordering::Relaxed), 0);
    let fired = rig
        .alerts()
        .last()
        .cloned()
        .expect("the queued spike alerts");
    assert_eq!(fired.annotations.get("anomaly_active"), Some("true"));
}

#[tokio::test]
async fn a_detector_that_scored_all_the_stored_samples_live_is_not_replayed() {
    let rig = Rig::new(
        "- {name: Lat, selector: lat, detector: {kind: latency}}\n",
        60 * 60_000,
    );
    rig.store(0..10, quiet);
    for i in 0..10 {
        rig.feed(i * 60_000, quiet(i));
    }
    assert!(!super::warm::warm_one(&rig.sh, &rig.warm_request("Lat"))
        .await
        .unwrap());
    assert_eq!(rig.sh.metrics.warmed.load(Ordering::Relaxed), 0);
}
