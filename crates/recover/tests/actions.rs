//! Every action kind against a real peer: an HTTP server, an allowlisted
//! executable, Redis (127.0.0.1:6379), NATS JetStream key-value
//! (127.0.0.1:4222), and `systemctl` (a stand-in script: no systemd runs
//! in the test machine's container). Verification and rollback, with the
//! journal asserted.

mod support;

use argus_recover::exec::State;
use std::sync::atomic::Ordering;
use support::*;

#[tokio::test]
async fn http_step_renders_the_incident_and_reads_secrets_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let srv = recorder(200).await;
    let secret = dir.path().join("token");
    std::fs::write(&secret, "Bearer s3cret\n").unwrap();
    let yaml = format!(
        r#"
runbooks:
  - name: drain
    match: {{root_service: "api|web"}}
    steps:
      - name: drain the instance
        http:
          url: "{}/drain/{{{{ .Root.Service }}}}"
          header_files: {{Authorization: {}}}
          body: '{{"incident": {{{{ .Incident.ID }}}}, "alert": "{{{{ .Labels.alertname }}}}"}}'
    verify: {{hold: 30s, deadline: 5m}}
"#,
        srv.base,
        secret.display()
    );
    let r = rig(Some(dir.path()), &yaml);
    let e = r
        .svc
        .request("drain", &subject(12, "api"), "alice", false)
        .unwrap();
    r.host.firing.store(true, Ordering::SeqCst);
    r.run(3, 10_000).await;
    assert_eq!(
        *srv.seen.lock(),
        vec![
            r#"POST /drain/api {"incident": 12, "alert": "ServiceDown"} auth=Bearer s3cret"#
                .to_string()
        ]
    );
    assert_eq!(r.svc.get(e.id).unwrap().state, State::Verifying);
    // Verified only once the alerts stayed resolved for the hold.
    r.host.firing.store(false, Ordering::SeqCst);
    r.run(3, 10_000).await;
    assert_eq!(
        r.svc.get(e.id).unwrap().state,
        State::Verifying,
        "held 20 s of 30"
    );
    r.run(2, 10_000).await;
    let done = r.svc.get(e.id).unwrap();
    assert_eq!(done.state, State::Succeeded, "{done:?}");
    assert!(done.verification.verified_ms.is_some());
    assert!(done.steps[0].output.starts_with("HTTP 200"));

    let j = journal(dir.path());
    let started = events_of(&j, "step_started");
    assert_eq!(started.len(), 1);
    assert_eq!(
        started[0]["inputs"]["url"],
        format!("{}/drain/api", srv.base)
    );
    let text = std::fs::read_to_string(dir.path().join("recover.journal")).unwrap();
    assert!(!text.contains("s3cret"), "a secret reached the journal");
    assert_eq!(events_of(&j, "finished")[0]["state"], "succeeded");
    assert_eq!(
        events_of(&j, "requested")[0]["execution"]["requested_by"],
        "alice"
    );
    // The host heard of the start and the end.
    let changes = r.host.changes.lock().clone();
    assert_eq!(changes.first().unwrap().1, "running");
    assert_eq!(changes.last().unwrap().1, "succeeded");
}

#[tokio::test]
async fn command_step_runs_without_a_shell_and_only_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let yaml = format!(
        r#"
commands: [/usr/bin/printf, /usr/bin/sleep]
runbooks:
  - name: note
    steps:
      - command: {{path: /usr/bin/printf, args: ["%s|%s", "$(touch {0}/pwned)", "{{{{ .Root.Service }}}}"], dir: {0}}}
  - name: slow
    steps:
      - command: {{path: /usr/bin/sleep, args: ["20"]}}
        timeout: 300ms
"#,
        dir.path().display()
    );
    let r = rig(Some(dir.path()), &yaml);
    r.host.firing.store(false, Ordering::SeqCst);
    let e = r
        .svc
        .request("note", &subject(1, "db"), "alice", false)
        .unwrap();
    r.run(2, 1_000).await;
    let e = r.svc.get(e.id).unwrap();
    assert_eq!(e.steps[0].ok, Some(true));
    assert_eq!(
        e.steps[0].output,
        format!("$(touch {}/pwned)|db", dir.path().display())
    );
    assert!(
        !dir.path().join("pwned").exists(),
        "a shell ran the argument"
    );
    assert!(!out.exists());

    // A timeout kills the process and fails the step; without rollback steps
    // the execution fails.
    let e = r
        .svc
        .request("slow", &subject(2, "db"), "alice", false)
        .unwrap();
    let t0 = std::time::Instant::now();
    r.run(3, 1_000).await;
    assert!(t0.elapsed().as_secs() < 10);
    let e = r.svc.get(e.id).unwrap();
    assert_eq!(e.state, State::Failed, "{e:?}");
    assert!(
        e.steps[0].output.contains("timed out"),
        "{}",
        e.steps[0].output
    );

    // An executable outside the allowlist is refused when the config loads.
    let bad = "commands: [/usr/bin/true]\nrunbooks:\n  - name: rm\n    steps:\n      - command: {path: /bin/rm, args: [-rf, /]}\n";
    let c: argus_recover::RecoverConfig = serde_saphyr::from_str(bad).unwrap();
    let err = c.validate("argus.yml", bad).unwrap_err().to_string();
    assert!(
        err.contains("argus.yml:3") && err.contains("/bin/rm is not in recover.commands"),
        "{err}"
    );
}

