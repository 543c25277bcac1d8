//! Push tests against a hand-rolled local HTTP server.

use std::collections::VecDeque;

use argus_model::ManualClock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

#[derive(Default)]
struct Server {
    /// Statuses to answer, in order; 204 once exhausted.
    script: Mutex<VecDeque<u16>>,
    /// (status answered, headers, body) of each request.
    seen: Mutex<Vec<(u16, String, Vec<u8>)>>,
}

async fn handle(mut s: tokio::net::TcpStream, srv: Arc<Server>) {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        let Ok(n) = s.read(&mut tmp).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut tmp).await.unwrap();
        assert!(n > 0);
        buf.extend_from_slice(&tmp[..n]);
    }
    let status = srv.script.lock().pop_front().unwrap_or(204);
    srv.seen
        .lock()
        .push((status, head, buf[head_end..head_end + len].to_vec()));
    let resp = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = s.write_all(resp.as_bytes()).await;
}

async fn start(script: &[u16]) -> (String, Arc<Server>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1/write", l.local_addr().unwrap());
    let srv = Arc::new(Server {
        script: Mutex::new(script.iter().copied().collect()),
        ..Default::default()
    });
    let s2 = Arc::clone(&srv);
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(handle(s, Arc::clone(&s2)));
        }
    });
    (url, srv)
}

/// A source whose single gauge counts gathers: 1, 2, 3, …
fn counting_source() -> Arc<dyn SampleSource> {
    let n = AtomicU64::new(0);
    Arc::new(move || {
        let v = n.fetch_add(1, Ordering::SeqCst) + 1;
        let mut f = MetricFamily::new("test_gather", "Gathers.", MetricKind::Gauge);
        f.push(&[("k", "v")], v as f64);
        vec![f]
    })
}

fn decode(body: &[u8]) -> prompb::WriteRequest {
    let raw = snap::raw::Decoder::new().decompress_vec(body).unwrap();
    prompb::WriteRequest::decode(raw.as_slice()).unwrap()
}

fn value_of(body: &[u8]) -> f64 {
    decode(body).timeseries[0].samples[0].value
}

fn cfg(url: &str, dir: &std::path::Path) -> PushConfig {
    let mut c = PushConfig::new(url, dir);
    c.interval_secs = 3600;
    c.min_backoff_ms = 20;
    c.extra_labels.insert("instance".into(), "h1".into());
    c
}

