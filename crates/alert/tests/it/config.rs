//! Alertmanager configs load unchanged; bad ones fail with key and line.

use argus_alert::config::Config;
use argus_alert::route::RouteTree;
use argus_model::Labels;

/// Alertmanager 0.25's documented example config (doc/examples/simple.yml), lightly extended.
const AM_SIMPLE: &str = r#"
global:
  # The smarthost and SMTP sender used for mail notifications.
  smtp_smarthost: 'localhost:25'
  smtp_from: 'alertmanager@example.org'
  smtp_auth_username: 'alertmanager'
  smtp_auth_password: 'password'
  resolve_timeout: 5m
  slack_api_url: 'https://hooks.slack.com/services/XXX'

# The directory from which notification templates are read.
templates:
  - '/etc/alertmanager/template/*.tmpl'

# The root route on which each incoming alert enters.
route:
  # The labels by which incoming alerts are grouped together.
  group_by: ['alertname', 'cluster', 'service']
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 3h
  receiver: team-X-mails
  routes:
    # This routes performs a regular expression match on alert labels to
    # catch alerts that are related to a list of services.
    - matchers:
        - service=~"foo1|foo2|baz"
      receiver: team-X-mails
      # The service has a sub-route for critical alerts, any alerts
      # that do not match, i.e. severity != critical, fall-back to the
      # parent node and are sent to 'team-X-mails'
      routes:
        - matchers:
            - severity="critical"
          receiver: team-X-pager
    - matchers:
        - service="files"
      receiver: team-Y-mails
      routes:
        - matchers:
            - severity="critical"
          receiver: team-Y-pager
    # This route handles all alerts coming from a database service. If there's
    # no team to handle it, it defaults to the DB team.
    - matchers:
        - service="database"
      receiver: team-DB-pager
      # Also group alerts by affected database.
      group_by: [alertname, cluster, database]
      routes:
        - matchers:
            - owner="team-X"
          receiver: team-X-pager
          continue: true
        - matchers:
            - owner="team-Y"
          receiver: team-Y-pager
    - match:
        severity: page
      match_re:
        service: ^(foo1|foo2|baz)$
      receiver: team-X-pager
      mute_time_intervals: [offhours]
      active_time_intervals: [business]
    - matchers: ['{env="staging", team=~"web|api"}']
      receiver: 'null'
      group_by: ['...']

# Inhibition rules allow to mute a set of alerts given that another alert is
# firing.
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    # Apply inhibition if the alertname is the same.
    equal: [alertname, cluster, service]
  - source_match:
      alertname: NodeDown
    target_match_re:
      alertname: 'Node.+'
    equal: ['instance']

receivers:
  - name: 'team-X-mails'
    email_configs:
      - to: 'team-X+alerts@example.org'
        send_resolved: true
        headers:
          Subject: 'Alerts'
  - name: 'team-X-pager'
    email_configs:
      - to: 'team-X+alerts-critical@example.org'
    pagerduty_configs:
      - routing_key: <team-X-key>
        severity: critical
        details:
          firing: '{{ template "pagerduty.default.instances" .Alerts.Firing }}'
  - name: 'team-Y-mails'
    email_configs:
      - to: 'team-Y+alerts@example.org'
  - name: 'team-Y-pager'
    pagerduty_configs:
      - service_key: <team-Y-key>
  - name: 'team-DB-pager'
    pagerduty_configs:
      - service_key: <team-DB-key>
    slack_configs:
      - channel: '#db'
        title: '{{ template "slack.default.title" . }}'
        send_resolved: true
        actions:
          - type: button
            text: 'Runbook'
            url: '{{ (index .Alerts 0).Annotations.runbook }}'
  - name: 'hooks'
    webhook_configs:
      - url: 'http://127.0.0.1:5001/'
        max_alerts: 10
        http_config:
          basic_auth: {username: u, password: p}
          tls_config: {insecure_skip_verify: true}
    opsgenie_configs:
      - api_key: abc
        responders: [{name: ops, type: team}]
    telegram_configs:
      - bot_token: x
        chat_id: 1
  - name: 'null'

