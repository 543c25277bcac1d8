//! Log metrics (`logs.metrics:`): LogQL metric queries evaluated on a fixed
//! interval whose results are written into the time-series store as series,
//! so PromQL, static rules and dynamic rules apply to them unchanged. This is
//! the step that turns cleaned log lines into per-minute KPIs per dimension
//! (business volume per center, error count per service, average latency).
//!
//! Each rule is evaluated at interval boundaries `t` once `t + delay` has
//! passed (lines arrive late), over the window its query names, and its
//! samples are stamped `t`. A rule whose answer has more series than its
//! `max_series` writes nothing for that round and says so: a dimension with
//! unbounded values (a request id) would otherwise create series without end.

use crate::config::LogMetricConfig;
use crate::LogsRuntime;
use argus_logs::logql::{self, Query};
use argus_model::Labels;
use argus_tsdb::Storage;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// One compiled rule and its progress.
struct Rule {
    cfg: LogMetricConfig,
    query: Query,
    interval_ns: i64,
    /// The next boundary to evaluate.
    next: AtomicU64,
    evaluations: AtomicU64,
    failures: AtomicU64,
    refused_rounds: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// The log metric rules of a running server.
pub struct LogMetrics {
    rules: Vec<Rule>,
}

impl std::fmt::Debug for LogMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogMetrics")
            .field("rules", &self.rules.len())
            .finish()
    }
}

const MS: i64 = 1_000_000;

/// A self-metric family: name, help, and how to read it off a rule.
type Family = (&'static str, &'static str, fn(&Rule) -> u64);

/// Compiles the rules; `Err` names the rule and what is wrong.
pub fn compile(
    cfgs: &[LogMetricConfig],
) -> Result<Vec<(LogMetricConfig, Query)>, crate::config::LogsConfigError> {
    compile_rules(cfgs).map_err(crate::config::LogsConfigError)
}

fn compile_rules(cfgs: &[LogMetricConfig]) -> Result<Vec<(LogMetricConfig, Query)>, String> {
    let mut out = Vec::new();
    for (i, c) in cfgs.iter().enumerate() {
        let at = format!("logs.metrics[{i}] ({})", c.record);
        if !argus_model::is_valid_metric_name(&c.record) {
            return Err(format!(
                "{at}: record {:?} is not a valid metric name",
                c.record
            ));
        }
        for name in c.labels.keys() {
            if !argus_model::is_valid_label_name(name) {
                return Err(format!("{at}: label {name:?} is not a valid label name"));
            }
        }
        let q = logql::parse(&c.expr).map_err(|e| format!("{at}: expr: {e}"))?;
        if !matches!(q, Query::Metric(_)) {
            return Err(format!(
                "{at}: expr must be a metric query such as sum by (center) (count_over_time({{app=\"pay\"}} [1m])), not a log query"
            ));
        }
        if c.interval.as_millis() < 1_000 {
            return Err(format!("{at}: interval must be at least 1s"));
        }
        if c.max_series == 0 {
            return Err(format!("{at}: max_series must be at least 1"));
        }
        out.push((c.clone(), q));
    }
    Ok(out)
}

impl LogMetrics {
    /// Rules ready to run from `now_ns`: each first evaluates at the next
    /// boundary of its interval.
    pub fn new(compiled: Vec<(LogMetricConfig, Query)>, now_ns: i64) -> LogMetrics {
        let rules = compiled
            .into_iter()
            .map(|(cfg, query)| {
                let interval_ns = cfg.interval.as_millis().saturating_mul(MS);
                let next = (now_ns.div_euclid(interval_ns) + 1) * interval_ns;
                Rule {
                    cfg,
                    query,
                    interval_ns,
                    next: AtomicU64::new(next as u64),
                    evaluations: AtomicU64::new(0),
                    failures: AtomicU64::new(0),
                    refused_rounds: AtomicU64::new(0),
                    last_error: Mutex::new(None),
                }
            })
            .collect();
        LogMetrics { rules }
    }

