//! One service of the system under test: `argus-lab incidents --serve-one
//! --name orders --port P --calls payments=P1,db=P2 ...`. It answers
//! `GET /work` by calling each of its callees' `/work` (a failed call fails
//! the request), `GET /health` and `GET /metrics` (requests by code, a latency
//! histogram, CPU and memory of the process, call edges as
//! `traces_service_graph_request_total{client, server}`, its disk, and for
//! `orders` the KPI `orders_total{region, channel}`); it writes one JSON line
//! per failed request (and per fifth good one) to its log file, heartbeats
//! into Redis when given a key, and obeys control lines on its stdin:
//!
//! ```text
//! latency MS     add MS to every request       errors PCT   fail PCT % of requests
//! cpu on         spin a thread on a core        leak on      grow resident memory 32 MiB/s
//! disk on        grow a file 8 MiB/s            port off     stop listening
//! kpi REGION     lose the orders of REGION      heal         clear all of the above
//! ```
//! End of stdin (the lab went away) stops the service.

use anyhow::Context;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;

/// Size of the service's pretend disk.
pub const DISK_SIZE: u64 = 256 << 20;
/// What the disk holds when healthy.
const DISK_BASE: u64 = 64 << 20;
const BUCKETS: [f64; 8] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// Options of one service process.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Service name.
    pub name: String,
    /// Loopback port.
    pub port: u16,
    /// (callee, port) pairs.
    pub calls: Vec<(String, u16)>,
    /// The JSON log file (appended to).
    pub log: PathBuf,
    /// Directory for the disk-fill file.
    pub data: PathBuf,
    /// Redis host:port.
    pub redis: String,
    /// Heartbeat key; empty: no heartbeat.
    pub hb_key: String,
}

#[derive(Default)]
struct Faults {
    latency_ms: u64,
    errors_pct: u64,
    kpi_region: Option<String>,
}

#[derive(Default)]
struct Counters {
    by_code: BTreeMap<u16, u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
    edges: BTreeMap<String, (u64, u64)>,
    orders: BTreeMap<(String, String), u64>,
}

struct St {
    o: ServeOptions,
    faults: Mutex<Faults>,
    counters: Mutex<Counters>,
    cpu: Arc<AtomicBool>,
    leak: AtomicBool,
    disk: AtomicBool,
    leaked: Mutex<Vec<Vec<u8>>>,
    log: Mutex<std::fs::File>,
    rng: AtomicU64,
    client: reqwest::Client,
    seq: AtomicU64,
}

impl St {
    fn rand_pct(&self) -> u64 {
        // SplitMix64 step on an atomic: good enough to spread failures.
        let mut z = self
            .rng
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % 100
    }

    fn log(&self, level: &str, msg: &str, status: u16, ms: f64) {
        let line = serde_json::json!({
            "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "service": self.o.name, "level": level, "msg": msg, "status": status,
            "duration_ms": (ms * 10.0).round() / 10.0,
        });
        if let Ok(mut f) = self.log.lock() {
            let _ = writeln!(f, "{line}");
        }
    }

    fn disk_file(&self) -> PathBuf {
        self.o.data.join(format!("{}.fill", self.o.name))
    }
}

/// Runs the service until stdin closes; returns the exit code.
pub fn serve(o: ServeOptions) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the service's runtime")?;
    rt.block_on(async move {
        std::fs::create_dir_all(&o.data)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&o.log)
            .with_context(|| format!("open {}", o.log.display()))?;
        let st = Arc::new(St {
            rng: AtomicU64::new(u64::from(o.port) * 7919 + std::process::id() as u64),
            o,
            faults: Mutex::default(),
            counters: Mutex::default(),
            cpu: Arc::default(),
            leak: AtomicBool::default(),
            disk: AtomicBool::default(),
            leaked: Mutex::default(),
            log: Mutex::new(log),
            client: reqwest::Client::builder()
                .timeout(Duration::from_millis(1500))
                .build()?,
            seq: AtomicU64::default(),
        });
        let _ = std::fs::remove_file(st.disk_file());
        if !st.o.hb_key.is_empty() {
            let (redis, key) = (st.o.redis.clone(), st.o.hb_key.clone());
            tokio::spawn(crate::failures::service::heartbeat_loop(
                redis,
                key,
                Duration::from_millis(500),
                || true,
                || {},
            ));
        }
        tokio::spawn(grow(st.clone()));
        let (port_tx, port_rx) = tokio::sync::watch::channel(true);
        tokio::spawn(listen(st.clone(), port_rx));
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            control(&st, line.trim(), &port_tx);
        }
        Ok(0)
    })
}

