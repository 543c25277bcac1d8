//! Pipeline throughput: alerts per second through dispatch (route, group) → inhibit → silence →
//! dedup (notification log), with 10 000 active alerts, 1 000 silences and three inhibition
//! rules. `bench/alert_pipeline.sh` runs it and prints alerts/s.
//!
//! ```text
//! cargo bench -p argus-alert --bench pipeline
//! cargo bench -p argus-alert --bench pipeline -- first_flush   # one benchmark
//! ```
//!
//! The benchmarks (each counts the 10 000 alerts as items, so divan prints items/s):
//! - `first_flush(silences)`: `put_alerts` of all alerts into a fresh dispatcher, one `tick`
//!   that flushes every group through the stages, and `complete` for every notification — with
//!   0 and 1 000 silences, so the silence stage's share shows;
//! - `steady_reflush(silences)`: all alerts already notified; `group_interval` later every
//!   group flushes again and dedup suppresses everything (the periodic cost of a large,
//!   quiet alert set);
//! - `update_burst`: the senders re-post all 10 000 alerts (as Prometheus does every
//!   evaluation) into a notified dispatcher, which merges and regroups them and ticks (no
//!   group is due, so this is the cost of taking alerts in);
//! - `first_flush_durable`: `first_flush` with the redb store, so every notification-log
//!   write is a durable commit, as in production.
//!
//! The workload: `alertname` A0..A6, `service` svc-0..499, `cluster` c0..4, unique
//! `instance`; one alert in ten is `critical`, the rest `warning`. Routes group by
//! `[alertname, service]` (3 500 groups); critical alerts also go to a pager (`continue`).
//! Silence k mutes exactly the alert `host-(10k+3)` (one in ten is a regex matcher), so 10% of
//! the alerts are silenced. Inhibition: critical mutes warning of the same
//! `[alertname, service]`; `NodeDown` (absent) mutes the instance's warnings; critical `A3`
//! mutes `A4` in its cluster.

use argus_alert::config::Config;
use argus_alert::silence::{Silence, SilenceMatcher};
use argus_alert::store::Store;
use argus_alert::{Alert, Dispatcher};
use argus_model::{Labels, ManualClock};
use divan::counter::ItemsCount;
use divan::Bencher;
use std::sync::Arc;

fn main() {
    divan::main();
}

const ALERTS: usize = 10_000;
const SILENCES: usize = 1_000;
const T0: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;

const CONFIG: &str = r#"
route:
  receiver: team
  group_by: [alertname, service]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
    - matchers: ['cluster=~"c[0-4]"']
      receiver: team
receivers:
  - name: team
    webhook_configs: [{url: "http://127.0.0.1:1/team", send_resolved: true}]
  - name: pager
    webhook_configs: [{url: "http://127.0.0.1:1/pager"}]
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [alertname, service]
  - source_matchers: ['alertname="NodeDown"']
    target_matchers: ['severity=~"warning|info"']
    equal: [instance]
  - source_matchers: ['alertname="A3"', 'severity="critical"']
    target_matchers: ['alertname="A4"']
    equal: [cluster]
"#;

fn alerts(starts_at: i64) -> Vec<Alert> {
    (0..ALERTS)
        .map(|i| {
            let sev = if i.is_multiple_of(10) {
                "critical"
            } else {
                "warning"
            };
            let (name, service) = (format!("A{}", i % 7), format!("svc-{}", i % 500));
            let (cluster, instance) = (format!("c{}", i % 5), format!("host-{i}"));
            let labels = Labels::from_pairs(&[
                ("alertname", name.as_str()),
                ("service", service.as_str()),
                ("cluster", cluster.as_str()),
                ("instance", instance.as_str()),
                ("severity", sev),
                ("job", "node"),
            ]);
            Alert::firing(labels, starts_at).with_annotation("summary", "benchmark alert")
        })
        .collect()
}

