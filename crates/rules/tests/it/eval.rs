//! Group evaluation on a paused clock: recording outputs and alert timelines.

use argus_model::{is_stale_nan, Labels};
use argus_rules::{AlertState, GroupOptions};

use crate::common::{group, Script, MIN};

const REC: &str = r#"
groups:
- name: rec
  query_offset: 30s
  rules:
  - record: job:req:rate5m
    expr: sum by (job) (rate(req[5m]))
    labels:
      tier: web
"#;

#[test]
fn recording_rule_renames_adds_labels_and_marks_stale() {
    let s = Script::default();
    let mut g = group(REC, GroupOptions::default());
    s.set(
        "sum by (job) (rate(req[5m]))",
        &[(&[("job", "a")], 1.5), (&[("job", "b")], 2.0)],
    );
    assert_eq!(s.eval(&mut g, 10 * MIN), 0);
    let out = s.take_samples();
    let want_a = Labels::from_pairs(&[
        ("__name__", "job:req:rate5m"),
        ("job", "a"),
        ("tier", "web"),
    ]);
    assert_eq!(out.len(), 2);
    assert!(
        out.contains(&(want_a.clone(), 10 * MIN - 30_000, 1.5)),
        "{out:?}"
    );
    // Series b disappears: it gets a stale marker at the next evaluation.
    s.set("sum by (job) (rate(req[5m]))", &[(&[("job", "a")], 3.0)]);
    s.eval(&mut g, 11 * MIN);
    let out = s.take_samples();
    assert_eq!(out.len(), 2);
    let stale: Vec<_> = out.iter().filter(|x| is_stale_nan(x.2)).collect();
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].0.get("job"), Some("b"));
    assert_eq!(g.rules[0].health.as_str(), "ok");
}

#[test]
fn recording_rule_duplicate_labelset_and_limit_are_errors() {
    let s = Script::default();
    let mut g = group("groups:\n- name: g\n  limit: 1\n  rules:\n  - record: r\n    expr: x\n    labels: {job: same}\n", GroupOptions::default());
    s.set("x", &[(&[("job", "a")], 1.0), (&[("job", "b")], 2.0)]);
    assert_eq!(s.eval(&mut g, 0), 1);
    let err = g.rules[0].health.last_error.clone().unwrap();
    assert!(
        err.contains("same labelset after applying rule labels"),
        "{err}"
    );
    assert_eq!(g.rules[0].health.as_str(), "err");
    let mut g = group(
        "groups:\n- name: g\n  limit: 1\n  rules:\n  - record: r\n    expr: x\n",
        GroupOptions::default(),
    );
    assert_eq!(s.eval(&mut g, 0), 1);
    assert!(g.rules[0]
        .health
        .last_error
        .clone()
        .unwrap()
        .contains("exceeded limit of 1 with 2 series"));
    // A failing query is an error too, and the group keeps going.
    let mut g = group("groups:\n- name: g\n  rules:\n  - record: r\n    expr: nothing_set\n  - record: r2\n    expr: x\n", GroupOptions::default());
    assert_eq!(s.eval(&mut g, 0), 1);
    assert_eq!(s.take_samples().len(), 2);
}

const ALERT: &str = r#"
groups:
- name: alerts
  rules:
  - alert: HighLatency
    expr: latency > 1
    for: 2m
    keep_firing_for: 3m
    labels:
      severity: "{{ if gt $value 5.0 }}page{{ else }}ticket{{ end }}"
    annotations:
      summary: "{{ $labels.instance }} latency {{ $value }}s"
"#;

