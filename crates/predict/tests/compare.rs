//! Exhaustion prediction beside `predict_linear` on the same data: a family
//! of filesystem shapes, generated here (steady leaks of several rates with
//! noise, steady use with temporary files, log rotation saw-tooth, a spool
//! that churns, a sudden fill), each evaluated every five minutes over a one-hour window with a 4-hour
//! horizon. Counted: false alarms (alarming evaluations on series that never
//! run out within the horizon) and the warning time before exhaustion on
//! series that do, overall and by shape. Run with `--nocapture` for the
//! table.

use argus_detect::exhaust::{predict, ExhaustConfig, Trend};

const MIN: i64 = 60_000;
const GB: f64 = 1e9;

/// A small deterministic generator (xorshift), so the family is the same on
/// every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Free bytes at each minute, and the minute it reaches 0 (if it does).
struct Shape {
    name: &'static str,
    free: Vec<f64>,
    empty_at: Option<usize>,
}

fn family() -> Vec<Shape> {
    let mut out = Vec::new();
    let minutes = 12 * 60;
    for seed in 1..=10u64 {
        let mut r = Rng(seed * 7919);
        // A leak: 20 GB free, losing 2–6 GB an hour, ±50 MB noise.
        let rate = (2.0 + 4.0 * r.next()) * GB / 60.0;
        let free: Vec<f64> = (0..minutes)
            .map(|m| (20.0 * GB - rate * m as f64 + (r.next() - 0.5) * 1e8).max(0.0))
            .collect();
        let empty_at = free.iter().position(|v| *v <= 0.0);
        out.push(Shape {
            name: "leak",
            free,
            empty_at,
        });
        // Steady at 5–15 GB with temporary files of 3–5 GB for 10–20 minutes
        // (builds, backups), a few times.
        let base = (5.0 + 10.0 * r.next()) * GB;
        let mut free: Vec<f64> = (0..minutes)
            .map(|_| base + (r.next() - 0.5) * 1e8)
            .collect();
        for _ in 0..4 {
            let at = (r.next() * (minutes - 30) as f64) as usize;
            let len = 10 + (r.next() * 10.0) as usize;
            let size = (3.0 + 2.0 * r.next()) * GB;
            for v in &mut free[at..at + len] {
                *v -= size.min(base * 0.9);
            }
        }
        out.push(Shape {
            name: "temporary files",
            free,
            empty_at: None,
        });
        // Logs fill 1 GB an hour and are rotated (freed) every 3 hours.
        let start = (6.0 + 4.0 * r.next()) * GB;
        let free: Vec<f64> = (0..minutes)
            .map(|m| start - (m % 180) as f64 / 60.0 * GB + (r.next() - 0.5) * 1e8)
            .collect();
        out.push(Shape {
            name: "log rotation",
            free,
            empty_at: None,
        });
        // Churn: a cache or spool that fills and empties by 0.3–1 GB every
        // 6–20 minutes around 3–8 GB free, never running out.
        let base = (3.0 + 5.0 * r.next()) * GB;
        let amp = (0.3 + 0.7 * r.next()) * GB;
        let period = 6.0 + 14.0 * r.next();
        let free: Vec<f64> = (0..minutes)
            .map(|m| {
                let phase = (m as f64 / period).fract();
                base - amp * phase + (r.next() - 0.5) * 1e8
            })
            .collect();
        out.push(Shape {
            name: "churn",
            free,
            empty_at: None,
        });
        // Steady, then a runaway writer fills 8 GB in 80 minutes.
        let from = 300 + (r.next() * 200.0) as usize;
        let free: Vec<f64> = (0..minutes)
            .map(|m| {
                let used = if m > from {
                    (m - from) as f64 * 0.1 * GB
                } else {
                    0.0
                };
                (8.0 * GB - used + (r.next() - 0.5) * 1e8).max(0.0)
            })
            .collect();
        let empty_at = free.iter().position(|v| *v <= 0.0);
        out.push(Shape {
            name: "runaway writer",
            free,
            empty_at,
        });
    }
    out
}

/// `predict_linear(free[1h], 4h) < 0`: least squares over the window.
fn ols_alarm(ts: &[i64], vs: &[f64], horizon_s: f64) -> bool {
    let n = ts.len() as f64;
    let t: Vec<f64> = ts
        .iter()
        .map(|t| (*t - ts[ts.len() - 1]) as f64 / 1000.0)
        .collect();
    let (mt, mv) = (t.iter().sum::<f64>() / n, vs.iter().sum::<f64>() / n);
    let cov: f64 = t.iter().zip(vs).map(|(a, b)| (a - mt) * (b - mv)).sum();
    let var: f64 = t.iter().map(|a| (a - mt).powi(2)).sum();
    let slope = cov / var;
    mv - slope * mt + slope * horizon_s < 0.0
}

