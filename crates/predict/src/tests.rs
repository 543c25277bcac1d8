//! The engine over a real store with a hand-driven clock: a leak fires with
//! its predicted time, a transient spike does not (where least squares, as
//! `predict_linear` fits, would), `for` holds the alert back, and the alert
//! resolves when the trend stops.

use super::*;
use argus_model::alert::AlertEvent;
use argus_model::Clock;
use argus_model::{Labels, ManualClock};
use argus_tsdb::{Db, Options, Storage};
use std::sync::{Arc, Mutex};

const T0: i64 = 1_800_000_000_000;
const MIN: i64 = 60_000;

struct Rig {
    _dir: tempfile::TempDir,
    db: Db,
    storage: Storage,
    clock: Arc<ManualClock>,
    svc: PredictService,
    got: Arc<Mutex<Vec<AlertEvent>>>,
}

fn rig(rule_yaml: &str) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let db = Db::open(dir.path(), Options::default(), clock.clone()).unwrap();
    let storage = Storage::new(db.clone());
    let svc = PredictService::new(db.clone(), storage.clone(), clock.clone(), MIN);
    let rules: Vec<ExhaustionRuleConfig> = serde_saphyr::from_str(rule_yaml).unwrap();
    svc.apply(compile_rules(&rules).unwrap());
    let got: Arc<Mutex<Vec<AlertEvent>>> = Arc::default();
    let g = got.clone();
    svc.set_alert_sink(Arc::new(move |evs| g.lock().unwrap().extend(evs)));
    Rig {
        _dir: dir,
        db,
        storage,
        clock,
        svc,
        got,
    }
}

fn series() -> Labels {
    Labels::from_pairs(&[
        ("__name__", "node_filesystem_avail_bytes"),
        ("instance", "db1"),
        ("mountpoint", "/"),
    ])
}

impl Rig {
    /// Writes `v(t)` at every minute from `from` to `to` (ms) and evaluates at each.
    fn run(&self, from: i64, to: i64, v: impl Fn(i64) -> f64) {
        let l = series();
        let mut t = from;
        while t <= to {
            self.clock.set(t);
            self.storage.append_batch([(&l, t, v(t))]).unwrap();
            self.svc.evaluate_due();
            t += MIN;
        }
    }

    fn alerts(&self) -> Vec<AlertEvent> {
        self.got.lock().unwrap().clone()
    }
}

const GB: f64 = 1e9;

const LEAK_RULE: &str = "- {name: RootFills, selector: 'node_filesystem_avail_bytes', trend: leaking, limit: 0, horizon: 4h, window: 1h, interval: 1m, labels: {severity: warning}}\n";

/// Least squares over the window, extrapolated `horizon_s` ahead, as
/// `predict_linear(v[window], horizon_s) < limit` decides.
fn predict_linear_alerts(ts: &[i64], vs: &[f64], horizon_s: f64, limit: f64) -> bool {
    let n = ts.len() as f64;
    let t: Vec<f64> = ts
        .iter()
        .map(|t| (*t - ts[ts.len() - 1]) as f64 / 1000.0)
        .collect();
    let (mt, mv) = (t.iter().sum::<f64>() / n, vs.iter().sum::<f64>() / n);
    let cov: f64 = t.iter().zip(vs).map(|(a, b)| (a - mt) * (b - mv)).sum();
    let var: f64 = t.iter().map(|a| (a - mt).powi(2)).sum();
    let slope = cov / var;
    let at_now = mv - slope * mt;
    at_now + slope * horizon_s < limit
}