time_intervals:
  - name: offhours
    time_intervals:
      - times:
          - start_time: '17:00'
            end_time: '24:00'
        weekdays: ['monday:friday']
        location: Europe/Berlin
      - weekdays: ['saturday', 'sunday']
  - name: business
    time_intervals:
      - weekdays: ['monday:friday']
        days_of_month: ['1:10', '-5:-1']
        months: ['january:march', 'december']
        years: ['2024:2030']
        location: Local
"#;

#[test]
fn alertmanager_sample_config_loads_unchanged() {
    let cfg = Config::parse(AM_SIMPLE, "alertmanager.yml").unwrap();
    assert_eq!(cfg.receivers.len(), 7);
    assert_eq!(cfg.inhibit_rules.len(), 2);
    assert_eq!(cfg.templates.len(), 1);
    assert_eq!(cfg.global.resolve_timeout().as_millis(), 300_000);
    assert_eq!(
        cfg.unsupported(),
        vec![
            ("hooks".to_string(), "opsgenie_configs"),
            ("hooks".to_string(), "telegram_configs")
        ]
    );
    let tree = RouteTree::build(&cfg.route).unwrap();
    let route_of = |pairs: &[(&str, &str)]| -> Vec<String> {
        tree.match_labels(&Labels::from_pairs(pairs))
            .into_iter()
            .map(|i| tree.get(i).receiver.clone())
            .collect()
    };
    assert_eq!(
        route_of(&[("service", "foo1"), ("severity", "critical")]),
        vec!["team-X-pager"]
    );
    assert_eq!(route_of(&[("service", "foo1")]), vec!["team-X-mails"]);
    // A matching child with `continue` does not make its parent match as well.
    assert_eq!(
        route_of(&[("service", "database"), ("owner", "team-X")]),
        vec!["team-X-pager"]
    );
    assert_eq!(
        route_of(&[("service", "database"), ("owner", "nobody")]),
        vec!["team-DB-pager"]
    );
    assert_eq!(
        route_of(&[("severity", "page"), ("service", "baz")]),
        vec!["team-X-mails"]
    );
    assert_eq!(
        route_of(&[("severity", "page"), ("service", "qux")]),
        vec!["team-X-mails"]
    );
    assert_eq!(route_of(&[("service", "nothing")]), vec!["team-X-mails"]);
    assert_eq!(
        route_of(&[("env", "staging"), ("team", "api")]),
        vec!["null"]
    );
    let db = tree.match_labels(&Labels::from_pairs(&[
        ("service", "database"),
        ("owner", "z"),
    ]))[0];
    assert_eq!(
        tree.get(db).group_by,
        vec!["alertname", "cluster", "database"]
    );
    assert_eq!(tree.get(db).repeat_interval, 3 * 3_600_000);
    // The whole pipeline builds from it.
    let clock = std::sync::Arc::new(argus_model::ManualClock::new(0));
    argus_alert::Dispatcher::new(cfg.clone(), clock, None).unwrap();
    let chans = argus_alert::channel::Channels::from_config(&cfg).unwrap();
    assert!(chans.get("hooks", 0).is_some());
}

#[test]
fn minimal_and_argus_extensions() {
    let cfg = Config::parse(
        r#"
global: {smtp_smarthost: "127.0.0.1:2525"}
route:
  receiver: r
receivers: [{name: r}]
argus:
  external_url: https://argus
  flap_damping: {max_transitions: 6}
  contacts: [{name: a, email: a@x}]
  contact_groups: [{name: g, members: [a]}]
"#,
        "am.yml",
    )
    .unwrap();
    let f = cfg.argus.flap_damping;
    assert!(f.enabled);
    assert_eq!(
        (f.max_transitions, f.window.as_millis(), f.hold.as_millis()),
        (6, 600_000, 300_000)
    );
    let tree = RouteTree::build(&cfg.route).unwrap();
    let r = tree.get(0);
    assert_eq!(
        (r.group_wait, r.group_interval, r.repeat_interval),
        (200, 300_000, 14_400_000)
    );
}

fn err(yaml: &str) -> String {
    Config::parse(yaml, "am.yml").unwrap_err().to_string()
}

