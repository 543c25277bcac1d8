//! DingTalk, WeCom and Feishu against a local axum receiver that checks the payload and the
//! signature independently, and answers with the vendors' in-body error codes.

use argus_alert::channel::{
    deliver, Channel, ChannelEnv, DingTalkChannel, FeishuChannel, WeComChannel,
};
use argus_alert::config::{DingTalkConfig, FeishuConfig, RetryConfig, WeComConfig};
use argus_alert::links::{LinkQuery, LinkSigner};
use argus_alert::{Alert, AlertStatus, IntegrationKind, Notification, NotifiedAlert};
use argus_model::{Labels, ManualClock, PromDuration};
use axum::extract::{RawQuery, State};
use axum::Json;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::{Arc, Mutex};

/// What the receiver saw: `(query, body)` per request.
type Seen = Arc<Mutex<Vec<(String, Value)>>>;

#[derive(Clone)]
struct Script {
    answers: Arc<Mutex<Vec<Value>>>,
    seen: Seen,
}

async fn hook(
    State(s): State<Script>,
    RawQuery(q): RawQuery,
    Json(body): Json<Value>,
) -> Json<Value> {
    s.seen.lock().unwrap().push((q.unwrap_or_default(), body));
    let mut a = s.answers.lock().unwrap();
    Json(if a.len() > 1 {
        a.remove(0)
    } else {
        a[0].clone()
    })
}

/// A receiver answering `answers` in order (the last one repeats).
async fn receiver(answers: Vec<Value>) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(Script {
            answers: Arc::new(Mutex::new(answers)),
            seen: seen.clone(),
        });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (format!("http://{addr}/hook"), seen)
}

fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    m.update(msg);
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

const NOW_MS: i64 = 1_700_000_000_123;

fn env() -> ChannelEnv {
    ChannelEnv {
        external_url: "https://argus.example".into(),
        links: Some(Arc::new(LinkSigner::new(
            b"link-key",
            "https://argus.example",
            3_600_000,
        ))),
        clock: Arc::new(ManualClock::new(NOW_MS)),
    }
}

fn notification() -> Notification {
    let a = Alert::firing(
        Labels::from_pairs(&[
            ("alertname", "LatencyHigh"),
            ("severity", "critical"),
            ("level", "P1"),
        ]),
        1_000,
    )
    .with_annotation("summary", "p99 latency above band")
    .with_annotation("value", "812ms")
    .with_annotation("lower", "120ms")
    .with_annotation("upper", "450ms");
    Notification::new(
        "team",
        0,
        IntegrationKind::DingTalk,
        "{}:{alertname=\"LatencyHigh\"}",
        Labels::from_pairs(&[("alertname", "LatencyHigh")]),
        vec![NotifiedAlert::new(a, AlertStatus::Firing)],
        NOW_MS - 5_000,
    )
}

fn retry() -> RetryConfig {
    RetryConfig {
        initial: PromDuration(5),
        max: PromDuration(20),
        max_attempts: 4,
    }
}

/// The rendered text shows level, value, band and valid signed links.
fn check_text(text: &str) {
    assert!(text.contains("level **P1**"), "{text}");
    assert!(
        text.contains("value: **812ms** (expected [120ms, 450ms])"),
        "{text}"
    );
    assert!(text.contains("p99 latency above band"), "{text}");
    let ack = text
        .split("[Acknowledge](")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("no ack link in {text}"));
    let q = LinkQuery::from_url(ack).unwrap();
    assert_eq!(q.recipient, "team");
    let signer = LinkSigner::new(b"link-key", "https://argus.example", 3_600_000);
    assert_eq!(signer.verify(&q, NOW_MS), Ok(()));
    assert!(text.contains("[Silence]("));
}

