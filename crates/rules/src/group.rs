//! [`Group`]: a rule group as a state machine driven by [`Group::eval`], so
//! tests step it on a paused clock; the tokio loop in `manager.rs` only decides when.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

use argus_model::{Labels, STALE_NAN};

use crate::alert::{Alert, AlertState};
use crate::file::GroupSpec;
use crate::inject::{AlertSink, QueryFn, SampleSink};
use crate::rule::{Rule, RuleContext};
use crate::state;

/// Manager-wide settings a group evaluates with.
#[derive(Debug, Clone)]
pub struct GroupOptions {
    /// Evaluation interval for groups without `interval` (Prometheus: 1m).
    pub default_interval_ms: i64,
    /// `query_offset` for groups without one (Prometheus: 0).
    pub default_query_offset_ms: i64,
    /// Minimum time between two sends of an unchanged firing alert (Prometheus: 1m).
    pub resend_delay_ms: i64,
    /// External labels and URL for templates and generator URLs.
    pub context: RuleContext,
    /// Where alert state snapshots go; `None` disables persistence.
    pub state_dir: Option<PathBuf>,
    /// Snapshots older than this at start-up are ignored (Prometheus's
    /// `--rules.alert.for-outage-tolerance`: 1h).
    pub outage_tolerance_ms: i64,
    /// Minimum time a restored pending alert still waits before firing
    /// (Prometheus's `--rules.alert.for-grace-period`: 10m).
    pub for_grace_period_ms: i64,
}

impl Default for GroupOptions {
    fn default() -> Self {
        GroupOptions {
            default_interval_ms: 60_000,
            default_query_offset_ms: 0,
            resend_delay_ms: 60_000,
            context: RuleContext {
                external_labels: Labels::empty(),
                external_url: String::new(),
            },
            state_dir: None,
            outage_tolerance_ms: 3_600_000,
            for_grace_period_ms: 600_000,
        }
    }
}

/// The injected functions an evaluation uses.
#[derive(Clone, Copy)]
pub struct EvalDeps<'a> {
    /// Runs the rules' queries.
    pub query: &'a dyn QueryFn,
    /// Receives recorded samples, `ALERTS`/`ALERTS_FOR_STATE` and stale markers.
    pub samples: &'a dyn SampleSink,
    /// Receives alerts to send.
    pub alerts: &'a dyn AlertSink,
}

/// A rule group and its state.
#[derive(Debug)]
pub struct Group {
    /// Name (unique per file).
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// Evaluation interval (ms).
    pub interval_ms: i64,
    /// Query offset (ms).
    pub query_offset_ms: i64,
    /// Most series/alerts per rule; 0 means none.
    pub limit: usize,
    /// The rules, in file order.
    pub rules: Vec<Rule>,
    opts: GroupOptions,
    prev_series: Vec<HashSet<Labels>>,
    /// Last evaluation time (ms).
    pub last_eval_ms: Option<i64>,
    /// Duration of the last evaluation (seconds).
    pub last_eval_seconds: f64,
    restore_pending: bool,
}

impl Group {
    /// Builds a group from its spec; state is restored from `opts.state_dir`
    /// at the first evaluation.
    pub fn new(spec: GroupSpec, opts: GroupOptions) -> Self {
        let n = spec.rules.len();
        Group {
            name: spec.name,
            file: spec.file,
            interval_ms: spec.interval_ms.unwrap_or(opts.default_interval_ms).max(1),
            query_offset_ms: spec.query_offset_ms.unwrap_or(opts.default_query_offset_ms),
            limit: spec.limit,
            rules: spec.rules.into_iter().map(Rule::new).collect(),
            opts,
            prev_series: vec![HashSet::new(); n],
            last_eval_ms: None,
            last_eval_seconds: 0.0,
            restore_pending: true,
        }
    }

    /// A stable hash of (name, file), used to spread groups over the interval.
    pub fn hash(&self) -> u64 {
        Labels::from_pairs(&[("name", self.name.as_str()), ("file", self.file.as_str())])
            .stable_hash()
    }

    /// Prometheus's `EvalTimestamp`: the latest slot at or before `now_ms` in
    /// this group's grid (the interval grid shifted by `hash % interval`).
    pub fn eval_timestamp(&self, now_ms: i64) -> i64 {
        let offset = (self.hash() % self.interval_ms as u64) as i64;
        let adj = now_ms - offset;
        adj - adj.rem_euclid(self.interval_ms) + offset
    }

