//! The webhook channel against a local HTTP server that fails twice, then accepts.

use argus_alert::channel::{deliver, Channel, ChannelError, Channels, WebhookChannel};
use argus_alert::config::{Config, RetryConfig};
use argus_alert::runner::Runner;
use argus_alert::{Alert, Dispatcher, WebhookMessage};
use argus_model::{Labels, ManualClock, PromDuration};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves `statuses` in order (then 200), recording every request body.
async fn server(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<(u16, String)>>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    tokio::spawn(async move {
        let mut i = 0;
        loop {
            let Ok((mut sock, _)) = l.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut tmp = [0u8; 4096];
            let body = loop {
                let n = sock.read(&mut tmp).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&tmp[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(h) = text.find("\r\n\r\n") {
                    let len = text[..h]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() >= h + 4 + len {
                        break Some(String::from_utf8_lossy(&buf[h + 4..h + 4 + len]).to_string());
                    }
                }
            };
            let Some(body) = body else { continue };
            let status = statuses.get(i).copied().unwrap_or(200);
            i += 1;
            s2.lock().unwrap().push((status, body));
            let resp =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    (url, seen)
}

fn fast_retry() -> RetryConfig {
    RetryConfig {
        initial: PromDuration(10),
        max: PromDuration(50),
        max_attempts: 5,
    }
}

#[tokio::test]
async fn retries_500_twice_then_delivers_once_through_the_runner() {
    let (url, seen) = server(vec![500, 500]).await;
    let yaml = format!(
        "route: {{receiver: hook, group_by: [alertname], group_wait: 30s}}\nreceivers:\n  - name: hook\n    webhook_configs: [{{url: '{url}'}}]\nargus:\n  external_url: http://argus.test\n  retry: {{initial: 10ms, max: 50ms, max_attempts: 5}}\n"
    );
    let cfg = Config::parse(&yaml, "t.yml").unwrap();
    let chans = Channels::from_config(&cfg).unwrap();
    let clock = Arc::new(ManualClock::new(0));
    let mut d = Dispatcher::new(cfg, clock.clone(), None).unwrap();
    let a = Alert::firing(
        Labels::from_pairs(&[
            ("alertname", "Down"),
            ("job", "node"),
            ("instance", "h:9100"),
        ]),
        0,
    )
    .with_annotation("summary", "node down");
    d.put_alerts(vec![a.clone()]).unwrap();
    clock.set(30_000);
    let runner = Runner::new(d, chans);
    let h = runner.handle();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(runner.run(async {
        let _ = rx.await;
    }));
    for _ in 0..1500 {
        if seen.lock().unwrap().iter().any(|(s, _)| *s == 200) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // Give the loop a moment to record the outcome, then make sure nothing more is sent.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    clock.set(60_000);
    h.wake();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let _ = tx.send(());
    task.await.unwrap();

    let seen = seen.lock().unwrap().clone();
    let statuses: Vec<u16> = seen.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        statuses,
        vec![500, 500, 200],
        "exactly one successful delivery"
    );
    let v: serde_json::Value = serde_json::from_str(&seen[2].1).unwrap();
    let want = serde_json::json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"Down\"}",
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "hook",
        "groupLabels": {"alertname": "Down"},
        "commonLabels": {"alertname": "Down", "instance": "h:9100", "job": "node"},
        "commonAnnotations": {"summary": "node down"},
        "externalURL": "http://argus.test",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "Down", "instance": "h:9100", "job": "node"},
            "annotations": {"summary": "node down"},
            "startsAt": "1970-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "",
            "fingerprint": a.fingerprint_hex(),
        }],
    });
    assert_eq!(v, want);
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 10);
    let _: WebhookMessage = serde_json::from_value(v).unwrap();
    h.with(|d| assert_eq!(d.tick(60_000).len(), 0, "logged, so not resent"));
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (url, seen) = server(vec![400, 400, 400]).await;
    let ch = WebhookChannel::new(&url, "").unwrap();
    let n = argus_alert::Notification::new(
        "r",
        0,
        argus_alert::IntegrationKind::Webhook,
        "{}:{}",
        Labels::empty(),
        vec![],
        0,
    );
    let e = deliver(&ch, &n, &fast_retry()).await.unwrap_err();
    assert!(matches!(e, ChannelError::Status { status: 400, .. }));
    assert!(!e.is_retryable());
    assert_eq!(seen.lock().unwrap().len(), 1);
    // 429 and connection failures are retryable.
    assert!(ChannelError::Status {
        url: String::new(),
        status: 429,
        body: String::new()
    }
    .is_retryable());
    let dead = WebhookChannel::new("http://127.0.0.1:1/", "").unwrap();
    let e = dead.notify(&n).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
}

