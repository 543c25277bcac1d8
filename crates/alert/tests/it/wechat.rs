//! Alertmanager's `wechat_configs` against a local fake of the WeChat Work API: token fetch and
//! cache, renewal on expiry and on errcode 42001/40014, text and markdown messages rendered from
//! Go templates, and errcodes mapped to retryable or not.

use argus_alert::channel::{deliver, ChannelEnv, ChannelError, Channels};
use argus_alert::config::{Config, RetryConfig};
use argus_alert::{Alert, AlertStatus, IntegrationKind, Notification, NotifiedAlert};
use argus_model::{Labels, ManualClock, PromDuration};
use axum::extract::{Query, State};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Api {
    /// Tokens handed out, in order.
    issued: Vec<String>,
    /// Tokens the API now refuses as expired (42001).
    expired: Vec<String>,
    /// `(access_token, body)` of every message/send.
    sent: Vec<(String, Value)>,
    /// Answers to message/send for valid tokens, in order; the last repeats; default ok.
    answers: Vec<Value>,
}

type Shared = Arc<Mutex<Api>>;

async fn gettoken(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    if q.get("corpid").map(String::as_str) != Some("corp-1")
        || q.get("corpsecret").map(String::as_str) != Some("app-secret")
    {
        return Json(json!({"errcode": 40001, "errmsg": "invalid credential"}));
    }
    let mut api = s.lock().unwrap();
    let t = format!("tok{}", api.issued.len() + 1);
    api.issued.push(t.clone());
    Json(json!({"errcode": 0, "errmsg": "ok", "access_token": t, "expires_in": 7200}))
}

async fn send(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let mut api = s.lock().unwrap();
    let tok = q.get("access_token").cloned().unwrap_or_default();
    api.sent.push((tok.clone(), body));
    if !api.issued.contains(&tok) {
        return Json(json!({"errcode": 40014, "errmsg": "invalid access_token"}));
    }
    if api.expired.contains(&tok) {
        return Json(json!({"errcode": 42001, "errmsg": "access_token expired"}));
    }
    Json(match api.answers.len() {
        0 => json!({"errcode": 0, "errmsg": "ok"}),
        1 => api.answers[0].clone(),
        _ => api.answers.remove(0),
    })
}

