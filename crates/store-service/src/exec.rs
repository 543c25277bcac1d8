//! The one PromQL query service: the `query:` section's limits and engine
//! options, shared by the HTTP API, the rules engine and the service health
//! checks' load queries. It is created once, where the server starts.
//!
//! The HTTP API's queries run on their own threads at a lower priority
//! ([`crate::pool`]), bounded in number, with a per-query timeout, and are
//! canceled when the client goes away ([`QueryService::run`]). The rules engine and the health checks call it
//! from blocking threads ([`QueryService::rule_query`],
//! [`QueryService::instant`]).
//!
//! ```no_run
//! # async fn f(db: argus_tsdb::Db) -> Result<(), argus_web::params::ApiError> {
//! use argus_store_service::exec::{QueryJob, QueryService};
//! let svc = QueryService::new(&argus_store_service::config::QueryConfig::default(), db);
//! let job = QueryJob { expr: "sum(up)".into(), start_ms: 0, end_ms: 0, step_ms: 0,
//!                      timeout: None, lookback_ms: None };
//! let result = svc.run(job).await?;
//! // From a blocking thread: an instant query under the same options.
//! let value = svc.instant("sum(up)", 0);
//! # let _ = (result, value);
//! # Ok(()) }
//! ```
//!
//! The HTTP handler's future owns a [`CancelOnDrop`] guard. When hyper drops
//! the future (the client closed the connection), the guard sets the query's
//! cancel flag and the evaluator stops at its next check. The concurrency slot
//! moves into the blocking task, so it is held until evaluation really ends.

use crate::config::QueryConfig;
use argus_promql::{
    Engine, EngineOptions, MemoryPool, ParseLimits, PromqlError, QueryRequest, QueryResult, Value,
};
use argus_tsdb::Db;
use argus_web::params::{ApiError, ErrorType};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How long past its deadline the HTTP side waits for the evaluator to notice
/// the deadline itself, before answering `timeout` on its own.
const DEADLINE_GRACE: Duration = Duration::from_secs(1);

/// Sets the flag when dropped: the HTTP request future went away.
#[derive(Debug)]
pub struct CancelOnDrop(pub Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// One query as the API asks for it.
#[derive(Debug, Clone)]
pub struct QueryJob {
    /// The PromQL text.
    pub expr: String,
    /// First evaluation time (ms).
    pub start_ms: i64,
    /// Last evaluation time (ms); equal to `start_ms` for an instant query.
    pub end_ms: i64,
    /// Step in ms; 0 for an instant query.
    pub step_ms: i64,
    /// The request's `timeout`, if given; capped by the configured timeout.
    pub timeout: Option<Duration>,
    /// The request's `lookback_delta`, if given (Prometheus 3 parameter).
    pub lookback_ms: Option<i64>,
}

/// The store, the engine's settings and the concurrency limit of the API.
pub struct QueryService {
    db: Db,
    opts: EngineOptions,
    /// The engine of [`QueryService::instant`] (the configured options).
    engine: Engine,
    /// The engine of [`QueryService::rule_query`] (built-in parse limits).
    rules_engine: Engine,
    slots: Arc<Semaphore>,
    max_concurrent: usize,
    /// Longest an API query waits for a slot.
    max_queue: Duration,
    /// The memory the API's running queries share (`query.max_memory_total`).
    memory_pool: Option<MemoryPool>,
    /// API queries refused after waiting `max_queue` for a slot.
    refused_queued: AtomicU64,
    /// API queries refused because the shared memory was in use.
    refused_busy: AtomicU64,
    /// The threads the API's queries run on, at a lower priority.
    pool: crate::pool::QueryPool,
}

impl std::fmt::Debug for QueryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryService")
            .field("opts", &self.opts)
            .field("max_concurrent", &self.max_concurrent)
            .finish_non_exhaustive()
    }
}

impl QueryService {
    /// A service over `db` configured by the `query:` section.
    pub fn new(cfg: &QueryConfig, db: Db) -> Self {
        let opts = cfg.engine_options();
        QueryService {
            db,
            engine: Engine::new(opts.clone()),
            // Rule files are checked against the built-in text limits when
            // they load, so rules are evaluated under those, whatever
            // `query:` says.
            rules_engine: Engine::new(EngineOptions {
                parse: ParseLimits::default(),
                ..opts.clone()
            }),
            opts,
            slots: Arc::new(Semaphore::new(cfg.max_concurrent.max(1))),
            max_concurrent: cfg.max_concurrent.max(1),
            max_queue: cfg.max_queue_duration.to_std(),
            memory_pool: cfg.memory_pool(),
            refused_queued: AtomicU64::new(0),
            refused_busy: AtomicU64::new(0),
            pool: crate::pool::QueryPool::new(cfg.max_concurrent.max(1)),
        }
    }

