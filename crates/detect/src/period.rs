//! Periodicity: declared (`day`, `week`, `month`, `none`, as seed 002's
//! intake form asks) or detected.
//!
//! Detection: bucket the series to at most ~2000 evenly spaced means, remove
//! the least-squares linear trend (a trend alone makes every lag look
//! correlated), compute the autocorrelation function, then
//! - prefer the calendar periods (week over day, day over hour) when their
//!   ACF is a local peak, high (≥ [`ACF_MIN`]), follows a dip, and at least
//!   two full cycles are present;
//!   week wins over day only if its ACF is clearly higher, since a weekly
//!   series also repeats daily;
//! - otherwise take the highest ACF peak after the first zero crossing.
//!
//! ```
//! use argus_detect::period::{detect, DAY_MS};
//!
//! let ts: Vec<i64> = (0..7 * 1440).map(|i| i * 60_000).collect();
//! let v: Vec<f64> = ts.iter().map(|&t| 5.0 * ((t % DAY_MS) as f64 / DAY_MS as f64 * std::f64::consts::TAU).sin() + 0.001 * (t / 60_000) as f64).collect();
//! assert_eq!(detect(&ts, &v), Some(DAY_MS));
//! ```

use serde::{Deserialize, Serialize};

/// One hour, ms.
pub const HOUR_MS: i64 = 3_600_000;
/// One day, ms.
pub const DAY_MS: i64 = 86_400_000;
/// One week, ms.
pub const WEEK_MS: i64 = 7 * DAY_MS;
/// Smallest autocorrelation accepted as a period.
pub const ACF_MIN: f64 = 0.3;
/// Buckets the series is reduced to before the ACF.
const MAX_BUCKETS: i64 = 2016;

/// The period a rule declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PeriodSpec {
    /// Detect it from the training data.
    #[default]
    Auto,
    /// No periodicity (按无规律波动).
    None,
    /// Daily (按天).
    Day,
    /// Weekly (按周).
    Week,
    /// Monthly (按月): day profiles by calendar class (month start/end).
    Month,
}

impl std::str::FromStr for PeriodSpec {
    type Err = crate::DetectError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "auto" => PeriodSpec::Auto,
            "none" => PeriodSpec::None,
            "day" => PeriodSpec::Day,
            "week" => PeriodSpec::Week,
            "month" => PeriodSpec::Month,
            _ => {
                return Err(crate::DetectError::Config(format!(
                    "unknown period {s:?} (expected auto, none, day, week or month)"
                )))
            }
        })
    }
}

/// A resolved period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// Period in ms; 0 = none.
    pub ms: i64,
    /// Whether month start/end matter (declared `month`).
    pub monthly: bool,
    /// Whether it was detected rather than declared.
    pub detected: bool,
}

impl PeriodSpec {
    /// Resolves the spec, detecting from `(ts, values)` when `auto`.
    pub fn resolve(self, ts: &[i64], values: &[f64]) -> Period {
        let p = |ms, monthly| Period {
            ms,
            monthly,
            detected: false,
        };
        match self {
            PeriodSpec::None => p(0, false),
            PeriodSpec::Day => p(DAY_MS, false),
            PeriodSpec::Week => p(WEEK_MS, false),
            PeriodSpec::Month => p(DAY_MS, true),
            PeriodSpec::Auto => Period {
                ms: detect(ts, values).unwrap_or(0),
                monthly: false,
                detected: true,
            },
        }
    }
}

