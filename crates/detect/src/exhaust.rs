//! Failure prediction: time to exhaustion of a filling (disk, memory leak)
//! or leaking (free space, pool) resource, from a robust linear trend
//! (Theil–Sen: the median of pairwise slopes, which a few spikes cannot
//! tilt) over a window of recent samples, read from the regime since the
//! window's last change (a writer that ran away ten minutes ago is judged
//! by those ten minutes, not by the hour).
//!
//! ```
//! use argus_detect::exhaust::{predict, ExhaustConfig, Trend};
//!
//! // disk at 50 % growing 1 %/hour, limit 90 %: full in 40 hours
//! let ts: Vec<i64> = (0..60).map(|i| i * 3_600_000).collect();
//! let v: Vec<f64> = (0..60).map(|i| 50.0 - 59.0 + i as f64).collect();
//! let cfg = ExhaustConfig { limit: 90.0, trend: Trend::Filling, horizon_ms: 48 * 3_600_000, ..Default::default() };
//! let p = predict(&ts, &v, &cfg).unwrap().unwrap();
//! assert_eq!(p.eta_ms / 3_600_000, 40);
//! assert!(p.alert);
//! ```

use serde::{Deserialize, Serialize};

use crate::baseline::stats::median;
use crate::DetectError;

/// Which way the resource runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// It rises towards `limit` (used space, memory).
    #[default]
    Filling,
    /// It falls towards `limit` (free space, free connections).
    Leaking,
}

/// Settings of a time-to-exhaustion rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExhaustConfig {
    /// `limit`: the value at which the resource is exhausted. Default `100` (percent).
    pub limit: f64,
    /// `trend`: `filling` or `leaking`. Default `filling`.
    pub trend: Trend,
    /// `horizon_ms`: alert when exhaustion is predicted within this. Default 24 h.
    pub horizon_ms: i64,
    /// `min_points`: samples needed for a prediction. Default `10`.
    pub min_points: usize,
    /// `max_points`: newest samples used (Theil–Sen is O(n²)). Default `240`.
    pub max_points: usize,
    /// `min_agreement`: share of pairwise slopes that must point towards the
    /// limit to predict at all. Default `0.7`.
    pub min_agreement: f64,
}

impl Default for ExhaustConfig {
    fn default() -> Self {
        Self {
            limit: 100.0,
            trend: Trend::Filling,
            horizon_ms: 86_400_000,
            min_points: 10,
            max_points: 240,
            min_agreement: 0.7,
        }
    }
}

/// A prediction: "full in X".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Exhaustion {
    /// Slope, units per second.
    pub slope_per_s: f64,
    /// The level at the last sample: the fitted line's, or the level the
    /// newest samples stand at when they gave capacity back.
    pub current: f64,
    /// Time from the last sample to the limit, ms (0 if already there).
    pub eta_ms: i64,
    /// Predicted time of exhaustion, ms.
    pub at_ms: i64,
    /// Share of pairwise slopes pointing towards the limit.
    pub agreement: f64,
    /// Whether `eta_ms ≤ horizon_ms`.
    pub alert: bool,
}

