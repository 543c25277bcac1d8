//! Self-metrics of dynamic detection (`argus_detect_*`), rendered for
//! `/metrics`, including the append → alert latency histogram.
//!
//! ```
//! use argus_dynamic::metrics::DetectMetrics;
//! let m = DetectMetrics::default();
//! m.alert_latency.observe(std::time::Duration::from_millis(3));
//! let text = m.render();
//! assert!(text.contains("argus_detect_alert_latency_seconds_bucket{le=\"0.005\"} 1"));
//! assert_eq!(m.alert_latency.quantile_upper(0.99), Some(0.005));
//! ```

use argus_model::exposition::write_header;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A fixed-bucket histogram of durations (lock-free).
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            if s <= *b {
                self.counts[i].fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(
            d.as_nanos().min(u128::from(u64::MAX)) as u64,
            Ordering::Relaxed,
        );
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The smallest bucket bound at or under which a fraction `q` of the
    /// observations lie (`None` with no observations or beyond the last bucket).
    pub fn quantile_upper(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let want = (q * n as f64).ceil() as u64;
        let mut acc = 0;
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            acc += self.counts[i].load(Ordering::Relaxed);
            if acc >= want {
                return Some(*b);
            }
        }
        None
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        write_header(name, help, "histogram", out);
        let mut acc = 0;
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            acc += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {acc}");
        }
        let n = self.count();
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {n}");
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {n}");
    }
}

/// Counters of the tap, the scorer and the trainer.
#[derive(Debug, Default)]
pub struct DetectMetrics {
    /// Samples handed from an append path to the detector task.
    pub tapped: AtomicU64,
    /// Samples dropped because the detector task's queue was full.
    pub dropped: AtomicU64,
    /// Samples scored.
    pub scored: AtomicU64,
    /// Samples a detector refused (older than the series' last one).
    pub refused: AtomicU64,
    /// Output-series commits that failed.
    pub output_failures: AtomicU64,
    /// Trainings that produced a model.
    pub trainings_ok: AtomicU64,
    /// Trainings that failed (too little history, store error…).
    pub trainings_failed: AtomicU64,
    /// Dynamic alert notifications handed to the pipeline.
    pub alerts_sent: AtomicU64,
    /// Series with a detector.
    pub series: AtomicU64,
    /// Detectors warmed from stored history (see `detect::warm`).
    pub warmed: AtomicU64,
    /// Stored samples replayed into warmed detectors.
    pub warm_samples: AtomicU64,
    /// From a sample's append to its alert entering the pipeline.
    pub alert_latency: Histogram,
}

fn family(out: &mut String, name: &str, kind: &str, help: &str, v: u64) {
    write_header(name, help, kind, out);
    // An integer, exact beyond the 2^53 a float keeps.
    let _ = writeln!(out, "{name} {v}");
}

impl DetectMetrics {
    /// The metrics in text format 0.0.4.
    pub fn render(&self) -> String {
        let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut o = String::with_capacity(2048);
        family(
            &mut o,
            "argus_detect_tapped_samples_total",
            "counter",
            "Samples of series matching a dynamic rule, handed to the detector.",
            c(&self.tapped),
        );
        family(
            &mut o,
            "argus_detect_dropped_samples_total",
            "counter",
            "Samples dropped because the detector queue was full.",
            c(&self.dropped),
        );
        family(
            &mut o,
            "argus_detect_scored_samples_total",
            "counter",
            "Samples scored by a dynamic rule.",
            c(&self.scored),
        );
        family(
            &mut o,
            "argus_detect_warmed_series_total",
            "counter",
            "Detectors rebuilt from their series' stored history (restart, reload, first sample).",
            c(&self.warmed),
        );
        family(
            &mut o,
            "argus_detect_warm_samples_total",
            "counter",
            "Stored samples replayed into warmed detectors.",
            c(&self.warm_samples),
        );
        family(
            &mut o,
            "argus_detect_refused_samples_total",
            "counter",
            "Samples a detector refused (out of order).",
            c(&self.refused),
        );
        family(
            &mut o,
            "argus_detect_output_write_failures_total",
            "counter",
            "Commits of argus_baseline_* / argus_anomaly_* series that failed.",
            c(&self.output_failures),
        );
        family(
            &mut o,
            "argus_detect_trainings_total",
            "counter",
            "Trainings that produced a model.",
            c(&self.trainings_ok),
        );
        family(
            &mut o,
            "argus_detect_training_failures_total",
            "counter",
            "Trainings that failed.",
            c(&self.trainings_failed),
        );
        family(
            &mut o,
            "argus_detect_alerts_sent_total",
            "counter",
            "Dynamic alert notifications handed to the alert pipeline.",
            c(&self.alerts_sent),
        );
        family(
            &mut o,
            "argus_detect_series",
            "gauge",
            "Series with a dynamic detector.",
            c(&self.series),
        );
        self.alert_latency.render(
            &mut o,
            "argus_detect_alert_latency_seconds",
            "Time from a sample's append to its dynamic alert entering the alert pipeline.",
        );
        o
    }
}