    /// Evaluates every rule whose boundary plus delay has passed at `now_ns`
    /// (catching up at most one day of missed boundaries), writing the
    /// samples through `storage`. Blocking. Returns the samples written.
    pub fn run_due(&self, rt: &LogsRuntime, storage: &Storage, now_ns: i64) -> u64 {
        let mut written = 0;
        for r in &self.rules {
            let delay = r.cfg.delay.as_millis().saturating_mul(MS);
            let oldest = now_ns - 86_400_000 * MS;
            loop {
                let t = r.next.load(Ordering::Relaxed) as i64;
                if t + delay > now_ns {
                    break;
                }
                r.next.store((t + r.interval_ns) as u64, Ordering::Relaxed);
                if t < oldest {
                    continue;
                }
                written += self.evaluate(r, rt, storage, t);
            }
        }
        written
    }

    fn evaluate(&self, r: &Rule, rt: &LogsRuntime, storage: &Storage, t: i64) -> u64 {
        r.evaluations.fetch_add(1, Ordering::Relaxed);
        let fail = |msg: String| {
            r.failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(record = %r.cfg.record, "{msg}");
            *r.last_error.lock() = Some(msg);
            0
        };
        let mut limits = rt.limits();
        limits.max_series = r.cfg.max_series;
        let series = match logql::eval_instant(&**rt.store(), &r.query, t, &limits) {
            Ok(s) => s,
            Err(logql::LogqlError::TooManySeries { limit }) => {
                r.refused_rounds.fetch_add(1, Ordering::Relaxed);
                return fail(format!(
                    "The log metric {} would have more than {limit} series; nothing was written for this round. Aggregate by fewer labels (sum by) or raise its max_series.",
                    r.cfg.record
                ));
            }
            Err(e) => {
                return fail(format!(
                    "The log metric {} could not be evaluated: {e}",
                    r.cfg.record
                ))
            }
        };
        let ts_ms = t.div_euclid(MS);
        let samples: Vec<(Labels, i64, f64)> = series
            .into_iter()
            .map(|(l, v)| {
                let mut l = l;
                for (k, val) in &r.cfg.labels {
                    l.set(k, val);
                }
                l.set(argus_model::METRIC_NAME, &r.cfg.record);
                (l, ts_ms, v)
            })
            .collect();
        match storage.append_batch(samples.iter().map(|(l, t, v)| (l, *t, *v))) {
            Ok(rep) => {
                rep.log_refused("log metrics");
                *r.last_error.lock() = None;
                rep.accepted
            }
            Err(e) => fail(format!(
                "The samples of the log metric {} could not be written: {e}",
                r.cfg.record
            )),
        }
    }

    /// `argus_log_metric_*` self-metrics per rule.
    pub fn metrics_text(&self, out: &mut String) {
        use std::fmt::Write;
        let fams: [Family; 3] = [
            ("argus_log_metric_evaluations_total", "Evaluations of a log metric rule.", |r| r.evaluations.load(Ordering::Relaxed)),
            ("argus_log_metric_failures_total", "Evaluations of a log metric rule that wrote nothing (a query or store error, or too many series).", |r| r.failures.load(Ordering::Relaxed)),
            ("argus_log_metric_series_limit_hits_total", "Rounds of a log metric rule refused because the answer had more series than max_series.", |r| r.refused_rounds.load(Ordering::Relaxed)),
        ];
        for (name, help, get) in fams {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for r in &self.rules {
                let _ = writeln!(out, "{name}{{record=\"{}\"}} {}", r.cfg.record, get(r));
            }
        }
    }

    /// The rules' settings, in order.
    pub fn configs(&self) -> Vec<&LogMetricConfig> {
        self.rules.iter().map(|r| &r.cfg).collect()
    }

    /// The rules' last errors, for the status banner.
    pub fn problems(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter_map(|r| r.last_error.lock().clone())
            .collect()
    }
}
