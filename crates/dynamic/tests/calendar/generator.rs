//! A family of calendar-patterned business-volume series with known drops.
//!
//! Each series is drawn from a seed: a base volume (100 to 5000 a minute),
//! a day curve (a night floor, a morning ramp, one or two peaks, an evening
//! fall), a weekend factor and its own flatter shape, a month-start effect
//! (up or down, 1 to 3 days), an optional month-end effect, declared holidays
//! that look like Sundays, a slow trend, multiplicative noise and counting
//! noise. Drops cut the volume to 15–50 % for 20–120 minutes, on any kind of
//! day. The truth is returned beside the values.

use argus_detect::baseline::calendar::{civil_from_days, days_in_month, DAY_MS};
use argus_model::SplitMix64;

/// The workspace's seeded generator, with the draws the shapes need.
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(SplitMix64::new(seed))
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0.unit()
    }
    pub fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.unit()
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-12);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// One injected drop, in sample time.
#[derive(Debug, Clone, Copy)]
pub struct Drop {
    pub start_ms: i64,
    pub end_ms: i64,
    /// The share of normal volume left.
    pub keep: f64,
}

/// A generated series with its truth.
pub struct Series {
    pub name: String,
    pub ts: Vec<i64>,
    pub values: Vec<f64>,
    pub drops: Vec<Drop>,
    /// Declared holidays, `YYYY-MM-DD`.
    pub holidays: Vec<String>,
    /// Sample step, ms.
    pub step_ms: i64,
    /// Days of a month's start with their own volume.
    pub month_start_days: u32,
    /// Days of a month's end with their own volume (0: none).
    pub month_end_days: u32,
}

/// The drawn shape of a series.
struct Shape {
    base: f64,
    night: f64,
    peaks: Vec<(f64, f64, f64)>, // (hour, width h, height)
    weekend: f64,
    sunday: f64,
    weekend_shift: f64,
    month_start_days: u32,
    month_start: f64,
    month_end_days: u32,
    month_end: f64,
    trend: f64,
    cv: f64,
}

impl Shape {
    fn draw(r: &mut Rng) -> Shape {
        let two = r.unit() < 0.5;
        let mut peaks = vec![(r.range(9.5, 11.5), r.range(1.2, 2.5), 1.0)];
        if two {
            peaks.push((r.range(14.5, 16.5), r.range(1.2, 2.5), r.range(0.6, 1.0)));
        }
        let month_start = if r.unit() < 0.6 {
            r.range(1.3, 2.2)
        } else {
            r.range(0.55, 0.8)
        };
        let (month_end_days, month_end) = if r.unit() < 0.5 {
            (r.range(1.0, 3.0).round() as u32, r.range(1.2, 1.8))
        } else {
            (0, 1.0)
        };
        Shape {
            base: 10f64.powf(r.range(2.0, 3.7)),
            night: r.range(0.05, 0.3),
            peaks,
            weekend: r.range(0.2, 0.7),
            sunday: r.range(0.7, 1.0),
            weekend_shift: r.range(0.5, 2.0),
            month_start_days: r.range(1.0, 3.0).round() as u32,
            month_start,
            month_end_days,
            month_end,
            trend: r.range(-0.1, 0.15),
            cv: r.range(0.02, 0.08),
        }
    }

    /// The day curve (0..1) at hour `h`, shifted later by `shift` hours.
    fn curve(&self, h: f64, shift: f64) -> f64 {
        let mut c = 0.0f64;
        for &(at, w, height) in &self.peaks {
            let d = (h - at - shift) / w;
            c = c.max(height * (-0.5 * d * d).exp());
        }
        // a working-day plateau between the peaks
        let plateau = 0.75 * sigmoid((h - 8.5 - shift) * 2.0) * sigmoid((19.0 + shift - h) * 1.5);
        self.night + (1.0 - self.night) * c.max(plateau)
    }

