//! The evaluator: every expression is evaluated once over the whole step grid
//! (an instant query is a grid of one step), series-wise where possible.

mod aggregate;
mod binary;
mod functions;
mod histogram;
#[cfg(test)]
mod limit_tests;
mod range_funcs;
mod selector;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_support;
pub(crate) mod util;

pub(crate) use selector::to_matcher_sets;

/// Store matchers of a selector (one set per `or` alternative).
pub(crate) fn selector_matchers(
    vs: &promql_parser::parser::VectorSelector,
) -> Result<Vec<Vec<argus_model::Matcher>>, PromqlError> {
    to_matcher_sets(&vs.name, &vs.matchers)
}

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use argus_tsdb::Querier;
use promql_parser::parser::{AtModifier, Expr, Offset};

use crate::error::{exec, PromqlError};
use crate::value::{SSeries, Val};

/// Default step of a subquery without an explicit resolution (Prometheus's
/// default global evaluation interval).
pub(crate) const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

/// The evaluation grid: `start, start+step, ..., end` (ms).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grid {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl Grid {
    pub fn len(&self) -> usize {
        if self.step <= 0 || self.end < self.start {
            return 1;
        }
        (self.end.saturating_sub(self.start) / self.step) as usize + 1
    }
    pub fn ts(&self, i: usize) -> i64 {
        self.start
            .saturating_add((i as i64).saturating_mul(self.step))
    }
    pub fn idx(&self, t: i64) -> usize {
        if self.step <= 0 {
            0
        } else {
            (t.saturating_sub(self.start) / self.step) as usize
        }
    }
}

/// Warnings and infos collected during evaluation (Prometheus's annotations).
#[derive(Debug, Default, Clone)]
pub struct Annotations {
    /// `PromQL warning: ...` messages.
    pub warnings: Vec<String>,
    /// `PromQL info: ...` messages.
    pub infos: Vec<String>,
}

impl Annotations {
    pub(crate) fn warn(&mut self, msg: String) {
        let m = format!("PromQL warning: {msg}");
        if !self.warnings.contains(&m) {
            self.warnings.push(m);
        }
    }
    pub(crate) fn info(&mut self, msg: String) {
        let m = format!("PromQL info: {msg}");
        if !self.infos.contains(&m) {
            self.infos.push(m);
        }
    }
}

/// Stack left below which [`Evaluator::eval`] continues on a new segment.
const RED_ZONE: usize = 256 << 10;
/// Size of each new stack segment.
const STACK_SEGMENT: usize = 4 << 20;
/// Estimated bytes per point held (timestamp and value).
const POINT_BYTES: usize = 16;
/// Estimated fixed bytes per series held, beside its label text.
const SERIES_BYTES: usize = 64;

/// Per-query evaluation state.
///
/// `samples` and `bytes` count what the query holds now: samples loaded from
/// the store and points of intermediate results. When a node returns, what
/// its children held is released and its own result is charged, so the
/// figures follow the query's peak, not its total work.
pub(crate) struct Evaluator<'a> {
    pub q: &'a dyn Querier,
    pub lookback: i64,
    pub max_samples: usize,
    pub max_subquery_points: usize,
    pub max_memory_bytes: usize,
    pub samples: usize,
    pub bytes: usize,
    /// What this query holds of the memory shared by running queries, when
    /// the engine has a pool: kept equal to `bytes`.
    pub reservation: Option<crate::memory::Reservation>,
    pub deadline: Option<Instant>,
    pub cancel: Option<&'a AtomicBool>,
    pub query_start: i64,
    pub query_end: i64,
    pub annotations: Annotations,
}

impl<'a> Evaluator<'a> {
    /// Checks the deadline and the cancellation flag.
    pub fn check(&self) -> Result<(), PromqlError> {
        if let Some(c) = self.cancel {
            if c.load(Ordering::Relaxed) {
                return Err(PromqlError::Canceled);
            }
        }
        if let Some(d) = self.deadline {
            if Instant::now() >= d {
                return Err(PromqlError::Timeout);
            }
        }
        Ok(())
    }

    /// Accounts for `n` samples loaded into memory.
    pub fn add_samples(&mut self, n: usize) -> Result<(), PromqlError> {
        self.charge(n, n.saturating_mul(POINT_BYTES))
    }