fn alerts_series(out: &[(Labels, i64, f64)]) -> Vec<String> {
    let mut v: Vec<String> = out
        .iter()
        .filter(|(l, _, x)| l.metric_name() == Some("ALERTS") && !is_stale_nan(*x))
        .map(|(l, _, _)| l.get("alertstate").unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn alert_timeline_pending_firing_keep_firing_resolved_resend() {
    let s = Script::default();
    let mut g = group(ALERT, GroupOptions::default());
    let hot: &[(&str, &str)] = &[("__name__", "latency"), ("instance", "a")];
    s.set("latency > 1", &[(hot, 2.0)]);

    // t=0: pending, nothing sent, ALERTS{alertstate="pending"} and ALERTS_FOR_STATE written.
    s.eval(&mut g, 0);
    assert!(s.take_sent().is_empty());
    let out = s.take_samples();
    assert_eq!(alerts_series(&out), vec!["pending"]);
    let fs = out
        .iter()
        .find(|(l, _, _)| l.metric_name() == Some("ALERTS_FOR_STATE"))
        .unwrap();
    assert_eq!(fs.0.get("alertname"), Some("HighLatency"));
    assert_eq!(fs.0.get("severity"), Some("ticket"));
    assert_eq!(fs.2, 0.0);
    let a = &g.alerts()[0];
    assert_eq!((a.state, a.active_at_ms), (AlertState::Pending, 0));
    assert_eq!(a.annotations.get("summary"), Some("a latency 2s"));

    // t=1m: still pending.
    s.eval(&mut g, MIN);
    assert!(s.take_sent().is_empty());
    s.take_samples();

    // t=2m: for has passed -> firing, sent once.
    s.eval(&mut g, 2 * MIN);
    let sent = s.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].state, AlertState::Firing);
    assert_eq!(sent[0].fired_at_ms, Some(2 * MIN));
    assert_eq!(sent[0].starts_at_ms(), 2 * MIN);
    assert_eq!(sent[0].ends_at_ms(), Some(2 * MIN + 4 * MIN));
    let out = s.take_samples();
    assert_eq!(alerts_series(&out), vec!["firing"]);
    // The pending series goes stale as the firing one starts.
    assert!(out
        .iter()
        .any(|(l, _, x)| l.get("alertstate") == Some("pending") && is_stale_nan(*x)));

    // t=3m: not resent (resend delay 1m not yet exceeded); value and annotations update.
    // (A value above 5 would change the templated severity label and so, as in
    // Prometheus, be a different alert; stay below it.)
    s.set("latency > 1", &[(hot, 4.0)]);
    s.eval(&mut g, 3 * MIN);
    assert!(s.take_sent().is_empty());
    let a = &g.alerts()[0];
    assert_eq!(a.annotations.get("summary"), Some("a latency 4s"));
    assert_eq!((a.value, a.state), (4.0, AlertState::Firing));

    // t=3m30s: resent (more than 1m since the last send).
    s.eval(&mut g, 3 * MIN + 30_000);
    assert_eq!(s.take_sent().len(), 1);

    // The expression stops returning it: keep_firing_for (3m) holds it firing.
    s.set("latency > 1", &[]);
    s.eval(&mut g, 4 * MIN);
    assert_eq!(g.alerts()[0].state, AlertState::Firing);
    assert_eq!(g.alerts()[0].keep_firing_since_ms, Some(4 * MIN));
    s.eval(&mut g, 6 * MIN);
    assert_eq!(g.alerts()[0].state, AlertState::Firing);
    s.take_sent();
    s.take_samples();

    // t=7m: keep_firing_for is over -> resolved and sent as resolved.
    s.eval(&mut g, 7 * MIN);
    let sent = s.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].state, AlertState::Inactive);
    assert_eq!(sent[0].resolved_at_ms, Some(7 * MIN));
    assert_eq!(sent[0].ends_at_ms(), Some(7 * MIN));
    // The ALERTS series goes stale.
    let out = s.take_samples();
    assert!(out.iter().all(|(_, _, x)| is_stale_nan(*x)), "{out:?}");

    // Resolved alerts are resent (every resend delay) while retained for 15 minutes, then dropped.
    s.eval(&mut g, 8 * MIN + 1);
    assert_eq!(s.take_sent().len(), 1);
    s.eval(&mut g, 22 * MIN);
    assert_eq!(s.take_sent().len(), 1);
    assert_eq!(g.alerts().len(), 1);
    s.eval(&mut g, 22 * MIN + 1);
    assert!(g.alerts().is_empty());
}

#[test]
fn pending_alert_that_disappears_is_dropped_and_restarts() {
    let s = Script::default();
    let mut g = group(ALERT, GroupOptions::default());
    let hot: &[(&str, &str)] = &[("instance", "a")];
    s.set("latency > 1", &[(hot, 2.0)]);
    s.eval(&mut g, 0);
    s.set("latency > 1", &[]);
    s.eval(&mut g, MIN);
    assert!(g.alerts().is_empty());
    s.set("latency > 1", &[(hot, 9.0)]);
    s.eval(&mut g, 2 * MIN);
    let a = &g.alerts()[0];
    assert_eq!((a.state, a.active_at_ms), (AlertState::Pending, 2 * MIN));
    assert_eq!(a.labels.get("severity"), Some("page"));
    assert!(s.take_sent().is_empty());
}

#[test]
fn for_zero_fires_at_once_and_duplicate_alert_labels_fail() {
    let s = Script::default();
    let mut g = group(
        "groups:\n- name: g\n  rules:\n  - alert: Now\n    expr: x\n",
        GroupOptions::default(),
    );
    s.set("x", &[(&[("__name__", "x"), ("i", "1")], 1.0)]);
    s.eval(&mut g, 5_000);
    let sent = s.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].labels,
        Labels::from_pairs(&[("alertname", "Now"), ("i", "1")])
    );
    assert!(sent[0].generator_url.ends_with("/graph?g0.expr=x&g0.tab=1"));
    let mut g = group(
        "groups:\n- name: g\n  rules:\n  - alert: Dup\n    expr: x\n    labels: {i: same}\n",
        GroupOptions::default(),
    );
    s.set("x", &[(&[("i", "1")], 1.0), (&[("i", "2")], 1.0)]);
    assert_eq!(s.eval(&mut g, 0), 1);
    assert!(g.rules[0]
        .health
        .last_error
        .clone()
        .unwrap()
        .contains("same labelset after applying alert labels"));
}

#[test]
fn template_errors_become_annotation_text() {
    let s = Script::default();
    let mut g = group("groups:\n- name: g\n  rules:\n  - alert: T\n    expr: x\n    annotations:\n      a: '{{ $labels.i | humanize }}'\n", GroupOptions::default());
    s.set("x", &[(&[("i", "abc")], 1.0)]);
    s.eval(&mut g, 0);
    let a = &g.alerts()[0];
    let text = a.annotations.get("a").unwrap();
    assert!(text.starts_with("<error expanding template: "), "{text}");
}

#[test]
fn evaluation_times_are_aligned_per_group() {
    let g = group(REC, GroupOptions::default());
    let t = g.eval_timestamp(1_700_000_123_456);
    assert!(t <= 1_700_000_123_456 && 1_700_000_123_456 - t < MIN);
    assert_eq!(g.eval_timestamp(t), t);
    assert_eq!(g.eval_timestamp(t + MIN - 1), t);
    assert_eq!(g.next_eval_after(t), t + MIN);
    // The phase comes from the group's hash, so it is stable across runs.
    assert_eq!(t.rem_euclid(MIN), (g.hash() % MIN as u64) as i64);
}
