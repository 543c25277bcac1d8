//! Alertmanager-style acceptance timelines on a paused clock. Times are seconds.

use crate::common::Timeline;
use argus_alert::silence::{Silence, SilenceMatcher};

const BASE: &str = r#"
route:
  receiver: team
  group_by: [alertname]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 5m
receivers:
  - name: team
    webhook_configs: [{url: "http://127.0.0.1:1/"}]
"#;

fn s(t: i64, r: &str, d: &str) -> (i64, String, String) {
    (t, r.to_string(), d.to_string())
}

#[test]
fn grouping_waits_intervals_and_repeats() {
    let mut t = Timeline::new(BASE);
    t.fire(0, &[("alertname", "Foo"), ("instance", "a")]);
    t.run_until(4);
    t.fire(5, &[("alertname", "Foo"), ("instance", "b")]);
    t.run_until(20);
    t.fire(20, &[("alertname", "Foo"), ("instance", "c")]);
    // A different alertname is a different group with its own group_wait.
    t.fire(30, &[("alertname", "Bar"), ("instance", "x")]);
    t.run_until(435);
    assert_eq!(
        t.summary(),
        vec![
            // First flush after group_wait, with both alerts.
            s(10, "team", "firing:a,b resolved:"),
            s(40, "team", "firing:x resolved:"),
            // group_interval after the first flush, because the group changed.
            s(70, "team", "firing:a,b,c resolved:"),
            // Unchanged: resent only once repeat_interval (5m) has passed since 70s,
            // at the first flush strictly after 370s.
            s(400, "team", "firing:x resolved:"),
            s(430, "team", "firing:a,b,c resolved:"),
        ]
    );
}

#[test]
fn resolved_alerts_are_notified_once_then_dropped() {
    let yaml = BASE.replace(
        "    webhook_configs: [{url: \"http://127.0.0.1:1/\"}]",
        "    webhook_configs: [{url: \"http://127.0.0.1:1/\"}]\n  - name: quiet\n    webhook_configs: [{url: \"http://127.0.0.1:1/\", send_resolved: false}]",
    ).replace("  receiver: team\n", "  receiver: team\n  routes:\n    - {matchers: ['alertname=\"Q\"'], receiver: quiet}\n");
    let mut t = Timeline::new(&yaml);
    t.fire(0, &[("alertname", "Foo"), ("instance", "a")]);
    t.fire(0, &[("alertname", "Foo"), ("instance", "b")]);
    t.fire(0, &[("alertname", "Q"), ("instance", "q")]);
    t.run_until(30);
    t.resolve(30, 0, &[("alertname", "Foo"), ("instance", "a")]);
    t.resolve(30, 0, &[("alertname", "Q"), ("instance", "q")]);
    t.run_until(100);
    t.resolve(100, 0, &[("alertname", "Foo"), ("instance", "b")]);
    t.run_until(400);
    assert_eq!(
        t.summary(),
        vec![
            s(10, "team", "firing:a,b resolved:"),
            s(10, "quiet", "firing:q resolved:"),
            s(70, "team", "firing:b resolved:a"),
            // quiet has send_resolved: false, so nothing is sent when q resolves.
            s(130, "team", "firing: resolved:b"),
        ]
    );
    let last = &t.log.last().unwrap().1;
    let msg = last.webhook_message("http://argus", 0);
    assert_eq!(msg.status, "resolved");
    assert_eq!(msg.alerts[0].ends_at, "1970-01-01T00:01:40Z");
    // The resolved alerts and their groups are gone.
    assert!(t.d.groups().is_empty(), "{:?}", t.d.groups());
    assert!(t.d.alerts().is_empty());
}

