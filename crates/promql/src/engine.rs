//! [`Engine`]: parses a query, evaluates it over a [`Querier`] and shapes the result.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_model::Sample;
use argus_tsdb::{Querier, Series};
use promql_parser::parser::value::ValueType;

use crate::error::PromqlError;
use crate::eval::{Annotations, Evaluator, Grid};
use crate::parse::{parse, ParseLimits};
use crate::value::{SSeries, Val, Value, VectorSample};

/// Most points per series a range query may return (Prometheus's limit).
pub const MAX_POINTS: usize = 11_000;

/// Default most steps per subquery and series: 1 million (`[1d:10s]` over a
/// 30-day range query is 268,000).
pub const DEFAULT_MAX_SUBQUERY_POINTS: usize = 1_000_000;
/// Default most memory per query: 1 GiB.
pub const DEFAULT_MAX_MEMORY_BYTES: usize = 1 << 30;

/// Engine limits and defaults.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (Prometheus: 5m).
    pub lookback_ms: i64,
    /// Most samples a query may load from the store; 0 means unlimited.
    pub max_samples: usize,
    /// Per-query deadline; zero means none.
    pub timeout: Duration,
    /// Limits on the query text and its tree (length, nesting depth).
    pub parse: ParseLimits,
    /// Most steps one subquery may evaluate per series (`[30d:1ms]` would be
    /// 2.6 billion); checked before anything is allocated. 0 means unlimited.
    pub max_subquery_points: usize,
    /// Most bytes a query may hold in memory at once (loaded samples and
    /// intermediate results, estimated before they are allocated where the
    /// size is known beforehand). 0 means unlimited.
    pub max_memory_bytes: usize,
    /// Memory shared by every query of this engine running at once; a query
    /// that would take it past its total fails with `Busy`. `None`: no
    /// shared limit.
    pub memory_pool: Option<crate::memory::MemoryPool>,
}

impl Default for EngineOptions {
    /// 5 minutes lookback, 50 million samples, 2 minutes timeout (Prometheus's
    /// defaults); 64 KiB and 256 levels of query text; 1 million points per
    /// subquery and series; 1 GiB of memory per query.
    fn default() -> Self {
        EngineOptions {
            lookback_ms: 300_000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            parse: ParseLimits::default(),
            max_subquery_points: DEFAULT_MAX_SUBQUERY_POINTS,
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
            memory_pool: None,
        }
    }
}

/// One query with everything that shapes it.
#[derive(Debug, Clone, Default)]
pub struct QueryRequest {
    /// The PromQL text.
    pub expr: String,
    /// First evaluation time (ms).
    pub start_ms: i64,
    /// Last evaluation time (ms); equal to `start_ms` for an instant query.
    pub end_ms: i64,
    /// Step (ms); 0 for an instant query.
    pub step_ms: i64,
    /// Set to `true` (e.g. when the HTTP client goes away) to cancel the query.
    pub cancel: Option<Arc<AtomicBool>>,
}

/// A query's value and the annotations (warnings, infos) it produced.
#[derive(Debug, Clone)]
pub struct QueryResult {
    /// The result.
    pub value: Value,
    /// Prometheus-style annotations.
    pub annotations: Annotations,
}

/// The PromQL engine. Cheap to share; holds only options.
#[derive(Debug, Clone)]
pub struct Engine {
    opts: EngineOptions,
}

impl Engine {
    /// An engine with `opts`.
    pub fn new(opts: EngineOptions) -> Self {
        Engine { opts }
    }

    /// The options in force.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Evaluates `expr` at `t_ms`.
    pub fn instant_query(
        &self,
        q: &dyn Querier,
        expr: &str,
        t_ms: i64,
    ) -> Result<Value, PromqlError> {
        let req = QueryRequest {
            expr: expr.into(),
            start_ms: t_ms,
            end_ms: t_ms,
            step_ms: 0,
            cancel: None,
        };
        self.exec(q, &req).map(|r| r.value)
    }