    /// The store queries read.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// An instant query at `t_ms` under the configured options (the health
    /// checks' load queries). Blocking: call it from a blocking thread.
    pub fn instant(&self, expr: &str, t_ms: i64) -> Result<Value, PromqlError> {
        self.engine.instant_query(&self.db, expr, t_ms)
    }

    /// An instant query at `t_ms` for the rules engine: the configured
    /// options, but the built-in parse limits the rule files were checked
    /// against. Blocking.
    pub fn rule_query(&self, expr: &str, t_ms: i64) -> Result<Value, PromqlError> {
        self.rules_engine.instant_query(&self.db, expr, t_ms)
    }

    /// The engine options in force.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Most queries evaluated at once.
    pub fn max_concurrent(&self) -> usize {
        self.max_concurrent
    }

    /// Appends the query service's metrics (text format 0.0.4): refusals
    /// and the memory the API's queries hold together.
    pub fn metrics_text(&self, out: &mut String) {
        use argus_model::exposition::write_family;
        let c = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        write_family(
            "argus_query_queue_refusals_total",
            "counter",
            "API queries refused with 503 after waiting query.max_queue_duration for a free slot.",
            c(&self.refused_queued),
            out,
        );
        write_family(
            "argus_query_memory_refusals_total",
            "counter",
            "API queries refused with 503 because the queries running held the memory they share (query.max_memory_total).",
            c(&self.refused_busy),
            out,
        );
        if let Some(p) = &self.memory_pool {
            write_family(
                "argus_query_memory_held_bytes",
                "gauge",
                "Estimated memory held now by the API's running queries.",
                p.used() as f64,
                out,
            );
            write_family(
                "argus_query_memory_limit_bytes",
                "gauge",
                "The memory the API's running queries may hold together (query.max_memory_total).",
                p.total() as f64,
                out,
            );
        }
    }

    /// The timeout a request gets: its own `timeout` parameter capped by the
    /// configured one.
    pub fn effective_timeout(&self, requested: Option<Duration>) -> Duration {
        match requested {
            Some(t) => t.min(self.opts.timeout),
            None => self.opts.timeout,
        }
    }

