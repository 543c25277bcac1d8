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
    /// priority than ingest and alerting; others wait for a slot (see
    /// `max_queue_duration`). Default: twice the CPU cores, at least 4
    /// (Prometheus's default is 20).
    pub max_concurrent: usize,
    /// Longest an API query waits for a free slot when `max_concurrent`
    /// queries are running; past it (or past its own timeout, if shorter) it
    /// is refused with an `unavailable` error (HTTP 503, `Retry-After: 5`),
    /// so clients back off instead of piling up. Default `10s`.
    pub max_queue_duration: PromDuration,
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
    /// Most memory the API's queries running at once may hold together
    /// (estimated as for `max_memory`); a query that would take them past it
    /// is refused with an `unavailable` error (HTTP 503, `Retry-After: 5`)
    /// and may succeed when retried. Rule and health-check queries are not
    /// counted. `0` means no shared limit. Default: a quarter of the
    /// machine's memory (or of the container's memory limit, when lower),
    /// at least `max_memory`.
    pub max_memory_total: ByteSize,
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
            max_queue_duration: PromDuration(10_000),
            max_memory_total: ByteSize(
                (memory_limit().unwrap_or(0) / 4)
                    .max(argus_promql::DEFAULT_MAX_MEMORY_BYTES as u64),
            ),
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

    /// The memory pool of the API's queries (`max_memory_total`), or none.
    pub fn memory_pool(&self) -> Option<argus_promql::MemoryPool> {
        (self.max_memory_total.0 > 0).then(|| {
            argus_promql::MemoryPool::new(
                usize::try_from(self.max_memory_total.0).unwrap_or(usize::MAX),
            )
        })
    }

    /// The engine options this section sets (without the API's shared
    /// memory pool: rules and health checks are not held to it).
    pub fn engine_options(&self) -> argus_promql::EngineOptions {
        argus_promql::EngineOptions {
            lookback_ms: self.lookback_delta.as_millis(),
            max_samples: self.max_samples,
            timeout: self.timeout.to_std(),
            parse: self.parse_limits(),
            max_subquery_points: self.max_subquery_points,
            max_memory_bytes: usize::try_from(self.max_memory.0).unwrap_or(usize::MAX),
            memory_pool: None,
        }
    }
}

/// The memory this process may use: the machine's (`MemTotal`), or the
/// container's limit (cgroup v2 `memory.max`, v1 `memory.limit_in_bytes`)
/// when that is lower. `None` where neither can be read.
pub fn memory_limit() -> Option<u64> {
    let machine = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| parse_meminfo_total(&t));
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok());
    match (machine, cgroup) {
        (Some(m), Some(c)) => Some(m.min(c)),
        (m, c) => m.or(c),
    }
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn parse_meminfo_total(text: &str) -> Option<u64> {
    let line = text.lines().find_map(|l| l.strip_prefix("MemTotal:"))?;
    let kib: u64 = line.trim().trim_end_matches("kB").trim().parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_total_is_read_in_bytes() {
        let text = "MemTotal:       24579200 kB\nMemFree:         1000 kB\n";
        assert_eq!(parse_meminfo_total(text), Some(24_579_200 * 1024));
        assert_eq!(parse_meminfo_total("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn the_shared_limit_defaults_to_at_least_one_query_s_limit() {
        let c = QueryConfig::default();
        assert!(c.max_memory_total.0 >= c.max_memory.0);
        assert!(c.memory_pool().is_some());
        let off = QueryConfig {
            max_memory_total: ByteSize(0),
            ..QueryConfig::default()
        };
        assert!(off.memory_pool().is_none());
    }
}
