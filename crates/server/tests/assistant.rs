//! The incident assistant against an OpenAI-compatible server started by
//! the test (a stand-in for a local Ollama, vLLM or llama.cpp server: no
//! real language model runs here). Asked through the incidents API, Argus
//! posts the fixed instructions and the incident's evidence to
//! `<url>/chat/completions`, keeps the answer with what was sent, and the
//! incident page shows it labelled as a language model's. Without
//! `incidents.assistant`, asking sends nothing and says why.

mod common;
use argus_model::SystemClock;
use axum::routing::post;
use common::{get_json, get_text, start_server};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn alert(name: &str, service: &str) -> Value {
    let at = |s: i64| {
        (chrono::Utc::now() + chrono::Duration::seconds(s))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    json!({"labels": {"alertname": name, "service": service},
           "annotations": {"summary": format!("{name} on {service}")},
           "startsAt": at(-30), "endsAt": at(600)})
}

/// The requests a fake model got: the authorization header and the body.
type Requests = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// A chat completions endpoint that records each request and answers.
async fn fake_model() -> (u16, Requests) {
    let got: Requests = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |headers: axum::http::HeaderMap, body: axum::Json<Value>| {
            let g = g.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                g.lock().unwrap().push((auth, body.0));
                axum::Json(json!({
                    "id": "x", "object": "chat.completion", "model": "tiny",
                    "choices": [{"index": 0, "finish_reason": "stop",
                        "message": {"role": "assistant",
                            "content": "The database is failing and its callers follow.\n1. db is down: check its health endpoint."}}]
                }))
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(l, app).await });
    (port, got)
}

async fn one_incident(base: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v2/alerts"))
        .json(&json!([alert("DbDown", "db"), alert("ApiErrors", "api")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t0 = Instant::now();
    loop {
        let v = get_json(format!("{base}/api/argus/v1/incidents")).await;
        if v["data"][0]["alerts"] == 2 || v["data"].as_array().is_some_and(|l| l.len() > 1) {
            return v["data"][0]["id"].as_str().unwrap().to_string();
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assistant_reads_the_evidence_and_its_answer_is_kept_and_labelled() {
    let dir = tempfile::tempdir().unwrap();
    let (port, got) = fake_model().await;
    let key = dir.path().join("key");
    std::fs::write(&key, "sk-test\n").unwrap();
    let yaml = format!(
        "incidents:\n  topology: [{{caller: api, callee: db}}]\n  assistant: {{url: 'http://127.0.0.1:{port}/v1', model: tiny, api_key_file: '{}'}}\n",
        key.display()
    );
    let srv = start_server(&dir.path().join("data"), &yaml, Arc::new(SystemClock), None).await;
    let id = one_incident(&srv.base).await;
    assert!(
        got.lock().unwrap().is_empty(),
        "nothing is sent before asking"
    );

    let r = reqwest::Client::new()
        .post(format!(
            "{}/api/argus/v1/incidents/{id}/assistant",
            srv.base
        ))
        .json(&json!({"who": "alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let sent = got.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let (auth, body) = &sent[0];
    assert_eq!(auth.as_deref(), Some("Bearer sk-test"));
    assert_eq!(body["model"], "tiny");
    assert_eq!(body["messages"][0]["role"], "system");
    let evidence = body["messages"][1]["content"].as_str().unwrap();
    assert!(
        evidence.contains("alertname=DbDown") && evidence.contains("summary: ApiErrors on api"),
        "{evidence}"
    );

    let one = get_json(format!("{}/api/argus/v1/incidents/{id}", srv.base)).await;
    let note = &one["data"]["assistant"];
    assert_eq!(note["model"], "tiny");
    assert_eq!(note["who"], "alice");
    assert!(note["answer"]
        .as_str()
        .unwrap()
        .starts_with("The database is failing"));
    assert_eq!(
        note["evidence"].as_str().unwrap(),
        evidence,
        "what was sent is kept"
    );

    let page = get_text(format!("{}/ui/incidents/{id}", srv.base)).await;
    assert!(
        page.contains("Written by a language model (tiny)"),
        "{page}"
    );
    assert!(page.contains("The database is failing"), "{page}");
    assert!(page.contains("What was sent to the model"), "{page}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_assistant_nothing_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_server(&dir.path().join("data"), "", Arc::new(SystemClock), None).await;
    let id = one_incident(&srv.base).await;
    let r = reqwest::Client::new()
        .post(format!(
            "{}/api/argus/v1/incidents/{id}/assistant",
            srv.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errorType"], "not_configured", "{body}");
    let page = get_text(format!("{}/ui/incidents/{id}", srv.base)).await;
    assert!(!page.contains("Ask the assistant"), "{page}");
    srv.stop().await;
}
