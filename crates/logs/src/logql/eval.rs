//! Evaluating parsed queries against a [`LogSource`].

use super::parse::{AggOp, Grouping, LogQuery, MetricExpr, Query, RangeFn, Unwrap};
use super::pipeline;
use super::response::{matrix_json, streams_json, vector_json};
use super::unwrap;
use super::{Direction, Limits, LogqlError};
use crate::record::{LogSource, SourceError};
use argus_model::Labels;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

#[path = "eval_agg.rs"]
mod agg;
#[path = "eval_binary.rs"]
mod binary;
use agg::{aggregate, select_k};

/// What a query read, for the `stats` of an answer.
#[derive(Debug)]
pub(crate) struct Stats {
    pub lines: usize,
    pub bytes: usize,
    pub returned: usize,
    pub started: Instant,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            lines: 0,
            bytes: 0,
            returned: 0,
            started: Instant::now(),
        }
    }
}

/// The evaluation instants of a metric query: `start`, `start + step`, … (`n` of them).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Steps {
    pub start: i64,
    pub step: i64,
    pub n: usize,
}

impl Steps {
    pub fn at(&self, i: usize) -> i64 {
        self.start.saturating_add(
            self.step
                .saturating_mul(i64::try_from(i).unwrap_or(i64::MAX)),
        )
    }
}

/// One output series: its labels and its values by step index, ascending.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub labels: Labels,
    pub points: Vec<(usize, f64)>,
}

/// Runs `q` over `[start_ns, end_ns]`.
///
/// A log query returns up to `limit` lines of streams with entries in `[start_ns, end_ns)`,
/// newest first for [`Direction::Backward`]; `step_ns` is ignored. A metric query is
/// evaluated at `start_ns`, `start_ns + step_ns`, … up to `end_ns`, each over the window
/// `(t - range, t]`, and returns a `matrix`; `limit` and `dir` are ignored.
#[allow(clippy::too_many_arguments)]
pub fn query_range(
    src: &dyn LogSource,
    q: &Query,
    start_ns: i64,
    end_ns: i64,
    step_ns: i64,
    limit: usize,
    dir: Direction,
    limits: &Limits,
) -> Result<Value, LogqlError> {
    if end_ns < start_ns {
        return Err(LogqlError::BadParam(
            "the end time must not be before the start time".into(),
        ));
    }
    let mut stats = Stats::new();
    match q {
        Query::Log(lq) => {
            let streams = eval_log(src, lq, start_ns, end_ns, limit, dir, limits, &mut stats)?;
            Ok(streams_json(&streams, &stats))
        }
        Query::Metric(e) => {
            if step_ns <= 0 {
                return Err(LogqlError::BadParam(
                    "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
                ));
            }
            let n = (i128::from(end_ns) - i128::from(start_ns)) / i128::from(step_ns) + 1;
            if n > limits.max_steps as i128 {
                return Err(LogqlError::BadParam(format!(
                    "exceeded maximum resolution of {} points per timeseries. Try decreasing the query resolution (?step=XX)",
                    limits.max_steps
                )));
            }
            let steps = Steps {
                start: start_ns,
                step: step_ns,
                n: usize::try_from(n).unwrap_or(0),
            };
            let series = eval_metric(src, e, steps, limits, &mut stats)?;
            Ok(matrix_json(&series, steps, &mut stats))
        }
    }
}

/// Runs a metric query at one instant `time_ns` and returns its samples as label sets and
/// values, for callers that store them (log metrics) rather than answer HTTP.
pub fn eval_instant(
    src: &dyn LogSource,
    q: &Query,
    time_ns: i64,
    limits: &Limits,
) -> Result<Vec<(Labels, f64)>, LogqlError> {
    let Query::Metric(e) = q else {
        return Err(LogqlError::BadParam(
            "a log query gives lines, not numbers; use a metric query such as count_over_time"
                .into(),
        ));
    };
    let mut stats = Stats::new();
    let steps = Steps {
        start: time_ns,
        step: 1,
        n: 1,
    };
    let series = eval_metric(src, e, steps, limits, &mut stats)?;
    Ok(series
        .into_iter()
        .filter_map(|s| s.points.first().map(|&(_, v)| (s.labels, v)))
        .collect())
}

