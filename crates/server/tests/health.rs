//! Service health through the whole server: `argus_server::run` with a
//! `health:` section and an Alertmanager config whose webhook receiver is a
//! local server. Checks the five-tuple API, `POST /api/v1/heartbeat/{service}`,
//! the `argus_service_*` series through the PromQL API, and that a heartbeat
//! stop reaches the webhook as a firing `ServiceDown` and its resumption as a
//! resolved one.

mod common;
use argus_server::config::Config;
use argus_server::{run, ServerOptions};
use common::{free_port, query};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Hooks = Arc<Mutex<Vec<(Instant, Value)>>>;

/// A webhook receiver recording every payload with its arrival time.
async fn webhook() -> (u16, Hooks) {
    let got: Hooks = Arc::default();
    let g2 = got.clone();
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |body: axum::Json<Value>| {
            let g = g2.clone();
            async move {
                g.lock().unwrap().push((Instant::now(), body.0));
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(l, app).await });
    (port, got)
}

/// `(alertname/service/reason, status)` of every alert of every payload, with arrival times.
fn notified(h: &Hooks) -> Vec<(Instant, String, String)> {
    let mut v = Vec::new();
    for (t, p) in h.lock().unwrap().iter() {
        for a in p["alerts"].as_array().cloned().unwrap_or_default() {
            let l = &a["labels"];
            let id = format!(
                "{}/{}/{}",
                l["alertname"].as_str().unwrap_or(""),
                l["service"].as_str().unwrap_or(""),
                l["reason"].as_str().unwrap_or("")
            );
            v.push((*t, id, a["status"].as_str().unwrap_or("").to_string()));
        }
    }
    v
}