    /// Expected volume at `t_ms` of a series that started at `t0`.
    fn mean(&self, t_ms: i64, t0: i64, span: i64, holidays: &[i64]) -> f64 {
        let dn = t_ms.div_euclid(DAY_MS);
        let h = t_ms.rem_euclid(DAY_MS) as f64 / 3_600_000.0;
        let wd = (dn + 3).rem_euclid(7); // 0 = Monday
        let holiday = holidays.contains(&dn);
        let rest = wd >= 5 || holiday;
        let mut v = if rest {
            let f = if wd == 6 || holiday {
                self.weekend * self.sunday
            } else {
                self.weekend
            };
            f * self.curve(h, self.weekend_shift)
        } else {
            self.curve(h, 0.0)
        };
        let (y, m, d) = civil_from_days(dn);
        if d <= self.month_start_days {
            v *= self.month_start;
        } else if self.month_end_days > 0 && d + self.month_end_days > days_in_month(y, m) {
            v *= self.month_end;
        }
        let progress = (t_ms - t0) as f64 / span.max(1) as f64;
        self.base * v * (1.0 + self.trend * progress)
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Generates series `seed` of the family: `weeks` weeks from `start_day`
/// (days since 1970-01-01, a Monday is not required) at `step_ms`, with
/// `drops` drops placed after `quiet_weeks` weeks.
pub fn generate(
    seed: u64,
    start_day: i64,
    weeks: i64,
    step_ms: i64,
    drops: usize,
    quiet_weeks: i64,
) -> Series {
    let mut r = Rng::new(seed);
    let shape = Shape::draw(&mut r);
    let t0 = start_day * DAY_MS;
    let span = weeks * 7 * DAY_MS;
    // Two declared holidays on workdays in the second half, one in the first.
    let mut holidays = Vec::new();
    for (lo, hi) in [(10, 20), (30, 45), (50, 65)] {
        for _ in 0..20 {
            let dn = start_day + r.range(f64::from(lo), f64::from(hi)) as i64;
            let wd = (dn + 3).rem_euclid(7);
            let (_, _, d) = civil_from_days(dn);
            if wd < 5 && d > 3 && d < 26 && dn < start_day + weeks * 7 {
                holidays.push(dn);
                break;
            }
        }
    }
    // Drops: spread over the scored weeks, one per slot, on any kind of day,
    // in business hours where the volume is worth watching.
    let mut dl = Vec::new();
    let scored = (weeks - quiet_weeks) * 7 * DAY_MS;
    let slot = scored / drops.max(1) as i64;
    for k in 0..drops {
        let day0 = (t0 + quiet_weeks * 7 * DAY_MS + k as i64 * slot).div_euclid(DAY_MS);
        let day = day0 + (r.unit() * (slot / DAY_MS - 1).max(1) as f64) as i64;
        let hour = r.range(9.0, 17.0);
        let start = day * DAY_MS + (hour * 3_600_000.0) as i64;
        let start = start - start.rem_euclid(step_ms);
        let len = (r.range(20.0, 120.0) * 60_000.0) as i64;
        dl.push(Drop {
            start_ms: start,
            end_ms: start + len.max(3 * step_ms),
            keep: r.range(0.15, 0.5),
        });
    }
    let n = span / step_ms;
    let mut ts = Vec::with_capacity(n as usize);
    let mut values = Vec::with_capacity(n as usize);
    for i in 0..n {
        let t = t0 + i * step_ms;
        let mut m = shape.mean(t, t0, span, &holidays) * step_ms as f64 / 60_000.0;
        if let Some(d) = dl.iter().find(|d| d.start_ms <= t && t < d.end_ms) {
            m *= d.keep;
        }
        // multiplicative noise, then counting noise
        let x = m * (1.0 + shape.cv * r.normal());
        let x = x + x.max(0.0).sqrt() * r.normal();
        ts.push(t);
        values.push(x.max(0.0).round());
    }
    let holidays = holidays
        .iter()
        .map(|&dn| {
            let (y, m, d) = civil_from_days(dn);
            format!("{y:04}-{m:02}-{d:02}")
        })
        .collect();
    Series {
        name: format!("calendar-{seed}"),
        ts,
        values,
        drops: dl,
        holidays,
        step_ms,
        month_start_days: shape.month_start_days,
        month_end_days: shape.month_end_days,
    }
}
