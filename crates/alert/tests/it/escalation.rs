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