fn control(st: &Arc<St>, line: &str, port: &tokio::sync::watch::Sender<bool>) {
    let (cmd, arg) = line.split_once(' ').unwrap_or((line, ""));
    let mut f = st.faults.lock().unwrap_or_else(|e| e.into_inner());
    match cmd {
        "latency" => f.latency_ms = arg.parse().unwrap_or(800),
        "errors" => f.errors_pct = arg.parse().unwrap_or(60),
        "kpi" => f.kpi_region = Some(arg.to_string()),
        "cpu" => {
            if !st.cpu.swap(true, Ordering::SeqCst) {
                let flag = st.cpu.clone();
                std::thread::spawn(move || {
                    let mut x = 1u64;
                    while flag.load(Ordering::Relaxed) {
                        for _ in 0..100_000 {
                            x = std::hint::black_box(x.wrapping_mul(6364136223846793005) + 1);
                        }
                    }
                });
            }
        }
        "leak" => st.leak.store(true, Ordering::SeqCst),
        "disk" => st.disk.store(true, Ordering::SeqCst),
        "port" => {
            let _ = port.send(arg != "off");
        }
        "heal" => {
            *f = Faults::default();
            st.cpu.store(false, Ordering::SeqCst);
            st.leak.store(false, Ordering::SeqCst);
            st.disk.store(false, Ordering::SeqCst);
            if let Ok(mut v) = st.leaked.lock() {
                *v = Vec::new();
            }
            let _ = std::fs::remove_file(st.disk_file());
            let _ = port.send(true);
        }
        _ => eprintln!("{}: unknown control line {line:?}", st.o.name),
    }
}

/// The memory leak and the disk fill, once a second while on.
async fn grow(st: Arc<St>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        if st.leak.load(Ordering::SeqCst) {
            if let Ok(mut v) = st.leaked.lock() {
                if v.len() < 32 {
                    v.push(vec![0x5a; 32 << 20]);
                }
            }
        }
        if st.disk.load(Ordering::SeqCst) {
            let p = st.disk_file();
            let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
            if len + DISK_BASE < DISK_SIZE - (8 << 20) {
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&p)
                {
                    let _ = f.write_all(&vec![0u8; 8 << 20]);
                    let _ = f.sync_data();
                }
            }
        }
    }
}

