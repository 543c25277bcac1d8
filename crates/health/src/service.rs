//! The running health service: one task polls the heartbeat counters (one
//! pipelined `MGET` of every Redis key per poll, plus the in-memory HTTP
//! counters) and evaluates at once; one task per probe; one per saturation
//! model; one resends active alerts; one writes the series. Alerts go to the
//! [`HealthSink`] the moment a condition changes, not on a timer.
//!
//! ```no_run
//! # fn f(sink: std::sync::Arc<dyn argus_health::HealthSink>) -> Result<(), argus_health::HealthError> {
//! use argus_health::{HealthConfig, HealthService};
//! let cfg: HealthConfig = serde_json::from_str(
//!     r#"{"services": [{"name": "api", "heartbeat": {"source": "http", "interval": "1s"}}]}"#,
//! ).unwrap();
//! let svc = HealthService::start(&cfg, std::sync::Arc::new(argus_model::SystemClock), sink, None)?;
//! svc.heartbeat("api")?; // what POST /api/v1/heartbeat/api does
//! println!("{:?}", svc.five_tuples());
//! # Ok(()) }
//! ```

use crate::config::HealthConfig;
use crate::monitor::{FiveTuple, HealthAlert, Monitor};
use crate::probe::Prober;
use crate::supervise::{supervise, Restarts};
use crate::{HealthError, HealthSink, LoadQuery};
use argus_model::Clock;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// The running health checks of one configuration.
#[derive(Debug)]
pub struct HealthService {
    monitor: Arc<Mutex<Monitor>>,
    counters: Arc<HashMap<String, AtomicU64>>,
    tasks: Vec<JoinHandle<()>>,
}

struct Ctx {
    monitor: Arc<Mutex<Monitor>>,
    sink: Arc<dyn HealthSink>,
    restarts: Restarts,
}

/// Pause before a panicked task is started again.
const RESTART_PAUSE: Duration = Duration::from_secs(1);

/// Spawns `make`'s task under [`supervise`], named `name`.
fn spawn_supervised<F, Fut>(ctx: &Ctx, name: String, make: F) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(supervise(name, ctx.restarts.clone(), RESTART_PAUSE, make))
}

impl Ctx {
    /// Applies `f` to the monitor and sends what changed, outside the lock.
    fn apply(&self, f: impl FnOnce(&mut Monitor) -> Vec<HealthAlert>) {
        let alerts = f(&mut self.monitor.lock());
        if !alerts.is_empty() {
            for a in &alerts {
                tracing::info!(
                    alertname = %a.labels.get("alertname").map_or("", |s| s.as_str()),
                    service = %a.labels.get("service").map_or("", |s| s.as_str()),
                    reason = %a.labels.get("reason").map_or("", |s| s.as_str()),
                    resolved = a.resolved,
                    "A service health alert changed."
                );
            }
            self.sink.send_alerts(alerts);
        }
    }
}

impl HealthService {
    /// Validates `cfg` and spawns the tasks on the current tokio runtime.
    /// `load` evaluates saturation load queries; without it saturation stays
    /// unknown.
    pub fn start(
        cfg: &HealthConfig,
        clock: Arc<dyn Clock>,
        sink: Arc<dyn HealthSink>,
        load: Option<Arc<dyn LoadQuery>>,
    ) -> Result<HealthService, HealthError> {
        Self::start_with_alerts(cfg, clock, sink, load, Vec::new())
    }

