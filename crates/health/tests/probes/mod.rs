//! Probes against local servers that hang, refuse, answer slowly (beyond the
//! timeout) or answer wrongly (status, body), with retries honoured and a
//! healthy service never flagged.

use super::*;

#[derive(Clone, Copy)]
enum Behaviour {
    Ok,
    Hang,
    Slow(Duration),
    Status(u16),
    Body(&'static str),
    /// 500 except on every third request (the 3rd, 6th, ...).
    FailTwoOfThree,
}

/// A minimal HTTP/1.1 server on a free port with the given behaviour.
async fn serve(b: Behaviour) -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = l.local_addr().expect("addr").port();
    let count = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                continue;
            };
            let n = count.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => buf.extend_from_slice(&chunk[..k]),
                    }
                }
                let (status, body) = match b {
                    Behaviour::Ok => (200, "ok"),
                    Behaviour::Hang => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    }
                    Behaviour::Slow(d) => {
                        tokio::time::sleep(d).await;
                        (200, "ok")
                    }
                    Behaviour::Status(c) => (c, "ok"),
                    Behaviour::Body(text) => (200, text),
                    Behaviour::FailTwoOfThree if n % 3 == 2 => (200, "ok"),
                    Behaviour::FailTwoOfThree => (500, "ok"),
                };
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    port
}

fn probe_cfg(json: serde_json::Value) -> argus_health::ProbeConfig {
    serde_json::from_value(json).expect("probe config")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_honoured() {
    let flaky = serve(Behaviour::FailTwoOfThree).await;
    let url = format!("http://127.0.0.1:{flaky}/");
    let no_retry = Prober::new(&probe_cfg(serde_json::json!(
        {"type": "http", "url": url, "timeout": "2s"}
    )))
    .expect("prober");
    let out = no_retry.probe().await;
    assert!(!out.success);
    assert_eq!(out.attempts, 1);
    assert!(
        out.error.as_deref().unwrap_or("").contains("status 500"),
        "{out:?}"
    );
    // Requests 2 and 3: the third succeeds, with two retries.
    let with_retries = Prober::new(&probe_cfg(serde_json::json!(
        {"type": "http", "url": url, "timeout": "2s", "retries": 2}
    )))
    .expect("prober");
    let out = with_retries.probe().await;
    assert!(out.success, "{out:?}");
    assert_eq!(out.attempts, 2);
    let out = with_retries.probe().await;
    assert!(out.success, "{out:?}");
    assert_eq!(out.attempts, 3);
    // One retry is not enough when two attempts in a row fail.
    let one_retry = Prober::new(&probe_cfg(serde_json::json!(
        {"type": "http", "url": url, "timeout": "2s", "retries": 1}
    )))
    .expect("prober");
    let out = one_retry.probe().await;
    assert!(!out.success, "{out:?}");
    assert_eq!(out.attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_is_detected_and_the_healthy_service_never_flagged() {
    let ok = serve(Behaviour::Ok).await;
    let hang = serve(Behaviour::Hang).await;
    let slow = serve(Behaviour::Slow(Duration::from_millis(1_500))).await;
    let status = serve(Behaviour::Status(503)).await;
    let body = serve(Behaviour::Body("nope")).await;
    let flaky = serve(Behaviour::FailTwoOfThree).await;
    let refused = free_port();
    let mut alive = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("spawn sleep");
    let mut dead = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let dead_pid = dead.id();
    let _ = dead.wait();
    let dir = std::env::temp_dir();
    let alive_file = dir.join(format!("argus-health-alive-{}.pid", std::process::id()));
    let dead_file = dir.join(format!("argus-health-dead-{}.pid", std::process::id()));
    std::fs::write(&alive_file, alive.id().to_string()).expect("pid file");
    std::fs::write(&dead_file, dead_pid.to_string()).expect("pid file");

    let p = "interval: 300ms, timeout: 400ms";
    let yaml = format!(
        r#"sample_interval: 500ms
services:
  - name: good
    probes:
      - {{type: http, url: "http://127.0.0.1:{ok}/health", expect_status: 200, body_match: "^ok$", {p}}}
      - {{type: tcp, address: "127.0.0.1:{ok}", {p}}}
      - {{type: process, pid_file: "{alive}", {p}}}
      - {{type: process, name: sleep, {p}}}
  - name: flaky-retried
    probes:
      - {{type: http, url: "http://127.0.0.1:{flaky}/", retries: 2, {p}}}
  - name: hang
    probes: [{{type: http, url: "http://127.0.0.1:{hang}/", {p}}}]
  - name: refuse
    probes:
      - {{type: http, url: "http://127.0.0.1:{refused}/", {p}}}
      - {{type: tcp, address: "127.0.0.1:{refused}", {p}}}
  - name: slow
    probes: [{{type: http, url: "http://127.0.0.1:{slow}/", {p}}}]
  - name: status
    probes: [{{type: http, url: "http://127.0.0.1:{status}/", {p}}}]
  - name: body
    probes: [{{type: http, url: "http://127.0.0.1:{body}/", body_match: "^ok$", {p}}}]
  - name: gone
    probes:
      - {{type: process, pid_file: "{dead}", {p}}}
      - {{type: process, name: argus-no-such-proc, {p}}}
"#,
        alive = alive_file.display(),
        dead = dead_file.display(),
    );
    let (svc, sink) = start(&yaml);
    let expected = [
        "ServiceDown/hang/http",
        "ServiceDown/refuse/http",
        "ServiceDown/refuse/tcp",
        "ServiceDown/slow/http",
        "ServiceDown/status/http",
        "ServiceDown/body/http",
        "ServiceDown/gone/process",
    ];
    for e in expected {
        sink.wait_for(e, Duration::from_secs(15)).await;
    }
    // Watch for a fixed window of several probe intervals: nothing else.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let mut got = sink.ids();
    got.sort();
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want);
    let tuples = svc.five_tuples();
    let by = |n: &str| tuples.iter().find(|t| t.service == n).expect("service");
    assert_eq!(by("good").status, "up");
    assert_eq!(by("flaky-retried").status, "up");
    assert_eq!(by("hang").status, "down");
    let why = |n: &str| by(n).checks[0].error.clone().unwrap_or_default();
    assert!(
        why("hang").contains("timed out") || why("hang").contains("timeout"),
        "{}",
        why("hang")
    );
    assert!(why("slow").contains("time"), "{}", why("slow"));
    assert!(why("status").contains("status 503"), "{}", why("status"));
    assert!(why("body").contains("does not match"), "{}", why("body"));
    assert!(why("refuse").contains("127.0.0.1"), "{}", why("refuse"));
    assert!(why("gone").contains("not running"), "{}", why("gone"));
    // The probe series exist for every probe.
    let samples = sink.samples.lock().clone();
    let succ = |svc: &str, ty: &str| {
        samples
            .iter()
            .rev()
            .find(|(l, _, _)| {
                l.get("__name__") == Some("argus_probe_success")
                    && l.get("service") == Some(svc)
                    && l.get("type") == Some(ty)
            })
            .map(|(_, _, v)| *v)
    };
    svc.stop().await;
    let _ = alive.kill();
    let _ = alive.wait();
    let _ = std::fs::remove_file(&alive_file);
    let _ = std::fs::remove_file(&dead_file);
    assert_eq!(succ("status", "http"), Some(0.0));
    assert_eq!(succ("good", "http"), Some(1.0));
    assert_eq!(succ("good", "process"), Some(1.0));
    assert_eq!(succ("refuse", "tcp"), Some(0.0));
}
