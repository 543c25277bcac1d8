//! Escalation to further levels without acknowledgement, and acknowledgement stopping it.

use crate::common::Timeline;
use argus_alert::AckTarget;

const CFG: &str = r#"
global: {smtp_smarthost: "127.0.0.1:2525", smtp_from: argus@example.com}
route:
  receiver: oncall
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - {name: oncall, webhook_configs: [{url: "http://x/"}]}
  - {name: lead, webhook_configs: [{url: "http://x/"}]}
  - {name: manager, webhook_configs: [{url: "http://x/"}]}
argus:
  contacts:
    - {name: alice, email: alice@example.com, priority: 1}
  escalation_policies:
    - name: critical
      matchers: ['severity="critical"']
      levels:
        - {after: 10m, receivers: [lead], contacts: [alice]}
        - {after: 30m, receivers: [manager]}
      repeat: 1
"#;

#[test]
fn escalates_to_next_levels_without_ack() {
    let mut t = Timeline::new(CFG);
    t.fire(0, &[("alertname", "DbDown"), ("severity", "critical")]);
    t.fire(0, &[("alertname", "Minor"), ("severity", "warning")]);
    t.run_until(5_000);
    let got: Vec<(i64, String)> = t
        .log
        .iter()
        .map(|(s, n)| (*s, n.receiver.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (30, "oncall".into()),
            (30, "oncall".into()),
            // 10m and 30m after the first notification, then one more round shifted by 30m.
            // The first level also pages contact alice through her own receiver.
            (630, "lead".into()),
            (630, "contact:alice".into()),
            (1_830, "manager".into()),
            (2_430, "lead".into()),
            (2_430, "contact:alice".into()),
            (3_630, "manager".into()),
        ]
    );
    let step = t.log[2].1.escalation.clone().unwrap();
    assert_eq!(
        (step.level, step.round, step.contacts),
        (0, 0, vec!["alice".to_string()])
    );
}

#[test]
fn acknowledgement_stops_escalation() {
    let mut t = Timeline::new(CFG);
    t.fire(0, &[("alertname", "DbDown"), ("severity", "critical")]);
    t.run_until(700);
    assert_eq!(t.log.len(), 3); // oncall, then lead and alice
    let fp = t.d.alerts()[0].fingerprint;
    t.d.ack(AckTarget::Alert(fp), "alice", "looking").unwrap();
    t.run_until(5_000);
    assert_eq!(t.log.len(), 3, "{:?}", t.summary());
    assert_eq!(t.d.alerts()[0].ack.as_ref().unwrap().who, "alice");
    assert!(t.d.escalations().all(|e| e.acked.is_some()));
    assert!(t.d.ack(AckTarget::Group("nope".into()), "x", "").is_err());
}

#[test]
fn resolution_stops_escalation() {
    let mut t = Timeline::new(CFG);
    t.fire(0, &[("alertname", "DbDown"), ("severity", "critical")]);
    t.run_until(100);
    t.resolve(100, 0, &[("alertname", "DbDown"), ("severity", "critical")]);
    t.run_until(5_000);
    let got: Vec<(i64, String)> = t
        .log
        .iter()
        .map(|(s, n)| (*s, n.receiver.clone()))
        .collect();
    assert_eq!(got, vec![(30, "oncall".into()), (330, "oncall".into())]);
}

#[test]
fn a_group_link_acknowledges_a_group_without_an_escalation() {
    // A plain route (no escalation policy), as with a Slack receiver: the
    // group's ack link must find the group by its key and ack its alerts.
    let mut t = Timeline::new(
        "route: {receiver: chat, group_by: [alertname], group_wait: 0s}\nreceivers: [{name: chat, webhook_configs: [{url: \"http://x/\"}]}]\n",
    );
    t.fire(0, &[("alertname", "Latency"), ("instance", "a")]);
    t.fire(0, &[("alertname", "Latency"), ("instance", "b")]);
    t.run_until(2);
    let key = t.d.groups()[0].id.key.clone();
    assert_eq!(
        t.log.last().unwrap().1.group_key,
        key,
        "the key the link carries"
    );
    assert!(t.d.ack_of(&AckTarget::Group(key.clone())).is_none());
    t.d.ack(AckTarget::Group(key.clone()), "link:chat", "one-click link")
        .expect("the group is found");
    assert!(t
        .d
        .alerts()
        .iter()
        .all(|a| a.ack.as_ref().is_some_and(|k| k.who == "link:chat")));
    assert_eq!(t.d.ack_of(&AckTarget::Group(key)).unwrap().who, "link:chat");
}
