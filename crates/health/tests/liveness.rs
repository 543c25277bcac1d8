//! Liveness of the running health service under repeated failures of one
//! service (a regression seen in `argus-lab failures`): a local HTTP server
//! that is switched between answering, hanging mid-response (headers and half
//! a body sent, then silence with the connection held open, as a SIGSTOPped
//! process does) and answering 500. After each hang the monitor must keep
//! producing fresh samples for the service and detect the next failure.
//!
//! Real sockets and the system clock; generous deadlines when waiting for an
//! expected event.

use argus_health::{HealthAlert, HealthConfig, HealthService, HealthSink};
use argus_model::{Labels, SystemClock};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const OK: u8 = 0;
const HANG_MID_BODY: u8 = 1;
const ERROR_500: u8 = 2;

#[derive(Default)]
struct Sink {
    alerts: Mutex<Vec<HealthAlert>>,
    samples: Mutex<Vec<(Labels, i64, f64)>>,
}

impl HealthSink for Sink {
    fn send_alerts(&self, alerts: Vec<HealthAlert>) {
        self.alerts.lock().extend(alerts);
    }
    fn append_samples(&self, samples: Vec<(Labels, i64, f64)>) -> Result<(), String> {
        self.samples.lock().extend(samples);
        Ok(())
    }
}

impl Sink {
    /// Distinct (start time, resolved) transitions of the http ServiceDown alert.
    fn http_transitions(&self) -> Vec<(i64, bool)> {
        let mut v: Vec<(i64, bool)> = Vec::new();
        for a in self.alerts.lock().iter() {
            if a.labels.get("reason").map(String::as_str) == Some("http") {
                let t = (a.starts_at_ms, a.resolved);
                if !v.contains(&t) {
                    v.push(t);
                }
            }
        }
        v
    }

    /// The newest `argus_probe_success` sample: (time, value).
    fn last_probe_sample(&self) -> Option<(i64, f64)> {
        self.samples
            .lock()
            .iter()
            .filter(|(l, _, _)| l.get("__name__") == Some("argus_probe_success"))
            .map(|(_, t, v)| (*t, *v))
            .max_by_key(|(t, _)| *t)
    }

    async fn wait(&self, what: &str, deadline: Duration, ok: impl Fn(&Sink) -> bool) {
        let start = Instant::now();
        while !ok(self) {
            assert!(
                start.elapsed() < deadline,
                "{what}: not seen within {deadline:?}; http transitions {:?}, last probe sample {:?}",
                self.http_transitions(),
                self.last_probe_sample()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A server whose behaviour follows `mode`, read per request.
async fn serve(mode: Arc<AtomicU8>) -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port for the test server");
    let port = l.local_addr().expect("local address").port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                continue;
            };
            let mode = mode.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => buf.extend_from_slice(&chunk[..k]),
                    }
                }
                match mode.load(Ordering::SeqCst) {
                    HANG_MID_BODY => {
                        let head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nok";
                        let _ = s.write_all(head.as_bytes()).await;
                        let _ = s.flush().await;
                        // Hold the connection open, sending nothing more.
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    m => {
                        let status = if m == ERROR_500 { 500 } else { 200 };
                        let resp = format!(
                            "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                        );
                        let _ = s.write_all(resp.as_bytes()).await;
                        let _ = s.shutdown().await;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_stays_live_through_repeated_hangs_and_detects_each_next_failure() {
    let mode = Arc::new(AtomicU8::new(OK));
    let port = serve(mode.clone()).await;
    let yaml = format!(
        "sample_interval: 100ms\nservices:\n  - name: svc\n    probes:\n      - {{type: http, url: \"http://127.0.0.1:{port}/health\", expect_status: 200, body_match: ok, interval: 100ms, timeout: 300ms, retries: 0}}\n"
    );
    let cfg: HealthConfig = serde_saphyr::from_str(&yaml).expect("test config parses");
    let sink = Arc::new(Sink::default());
    let svc = HealthService::start(&cfg, Arc::new(SystemClock), sink.clone(), None)
        .expect("the health service starts");
    let deadline = Duration::from_secs(10);
    sink.wait("a first successful probe sample", deadline, |s| {
        s.last_probe_sample().is_some_and(|(_, v)| v == 1.0)
    })
    .await;

    for round in 0..4 {
        for (kind, m) in [("hang mid-body", HANG_MID_BODY), ("500", ERROR_500)] {
            let before = sink.http_transitions().len();
            mode.store(m, Ordering::SeqCst);
            sink.wait(&format!("round {round}: {kind} fires"), deadline, |s| {
                s.http_transitions().len() > before
                    && s.http_transitions().last().is_some_and(|t| !t.1)
            })
            .await;
            // The hung attempt is bounded: the alert names the timeout.
            if m == HANG_MID_BODY {
                let why = sink
                    .alerts
                    .lock()
                    .iter()
                    .rev()
                    .find(|a| !a.resolved)
                    .map(|a| a.annotations["description"].clone())
                    .unwrap_or_default();
                assert!(why.contains("timed out"), "round {round}: {why}");
            }
            let down_at = sink.last_probe_sample().map_or(0, |(t, _)| t);
            mode.store(OK, Ordering::SeqCst);
            sink.wait(&format!("round {round}: {kind} resolves"), deadline, |s| {
                s.http_transitions().last().is_some_and(|t| t.1)
            })
            .await;
            // Samples keep coming after the failure, and show the recovery.
            sink.wait(
                &format!("round {round}: fresh samples after {kind}"),
                deadline,
                |s| {
                    s.last_probe_sample()
                        .is_some_and(|(t, v)| t > down_at && v == 1.0)
                },
            )
            .await;
        }
    }
    // 4 rounds × 2 failures × (fire + resolve).
    assert_eq!(
        sink.http_transitions().len(),
        16,
        "{:?}",
        sink.http_transitions()
    );
    svc.stop().await;
}