#[tokio::test]
async fn restart_step_restarts_the_unit_and_checks_it_is_active() {
    // A stand-in for systemctl that records its arguments.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls");
    let sc = dir.path().join("systemctl");
    std::fs::write(
        &sc,
        format!(
            "#!/bin/sh\necho \"$@\" >> {}\n[ \"$1\" = is-active ] && echo active\nexit 0\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&sc, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let yaml = format!(
        "systemctl: {}\nrunbooks:\n  - name: restart\n    steps:\n      - restart: {{unit: \"{{{{ .Root.Service }}}}.service\"}}\n",
        sc.display()
    );
    let r = rig(Some(dir.path()), &yaml);
    let e = r
        .svc
        .request("restart", &subject(3, "nginx"), "alice", false)
        .unwrap();
    r.run(2, 1_000).await;
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "restart nginx.service\nis-active nginx.service\n"
    );
    let e = r.svc.get(e.id).unwrap();
    assert_eq!(e.steps[0].ok, Some(true), "{e:?}");
}

#[tokio::test]
async fn redis_and_nats_switches_write_the_keys_services_watch() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = format!("argus_test_switch_{}", std::process::id());
    let client = async_nats::connect("nats://127.0.0.1:4222")
        .await
        .expect("NATS with JetStream must answer on 127.0.0.1:4222");
    let js = async_nats::jetstream::new(client);
    // The bucket's stream, as `nats kv add` makes it (the server here,
    // 2.9, predates the client's own bucket creation request).
    js.create_stream(async_nats::jetstream::stream::Config {
        name: format!("KV_{bucket}"),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: async_nats::jetstream::stream::DiscardPolicy::New,
        ..Default::default()
    })
    .await
    .expect("NATS JetStream creates the bucket's stream");
    let kv = js.get_key_value(bucket.as_str()).await.unwrap();
    let key = format!("argus:test:degrade:{}", std::process::id());
    let yaml = format!(
        r#"
runbooks:
  - name: switch
    steps:
      - redis_set: {{key: "{key}", value: "{{{{ .Root.Service }}}}", ttl: 1m}}
      - nats_kv_put: {{bucket: {bucket}, key: "traffic.{{{{ .Root.Service }}}}", value: standby}}
"#
    );
    let r = rig(Some(dir.path()), &yaml);
    let e = r
        .svc
        .request("switch", &subject(4, "checkout"), "alice", false)
        .unwrap();
    r.run(3, 1_000).await;
    let e = r.svc.get(e.id).unwrap();
    assert!(e.steps.iter().all(|s| s.ok == Some(true)), "{e:?}");

    let rc = redis::Client::open("redis://127.0.0.1:6379/").unwrap();
    let mut con = rc.get_multiplexed_async_connection().await.unwrap();
    let v: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut con)
        .await
        .unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(v, "checkout");
    assert!(ttl > 0 && ttl <= 60_000, "{ttl}");
    let _: i64 = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut con)
        .await
        .unwrap();

    let got = kv.get("traffic.checkout").await.unwrap().unwrap();
    assert_eq!(&got[..], b"standby");
    js.delete_stream(format!("KV_{bucket}")).await.unwrap();
}

