//! Acceptance tests of service health against real servers: the system Redis
//! at 127.0.0.1:6379 (a unique key prefix per test), a private
//! `redis-server` on a random port for the restart test, and local HTTP/TCP
//! servers that hang, refuse, answer slowly or answer wrongly. They fail,
//! never skip, when Redis or `redis-server` is missing.
//!
//! Timing: short intervals, generous deadlines when waiting for an expected
//! event, fixed observation windows when asserting the absence of alerts.

use argus_health::probe::Prober;
use argus_health::{HealthAlert, HealthConfig, HealthService, HealthSink};
use argus_model::{Labels, SystemClock};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SYSTEM_REDIS: &str = "redis://127.0.0.1:6379";

/// Collects what the health service emits.
#[derive(Default)]
struct TestSink {
    alerts: Mutex<Vec<(Instant, HealthAlert)>>,
    samples: Mutex<Vec<(Labels, i64, f64)>>,
}

impl HealthSink for TestSink {
    fn send_alerts(&self, alerts: Vec<HealthAlert>) {
        let now = Instant::now();
        self.alerts
            .lock()
            .extend(alerts.into_iter().map(|a| (now, a)));
    }
    fn append_samples(&self, samples: Vec<(Labels, i64, f64)>) -> Result<(), String> {
        self.samples.lock().extend(samples);
        Ok(())
    }
}

fn id(a: &HealthAlert) -> String {
    format!(
        "{}/{}/{}{}",
        a.labels["alertname"],
        a.labels["service"],
        a.labels.get("reason").map_or("", |s| s.as_str()),
        if a.resolved { " resolved" } else { "" }
    )
}