    /// Evaluates `job` for the HTTP API. Waiting for a slot counts against
    /// the timeout.
    pub async fn run(&self, job: QueryJob) -> Result<QueryResult, ApiError> {
        let timeout = self.effective_timeout(job.timeout);
        if timeout.is_zero() {
            return Err(PromqlError::Timeout.into());
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let cancel = Arc::new(AtomicBool::new(false));
        let _guard = CancelOnDrop(cancel.clone());

        let queue_end = deadline.min(tokio::time::Instant::now() + self.max_queue);
        let permit = match tokio::time::timeout_at(queue_end, self.slots.clone().acquire_owned())
            .await
        {
            Ok(Ok(p)) => p,
            Ok(Err(_closed)) => {
                return Err(ApiError::internal("the query slots were closed"));
            }
            Err(_elapsed) if queue_end < deadline => {
                self.refused_queued.fetch_add(1, Ordering::Relaxed);
                return Err(ApiError {
                        kind: ErrorType::Unavailable,
                        message: format!(
                            "{} queries are running and this one waited {:?} for a slot (query.max_queue_duration); try again shortly",
                            self.max_concurrent, self.max_queue
                        ),
                    });
            }
            Err(_elapsed) => {
                return Err(ApiError {
                    kind: ErrorType::Timeout,
                    message: "query timed out in query queue".into(),
                })
            }
        };
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if remaining.is_zero() {
            return Err(PromqlError::Timeout.into());
        }
        let engine = Engine::new(EngineOptions {
            lookback_ms: job.lookback_ms.unwrap_or(self.opts.lookback_ms),
            timeout: remaining,
            memory_pool: self.memory_pool.clone(),
            ..self.opts.clone()
        });
        let req = QueryRequest {
            expr: job.expr,
            start_ms: job.start_ms,
            end_ms: job.end_ms,
            step_ms: job.step_ms,
            cancel: Some(cancel.clone()),
        };
        let db = self.db.clone();
        let task = self.pool.run(move || {
            let _slot = permit;
            engine.exec(&db, &req)
        });
        match tokio::time::timeout(remaining + DEADLINE_GRACE, task).await {
            // The evaluator checks its deadline between steps of work; a result
            // that arrives after the deadline is still a timeout, as the
            // caller asked for an answer within `timeout`.
            Ok(Ok(_)) if tokio::time::Instant::now() > deadline => Err(PromqlError::Timeout.into()),
            Ok(Ok(res)) => res.map_err(|e| {
                if matches!(e, PromqlError::Busy { .. }) {
                    self.refused_busy.fetch_add(1, Ordering::Relaxed);
                }
                ApiError::from(e)
            }),
            Ok(Err(lost)) => {
                tracing::error!(error = %lost, "A query evaluation failed; the query was answered with an internal error.");
                Err(ApiError::internal(format!(
                    "query evaluation failed: {lost}"
                )))
            }
            Err(_elapsed) => {
                // The evaluator did not notice its deadline in time (for example
                // inside one long storage read); stop it and answer now.
                cancel.store(true, Ordering::Release);
                Err(PromqlError::Timeout.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_model::PromDuration;

    #[test]
    fn guard_sets_the_flag_when_dropped() {
        let flag = Arc::new(AtomicBool::new(false));
        {
            let _g = CancelOnDrop(flag.clone());
            assert!(!flag.load(Ordering::Acquire));
        }
        assert!(flag.load(Ordering::Acquire));
    }

    #[test]
    fn dropping_a_pending_future_cancels() {
        let flag = Arc::new(AtomicBool::new(false));
        let f2 = flag.clone();
        let fut = async move {
            let _g = CancelOnDrop(f2);
            std::future::pending::<()>().await;
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let out = rt.block_on(async { tokio::time::timeout(Duration::from_millis(10), fut).await });
        assert!(out.is_err());
        assert!(
            flag.load(Ordering::Acquire),
            "the timed-out future was dropped"
        );
    }

    fn service(cfg: QueryConfig) -> (tempfile::TempDir, QueryService) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(
            dir.path(),
            argus_tsdb::Options::default(),
            Arc::new(argus_model::SystemClock),
        )
        .unwrap();
        (dir, QueryService::new(&cfg, db))
    }

    fn job(timeout: Option<Duration>) -> QueryJob {
        QueryJob {
            expr: "vector(1)".into(),
            start_ms: 0,
            end_ms: 0,
            step_ms: 0,
            timeout,
            lookback_ms: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_query_queued_past_the_queue_duration_is_refused_as_unavailable() {
        let (_dir, svc) = service(QueryConfig {
            max_concurrent: 1,
            max_queue_duration: PromDuration(2_000),
            ..QueryConfig::default()
        });
        let held = svc.slots.clone().acquire_owned().await.unwrap();
        let started = tokio::time::Instant::now();
        let err = svc.run(job(None)).await.unwrap_err();
        assert_eq!(err.kind, ErrorType::Unavailable, "{}", err.message);
        assert!(
            err.message.contains("query.max_queue_duration"),
            "{}",
            err.message
        );
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        // A request whose own timeout ends first still gets a timeout.
        let err = svc
            .run(job(Some(Duration::from_secs(1))))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorType::Timeout);
        let mut text = String::new();
        svc.metrics_text(&mut text);
        assert!(
            text.contains("argus_query_queue_refusals_total 1\n"),
            "{text}"
        );
        // With the slot free, the same query runs (on a query thread, in
        // real time: a paused clock would let its deadline pass at once).
        drop(held);
        tokio::time::resume();
        assert!(svc.run(job(None)).await.is_ok());
    }

    #[tokio::test]
    async fn api_queries_share_the_memory_pool_and_rules_do_not() {
        let (_dir, svc) = service(QueryConfig {
            max_memory_total: argus_web::values::ByteSize(1 << 20),
            ..QueryConfig::default()
        });
        let pool = svc.memory_pool.clone().unwrap();
        let mut other = pool.reservation();
        other.resize(1 << 20).unwrap();
        let err = svc.run(job(None)).await.unwrap_err();
        assert_eq!(err.kind, ErrorType::Unavailable, "{}", err.message);
        assert!(svc.rule_query("vector(1)", 0).is_ok());
        assert!(svc.instant("vector(1)", 0).is_ok());
        let mut text = String::new();
        svc.metrics_text(&mut text);
        assert!(
            text.contains("argus_query_memory_refusals_total 1\n"),
            "{text}"
        );
        assert!(
            text.contains("argus_query_memory_limit_bytes 1048576\n"),
            "{text}"
        );
        drop(other);
        assert!(svc.run(job(None)).await.is_ok());
        assert_eq!(pool.used(), 0);
    }

    #[test]
    fn timeout_is_capped_by_config() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(
            dir.path(),
            argus_tsdb::Options::default(),
            Arc::new(argus_model::SystemClock),
        )
        .unwrap();
        let svc = QueryService::new(
            &QueryConfig {
                timeout: PromDuration(10_000),
                ..QueryConfig::default()
            },
            db,
        );
        assert_eq!(svc.effective_timeout(None), Duration::from_secs(10));
        assert_eq!(
            svc.effective_timeout(Some(Duration::from_secs(60))),
            Duration::from_secs(10)
        );
        assert_eq!(
            svc.effective_timeout(Some(Duration::from_millis(5))),
            Duration::from_millis(5)
        );
    }
}