/// Predicts exhaustion from samples `(ts ms ascending, values)`. `Ok(None)`:
/// too few points, or no consistent trend towards the limit.
pub fn predict(
    ts: &[i64],
    values: &[f64],
    cfg: &ExhaustConfig,
) -> Result<Option<Exhaustion>, DetectError> {
    if ts.len() != values.len() {
        return Err(DetectError::Input(format!(
            "exhaustion input lengths differ: {} timestamps, {} values",
            ts.len(),
            values.len()
        )));
    }
    if !cfg.limit.is_finite() || cfg.max_points < 2 {
        return Err(DetectError::Config(
            "limit must be finite and max_points >= 2".into(),
        ));
    }
    let pts: Vec<(f64, f64)> = ts
        .iter()
        .zip(values)
        .filter(|p| p.1.is_finite())
        .map(|(&t, &v)| (t as f64 / 1000.0, v))
        .collect();
    let pts = &pts[pts.len().saturating_sub(cfg.max_points)..];
    if pts.len() < cfg.min_points.max(2) {
        return Ok(None);
    }
    let pts = since_last_change(pts, cfg.min_points.max(3), cfg.trend);
    let mut slopes = Vec::with_capacity(pts.len() * (pts.len() - 1) / 2);
    for i in 0..pts.len() {
        for j in i + 1..pts.len() {
            let dt = pts[j].0 - pts[i].0;
            if dt > 0.0 {
                slopes.push((pts[j].1 - pts[i].1) / dt);
            }
        }
    }
    if slopes.is_empty() {
        return Ok(None);
    }
    let towards = |s: f64| match cfg.trend {
        Trend::Filling => s > 0.0,
        Trend::Leaking => s < 0.0,
    };
    let agreement = slopes.iter().filter(|s| towards(**s)).count() as f64 / slopes.len() as f64;
    let slope = median(&mut slopes);
    if !towards(slope) || agreement < cfg.min_agreement {
        return Ok(None);
    }
    let mut icpt: Vec<f64> = pts.iter().map(|(t, v)| v - slope * t).collect();
    let b = median(&mut icpt);
    let (t_last, _) = pts[pts.len() - 1];
    let level = given_back(pts, slope, b, cfg.trend).unwrap_or(b);
    let current = level + slope * t_last;
    let eta_s = ((cfg.limit - current) / slope).max(0.0);
    let eta_ms = (eta_s * 1000.0).min(i64::MAX as f64 / 2.0) as i64;
    let at_ms = (t_last * 1000.0) as i64 + eta_ms;
    Ok(Some(Exhaustion {
        slope_per_s: slope,
        current,
        eta_ms,
        at_ms,
        agreement,
        alert: eta_ms <= cfg.horizon_ms,
    }))
}

/// How far beyond the window's typical residual (its median absolute
/// residual from the fitted line) the newest points must lie, away from the
/// limit, to count as capacity given back.
const GIVEN_BACK: f64 = 6.0;

/// When the newest points lie further from the limit than the fitted line,
/// by more than [`GIVEN_BACK`] typical residuals each (a log rotated, a
/// cache emptied, a temporary file deleted, a restart that freed memory),
/// the level they stand at (the median of their intercepts under the same
/// slope); `None` otherwise. A release counts at once, since it can only
/// postpone the exhaustion; a move towards the limit waits until it is a
/// regime of its own ([`since_last_change`]), so a step a few points old
/// raises no alarm. The newest points may be at most a third of the window.
fn given_back(pts: &[(f64, f64)], slope: f64, b: f64, trend: Trend) -> Option<f64> {
    let away = |r: f64| match trend {
        Trend::Filling => -r,
        Trend::Leaking => r,
    };
    let resid: Vec<f64> = pts.iter().map(|(t, v)| v - (b + slope * t)).collect();
    let mut abs: Vec<f64> = resid.iter().map(|r| r.abs()).collect();
    let scale = median(&mut abs);
    // A floor, so noiseless data does not read rounding as a release.
    let size = pts.iter().fold(0.0f64, |m, p| m.max(p.1.abs()));
    let bar = (GIVEN_BACK * scale).max(1e-9 * size);
    let run = resid.iter().rev().take_while(|&&r| away(r) > bar).count();
    if run == 0 || 3 * run > pts.len() {
        return None;
    }
    let mut icpt: Vec<f64> = pts[pts.len() - run..]
        .iter()
        .map(|(t, v)| v - slope * t)
        .collect();
    Some(median(&mut icpt))
}

/// The running sums of a stretch of points, from which the residual sum
/// of squares of its least-squares line follows ([`Sums::rss`]).
#[derive(Clone, Copy, Default)]
struct Sums {
    n: f64,
    t: f64,
    v: f64,
    tt: f64,
    tv: f64,
    vv: f64,
}

impl Sums {
    fn add(mut self, t: f64, v: f64) -> Sums {
        self.n += 1.0;
        self.t += t;
        self.v += v;
        self.tt += t * t;
        self.tv += t * v;
        self.vv += v * v;
        self
    }

    fn minus(self, o: Sums) -> Sums {
        Sums {
            n: self.n - o.n,
            t: self.t - o.t,
            v: self.v - o.v,
            tt: self.tt - o.tt,
            tv: self.tv - o.tv,
            vv: self.vv - o.vv,
        }
    }

    /// n times the variance of the times.
    fn var_t(&self) -> f64 {
        self.tt - self.t * self.t / self.n
    }

    /// n times the covariance of times and values.
    fn cov(&self) -> f64 {
        self.tv - self.t * self.v / self.n
    }