#[test]
fn a_leak_fires_with_its_predicted_time_and_writes_the_eta() {
    let r = rig(LEAK_RULE);
    // 10 GB free, losing 1 GB an hour (with ±20 MB of noise): empty in 10 h,
    // inside the 4 h horizon after 6 h.
    let v = |t: i64| {
        let h = (t - T0) as f64 / 3_600_000.0;
        10.0 * GB - h * GB + ((t / MIN) % 7) as f64 * 6e6
    };
    r.run(T0, T0 + 5 * 60 * MIN, v);
    assert!(
        r.alerts().is_empty(),
        "no alert 5 h before: {:?}",
        r.alerts()
    );
    r.run(T0 + 5 * 60 * MIN + MIN, T0 + 6 * 60 * MIN + 10 * MIN, v);
    // Fired once the prediction fell inside the horizon, then resent at
    // every resend interval (a minute here).
    let a = r.alerts();
    assert!((5..=12).contains(&a.len()), "{a:?}");
    assert!(a.iter().all(|e| e.starts_at_ms == a[0].starts_at_ms));
    assert_eq!(a[0].labels.get("alertname"), Some("RootFills"));
    assert_eq!(a[0].labels.get("severity"), Some("warning"));
    assert_eq!(
        a[0].labels.get("metric"),
        Some("node_filesystem_avail_bytes")
    );
    assert_eq!(a[0].labels.get("mountpoint"), Some("/"));
    let eta: i64 = a[0].annotations["eta_seconds"].parse().unwrap();
    assert!((3 * 3600..=4 * 3600).contains(&eta), "eta {eta}");
    // Empty at T0 + 10 h, give or take the noise.
    let at = &a[0].annotations["predicted_at"];
    assert!(at.starts_with("2027-01-15T1"), "{at}");
    assert!(
        a[0].annotations["summary"].contains("reaches 0 in about"),
        "{:?}",
        a[0].annotations
    );
    let m = [argus_model::Matcher::eq("__name__", ETA_SERIES)];
    let eta_series = argus_tsdb::Querier::select(&r.db, &m, T0, T0 + 7 * 60 * MIN).unwrap();
    assert_eq!(eta_series.len(), 1);
    assert_eq!(eta_series[0].labels.get("rule"), Some("RootFills"));
}

#[test]
fn a_transient_spike_does_not_fire_where_least_squares_would() {
    let r = rig(LEAK_RULE);
    // 3 GB free and steady; a 2.9 GB temporary file for 12 minutes near
    // the end of the window (a build, a backup) that is then deleted.
    let spike_from = T0 + 40 * MIN;
    let v = move |t: i64| {
        let tmp = if (spike_from..spike_from + 12 * MIN).contains(&t) {
            2.9 * GB
        } else {
            0.0
        };
        3.0 * GB - tmp + ((t / MIN) % 5) as f64 * 1e6
    };
    r.run(T0, T0 + 55 * MIN, v);
    assert!(r.alerts().is_empty(), "{:?}", r.alerts());
    // predict_linear over the same hour would have fired at the same time.
    let ts: Vec<i64> = (0..=55).map(|i| T0 + i * MIN).collect();
    let vs: Vec<f64> = ts.iter().map(|t| v(*t)).collect();
    assert!(predict_linear_alerts(&ts, &vs, 4.0 * 3600.0, 0.0));
}

#[test]
fn for_holds_the_alert_back_and_it_resolves_when_the_trend_stops() {
    let r = rig("- {name: MemLeak, selector: 'node_filesystem_avail_bytes', trend: leaking, limit: 0, horizon: 2h, window: 30m, for: 10m}\n");
    // Falls 1 GB every 10 minutes from 10 GB: empty 100 minutes in.
    let v = |t: i64| 10.0 * GB - (t - T0) as f64 / (10.0 * MIN as f64) * GB;
    r.run(T0, T0 + 15 * MIN, v);
    assert!(r.alerts().is_empty(), "pending for 10 minutes first");
    r.run(T0 + 16 * MIN, T0 + 30 * MIN, v);
    let fired = r.alerts();
    assert!(!fired.is_empty());
    let first = &fired[0];
    assert!(
        first.starts_at_ms >= T0 + 19 * MIN,
        "{}",
        first.starts_at_ms
    );
    assert_eq!(
        first.ends_at_ms,
        Some(first.starts_at_ms + 4 * MIN),
        "a firing alert is valid for four resend intervals"
    );
    // The leak stops: flat from then on. The window still holds the fall
    // for a while, then the prediction ends and the alert resolves.
    let flat = v(T0 + 30 * MIN);
    r.got.lock().unwrap().clear();
    r.run(T0 + 31 * MIN, T0 + 80 * MIN, |_| flat);
    let resolved: Vec<_> = r
        .alerts()
        .into_iter()
        .filter(|a| a.ends_at_ms.is_some_and(|e| e <= T0 + 80 * MIN))
        .collect();
    assert!(!resolved.is_empty(), "{:?}", r.alerts());
}

#[test]
fn a_reload_that_drops_a_rule_resolves_its_alerts() {
    let r = rig(LEAK_RULE);
    let v = |t: i64| 2.0 * GB - (t - T0) as f64 / 3_600_000.0 * GB;
    r.run(T0, T0 + 20 * MIN, v);
    assert!(!r.alerts().is_empty());
    r.got.lock().unwrap().clear();
    r.svc.apply(Vec::new());
    let a = r.alerts();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].ends_at_ms, Some(T0 + 20 * MIN));
}

