//! The queue against an in-process receiver: everything arrives once, in
//! order per series, across receiver failures and a restart.

use super::*;
use crate::remote_write::ingest_remote_write;
use argus_tsdb::{AppendStats, Appender, Options, SampleError, TsdbError};
use std::sync::atomic::AtomicU16;

#[derive(Default)]
struct Got(Vec<(String, i64, f64)>);
impl Appender for Got {
    fn append_pairs(&mut self, p: &[(&str, &str)], t: i64, v: f64) -> Result<(), SampleError> {
        self.0.push((format!("{p:?}"), t, v));
        Ok(())
    }
    fn commit(self) -> Result<AppendStats, TsdbError> {
        Ok(AppendStats::default())
    }
    fn rollback(self) {}
}

#[derive(Default)]
struct Receiver {
    samples: Mutex<Vec<(String, i64, f64)>>,
    /// Answer with this status instead of 204 while non-zero.
    fail_with: AtomicU16,
    headers_ok: std::sync::atomic::AtomicBool,
}

async fn serve(rx: Arc<Receiver>) -> String {
    use axum::{body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post};
    async fn write(State(rx): State<Arc<Receiver>>, h: HeaderMap, body: Bytes) -> StatusCode {
        let f = rx.fail_with.load(Ordering::Relaxed);
        if f != 0 {
            return StatusCode::from_u16(f).unwrap();
        }
        let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
        let ok = get("x-prometheus-remote-write-version").as_deref() == Some("0.1.0")
            && get("user-agent").is_some_and(|u| u.starts_with("Argus/"))
            && get("x-extra").as_deref() == Some("yes");
        rx.headers_ok.store(ok, Ordering::Relaxed);
        let mut got = Got::default();
        let ct = get("content-type");
        let ce = get("content-encoding");
        match ingest_remote_write(&mut got, &body, ct.as_deref(), ce.as_deref()) {
            Ok(_) => {
                rx.samples.lock().extend(got.0);
                StatusCode::NO_CONTENT
            }
            Err(_) => StatusCode::BAD_REQUEST,
        }
    }
    let app = axum::Router::new()
        .route("/write", post(write))
        .with_state(rx);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    format!("http://{addr}/write")
}

thread_local! {
    /// A day back, so the store's accepted window holds every sample.
    static BASE: i64 = {
        use argus_model::Clock;
        (argus_model::SystemClock.now_ms() - 86_400_000) / 1000 * 1000
    };
}

fn push(db: &Db, from: i64, n: i64) {
    for t in from..from + n {
        let mut app = db.appender();
        for s in 0..10 {
            let id = s.to_string();
            app.append_pairs(
                &[("__name__", "m"), ("s", id.as_str())],
                BASE.with(|b| *b) + t * 1000,
                t as f64,
            )
            .unwrap();
        }
        app.commit().unwrap();
    }
}

async fn wait_for(rx: &Receiver, n: usize) {
    for _ in 0..400 {
        if rx.samples.lock().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("only {} of {n} samples arrived", rx.samples.lock().len());
}

fn config(url: &str) -> RemoteWriteConfig {
    let mut c = RemoteWriteConfig::new(url);
    c.name = Some("test".into());
    c.headers.insert("X-Extra".into(), "yes".into());
    c.queue_config.batch_send_deadline = argus_model::PromDuration(50);
    c.queue_config.max_samples_per_send = 100;
    c.queue_config.capacity = 300;
    c.queue_config.max_backoff = argus_model::PromDuration(100);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_receiver_errors_and_a_restart_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        wal_segment_bytes: 8192,
        ..Options::default()
    };
    let clock: Arc<dyn Clock> = Arc::new(argus_model::SystemClock);
    let db = Db::open(dir.path(), opts.clone(), clock.clone()).unwrap();
    let rx = Arc::new(Receiver::default());
    let url = serve(rx.clone()).await;
    let rw = RemoteWrite::new(db.clone(), dir.path().join("remote_write"), clock.clone());
    let mut ext = BTreeMap::new();
    ext.insert("cluster".to_string(), "eu".to_string());
    rw.apply(&[config(&url)], &ext).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    push(&db, 1, 100);
    wait_for(&rx, 1000).await;
    assert!(rx.headers_ok.load(Ordering::Relaxed));
    assert!(rx.samples.lock()[0].0.contains("(\"cluster\", \"eu\")"));

    // A 503 outage: retried, nothing lost, and checkpoints keep the segments.
    rx.fail_with.store(503, Ordering::Relaxed);
    push(&db, 101, 100);
    tokio::time::sleep(Duration::from_millis(300)).await;
    db.checkpoint().unwrap();
    rx.fail_with.store(0, Ordering::Relaxed);
    wait_for(&rx, 2000).await;
    let m = rw.metrics()[0].1.clone();
    assert!(m.samples_retried.load(Ordering::Relaxed) > 0);

    // A restart: stopped, more written, started again on the same store.
    rw.shutdown().await;
    push(&db, 201, 100);
    let rw = RemoteWrite::new(db.clone(), dir.path().join("remote_write"), clock);
    rw.apply(&[config(&url)], &ext).unwrap();
    wait_for(&rx, 3000).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = rx.samples.lock().clone();
    assert_eq!(got.len(), 3000, "each sample exactly once");
    let mut per_series: HashMap<String, Vec<i64>> = HashMap::new();
    for (l, t, _) in &got {
        per_series.entry(l.clone()).or_default().push(*t);
    }
    assert_eq!(per_series.len(), 10);
    for ts in per_series.values() {
        assert_eq!(ts.len(), 300);
        assert!(ts.windows(2).all(|w| w[0] < w[1]), "in order per series");
    }
    let mut text = String::new();
    rw.render(&mut text);
    assert!(
        text.contains("argus_remote_storage_samples_total{remote_name=\"test\""),
        "{text}"
    );

    // A 400 drops the batch, counted, and the queue moves on.
    rx.fail_with.store(400, Ordering::Relaxed);
    push(&db, 301, 10);
    let m = rw.metrics()[0].1.clone();
    for _ in 0..600 {
        if m.samples_failed.load(Ordering::Relaxed) >= 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(m.samples_failed.load(Ordering::Relaxed), 100);
    rx.fail_with.store(0, Ordering::Relaxed);
    rw.apply(&[], &ext).unwrap();
    rw.shutdown().await;
}