    /// The least-squares slope (0 when every time is the same).
    fn slope(&self) -> f64 {
        let var_t = self.var_t();
        if var_t > 0.0 {
            self.cov() / var_t
        } else {
            0.0
        }
    }

    /// The residual sum of squares of the least-squares line.
    fn rss(self) -> f64 {
        let var_v = self.vv - self.v * self.v / self.n;
        (var_v - self.slope() * self.cov()).max(0.0)
    }
}

/// The points since the window's last change of regime (a runaway writer
/// starting), so the trend is read from what the resource does now rather
/// than averaged with what it did before.
///
/// A change is the split into two separately fitted lines that the
/// Bayesian information criterion prefers to one line (three more
/// parameters: a slope, an intercept and the split), the older part of at
/// least `min_len` points and the newer of at least 3, so a step (a
/// temporary file) is placed where it is. It counts only when the time
/// before it was one regime itself (no split within it, its sides of 3
/// points or more): a resource that churns (a spool filling and emptying
/// every few minutes) has no regime its last minutes could stand for. The
/// newer part is used once it has `min_len` points of its own; until then
/// the whole window is (a step a few points old is not a trend). A split
/// whose newer side starts further from the limit ([`released_at`]) is a
/// release, not a regime: the whole window is read, and [`given_back`]
/// takes the level.
fn since_last_change(pts: &[(f64, f64)], min_len: usize, trend: Trend) -> &[(f64, f64)] {
    match change(pts, min_len) {
        Some(k)
            if pts.len() - k >= min_len
                && change(&pts[..k], NEWEST).is_none()
                && !released_at(pts, k, trend) =>
        {
            &pts[k..]
        }
        _ => pts,
    }
}

/// Whether the newer side of a split at `k` starts further from the limit
/// than the older side's line reaches there: capacity given back (a log
/// rotated, a spool emptied), which can only postpone the exhaustion. Such
/// a split is no new regime ([`given_back`] takes the level instead): read
/// alone, the minutes since a release are the steepest of a saw-tooth.
fn released_at(pts: &[(f64, f64)], k: usize, trend: Trend) -> bool {
    let (older, newer) = pts.split_at(k);
    let (Some(old), Some(new)) = (Line::fit(older), Line::fit(newer)) else {
        return false;
    };
    // Measured in the newer side's scatter: the older side may be a
    // saw-tooth that no line fits.
    let mut resid: Vec<f64> = newer.iter().map(|p| (p.1 - new.at(p.0)).abs()).collect();
    let bar = GIVEN_BACK * median(&mut resid);
    let at = pts[k].0;
    let jump = new.at(at) - old.at(at);
    match trend {
        Trend::Leaking => jump > bar,
        Trend::Filling => -jump > bar,
    }
}

/// A least-squares line.
struct Line {
    t0: f64,
    v0: f64,
    slope: f64,
}

impl Line {
    fn fit(pts: &[(f64, f64)]) -> Option<Line> {
        let (t0, v0) = *pts.first()?;
        let s = pts
            .iter()
            .fold(Sums::default(), |s, &(x, y)| s.add(x - t0, y - v0));
        Some(Line {
            t0: t0 + s.t / s.n,
            v0: v0 + s.v / s.n,
            slope: s.slope(),
        })
    }

    fn at(&self, t: f64) -> f64 {
        self.v0 + self.slope * (t - self.t0)
    }
}

/// The fewest points a line is fitted to on the newer side of a split.
const NEWEST: usize = 3;

