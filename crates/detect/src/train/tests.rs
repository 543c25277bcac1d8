use super::*;
use crate::period::{PeriodSpec, DAY_MS};

fn noise(seed: &mut u64) -> f64 {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    ((*seed >> 11) as f64 / (1u64 << 53) as f64) - 0.5
}

/// `days` of minute data: a daily bump (100 by night, 200 by day) plus noise.
fn daily(days: i64, seed: u64) -> (Vec<i64>, Vec<f64>) {
    let mut s = seed;
    let ts: Vec<i64> = (0..days * 1440).map(|i| i * 60_000).collect();
    let v = ts
        .iter()
        .map(|&t| {
            let h = (t % DAY_MS) as f64 / 3_600_000.0;
            let bump = if (8.0..20.0).contains(&h) { 100.0 } else { 0.0 };
            100.0 + bump + 10.0 * noise(&mut s)
        })
        .collect();
    (ts, v)
}

fn spec() -> RuleSpec {
    RuleSpec {
        min_points: 1000,
        ..Default::default()
    }
}

#[test]
fn backtest_picks_a_seasonal_model_for_a_daily_series() {
    let (ts, v) = daily(7, 1);
    let mut steps = Vec::new();
    let out = train(
        &spec(),
        &TrainInput {
            ts: &ts,
            values: &v,
            flagged: None,
        },
        None,
        42,
        &mut |p| steps.push(p),
    )
    .unwrap();
    let m = out.active();
    assert_eq!(m.period.ms, DAY_MS, "period detected");
    assert_ne!(m.algorithm, Algorithm::Ma, "{:?}", m.score);
    assert!(m.score.coverage > 0.95, "{:?}", m.score);
    assert_eq!(m.window, (ts[0], ts[ts.len() - 1]));
    assert_eq!(m.trained_at_ms, 42);
    assert_eq!(steps.len(), 7, "4 candidates + fit + compare + done");
    assert_eq!(steps.last().map(|p| p.done == p.total), Some(true));
    // MA alone scores worse on this series
    let ma = RuleSpec {
        algorithm: Algorithm::Ma,
        ..spec()
    };
    let out_ma = train(
        &ma,
        &TrainInput {
            ts: &ts,
            values: &v,
            flagged: None,
        },
        None,
        0,
        &mut |_| {},
    )
    .unwrap();
    assert!(out_ma.active().score.interval_score > m.score.interval_score);
}

#[test]
fn retraining_inherits_flags_incidents_and_keeps_both_versions() {
    let (ts, v) = daily(7, 2);
    let input = TrainInput {
        ts: &ts,
        values: &v,
        flagged: None,
    };
    let first = train(&spec(), &input, None, 0, &mut |_| {}).unwrap();
    let m1 = first.active().clone();
    // Next week: same pattern, with a 3-hour outage (value 0) on day 2.
    let (ts2, mut v2) = daily(7, 3);
    let ts2: Vec<i64> = ts2.iter().map(|t| t + 7 * DAY_MS).collect();
    for x in v2.iter_mut().skip(2 * 1440 + 600).take(180) {
        *x = 0.0;
    }
    let mut all_ts = ts.clone();
    all_ts.extend(&ts2);
    let mut all_v = v.clone();
    all_v.extend(&v2);
    let out = train(
        &spec(),
        &TrainInput {
            ts: &all_ts,
            values: &all_v,
            flagged: None,
        },
        Some(&m1),
        1,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(out.candidate.version, 2);
    assert_eq!(out.candidate.algorithm, m1.algorithm, "algorithm inherited");
    assert!(
        out.candidate.flagged >= 170,
        "outage flagged: {}",
        out.candidate.flagged
    );
    let prev = out.previous.as_ref().unwrap();
    assert_eq!(prev.version, 1);
    assert!(
        prev.score.points > 0,
        "previous rescored on the same holdout"
    );
    // The outage did not become normal: 10:00–13:00 on a weekday is still ~200.
    let cand = &out.candidate.model;
    let b = cand.band(15 * DAY_MS + 11 * 3_600_000, &cand.initial_state());
    assert!(b.lower > 120.0, "{b:?}");
}

#[test]
fn a_worse_candidate_does_not_replace() {
    let (ts, v) = daily(7, 4);
    let input = TrainInput {
        ts: &ts,
        values: &v,
        flagged: None,
    };
    let first = train(&spec(), &input, None, 0, &mut |_| {}).unwrap();
    let good = first.active().clone();
    // Retrain on pure noise around a different level with a tiny window
    // declared: the candidate is scored on its own holdout, the old one too.
    let bad_v: Vec<f64> = v.iter().map(|x| x * 3.0).collect();
    let out = train(
        &spec(),
        &TrainInput {
            ts: &ts,
            values: &bad_v,
            flagged: None,
        },
        Some(&good),
        0,
        &mut |_| {},
    )
    .unwrap();
    // The old model is far off the tripled data: the candidate wins.
    assert!(out.replaced);
    assert!(
        out.candidate.score.interval_score < out.previous.as_ref().unwrap().score.interval_score
    );
    // Same data again: the old model (trained on it) is not beaten by much;
    // the decision follows the scores either way.
    let again = train(&spec(), &input, Some(&good), 0, &mut |_| {}).unwrap();
    let p = again.previous.as_ref().unwrap();
    assert_eq!(
        again.replaced,
        again.candidate.score.interval_score < p.score.interval_score
    );
    assert_eq!(again.active().version, if again.replaced { 2 } else { 1 });
}

#[test]
fn bad_input_is_an_error_naming_the_index() {
    let ts = vec![0, 1, 2, 2];
    let v = vec![1.0; 4];
    let e = train(
        &spec(),
        &TrainInput {
            ts: &ts,
            values: &v,
            flagged: None,
        },
        None,
        0,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("index 3"), "{e}");
    let e = train(
        &spec(),
        &TrainInput {
            ts: &ts,
            values: &v[..2],
            flagged: None,
        },
        None,
        0,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("lengths"), "{e}");
}

#[test]
fn declared_period_and_algorithm_are_used_and_models_roundtrip() {
    let (ts, v) = daily(4, 5);
    let s = RuleSpec {
        period: PeriodSpec::Day,
        algorithm: Algorithm::Kde,
        ..spec()
    };
    let out = train(
        &s,
        &TrainInput {
            ts: &ts,
            values: &v,
            flagged: None,
        },
        None,
        0,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(out.active().algorithm, Algorithm::Kde);
    assert!(!out.active().period.detected);
    let json = serde_json::to_string(&out).unwrap();
    let back: TrainOutcome = serde_json::from_str(&json).unwrap();
    assert_eq!(back, out);
}
