//! Acceptance: a synthetic, seeded calendar series (8 weeks of minute data,
//! 2023-12-25 … 2024-02-18 UTC) with workday and weekend shapes, a
//! month-start surge, and injected drops and spikes. Models train on weeks
//! 1–4 (as the live path would, through `train`) and then stream weeks 5–8
//! through `SeriesDetector`, kind `business_volume`.
//!
//! - DataCluster must catch every injected drop in weeks 5–8 and raise no
//!   alert on weekends or on the month-start days (2024-02-01/02).
//! - The MA-only baseline, which has no calendar, does alert there.

use std::sync::Arc;

use argus_detect::baseline::calendar::{civil, days_from_civil, weekday, DAY_MS};
use argus_detect::detector::SeriesDetector;
use argus_detect::spec::{Algorithm, RuleSpec};
use argus_detect::train::{train, TrainInput};
use argus_model::SplitMix64;

const MIN: i64 = 60_000;

/// Uniform in `(0, 1)` (never 0, for the logarithm below).
fn open_unit(r: &mut SplitMix64) -> f64 {
    ((r.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// Standard normal (Box–Muller).
fn gauss(r: &mut SplitMix64) -> f64 {
    let (u, v) = (open_unit(r), open_unit(r));
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// A plateau `from_h..to_h` at `high` over a floor of 100, with 15-minute ramps.
fn plateau(minute_of_day: i64, from_h: i64, to_h: i64, high: f64) -> f64 {
    let m = minute_of_day as f64;
    let (a, b) = ((from_h * 60) as f64, (to_h * 60) as f64);
    let up = ((m - a) / 15.0).clamp(0.0, 1.0);
    let down = ((b - m) / 15.0).clamp(0.0, 1.0);
    100.0 + (high - 100.0) * up.min(down)
}

fn shape(ts: i64) -> f64 {
    let mod_min = ts.rem_euclid(DAY_MS) / MIN;
    let (_, _, d) = civil(ts, 0);
    if d <= 2 {
        plateau(mod_min, 9, 17, 800.0) // month-start surge
    } else if weekday(ts, 0) >= 5 {
        plateau(mod_min, 10, 14, 250.0) // weekend
    } else {
        plateau(mod_min, 9, 17, 400.0) // workday
    }
}

struct Injection {
    start: i64,
    minutes: i64,
    factor: f64,
}

fn at(y: i32, m: u32, d: u32, h: i64, min: i64) -> i64 {
    days_from_civil(y, m, d) * DAY_MS + h * 3_600_000 + min * MIN
}

fn build() -> (Vec<i64>, Vec<f64>, Vec<Injection>, Vec<Injection>) {
    let start = at(2023, 12, 25, 0, 0);
    let n = 56 * 1440;
    let mut rng = SplitMix64::new(0x5EED_0002);
    let ts: Vec<i64> = (0..n).map(|i| start + i * MIN).collect();
    let mut v: Vec<f64> = ts
        .iter()
        .map(|&t| {
            let s = shape(t);
            (s * (1.0 + 0.03 * gauss(&mut rng)) + 5.0 * gauss(&mut rng)).max(0.0)
        })
        .collect();
    // drops: two in the training half (robustness), eight in the test half
    let drops = vec![
        Injection {
            start: at(2024, 1, 4, 11, 0),
            minutes: 30,
            factor: 0.3,
        },
        Injection {
            start: at(2024, 1, 16, 14, 0),
            minutes: 20,
            factor: 0.5,
        },
        Injection {
            start: at(2024, 1, 23, 11, 0),
            minutes: 20,
            factor: 0.4,
        },
        Injection {
            start: at(2024, 1, 25, 15, 30),
            minutes: 10,
            factor: 0.5,
        },
        Injection {
            start: at(2024, 1, 28, 11, 0),
            minutes: 20,
            factor: 0.3,
        }, // Sunday
        Injection {
            start: at(2024, 1, 31, 3, 0),
            minutes: 30,
            factor: 0.0,
        }, // night outage
        Injection {
            start: at(2024, 2, 1, 11, 0),
            minutes: 20,
            factor: 0.4,
        }, // month start
        Injection {
            start: at(2024, 2, 7, 10, 0),
            minutes: 15,
            factor: 0.4,
        },
        Injection {
            start: at(2024, 2, 13, 16, 0),
            minutes: 20,
            factor: 0.5,
        },
        Injection {
            start: at(2024, 2, 15, 12, 0),
            minutes: 45,
            factor: 0.5,
        },
    ];
    let spikes = vec![
        Injection {
            start: at(2024, 1, 24, 12, 0),
            minutes: 10,
            factor: 2.5,
        },
        Injection {
            start: at(2024, 2, 10, 11, 0),
            minutes: 10,
            factor: 3.0,
        },
        Injection {
            start: at(2024, 2, 14, 2, 0),
            minutes: 10,
            factor: 4.0,
        },
    ];
    for inj in drops.iter().chain(&spikes) {
        let i0 = ((inj.start - start) / MIN) as usize;
        for x in &mut v[i0..i0 + inj.minutes as usize] {
            *x *= inj.factor;
        }
    }
    (ts, v, drops, spikes)
}

/// Alert events: runs of level ≥ 1, merging gaps up to 5 minutes.
fn events(ts: &[i64], levels: &[u8]) -> Vec<(i64, i64)> {
    let mut ev: Vec<(i64, i64)> = Vec::new();
    for (t, l) in ts.iter().zip(levels) {
        if *l == 0 {
            continue;
        }
        match ev.last_mut() {
            Some(last) if *t - last.1 <= 5 * MIN => last.1 = *t,
            _ => ev.push((*t, *t)),
        }
    }
    ev
}

#[derive(Debug, Default, PartialEq)]
struct Tally {
    drops_caught: usize,
    drops_total: usize,
    weekend_fp: usize,
    month_start_fp: usize,
    other_fp: usize,
}

fn run(algorithm: Algorithm) -> (Tally, Algorithm) {
    let (ts, v, drops, _spikes) = build();
    let split = 28 * 1440;
    // Calendar declared by the rule: month start matters, month end does not here.
    let spec = Arc::new(RuleSpec {
        kind: "business_volume".parse().unwrap(),
        period: "month".parse().unwrap(),
        algorithm,
        month_end_days: 0,
        ..Default::default()
    });
    let out = train(
        &spec,
        &TrainInput {
            ts: &ts[..split],
            values: &v[..split],
            flagged: None,
        },
        None,
        ts[split],
        &mut |_| {},
    )
    .unwrap();
    let used = out.active().algorithm;
    let mut det = SeriesDetector::new(spec).unwrap();
    det.install(Arc::new(out.active().clone()));
    let levels: Vec<u8> = (split..ts.len())
        .map(|i| det.observe(ts[i], v[i]).unwrap().level)
        .collect();
    let test_ts = &ts[split..];
    let ev = events(test_ts, &levels);
    let mut tally = Tally::default();
    let in_drop = |s: i64, e: i64| {
        drops
            .iter()
            .any(|d| s <= d.start + d.minutes * MIN + 5 * MIN && e >= d.start)
    };
    for d in drops.iter().filter(|d| d.start >= ts[split]) {
        tally.drops_total += 1;
        if ev
            .iter()
            .any(|&(s, e)| s <= d.start + d.minutes * MIN && e >= d.start)
        {
            tally.drops_caught += 1;
        }
    }
    for &(s, e) in &ev {
        if in_drop(s, e) {
            continue;
        }
        if civil(s, 0).2 <= 2 {
            tally.month_start_fp += 1;
        } else if weekday(s, 0) >= 5 {
            tally.weekend_fp += 1;
        } else {
            tally.other_fp += 1;
        }
    }
    (tally, used)
}

#[test]
fn data_cluster_catches_drops_without_calendar_false_alarms() {
    let (t, used) = run(Algorithm::DataCluster);
    println!("data_cluster: {t:?}");
    assert_eq!(used, Algorithm::DataCluster);
    assert_eq!(t.drops_total, 8);
    assert_eq!(t.drops_caught, 8, "{t:?}");
    assert_eq!(t.weekend_fp, 0, "{t:?}");
    assert_eq!(t.month_start_fp, 0, "{t:?}");
    assert!(t.other_fp <= 2, "{t:?}");
}

#[test]
fn ma_only_alerts_on_weekends_and_month_start() {
    let (t, used) = run(Algorithm::Ma);
    println!("ma: {t:?}");
    assert_eq!(used, Algorithm::Ma);
    assert!(t.weekend_fp >= 4, "MA alerts on weekends: {t:?}");
    assert!(
        t.month_start_fp >= 1,
        "MA alerts on the month-start surge: {t:?}"
    );
}

#[test]
fn backtest_prefers_a_calendar_aware_model() {
    let (t, used) = run(Algorithm::Auto);
    println!("auto picked {used:?}: {t:?}");
    assert_ne!(used, Algorithm::Ma);
    assert_eq!(t.drops_caught, t.drops_total, "{t:?}");
}