#[test]
fn bad_configs_name_key_and_line() {
    let e = err("route:\n  receiver: r\n  routes:\n    - receiver: r\n      group_bye: [a]\nreceivers: [{name: r}]\n");
    assert!(e.contains("group_bye") && e.contains("line 5"), "{e}");
    let e = err("route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs:\n      - url: http://x/\n        sendresolved: true\n");
    assert!(e.contains("sendresolved") && e.contains("line 6"), "{e}");
    let e = err("route: {receiver: r}\nreceivers: [{name: r}]\nbogus_top: 1\n");
    assert!(e.contains("bogus_top") && e.contains("line 3"), "{e}");
    let e = err("route: {receiver: r}\nreceivers:\n  - name: r\n    carrier_pigeon_configs: []\n");
    assert!(
        e.contains("carrier_pigeon_configs") && e.contains("line 4"),
        "{e}"
    );
    let e = err("route:\n  receiver: r\n  group_wait: 5 minutes\nreceivers: [{name: r}]\n");
    assert!(
        e.contains("invalid duration") && e.contains("line 3"),
        "{e}"
    );
    let e = err("route:\n  receiver: r\n  routes:\n    - matchers: ['foo=~\"(\"']\nreceivers: [{name: r}]\n");
    assert!(e.contains("bad matcher") && e.contains("line 4"), "{e}");
    let e =
        err("route:\n  receiver: r\n  routes:\n    - receiver: ghost\nreceivers: [{name: r}]\n");
    assert!(
        e.contains("undefined receiver \"ghost\"") && e.contains("line 4"),
        "{e}"
    );
    let e = err("route:\n  receiver: r\n  routes:\n    - mute_time_intervals: [nights]\nreceivers: [{name: r}]\n");
    assert!(e.contains("undefined time interval"), "{e}");
    let e = err("route: {receiver: r}\nreceivers: [{name: r}]\ntime_intervals:\n  - name: t\n    time_intervals:\n      - weekdays: [funday]\n");
    assert!(e.contains("funday") && e.contains("line 6"), "{e}");
    let e = err("route: {group_by: [a]}\nreceivers: [{name: r}]\n");
    assert!(e.contains("default receiver"), "{e}");
    let e = err("route: {receiver: r, group_by: ['...', a]}\nreceivers: [{name: r}]\n");
    assert!(e.contains("wildcard"), "{e}");
    let e = err("route: {receiver: r}\nreceivers: [{name: r}, {name: r}]\n");
    assert!(e.contains("more than once"), "{e}");
    let e = err("route: {receiver: r}\nreceivers: [{name: r}]\nargus:\n  flap_dumping: {}\n");
    assert!(e.contains("flap_dumping") && e.contains("line 4"), "{e}");
    let e = err("route: {receiver: r}\nreceivers: [{name: r, email_configs: [{to: a@b}]}]\n");
    assert!(e.contains("smarthost"), "{e}");
}

#[test]
fn forward_to_alertmanager_adds_an_integration() {
    let cfg = Config::parse(
        r#"
route: {receiver: r}
receivers:
  - name: r
    webhook_configs: [{url: "http://hook/"}]
argus:
  forward_to_alertmanager:
    - {receiver: r, url: "http://am:9093", send_resolved: false}
"#,
        "am.yml",
    )
    .unwrap();
    let ints = argus_alert::dispatch::integrations(&cfg.receivers[0], &cfg.argus);
    assert_eq!(ints.len(), 2);
    assert_eq!(ints[1].kind, argus_alert::IntegrationKind::Alertmanager);
    assert!(!ints[1].send_resolved);
    let chans = argus_alert::channel::Channels::from_config(&cfg).unwrap();
    assert!(chans.get("r", 1).is_some() && chans.missing(&cfg).is_empty());
    assert!(cfg.original.contains("forward_to_alertmanager"));
    let e = err("route: {receiver: r}\nreceivers: [{name: r}]\nargus:\n  forward_to_alertmanager:\n    - {receiver: ghost, url: 'http://am'}\n");
    assert!(e.contains("ghost") && e.contains("line 5"), "{e}");
}
