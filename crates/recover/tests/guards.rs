//! Modes and safeguards: approval by someone else, dry runs, rate limit,
//! cooldown, concurrency, the kill switch, automatic runs, and a restart in
//! the middle of an execution — each with the journal asserted.

mod support;

use argus_recover::exec::State;
use argus_recover::RecoverError;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use support::*;

#[tokio::test]
async fn approval_needs_someone_else_and_expires() {
    let dir = tempfile::tempdir().unwrap();
    let srv = recorder(200).await;
    let yaml = format!(
        "approval_timeout: 10m\nrunbooks:\n  - name: failover\n    mode: approval\n    steps:\n      - http: {{url: \"{}/failover\"}}\n",
        srv.base
    );
    let r = rig(Some(dir.path()), &yaml);
    let e = r
        .svc
        .request("failover", &subject(1, "db"), "alice", false)
        .unwrap();
    assert_eq!(e.state, State::PendingApproval);
    r.run(2, 1_000).await;
    assert!(srv.seen.lock().is_empty(), "ran before approval");
    let err = r.svc.approve(e.id, "alice").unwrap_err();
    assert!(matches!(err, RecoverError::SelfApproval(_)), "{err}");
    r.svc.approve(e.id, "bob").unwrap();
    r.run(2, 1_000).await;
    assert_eq!(srv.seen.lock().len(), 1);
    let got = r.svc.get(e.id).unwrap();
    assert_eq!(got.approved_by.as_deref(), Some("bob"));

    let late = r
        .svc
        .request("failover", &subject(2, "db"), "alice", false)
        .unwrap();
    r.clock.advance(11 * 60_000);
    r.run(1, 0).await;
    assert_eq!(r.svc.get(late.id).unwrap().state, State::Expired);
    assert!(r.svc.approve(late.id, "bob").is_err());

    let j = journal(dir.path());
    let refused = events_of(&j, "refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["who"], "alice");
    assert!(refused[0]["reason"]
        .as_str()
        .unwrap()
        .contains("someone else must approve"));
    assert_eq!(events_of(&j, "approved")[0]["who"], "bob");
}

#[tokio::test]
async fn a_dry_run_shows_every_step_and_runs_none() {
    let srv = recorder(200).await;
    let yaml = format!(
        r#"
commands: [/usr/bin/touch]
runbooks:
  - name: failover
    rate_limit: {{max: 1, per: 1h}}
    steps:
      - http: {{method: PUT, url: "{0}/route/{{{{ .Root.Service }}}}", body: standby}}
      - command: {{path: /usr/bin/touch, args: ["/tmp/argus-never-{{{{ .Incident.ID }}}}"]}}
    rollback:
      - http: {{url: "{0}/route/{{{{ .Root.Service }}}}/primary"}}
"#,
        srv.base
    );
    let r = rig(None, &yaml);
    let e = r
        .svc
        .request("failover", &subject(31, "db"), "alice", true)
        .unwrap();
    assert_eq!(e.state, State::DryRun);
    assert_eq!(e.steps.len(), 3);
    assert_eq!(e.steps[0].inputs["method"], "PUT");
    assert_eq!(e.steps[0].inputs["url"], format!("{}/route/db", srv.base));
    assert_eq!(e.steps[1].inputs["args"][0], "/tmp/argus-never-31");
    assert_eq!(
        e.steps[2].inputs["url"],
        format!("{}/route/db/primary", srv.base)
    );
    r.run(3, 1_000).await;
    assert!(srv.seen.lock().is_empty());
    assert!(!std::path::Path::new("/tmp/argus-never-31").exists());
    // A dry run does not count against the rate limit.
    r.svc
        .request("failover", &subject(31, "db"), "alice", true)
        .unwrap();
    r.svc
        .request("failover", &subject(31, "db"), "alice", false)
        .unwrap();
}

#[tokio::test]
async fn rate_limit_cooldown_duplicates_and_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = r#"
max_concurrent: 2
runbooks:
  - name: limited
    rate_limit: {max: 2, per: 1h}
    steps: [{wait: 1s}]
    verify: {hold: 0s}
  - name: cool
    cooldown: 10m
    steps: [{wait: 1s}]
    verify: {hold: 0s}
  - name: long
    steps: [{wait: 1h}]
"#;
    let r = rig(Some(dir.path()), yaml);
    let a = r
        .svc
        .request("limited", &subject(1, "a"), "alice", false)
        .unwrap();
    let dup = r
        .svc
        .request("limited", &subject(1, "a"), "alice", false)
        .unwrap_err();
    assert!(
        matches!(dup, RecoverError::Duplicate { id, .. } if id == a.id),
        "{dup}"
    );
    r.run(4, 1_000).await;
    assert_eq!(r.svc.get(a.id).unwrap().state, State::Succeeded);
    r.svc
        .request("limited", &subject(2, "a"), "alice", false)
        .unwrap();
    r.run(4, 1_000).await;
    let third = r
        .svc
        .request("limited", &subject(3, "a"), "alice", false)
        .unwrap_err();
    assert!(
        matches!(third, RecoverError::RateLimited { max: 2, .. }),
        "{third}"
    );
    r.clock.advance(3_600_000);
    r.svc
        .request("limited", &subject(3, "a"), "alice", false)
        .unwrap();
    r.run(4, 1_000).await;

    let c = r
        .svc
        .request("cool", &subject(4, "a"), "alice", false)
        .unwrap();
    r.run(4, 1_000).await;
    assert!(r.svc.get(c.id).unwrap().state.is_final());
    let cooling = r
        .svc
        .request("cool", &subject(5, "a"), "alice", false)
        .unwrap_err();
    assert!(
        matches!(cooling, RecoverError::Cooldown { .. }),
        "{cooling}"
    );
    r.clock.advance(10 * 60_000);
    r.svc
        .request("cool", &subject(5, "a"), "alice", false)
        .unwrap();

    // "cool" for 5 runs; one "long" fills the second place.
    r.svc
        .request("long", &subject(6, "a"), "alice", false)
        .unwrap();
    let full = r
        .svc
        .request("long", &subject(7, "a"), "alice", false)
        .unwrap_err();
    assert!(matches!(full, RecoverError::TooMany(2)), "{full}");

    let j = journal(dir.path());
    let reasons: Vec<&str> = events_of(&j, "refused")
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons[1].contains("already ran 2 times"));
    assert!(reasons[2].contains("cooling down"));
    assert!(reasons[3].contains("already running"));
}

