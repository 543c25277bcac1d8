//! Recording delivery outcomes in batches: `Dispatcher::complete_many` writes any number of
//! outcomes in one store commit, and the runner's committer drains a burst of completions
//! into a few commits, without losing an acknowledged one or dropping a failed one's retry.

use crate::common::Timeline;
use argus_alert::channel::{BoxFuture, Channel, ChannelError, Channels};
use argus_alert::config::Config;
use argus_alert::runner::Runner;
use argus_alert::store::Store;
use argus_alert::{Alert, Dispatcher, Notification};
use argus_model::{Labels, ManualClock};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const CFG: &str = r#"
route:
  receiver: team
  group_by: [alertname, id]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 1h
receivers:
  - name: team
    webhook_configs: [{url: "http://127.0.0.1:1/"}]
"#;

fn burst(n: usize, at_ms: i64) -> Vec<Alert> {
    (0..n)
        .map(|i| {
            let id = format!("{i:03}");
            Alert::firing(
                Labels::from_pairs(&[("alertname", "Burst"), ("id", id.as_str())]),
                at_ms,
            )
        })
        .collect()
}

fn commits(d: &Dispatcher) -> u64 {
    d.store().expect("a store").commits()
}

#[test]
fn complete_many_records_a_burst_in_one_commit_that_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Timeline::with_store(CFG, Some(Store::open(dir.path()).unwrap()), 0);
    t.d.put_alerts(burst(50, 0)).unwrap();
    t.clock.set(10_000);
    let out = t.d.tick(10_000);
    assert_eq!(out.len(), 50);
    // Three deliveries failed for good; the other 47 were answered 2xx.
    let failed: Vec<String> = out[..3].iter().map(|n| n.group_key.clone()).collect();
    let done: Vec<(Notification, bool)> = out
        .into_iter()
        .enumerate()
        .map(|(i, n)| (n, i >= 3))
        .collect();
    let before = commits(&t.d);
    t.d.complete_many(&done).unwrap();
    assert_eq!(commits(&t.d) - before, 1, "one transaction for 50 outcomes");
    let history = t.d.history(0, i64::MAX, 1_000).unwrap();
    let kinds = |k: &str| history.iter().filter(|a| a.kind == k).count();
    assert_eq!((kinds("notify"), kinds("notify_failed")), (47, 3));
    drop(t); // kill -9: the commit is all there is

    let mut t = Timeline::with_store(CFG, Some(Store::open(dir.path()).unwrap()), 20_000);
    // The restored groups are older than group_wait and flush at once: only the failed ones
    // are sent again; the 47 logged ones wait for repeat_interval.
    let again = t.at(20);
    let mut keys: Vec<String> = again.iter().map(|n| n.group_key.clone()).collect();
    keys.sort();
    let mut want = failed.clone();
    want.sort();
    assert_eq!(keys, want);
    t.run_until(600);
    assert_eq!(t.log.len(), 3, "nothing else within the repeat interval");
}

#[test]
fn a_failed_delivery_in_a_batch_is_retried_at_the_next_flush() {
    let mut t = Timeline::new(CFG);
    t.d.put_alerts(burst(2, 0)).unwrap();
    t.clock.set(10_000);
    let out = t.d.tick(10_000);
    let done = vec![(out[0].clone(), false), (out[1].clone(), true)];
    t.d.complete_many(&done).unwrap();
    // group_interval later only the failed group flushes again; the other is logged.
    t.clock.set(70_000);
    let again = t.d.tick(70_000);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].group_key, out[0].group_key);
    assert!(
        t.d.complete_many(&[]).is_ok(),
        "nothing to record is no error"
    );
}

/// Accepts every notification at once and counts them.
#[derive(Debug, Default)]
struct Accept(AtomicUsize);

impl Channel for Accept {
    fn notify<'a>(&'a self, _n: &'a Notification) -> BoxFuture<'a, Result<(), ChannelError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_runner_records_a_burst_of_completions_in_a_few_commits() {
    const N: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::parse(CFG, "t.yml").unwrap();
    let clock = Arc::new(ManualClock::new(0));
    let mut d =
        Dispatcher::new(cfg, clock.clone(), Some(Store::open(dir.path()).unwrap())).unwrap();
    d.put_alerts(burst(N, 0)).unwrap();
    // The first tick records the new alerts' flap histories; nothing is due yet.
    assert!(d.tick(0).is_empty());
    clock.set(10_000);
    let before = commits(&d);
    let ch = Arc::new(Accept::default());
    let mut chans = Channels::default();
    chans.insert("team", 0, ch.clone());
    let runner = Runner::new(d, chans);
    let h = runner.handle();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(runner.run(async {
        let _ = stopped.await;
    }));
    let logged = || {
        h.with(|d| {
            d.history(0, i64::MAX, 10 * N)
                .unwrap()
                .iter()
                .filter(|a| a.kind == "notify")
                .count()
        })
    };
    let mut waited = 0;
    while logged() < N {
        assert!(
            waited < 10_000,
            "only {} of {N} outcomes recorded",
            logged()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
        waited += 1;
    }
    let _ = stop.send(());
    task.await.unwrap();
    assert_eq!(ch.0.load(Ordering::SeqCst), N, "each group sent once");
    let used = h.with(|d| commits(d)) - before;
    // One commit per completion would be N; the committer drains the burst at once.
    assert!(
        used <= 3,
        "{used} commits for {N} completions: outcomes were not batched"
    );
    h.with(|d| assert!(d.tick(20_000).is_empty(), "every outcome is logged"));
}
