//! The `query:` section: limits and defaults of the PromQL engine.

use argus_model::PromDuration;
use argus_web::values::ByteSize;
use serde::Deserialize;

/// `query:` section: limits and defaults of the PromQL engine (Prometheus's
/// `--query.*` flags).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// How far back an instant selector looks for a sample. Default `5m`.
    pub lookback_delta: PromDuration,
    /// Most samples one query may load into memory; past it the query fails
    /// with an `execution` error (HTTP 422). `0` means unlimited. Default `50000000`.
    pub max_samples: usize,
    /// Longest a query may run; the `timeout` request parameter can only
    /// shorten it. Past it the answer is a `timeout` error (HTTP 503). Default `2m`.
    pub timeout: PromDuration,
    /// Most queries evaluated at once, each on a query thread at a lower
    /// priority than ingest and alerting; others wait (within their timeout)
    /// for a slot, then get a `timeout` error (HTTP 503). Default: twice the
    /// CPU cores, at least 4 (Prometheus's default is 20).
    pub max_concurrent: usize,
    /// Longest query text accepted (a size such as `64KiB`); longer ones are
    /// refused with a `bad_data` error (HTTP 400), in rule files too. `0`
    /// means unlimited. Default `64KiB`.
    pub max_length: ByteSize,
    /// Deepest expression accepted: each bracket, operator and function call
    /// adds a level (`1+1+1` is 3 deep). Deeper queries and rule expressions
    /// are refused with a `bad_data` error. Default `256`.
    pub max_depth: usize,
    /// Most steps one subquery may evaluate per series
    /// (`max_over_time(x[30d:1ms])` would be 2.6 billion); past it the query
    /// fails with an `execution` error before anything is allocated. `0`
    /// means unlimited. Default `1000000`.
    pub max_subquery_points: usize,
    /// Most memory one query may hold at once (samples loaded and
    /// intermediate results, estimated before allocation where possible);
    /// past it the query fails with an `execution` error. `0` means
    /// unlimited. Default `1GiB`.
    pub max_memory: ByteSize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            lookback_delta: PromDuration(5 * 60_000),
            max_samples: 50_000_000,
            timeout: PromDuration(2 * 60_000),
            max_concurrent: std::thread::available_parallelism()
                .map_or(4, |n| n.get() * 2)
                .max(4),
            max_length: ByteSize(argus_promql::DEFAULT_MAX_LENGTH as u64),
            max_depth: argus_promql::DEFAULT_MAX_DEPTH,
            max_subquery_points: argus_promql::DEFAULT_MAX_SUBQUERY_POINTS,
            max_memory: ByteSize(argus_promql::DEFAULT_MAX_MEMORY_BYTES as u64),
        }
    }
}

impl QueryConfig {
    /// The limits on query text this section sets.
    pub fn parse_limits(&self) -> argus_promql::ParseLimits {
        argus_promql::ParseLimits {
            max_length: usize::try_from(self.max_length.0).unwrap_or(usize::MAX),
            max_depth: self.max_depth,
        }
    }

    /// The engine options this section sets.
    pub fn engine_options(&self) -> argus_promql::EngineOptions {
        argus_promql::EngineOptions {
            lookback_ms: self.lookback_delta.as_millis(),
            max_samples: self.max_samples,
            timeout: self.timeout.to_std(),
            parse: self.parse_limits(),
            max_subquery_points: self.max_subquery_points,
            max_memory_bytes: usize::try_from(self.max_memory.0).unwrap_or(usize::MAX),
        }
    }
}