#[tokio::test]
async fn the_kill_switch_stops_everything_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = r#"
commands: [/usr/bin/sleep]
runbooks:
  - name: slow
    steps:
      - command: {path: /usr/bin/sleep, args: ["30"]}
        timeout: 1m
"#;
    let r = rig(Some(dir.path()), yaml);
    let e = r
        .svc
        .request("slow", &subject(1, "a"), "alice", false)
        .unwrap();
    r.svc.tick().await;
    assert!(r.svc.get(e.id).unwrap().in_flight().is_some());
    let t0 = std::time::Instant::now();
    r.svc.set_paused(true, "carol").unwrap();
    r.svc.settle().await;
    assert!(
        t0.elapsed().as_secs() < 10,
        "the running command was not killed"
    );
    let got = r.svc.get(e.id).unwrap();
    assert_eq!(got.state, State::Cancelled);
    assert!(got.reason.contains("kill switch (carol)"));
    assert_eq!(got.steps[0].ok, Some(false));
    let refused = r
        .svc
        .request("slow", &subject(2, "a"), "alice", false)
        .unwrap_err();
    assert!(
        matches!(refused, RecoverError::Paused(ref by) if by == "carol"),
        "{refused}"
    );
    drop(r);

    let r = rig(Some(dir.path()), yaml);
    assert_eq!(r.svc.paused().as_deref(), Some("carol"));
    r.svc.set_paused(false, "carol").unwrap();
    r.svc
        .request("slow", &subject(2, "a"), "alice", true)
        .unwrap();
    let j = journal(dir.path());
    assert_eq!(events_of(&j, "kill_switch").len(), 2);
}

