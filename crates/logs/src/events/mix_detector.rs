//! The online side of the mix model: events in, a verdict per closed window out.

use super::{align, MixModel, MixVerdict, MixWindow};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// Most windows held open at once; events for further windows are dropped as out of range.
const MAX_OPEN_WINDOWS: usize = 4096;

/// Most empty windows closed in one call after a silence; older ones are skipped.
const MAX_CATCH_UP_WINDOWS: i64 = 7 * 288;

/// Counts events into windows and judges each window as it closes.
///
/// Windows are aligned to multiples of the model's window length since the Unix epoch. A
/// window is closed by [`MixDetector::close_windows_until`] once its end has passed; events
/// for a window already closed are counted in [`MixDetector::late_events`] and dropped.
#[derive(Debug, Clone)]
pub struct MixDetector {
    model: MixModel,
    next_start: Option<i64>,
    open: BTreeMap<i64, FxHashMap<String, u64>>,
    drift: FxHashMap<String, f64>,
    above_run: u32,
    below_run: u32,
    alerting: bool,
    late: u64,
}

impl MixDetector {
    /// A detector with no window open and no alert.
    pub fn new(model: MixModel) -> MixDetector {
        MixDetector {
            model,
            next_start: None,
            open: BTreeMap::new(),
            drift: FxHashMap::default(),
            above_run: 0,
            below_run: 0,
            alerting: false,
            late: 0,
        }
    }

    /// The model it scores with.
    pub fn model(&self) -> &MixModel {
        &self.model
    }

    /// Events dropped because their window was already closed or too far ahead.
    pub fn late_events(&self) -> u64 {
        self.late
    }

    /// Whether an "abnormal event mix" alert is active.
    pub fn alerting(&self) -> bool {
        self.alerting
    }

    /// Counts one event of `event_type` at `ts_ns`.
    pub fn observe(&mut self, event_type: &str, ts_ns: i64) {
        self.observe_n(event_type, ts_ns, 1);
    }

    /// Counts `n` events of `event_type` at `ts_ns`.
    pub fn observe_n(&mut self, event_type: &str, ts_ns: i64, n: u64) {
        let start = align(ts_ns, self.model.config.window_ns);
        if self.next_start.is_some_and(|s| start < s)
            || (self.open.len() >= MAX_OPEN_WINDOWS && !self.open.contains_key(&start))
        {
            self.late = self.late.saturating_add(n);
            return;
        }
        if self.next_start.is_none() {
            self.next_start = Some(start);
        }
        let w = self.open.entry(start).or_default();
        match w.get_mut(event_type) {
            Some(c) => *c = c.saturating_add(n),
            None => {
                w.insert(event_type.to_string(), n);
            }
        }
    }

    /// Closes every window that ends at or before `ts_ns`, oldest first, empty ones included
    /// (after a long silence, at most a week of them), and returns their verdicts. Nothing is
    /// closed before the first event.
    pub fn close_windows_until(&mut self, ts_ns: i64) -> Vec<MixVerdict> {
        let w = self.model.config.window_ns;
        let Some(mut s) = self.next_start else {
            return Vec::new();
        };
        let windows = (ts_ns as i128 - s as i128) / w as i128;
        if windows > MAX_CATCH_UP_WINDOWS as i128 {
            s = align(ts_ns, w) - MAX_CATCH_UP_WINDOWS * w;
            self.open = self.open.split_off(&s);
        }
        let mut out = Vec::new();
        while let Some(end) = s.checked_add(w) {
            if end > ts_ns {
                break;
            }
            let counts = self.open.remove(&s).unwrap_or_default();
            out.push(self.judge(s, &counts));
            s = end;
        }
        self.next_start = Some(s);
        out
    }

    /// Judges one complete window given as counts (for replaying stored history); the
    /// window must be later than those already judged for the drift average to mean much.
    pub fn judge_window(&mut self, window: &MixWindow) -> MixVerdict {
        let counts: FxHashMap<String, u64> =
            window.counts.iter().map(|(t, &c)| (t.clone(), c)).collect();
        self.judge(window.start_ns, &counts)
    }

    fn judge(&mut self, start_ns: i64, counts: &FxHashMap<String, u64>) -> MixVerdict {
        let borrowed: FxHashMap<&str, u64> = counts.iter().map(|(t, &c)| (t.as_str(), c)).collect();
        let (score, mut explanation) = self.model.score(start_ns, &borrowed, &mut self.drift);
        explanation.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.event_type.cmp(&b.event_type))
        });
        explanation.truncate(self.model.config.max_explained);
        let threshold = self.model.threshold;
        let above = score > threshold;
        if above {
            self.above_run = self.above_run.saturating_add(1);
            self.below_run = 0;
        } else {
            self.below_run = self.below_run.saturating_add(1);
            self.above_run = 0;
        }
        let c = &self.model.config;
        if !self.alerting && self.above_run >= c.enter_windows.max(1) {
            self.alerting = true;
        } else if self.alerting && self.below_run >= c.clear_windows.max(1) {
            self.alerting = false;
        }
        MixVerdict {
            window_start_ns: start_ns,
            total: counts.values().fold(0u64, |a, &b| a.saturating_add(b)),
            score,
            threshold,
            above,
            abnormal: self.alerting,
            explanation,
        }
    }
}