/// Detects the dominant period of `(ts ms ascending, values)`, if any.
pub fn detect(ts: &[i64], values: &[f64]) -> Option<i64> {
    let n = ts.len().min(values.len());
    if n < 16 {
        return None;
    }
    let (t0, t1) = (ts[0], ts[n - 1]);
    let span = t1 - t0;
    if span <= 0 {
        return None;
    }
    // Bucket width: the median step, widened so there are ≤ MAX_BUCKETS buckets.
    let mut steps: Vec<i64> = ts[..n]
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0)
        .collect();
    if steps.is_empty() {
        return None;
    }
    let mid = steps.len() / 2;
    let step = *steps.select_nth_unstable(mid).1;
    let width = step.max((span + MAX_BUCKETS - 1) / MAX_BUCKETS).max(1);
    let nb = (span / width + 1) as usize;
    let mut sum = vec![0.0; nb];
    let mut cnt = vec![0u32; nb];
    for i in 0..n {
        if values[i].is_finite() {
            let b = (((ts[i] - t0) / width) as usize).min(nb - 1);
            sum[b] += values[i];
            cnt[b] += 1;
        }
    }
    // Fill empty buckets with the previous value.
    let mut x = Vec::with_capacity(nb);
    let mut last = None;
    for b in 0..nb {
        let v = if cnt[b] > 0 {
            Some(sum[b] / f64::from(cnt[b]))
        } else {
            last
        };
        last = v;
        x.push(v);
    }
    let first = x.iter().flatten().next().copied()?;
    let mut x: Vec<f64> = x.into_iter().map(|v| v.unwrap_or(first)).collect();
    detrend(&mut x);
    let acf = acf(&x, nb / 2);
    let at = |period: i64| -> Option<f64> {
        let lag = (period / width) as usize;
        if period % width != 0 && period / width < 4 {
            return None;
        }
        // need two full cycles
        if lag < 2 || lag * 2 > nb || lag >= acf.len() {
            return None;
        }
        // It must be a real peak: highest in its neighbourhood, with a dip before it.
        let r = acf[lag];
        let w = (lag / 20).max(1);
        let lo = lag.saturating_sub(w);
        let hi = (lag + w).min(acf.len() - 1);
        let peak = acf[lo..=hi].iter().all(|&a| a <= r + 1e-12);
        let dip = acf[1..lag].iter().copied().fold(f64::INFINITY, f64::min);
        (peak && dip < r - 0.1).then_some(r)
    };
    let day = at(DAY_MS);
    let week = at(WEEK_MS);
    if let (Some(w), Some(d)) = (week, day) {
        if w >= ACF_MIN && w > d + 0.1 {
            return Some(WEEK_MS);
        }
    }
    if day.is_some_and(|d| d >= ACF_MIN) {
        return Some(DAY_MS);
    }
    if week.is_some_and(|w| w >= ACF_MIN) {
        return Some(WEEK_MS);
    }
    if at(HOUR_MS).is_some_and(|h| h >= ACF_MIN) {
        return Some(HOUR_MS);
    }
    // Generic: the highest peak after the first zero crossing.
    let zero = acf.iter().position(|&r| r <= 0.0)?;
    let (lag, r) = acf
        .iter()
        .enumerate()
        .skip(zero)
        .filter(|(l, _)| l * 2 <= nb)
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    (*r >= ACF_MIN).then_some(lag as i64 * width)
}

/// Removes the least-squares line from `x` in place.
pub fn detrend(x: &mut [f64]) {
    let n = x.len() as f64;
    if x.len() < 2 {
        return;
    }
    let mt = (n - 1.0) / 2.0;
    let mx = x.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in x.iter().enumerate() {
        let dt = i as f64 - mt;
        sxy += dt * (v - mx);
        sxx += dt * dt;
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    for (i, v) in x.iter_mut().enumerate() {
        *v -= mx + slope * (i as f64 - mt);
    }
}

/// Autocorrelation for lags `0..=max_lag` of a zero-mean series.
pub fn acf(x: &[f64], max_lag: usize) -> Vec<f64> {
    let var: f64 = x.iter().map(|v| v * v).sum();
    if var <= 0.0 {
        return vec![0.0; max_lag + 1];
    }
    (0..=max_lag.min(x.len().saturating_sub(1)))
        .map(|lag| x[lag..].iter().zip(x).map(|(a, b)| a * b).sum::<f64>() / var)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((*seed >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    }

    fn series(days: i64, f: impl Fn(i64) -> f64) -> (Vec<i64>, Vec<f64>) {
        let mut s = 7;
        let ts: Vec<i64> = (0..days * 1440).map(|i| i * 60_000).collect();
        let v = ts.iter().map(|&t| f(t) + 2.0 * lcg(&mut s)).collect();
        (ts, v)
    }

    fn daily(t: i64) -> f64 {
        10.0 * ((t % DAY_MS) as f64 / DAY_MS as f64 * std::f64::consts::TAU).sin()
    }

    #[test]
    fn detects_day_despite_trend() {
        let (ts, v) = series(7, |t| daily(t) + (t / 60_000) as f64 * 0.01);
        assert_eq!(detect(&ts, &v), Some(DAY_MS));
    }

    #[test]
    fn detects_week() {
        // weekdays high, weekends low, plus a daily shape
        let (ts, v) = series(28, |t| {
            let wd = (t / DAY_MS) % 7;
            daily(t) * 0.3 + if wd >= 5 { 0.0 } else { 20.0 }
        });
        assert_eq!(detect(&ts, &v), Some(WEEK_MS));
    }

    #[test]
    fn detects_generic_period() {
        // 7-hour cycle over 5 days
        let p = 7 * HOUR_MS;
        let (ts, v) = series(5, |t| {
            10.0 * ((t % p) as f64 / p as f64 * std::f64::consts::TAU).sin()
        });
        let got = detect(&ts, &v).unwrap();
        assert!((got - p).abs() <= p / 20, "{got}");
    }

    #[test]
    fn noise_and_trend_have_no_period() {
        let (ts, v) = series(7, |t| (t / 60_000) as f64 * 0.05);
        assert_eq!(detect(&ts, &v), None);
        assert_eq!(detect(&[1, 2], &[1.0, 2.0]), None);
    }

    #[test]
    fn declared_periods() {
        assert_eq!(PeriodSpec::Week.resolve(&[], &[]).ms, WEEK_MS);
        assert!(PeriodSpec::Month.resolve(&[], &[]).monthly);
        assert_eq!(PeriodSpec::None.resolve(&[], &[]).ms, 0);
        assert!("fortnight".parse::<PeriodSpec>().is_err());
    }
}