#[test]
fn continue_routes_to_several_receivers() {
    let yaml = r#"
route:
  receiver: default
  group_wait: 0s
  group_by: ['...']
  routes:
    - matchers: ['team="a"']
      receiver: a
      continue: true
    - match: {severity: critical}
      receiver: b
    - match_re: {severity: ".+"}
      receiver: never-when-critical
receivers:
  - {name: default, webhook_configs: [{url: "http://x/"}]}
  - {name: a, webhook_configs: [{url: "http://x/"}]}
  - {name: b, webhook_configs: [{url: "http://x/"}]}
  - {name: never-when-critical, webhook_configs: [{url: "http://x/"}]}
"#;
    let mut t = Timeline::new(yaml);
    t.fire(
        0,
        &[
            ("alertname", "both"),
            ("team", "a"),
            ("severity", "critical"),
        ],
    );
    t.fire(0, &[("alertname", "onlya"), ("team", "a")]);
    t.fire(0, &[("alertname", "onlyb"), ("severity", "critical")]);
    t.fire(0, &[("alertname", "warn"), ("severity", "warning")]);
    t.fire(0, &[("alertname", "other")]);
    t.at(0);
    let mut got: Vec<(String, String)> = t
        .log
        .iter()
        .map(|(_, n)| {
            (
                n.receiver.clone(),
                n.alerts[0]
                    .alert
                    .labels
                    .get("alertname")
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    got.sort();
    let want: Vec<(String, String)> = [
        ("a", "both"),
        ("a", "onlya"),
        ("b", "both"),
        ("b", "onlyb"),
        ("default", "other"),
        ("never-when-critical", "warn"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want);
    // Group keys follow Alertmanager's format.
    let keys: Vec<&str> = t.log.iter().map(|(_, n)| n.group_key.as_str()).collect();
    assert!(
        keys.contains(&r#"{}/{team="a"}:{alertname="onlya", team="a"}"#),
        "{keys:?}"
    );
    assert!(
        keys.contains(&r#"{}/{severity="critical"}:{alertname="onlyb", severity="critical"}"#),
        "{keys:?}"
    );
}

#[test]
fn inhibition_mutes_targets_with_equal_labels() {
    let yaml = format!(
        "{BASE}inhibit_rules:\n  - source_matchers: ['alertname=\"HostDown\"']\n    target_matchers: ['severity=\"warning\"']\n    equal: [host]\n  - source_match: {{severity: warning}}\n    target_match: {{severity: warning}}\n    equal: [host]\n"
    );
    let yaml = yaml.replace("group_by: [alertname]", "group_by: [host]");
    let mut t = Timeline::new(&yaml);
    t.fire(
        0,
        &[
            ("alertname", "HostDown"),
            ("host", "h1"),
            ("instance", "down"),
        ],
    );
    t.fire(
        0,
        &[
            ("alertname", "DiskSlow"),
            ("host", "h1"),
            ("severity", "warning"),
            ("instance", "disk"),
        ],
    );
    t.fire(
        0,
        &[
            ("alertname", "DiskSlow"),
            ("host", "h2"),
            ("severity", "warning"),
            ("instance", "other-host"),
        ],
    );
    t.run_until(60);
    t.resolve(
        60,
        0,
        &[
            ("alertname", "HostDown"),
            ("host", "h1"),
            ("instance", "down"),
        ],
    );
    t.run_until(80);
    assert_eq!(
        t.summary(),
        vec![
            // The warning on h1 is inhibited; on h2 there is no source. The second rule matches
            // warnings on both sides, and an alert does not inhibit itself.
            s(10, "team", "firing:down resolved:"),
            s(10, "team", "firing:other-host resolved:"),
            // Once the source resolves, the target is notified.
            s(70, "team", "firing:disk resolved:down"),
        ]
    );
    let info = t.d.alerts();
    assert!(info.iter().all(|a| a.inhibited_by.is_none()));
}

#[test]
fn silence_then_expiry() {
    let mut t = Timeline::new(BASE);
    t.clock.set(0);
    let id =
        t.d.set_silence(Silence::new(
            vec![SilenceMatcher::equal("alertname", "Foo")],
            0,
            100_000,
            "alice",
            "maintenance",
        ))
        .unwrap();
    t.fire(0, &[("alertname", "Foo"), ("instance", "a")]);
    t.fire(0, &[("alertname", "Bar"), ("instance", "b")]);
    t.run_until(99);
    assert_eq!(
        t.d.alerts()
            .iter()
            .filter(|a| !a.silenced_by.is_empty())
            .count(),
        1
    );
    // The silence ends at 100s; the next flush of the Foo group (10s + 2 × 1m) notifies.
    t.run_until(200);
    assert_eq!(
        t.summary(),
        vec![
            s(10, "team", "firing:b resolved:"),
            s(130, "team", "firing:a resolved:")
        ]
    );
    assert_eq!(
        t.d.silences().get(&id).unwrap().state(200_000),
        argus_alert::silence::SilenceState::Expired
    );
}

#[test]
fn expiring_a_silence_early_notifies_at_next_flush() {
    let mut t = Timeline::new(BASE);
    let id =
        t.d.set_silence(Silence::new(
            vec![SilenceMatcher::equal("alertname", "Foo")],
            0,
            3_600_000,
            "alice",
            "x",
        ))
        .unwrap();
    t.fire(0, &[("alertname", "Foo"), ("instance", "a")]);
    t.run_until(30);
    t.d.expire_silence(&id, "bob").unwrap();
    assert!(t.d.expire_silence(&id, "bob").is_err());
    t.run_until(100);
    assert_eq!(t.summary(), vec![s(70, "team", "firing:a resolved:")]);
}

#[test]
fn mute_time_intervals_hold_notifications() {
    // 1970-01-01 was a Thursday; mute Thursdays 00:00-00:02.
    let yaml = BASE
        .replace("  repeat_interval: 5m\n", "  repeat_interval: 5m\n  routes:\n    - matchers: ['alertname=\"Foo\"']\n      mute_time_intervals: [early]\n")
        + "time_intervals:\n  - name: early\n    time_intervals:\n      - weekdays: [thursday]\n        times: [{start_time: '00:00', end_time: '00:02'}]\n";
    let mut t = Timeline::new(&yaml);
    t.fire(0, &[("alertname", "Foo"), ("instance", "a")]);
    t.run_until(200);
    assert_eq!(t.summary(), vec![s(130, "team", "firing:a resolved:")]);
}

fn flap_timeline(damping: &str) -> Vec<(i64, String, String)> {
    let yaml = format!(
        "{}argus:\n  flap_damping: {damping}\n",
        BASE.replace("group_interval: 1m", "group_interval: 30s")
            .replace("repeat_interval: 5m", "repeat_interval: 1h")
    );
    let mut t = Timeline::new(&yaml);
    let l = [("alertname", "Flappy"), ("instance", "f")];
    let mut started = 0;
    for step in 0..6 {
        let at = step * 20;
        if step % 2 == 0 {
            t.run_until(at - 1);
            t.fire(at, &l);
            started = at;
        } else {
            t.run_until(at - 1);
            t.resolve(at, started, &l);
        }
        t.at(at);
    }
    t.run_until(700);
    t.summary()
}

#[test]
fn flapping_is_damped() {
    // Six transitions within 100s: once more than 2 happened in the window, a resolution is held
    // for 5m, so the receiver sees one firing and one resolved notification.
    let damped = flap_timeline("{max_transitions: 2, window: 10m, hold: 5m}");
    assert_eq!(
        damped,
        vec![
            s(10, "team", "firing:f resolved:"),
            s(400, "team", "firing: resolved:f")
        ]
    );
    let raw = flap_timeline("{enabled: false}");
    assert_eq!(
        raw,
        vec![
            s(10, "team", "firing:f resolved:"),
            s(70, "team", "firing: resolved:f"),
            s(90, "team", "firing:f resolved:"),
            s(120, "team", "firing: resolved:f"),
        ]
    );
}

#[test]
fn failed_delivery_keeps_resolved_alerts_for_the_next_flush() {
    let mut t = Timeline::new(BASE);
    t.fire(0, &[("alertname", "Foo"), ("instance", "a")]);
    t.run_until(10);
    t.resolve(20, 0, &[("alertname", "Foo"), ("instance", "a")]);
    t.clock.set(70_000);
    let out = t.d.tick(70_000);
    assert_eq!(out.len(), 1);
    t.d.complete(&out[0], false).unwrap();
    // Not logged: the next flush sends the resolution again.
    t.clock.set(130_000);
    let again = t.d.tick(130_000);
    assert_eq!(again.len(), 1);
    assert_eq!(crate::common::describe(&again[0]), "firing: resolved:a");
    t.d.complete(&again[0], true).unwrap();
    assert!(t.d.groups().is_empty());
}
