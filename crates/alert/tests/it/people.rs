//! Contacts and contact groups with priority tiers, on a paused clock; resolve and unack; the
//! history filtered by labels and time.

use crate::common::Timeline;
use argus_alert::store::Store;
use argus_alert::{AckTarget, HistoryQuery};

const CFG: &str = r#"
route:
  receiver: oncall
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - {name: oncall, webhook_configs: [{url: "http://x/"}]}
  - {name: lead, webhook_configs: [{url: "http://x/"}]}
argus:
  contacts:
    - {name: ann, webhook_url: "http://x/ann", priority: 1}
    - {name: bob, webhook_url: "http://x/bob", priority: 2}
    - {name: cy, webhook_url: "http://x/cy"}
    - {name: dee, webhook_url: "http://x/dee"}
  contact_groups:
    - name: dba
      # cy has no priority (1), dee is made tertiary; list order breaks ties.
      members: [bob, {contact: dee, priority: 3}, ann, cy]
      tier_interval: 5m
  escalation_policies:
    - name: db
      matchers: ['team="db"']
      levels:
        - {after: 10m, contacts: [dba]}
        - {after: 40m, receivers: [lead]}
"#;

fn pages(t: &Timeline) -> Vec<(i64, String)> {
    t.log
        .iter()
        .filter(|(_, n)| n.escalation.is_some())
        .map(|(s, n)| (*s, n.receiver.clone()))
        .collect()
}

#[test]
fn group_tiers_are_paged_in_priority_order() {
    let mut t = Timeline::new(CFG);
    t.fire(0, &[("alertname", "DbDown"), ("team", "db")]);
    t.run_until(3_000);
    assert_eq!(
        pages(&t),
        vec![
            // Tier 1 (ann, cy) at 10m after the first notification (30s), tier 2 (bob) 5m
            // later, tier 3 (dee) 5m after that, then the next level.
            (630, "contact:ann".to_string()),
            (630, "contact:cy".into()),
            (930, "contact:bob".into()),
            (1_230, "contact:dee".into()),
            (2_430, "lead".into()),
        ]
    );
    let step = t
        .log
        .iter()
        .find(|(s, _)| *s == 930)
        .unwrap()
        .1
        .escalation
        .clone()
        .unwrap();
    assert_eq!(step.contacts, vec!["bob".to_string()]);
}

#[test]
fn acknowledging_stops_the_lower_tiers_and_unack_resumes() {
    let mut t = Timeline::new(CFG);
    t.fire(0, &[("alertname", "DbDown"), ("team", "db")]);
    t.run_until(700);
    let fp = t.d.alerts()[0].fingerprint;
    t.d.ack(AckTarget::Alert(fp), "ann", "on it").unwrap();
    t.run_until(1_500);
    assert_eq!(
        pages(&t).len(),
        2,
        "bob and dee are not paged: {:?}",
        pages(&t)
    );
    t.d.unack(AckTarget::Alert(fp), "ann", "handing over")
        .unwrap();
    assert!(t.d.alerts()[0].ack.is_none());
    t.run_until(1_501);
    // The overdue tier-2 step is taken at once; tier 3 follows on its own schedule.
    assert_eq!(pages(&t)[2], (1_501, "contact:bob".into()));
    assert!(
        t.d.unack(AckTarget::Alert(fp), "ann", "").is_err(),
        "nothing to unack"
    );
}

#[test]
fn resolve_by_hand_notifies_resolved_and_stops_paging() {
    let mut t = Timeline::new(CFG);
    t.fire(0, &[("alertname", "DbDown"), ("team", "db")]);
    t.run_until(100);
    let fp = t.d.alerts()[0].fingerprint;
    assert_eq!(
        t.d.resolve(AckTarget::Alert(fp), "ann", "fixed").unwrap(),
        1
    );
    assert!(
        t.d.resolve(AckTarget::Alert(fp), "ann", "again").is_err(),
        "already resolved"
    );
    t.run_until(3_000);
    assert!(pages(&t).is_empty(), "{:?}", pages(&t));
    // oncall is a webhook, so send_resolved defaults to true.
    let last = &t.log.last().unwrap().1;
    assert_eq!(last.status().as_str(), "resolved");
}

#[test]
fn contact_config_errors_name_the_problem() {
    let bad = CFG.replace("members: [bob,", "members: [zed,");
    let e = argus_alert::config::Config::parse(&bad, "am.yml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("undefined contact \"zed\""), "{e}");
    let bad = CFG.replace("tier_interval: 5m", "tier_interval: 15m");
    let e = argus_alert::config::Config::parse(&bad, "am.yml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("not strictly increasing"), "{e}");
    let bad = CFG.replace("webhook_url: \"http://x/ann\"", "email: ann@x");
    let e = argus_alert::config::Config::parse(&bad, "am.yml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("smtp_smarthost"), "{e}");
}

#[test]
fn history_filters_by_category_labels_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut t = Timeline::with_store(CFG, Some(store), 0);
    t.fire(0, &[("alertname", "DbDown"), ("team", "db")]);
    t.fire(10, &[("alertname", "WebSlow"), ("team", "web")]);
    t.run_until(700);
    let fp =
        t.d.alerts()
            .iter()
            .find(|a| a.alert.labels.get("alertname") == Some("DbDown"))
            .unwrap()
            .fingerprint;
    t.d.ack(AckTarget::Alert(fp), "ann", "on it").unwrap();
    t.resolve(800, 10, &[("alertname", "WebSlow"), ("team", "web")]);
    t.run_until(1_200);
    let m = |s: &str| argus_alert::config::parse_matchers(s).unwrap();
    let q = |category: Option<&str>, matchers: &str, from: i64, to: i64| HistoryQuery {
        from: from * 1000,
        to: to * 1000,
        category: category.map(str::to_string),
        matchers: if matchers.is_empty() {
            vec![]
        } else {
            m(matchers)
        },
        limit: 100,
    };
    let kinds = |v: Vec<argus_alert::store::Action>| -> Vec<(i64, String)> {
        v.into_iter().map(|a| (a.at / 1000, a.kind)).collect()
    };
    let alerts = kinds(t.d.history_query(&q(Some("alerts"), "", 0, 5_000)).unwrap());
    assert_eq!(
        alerts,
        vec![
            (0, "alert_firing".into()),
            (10, "alert_firing".into()),
            (800, "alert_resolved".into())
        ]
    );
    let web = kinds(
        t.d.history_query(&q(None, r#"alertname="WebSlow""#, 0, 5_000))
            .unwrap(),
    );
    assert_eq!(
        web,
        vec![
            (10, "alert_firing".into()),
            (40, "notify".into()),
            (800, "alert_resolved".into()),
            (940, "notify".into()),
        ]
    );
    let acts =
        t.d.history_query(&q(Some("actions"), r#"team=~"d.*""#, 0, 5_000))
            .unwrap();
    assert_eq!(acts.len(), 1);
    assert_eq!(
        (acts[0].kind.as_str(), acts[0].who.as_str(), acts[0].at),
        ("ack", "ann", 700_000)
    );
    let window = kinds(
        t.d.history_query(&q(Some("notifications"), r#"team="db""#, 600, 700))
            .unwrap(),
    );
    assert_eq!(
        window,
        vec![(630, "escalate".into()), (630, "escalate".into())]
    );
    let mut limited = q(None, "", 0, 5_000);
    limited.limit = 2;
    assert_eq!(t.d.history_query(&limited).unwrap().len(), 2);
}
