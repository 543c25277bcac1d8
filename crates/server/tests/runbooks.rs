//! Runbooks in a running server: an automatic runbook fixes a fault (its
//! HTTP step makes the service resolve its alert), the recovery is verified
//! and becomes the incident's recovered time, and the execution survives a
//! restart; an approval runbook needs someone else, a dry run runs nothing,
//! failed verification rolls back and pages with `RunbookFailed`, and the
//! kill switch refuses new executions — all through the HTTP API.

mod common;
use argus_model::SystemClock;
use common::{alertmanager_to_webhook, get_json, get_text, start_server, wait_for_alert, webhook};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn rfc3339(offset_s: i64) -> String {
    let t = chrono::Utc::now() + chrono::Duration::seconds(offset_s);
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn down(service: &str, ends_in_s: i64) -> Value {
    json!([{
        "labels": {"alertname": "ServiceDown", "service": service, "severity": "critical"},
        "startsAt": rfc3339(-20),
        "endsAt": rfc3339(ends_in_s),
    }])
}

async fn post(url: String, who: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(url)
        .header("X-Argus-User", who)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A stand-in for the service and its operator tools: `/fix/{service}`
/// resolves the service's alert in Argus (as the service coming back would);
/// every other path is recorded and answered 200.
async fn tools(argus: Arc<Mutex<String>>) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let (seen, argus) = (s2.clone(), argus.clone());
        async move {
            let path = uri.path().to_string();
            seen.lock().unwrap().push(path.clone());
            if let Some(svc) = path.strip_prefix("/fix/") {
                let base = argus.lock().unwrap().clone();
                let r = reqwest::Client::new()
                    .post(format!("{base}/api/v2/alerts"))
                    .json(&down(svc, -1))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
            "done"
        }
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    (format!("http://{addr}"), seen)
}

async fn wait_execution(base: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let t0 = Instant::now();
    loop {
        let v = get_json(format!("{base}/api/argus/v1/runbooks/executions")).await;
        if let Some(e) = v["data"]["executions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| pred(e))
        {
            return e.clone();
        }
        assert!(t0.elapsed() < Duration::from_secs(40), "executions: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn incident_id(base: &str) -> String {
    let t0 = Instant::now();
    loop {
        let v = get_json(format!("{base}/api/argus/v1/incidents")).await;
        if let Some(id) = v["data"]
            .as_array()
            .and_then(|l| l.first())
            .and_then(|i| i["id"].as_str())
        {
            return id.to_string();
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "no incident: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automatic_runbook_recovers_and_the_recovery_is_verified() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (hook_port, _hooks) = webhook().await;
    let am = alertmanager_to_webhook(dir.path(), hook_port);
    let argus = Arc::new(Mutex::new(String::new()));
    let (tools_url, seen) = tools(argus.clone()).await;
    let yaml = format!(
        r#"
alerting: {{config_file: '{}'}}
recover:
  runbooks:
    - name: restart-service
      description: Restart the failed service.
      mode: auto
      match: {{labels: {{alertname: ServiceDown}}}}
      steps:
        - name: restart
          http: {{url: "{tools_url}/fix/{{{{ .Labels.service }}}}"}}
      verify: {{hold: 2s, deadline: 1m}}
"#,
        am.display()
    );
    let srv = start_server(&data, &yaml, Arc::new(SystemClock), None).await;
    let base = srv.base.clone();
    *argus.lock().unwrap() = base.clone();

    let r = reqwest::Client::new()
        .post(format!("{base}/api/v2/alerts"))
        .json(&down("api", 600))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = incident_id(&base).await;
    let e = wait_execution(&base, |e| e["state"] == "succeeded").await;
    assert_eq!(e["runbook"], "restart-service");
    assert_eq!(e["requested_by"], "argus");
    assert_eq!(e["incident"].to_string(), id);
    assert_eq!(e["steps"][0]["ok"], true);
    assert!(e["verification"]["verified_at"].is_string(), "{e}");
    assert_eq!(*seen.lock().unwrap(), vec!["/fix/api".to_string()]);

    // The incident's recovered time comes from the verified run, and its
    // timeline says what happened.
    let t0 = Instant::now();
    let inc = loop {
        let inc = get_json(format!("{base}/api/argus/v1/incidents/{id}")).await["data"].clone();
        let lines = inc["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["kind"] == "runbook")
            .count();
        if lines >= 3 && !inc["times"]["recovered"].is_null() {
            break inc;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "{inc}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let texts: Vec<&str> = inc["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "runbook")
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert!(
        texts[0].contains("restart-service started (asked for by argus)"),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("recovery verified")),
        "{texts:?}"
    );

    let metrics = get_text(format!("{base}/metrics")).await;
    assert!(
        metrics.contains(
            "argus_runbook_executions{runbook=\"restart-service\",state=\"succeeded\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("argus_runbook_paused 0"));

    // The incident page shows the execution with its step and verification.
    let html = get_text(format!("{base}/ui/incidents/{id}")).await;
    assert!(html.contains("id=\"runbooks\""), "no runbooks section");
    assert!(html.contains("execution-"), "no execution");
    assert!(html.contains("Verified at"), "no verification");

    // A restart keeps the execution (read back from the journal) and does
    // not run the automatic runbook again for the same incident.
    srv.stop().await;
    let srv = start_server(&data, &yaml, Arc::new(SystemClock), None).await;
    let base = srv.base.clone();
    *argus.lock().unwrap() = base.clone();
    let v = get_json(format!("{base}/api/argus/v1/runbooks/executions")).await;
    let list = v["data"]["executions"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    assert_eq!(list[0]["state"], "succeeded");
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(seen.lock().unwrap().len(), 1, "ran again after the restart");
    let audit = get_json(format!("{base}/api/argus/v1/runbooks/audit")).await;
    let kinds: Vec<&str> = audit["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "requested",
            "step_started",
            "step_finished",
            "verifying",
            "finished"
        ]
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_dry_run_rollback_escalation_and_the_kill_switch() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (hook_port, hooks) = webhook().await;
    let am = alertmanager_to_webhook(dir.path(), hook_port);
    let argus = Arc::new(Mutex::new(String::new()));
    let (tools_url, seen) = tools(argus.clone()).await;
    let yaml = format!(
        r#"
alerting: {{config_file: '{}'}}
recover:
  runbooks:
    - name: failover
      mode: approval
      match: {{root_service: db}}
      steps:
        - http: {{url: "{tools_url}/promote/{{{{ .Root.Service }}}}-replica"}}
      verify: {{hold: 1s, deadline: 3s}}
      rollback:
        - http: {{url: "{tools_url}/demote/{{{{ .Root.Service }}}}-replica"}}
"#,
        am.display()
    );
    let srv = start_server(&data, &yaml, Arc::new(SystemClock), None).await;
    let base = srv.base.clone();
    *argus.lock().unwrap() = base.clone();
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v2/alerts"))
        .json(&down("db", 600))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = incident_id(&base).await;
    let offered = get_json(format!("{base}/api/argus/v1/incidents/{id}/runbooks")).await;
    assert_eq!(
        offered["data"]["runbooks"][0]["name"], "failover",
        "{offered}"
    );

    let run = format!("{base}/api/argus/v1/incidents/{id}/runbooks/failover");
    let (st, dry) = post(run.clone(), "alice", json!({"dry_run": true})).await;
    assert_eq!(st, 200, "{dry}");
    assert_eq!(dry["data"]["state"], "dry_run");
    assert_eq!(
        dry["data"]["steps"][0]["inputs"]["url"],
        format!("{tools_url}/promote/db-replica")
    );
    assert_eq!(dry["data"]["steps"][1]["phase"], "rollback");

    let (st, asked) = post(run.clone(), "alice", json!({})).await;
    assert_eq!(st, 200, "{asked}");
    assert_eq!(asked["data"]["state"], "pending_approval");
    let ex = asked["data"]["id"].as_u64().unwrap();
    let approve = format!("{base}/api/argus/v1/runbooks/executions/{ex}/approve");
    let (st, body) = post(approve.clone(), "alice", json!({})).await;
    assert_eq!(st, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("someone else"));
    let (st, body) = post(approve, "bob", json!({})).await;
    assert_eq!(st, 200, "{body}");

    // The alert keeps firing: not verified within 3 s, so it rolls back and pages.
    let e = wait_execution(&base, |e| e["state"] == "rolled_back").await;
    assert_eq!(e["approved_by"], "bob");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .contains("not verified within 3 s"),
        "{e}"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            "/promote/db-replica".to_string(),
            "/demote/db-replica".to_string()
        ]
    );
    let page = wait_for_alert(&hooks, "RunbookFailed", 20).await;
    assert_eq!(page["labels"]["runbook"], "failover");
    assert_eq!(page["labels"]["severity"], "critical");

    // The kill switch refuses new executions until turned off.
    let (st, _) = post(
        format!("{base}/api/argus/v1/runbooks/kill-switch"),
        "carol",
        json!({"on": true}),
    )
    .await;
    assert_eq!(st, 200);
    let (st, body) = post(run.clone(), "alice", json!({})).await;
    assert_eq!(st, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("kill switch turned on by carol"),
        "{body}"
    );
    let listed = get_json(format!("{base}/api/argus/v1/runbooks")).await;
    assert_eq!(listed["data"]["paused_by"], "carol");
    let (st, _) = post(
        format!("{base}/api/argus/v1/runbooks/kill-switch"),
        "carol",
        json!({"on": false}),
    )
    .await;
    assert_eq!(st, 200);
    let (st, body) = post(run, "alice", json!({})).await;
    assert_eq!(st, 200, "{body}");

    let audit = get_json(format!("{base}/api/argus/v1/runbooks/audit")).await;
    let evs = audit["data"]["events"].as_array().unwrap();
    let refused: Vec<&Value> = evs.iter().filter(|e| e["event"] == "refused").collect();
    assert_eq!(refused.len(), 2, "{audit}");
    assert_eq!(refused[0]["who"], "alice");
    assert_eq!(
        evs.iter().filter(|e| e["event"] == "kill_switch").count(),
        2
    );
    srv.stop().await;
}

/// A chat robot (WeCom's API shape) on loopback: records each message.
async fn robot() -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let s2 = seen.clone();
    let app = axum::Router::new().route(
        "/robot",
        axum::routing::post(move |b: axum::Json<Value>| {
            let s = s2.clone();
            async move {
                s.lock().unwrap().push(b.0);
                axum::Json(json!({"errcode": 0, "errmsg": "ok"}))
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/robot?key=k", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_carries_a_signed_link_that_runs_the_runbook() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (robot_url, messages) = robot().await;
    let am = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am,
        format!(
            "route: {{receiver: team, group_wait: 0s}}\nreceivers: [{{name: team}}]\n\
             argus:\n  wecom_configs: [{{receiver: team, url: \"{robot_url}\"}}]\n"
        ),
    )
    .unwrap();
    let argus = Arc::new(Mutex::new(String::new()));
    let (tools_url, seen) = tools(argus.clone()).await;
    let yaml = format!(
        r#"
alerting: {{config_file: '{}'}}
recover:
  runbooks:
    - name: restart-api
      match: {{labels: {{service: api}}}}
      steps:
        - http: {{url: "{tools_url}/fix/{{{{ .Labels.service }}}}"}}
      verify: {{hold: 1s, deadline: 1m}}
    - name: not-for-db
      match: {{labels: {{service: db}}}}
      steps: [{{wait: 1s}}]
"#,
        am.display()
    );
    let srv = start_server(&data, &yaml, Arc::new(SystemClock), None).await;
    let base = srv.base.clone();
    *argus.lock().unwrap() = base.clone();
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v2/alerts"))
        .json(&down("api", 600))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t0 = Instant::now();
    let text = loop {
        if let Some(m) = messages.lock().unwrap().first() {
            break m["markdown"]["content"].as_str().unwrap().to_string();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no message reached the robot"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!text.contains("not-for-db"), "{text}");
    let url = text
        .split("[Run runbook restart-api](")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("no runbook link in {text}"))
        .to_string();
    assert!(
        url.starts_with(&format!("{base}/api/argus/v1/link/run?")),
        "{url}"
    );

    // GET only shows what the link would do.
    let page = get_text(url.clone()).await;
    assert!(page.contains("runbook restart-api"), "{page}");
    assert!(seen.lock().unwrap().is_empty(), "GET ran the runbook");
    let none = get_json(format!("{base}/api/argus/v1/runbooks/executions")).await;
    assert_eq!(none["data"]["executions"].as_array().unwrap().len(), 0);

    // POST runs it, as the recipient of the link.
    let form: Vec<(String, String)> = reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let path = url.split('?').next().unwrap();
    let r = reqwest::Client::new()
        .post(path)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Started runbook restart-api"));
    let e = wait_execution(&base, |e| e["state"] == "succeeded").await;
    assert_eq!(e["requested_by"], "link:team");
    assert_eq!(*seen.lock().unwrap(), vec!["/fix/api".to_string()]);

    // A tampered link runs nothing.
    let bad: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if k == "target" {
                    v.replace("restart-api", "not-for-db")
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    let r = reqwest::Client::new()
        .post(path)
        .form(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        get_json(format!("{base}/api/argus/v1/runbooks/executions")).await["data"]["executions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    srv.stop().await;
}