async fn wait_for(srv: &Server, n: usize) {
    for _ in 0..500 {
        if srv.seen.lock().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("server saw {} requests, wanted {n}", srv.seen.lock().len());
}

#[tokio::test]
async fn retries_after_503_and_delivers_exactly_once() {
    let (url, srv) = start(&[503]).await;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let p = Pusher::new(cfg(&url, dir.path()), counting_source(), clock).unwrap();
    let stats = p.stats();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(p.clone().run(async {
        let _ = rx.await;
    }));
    wait_for(&srv, 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = tx.send(());
    task.await.unwrap();
    let seen = srv.seen.lock().clone();
    assert_eq!(seen.len(), 2, "one 503, one 204, nothing more");
    assert_eq!((seen[0].0, seen[1].0), (503, 204));
    assert_eq!(seen[0].2, seen[1].2, "the same batch is retried");
    let head = seen[1].1.to_ascii_lowercase();
    assert!(head.contains("content-encoding: snappy"));
    assert!(head.contains("content-type: application/x-protobuf"));
    assert!(head.contains("x-prometheus-remote-write-version: 0.1.0"));
    let req = decode(&seen[1].2);
    assert_eq!(req.timeseries.len(), 1);
    let ts = &req.timeseries[0];
    let labels: Vec<(&str, &str)> = ts
        .labels
        .iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect();
    assert_eq!(
        labels,
        vec![("__name__", "test_gather"), ("instance", "h1"), ("k", "v")]
    );
    assert_eq!(ts.samples[0].timestamp, 1_700_000_000_000);
    assert_eq!(ts.samples[0].value, 1.0);
    assert_eq!(stats.sent.load(Ordering::SeqCst), 1);
    assert_eq!(stats.failed.load(Ordering::SeqCst), 1);
    assert_eq!(p.depth(), 0);
    let mut fams = Vec::new();
    stats.families(&mut fams);
    assert!(fams
        .iter()
        .any(|f| f.name == "argus_agent_push_sent_batches_total" && f.samples[0].value == 1.0));
}

#[tokio::test]
async fn restart_resumes_from_the_queue_after_an_outage() {
    // A port with nothing listening: connection refused.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/api/v1/write", dead.local_addr().unwrap());
    drop(dead);
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(0));
    let source = counting_source();
    {
        let p = Pusher::new(
            cfg(&dead_url, dir.path()),
            Arc::clone(&source),
            Arc::clone(&clock),
        )
        .unwrap();
        p.enqueue().await.unwrap();
        p.enqueue().await.unwrap();
        // run() gathers a third batch at once and keeps failing to send.
        let run = p
            .clone()
            .run(tokio::time::sleep(Duration::from_millis(300)));
        run.await;
        assert_eq!(p.depth(), 3);
        assert!(p.stats().failed.load(Ordering::SeqCst) >= 1);
        assert!(p.send_one().await.unwrap_err().is_retryable());
    }
    let (url, srv) = start(&[]).await;
    let p = Pusher::new(cfg(&url, dir.path()), source, clock).unwrap();
    assert_eq!(p.depth(), 3, "the queue survived the restart");
    assert_eq!(p.send_pending().await.unwrap(), 3);
    let vals: Vec<f64> = srv
        .seen
        .lock()
        .iter()
        .map(|(_, _, b)| value_of(b))
        .collect();
    assert_eq!(vals, vec![1.0, 2.0, 3.0], "oldest first, each once");
    drop(p);
    let p = Pusher::new(
        cfg(&url, dir.path()),
        counting_source(),
        Arc::new(ManualClock::new(0)),
    )
    .unwrap();
    assert_eq!(p.depth(), 0, "acknowledged batches are not sent again");
}

#[tokio::test]
async fn rejected_batches_are_dropped_and_counted() {
    let (url, srv) = start(&[400, 429]).await;
    let dir = tempfile::tempdir().unwrap();
    let p = Pusher::new(
        cfg(&url, dir.path()),
        counting_source(),
        Arc::new(ManualClock::new(0)),
    )
    .unwrap();
    p.enqueue().await.unwrap();
    p.enqueue().await.unwrap();
    assert_eq!(p.send_one().await.unwrap(), SendOutcome::Rejected);
    assert!(
        p.send_one().await.unwrap_err().is_retryable(),
        "429 is retried"
    );
    assert_eq!(p.send_one().await.unwrap(), SendOutcome::Sent);
    assert_eq!(p.send_one().await.unwrap(), SendOutcome::Empty);
    let vals: Vec<f64> = srv
        .seen
        .lock()
        .iter()
        .map(|(_, _, b)| value_of(b))
        .collect();
    assert_eq!(vals, vec![1.0, 2.0, 2.0]);
    let s = p.stats();
    assert_eq!(s.dropped_rejected.load(Ordering::SeqCst), 1);
    assert_eq!(s.sent.load(Ordering::SeqCst), 1);
    assert_eq!(s.queue_batches.load(Ordering::SeqCst), 0);
}

#[test]
fn config_rejects_bad_values() {
    let dir = tempfile::tempdir().unwrap();
    let src = counting_source();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(0));
    assert!(Pusher::new(
        PushConfig::new("ftp://x", dir.path()),
        Arc::clone(&src),
        Arc::clone(&clock)
    )
    .is_err());
    let mut c = PushConfig::new("http://x", dir.path());
    c.interval_secs = 0;
    assert!(Pusher::new(c, src, clock).is_err());
    let e =
        serde_json::from_str::<PushConfig>(r#"{"url": "http://x", "queue_dir": "/q", "nope": 1}"#)
            .unwrap_err();
    assert!(e.to_string().contains("nope"));
}
