//! Patterns: a selector's lines counted per template over time, the answer of Loki's
//! `/loki/api/v1/patterns` (Grafana's Logs Drilldown reads it for its Patterns tab).
//!
//! A line's template is the one stored with it in its chunk ([`crate::store`] keeps lines as
//! templates and values), or, for lines not yet in a chunk and for sources that keep no
//! templates, the one [`crate::miner::mine`] gives them among their stream's lines. Templates
//! are written with Loki's placeholder `<_>`, so a pattern can be pasted into a `|> "…"` filter.
//!
//! ```
//! use argus_logs::patterns::PatternCounter;
//! use argus_logs::record::Entry;
//! let e = |t: i64, l: &str| Entry { ts_ns: t, line: l.into(), metadata: vec![] };
//! let mut c = PatternCounter::new(0, 100, 50);
//! c.add_mined(&[e(10, "took 5 ms"), e(60, "took 7 ms"), e(70, "ready")]);
//! let p = c.finish(10);
//! assert_eq!(p[0].pattern, "took <_> ms");
//! assert_eq!(p[0].samples, vec![(0, 1), (50, 1)]);
//! assert_eq!((p[1].pattern.as_str(), p[1].total), ("ready", 1));
//! ```

use crate::miner::{mine, VAR};
use crate::record::Entry;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// Loki's placeholder in a pattern.
pub const LOKI_VAR: &str = "<_>";

/// One template's count over time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternSeries {
    /// The template, with `<_>` for its values.
    pub pattern: String,
    /// Its lines in the range.
    pub total: u64,
    /// `(bucket start in ns, lines)` for each step that has lines, oldest first.
    pub samples: Vec<(i64, u64)>,
}

/// Counts lines per template in steps of a range.
#[derive(Debug)]
pub struct PatternCounter {
    start_ns: i64,
    end_ns: i64,
    step_ns: i64,
    counts: FxHashMap<String, BTreeMap<i64, u64>>,
    lines: usize,
}

impl PatternCounter {
    /// A counter for lines in `[start_ns, end_ns)` in steps of `step_ns` (at least 1 ns).
    pub fn new(start_ns: i64, end_ns: i64, step_ns: i64) -> PatternCounter {
        PatternCounter {
            start_ns,
            end_ns,
            step_ns: step_ns.max(1),
            counts: FxHashMap::default(),
            lines: 0,
        }
    }

    /// The range, `[start_ns, end_ns)`.
    pub fn range(&self) -> (i64, i64) {
        (self.start_ns, self.end_ns)
    }

    /// Lines counted so far.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Counts one line of `template` (written with `<*>`) at `ts_ns`; lines outside the range
    /// are not counted.
    pub fn add(&mut self, template: &str, ts_ns: i64) {
        if ts_ns < self.start_ns || ts_ns >= self.end_ns {
            return;
        }
        let bucket = self.start_ns + (ts_ns - self.start_ns) / self.step_ns * self.step_ns;
        let series = match self.counts.get_mut(template) {
            Some(s) => s,
            None => self.counts.entry(template.to_string()).or_default(),
        };
        *series.entry(bucket).or_default() += 1;
        self.lines += 1;
    }

    /// Mines the entries of one stream and counts each under its template.
    pub fn add_mined(&mut self, entries: &[Entry]) {
        let lines: Vec<&str> = entries.iter().map(|e| e.line.as_str()).collect();
        for (e, t) in entries.iter().zip(mine(&lines)) {
            self.add(&t, e.ts_ns);
        }
    }

    /// The `limit` most frequent templates, most frequent first (ties by pattern).
    pub fn finish(self, limit: usize) -> Vec<PatternSeries> {
        let mut out: Vec<PatternSeries> = self
            .counts
            .into_iter()
            .map(|(t, s)| PatternSeries {
                pattern: t.replace(VAR, LOKI_VAR),
                total: s.values().sum(),
                samples: s.into_iter().collect(),
            })
            .collect();
        out.sort_by(|a, b| {
            b.total
                .cmp(&a.total)
                .then_with(|| a.pattern.cmp(&b.pattern))
        });
        out.truncate(limit);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_outside_the_range_are_not_counted_and_buckets_start_at_the_range() {
        let mut c = PatternCounter::new(100, 200, 30);
        for t in [99, 100, 129, 130, 199, 200] {
            c.add("x <*>", t);
        }
        assert_eq!(c.lines(), 4);
        let p = c.finish(5);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].pattern, "x <_>");
        assert_eq!(p[0].samples, vec![(100, 2), (130, 1), (190, 1)]);
        let mut c = PatternCounter::new(0, 10, 0);
        c.add("a", 3);
        c.add("b", 4);
        c.add("b", 5);
        assert_eq!(c.finish(1)[0].pattern, "b");
    }
}