    /// [`HealthService::start`], taking over the alerts still firing in the
    /// service this one replaces (see [`Monitor::adopt`]).
    pub fn start_with_alerts(
        cfg: &HealthConfig,
        clock: Arc<dyn Clock>,
        sink: Arc<dyn HealthSink>,
        load: Option<Arc<dyn LoadQuery>>,
        carried: Vec<HealthAlert>,
    ) -> Result<HealthService, HealthError> {
        let mut monitor = Monitor::new(cfg, clock)?;
        let gone = monitor.adopt(carried);
        let probes = monitor.probes();
        let sats = monitor.saturations();
        let poll = poll_interval(cfg, &monitor);
        let counters: Arc<HashMap<String, AtomicU64>> = Arc::new(
            monitor
                .http_heartbeats()
                .into_iter()
                .map(|(_, name)| (name, AtomicU64::new(0)))
                .collect(),
        );
        let redis = match (&cfg.redis_url, monitor.redis_keys().is_empty()) {
            (Some(url), false) => {
                Some(
                    redis::Client::open(url.as_str()).map_err(|e| HealthError::Config {
                        service: "-".into(),
                        message: format!("health.redis_url: {e}"),
                    })?,
                )
            }
            _ => None,
        };
        let mut probers = Vec::new();
        for (i, j, p) in probes {
            probers.push((i, j, p.interval.to_std(), Arc::new(Prober::new(&p)?)));
        }
        let names: Vec<String> = monitor
            .five_tuples()
            .into_iter()
            .map(|t| t.service)
            .collect();
        let ctx = Arc::new(Ctx {
            monitor: Arc::new(Mutex::new(monitor)),
            sink,
            restarts: Restarts::default(),
        });
        ctx.apply(|_| gone);
        let mut tasks = Vec::new();
        let has_heartbeats = ctx.monitor.lock().shortest_heartbeat_ms().is_some();
        if has_heartbeats {
            let (c, counters, timeout) =
                (ctx.clone(), counters.clone(), cfg.redis_timeout.to_std());
            tasks.push(spawn_supervised(&ctx, "heartbeats".into(), move || {
                heartbeat_loop(c.clone(), redis.clone(), counters.clone(), poll, timeout)
            }));
        }
        for (i, j, every, prober) in probers {
            let name = format!("probe {}/{j}", names.get(i).map_or("?", |s| s.as_str()));
            let c = ctx.clone();
            tasks.push(spawn_supervised(&ctx, name, move || {
                probe_loop(c.clone(), i, j, every, prober.clone())
            }));
        }
        if let Some(load) = load {
            for (i, sat) in sats {
                let query = sat.load_query.replace("$window", &sat.window.to_string());
                let every = sat.interval.to_std();
                let name = format!("saturation {}", names.get(i).map_or("?", |s| s.as_str()));
                let (c, load) = (ctx.clone(), load.clone());
                tasks.push(spawn_supervised(&ctx, name, move || {
                    saturation_loop(c.clone(), load.clone(), i, query.clone(), every)
                }));
            }
        }
        let (c, every) = (ctx.clone(), cfg.resend_interval.to_std());
        tasks.push(spawn_supervised(&ctx, "resend".into(), move || {
            resend_loop(c.clone(), every)
        }));
        let (c, every) = (ctx.clone(), cfg.sample_interval.to_std());
        tasks.push(spawn_supervised(&ctx, "samples".into(), move || {
            sample_loop(c.clone(), every)
        }));
        tracing::info!(
            services = cfg.services.len(),
            poll_ms = poll.as_millis() as u64,
            "Started the service health checks."
        );
        Ok(HealthService {
            monitor: ctx.monitor.clone(),
            counters,
            tasks,
        })
    }

    /// Counts one heartbeat of `service` (`POST /api/v1/heartbeat/{service}`).
    /// Returns the new counter value.
    pub fn heartbeat(&self, service: &str) -> Result<u64, HealthError> {
        match self.counters.get(service) {
            Some(c) => Ok(c.fetch_add(1, Ordering::Relaxed) + 1),
            None if self.monitor.lock().service_index(service).is_some() => {
                Err(HealthError::NotHttpHeartbeat(service.to_string()))
            }
            None => Err(HealthError::UnknownService(service.to_string())),
        }
    }

    /// The five-tuple of every service.
    pub fn five_tuples(&self) -> Vec<FiveTuple> {
        self.monitor.lock().five_tuples()
    }

    /// The alerts firing now.
    pub fn active_alerts(&self) -> Vec<HealthAlert> {
        self.monitor.lock().active_alerts()
    }

    /// Stops every task without waiting for them to finish.
    pub fn abort(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }

    /// Stops every task. Alerts still firing are not resolved: they expire in
    /// the pipeline after their validity (four resend intervals) unless a new
    /// service picks them up.
    pub async fn stop(self) {
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// `poll_interval`, or a tenth of the shortest heartbeat interval within [20ms, 1s].
fn poll_interval(cfg: &HealthConfig, m: &Monitor) -> Duration {
    let ms = match cfg.poll_interval {
        Some(p) => p.as_millis(),
        None => (m.shortest_heartbeat_ms().unwrap_or(10_000) / 10).clamp(20, 1_000),
    };
    Duration::from_millis(ms.max(1) as u64)
}

async fn heartbeat_loop(
    ctx: Arc<Ctx>,
    redis: Option<redis::Client>,
    counters: Arc<HashMap<String, AtomicU64>>,
    every: Duration,
    timeout: Duration,
) {
    let (keys, http) = {
        let m = ctx.monitor.lock();
        (m.redis_keys(), m.http_heartbeats())
    };
    let mut conn: Option<redis::aio::MultiplexedConnection> = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut was_down = false;
    loop {
        tick.tick().await;
        if let Some(client) = &redis {
            let res = redis_read(client, &mut conn, &keys, timeout).await;
            match &res {
                Err(e) if !was_down => {
                    tracing::warn!(error = %e, "The heartbeat store (Redis) is unreachable; heartbeat verdicts are frozen.")
                }
                Ok(_) if was_down => {
                    tracing::info!(
                        "The heartbeat store (Redis) is back; heartbeats are watched from now."
                    )
                }
                _ => {}
            }
            was_down = res.is_err();
            ctx.apply(|m| m.redis_poll(res));
        }
        if !http.is_empty() {
            let readings: Vec<(usize, Option<String>)> = http
                .iter()
                .map(|(i, name)| {
                    let v = counters
                        .get(name)
                        .map(|c| c.load(Ordering::Relaxed).to_string());
                    (*i, v)
                })
                .collect();
            ctx.apply(|m| m.heartbeat_readings(&readings));
        }
    }
}

/// One `MGET` of every key, (re)connecting first when needed; any failure
/// drops the connection so the next poll reconnects.
async fn redis_read(
    client: &redis::Client,
    conn: &mut Option<redis::aio::MultiplexedConnection>,
    keys: &[(usize, String)],
    timeout: Duration,
) -> Result<Vec<(usize, Option<String>)>, String> {
    if conn.is_none() {
        let c = tokio::time::timeout(timeout, client.get_multiplexed_async_connection())
            .await
            .map_err(|_| format!("connecting to Redis timed out after {timeout:?}"))?
            .map_err(|e| format!("cannot connect to Redis: {e}"))?;
        *conn = Some(c);
    }
    let Some(c) = conn.as_mut() else {
        return Err("no Redis connection".into());
    };
    let mut cmd = redis::cmd("MGET");
    for (_, k) in keys {
        cmd.arg(k);
    }
    let res = tokio::time::timeout(timeout, cmd.query_async::<Vec<Option<String>>>(c)).await;
    let values = match res {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            *conn = None;
            return Err(format!("MGET of the heartbeat keys failed: {e}"));
        }
        Err(_) => {
            *conn = None;
            return Err(format!(
                "MGET of the heartbeat keys timed out after {timeout:?}"
            ));
        }
    };
    if values.len() != keys.len() {
        return Err(format!(
            "MGET returned {} values for {} keys",
            values.len(),
            keys.len()
        ));
    }
    Ok(keys.iter().map(|(i, _)| *i).zip(values).collect())
}

async fn probe_loop(ctx: Arc<Ctx>, svc: usize, probe: usize, every: Duration, prober: Arc<Prober>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let out = prober.probe().await;
        ctx.apply(|m| m.probe_result(svc, probe, out));
    }
}

async fn saturation_loop(
    ctx: Arc<Ctx>,
    load: Arc<dyn LoadQuery>,
    svc: usize,
    query: String,
    every: Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (l, q) = (load.clone(), query.clone());
        let t = ctx.monitor.lock().now_ms();
        let res = tokio::task::spawn_blocking(move || l.load(&q, t))
            .await
            .unwrap_or_else(|e| Err(format!("the load query task failed: {e}")));
        ctx.apply(|m| m.saturation_result(svc, res));
    }
}

async fn resend_loop(ctx: Arc<Ctx>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate; nothing is active yet
    loop {
        tick.tick().await;
        ctx.apply(|m| m.resend());
    }
}

async fn sample_loop(ctx: Arc<Ctx>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut samples = ctx.monitor.lock().samples();
        restart_samples(&ctx.restarts, &mut samples, ctx.monitor.lock().now_ms());
        let sink = ctx.sink.clone();
        match tokio::task::spawn_blocking(move || sink.append_samples(samples)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "Could not store the service health series."),
            Err(e) => tracing::error!(error = %e, "The health sample task failed."),
        }
    }
}

/// `argus_health_task_restarts_total{task}` for every task restarted after a
/// panic (none while all is well).
fn restart_samples(r: &Restarts, out: &mut Vec<(argus_model::Labels, i64, f64)>, t: i64) {
    for (task, n) in r.counts() {
        let labels = argus_model::Labels::from_pairs(&[
            ("__name__", "argus_health_task_restarts_total"),
            ("task", task.as_str()),
        ]);
        out.push((labels, t, n as f64));
    }
}