/// Where `seg` splits best into two lines, the older of at least `min_old`
/// points, when the split is worth its parameters (see
/// [`since_last_change`]).
fn change(seg: &[(f64, f64)], min_old: usize) -> Option<usize> {
    let n = seg.len();
    if n < min_old + NEWEST {
        return None;
    }
    let (t0, v0) = seg[0];
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(Sums::default());
    for &(t, v) in seg {
        let last = prefix[prefix.len() - 1];
        prefix.push(last.add(t - t0, v - v0));
    }
    let all = prefix[n];
    // A floor on the residuals, so noiseless data does not split on
    // rounding.
    let floor = 1e-12 * (all.vv - all.v * all.v / all.n).abs() + f64::MIN_POSITIVE;
    let one = all.rss().max(floor);
    let mut best: Option<(usize, f64)> = None;
    for (k, head) in prefix.iter().enumerate().take(n - NEWEST + 1).skip(min_old) {
        let two = (head.rss() + all.minus(*head).rss()).max(floor);
        if best.is_none_or(|b| two < b.1) {
            best = Some((k, two));
        }
    }
    let (k, two) = best?;
    let nf = n as f64;
    (nf * (one / two).ln() > 3.0 * nf.ln()).then_some(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Free space running out to 0, alerting 4 hours ahead.
    fn free_space_4h() -> ExhaustConfig {
        ExhaustConfig {
            limit: 0.0,
            trend: Trend::Leaking,
            horizon_ms: 4 * 3_600_000,
            ..Default::default()
        }
    }

    #[test]
    fn leaking_with_spikes() {
        // free memory falls 10 MB/min from 1000, with a few wild spikes
        let ts: Vec<i64> = (0..100).map(|i| i * 60_000).collect();
        let v: Vec<f64> = (0..100)
            .map(|i| {
                if i % 17 == 0 {
                    5000.0
                } else {
                    1000.0 - 10.0 * i as f64 + (i % 3) as f64
                }
            })
            .collect();
        let cfg = ExhaustConfig {
            limit: 0.0,
            trend: Trend::Leaking,
            horizon_ms: 3_600_000,
            ..Default::default()
        };
        let p = predict(&ts, &v, &cfg).unwrap().unwrap();
        assert!((p.slope_per_s * 60.0 + 10.0).abs() < 0.2, "{p:?}");
        // at minute 99 about 10 MB left: ~1 minute
        assert!(p.eta_ms < 3 * 60_000, "{p:?}");
        assert!(p.alert);
    }

    #[test]
    fn flat_or_wrong_way_predicts_nothing() {
        let ts: Vec<i64> = (0..50).map(|i| i * 1000).collect();
        let flat: Vec<f64> = (0..50).map(|i| 40.0 + (i % 2) as f64).collect();
        assert_eq!(
            predict(&ts, &flat, &ExhaustConfig::default()).unwrap(),
            None
        );
        let falling: Vec<f64> = (0..50).map(|i| 90.0 - i as f64).collect();
        assert_eq!(
            predict(&ts, &falling, &ExhaustConfig::default()).unwrap(),
            None
        );
        assert_eq!(
            predict(&ts[..3], &falling[..3], &ExhaustConfig::default()).unwrap(),
            None
        );
        assert!(predict(&ts, &falling[..3], &ExhaustConfig::default()).is_err());
    }

    #[test]
    fn the_trend_is_read_from_the_regime_since_the_last_change() {
        // 8 GB free and steady for 45 minutes, then a writer takes 100 MB a
        // minute: 15 minutes in, the hour's trend is still mostly flat, the
        // new regime's is not.
        let ts: Vec<i64> = (0..60).map(|i| i * 60_000).collect();
        let wobble = |i: i64| ((i * 37) % 11 - 5) as f64 * 4e6;
        let v: Vec<f64> = (0..60)
            .map(|i| 8e9 - 1e8 * (i - 45).max(0) as f64 + wobble(i))
            .collect();
        let cfg = free_space_4h();
        let p = predict(&ts, &v, &cfg).unwrap().unwrap();
        assert!((p.slope_per_s * 60.0 / 1e8 + 1.0).abs() < 0.05, "{p:?}");
        // 6.6 GB left at 100 MB a minute: about 66 minutes.
        assert!((p.eta_ms / 60_000 - 66).abs() <= 2, "{p:?}");
        assert!(p.alert);
        // A temporary file three minutes old is a step, not a trend: the
        // whole window is read, and it shows none.
        let step: Vec<f64> = (0..60)
            .map(|i| 8e9 - if i >= 57 { 4e9 } else { 0.0 } + wobble(i))
            .collect();
        assert_eq!(predict(&ts, &step, &cfg).unwrap(), None);
    }

    #[test]
    fn a_churning_spool_is_read_over_the_whole_window() {
        // 4 GB free; a spool takes 0.8 GB over 12 minutes and is emptied at
        // once, again and again. Its last falling minutes are no trend.
        let ts: Vec<i64> = (0..60).map(|i| i * 60_000).collect();
        let v: Vec<f64> = (0..60)
            .map(|i| 4e9 - 0.8e9 * (i % 12) as f64 / 12.0 + ((i * 37) % 11) as f64 * 1e6)
            .collect();
        let cfg = free_space_4h();
        // The window ends 11 minutes into a fall: read alone, 0.73 GB in 11
        // minutes would empty the disk in about 50 minutes.
        assert!(
            predict(&ts, &v, &cfg).unwrap().is_none_or(|p| !p.alert),
            "{:?}",
            predict(&ts, &v, &cfg)
        );
    }

    #[test]
    fn a_release_is_no_new_regime() {
        // 4.7 GB free; a spool takes 1 GB over 11.4 minutes and is emptied,
        // with ±50 MB of noise: five releases an hour. The minutes since the
        // last release are the steepest of the saw-tooth, and the minutes
        // before it may be too rough to split into lines of their own, so
        // only the direction of the last split (away from the limit) tells a
        // release from a runaway writer.
        let noise = |i: i64| (((i * 7919 + 13) % 101) as f64 / 100.0 - 0.5) * 1e8;
        let free = |m: i64| 4.73e9 - 0.98e9 * (m as f64 / 11.39).fract() + noise(m);
        let cfg = free_space_4h();
        for end in (60..300).step_by(5) {
            let ts: Vec<i64> = (end - 59..=end).map(|m| m * 60_000).collect();
            let v: Vec<f64> = (end - 59..=end).map(free).collect();
            let p = predict(&ts, &v, &cfg).unwrap();
            assert!(
                p.is_none_or(|p| !p.alert),
                "window ending at minute {end}: {p:?}"
            );
        }
    }

    #[test]
    fn capacity_given_back_counts_at_once() {
        // Logs take 1 GB an hour from 4 GB free and are rotated back to
        // 6 GB: one minute and five minutes after the rotation, the level is
        // 6 GB (6 hours at that rate), not the 3 GB the hour's line ends at.
        let ts: Vec<i64> = (0..60).map(|i| i * 60_000).collect();
        let wobble = |i: i64| ((i * 37) % 11 - 5) as f64 * 4e6;
        let cfg = free_space_4h();
        for fresh in [1, 5] {
            let v: Vec<f64> = (0..60)
                .map(|i| {
                    let from_rotation = i - (60 - fresh);
                    let level = if from_rotation >= 0 {
                        6e9 - from_rotation as f64 * 1e9 / 60.0
                    } else {
                        4e9 - i as f64 * 1e9 / 60.0
                    };
                    level + wobble(i)
                })
                .collect();
            let p = predict(&ts, &v, &cfg).unwrap().unwrap();
            assert!(!p.alert, "{fresh} minutes after: {p:?}");
            assert!((p.current - 6e9).abs() < 1e8, "{p:?}");
            assert!((p.eta_ms / 60_000 - 360).abs() <= 15, "{p:?}");
        }
        // Without the rotation the same hour ends at 3 GB: an alert.
        let v: Vec<f64> = (0..60)
            .map(|i| 4e9 - i as f64 * 1e9 / 60.0 + wobble(i))
            .collect();
        let p = predict(&ts, &v, &cfg).unwrap().unwrap();
        assert!(p.alert && (p.current - 3.02e9).abs() < 1e8, "{p:?}");
        // A filling resource gives back by falling: memory freed by a
        // restart two minutes ago.
        let cfg = ExhaustConfig {
            limit: 100.0,
            trend: Trend::Filling,
            horizon_ms: 4 * 3_600_000,
            ..Default::default()
        };
        let leak = |i: i64| 60.0 + i as f64 * 0.25 + wobble(i) / 1e9;
        let v: Vec<f64> = (0..60).map(leak).collect();
        let p = predict(&ts, &v, &cfg).unwrap().unwrap();
        assert!(p.alert, "{p:?}");
        let v: Vec<f64> = (0..60)
            .map(|i| {
                if i >= 58 {
                    30.0 + (i - 58) as f64 * 0.25
                } else {
                    leak(i)
                }
            })
            .collect();
        let p = predict(&ts, &v, &cfg).unwrap().unwrap();
        assert!((p.current - 30.25).abs() < 0.5 && !p.alert, "{p:?}");
    }

    #[test]
    fn far_future_does_not_alert() {
        let ts: Vec<i64> = (0..50).map(|i| i * 60_000).collect();
        let v: Vec<f64> = (0..50).map(|i| 10.0 + 0.001 * i as f64).collect();
        let p = predict(&ts, &v, &ExhaustConfig::default())
            .unwrap()
            .unwrap();
        assert!(!p.alert && p.eta_ms > 86_400_000);
    }
}