/// Inputs a test sets: cpu, memory and network of instance `a`.
type Inputs = Arc<Mutex<[f64; 3]>>;

fn health_rig(rule_yaml: &str) -> (Rig, HealthIndexService, Inputs) {
    let r = rig("[]");
    let inputs: Inputs = Arc::new(Mutex::new([0.3, 0.3, 0.3 * 1.25e8]));
    let i2 = inputs.clone();
    let query = move |expr: &str, _t: i64| -> Result<Vec<(Labels, f64)>, QueryError> {
        let v = *i2.lock().unwrap();
        let idx = match expr {
            "cpu" => 0,
            "mem" => 1,
            "net" => 2,
            other => return Err(QueryError(format!("unknown {other}"))),
        };
        Ok(vec![(
            Labels::from_pairs(&[("instance", "a"), ("job", "node")]),
            v[idx],
        )])
    };
    let svc = HealthIndexService::new(
        r.db.clone(),
        r.storage.clone(),
        r.clock.clone(),
        Arc::new(query),
        MIN,
    );
    let rules: Vec<HealthIndexRuleConfig> = serde_saphyr::from_str(rule_yaml).unwrap();
    check_health_index_rules(&rules).unwrap();
    svc.apply(rules);
    let g = r.got.clone();
    svc.set_alert_sink(Arc::new(move |evs| g.lock().unwrap().extend(evs)));
    (r, svc, inputs)
}

fn run_health(r: &Rig, svc: &HealthIndexService, minutes: i64) {
    for _ in 0..minutes {
        r.clock.advance(MIN);
        svc.evaluate_due();
    }
}

#[test]
fn the_index_beyond_its_history_warns_or_is_an_anomaly_by_the_business_threshold() {
    let rule = "- {name: NodeHealth, cpu: cpu, memory: mem, network: net, min_history: 30}\n";
    let (r, svc, inputs) = health_rig(rule);
    run_health(&r, &svc, 40);
    assert!(r.alerts().is_empty(), "normal within its history");
    // P jumps from 0.3 to 0.7: beyond its history (T = 0.3), which is
    // within the business threshold 0.8: a warning.
    *inputs.lock().unwrap() = [0.7, 0.7, 0.7 * 1.25e8];
    run_health(&r, &svc, 1);
    let a = r.alerts();
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].labels.get("class"), Some("warning"));
    assert_eq!(a[0].labels.get("instance"), Some("a"));
    assert_eq!(a[0].annotations["index"], "0.7000");
    assert_eq!(a[0].annotations["threshold"], "0.3000");
    let m = [argus_model::Matcher::eq("__name__", "argus_health_class")];
    let classes = argus_tsdb::Querier::select(&r.db, &m, T0, T0 + 60 * MIN).unwrap();
    let now = |s: &argus_tsdb::Series| s.samples.last().map(|p| p.v);
    let warning = classes
        .iter()
        .find(|s| s.labels.get("class") == Some("warning"))
        .unwrap();
    assert_eq!(now(warning), Some(1.0));

    // The same jump where the business threshold is 0.2: the history (0.3)
    // was already beyond it, so P beyond the history is an anomaly.
    let rule = "- {name: NodeHealth, cpu: cpu, memory: mem, network: net, min_history: 30, business_threshold: 0.2}\n";
    let (r, svc, inputs) = health_rig(rule);
    run_health(&r, &svc, 40);
    *inputs.lock().unwrap() = [0.7, 0.7, 0.7 * 1.25e8];
    run_health(&r, &svc, 1);
    assert_eq!(r.alerts()[0].labels.get("class"), Some("anomaly"));
    // Back to normal: the alert resolves.
    *inputs.lock().unwrap() = [0.3, 0.3, 0.3 * 1.25e8];
    r.got.lock().unwrap().clear();
    run_health(&r, &svc, 1);
    let a = r.alerts();
    assert_eq!(a.len(), 1);
    assert!(
        a[0].ends_at_ms.is_some_and(|e| e <= r.clock.now_ms()),
        "{a:?}"
    );
}

#[test]
fn no_class_before_enough_history() {
    let rule = "- {name: NodeHealth, cpu: cpu, memory: mem, network: net, min_history: 30}\n";
    let (r, svc, inputs) = health_rig(rule);
    run_health(&r, &svc, 5);
    *inputs.lock().unwrap() = [0.9, 0.9, 1.25e8];
    run_health(&r, &svc, 1);
    assert!(r.alerts().is_empty());
}
