//! One-click links end to end: a WeCom robot receiver (local axum) gets a notification whose
//! signed links are followed: GET shows a confirmation page and changes nothing, POST acts and
//! is recorded with who and when; tampered and expired links get 403. The history API filters by
//! labels, type and time.

mod common;

use argus_alert::config::Config;
use argus_alert::links::{LinkAction, LinkSigner, LinkTarget};
use argus_server::alerting::AlertingService;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Seen = Arc<Mutex<Vec<Value>>>;

async fn robot(State(seen): State<Seen>, Json(b): Json<Value>) -> Json<Value> {
    seen.lock().unwrap().push(b);
    Json(json!({"errcode": 0, "errmsg": "ok"}))
}

async fn wait_message(seen: &Seen) -> String {
    let start = Instant::now();
    loop {
        if let Some(b) = seen.lock().unwrap().first() {
            return b["markdown"]["content"].as_str().unwrap().to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no WeCom message arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn link_in(text: &str, label: &str) -> String {
    text.split(&format!("[{label}]("))
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("no {label} link in {text}"))
        .to_string()
}

fn form_of(url: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_links_confirm_act_and_are_recorded() {
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .route("/robot", axum::routing::post(robot))
        .with_state(seen.clone());
    let rl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let robot_url = format!("http://{}/robot?key=k", rl.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(rl, app).await });

    let yaml = format!(
        "route: {{receiver: team, group_by: [alertname], group_wait: 0s}}\n\
         receivers: [{{name: team}}]\n\
         argus:\n  wecom_configs: [{{receiver: team, url: \"{robot_url}\"}}]\n  links: {{ttl: 1h, silence_for: 30m}}\n"
    );
    let cfg = Config::parse(&yaml, "alertmanager.yml").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let svc = AlertingService::start(
        cfg,
        dir.path(),
        base.clone(),
        Arc::new(argus_model::SystemClock),
    )
    .await
    .unwrap();
    let router = svc.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let http = reqwest::Client::new();

    let r = http
        .post(format!("{base}/api/v2/alerts"))
        .json(
            &json!([{"labels": {"alertname": "DiskFull", "severity": "critical"},
                       "annotations": {"value": "97%", "upper": "90%"}}]),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let text = wait_message(&seen).await;
    assert!(
        text.contains("value: **97%** (expected [-∞, 90%])"),
        "{text}"
    );
    let ack = link_in(&text, "Acknowledge");
    assert!(
        ack.starts_with(&format!("{base}/api/argus/v1/link/ack?")),
        "{ack}"
    );

    // GET: a confirmation page only.
    let r = http.get(&ack).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("<form method=\"post\">") && page.contains("Acknowledge"),
        "{page}"
    );
    let hist = |q: &'static str| {
        let url = format!("{base}/api/argus/v1/alert-history?{q}");
        async move {
            common::get_json(url).await["data"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    assert!(hist("type=actions").await.is_empty(), "GET must not act");

    // POST: acts once; a second click reports the first acknowledgement.
    let r = http.post(&ack).form(&form_of(&ack)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Acknowledged by link:team"));
    let r = http.post(&ack).form(&form_of(&ack)).send().await.unwrap();
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Already acknowledged by link:team"));

    // Tampered and expired links.
    let tampered = ack.replace("to=team", "to=mallory");
    let r = http.get(&tampered).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("signature is not valid"));
    let key = std::fs::read(
        dir.path()
            .join("alerting")
            .join(argus_alert::links::SECRET_FILE),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(dir.path().join("alerting/link.secret")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
    }
    let fp = form_of(&ack)
        .into_iter()
        .find(|(k, _)| k == "target")
        .unwrap()
        .1;
    let target = LinkTarget::decode(&fp).unwrap();
    let old = LinkSigner::new(&key, &base, -120_000).url(
        LinkAction::Ack,
        &target,
        "team",
        argus_model::Clock::now_ms(&argus_model::SystemClock),
    );
    let r = http.post(&old).form(&form_of(&old)).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("expired"));

    // Silence by link.
    let sil = link_in(&text, "Silence");
    let r = http.post(&sil).form(&form_of(&sil)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let sils: Value = http
        .get(format!("{base}/api/v2/silences"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sils[0]["createdBy"], "link:team");
    assert_eq!(sils[0]["matchers"].as_array().unwrap().len(), 2);
    // Posting the same link again (a double click, a retried form) makes no
    // second silence.
    for _ in 0..2 {
        let r = http.post(&sil).form(&form_of(&sil)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("Already silenced until"));
    }
    let sils: Value = http
        .get(format!("{base}/api/v2/silences"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sils.as_array().unwrap().len(), 1, "{sils}");

    // API actions with the actor from a header; unack then resolve.
    let LinkTarget::Alert(fpn) = target else {
        panic!("alert target")
    };
    let r = http
        .post(format!("{base}/api/v2/alerts/{fpn:016x}/unack"))
        .header("X-Argus-User", "carol")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = http
        .post(format!("{base}/api/v2/alerts/{fpn:016x}/resolve"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "no actor");
    let r = http
        .post(format!("{base}/api/v2/alerts/{fpn:016x}/resolve"))
        .json(&json!({"who": "dave", "comment": "freed space"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    let acts = hist("type=actions&filter=alertname%3D%22DiskFull%22").await;
    let who: Vec<(String, String)> = acts
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().into(),
                a["who"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        who,
        vec![
            ("ack".to_string(), "link:team".to_string()),
            ("unack".into(), "carol".into()),
            ("resolve".into(), "dave".into()),
        ]
    );
    let all = hist("type=actions").await;
    assert!(all
        .iter()
        .any(|a| a["kind"] == "silence_set" && a["who"] == "link:team"));
    let alerts = hist("type=alerts&filter=severity%3D%22critical%22").await;
    let kinds: Vec<&str> = alerts.iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["alert_firing", "alert_resolved"]);
    assert_eq!(alerts[1]["who"], "dave");
    assert!(hist("filter=alertname%3D%22Other%22").await.is_empty());
    assert!(hist("start=4102444800").await.is_empty(), "start in 2100");
    assert_eq!(hist("limit=1").await.len(), 1);
    let r = http
        .get(format!("{base}/api/argus/v1/alert-history?type=bogus"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    svc.shutdown().await;
}