#[derive(Default, Debug)]
struct Score {
    /// False-alarm evaluations by shape.
    by_shape: std::collections::BTreeMap<&'static str, usize>,
    false_alarm_minutes: usize,
    series_with_false_alarms: usize,
    missed: usize,
    lead_minutes: Vec<usize>,
    /// Warning times by shape.
    lead_by_shape: std::collections::BTreeMap<&'static str, Vec<usize>>,
}

fn score(shapes: &[Shape], alarm: impl Fn(&[i64], &[f64]) -> bool) -> Score {
    let mut s = Score::default();
    for sh in shapes {
        let mut first = None;
        let mut false_minutes = 0;
        for m in (60..sh.free.len()).step_by(5) {
            if sh.empty_at.is_some_and(|e| m >= e) {
                break;
            }
            let ts: Vec<i64> = (m - 59..=m).map(|i| i as i64 * MIN).collect();
            let vs = &sh.free[m - 59..=m];
            if alarm(&ts, vs) {
                // An alarm counts as false unless exhaustion really comes
                // within the horizon.
                match sh.empty_at {
                    Some(e) if e - m <= 240 => {
                        first.get_or_insert(m);
                    }
                    _ => false_minutes += 1,
                }
            }
        }
        s.false_alarm_minutes += false_minutes;
        *s.by_shape.entry(sh.name).or_default() += false_minutes;
        s.series_with_false_alarms += usize::from(false_minutes > 0);
        if let Some(e) = sh.empty_at {
            match first {
                Some(f) => {
                    s.lead_minutes.push(e - f);
                    s.lead_by_shape.entry(sh.name).or_default().push(e - f);
                }
                None => s.missed += 1,
            }
        }
    }
    s
}

#[test]
fn theil_sen_beside_predict_linear() {
    let shapes = family();
    let cfg = ExhaustConfig {
        limit: 0.0,
        trend: Trend::Leaking,
        horizon_ms: 4 * 3_600_000,
        ..ExhaustConfig::default()
    };
    let ts_score = score(&shapes, |ts, vs| {
        predict(ts, vs, &cfg)
            .ok()
            .flatten()
            .is_some_and(|p| p.alert)
    });
    let ols_score = score(&shapes, |ts, vs| ols_alarm(ts, vs, 4.0 * 3600.0));
    let median = |v: &[usize]| {
        let mut v = v.to_vec();
        v.sort();
        v.get(v.len() / 2).copied().unwrap_or(0)
    };
    let filling = shapes.iter().filter(|s| s.empty_at.is_some()).count();
    println!(
        "{} series ({} run out):\n\
         | detector | series with false alarms | false-alarm evaluations | missed | median warning (min) | shortest warning (min) |\n\
         | exhaustion rule (Theil–Sen) | {} | {} | {} | {} | {} |\n\
         | predict_linear (least squares) | {} | {} | {} | {} | {} |",
        shapes.len(),
        filling,
        ts_score.series_with_false_alarms,
        ts_score.false_alarm_minutes,
        ts_score.missed,
        median(&ts_score.lead_minutes),
        ts_score.lead_minutes.iter().min().unwrap_or(&0),
        ols_score.series_with_false_alarms,
        ols_score.false_alarm_minutes,
        ols_score.missed,
        median(&ols_score.lead_minutes),
        ols_score.lead_minutes.iter().min().unwrap_or(&0),
    );
    println!(
        "false-alarm evaluations by shape: Theil–Sen {:?}, least squares {:?}",
        ts_score.by_shape, ols_score.by_shape
    );
    let runaway = |s: &Score| median(&s.lead_by_shape["runaway writer"]);
    println!(
        "median warning (min) by shape: Theil–Sen {:?}, least squares {:?}",
        ts_score
            .lead_by_shape
            .iter()
            .map(|(k, v)| (k, median(v)))
            .collect::<Vec<_>>(),
        ols_score
            .lead_by_shape
            .iter()
            .map(|(k, v)| (k, median(v)))
            .collect::<Vec<_>>()
    );
    assert_eq!(ts_score.missed, 0, "every filling series is warned of");
    assert!(
        ts_score.false_alarm_minutes < ols_score.false_alarm_minutes,
        "fewer false alarms: {ts_score:?} vs {ols_score:?}"
    );
    assert!(
        median(&ts_score.lead_minutes) + 15 >= median(&ols_score.lead_minutes),
        "warning time at least as long, give or take a quarter hour: {ts_score:?} vs {ols_score:?}"
    );
    // A steady leak crosses the horizon at the same time for both; a
    // runaway writer is seen sooner when the trend is read from the new
    // regime rather than from an hour that is mostly the old one.
    assert!(
        runaway(&ts_score) >= runaway(&ols_score) + 5,
        "earlier warning of a sudden fill: {ts_score:?} vs {ols_score:?}"
    );
}