async fn listen(st: Arc<St>, mut on: tokio::sync::watch::Receiver<bool>) {
    let app = Router::new()
        .route("/work", get(work))
        .route("/health", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .with_state(st.clone());
    loop {
        while !*on.borrow_and_update() {
            if on.changed().await.is_err() {
                return;
            }
        }
        let l = loop {
            match tokio::net::TcpListener::bind(("127.0.0.1", st.o.port)).await {
                Ok(l) => break l,
                Err(e) => {
                    eprintln!("{}: bind {}: {e}", st.o.name, st.o.port);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        let mut off = on.clone();
        let stop = async move {
            while *off.borrow_and_update() {
                if off.changed().await.is_err() {
                    return;
                }
            }
        };
        if let Err(e) = axum::serve(l, app.clone())
            .with_graceful_shutdown(stop)
            .await
        {
            eprintln!("{}: serve: {e}", st.o.name);
        }
    }
}

async fn work(
    State(st): State<Arc<St>>,
    Query(q): Query<HashMap<String, String>>,
) -> (StatusCode, String) {
    let t0 = Instant::now();
    let (latency, errors, lost) = {
        let f = st.faults.lock().unwrap_or_else(|e| e.into_inner());
        (f.latency_ms, f.errors_pct, f.kpi_region.clone())
    };
    tokio::time::sleep(Duration::from_millis(3 + latency)).await;
    let mut failure: Option<(u16, String)> = None;
    if errors > 0 && st.rand_pct() < errors {
        failure = Some((500, "handler failed after the new release".into()));
    } else {
        let query: String = q
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        for (callee, port) in &st.o.calls {
            let r = st
                .client
                .get(format!("http://127.0.0.1:{port}/work?{query}"))
                .send()
                .await;
            let err = match r {
                Ok(r) if r.status().is_success() => None,
                Ok(r) => Some(format!("call to {callee} answered {}", r.status().as_u16())),
                Err(e) if e.is_timeout() => Some(format!("call to {callee} timed out")),
                Err(_) => Some(format!("call to {callee} failed: connection refused")),
            };
            if let Ok(mut c) = st.counters.lock() {
                let e = c.edges.entry(callee.clone()).or_default();
                e.0 += 1;
                e.1 += u64::from(err.is_some());
            }
            if let Some(e) = err {
                failure = Some((502, e));
                break;
            }
        }
    }
    let region = q.get("region").cloned().unwrap_or_default();
    let channel = q.get("channel").cloned().unwrap_or_default();
    if failure.is_none() && st.o.name == "orders" && lost.as_deref() != Some(region.as_str()) {
        if let Ok(mut c) = st.counters.lock() {
            *c.orders.entry((region, channel)).or_default() += 1;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let code = failure.as_ref().map_or(200, |f| f.0);
    if let Ok(mut c) = st.counters.lock() {
        *c.by_code.entry(code).or_default() += 1;
        c.count += 1;
        c.sum += secs;
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                c.buckets[i] += 1;
            }
        }
    }
    let n = st.seq.fetch_add(1, Ordering::Relaxed);
    match &failure {
        Some((c, msg)) => st.log("error", msg, *c, secs * 1000.0),
        None if n % 5 == 0 => st.log("info", "request served", 200, secs * 1000.0),
        None => {}
    }
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, failure.map_or_else(|| "ok".into(), |f| f.1))
}

/// utime+stime seconds and resident bytes of this process.
fn own_usage() -> (f64, u64) {
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s[s.rfind(')')? + 2..].to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            let t = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
            Some(t as f64 / 100.0)
        })
        .unwrap_or(0.0);
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096);
    (cpu, rss)
}

async fn metrics(State(st): State<Arc<St>>) -> String {
    let (cpu, rss) = own_usage();
    let disk = DISK_BASE
        + std::fs::metadata(st.disk_file())
            .map(|m| m.len())
            .unwrap_or(0);
    let me = &st.o.name;
    let mut s = String::new();
    let c = st.counters.lock().unwrap_or_else(|e| e.into_inner());
    s.push_str("# TYPE http_requests_total counter\n");
    // Both codes always present, so a rate of errors is 0, not absent.
    for code in [200u16, 500, 502] {
        let v = c.by_code.get(&code).copied().unwrap_or(0);
        let _ = writeln!(s, "http_requests_total{{code=\"{code}\"}} {v}");
    }
    s.push_str("# TYPE http_request_duration_seconds histogram\n");
    for (i, b) in BUCKETS.iter().enumerate() {
        let _ = writeln!(
            s,
            "http_request_duration_seconds_bucket{{le=\"{b}\"}} {}",
            c.buckets[i]
        );
    }
    let _ = writeln!(
        s,
        "http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\nhttp_request_duration_seconds_sum {}\nhttp_request_duration_seconds_count {}",
        c.count, c.sum, c.count
    );
    s.push_str("# TYPE traces_service_graph_request_total counter\n");
    for (callee, (n, failed)) in &c.edges {
        let _ = writeln!(
            s,
            "traces_service_graph_request_total{{client=\"{me}\",server=\"{callee}\"}} {n}\ntraces_service_graph_request_failed_total{{client=\"{me}\",server=\"{callee}\"}} {failed}"
        );
    }
    if me == "orders" {
        s.push_str("# TYPE orders_total counter\n");
        for r in super::plan::REGIONS {
            for ch in super::plan::CHANNELS {
                let v = c.orders.get(&(r.into(), ch.into())).copied().unwrap_or(0);
                let _ = writeln!(s, "orders_total{{region=\"{r}\",channel=\"{ch}\"}} {v}");
            }
        }
    }
    let _ = write!(
        s,
        "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {cpu}\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {rss}\n# TYPE lab_disk_size_bytes gauge\nlab_disk_size_bytes {DISK_SIZE}\n# TYPE lab_disk_free_bytes gauge\nlab_disk_free_bytes {}\n",
        DISK_SIZE.saturating_sub(disk)
    );
    s
}