impl TestSink {
    fn ids(&self) -> Vec<String> {
        self.alerts.lock().iter().map(|(_, a)| id(a)).collect()
    }
    /// Waits (up to `deadline`) for an alert with this id; returns when it arrived.
    async fn wait_for(&self, want: &str, deadline: Duration) -> Instant {
        let start = Instant::now();
        loop {
            if let Some((t, _)) = self.alerts.lock().iter().find(|(_, a)| id(a) == want) {
                return *t;
            }
            assert!(
                start.elapsed() < deadline,
                "no {want} within {deadline:?}; got {:?}",
                self.ids()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn config(yaml: &str) -> HealthConfig {
    let cfg: HealthConfig = serde_saphyr::from_str(yaml).expect("test config parses");
    cfg.validate().expect("test config is valid");
    cfg
}

fn start(yaml: &str) -> (HealthService, Arc<TestSink>) {
    let sink = Arc::new(TestSink::default());
    let svc = HealthService::start(&config(yaml), Arc::new(SystemClock), sink.clone(), None)
        .expect("health service starts");
    (svc, sink)
}

fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "argus-test:{prefix}:{}:{}:{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        argus_model::Clock::now_ms(&SystemClock)
    )
}

async fn redis_conn(url: &str) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(url).expect("redis url");
    match client.get_multiplexed_async_connection().await {
        Ok(c) => c,
        Err(e) => panic!("Redis at {url} is needed for this test and is not reachable: {e}"),
    }
}

/// INCRs `key` every `every` while `run` is true; errors (Redis away) are
/// retried with a fresh connection, as a real service would.
fn heartbeater(url: &str, key: String, every: Duration, run: Arc<AtomicBool>) {
    let client = redis::Client::open(url).expect("redis url");
    tokio::spawn(async move {
        let mut conn: Option<redis::aio::MultiplexedConnection> = None;
        loop {
            if run.load(Ordering::Relaxed) {
                if conn.is_none() {
                    conn = tokio::time::timeout(
                        Duration::from_millis(300),
                        client.get_multiplexed_async_connection(),
                    )
                    .await
                    .ok()
                    .and_then(Result::ok);
                }
                if let Some(c) = conn.as_mut() {
                    let r: Result<i64, _> = redis::cmd("INCR").arg(&key).query_async(c).await;
                    if r.is_err() {
                        conn = None;
                    }
                }
            }
            tokio::time::sleep(every).await;
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_stop_alerts_and_resume_resolves() {
    let _ = redis_conn(SYSTEM_REDIS).await;
    let key = unique("hb");
    let (svc, sink) = start(&format!(
        "redis_url: {SYSTEM_REDIS}\nservices:\n  - {{name: beat, heartbeat: {{key: '{key}', interval: 500ms}}}}\n"
    ));
    let run = Arc::new(AtomicBool::new(true));
    heartbeater(
        SYSTEM_REDIS,
        key.clone(),
        Duration::from_millis(100),
        run.clone(),
    );
    // Healthy for a fixed window: no alert.
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert!(sink.ids().is_empty(), "false alerts: {:?}", sink.ids());
    assert_eq!(svc.five_tuples()[0].status, "up");
    run.store(false, Ordering::Relaxed);
    let stopped = Instant::now();
    let fired = sink
        .wait_for("ServiceDown/beat/heartbeat", Duration::from_secs(10))
        .await;
    // Detection is bounded below by the promise.
    assert!(
        fired - stopped >= Duration::from_millis(300),
        "{:?}",
        fired - stopped
    );
    assert_eq!(svc.five_tuples()[0].status, "down");
    run.store(true, Ordering::Relaxed);
    sink.wait_for(
        "ServiceDown/beat/heartbeat resolved",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        sink.ids(),
        [
            "ServiceDown/beat/heartbeat",
            "ServiceDown/beat/heartbeat resolved"
        ]
    );
    svc.stop().await;
    let mut c = redis_conn(SYSTEM_REDIS).await;
    let _: Result<i64, _> = redis::cmd("DEL").arg(&key).query_async(&mut c).await;
}

/// A private redis-server on a free port, killed on drop.
struct OwnRedis {
    child: std::process::Child,
    port: u16,
}

impl OwnRedis {
    fn start(port: u16) -> OwnRedis {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .args(["--bind", "127.0.0.1"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("redis-server is needed for the restart test (apt-get install redis-server): {e}")
            });
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not start on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        OwnRedis { child, port }
    }
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_raises_the_store_alert_and_no_service_alert() {
    let mut redis = OwnRedis::start(free_port());
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let mut yaml = format!("redis_url: {url}\nredis_timeout: 300ms\nservices:\n");
    for i in 0..5 {
        yaml.push_str(&format!(
            "  - {{name: s{i}, heartbeat: {{key: 'hb:s{i}', interval: 1s}}}}\n"
        ));
    }
    let run = Arc::new(AtomicBool::new(true));
    for i in 0..5 {
        heartbeater(
            &url,
            format!("hb:s{i}"),
            Duration::from_millis(100),
            run.clone(),
        );
    }
    // Let the counters exist and climb before Argus watches them.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (svc, sink) = start(&yaml);
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert!(sink.ids().is_empty(), "false alerts: {:?}", sink.ids());

    // Redis dies; it is away for three heartbeat intervals.
    redis.kill();
    let down_at = sink
        .wait_for(
            "HeartbeatStoreDown/heartbeat-store/",
            Duration::from_secs(10),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    assert!(svc.five_tuples().iter().all(|t| t.status == "unknown"));
    // Back, empty: every counter restarts from 1 (lower than before).
    let _redis2 = OwnRedis::start(redis.port);
    let back = sink
        .wait_for(
            "HeartbeatStoreDown/heartbeat-store/ resolved",
            Duration::from_secs(10),
        )
        .await;
    assert!(back > down_at);
    // Observe a fixed window of three intervals: no service alert at all.
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    assert_eq!(
        sink.ids(),
        [
            "HeartbeatStoreDown/heartbeat-store/",
            "HeartbeatStoreDown/heartbeat-store/ resolved"
        ]
    );
    assert!(
        svc.five_tuples().iter().all(|t| t.status == "up"),
        "{:?}",
        svc.five_tuples()
    );
    // The heartbeats really are watched again: stopping them alerts for all five.
    run.store(false, Ordering::Relaxed);
    for i in 0..5 {
        sink.wait_for(
            &format!("ServiceDown/s{i}/heartbeat"),
            Duration::from_secs(10),
        )
        .await;
    }
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_dead_across_the_outage_fails_a_full_interval_after_reconnect() {
    let mut redis = OwnRedis::start(free_port());
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let (svc, sink) = start(&format!(
        "redis_url: {url}\nredis_timeout: 300ms\nservices:\n  - {{name: dead, heartbeat: {{key: 'hb:dead', interval: 1500ms}}}}\n"
    ));
    // Redis goes away before the first interval ends; nothing ever heartbeats.
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.kill();
    sink.wait_for(
        "HeartbeatStoreDown/heartbeat-store/",
        Duration::from_secs(10),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let _redis2 = OwnRedis::start(redis.port);
    let back = sink
        .wait_for(
            "HeartbeatStoreDown/heartbeat-store/ resolved",
            Duration::from_secs(10),
        )
        .await;
    let fired = sink
        .wait_for("ServiceDown/dead/heartbeat", Duration::from_secs(10))
        .await;
    assert!(
        fired - back >= Duration::from_millis(1_400),
        "declared failed {:?} after the reconnect, before a full interval",
        fired - back
    );
    svc.stop().await;
}

mod probes;