async fn wait_hook(h: &Hooks, id: &str, status: &str, deadline: Duration) -> Instant {
    let start = Instant::now();
    loop {
        if let Some((t, _, _)) = notified(h)
            .into_iter()
            .find(|(_, i, s)| i == id && s == status)
        {
            return t;
        }
        assert!(
            start.elapsed() < deadline,
            "no {status} {id} at the webhook within {deadline:?}; got {:?}",
            notified(h)
                .iter()
                .map(|(_, i, s)| format!("{i} {s}"))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_series_api_and_alerts_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (hook_port, hooks) = webhook().await;
    let up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up_port = up.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let _ = up.accept().await;
        }
    });
    let closed = free_port();
    let am = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am,
        format!(
            "route: {{receiver: hook, group_by: ['...'], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}}\n\
             receivers:\n  - name: hook\n    webhook_configs: [{{url: 'http://127.0.0.1:{hook_port}/', send_resolved: true}}]\n\
             argus: {{flap_damping: {{enabled: false}}}}\n"
        ),
    )
    .unwrap();
    let yaml = format!(
        "alerting: {{config_file: '{}'}}\n\
         health:\n  sample_interval: 200ms\n  services:\n\
         \x20   - name: web\n      node: edge-1\n      heartbeat: {{source: http, interval: 1s}}\n\
         \x20     probes: [{{type: tcp, address: '127.0.0.1:{up_port}', interval: 500ms}}]\n\
         \x20   - name: closed\n      source: hardware\n\
         \x20     probes: [{{type: tcp, address: '127.0.0.1:{closed}', interval: 500ms}}]\n",
        am.display()
    );
    let config = Config::from_yaml_str(&yaml, "argus.yml").expect("config parses");
    let listen: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let base = format!("http://{listen}");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(run(
        ServerOptions {
            data_dir: dir.path().join("data"),
            listen,
            config,
            run_agent: false,
            config_path: None,
            alert_tx: None,
            write_gate: None,
        },
        Arc::new(argus_model::SystemClock),
        async {
            let _ = stop_rx.await;
        },
    ));
    let client = reqwest::Client::new();
    let start = Instant::now();
    while client.get(format!("{base}/-/ready")).send().await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Heartbeats over HTTP.
    let beating = Arc::new(AtomicBool::new(true));
    let beats_ok = Arc::new(AtomicU64::new(0));
    let beats_bad = Arc::new(AtomicU64::new(0));
    {
        let (b, c, url) = (
            beating.clone(),
            client.clone(),
            format!("{base}/api/v1/heartbeat/web"),
        );
        let ok = beats_ok.clone();
        let bad = beats_bad.clone();
        tokio::spawn(async move {
            loop {
                if b.load(Ordering::Relaxed) {
                    // Errors once the server has stopped at the end are ignored.
                    if let Ok(r) = c.post(&url).send().await {
                        if r.status() == 204 {
                            ok.fetch_add(1, Ordering::Relaxed);
                        } else {
                            bad.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }
    let r = client
        .post(format!("{base}/api/v1/heartbeat/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = client
        .post(format!("{base}/api/v1/heartbeat/closed"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);

    // The closed port is detected and notified.
    wait_hook(
        &hooks,
        "ServiceDown/closed/tcp",
        "firing",
        Duration::from_secs(15),
    )
    .await;

    // The five-tuples.
    let deadline = Instant::now() + Duration::from_secs(15);
    let tuples = loop {
        let t = common::get_json(format!("{base}/api/v1/services")).await;
        if t[0]["status"] == "up" || Instant::now() > deadline {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(tuples[0]["node"], "edge-1");
    assert_eq!(tuples[0]["source"], "software");
    assert_eq!(tuples[0]["status"], "up", "{tuples}");
    assert_eq!(tuples[0]["value"], 1.0);
    assert_eq!(
        tuples[0]["content"],
        format!("web: heartbeat http argus:hb:web, tcp 127.0.0.1:{up_port}")
    );
    assert_eq!(tuples[1]["source"], "hardware");
    assert_eq!(tuples[1]["status"], "down");
    assert_eq!(tuples[1]["value"], 0.0);

    // The series, through PromQL.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let up = query(&base, "argus_service_up").await;
        let st = query(
            &base,
            r#"argus_service_status{service="web",status="up"} == 1"#,
        )
        .await;
        let probe = query(&base, r#"argus_probe_success{service="closed",type="tcp"}"#).await;
        let age = query(&base, r#"argus_heartbeat_age_seconds{service="web"}"#).await;
        let dur = query(&base, "argus_probe_duration_seconds").await;
        let web_up = up
            .iter()
            .any(|s| s["metric"]["service"] == "web" && s["value"][1] == "1");
        let closed_down = up
            .iter()
            .any(|s| s["metric"]["service"] == "closed" && s["value"][1] == "0");
        if web_up
            && closed_down
            && st.len() == 1
            && probe.len() == 1
            && age.len() == 1
            && dur.len() == 2
        {
            assert_eq!(probe[0]["value"][1], "0");
            assert_eq!(st[0]["metric"]["node"], "edge-1");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "series missing: up={up:?} status={st:?} probe={probe:?} age={age:?} dur={dur:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Heartbeats stop: the webhook hears of it; they resume: resolved.
    beating.store(false, Ordering::Relaxed);
    let stopped = Instant::now();
    let fired = wait_hook(
        &hooks,
        "ServiceDown/web/heartbeat",
        "firing",
        Duration::from_secs(15),
    )
    .await;
    eprintln!(
        "heartbeat stop to webhook: {:?} (promise 1 s)",
        fired - stopped
    );
    beating.store(true, Ordering::Relaxed);
    let resumed = Instant::now();
    let resolved = wait_hook(
        &hooks,
        "ServiceDown/web/heartbeat",
        "resolved",
        Duration::from_secs(15),
    )
    .await;
    eprintln!(
        "heartbeat resume to resolved webhook: {:?}",
        resolved - resumed
    );
    // Nothing about web's tcp probe, which never failed.
    assert!(!notified(&hooks)
        .iter()
        .any(|(_, i, _)| i == "ServiceDown/web/tcp"));

    // How many beats fit in the run depends on the machine's speed, so only
    // "some, and every one accepted" is asserted.
    let (beats, refused) = (
        beats_ok.load(Ordering::Relaxed),
        beats_bad.load(Ordering::Relaxed),
    );
    assert!(beats >= 3, "only {beats} heartbeat POSTs were answered 204");
    assert_eq!(
        refused, 0,
        "{refused} heartbeat POSTs were not answered 204"
    );
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}