    /// The first slot strictly after `now_ms`.
    pub fn next_eval_after(&self, now_ms: i64) -> i64 {
        self.eval_timestamp(now_ms) + self.interval_ms
    }

    /// Pending, firing and resolved-but-retained alerts of all rules.
    pub fn alerts(&self) -> Vec<Alert> {
        self.rules.iter().flat_map(Rule::alerts).collect()
    }

    /// Copies alert state from the previous version of this group (config
    /// reload): alerting rules match by name, in order.
    pub fn copy_state_from(&mut self, old: &Group) {
        let mut used = vec![false; old.rules.len()];
        for r in self.rules.iter_mut().filter(|r| r.is_alerting()) {
            if let Some(i) = old.rules.iter().enumerate().position(|(i, o)| {
                !used[i] && o.is_alerting() && o.name() == r.name() && o.spec.expr == r.spec.expr
            }) {
                used[i] = true;
                r.active = old.rules[i].active.clone();
            }
        }
        self.last_eval_ms = old.last_eval_ms;
        self.restore_pending = false;
    }

    /// Evaluates every rule at `ts_ms` (queries at `ts_ms - query_offset`),
    /// writes samples, sends due alerts and persists the alert state.
    /// Returns the number of rules that failed.
    pub fn eval(&mut self, ts_ms: i64, deps: EvalDeps<'_>) -> usize {
        let started = Instant::now();
        if std::mem::take(&mut self.restore_pending) {
            if let Some(dir) = self.opts.state_dir.clone() {
                state::restore(&dir, self, ts_ms);
            }
        }
        let offset = self.query_offset_ms;
        let write_ts = ts_ms - offset;
        let mut failed = 0;
        for (i, rule) in self.rules.iter_mut().enumerate() {
            let t0 = Instant::now();
            let life = rule.lifecycle(self.opts.resend_delay_ms, self.interval_ms);
            let res = rule.eval(
                ts_ms,
                offset,
                self.limit,
                &life,
                deps.query,
                &self.opts.context,
            );
            rule.health.last_eval_ms = Some(ts_ms);
            let mut samples: Vec<(Labels, i64, f64)> = Vec::new();
            let mut seen = HashSet::new();
            match res {
                Ok(v) => {
                    rule.health.last_error = None;
                    for (l, x) in v {
                        seen.insert(l.clone());
                        samples.push((l, write_ts, x));
                    }
                }
                Err(e) => {
                    failed += 1;
                    tracing::warn!(group = %self.name, rule = %rule.name(), error = %e, "Evaluating a rule failed.");
                    rule.health.last_error = Some(e);
                }
            }
            // Series produced last time but not now get a stale marker.
            for gone in self.prev_series[i].difference(&seen) {
                samples.push((gone.clone(), write_ts, STALE_NAN));
            }
            self.prev_series[i] = seen;
            if !samples.is_empty() {
                if let Err(e) = deps.samples.append(samples) {
                    tracing::warn!(group = %self.name, rule = %rule.name(), error = %e, "Writing rule results failed.");
                    if rule.health.last_error.is_none() {
                        failed += 1;
                        rule.health.last_error = Some(format!("append: {e}"));
                    }
                }
            }
            if rule.is_alerting() {
                let due = rule.take_due(ts_ms, &life);
                if !due.is_empty() {
                    deps.alerts.send(due);
                }
            }
            rule.health.eval_seconds = t0.elapsed().as_secs_f64();
        }
        self.last_eval_ms = Some(ts_ms);
        self.last_eval_seconds = started.elapsed().as_secs_f64();
        if let Some(dir) = &self.opts.state_dir {
            if let Err(e) = state::save(dir, self, ts_ms) {
                tracing::warn!(group = %self.name, error = %e, "Saving the alert state failed.");
            }
        }
        failed
    }

    /// The options the group was built with.
    pub(crate) fn opts(&self) -> &GroupOptions {
        &self.opts
    }

    /// Firing alerts of the rule named `alertname` (for rule tests).
    pub fn firing(&self, alertname: &str) -> Vec<Alert> {
        self.rules
            .iter()
            .filter(|r| r.is_alerting() && r.name() == alertname)
            .flat_map(|r| r.alerts())
            .filter(|a| a.state == AlertState::Firing)
            .collect()
    }
}