fn sample_notification() -> argus_alert::Notification {
    use argus_alert::{AlertStatus, NotifiedAlert};
    let firing = Alert::firing(
        Labels::from_pairs(&[("alertname", "Down"), ("severity", "critical")]),
        1_000,
    )
    .with_annotation("summary", "db down");
    let gone = Alert::firing(
        Labels::from_pairs(&[("alertname", "Down"), ("severity", "warning")]),
        1_000,
    )
    .resolved_at(5_000);
    argus_alert::Notification::new(
        "r",
        0,
        argus_alert::IntegrationKind::Slack,
        "{}:{alertname=\"Down\"}",
        Labels::from_pairs(&[("alertname", "Down")]),
        vec![
            NotifiedAlert::new(firing, AlertStatus::Firing),
            NotifiedAlert::new(gone, AlertStatus::Resolved),
        ],
        6_000,
    )
}

#[tokio::test]
async fn slack_pagerduty_and_alertmanager_forwarding_payloads() {
    use argus_alert::channel::{AlertmanagerChannel, PagerDutyChannel, SlackChannel};
    let (url, seen) = server(vec![]).await;
    let cfg = Config::parse(
        &format!(
            "global: {{slack_api_url: '{url}'}}\nroute: {{receiver: r}}\nreceivers:\n  - name: r\n    slack_configs: [{{channel: '#ops', title: '{{{{ template \"slack.default.title\" . }}}}'}}]\n    pagerduty_configs: [{{routing_key: k1, url: '{url}'}}]\n"
        ),
        "t.yml",
    )
    .unwrap();
    let n = sample_notification();
    let slack = SlackChannel::from_config(
        &cfg.receivers[0].slack_configs[0],
        &cfg.global,
        "http://argus",
    )
    .unwrap();
    slack.notify(&n).await.unwrap();
    let pd = PagerDutyChannel::from_config(
        &cfg.receivers[0].pagerduty_configs[0],
        &cfg.global,
        "http://argus",
    )
    .unwrap();
    pd.notify(&n).await.unwrap();
    let am = AlertmanagerChannel::new(&url.replace("/hook", "")).unwrap();
    am.notify(&n).await.unwrap();
    let bodies: Vec<serde_json::Value> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, b)| serde_json::from_str(b).unwrap())
        .collect();
    let att = &bodies[0]["attachments"][0];
    assert_eq!(bodies[0]["channel"], "#ops");
    // The Go template falls back to Argus's default title.
    assert_eq!(att["title"], "[FIRING:1] Down");
    assert!(att["text"].as_str().unwrap().contains("db down"), "{att}");
    assert_eq!(att["color"], "danger");
    assert_eq!(bodies[1]["routing_key"], "k1");
    assert_eq!(bodies[1]["event_action"], "trigger");
    assert_eq!(bodies[1]["payload"]["summary"], "[FIRING:1] Down");
    let fwd = bodies[2].as_array().unwrap();
    assert_eq!(fwd.len(), 2);
    assert!(fwd[0].get("endsAt").is_none());
    assert_eq!(fwd[1]["endsAt"], "1970-01-01T00:00:05Z");
}