#[tokio::test]
async fn failed_verification_rolls_back_and_a_failed_step_does_too() {
    let dir = tempfile::tempdir().unwrap();
    let srv = recorder(200).await;
    let broken = recorder(503).await;
    let yaml = format!(
        r#"
runbooks:
  - name: scale
    steps:
      - http: {{url: "{0}/scale/up"}}
      - wait: 1m
    verify: {{hold: 1m, deadline: 5m}}
    rollback:
      - http: {{url: "{0}/scale/down"}}
  - name: broken
    steps:
      - http: {{url: "{1}/fail"}}
      - http: {{url: "{0}/never"}}
    rollback:
      - http: {{url: "{0}/undo"}}
"#,
        srv.base, broken.base
    );
    let r = rig(Some(dir.path()), &yaml);
    r.host.firing.store(true, Ordering::SeqCst);
    let e = r
        .svc
        .request("scale", &subject(5, "api"), "alice", false)
        .unwrap();
    // The wait holds the execution for a minute of the clock.
    r.run(3, 20_000).await;
    assert_eq!(r.svc.get(e.id).unwrap().state, State::Running);
    r.run(3, 20_000).await;
    assert_eq!(r.svc.get(e.id).unwrap().state, State::Verifying);
    // Five minutes of alerts still firing: rollback.
    r.run(20, 20_000).await;
    let done = r.svc.get(e.id).unwrap();
    assert_eq!(done.state, State::RolledBack, "{done:?}");
    assert!(
        done.reason.contains("not verified within 300 s"),
        "{}",
        done.reason
    );
    assert_eq!(
        srv.seen
            .lock()
            .iter()
            .map(|s| s.split(' ').take(2).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>(),
        vec!["POST /scale/up", "POST /scale/down"]
    );

    let e = r
        .svc
        .request("broken", &subject(6, "api"), "alice", false)
        .unwrap();
    r.run(4, 1_000).await;
    let done = r.svc.get(e.id).unwrap();
    assert_eq!(done.state, State::RolledBack);
    assert!(done.reason.contains("HTTP 503"), "{}", done.reason);
    let paths: Vec<String> = srv.seen.lock().clone();
    assert!(paths.iter().any(|p| p.starts_with("POST /undo")));
    assert!(
        !paths.iter().any(|p| p.contains("/never")),
        "a step after the failed one ran"
    );
    let j = journal(dir.path());
    assert_eq!(events_of(&j, "rolling_back").len(), 2);
}

#[tokio::test]
async fn wait_until_and_a_condition() {
    let yaml = r#"
runbooks:
  - name: drain
    steps:
      - wait_until: {resolved: [ServiceDown], deadline: 2m}
    verify: {resolved: false, condition: 'up{job="api"} == 1', hold: 0s, deadline: 1m}
"#;
    let r = rig(None, yaml);
    r.host.firing.store(true, Ordering::SeqCst);
    let e = r
        .svc
        .request("drain", &subject(7, "api"), "alice", false)
        .unwrap();
    r.run(3, 10_000).await;
    assert_eq!(r.svc.get(e.id).unwrap().state, State::Running);
    r.host.firing.store(false, Ordering::SeqCst);
    r.run(2, 10_000).await;
    assert_eq!(r.svc.get(e.id).unwrap().state, State::Verifying);
    r.host.condition.store(true, Ordering::SeqCst);
    r.run(2, 10_000).await;
    assert_eq!(r.svc.get(e.id).unwrap().state, State::Succeeded);

    // A wait_until past its deadline fails its step.
    r.host.firing.store(true, Ordering::SeqCst);
    let e = r
        .svc
        .request("drain", &subject(8, "api"), "alice", false)
        .unwrap();
    r.run(15, 10_000).await;
    let done = r.svc.get(e.id).unwrap();
    assert_eq!(done.state, State::Failed);
    assert!(
        done.steps[0].output.contains("ServiceDown still fires"),
        "{}",
        done.steps[0].output
    );
}

#[tokio::test]
async fn restart_step_restarts_a_process_found_by_name() {
    let dir = tempfile::tempdir().unwrap();
    // A copy of sleep under a name no other process has.
    let name = format!("arsl{}", std::process::id() % 100_000);
    let bin = dir.path().join(&name);
    std::fs::copy("/usr/bin/sleep", &bin).unwrap();
    let mut first = std::process::Command::new(&bin).arg("300").spawn().unwrap();
    // spawn returns once the child has left our memory, a moment before
    // exec gives it its new name: wait until the name shows.
    let which = argus_recover::process::Which::Name(name.clone());
    for _ in 0..500 {
        if argus_recover::process::pids(&which).contains(&first.id()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let yaml = format!(
        "commands: [{bin}]\nrunbooks:\n  - name: bounce\n    steps:\n      - restart: {{process: {name}, start: {{path: {bin}, args: ['300']}}}}\n        timeout: 10s\n",
        bin = bin.display()
    );
    let r = rig(None, &yaml);
    let e = r
        .svc
        .request("bounce", &subject(9, "x"), "alice", false)
        .unwrap();
    r.run(2, 1_000).await;
    let e = r.svc.get(e.id).unwrap();
    assert_eq!(e.steps[0].ok, Some(true), "{e:?}");
    assert!(
        first.try_wait().unwrap().is_some(),
        "the old process {} still runs: {}",
        first.id(),
        e.steps[0].output
    );
    let now = argus_recover::process::pids(&which);
    assert_eq!(now.len(), 1, "{now:?}");
    assert!(
        e.steps[0].output.contains("running again"),
        "{}",
        e.steps[0].output
    );
    for p in now {
        let _ = std::process::Command::new("kill")
            .arg(p.to_string())
            .status();
    }
    // Without exactly one of unit, process and pid_file the config is refused.
    let bad =
        "runbooks:\n  - name: x\n    steps:\n      - restart: {unit: a.service, process: a}\n";
    let c: argus_recover::RecoverConfig = serde_saphyr::from_str(bad).unwrap();
    assert!(c
        .validate("argus.yml", bad)
        .unwrap_err()
        .to_string()
        .contains("exactly one of unit"));
}
