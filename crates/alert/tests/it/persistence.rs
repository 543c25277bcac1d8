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

#[test]
fn history_older_than_the_retention_is_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!("{CFG}argus:\n  history_retention: 1h\n");
    let mut t = Timeline::with_store(&cfg, Some(Store::open(dir.path()).unwrap()), 0);
    let silence = |who: &str, from: i64| {
        Silence::new(
            vec![SilenceMatcher::equal("alertname", "Foo")],
            from,
            from + 60_000,
            who,
            "x",
        )
    };
    t.d.set_silence(silence("old", 0)).unwrap();
    t.clock.set(3_000_000);
    t.d.set_silence(silence("newer", 3_000_000)).unwrap();
    // At 1 h 10 min the first record is past the retention, the second is not.
    t.at(4_200);
    let who: Vec<String> =
        t.d.history(0, i64::MAX, 100)
            .unwrap()
            .into_iter()
            .filter(|a| a.kind == "silence_set")
            .map(|a| a.who)
            .collect();
    assert_eq!(who, vec!["newer".to_string()]);

    // The store prunes in bounded passes, oldest first.
    let store = Store::open(tempfile::tempdir().unwrap().path()).unwrap();
    let mut b = argus_alert::store::Batch::default();
    for at in 0..5 {
        b.action(argus_alert::store::Action {
            at,
            who: "x".into(),
            kind: "ack".into(),
            target: String::new(),
            comment: String::new(),
            labels: Default::default(),
        });
    }
    store.commit(b).unwrap();
    assert_eq!(store.prune_actions_before(4, 3).unwrap(), 3);
    assert_eq!(store.prune_actions_before(4, 3).unwrap(), 1);
    assert_eq!(store.prune_actions_before(4, 3).unwrap(), 0);
    let left: Vec<i64> = store
        .actions(0, 100, 10)
        .unwrap()
        .iter()
        .map(|a| a.at)
        .collect();
    assert_eq!(left, vec![4]);
}
