//! Incidents in a running server: alerts posted to the Alertmanager API
//! (the path every source's alerts take into the pipeline) are grouped by
//! the configured service graph, the webhook delivery marks them notified,
//! an acknowledgement through the incidents API is kept, and a restart
//! neither loses nor duplicates an incident.

mod common;
use argus_model::SystemClock;
use common::{
    alertmanager_to_webhook, get_json, get_text, import_text, start_server, wait_for_alert, webhook,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn now_rfc3339(offset_s: i64) -> String {
    let t = chrono::Utc::now() + chrono::Duration::seconds(offset_s);
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn post_alerts(base: &str, alerts: Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v2/alerts"))
        .json(&alerts)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

fn alert(name: &str, labels: &[(&str, &str)]) -> Value {
    let mut l = serde_json::Map::new();
    l.insert("alertname".into(), json!(name));
    for (k, v) in labels {
        l.insert((*k).into(), json!(v));
    }
    json!({"labels": l, "startsAt": now_rfc3339(-30), "endsAt": now_rfc3339(600)})
}

/// Polls the incident list until `pred` holds.
async fn wait_list(base: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let t0 = Instant::now();
    loop {
        let v = get_json(format!("{base}/api/argus/v1/incidents")).await;
        let list = v["data"].as_array().cloned().unwrap_or_default();
        if pred(&list) {
            return list;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "incidents: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_become_incidents_that_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (hook_port, hooks) = webhook().await;
    let am = alertmanager_to_webhook(dir.path(), hook_port);
    let yaml = format!(
        "alerting: {{config_file: '{}'}}\n\
         incidents:\n  topology:\n    - {{caller: web, callee: api}}\n    - {{caller: api, callee: db}}\n",
        am.display()
    );
    let clock = Arc::new(SystemClock);
    let srv = start_server(&data, &yaml, clock.clone(), None).await;
    let base = srv.base.clone();

    // One fault under a call chain, seen by three sources with their own
    // labels, and an unrelated alert elsewhere at the same time.
    post_alerts(
        &base,
        json!([
            alert(
                "HighLatency",
                &[("job", "web"), ("instance", "10.0.0.1:8080")]
            ),
            alert("Errors", &[("service", "api"), ("severity", "warning")]),
            alert("SlowQueries", &[("app", "db"), ("severity", "critical")]),
            alert("CertExpiring", &[("service", "billing")]),
        ]),
    )
    .await;
    let list = wait_list(&base, |l| {
        l.len() == 2 && l.iter().any(|i| i["alerts"] == 3)
    })
    .await;
    let fault = list.iter().find(|i| i["alerts"] == 3).unwrap().clone();
    assert_eq!(fault["root"]["service"], "db", "{fault}");
    assert_eq!(fault["severity"], "critical");
    let id = fault["id"].as_str().unwrap().to_string();

    // The webhook delivery is recorded as the incident's notification.
    wait_for_alert(&hooks, "SlowQueries", 10).await;
    let t0 = Instant::now();
    loop {
        let one = get_json(format!("{base}/api/argus/v1/incidents/{id}")).await;
        if !one["data"]["times"]["notified"].is_null() {
            assert!(one["data"]["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "notified"));
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "{one}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A person takes it.
    let r = reqwest::Client::new()
        .post(format!("{base}/api/argus/v1/incidents/{id}/ack"))
        .header("X-Argus-User", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = reqwest::Client::new()
        .post(format!("{base}/api/argus/v1/incidents/{id}/ack"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "an action needs an actor");
    let r = reqwest::Client::new()
        .post(format!("{base}/api/argus/v1/incidents/999/ack"))
        .header("X-Argus-User", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("argus_incidents{state=\"acknowledged\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("argus_incident_time_to_detect_seconds_count 2"));
    srv.stop().await;

    // After a restart: the same incidents, acknowledged, and the same
    // alerts sent again join them instead of opening new ones.
    let srv = start_server(&data, &yaml, clock, None).await;
    let base = srv.base.clone();
    let list = wait_list(&base, |l| l.len() == 2).await;
    let again = list.iter().find(|i| i["id"] == id.as_str()).unwrap();
    assert_eq!(again["state"], "acknowledged");
    assert_eq!(again["owner"], "alice");
    post_alerts(
        &base,
        json!([
            alert(
                "HighLatency",
                &[("job", "web"), ("instance", "10.0.0.1:8080")]
            ),
            alert("Errors", &[("service", "api"), ("severity", "warning")]),
        ]),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let list = wait_list(&base, |l| l.len() == 2).await;
    assert_eq!(
        list.iter().find(|i| i["id"] == id.as_str()).unwrap()["alerts"],
        3
    );
    let times = get_json(format!("{base}/api/argus/v1/incidents/times")).await;
    assert_eq!(times["data"]["incidents"], 2, "{times}");
    srv.stop().await;
}

/// A route that groups by incident pages once per incident: a fault's
/// three alerts from three sources make one notification, an unrelated
/// alert another, and the group labels name the incident.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_grouped_by_incident_pages_once_per_incident() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (hook_port, hooks) = webhook().await;
    let am = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am,
        format!(
            "route: {{receiver: hook, group_by: [incident], group_wait: 2s, group_interval: 1m}}\n\
             receivers:\n  - name: hook\n    webhook_configs: [{{url: 'http://127.0.0.1:{hook_port}/'}}]\n\
             argus: {{flap_damping: {{enabled: false}}}}\n"
        ),
    )
    .unwrap();
    let yaml = format!(
        "alerting: {{config_file: '{}'}}\n\
         incidents:\n  topology:\n    - {{caller: web, callee: api}}\n    - {{caller: api, callee: db}}\n",
        am.display()
    );
    let srv = start_server(&data, &yaml, Arc::new(SystemClock), None).await;
    post_alerts(
        &srv.base,
        json!([
            alert("HighLatency", &[("job", "web")]),
            alert("Errors", &[("service", "api")]),
            alert("SlowQueries", &[("app", "db")]),
            alert("CertExpiring", &[("service", "billing")]),
        ]),
    )
    .await;
    let t0 = Instant::now();
    while hooks.lock().unwrap().len() < 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "{:?}",
            hooks.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pages = hooks.lock().unwrap().clone();
    assert_eq!(pages.len(), 2, "one page per incident: {pages:?}");
    let mut sizes: Vec<usize> = pages
        .iter()
        .map(|p| p["alerts"].as_array().unwrap().len())
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, vec![1, 3]);
    let list = wait_list(&srv.base, |l| l.len() == 2).await;
    for p in &pages {
        let inc = p["groupLabels"]["incident"]
            .as_str()
            .expect("group labels name the incident");
        assert!(list.iter().any(|i| i["id"] == inc), "{inc} in {list:?}");
    }
    srv.stop().await;
}

/// What else moved: the series of the incident's services that changed
/// against their last hour rank first, the root's own series before its
/// callers', an unrelated service's series not at all; and the root's series
/// moving before its first alert moves the fault's estimated start earlier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_ranks_what_else_moved() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let yaml = "incidents:\n  topology:\n    - {caller: web, callee: api}\n    - {caller: api, callee: db}\n";
    let srv = start_server(&data, yaml, Arc::new(SystemClock), None).await;
    let now = chrono::Utc::now().timestamp_millis() / 60_000 * 60_000;
    let mut text = String::new();
    for i in 0..=90 {
        let t = now - (90 - i) * 60_000;
        let jitter = (i % 3) as f64;
        let cpu = if t >= now - 4 * 60_000 {
            97.0
        } else {
            20.0 + jitter
        };
        let lat = if t >= now - 2 * 60_000 {
            2.5
        } else {
            0.2 + jitter / 100.0
        };
        text.push_str(&format!("db_cpu_percent{{service=\"db\"}} {cpu} {t}\n"));
        text.push_str(&format!("http_latency_seconds{{job=\"web\"}} {lat} {t}\n"));
        text.push_str(&format!(
            "billing_queue{{service=\"billing\"}} {} {t}\n",
            5.0 + jitter
        ));
    }
    import_text(&srv.base, text).await;
    post_alerts(
        &srv.base,
        json!([
            alert("HighLatency", &[("job", "web")]),
            alert("CPUHigh", &[("service", "db")]),
        ]),
    )
    .await;
    let list = wait_list(&srv.base, |l| l.len() == 1 && l[0]["alerts"] == 2).await;
    let id = list[0]["id"].as_str().unwrap().to_string();
    let before = list[0]["times"]["faultStart"].as_str().unwrap().to_string();
    let ev = get_json(format!("{}/api/argus/v1/incidents/{id}/evidence", srv.base)).await;
    let moves = ev["data"].as_array().unwrap_or_else(|| panic!("{ev}"));
    let names: Vec<&str> = moves
        .iter()
        .map(|m| m["labels"]["__name__"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["db_cpu_percent", "http_latency_seconds"],
        "{ev}"
    );
    assert_eq!(moves[0]["hops"], 0);
    assert_eq!(moves[0]["direction"], "up");
    let one = get_json(format!("{}/api/argus/v1/incidents/{id}", srv.base)).await;
    let after = one["data"]["times"]["faultStart"].as_str().unwrap();
    let ms = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    };
    assert_eq!(ms(after), now - 4 * 60_000, "was {before}");
    assert_eq!(one["data"]["evidence"].as_array().unwrap().len(), 2);
    let page = reqwest::get(format!("{}/ui/incidents/{id}", srv.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("What else moved"), "{page}");
    assert!(
        page.contains("db_cpu_percent{service=&quot;db&quot;}")
            || page.contains("db_cpu_percent{service=\"db\"}"),
        "{page}"
    );
    srv.stop().await;
}

async fn get_html(url: String) -> (u16, String) {
    let r = reqwest::get(&url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incident_pages_show_an_incident_from_posted_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "incidents:\n  topology:\n    - {caller: web, callee: api}\n    - {caller: api, callee: db}\n    - {caller: batch, callee: db}\n";
    let srv = start_server(&dir.path().join("data"), yaml, Arc::new(SystemClock), None).await;
    let base = srv.base.clone();
    post_alerts(
        &base,
        json!([
            alert("Errors", &[("service", "api"), ("severity", "warning")]),
            alert("SlowQueries", &[("app", "db"), ("severity", "critical")]),
        ]),
    )
    .await;
    let list = wait_list(&base, |l| l.iter().any(|i| i["alerts"] == 2)).await;
    let inc = list.iter().find(|i| i["alerts"] == 2).unwrap();
    let id = inc["id"].as_str().unwrap().to_string();
    let title = inc["title"].as_str().unwrap().to_string();
    assert_eq!(inc["root"]["service"], "db", "{inc}");

    // The list: the active tab shows it with its actions.
    let (status, html) = get_html(format!("{base}/ui/incidents")).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(&format!("<a href=\"/ui/incidents/{id}\">{title}</a>")),
        "{html}"
    );
    assert!(html.contains(&format!(
        "data-incident=\"{id}\" data-incident-action=\"ack\""
    )));
    assert!(html.contains("<span class=\"st st-open\">open</span>"));
    let (_, resolved) = get_html(format!("{base}/ui/incidents?state=resolved")).await;
    assert!(resolved.contains("No resolved incident."), "{resolved}");

    // The incident's page: title, root, times, alerts, timeline and the map.
    let (status, html) = get_html(format!("{base}/ui/incidents/{id}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(&format!("<h1>Incident {id}: {title}</h1>")),
        "{html}"
    );
    assert!(html.contains("<strong>service db</strong>"), "{html}");
    assert!(html.contains("<th scope=\"row\">Fault start</th>"));
    assert!(html.contains("<strong>SlowQueries</strong>"));
    assert!(html.contains("<strong>Errors</strong>"));
    assert!(
        html.contains("<span class=\"st st-opened\">opened</span>"),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"st st-alert_firing\">alert firing</span>"),
        "{html}"
    );
    assert!(
        html.contains("class=\"node incident root\" data-service=\"db\""),
        "{html}"
    );
    assert!(
        html.contains("class=\"node\" data-service=\"web\""),
        "{html}"
    );
    assert!(
        html.contains("class=\"node\" data-service=\"batch\""),
        "{html}"
    );

    // After an acknowledgement the page says so and offers no second one.
    let r = reqwest::Client::new()
        .post(format!("{base}/api/argus/v1/incidents/{id}/ack"))
        .header("X-Argus-User", "ui")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, html) = get_html(format!("{base}/ui/incidents/{id}")).await;
    assert!(
        html.contains("id=\"incident-state\">acknowledged</span>"),
        "{html}"
    );
    assert!(!html.contains("data-incident-action=\"ack\""));
    assert!(html.contains("data-incident-action=\"resolve\""));

    // The overview's 1-5-10 panel counts it.
    let (_, html) = get_html(format!("{base}/ui/")).await;
    assert!(html.contains("1 incident in the last 7 days"), "{html}");
    assert!(!html.contains("one-five-ten-empty"));

    // No such incident, or no number: a page that says so, with 404.
    let (status, html) = get_html(format!("{base}/ui/incidents/999")).await;
    assert_eq!(status, 404);
    assert!(html.contains("There is no incident 999."));
    let (status, _) = get_html(format!("{base}/ui/incidents/x%3Fy")).await;
    assert_eq!(status, 404);
    srv.stop().await;
}

/// A CPU hog in the middle of a call chain (`web` → `api` → `db`): `api`'s
/// CPU rises three minutes before the alerts and its latency with it, which
/// `web`'s latency follows; `db` and an idle `billing` only wobble. The
/// incident's likely causes rank `api` first, as a CPU fault, and the
/// incident page shows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn likely_causes_rank_a_cpu_hog_in_a_call_chain_first() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let yaml = "incidents:\n  topology:\n    - {caller: web, callee: api}\n    - {caller: api, callee: db}\n";
    let srv = start_server(&data, yaml, Arc::new(SystemClock), None).await;
    let now = chrono::Utc::now().timestamp_millis() / 60_000 * 60_000;
    let mut text = String::new();
    for i in 0..=60 {
        let t = now - (60 - i) * 60_000;
        let wobble = ((i * 7919) % 13) as f64 / 13.0;
        let hog = t >= now - 3 * 60_000;
        for (svc, cpu, lat) in [
            ("web", 0.30, 0.120),
            ("api", 0.25, 0.060),
            ("db", 0.40, 0.010),
            ("billing", 0.001, 0.002),
        ] {
            let mut c = cpu * (1.0 + 0.05 * wobble);
            let mut l = lat * (1.0 + 0.05 * wobble);
            if hog && svc == "api" {
                c = 1.9;
                l += 0.4;
            }
            if hog && svc == "web" {
                l += 0.4;
            }
            if svc == "billing" && i == 58 {
                c *= 3.0;
            }
            text.push_str(&format!(
                "container_cpu_usage{{service=\"{svc}\"}} {c} {t}\n\
                 request_latency_seconds{{service=\"{svc}\"}} {l} {t}\n"
            ));
        }
    }
    let (id, suspects) = suspects_after_latency_alerts(&srv.base, text).await;
    assert_eq!(suspects[0]["service"], "api", "{suspects:#?}");
    assert_eq!(suspects[0]["kind"], "cpu", "{suspects:#?}");
    assert_eq!(
        suspects[0]["metric"], "container_cpu_usage",
        "{suspects:#?}"
    );
    assert!(
        suspects.iter().all(|s| s["service"] != "billing"),
        "an idle service's blip is no suspect: {suspects:#?}"
    );
    let page = get_text(format!("{}/ui/incidents/{id}", srv.base)).await;
    let at = page
        .find("Likely causes")
        .unwrap_or_else(|| panic!("{page}"));
    let table = &page[at..];
    assert!(
        table.find("<strong>api</strong>") < table.find("<strong>web</strong>")
            && table.contains("<strong>api</strong>"),
        "{table}"
    );
    srv.stop().await;
}

/// More series than the ranking may read (2 000): a sidecar's byte counter
/// per pod, twelve services of 170 pods, sorts before every other family.
/// Cut in the store's order, only those would be read; taken fairly, each
/// service's cpu and latency are read too and the hog is still named.
#[tokio::test]
async fn a_large_system_is_ranked_on_a_fair_share_of_its_series() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let yaml = "incidents:\n  topology:\n    - {caller: web, callee: api}\n    - {caller: api, callee: db}\n";
    let srv = start_server(&data, yaml, Arc::new(SystemClock), None).await;
    let now = chrono::Utc::now().timestamp_millis() / 60_000 * 60_000;
    let services: Vec<String> = ["web", "api", "db"]
        .into_iter()
        .map(str::to_string)
        .chain((0..9).map(|k| format!("svc-{k}")))
        .collect();
    let mut text = String::new();
    for i in 0..=60 {
        let t = now - (60 - i) * 60_000;
        let wobble = ((i * 7919) % 13) as f64 / 13.0;
        let hog = t >= now - 3 * 60_000;
        for svc in &services {
            let (mut c, mut l) = (0.3 * (1.0 + 0.05 * wobble), 0.05 * (1.0 + 0.05 * wobble));
            if hog && svc == "api" {
                c = 1.9;
                l += 0.4;
            }
            if hog && svc == "web" {
                l += 0.4;
            }
            text.push_str(&format!(
                "container_cpu_usage{{service=\"{svc}\"}} {c} {t}\n\
                 request_latency_seconds{{service=\"{svc}\"}} {l} {t}\n"
            ));
            if i % 15 == 0 {
                for pod in 0..170 {
                    text.push_str(&format!(
                        "aaa_sidecar_bytes{{service=\"{svc}\",pod=\"{svc}-{pod}\"}} 1000 {t}\n"
                    ));
                }
            }
        }
    }
    let (_, suspects) = suspects_after_latency_alerts(&srv.base, text).await;
    assert_eq!(suspects[0]["service"], "api", "{suspects:#?}");
    assert_eq!(suspects[0]["kind"], "cpu", "{suspects:#?}");
    srv.stop().await;
}

/// Imports `text`, posts latency alerts on web and api (one incident), and
/// returns the incident's id and its likely causes once its evidence ran.
async fn suspects_after_latency_alerts(base: &str, text: String) -> (String, Vec<Value>) {
    import_text(base, text).await;
    post_alerts(
        base,
        json!([
            alert("HighLatency", &[("service", "web")]),
            alert("HighLatency", &[("service", "api")]),
        ]),
    )
    .await;
    let list = wait_list(base, |l| l.len() == 1 && l[0]["alerts"] == 2).await;
    let id = list[0]["id"].as_str().unwrap().to_string();
    let ev = get_json(format!("{base}/api/argus/v1/incidents/{id}/evidence")).await;
    assert_eq!(ev["status"], "success", "{ev}");
    let one = get_json(format!("{base}/api/argus/v1/incidents/{id}")).await;
    let suspects = one["data"]["suspects"]
        .as_array()
        .unwrap_or_else(|| panic!("no suspects: {one}"))
        .clone();
    (id, suspects)
}