/// Runs a metric query at one instant `time_ns` (windows `(time - range, time]`), returning a
/// `vector`. A log query is refused, as Loki does: use [`query_range`] for lines.
pub fn query_instant(
    src: &dyn LogSource,
    q: &Query,
    time_ns: i64,
    limits: &Limits,
) -> Result<Value, LogqlError> {
    let Query::Metric(e) = q else {
        return Err(LogqlError::BadParam(
            "log queries are not supported as an instant query type, please change your query to a range query type".into(),
        ));
    };
    let mut stats = Stats::new();
    let steps = Steps {
        start: time_ns,
        step: 1,
        n: 1,
    };
    let series = eval_metric(src, e, steps, limits, &mut stats)?;
    let keep_order = matches!(e, MetricExpr::Sort { .. });
    Ok(vector_json(&series, time_ns, keep_order, &mut stats))
}

/// Keeps the `limit` best entries per direction (stable among equal times).
fn prune(kept: &mut Vec<(i64, usize, String)>, limit: usize, dir: Direction) {
    match dir {
        Direction::Backward => kept.sort_by_key(|a| std::cmp::Reverse(a.0)),
        Direction::Forward => kept.sort_by_key(|a| a.0),
    }
    kept.truncate(limit);
}

/// The streams of a log query, each with its lines in `dir` order, sorted by labels.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub(crate) fn eval_log(
    src: &dyn LogSource,
    lq: &LogQuery,
    start: i64,
    end: i64,
    limit: usize,
    dir: Direction,
    limits: &Limits,
    stats: &mut Stats,
) -> Result<Vec<(Labels, Vec<(i64, String)>)>, LogqlError> {
    let mut keys: Vec<Labels> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut kept: Vec<(i64, usize, String)> = Vec::new();
    let mut cutoff: Option<i64> = None;
    let mut failure: Option<LogqlError> = None;
    let cap = limit.saturating_mul(2).max(64);
    src.scan(&lq.matchers, start, end, &mut |stream, entries| {
        stats.lines = stats.lines.saturating_add(entries.len());
        if stats.lines > limits.max_lines_scanned {
            failure = Some(LogqlError::Source(SourceError::TooMany {
                limit: limits.max_lines_scanned,
            }));
            return false;
        }
        for e in entries {
            stats.bytes = stats.bytes.saturating_add(e.line.len());
            let out_of_reach = match (cutoff, dir) {
                (Some(c), Direction::Backward) => e.ts_ns < c,
                (Some(c), Direction::Forward) => e.ts_ns > c,
                (None, _) => false,
            };
            if out_of_reach {
                continue;
            }
            let Some((labels, line)) =
                pipeline::run(&lq.stages, stream, &e.metadata, &e.line, e.ts_ns)
            else {
                continue;
            };
            let idx = match index.get(labels.as_ref()) {
                Some(i) => *i,
                None => {
                    let l = labels.into_owned();
                    keys.push(l.clone());
                    index.insert(l, keys.len() - 1);
                    keys.len() - 1
                }
            };
            kept.push((e.ts_ns, idx, line.into_owned()));
            if kept.len() >= cap {
                prune(&mut kept, limit, dir);
                cutoff = if kept.len() == limit {
                    kept.last().map(|k| k.0)
                } else {
                    None
                };
                // Forget label sets no kept line uses, so memory follows `limit`.
                let mut remap: HashMap<usize, usize> = HashMap::new();
                let mut new_keys = Vec::new();
                for k in kept.iter_mut() {
                    let n = *remap.entry(k.1).or_insert_with(|| {
                        new_keys.push(keys[k.1].clone());
                        new_keys.len() - 1
                    });
                    k.1 = n;
                }
                keys = new_keys;
                index = keys.iter().cloned().zip(0..).collect();
            }
        }
        true
    })?;
    if let Some(f) = failure {
        return Err(f);
    }
    prune(&mut kept, limit, dir);
    stats.returned = kept.len();
    let mut by_stream: BTreeMap<Labels, Vec<(i64, String)>> = BTreeMap::new();
    for (ts, idx, line) in kept {
        if let Some(l) = keys.get(idx) {
            by_stream.entry(l.clone()).or_default().push((ts, line));
        }
    }
    Ok(by_stream.into_iter().collect())
}

