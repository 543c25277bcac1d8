//! Detection rate and false alerts of the mix detector on generated streams.

use super::{generate, GenConfig, Injection, MixConfig, MixDetector, MixModel, TrainError};

/// How the detector did on one or more generated streams.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalReport {
    /// Test windows judged.
    pub windows: usize,
    /// Injections.
    pub injected: usize,
    /// Injections detected.
    pub detected: usize,
    /// `detected / injected`.
    pub detection_rate: f64,
    /// Alerts that started outside every injection.
    pub false_alerts: usize,
    /// False alerts per day of test stream.
    pub false_alerts_per_day: f64,
    /// Median windows from an injection's start to its alert, over those detected.
    pub median_delay_windows: f64,
    /// Per shape: (shape, injected, detected).
    pub by_shape: Vec<(Injection, usize, usize)>,
}

impl EvalReport {
    fn finish(&mut self, mut delays: Vec<usize>) {
        self.detection_rate = if self.injected == 0 {
            0.0
        } else {
            self.detected as f64 / self.injected as f64
        };
        self.false_alerts_per_day = self.false_alerts as f64 / (self.windows as f64 / 288.0);
        delays.sort_unstable();
        self.median_delay_windows = delays.get(delays.len() / 2).map_or(0.0, |&d| d as f64);
    }
}

/// Trains on the clean history of generated stream `stream` and runs the detector, event
/// counts fed window by window, over its test period.
pub fn evaluate(
    stream: u64,
    gen: &GenConfig,
    config: &MixConfig,
) -> Result<EvalReport, TrainError> {
    evaluate_streams(&[stream], gen, config)
}

/// [`evaluate`] over several streams, added up.
pub fn evaluate_streams(
    streams: &[u64],
    gen: &GenConfig,
    config: &MixConfig,
) -> Result<EvalReport, TrainError> {
    let mut r = EvalReport {
        by_shape: Injection::ALL.iter().map(|&s| (s, 0, 0)).collect(),
        ..EvalReport::default()
    };
    let mut delays = Vec::new();
    for &stream in streams {
        let g = generate(stream, gen);
        let model = MixModel::train_with(&g.history, config.clone())?;
        let w_ns = config.window_ns;
        let mut d = MixDetector::new(model);
        let mut abnormal = Vec::with_capacity(g.test.len());
        for gw in &g.test {
            let s = gw.window.start_ns;
            for (t, &n) in &gw.window.counts {
                d.observe_n(t, s, n);
            }
            let v = d.close_windows_until(s + w_ns);
            abnormal.extend(v.iter().map(|v| v.abnormal));
            if v.is_empty() {
                // Nothing observed yet: the window is judged as it is.
                abnormal.push(d.judge_window(&gw.window).abnormal);
            }
        }
        // Injection episodes: (start, end, shape).
        let mut episodes: Vec<(usize, usize, Injection)> = Vec::new();
        for (i, gw) in g.test.iter().enumerate() {
            match (gw.injected, episodes.last_mut()) {
                (Some(s), Some(e)) if e.1 == i && e.2 == s => e.1 = i + 1,
                (Some(s), _) => episodes.push((i, i + 1, s)),
                (None, _) => {}
            }
        }
        let grace = config.enter_windows.max(1) as usize;
        for &(a, b, shape) in &episodes {
            r.injected += 1;
            let slot = Injection::ALL.iter().position(|&s| s == shape).unwrap_or(0);
            r.by_shape[slot].1 += 1;
            let end = (b + grace).min(abnormal.len());
            if let Some(first) = (a..end).find(|&i| abnormal[i]) {
                r.detected += 1;
                r.by_shape[slot].2 += 1;
                delays.push(first - a);
            }
        }
        for i in 0..abnormal.len() {
            let rising = abnormal[i] && (i == 0 || !abnormal[i - 1]);
            let explained = episodes.iter().any(|&(a, b, _)| a <= i && i < b + grace);
            if rising && !explained {
                r.false_alerts += 1;
            }
        }
        r.windows += g.test.len();
    }
    r.finish(delays);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(name: &str, r: &EvalReport) {
        println!(
            "{name}: {} windows, {} injected, {} detected ({:.3}), {} false alerts ({:.2}/day), median delay {} windows",
            r.windows,
            r.injected,
            r.detected,
            r.detection_rate,
            r.false_alerts,
            r.false_alerts_per_day,
            r.median_delay_windows
        );
        for (s, n, d) in &r.by_shape {
            println!("  {s:?}: {d}/{n}");
        }
    }

    #[test]
    fn held_out_streams_meet_the_floors() {
        let gen = GenConfig::default();
        let c = MixConfig::default();
        let tuned = evaluate_streams(&[1, 2, 3, 4, 5], &gen, &c).unwrap();
        show("tuned (1-5)", &tuned);
        let held: Vec<u64> = (101..=110).collect();
        let r = evaluate_streams(&held, &gen, &c).unwrap();
        show("held out (101-110)", &r);
        assert!(r.injected >= 200, "{}", r.injected);
        assert!(r.detection_rate >= 0.8, "{r:?}");
        assert!(r.false_alerts_per_day <= 1.0, "{r:?}");
        for (s, n, d) in &r.by_shape {
            // A third of one type moving to a sibling is the subtle shape; the others are
            // gross and must nearly all be caught.
            let floor = if *s == Injection::ProportionShift {
                0.2
            } else {
                0.9
            };
            assert!(*d as f64 >= floor * *n as f64, "{s:?}: {d}/{n}");
        }
    }

    #[test]
    fn hour_of_day_profiles_pay_off() {
        let gen = GenConfig::default();
        let held: Vec<u64> = (101..=110).collect();
        let with = evaluate_streams(&held, &gen, &MixConfig::default()).unwrap();
        let c = MixConfig {
            hour_of_day: false,
            ..MixConfig::default()
        };
        let without = evaluate_streams(&held, &gen, &c).unwrap();
        show("held out, no hour-of-day profiles", &without);
        assert!(
            with.detection_rate - with.false_alerts_per_day / 10.0
                >= without.detection_rate - without.false_alerts_per_day / 10.0,
            "{with:?} {without:?}"
        );
    }
}