#[tokio::test]
async fn dingtalk_signs_the_url_and_maps_errcodes() {
    let (url, seen) = receiver(vec![
        json!({"errcode": 130101, "errmsg": "send too fast"}),
        json!({"errcode": 0, "errmsg": "ok"}),
    ])
    .await;
    let cfg = DingTalkConfig {
        receiver: "team".into(),
        url: Some(format!("{url}?access_token=tok")),
        secret: Some("SECsecret".into()),
        at_mobiles: vec!["13800000000".into()],
        ..Default::default()
    };
    let ch = DingTalkChannel::from_config(&cfg, &[], env()).unwrap();
    let attempts = deliver(&ch, &notification(), &retry()).await.unwrap();
    assert_eq!(attempts, 2, "130101 (rate limit) is retried");
    let (query, body) = seen.lock().unwrap()[1].clone();
    let pairs: Vec<(String, String)> = url_pairs(&query);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(get("access_token"), "tok");
    assert_eq!(get("timestamp"), NOW_MS.to_string());
    let want = hmac_b64(b"SECsecret", format!("{NOW_MS}\nSECsecret").as_bytes());
    assert_eq!(get("sign"), want);
    assert_eq!(body["msgtype"], "markdown");
    assert_eq!(
        body["markdown"]["title"],
        "[FIRING:1] LatencyHigh (critical)"
    );
    assert_eq!(body["at"]["atMobiles"], json!(["13800000000"]));
    let text = body["markdown"]["text"].as_str().unwrap();
    check_text(text);
    assert!(text.ends_with("@13800000000"));

    let (url, seen) = receiver(vec![json!({"errcode": 310000, "errmsg": "sign not match"})]).await;
    let cfg = DingTalkConfig {
        receiver: "team".into(),
        url: Some(url),
        ..Default::default()
    };
    let ch = DingTalkChannel::from_config(&cfg, &[], env()).unwrap();
    let err = deliver(&ch, &notification(), &retry()).await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("310000") && err.to_string().contains("sign not match"));
    assert_eq!(seen.lock().unwrap().len(), 1, "310000 is not retried");
    assert_eq!(seen.lock().unwrap()[0].0, "", "no secret, no signature");
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{query}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[tokio::test]
async fn wecom_posts_markdown_and_maps_errcodes() {
    let (url, seen) = receiver(vec![
        json!({"errcode": 45009, "errmsg": "api freq out of limit"}),
        json!({"errcode": 0, "errmsg": "ok"}),
    ])
    .await;
    let cfg = WeComConfig {
        receiver: "team".into(),
        url: Some(format!("{url}?key=robot-key")),
        ..Default::default()
    };
    let ch = WeComChannel::from_config(&cfg, env()).unwrap();
    assert_eq!(deliver(&ch, &notification(), &retry()).await.unwrap(), 2);
    let (query, body) = seen.lock().unwrap()[1].clone();
    assert_eq!(query, "key=robot-key");
    assert_eq!(body["msgtype"], "markdown");
    let text = body["markdown"]["content"].as_str().unwrap();
    assert!(
        text.starts_with("### [FIRING:1] LatencyHigh (critical)"),
        "{text}"
    );
    check_text(text);

    let (url, seen) = receiver(vec![
        json!({"errcode": 93000, "errmsg": "invalid webhook url"}),
    ])
    .await;
    let cfg = WeComConfig {
        receiver: "team".into(),
        url: Some(url),
        ..Default::default()
    };
    let ch = WeComChannel::from_config(&cfg, env()).unwrap();
    let err = ch.notify(&notification()).await.unwrap_err();
    assert!(
        !err.is_retryable() && err.to_string().contains("93000"),
        "{err}"
    );
    assert!(
        !err.to_string().contains("key="),
        "the key stays out of errors: {err}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn feishu_signs_the_body_and_maps_codes() {
    let (url, seen) = receiver(vec![
        json!({"code": 11232, "msg": "frequency limited"}),
        json!({"StatusCode": 0, "StatusMessage": "success", "code": 0}),
    ])
    .await;
    let cfg = FeishuConfig {
        receiver: "team".into(),
        url: Some(url),
        secret: Some("feishu-secret".into()),
        ..Default::default()
    };
    let ch = FeishuChannel::from_config(&cfg, env()).unwrap();
    assert_eq!(deliver(&ch, &notification(), &retry()).await.unwrap(), 2);
    let (_, body) = seen.lock().unwrap()[1].clone();
    let ts = NOW_MS / 1000;
    assert_eq!(body["timestamp"], ts.to_string());
    let want = hmac_b64(format!("{ts}\nfeishu-secret").as_bytes(), b"");
    assert_eq!(body["sign"], want);
    assert_eq!(body["msg_type"], "interactive");
    assert_eq!(body["card"]["header"]["template"], "red");
    assert_eq!(
        body["card"]["header"]["title"]["content"],
        "[FIRING:1] LatencyHigh (critical)"
    );
    check_text(body["card"]["elements"][0]["content"].as_str().unwrap());

    let (url, seen) = receiver(vec![json!({"code": 19021, "msg": "sign match fail"})]).await;
    let cfg = FeishuConfig {
        receiver: "team".into(),
        url: Some(url),
        msg_type: Some("text".into()),
        ..Default::default()
    };
    let ch = FeishuChannel::from_config(&cfg, env()).unwrap();
    let err = deliver(&ch, &notification(), &retry()).await.unwrap_err();
    assert!(
        !err.is_retryable() && err.to_string().contains("19021"),
        "{err}"
    );
    let (_, body) = seen.lock().unwrap()[0].clone();
    assert_eq!(body["msg_type"], "text");
    assert!(body.get("sign").is_none());
    assert!(body["content"]["text"]
        .as_str()
        .unwrap()
        .starts_with("[FIRING:1] LatencyHigh"));
}

#[tokio::test]
async fn http_errors_and_non_json_bodies_are_errors() {
    let (url, _) = receiver(vec![json!("not an object")]).await;
    let cfg = WeComConfig {
        receiver: "team".into(),
        url: Some(url),
        ..Default::default()
    };
    let ch = WeComChannel::from_config(&cfg, env()).unwrap();
    let err = ch.notify(&notification()).await.unwrap_err();
    assert!(
        !err.is_retryable() && err.to_string().contains("without an error code"),
        "{err}"
    );
    // Nothing listens here: a connection error, which is retryable.
    let cfg = FeishuConfig {
        receiver: "team".into(),
        url: Some("http://127.0.0.1:9/hook".into()),
        ..Default::default()
    };
    let err = FeishuChannel::from_config(&cfg, env())
        .unwrap()
        .notify(&notification())
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
}