fn eval_metric(
    src: &dyn LogSource,
    e: &MetricExpr,
    steps: Steps,
    limits: &Limits,
    stats: &mut Stats,
) -> Result<Vec<Series>, LogqlError> {
    match e {
        MetricExpr::Range {
            func,
            log,
            range_ns,
            unwrap,
            param,
            grouping,
            offset_ns,
        } => {
            let steps = Steps {
                start: steps.start.saturating_sub(*offset_ns),
                ..steps
            };
            let spec = RangeSpec {
                func: *func,
                log,
                range_ns: *range_ns,
                unwrap: unwrap.as_ref(),
                param: *param,
                grouping: grouping.as_ref(),
            };
            eval_range(src, &spec, steps, limits, stats)
        }
        MetricExpr::Agg {
            op,
            k,
            grouping,
            inner,
        } => {
            let input = eval_metric(src, inner, steps, limits, stats)?;
            Ok(match op {
                AggOp::Topk | AggOp::Bottomk => {
                    select_k(input, *op == AggOp::Topk, k.unwrap_or(1), grouping.as_ref())
                }
                _ => aggregate(input, *op, grouping.as_ref()),
            })
        }
        MetricExpr::Literal(v) | MetricExpr::Vector(v) => Ok(vec![Series {
            labels: Labels::empty(),
            points: (0..steps.n).map(|i| (i, *v)).collect(),
        }]),
        MetricExpr::Binary(b) => binary::eval(src, b, steps, limits, stats),
        MetricExpr::Sort { desc, inner } => Ok(binary::sort(
            eval_metric(src, inner, steps, limits, stats)?,
            *desc,
        )),
        MetricExpr::LabelReplace {
            inner,
            dst,
            replacement,
            src: from,
            regex,
        } => binary::label_replace(
            eval_metric(src, inner, steps, limits, stats)?,
            dst,
            replacement,
            from,
            regex,
        ),
    }
}

/// A range function call.
struct RangeSpec<'a> {
    func: RangeFn,
    log: &'a LogQuery,
    range_ns: i64,
    unwrap: Option<&'a Unwrap>,
    param: Option<f64>,
    grouping: Option<&'a Grouping>,
}

