//! Alert state survives a restart through the per-group snapshot.

use argus_rules::{AlertState, GroupOptions};

use crate::common::{group, Script, MIN};

fn rules(for_: &str) -> String {
    format!("groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: {for_}\n")
}

fn opts(dir: &std::path::Path) -> GroupOptions {
    GroupOptions {
        state_dir: Some(dir.to_path_buf()),
        ..GroupOptions::default()
    }
}

const DOWN: &[(&str, &str)] = &[("instance", "a")];

#[test]
fn pending_alert_keeps_active_at_across_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = Script::default();
    s.set("up == 0", &[(DOWN, 0.0)]);
    let mut g = group(&rules("5m"), opts(dir.path()));
    s.eval(&mut g, 0);
    s.eval(&mut g, MIN);
    drop(g); // "crash"
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "one snapshot, no temp file left");

    let mut g = group(&rules("5m"), opts(dir.path()));
    s.eval(&mut g, 2 * MIN);
    let a = &g.alerts()[0];
    assert_eq!((a.state, a.active_at_ms), (AlertState::Pending, 0));
    s.eval(&mut g, 4 * MIN);
    assert!(s.take_sent().is_empty());
    s.eval(&mut g, 5 * MIN);
    let sent = s.take_sent();
    assert_eq!(sent.len(), 1, "fires 5m after the original active_at");
    assert_eq!(sent[0].active_at_ms, 0);
}

#[test]
fn long_for_is_shifted_by_the_outage_like_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let s = Script::default();
    s.set("up == 0", &[(DOWN, 0.0)]);
    let mut g = group(&rules("1h"), opts(dir.path()));
    s.eval(&mut g, 0);
    s.eval(&mut g, 10 * MIN);
    drop(g);
    // Down from 10m to 25m: 50m were left, more than the 10m grace period,
    // so active_at moves forward by the 15m outage.
    let mut g = group(&rules("1h"), opts(dir.path()));
    s.eval(&mut g, 25 * MIN);
    assert_eq!(g.alerts()[0].active_at_ms, 15 * MIN);

    // Almost due when it went down: it fires no sooner than the grace period after the restart.
    let dir = tempfile::tempdir().unwrap();
    let mut g = group(&rules("1h"), opts(dir.path()));
    s.eval(&mut g, 0);
    s.eval(&mut g, 55 * MIN);
    drop(g);
    let mut g = group(&rules("1h"), opts(dir.path()));
    s.eval(&mut g, 56 * MIN);
    assert_eq!(g.alerts()[0].active_at_ms, 56 * MIN + 10 * MIN - 60 * MIN);
}

#[test]
fn firing_alert_stays_firing_and_is_resolved_if_gone() {
    let dir = tempfile::tempdir().unwrap();
    let s = Script::default();
    s.set("up == 0", &[(DOWN, 0.0)]);
    let mut g = group(&rules("1m"), opts(dir.path()));
    s.eval(&mut g, 0);
    s.eval(&mut g, MIN);
    assert_eq!(s.take_sent().len(), 1);
    drop(g);

    let mut g = group(&rules("1m"), opts(dir.path()));
    s.eval(&mut g, 2 * MIN);
    let sent = s.take_sent();
    assert_eq!(sent.len(), 1, "resent after the restart");
    assert_eq!(
        (sent[0].state, sent[0].fired_at_ms),
        (AlertState::Firing, Some(MIN))
    );
    drop(g);

    // Restart while the problem went away: the alert resolves instead of vanishing.
    s.set("up == 0", &[]);
    let mut g = group(&rules("1m"), opts(dir.path()));
    s.eval(&mut g, 3 * MIN);
    let sent = s.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].state, sent[0].resolved_at_ms),
        (AlertState::Inactive, Some(3 * MIN))
    );
}

#[test]
fn old_or_corrupt_snapshots_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let s = Script::default();
    s.set("up == 0", &[(DOWN, 0.0)]);
    let mut g = group(&rules("5m"), opts(dir.path()));
    s.eval(&mut g, 0);
    drop(g);
    let mut g = group(&rules("5m"), opts(dir.path()));
    s.eval(&mut g, 2 * 60 * MIN); // beyond the 1h outage tolerance
    assert_eq!(g.alerts()[0].active_at_ms, 2 * 60 * MIN);
    drop(g);

    let path =
        argus_rules::state::snapshot_path(dir.path(), &group(&rules("5m"), opts(dir.path())));
    std::fs::write(&path, b"{not json").unwrap();
    let mut g = group(&rules("5m"), opts(dir.path()));
    s.eval(&mut g, 3 * 60 * MIN);
    assert_eq!(g.alerts()[0].active_at_ms, 3 * 60 * MIN);
    // ...and the next evaluation overwrote it with a valid snapshot.
    let snap = argus_rules::state::load(dir.path(), &g).unwrap().unwrap();
    assert_eq!(snap.rules[0].alerts.len(), 1);
}