/// The fake API; returns its base URL (`…/cgi-bin/`).
async fn api() -> (String, Shared) {
    let s: Shared = Arc::default();
    let app = axum::Router::new()
        .route("/cgi-bin/gettoken", axum::routing::get(gettoken))
        .route("/cgi-bin/message/send", axum::routing::post(send))
        .with_state(s.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (format!("http://{addr}/cgi-bin/"), s)
}

const NOW_MS: i64 = 1_700_000_000_000;

fn notification() -> Notification {
    let a = Alert::firing(
        Labels::from_pairs(&[("alertname", "DiskFull"), ("instance", "db-1")]),
        NOW_MS - 60_000,
    )
    .with_annotation("summary", "disk 97% full");
    Notification::new(
        "ops",
        0,
        IntegrationKind::Wechat,
        "{}:{alertname=\"DiskFull\"}",
        Labels::from_pairs(&[("alertname", "DiskFull")]),
        vec![NotifiedAlert::new(a, AlertStatus::Firing)],
        NOW_MS,
    )
}

fn retry() -> RetryConfig {
    RetryConfig {
        initial: PromDuration(5),
        max: PromDuration(20),
        max_attempts: 3,
    }
}

/// An unchanged Alertmanager config: credentials and URL from `global`, the receiver's own
/// fields in `wechat_configs`.
fn config(base: &str, extra: &str) -> Config {
    let yaml = format!(
        "global:\n  wechat_api_url: '{base}'\n  wechat_api_secret: app-secret\n  wechat_api_corp_id: corp-1\nroute: {{receiver: ops}}\nreceivers:\n  - name: ops\n    wechat_configs:\n      - to_user: '@all'\n        agent_id: '1000002'\n{extra}"
    );
    Config::parse(&yaml, "am.yml").unwrap()
}

fn channels(cfg: &Config, clock: Arc<ManualClock>) -> Channels {
    let env = ChannelEnv {
        external_url: "https://argus.example".into(),
        links: None,
        clock,
    };
    Channels::from_config_with(cfg, &env).unwrap()
}

#[tokio::test]
async fn sends_text_with_one_cached_token_from_an_unchanged_am_config() {
    let (base, s) = api().await;
    let cfg = config(&base, "");
    assert!(
        cfg.unsupported().is_empty(),
        "wechat_configs is delivered now"
    );
    let clock = Arc::new(ManualClock::new(NOW_MS));
    let chans = channels(&cfg, clock.clone());
    let ch = chans.get("ops", 0).expect("a wechat channel");
    let n = notification();
    assert_eq!(deliver(ch.as_ref(), &n, &retry()).await.unwrap(), 1);
    clock.set(NOW_MS + 3_600_000);
    assert_eq!(deliver(ch.as_ref(), &n, &retry()).await.unwrap(), 1);

    let api = s.lock().unwrap();
    assert_eq!(api.issued, ["tok1"], "the token is fetched once and cached");
    assert_eq!(api.sent.len(), 2);
    let (tok, body) = &api.sent[0];
    assert_eq!(tok, "tok1");
    assert_eq!(body["touser"], "@all");
    assert_eq!(body["agentid"], "1000002");
    assert_eq!(body["msgtype"], "text");
    assert!(
        body.get("toparty").is_none() && body.get("totag").is_none(),
        "{body}"
    );
    let content = body["text"]["content"].as_str().unwrap();
    // Argus's "wechat.default.message": the subject line, then the alert list.
    assert!(content.contains("[FIRING:1] DiskFull"), "{content}");
    assert!(content.contains("disk 97% full"), "{content}");
}

#[tokio::test]
async fn renews_the_token_on_expiry_and_on_errcode_42001() {
    let (base, s) = api().await;
    let cfg = config(&base, "");
    let clock = Arc::new(ManualClock::new(NOW_MS));
    let chans = channels(&cfg, clock.clone());
    let ch = chans.get("ops", 0).unwrap();
    let n = notification();
    deliver(ch.as_ref(), &n, &retry()).await.unwrap();
    // Past expires_in (7200 s, renewed a minute early): a new token.
    clock.set(NOW_MS + 7_150_000);
    deliver(ch.as_ref(), &n, &retry()).await.unwrap();
    assert_eq!(s.lock().unwrap().issued, ["tok1", "tok2"]);
    // The API revokes tok2 early: one attempt sees 42001, takes tok3 and sends.
    s.lock().unwrap().expired.push("tok2".into());
    assert_eq!(deliver(ch.as_ref(), &n, &retry()).await.unwrap(), 1);
    let api = s.lock().unwrap();
    assert_eq!(api.issued, ["tok1", "tok2", "tok3"]);
    let toks: Vec<&str> = api.sent.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(toks, ["tok1", "tok2", "tok2", "tok3"]);
}

#[tokio::test]
async fn markdown_from_a_go_template_and_errcodes_mapped() {
    let (base, s) = api().await;
    let extra = "        message_type: markdown\n        to_party: '{{ .CommonLabels.instance }}'\n        message: '**{{ .CommonLabels.alertname }}** since {{ (index .Alerts 0).StartsAt.Format \"15:04:05\" }} ({{ (index .Alerts 0).StartsAt.Unix }})'\n";
    let cfg = config(&base, extra);
    let chans = channels(&cfg, Arc::new(ManualClock::new(NOW_MS)));
    let ch = chans.get("ops", 0).unwrap();
    let n = notification();
    // 45009 (frequency limit) is retried; the next attempt succeeds.
    s.lock().unwrap().answers = vec![
        json!({"errcode": 45009, "errmsg": "api freq out of limit"}),
        json!({"errcode": 0, "errmsg": "ok"}),
    ];
    assert_eq!(deliver(ch.as_ref(), &n, &retry()).await.unwrap(), 2);
    {
        let api = s.lock().unwrap();
        let body = &api.sent[1].1;
        assert_eq!(body["msgtype"], "markdown");
        assert_eq!(body["toparty"], "db-1");
        assert_eq!(
            body["markdown"]["content"],
            "**DiskFull** since 22:12:20 (1699999940)"
        );
        assert!(body.get("text").is_none());
    }
    // 81013 (no valid recipient) is final: one attempt.
    s.lock().unwrap().answers =
        vec![json!({"errcode": 81013, "errmsg": "user & party & tag all invalid"})];
    let before = s.lock().unwrap().sent.len();
    let e = deliver(ch.as_ref(), &n, &retry()).await.unwrap_err();
    assert!(
        matches!(
            e,
            ChannelError::Vendor {
                code: 81013,
                retryable: false,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(s.lock().unwrap().sent.len(), before + 1);
    assert!(
        !e.to_string().contains("access_token="),
        "the token stays out of errors: {e}"
    );
}

#[tokio::test]
async fn a_bad_secret_is_a_final_error_and_bad_configs_are_refused() {
    let (base, s) = api().await;
    let cfg = config(&base, "        api_secret: wrong\n");
    let chans = channels(&cfg, Arc::new(ManualClock::new(NOW_MS)));
    let ch = chans.get("ops", 0).unwrap();
    let e = deliver(ch.as_ref(), &notification(), &retry())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ChannelError::Vendor {
                code: 40001,
                retryable: false,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        !e.to_string().contains("wrong"),
        "the secret stays out of errors: {e}"
    );
    assert!(s.lock().unwrap().sent.is_empty());

    let no_corp = "route: {receiver: ops}\nreceivers:\n  - name: ops\n    wechat_configs:\n      - api_secret: s\n";
    let e = Config::parse(no_corp, "am.yml").unwrap_err().to_string();
    assert!(e.contains("no corp_id") && e.contains("am.yml"), "{e}");
    let bad_type = "global: {wechat_api_secret: s, wechat_api_corp_id: c}\nroute: {receiver: ops}\nreceivers:\n  - name: ops\n    wechat_configs:\n      - message_type: html\n";
    let e = Config::parse(bad_type, "am.yml").unwrap_err().to_string();
    assert!(e.contains("message_type \"html\""), "{e}");
}