#[tokio::test]
async fn a_restart_never_runs_a_step_twice() {
    let dir = tempfile::tempdir().unwrap();
    let srv = recorder(200).await;
    let yaml = format!(
        r#"
commands: [/usr/bin/sleep]
runbooks:
  - name: cut
    steps:
      - http: {{url: "{0}/one"}}
      - command: {{path: /usr/bin/sleep, args: ["30"]}}
        timeout: 1m
      - http: {{url: "{0}/three"}}
  - name: waiting
    steps:
      - http: {{url: "{0}/before"}}
      - wait: 10m
      - http: {{url: "{0}/after"}}
    verify: {{hold: 0s}}
"#,
        srv.base
    );
    let clock = Arc::new(argus_model::ManualClock::new(1_000_000));
    let r = rig_at(Some(dir.path()), &yaml, clock.clone());
    let cut = r
        .svc
        .request("cut", &subject(1, "a"), "alice", false)
        .unwrap();
    let waiting = r
        .svc
        .request("waiting", &subject(2, "a"), "alice", false)
        .unwrap();
    r.run(1, 1_000).await; // "one" and "before" done
    r.svc.tick().await; // the sleep and the wait are under way
    assert_eq!(
        r.svc.get(cut.id).unwrap().in_flight().unwrap().kind,
        "command"
    );
    // "Crash": a second service opens the same journal while the step runs.
    let r2 = rig_at(Some(dir.path()), &yaml, clock.clone());
    let got = r2.svc.get(cut.id).unwrap();
    assert_eq!(got.state, State::Failed, "{got:?}");
    assert!(got.reason.contains("interrupted"), "{}", got.reason);
    // The waiting execution resumes where it was.
    assert_eq!(r2.svc.get(waiting.id).unwrap().state, State::Running);
    r2.host.firing.store(false, Ordering::SeqCst);
    clock.advance(10 * 60_000);
    r2.run(5, 1_000).await;
    assert_eq!(r2.svc.get(waiting.id).unwrap().state, State::Succeeded);
    r2.run(3, 1_000).await;
    let seen: Vec<String> = srv
        .seen
        .lock()
        .iter()
        .map(|s| s.split(' ').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(seen.iter().filter(|p| *p == "/one").count(), 1);
    assert_eq!(seen.iter().filter(|p| *p == "/before").count(), 1);
    assert_eq!(seen.iter().filter(|p| *p == "/after").count(), 1);
    assert!(!seen.contains(&"/three".to_string()), "{seen:?}");
    drop(r);
}

#[tokio::test]
async fn automatic_runbooks_run_once_per_incident_and_refusals_are_audited_once() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = r#"
runbooks:
  - name: heal
    mode: auto
    match: {labels: {alertname: ServiceDown}, root_service: "api|db"}
    rate_limit: {max: 1, per: 1h}
    steps: [{wait: 1s}]
    verify: {hold: 0s}
  - name: by-hand
    match: {root_service: api}
    steps: [{wait: 1s}]
"#;
    let r = rig(Some(dir.path()), yaml);
    let s = subject(1, "api");
    let names: Vec<String> = r
        .svc
        .runbooks_for(&s)
        .into_iter()
        .map(|rb| rb.name)
        .collect();
    assert_eq!(names, vec!["heal", "by-hand"]);
    assert_eq!(r.svc.auto(&s).len(), 1);
    assert!(r.svc.auto(&s).is_empty(), "ran twice for one incident");
    // The incident recovers and its alert fires again an hour later: a new occurrence,
    // so the runbook runs again (the rate limit allows one an hour).
    r.run(5, 1_000).await;
    assert_eq!(r.svc.get(1).unwrap().state, State::Succeeded);
    r.clock.advance(3_700_000);
    let mut again = s.clone();
    again.reopened_ms = argus_model::Clock::now_ms(&*r.clock);
    let ran = r.svc.auto(&again);
    assert!(ran.len() == 1 && ran[0].is_ok(), "{ran:?}");
    assert!(r.svc.auto(&again).is_empty(), "ran twice for one reopening");
    assert!(
        r.svc.auto(&subject(2, "web")).is_empty(),
        "web does not match"
    );
    // The rate limit refuses incident 3; asking again does not write again.
    assert!(r.svc.auto(&subject(3, "db"))[0].is_err());
    assert!(r.svc.auto(&subject(3, "db"))[0].is_err());
    let j = journal(dir.path());
    assert_eq!(events_of(&j, "refused").len(), 1);
    assert_eq!(
        events_of(&j, "requested")[0]["execution"]["requested_by"],
        "argus"
    );
}

#[tokio::test]
async fn automatic_runbooks_wait_for_the_root_and_their_delay() {
    let yaml = r#"
runbooks:
  - name: on-root
    mode: auto
    match: {root_service: api}
    steps: [{wait: 1s}]
  - name: delayed
    mode: auto
    delay: 30s
    match: {labels: {alertname: ServiceDown}}
    steps: [{wait: 1s}]
"#;
    let r = rig(None, yaml);
    let now = 1_000_000;
    let mut s = subject(1, "api");
    s.located = false;
    s.detected_ms = now;
    // Not located yet, and detected just now: nothing runs.
    assert!(r.svc.auto(&s).is_empty());
    s.located = true;
    let ran: Vec<String> = r
        .svc
        .auto(&s)
        .into_iter()
        .map(|e| e.unwrap().runbook.name)
        .collect();
    assert_eq!(ran, vec!["on-root"]);
    r.clock.advance(30_000);
    let ran: Vec<String> = r
        .svc
        .auto(&s)
        .into_iter()
        .map(|e| e.unwrap().runbook.name)
        .collect();
    assert_eq!(ran, vec!["delayed"]);
}