    /// Charges `points` and `bytes` now held; fails past either limit.
    pub fn charge(&mut self, points: usize, bytes: usize) -> Result<(), PromqlError> {
        self.samples = self.samples.saturating_add(points);
        self.bytes = self.bytes.saturating_add(bytes);
        self.within_limits(0)?;
        self.reserve()
    }

    /// Makes the shared pool's reservation follow `bytes` (growing or
    /// shrinking); fails with `Busy` when the pool lacks the growth.
    pub fn reserve(&mut self) -> Result<(), PromqlError> {
        match self.reservation.as_mut() {
            Some(r) => r.resize(self.bytes),
            None => Ok(()),
        }
    }

    /// Bytes this query could hold now under the shared pool, if any.
    fn pool_room(&self) -> Option<usize> {
        self.reservation.as_ref().map(|r| r.room())
    }

    /// Samples that may still be loaded within `max_samples` and
    /// `max_memory_bytes`: at least 1 (0 would mean unlimited), unlimited (0)
    /// when neither limit is set.
    pub fn sample_budget(&self) -> usize {
        let by_count =
            (self.max_samples > 0).then(|| self.max_samples.saturating_sub(self.samples));
        let by_bytes = (self.max_memory_bytes > 0)
            .then(|| self.max_memory_bytes.saturating_sub(self.bytes) / POINT_BYTES);
        let by_pool = self
            .pool_room()
            .map(|room| room.saturating_sub(self.bytes) / POINT_BYTES);
        match (by_count, by_bytes, by_pool) {
            (None, None, None) => 0,
            (a, b, c) => a
                .unwrap_or(usize::MAX)
                .min(b.unwrap_or(usize::MAX))
                .min(c.unwrap_or(usize::MAX))
                .max(1),
        }
    }

    /// The error for a store read refused at [`Evaluator::sample_budget`]:
    /// the limit that set the budget.
    pub fn budget_error(&self) -> PromqlError {
        let by_count = self.max_samples.saturating_sub(self.samples);
        let by_bytes = self.max_memory_bytes.saturating_sub(self.bytes) / POINT_BYTES;
        if let Some(r) = &self.reservation {
            let by_pool = r.room().saturating_sub(self.bytes) / POINT_BYTES;
            let binding = (self.max_samples == 0 || by_pool < by_count)
                && (self.max_memory_bytes == 0 || by_pool < by_bytes);
            if binding {
                return r.busy();
            }
        }
        if self.max_memory_bytes > 0 && (self.max_samples == 0 || by_bytes < by_count) {
            PromqlError::TooMuchMemory {
                limit: self.max_memory_bytes,
            }
        } else {
            PromqlError::TooManySamples
        }
    }

    /// Whether `more` points could still be allocated within the limits.
    fn within_limits(&self, more: usize) -> Result<(), PromqlError> {
        let samples = self.samples.saturating_add(more);
        if self.max_samples > 0 && samples > self.max_samples {
            return Err(PromqlError::TooManySamples);
        }
        let bytes = self.bytes.saturating_add(more.saturating_mul(POINT_BYTES));
        if self.max_memory_bytes > 0 && bytes > self.max_memory_bytes {
            return Err(PromqlError::TooMuchMemory {
                limit: self.max_memory_bytes,
            });
        }
        if let Some(r) = &self.reservation {
            if bytes > r.room() {
                return Err(r.busy());
            }
        }
        Ok(())
    }

    /// Checks, before it is evaluated, that a subquery's grid fits: its steps
    /// per series within `max_subquery_points`, and one series of it within
    /// the sample and memory limits.
    pub fn check_subquery_grid(&self, inner: &Grid) -> Result<(), PromqlError> {
        let steps = inner.len();
        if self.max_subquery_points > 0 && steps > self.max_subquery_points {
            return Err(PromqlError::Execution(format!(
                "subquery would evaluate {steps} steps per series, more than the limit of {}; use a longer subquery step or a shorter range",
                self.max_subquery_points
            )));
        }
        self.within_limits(steps)
    }

    /// Resolves an `@` modifier to milliseconds.
    pub fn at_ms(&self, at: &Option<AtModifier>) -> Option<i64> {
        match at {
            None => None,
            Some(AtModifier::Start) => Some(self.query_start),
            Some(AtModifier::End) => Some(self.query_end),
            Some(AtModifier::At(t)) => Some(system_time_ms(*t)),
        }
    }