    /// Evaluates `expr` at `start_ms, start_ms + step_ms, ... <= end_ms`; always a matrix.
    pub fn range_query(
        &self,
        q: &dyn Querier,
        expr: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Value, PromqlError> {
        let req = QueryRequest {
            expr: expr.into(),
            start_ms,
            end_ms,
            step_ms,
            cancel: None,
        };
        self.exec(q, &req).map(|r| r.value)
    }

    /// Runs a query described by `req` (instant when `step_ms == 0`), with annotations.
    pub fn exec(&self, q: &dyn Querier, req: &QueryRequest) -> Result<QueryResult, PromqlError> {
        let expr = parse(&req.expr, &self.opts.parse)?;
        let instant = req.step_ms == 0;
        if !instant {
            if req.step_ms <= 0 {
                return Err(PromqlError::Parse(
                    "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
                ));
            }
            if req.end_ms < req.start_ms {
                return Err(PromqlError::Parse(
                    "end timestamp must not be before start time".into(),
                ));
            }
            match expr.value_type() {
                ValueType::Scalar | ValueType::Vector => {}
                t => {
                    let name = match t {
                        ValueType::Matrix => "range vector",
                        ValueType::String => "string",
                        _ => "unknown",
                    };
                    return Err(PromqlError::Parse(format!(
                        "invalid expression type \"{name}\" for range query, must be Scalar or instant Vector"
                    )));
                }
            }
        }
        let grid = if instant {
            Grid {
                start: req.start_ms,
                end: req.start_ms,
                step: 1,
            }
        } else {
            Grid {
                start: req.start_ms,
                end: req.end_ms,
                step: req.step_ms,
            }
        };
        if grid.len() > MAX_POINTS {
            return Err(PromqlError::Parse(format!(
                "exceeded maximum resolution of {MAX_POINTS} points per timeseries. Try decreasing the query resolution (?step=XX)"
            )));
        }
        let mut ev = Evaluator {
            q,
            lookback: self.opts.lookback_ms,
            max_samples: self.opts.max_samples,
            max_subquery_points: self.opts.max_subquery_points,
            max_memory_bytes: self.opts.max_memory_bytes,
            samples: 0,
            bytes: 0,
            reservation: self.opts.memory_pool.as_ref().map(|p| p.reservation()),
            deadline: (!self.opts.timeout.is_zero()).then(|| Instant::now() + self.opts.timeout),
            cancel: req.cancel.as_deref(),
            query_start: req.start_ms,
            query_end: req.end_ms,
            annotations: Annotations::default(),
        };
        let val = ev.eval(&expr, &grid)?;
        let value = shape(val, instant, &grid)?;
        Ok(QueryResult {
            value,
            annotations: ev.annotations,
        })
    }
}

/// Applies delayed `__name__` removal and checks for duplicate label sets.
fn cleanup(mut v: Vec<SSeries>) -> Result<Vec<SSeries>, PromqlError> {
    for s in &mut v {
        if s.drop_name {
            crate::eval::util::drop_metric_name(&mut s.labels);
            s.drop_name = false;
        }
    }
    v.sort_by(|a, b| a.labels.cmp(&b.labels));
    if v.windows(2).any(|w| w[0].labels == w[1].labels) {
        return Err(PromqlError::Execution(
            "vector cannot contain metrics with the same labelset".into(),
        ));
    }
    Ok(v)
}

fn shape(val: Val, instant: bool, grid: &Grid) -> Result<Value, PromqlError> {
    Ok(match val {
        Val::Scalar(v) if instant => Value::Scalar {
            t: grid.start,
            v: v.first().copied().unwrap_or(f64::NAN),
        },
        Val::Scalar(v) => Value::Matrix(vec![Series {
            labels: argus_model::Labels::empty(),
            samples: v
                .iter()
                .enumerate()
                .map(|(i, x)| Sample::new(grid.ts(i), *x))
                .collect(),
        }]),
        Val::Str(s) => Value::String { t: grid.start, s },
        Val::Vector(v) if instant => {
            // Keep the evaluation order (sort/topk); check duplicates separately.
            let mut order = v;
            for s in &mut order {
                if s.drop_name {
                    crate::eval::util::drop_metric_name(&mut s.labels);
                    s.drop_name = false;
                }
            }
            let mut ls: Vec<&argus_model::Labels> = order.iter().map(|s| &s.labels).collect();
            ls.sort();
            if ls.windows(2).any(|w| w[0] == w[1]) {
                return Err(PromqlError::Execution(
                    "vector cannot contain metrics with the same labelset".into(),
                ));
            }
            Value::Vector(
                order
                    .into_iter()
                    .filter_map(|s| {
                        s.pts.first().map(|p| VectorSample {
                            labels: s.labels.clone(),
                            t: grid.start,
                            v: p.v,
                        })
                    })
                    .collect(),
            )
        }
        Val::Vector(v) | Val::Matrix(v) => Value::Matrix(
            cleanup(v)?
                .into_iter()
                .map(|s| Series {
                    labels: s.labels,
                    samples: s.pts,
                })
                .collect(),
        ),
    })
}