fn eval_range(
    src: &dyn LogSource,
    spec: &RangeSpec<'_>,
    steps: Steps,
    limits: &Limits,
    stats: &mut Stats,
) -> Result<Vec<Series>, LogqlError> {
    let (func, log, range_ns) = (spec.func, spec.log, spec.range_ns);
    let last = steps.at(steps.n.saturating_sub(1));
    let lo = steps.start.saturating_sub(range_ns).saturating_add(1);
    let hi = last.saturating_add(1);
    let bytes = matches!(func, RangeFn::BytesOverTime | RangeFn::BytesRate);
    let mut samples: HashMap<Labels, Vec<(i64, f64)>> = HashMap::new();
    let mut failure: Option<LogqlError> = None;
    // Counting lines with no stage needs only their times (and metadata, which are labels).
    let times_only = log.stages.is_empty() && spec.unwrap.is_none() && !bytes;
    let scan = if times_only {
        LogSource::scan_times
    } else {
        LogSource::scan
    };
    scan(src, &log.matchers, lo, hi, &mut |stream, entries| {
        stats.lines = stats.lines.saturating_add(entries.len());
        if stats.lines > limits.max_lines_scanned {
            failure = Some(LogqlError::Source(SourceError::TooMany {
                limit: limits.max_lines_scanned,
            }));
            return false;
        }
        for e in entries {
            stats.bytes = stats.bytes.saturating_add(e.line.len());
            let Some((labels, line)) =
                pipeline::run(&log.stages, stream, &e.metadata, &e.line, e.ts_ns)
            else {
                continue;
            };
            let (labels, v) = match spec.unwrap {
                None => (labels, if bytes { line.len() as f64 } else { 1.0 }),
                Some(u) => match unwrap::extract(u, labels) {
                    Some(x) => x,
                    None => continue,
                },
            };
            let labels = match spec.grouping {
                Some(g) => std::borrow::Cow::Owned(unwrap::group(&labels, g)),
                None => labels,
            };
            match samples.get_mut(labels.as_ref()) {
                Some(s) => s.push((e.ts_ns, v)),
                None => {
                    if samples.len() >= limits.max_series {
                        failure = Some(LogqlError::TooManySeries {
                            limit: limits.max_series,
                        });
                        return false;
                    }
                    samples.insert(labels.into_owned(), vec![(e.ts_ns, v)]);
                }
            }
        }
        true
    })?;
    if let Some(f) = failure {
        return Err(f);
    }
    if func == RangeFn::AbsentOverTime {
        return Ok(absent(samples, log, steps, range_ns));
    }
    let per_second = matches!(func, RangeFn::Rate | RangeFn::BytesRate);
    let summed = per_second
        || matches!(
            func,
            RangeFn::CountOverTime | RangeFn::BytesOverTime | RangeFn::SumOverTime
        );
    let secs = range_ns as f64 / 1e9;
    let mut out = Vec::with_capacity(samples.len());
    for (labels, mut s) in samples {
        s.sort_by_key(|x| x.0);
        if !summed {
            let mut points = Vec::new();
            for i in 0..steps.n {
                let t = steps.at(i);
                let a = s.partition_point(|x| x.0 <= t.saturating_sub(range_ns));
                let b = s.partition_point(|x| x.0 <= t);
                if b > a {
                    if let Some(v) = unwrap::window(func, spec.param, &s[a..b], t, range_ns) {
                        points.push((i, v));
                    }
                }
            }
            if !points.is_empty() {
                unwrap::check_error(&labels)?;
                out.push(Series { labels, points });
            }
            continue;
        }
        let mut prefix = Vec::with_capacity(s.len() + 1);
        prefix.push(0.0);
        let mut acc = 0.0;
        for (_, v) in &s {
            acc += v;
            prefix.push(acc);
        }
        let mut points = Vec::new();
        for i in 0..steps.n {
            let t = steps.at(i);
            let from = t.saturating_sub(range_ns);
            let a = s.partition_point(|x| x.0 <= from);
            let b = s.partition_point(|x| x.0 <= t);
            if b > a {
                let sum = prefix[b] - prefix[a];
                points.push((i, if per_second { sum / secs } else { sum }));
            }
        }
        if !points.is_empty() {
            if spec.unwrap.is_some() {
                unwrap::check_error(&labels)?;
            }
            out.push(Series { labels, points });
        }
    }
    Ok(out)
}

/// `absent_over_time`: 1 at the steps whose window holds no line of any series.
fn absent(
    samples: HashMap<Labels, Vec<(i64, f64)>>,
    log: &LogQuery,
    steps: Steps,
    range_ns: i64,
) -> Vec<Series> {
    let mut times: Vec<i64> = samples.values().flatten().map(|x| x.0).collect();
    times.sort_unstable();
    let points: Vec<(usize, f64)> = (0..steps.n)
        .filter(|&i| {
            let t = steps.at(i);
            let a = times.partition_point(|x| *x <= t.saturating_sub(range_ns));
            let b = times.partition_point(|x| *x <= t);
            a == b
        })
        .map(|i| (i, 1.0))
        .collect();
    if points.is_empty() {
        return Vec::new();
    }
    vec![Series {
        labels: unwrap::absent_labels(&log.matchers),
        points,
    }]
}