    /// Evaluates `expr` over `grid`, on a fresh stack segment when the current
    /// one runs low, charging its result (and releasing its children's).
    pub fn eval(&mut self, expr: &Expr, grid: &Grid) -> Result<Val, PromqlError> {
        stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || {
            let held = (self.samples, self.bytes);
            // Every node may produce a value per step: one series of it must fit.
            self.within_limits(grid.len())?;
            let v = self.eval_node(expr, grid)?;
            (self.samples, self.bytes) = held;
            let (points, bytes) = cost(&v);
            self.charge(points, bytes)?;
            Ok(v)
        })
    }

    fn eval_node(&mut self, expr: &Expr, grid: &Grid) -> Result<Val, PromqlError> {
        self.check()?;
        match expr {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(vec![n.val; grid.len()])),
            Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, grid),
            Expr::Unary(u) => match self.eval(&u.expr, grid)? {
                Val::Scalar(v) => Ok(Val::Scalar(v.into_iter().map(|x| -x).collect())),
                Val::Vector(mut ss) => {
                    for s in &mut ss {
                        s.drop_name = true;
                        for p in &mut s.pts {
                            p.v = -p.v;
                        }
                    }
                    Ok(Val::Vector(ss))
                }
                _ => exec(
                    "unary expression only allowed on expressions of type scalar or instant vector",
                ),
            },
            Expr::Binary(b) => binary::eval_binary(self, b, grid),
            Expr::Aggregate(a) => aggregate::eval_aggregate(self, a, grid),
            Expr::Call(c) => functions::eval_call(self, c, grid),
            Expr::VectorSelector(vs) => Ok(Val::Vector(selector::eval_vector_selector(
                self, vs, grid, false,
            )?)),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => {
                if grid.len() != 1 {
                    return exec("range vectors can only be evaluated in an instant query");
                }
                let rd = selector::eval_range_input(self, expr, grid)?;
                let r = rd.refs[0];
                let mut out = Vec::new();
                for s in rd.series {
                    let w: Vec<_> = s
                        .pts
                        .iter()
                        .filter(|p| p.t > r - rd.range && p.t <= r)
                        .copied()
                        .collect();
                    if !w.is_empty() {
                        out.push(SSeries {
                            labels: s.labels,
                            drop_name: false,
                            pts: w,
                        });
                    }
                }
                Ok(Val::Matrix(out))
            }
            Expr::Extension(_) => exec("extension expressions are not supported"),
        }
    }

    /// Evaluates `expr` expecting a scalar: one value per step.
    pub fn eval_scalar(&mut self, expr: &Expr, grid: &Grid) -> Result<Vec<f64>, PromqlError> {
        match self.eval(expr, grid)? {
            Val::Scalar(v) => Ok(v),
            _ => exec("expected a scalar expression"),
        }
    }

    /// Evaluates `expr` expecting an instant vector.
    pub fn eval_vector(&mut self, expr: &Expr, grid: &Grid) -> Result<Vec<SSeries>, PromqlError> {
        match self.eval(expr, grid)? {
            Val::Vector(v) => Ok(v),
            _ => exec("expected an instant vector expression"),
        }
    }
}

/// Points and estimated bytes a value holds.
fn cost(v: &Val) -> (usize, usize) {
    match v {
        Val::Scalar(x) => (x.len(), x.len() * 8),
        Val::Vector(ss) | Val::Matrix(ss) => ss.iter().fold((0, 0), |(p, b), s| {
            let label_bytes: usize = s.labels.iter().map(|l| l.name.len() + l.value.len()).sum();
            (
                p + s.pts.len(),
                b + SERIES_BYTES + label_bytes + s.pts.len() * POINT_BYTES,
            )
        }),
        Val::Str(s) => (0, s.len()),
    }
}

/// Milliseconds since the epoch of a `SystemTime` (negative before 1970).
pub fn system_time_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Offset in milliseconds (positive looks back).
pub fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => dur_ms(d),
        Some(Offset::Neg(d)) => -dur_ms(d),
    }
}

pub fn dur_ms(d: &Duration) -> i64 {
    d.as_millis() as i64
}
