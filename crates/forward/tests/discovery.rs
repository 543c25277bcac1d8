//! Alertmanagers found by discovery: an HTTP discovery endpoint names the
//! Alertmanagers, the forwarder sends to them, and follows the endpoint
//! when it names another one or fails. Real HTTP servers on loopback play
//! the discovery endpoint and the Alertmanagers' alert API.

use argus_forward::{AlertmanagerConfig, Forwarder, Settings};
use argus_model::alert::AlertEvent;
use argus_model::{Labels, SystemClock};
use axum::routing::{get, post};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An Alertmanager's alert endpoint that counts the alerts it receives.
async fn receiver() -> (String, Arc<AtomicUsize>) {
    let got = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    let app = axum::Router::new().route(
        "/api/v2/alerts",
        post(move |body: axum::Json<serde_json::Value>| {
            let g = g.clone();
            async move {
                g.fetch_add(body.as_array().map_or(0, |a| a.len()), Ordering::SeqCst);
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (addr, got)
}

/// An HTTP discovery endpoint answering what `groups` holds (status 500
/// while it holds `None`).
async fn discovery(groups: Arc<Mutex<Option<serde_json::Value>>>) -> String {
    let app = axum::Router::new().route(
        "/sd",
        get(move || {
            let groups = groups.clone();
            async move {
                match groups.lock().unwrap().clone() {
                    Some(v) => Ok(axum::Json(v)),
                    None => Err(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    format!("http://{addr}/sd")
}

fn alert(name: &str) -> AlertEvent {
    AlertEvent {
        labels: Labels::from_pairs(&[("alertname", name)]),
        starts_at_ms: 1_000,
        ..AlertEvent::default()
    }
}

async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    for _ in 0..200 {
        if ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test]
async fn alertmanagers_found_over_http_discovery_get_the_alerts_and_follow_changes() {
    let (am1, got1) = receiver().await;
    let (am2, got2) = receiver().await;
    let groups = Arc::new(Mutex::new(Some(serde_json::json!([{ "targets": [am1] }]))));
    let url = discovery(groups.clone()).await;
    let cfg: AlertmanagerConfig = serde_saphyr::from_str(&format!(
        "http_sd_configs: [{{url: '{url}', refresh_interval: 1s}}]\n"
    ))
    .unwrap();
    let fwd = Forwarder::new(Arc::new(SystemClock));
    fwd.apply(
        Settings {
            alertmanagers: vec![cfg],
            ..Settings::default()
        }
        .prepare()
        .unwrap(),
    );
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let task = fwd.spawn(Duration::from_secs(3600), stop);

    // Found, then sent to: the discovery's change resends what is active.
    fwd.submit(&[alert("A")]);
    until("the discovered Alertmanager has the alert", || {
        got1.load(Ordering::SeqCst) >= 1
    })
    .await;
    assert!(
        fwd.alertmanagers().iter().any(|u| u.contains(&am1)),
        "{:?}",
        fwd.alertmanagers()
    );

    // The endpoint fails: the last Alertmanagers stay.
    *groups.lock().unwrap() = None;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        fwd.alertmanagers().iter().any(|u| u.contains(&am1)),
        "{:?}",
        fwd.alertmanagers()
    );

    // It names another Alertmanager: that one gets every active alert.
    *groups.lock().unwrap() = Some(serde_json::json!([{ "targets": [am2] }]));
    until("the new Alertmanager has the active alert", || {
        got2.load(Ordering::SeqCst) >= 1
    })
    .await;
    let urls = fwd.alertmanagers();
    assert!(
        urls.iter().any(|u| u.contains(&am2)) && !urls.iter().any(|u| u.contains(&am1)),
        "{urls:?}"
    );

    stop_tx.send(true).unwrap();
    task.await.unwrap();
}
