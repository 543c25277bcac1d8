//! State in the redb store survives a restart: no duplicate, none lost.

use crate::common::{describe, Timeline};
use argus_alert::silence::{Silence, SilenceMatcher};
use argus_alert::store::Store;

const CFG: &str = r#"
route:
  receiver: team
  group_by: [alertname]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 1h
receivers:
  - name: team
    webhook_configs: [{url: "http://127.0.0.1:1/"}]
"#;

#[test]
fn notification_log_prevents_duplicates_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Timeline::with_store(CFG, Some(Store::open(dir.path()).unwrap()), 0);
    t.fire(0, &[("alertname", "Foo"), ("instance", "a")]);
    t.run_until(15);
    assert_eq!(t.log.len(), 1);
    drop(t); // like kill -9: every change was committed before its call returned

    let mut t = Timeline::with_store(CFG, Some(Store::open(dir.path()).unwrap()), 20_000);
    assert_eq!(t.d.alerts().len(), 1, "the alert set was restored");
    t.run_until(3_000);
    // Nothing new until repeat_interval (1h after 10s) has passed.
    assert!(t.log.is_empty(), "{:?}", t.summary());
    t.run_until(3_700);
    assert_eq!(t.summary().len(), 1);
    assert!(t.summary()[0].0 > 3_610);
}

#[test]
fn undelivered_notification_is_sent_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Timeline::with_store(CFG, Some(Store::open(dir.path()).unwrap()), 0);
    t.fire(0, &[("alertname", "Foo"), ("instance", "a")]);
    t.clock.set(10_000);
    let out = t.d.tick(10_000);
    assert_eq!(out.len(), 1);
    drop(t); // crashed before the delivery was confirmed

    let mut t = Timeline::with_store(CFG, Some(Store::open(dir.path()).unwrap()), 12_000);
    // The alert is older than group_wait, so the restored group flushes at once.
    let out = t.at(12);
    assert_eq!(out.len(), 1);
    assert_eq!(describe(&out[0]), "firing:a resolved:");
    t.run_until(200);
    assert_eq!(t.log.len(), 1, "exactly once");
}

#[test]
fn silences_and_history_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Timeline::with_store(CFG, Some(Store::open(dir.path()).unwrap()), 0);
    let id =
        t.d.set_silence(Silence::new(
            vec![SilenceMatcher::equal("alertname", "Foo")],
            0,
            600_000,
            "alice",
            "upgrade",
        ))
        .unwrap();
    t.clock.set(1_000);
    t.d.expire_silence(&id, "bob").unwrap();
    let id2 =
        t.d.set_silence(Silence::new(
            vec![SilenceMatcher::equal("alertname", "Bar")],
            0,
            600_000,
            "carol",
            "x",
        ))
        .unwrap();
    drop(t);
    let t = Timeline::with_store(CFG, Some(Store::open(dir.path()).unwrap()), 2_000);
    let s = t.d.silences();
    assert_eq!(s.len(), 2);
    assert_eq!(s.get(&id).unwrap().ends_at, 1_000);
    assert_eq!(s.get(&id2).unwrap().created_by, "carol");
    let h = t.d.history(0, i64::MAX, 100).unwrap();
    let who: Vec<(&str, &str)> = h
        .iter()
        .map(|a| (a.who.as_str(), a.kind.as_str()))
        .collect();
    assert_eq!(
        who,
        vec![
            ("alice", "silence_set"),
            ("bob", "silence_expire"),
            ("carol", "silence_set")
        ]
    );
}
