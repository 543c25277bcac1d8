//! The tokio loop: groups run on their own, reload keeps state, bad reloads change nothing.

use std::sync::{Arc, Mutex};

use argus_model::{Labels, SystemClock};
use argus_promql::VectorSample;
use argus_rules::{Alert, Deps, GroupOptions, RuleManager};

/// Dependencies whose every query returns one sample of value 1; sent alerts go to `sent`.
fn always_one(sent: Arc<Mutex<Vec<Alert>>>) -> Deps {
    Deps {
        query: Arc::new(|_: &str, t: i64| -> Result<Vec<VectorSample>, String> {
            Ok(vec![VectorSample {
                labels: Labels::empty(),
                t,
                v: 1.0,
            }])
        }),
        samples: Arc::new(|_: Vec<(Labels, i64, f64)>| -> Result<(), String> { Ok(()) }),
        alerts: Arc::new(move |a: Vec<Alert>| sent.lock().unwrap().extend(a)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manager_runs_groups_and_reload_keeps_state() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("r.yml");
    std::fs::write(&rules, "groups:\n- name: fast\n  interval: 50ms\n  rules:\n  - alert: Always\n    expr: vector(1)\n").unwrap();
    let sent: Arc<Mutex<Vec<Alert>>> = Arc::default();
    let m = RuleManager::new(
        GroupOptions::default(),
        always_one(sent.clone()),
        Arc::new(SystemClock),
    );
    assert_eq!(m.load(std::slice::from_ref(&rules)).unwrap(), 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while m.active_alerts().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no evaluation happened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let first = m.active_alerts()[0].clone();
    assert!(!sent.lock().unwrap().is_empty());

    // A broken file is refused and the old groups keep running.
    std::fs::write(
        &rules,
        "groups:\n- name: fast\n  rules:\n  - alert: Always\n    expr: vector(\n",
    )
    .unwrap();
    let errs = m.load(std::slice::from_ref(&rules)).unwrap_err();
    assert!(errs[0].to_string().contains("r.yml:5:"), "{}", errs[0]);
    assert_eq!(m.active_alerts().len(), 1);

    // A good reload keeps the alert's state.
    std::fs::write(&rules, "groups:\n- name: fast\n  interval: 50ms\n  rules:\n  - alert: Always\n    expr: vector(1)\n    labels: {}\n").unwrap();
    m.load(std::slice::from_ref(&rules)).unwrap();
    let again = m.active_alerts();
    assert_eq!(again[0].active_at_ms, first.active_at_ms);
    let n = m.with_groups(|gs| gs.len());
    assert_eq!(n, 1);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wake_evaluates_alerting_groups_before_their_slot() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("r.yml");
    std::fs::write(
        &rules,
        "groups:\n- name: slow\n  interval: 1h\n  rules:\n  - alert: Always\n    expr: vector(1)\n",
    )
    .unwrap();
    let m = RuleManager::new(
        GroupOptions::default(),
        always_one(Arc::default()),
        Arc::new(SystemClock),
    );
    let (tx, rx) = tokio::sync::watch::channel(0u64);
    m.set_wake(rx);
    m.load(std::slice::from_ref(&rules)).unwrap();
    let now = argus_model::Clock::now_ms(&SystemClock);
    let slot = m.with_groups(|gs| gs[0].next_eval_after(now));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(
        m.with_groups(|gs| gs[0].last_eval_ms),
        None,
        "evaluated unwoken"
    );
    tx.send_modify(|n| *n += 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let ts = loop {
        if let Some(ts) = m.with_groups(|gs| gs[0].last_eval_ms) {
            break ts;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the wake did not evaluate"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert!(ts < slot, "evaluated at its slot {ts}, not early");
    assert_eq!(m.active_alerts().len(), 1);
    m.stop().await;
}