fn silence(k: usize) -> Silence {
    let host = format!("host-{}", 10 * k + 3);
    let inst = if k.is_multiple_of(10) {
        SilenceMatcher {
            name: "instance".into(),
            value: format!("{host}|nomatch-{k}"),
            is_regex: true,
            is_equal: true,
        }
    } else {
        SilenceMatcher::equal("instance", &host)
    };
    Silence::new(
        vec![
            SilenceMatcher::equal("cluster", &format!("c{}", (10 * k + 3) % 5)),
            inst,
        ],
        T0 - HOUR,
        T0 + 24 * HOUR,
        "bench",
        "benchmark silence",
    )
}

/// A dispatcher at `T0` with `silences` silences, no alerts.
fn dispatcher(silences: usize, store: Option<Store>) -> (Dispatcher, Arc<ManualClock>) {
    let cfg = Config::parse(CONFIG, "bench.yml").expect("benchmark config parses");
    let clock = Arc::new(ManualClock::new(T0));
    let mut d = Dispatcher::new(cfg, clock.clone(), store).expect("dispatcher");
    for k in 0..silences {
        d.set_silence(silence(k)).expect("silence");
    }
    (d, clock)
}

/// Puts the alerts, flushes every group once and completes every notification; returns the
/// number of notifications.
fn put_flush_complete(d: &mut Dispatcher, clock: &ManualClock, alerts: Vec<Alert>) -> usize {
    d.put_alerts(alerts).expect("put_alerts");
    // group_wait later, every group is due.
    let now = T0 + 30_000;
    clock.set(now);
    let out = d.tick(now);
    for n in &out {
        d.complete(n, true).expect("complete");
    }
    out.len()
}

/// A dispatcher whose alerts were all notified at `T0 + 30s`.
fn notified(silences: usize) -> (Dispatcher, Arc<ManualClock>) {
    let (mut d, clock) = dispatcher(silences, None);
    let n = put_flush_complete(&mut d, &clock, alerts(T0));
    assert!(n > 0, "the setup sent no notification");
    (d, clock)
}

#[divan::bench(args = [0, SILENCES], sample_count = 10, sample_size = 1)]
fn first_flush(bencher: Bencher, silences: usize) {
    bencher
        .counter(ItemsCount::new(ALERTS))
        .with_inputs(|| (dispatcher(silences, None), alerts(T0)))
        .bench_local_values(|((mut d, clock), a)| {
            let n = put_flush_complete(&mut d, &clock, a);
            (d, n)
        });
}

#[divan::bench(args = [0, SILENCES], sample_count = 10, sample_size = 1)]
fn steady_reflush(bencher: Bencher, silences: usize) {
    bencher
        .counter(ItemsCount::new(ALERTS))
        .with_inputs(|| notified(silences))
        .bench_local_values(|(mut d, clock)| {
            let now = T0 + 30_000 + 5 * 60_000;
            clock.set(now);
            let out = d.tick(now);
            assert!(
                out.is_empty(),
                "dedup let {} notifications through",
                out.len()
            );
            d
        });
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn update_burst(bencher: Bencher) {
    bencher
        .counter(ItemsCount::new(ALERTS))
        .with_inputs(|| (notified(SILENCES), alerts(T0)))
        .bench_local_values(|((mut d, clock), a)| {
            let now = T0 + 60_000;
            clock.set(now);
            d.put_alerts(a).expect("put_alerts");
            let out = d.tick(now);
            (d, out)
        });
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn first_flush_durable(bencher: Bencher) {
    bencher
        .counter(ItemsCount::new(ALERTS))
        .with_inputs(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = Store::open(dir.path()).expect("open store");
            (dir, dispatcher(SILENCES, Some(store)), alerts(T0))
        })
        .bench_local_values(|(dir, (mut d, clock), a)| {
            let n = put_flush_complete(&mut d, &clock, a);
            (dir, d, n)
        });
}
