use super::*;
use crate::train::{train, TrainInput};

fn spec(json: &str) -> Arc<RuleSpec> {
    Arc::new(serde_json::from_str(json).unwrap())
}

fn warm(d: &mut SeriesDetector, n: i64) {
    for i in 0..n {
        d.observe(i * 60_000, 100.0 + (i % 7) as f64).unwrap();
    }
}

#[test]
fn directions_by_kind() {
    for (kind, below_alerts, above_alerts) in [
        ("business_volume", true, false),
        ("error_count", false, true),
        ("latency", false, true),
        ("resource", true, true),
    ] {
        let mut d = SeriesDetector::new(spec(&format!(r#"{{"kind":"{kind}"}}"#))).unwrap();
        warm(&mut d, 64);
        let lo = d.observe(64 * 60_000, 10.0).unwrap();
        let mut d2 = d.clone();
        let hi = d2.observe(64 * 60_000, 1000.0).unwrap();
        assert_eq!(lo.level > 0, below_alerts, "{kind} below");
        assert_eq!(hi.level > 0, above_alerts, "{kind} above");
        assert_eq!(lo.side, Side::Below);
        assert_eq!(hi.side, Side::Above);
        if !above_alerts {
            assert_eq!(hi.score, 1.0, "ignored side capped");
        }
    }
    // direction override
    let mut d = SeriesDetector::new(spec(r#"{"kind":"resource","direction":"down"}"#)).unwrap();
    warm(&mut d, 64);
    assert_eq!(d.observe(64 * 60_000, 1000.0).unwrap().level, 0);
}

#[test]
fn saturation_rises_and_capacity() {
    // cold-start band around ~100; capacity 150 → 70 % = 105
    let mut d = SeriesDetector::new(spec(r#"{"kind":"saturation","capacity":150}"#)).unwrap();
    warm(&mut d, 64);
    let t0 = 74 * 60_000; // the warm-up's rises are out of the 5-minute window
                          // Two rises within five minutes, above the band and above 70 % capacity.
    d.observe(t0, 100.0).unwrap();
    let v1 = d.observe(t0 + 10_000, 160.0).unwrap();
    let v2 = d.observe(t0 + 20_000, 170.0).unwrap();
    assert_eq!(v1.side, Side::Above);
    assert_eq!(v2.level, 3, "≥ 2 rises above 70 % of capacity: {v2:?}");
    // Below the lower bound: never.
    assert_eq!(d.observe(t0 + 30_000, 1.0).unwrap().level, 0);

    // Without capacity: 1 rise → 1, 4 rises → 2, 6 rises → 3.
    let mut d = SeriesDetector::new(spec(r#"{"kind":"saturation"}"#)).unwrap();
    warm(&mut d, 64);
    let t0 = 74 * 60_000; // the warm-up's rises are out of the 5-minute window
    d.observe(t0, 100.0).unwrap();
    let levels: Vec<u8> = (1..=6)
        .map(|k| d.observe(t0 + k * 10_000, 200.0 + k as f64).unwrap().level)
        .collect();
    assert_eq!(levels, vec![1, 1, 1, 2, 2, 3]);
}

#[test]
fn explanation_after_training_and_bad_input() {
    let s = spec(r#"{"kind":"latency","min_points":500,"period":"none"}"#);
    let mut d = SeriesDetector::new(s.clone()).unwrap();
    assert!(d.observe(0, f64::NAN).is_err());
    let ts: Vec<i64> = (0..600).map(|i| i * 60_000).collect();
    let v: Vec<f64> = (0..600).map(|i| 50.0 + (i % 4) as f64).collect();
    for (t, x) in ts.iter().zip(&v) {
        let verdict = d.observe(*t, *x).unwrap();
        assert!(verdict.cold_start);
    }
    assert!(d.needs_training());
    assert!(d.observe(0, 1.0).is_err(), "older sample rejected");
    let out = train(
        &s,
        &TrainInput {
            ts: &ts,
            values: &v,
            flagged: None,
        },
        None,
        7,
        &mut |_| {},
    )
    .unwrap();
    d.install(Arc::new(out.active().clone()));
    assert!(!d.needs_training());
    let verdict = d.observe(600 * 60_000, 500.0).unwrap();
    assert!(!verdict.cold_start);
    assert_eq!(verdict.model_version, 1);
    assert_eq!(verdict.training_window, Some((0, 599 * 60_000)));
    assert_ne!(verdict.algorithm, Algorithm::ColdStart);
    assert_eq!(verdict.level, 4);
    assert!(verdict.score > 1.0 && verdict.n > 0.7);
    let normal = d.observe(601 * 60_000, 51.5).unwrap();
    assert_eq!(normal.level, 0);
    assert!(normal.score <= 1.0);
}

#[test]
fn state_is_small_and_roundtrips() {
    assert!(
        std::mem::size_of::<DetectorState>() <= 512,
        "{}",
        std::mem::size_of::<DetectorState>()
    );
    let mut d = SeriesDetector::new(spec("{}")).unwrap();
    warm(&mut d, 10);
    let json = serde_json::to_string(d.state()).unwrap();
    let back: DetectorState = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, d.state());
}

/// One-minute samples of 100 ± 3 (deterministic).
fn quiet(i: i64) -> f64 {
    100.0 + ((i * 7919) % 13) as f64 * 0.5 - 3.0
}

#[test]
fn the_anomaly_layer_reports_what_the_standalone_scorer_reports() {
    use crate::anomaly::{AnomalyConfig, AnomalyScorer};
    let mut d = SeriesDetector::new(spec(r#"{"kind":"resource","anomaly":{}}"#)).unwrap();
    let mut s = AnomalyScorer::new(AnomalyConfig::default());
    for i in 0..3000i64 {
        let v = if i % 997 == 500 { 300.0 } else { quiet(i) };
        let got = d.observe(i * 60_000, v).unwrap().anomaly;
        assert_eq!(got, Some(s.update(i * 60, v)), "sample {i}");
    }
    // Without the section there is no scorer and no score.
    let mut plain = SeriesDetector::new(spec(r#"{"kind":"resource"}"#)).unwrap();
    let v = plain.observe(0, 1.0).unwrap();
    assert_eq!((v.anomaly, v.anomaly_active), (None, false));
}

#[test]
fn an_anomaly_holds_level_one_for_the_hold_then_lets_go() {
    let mut d = SeriesDetector::new(spec(
        r#"{"kind":"resource","anomaly":{},"anomaly_hold_minutes":5}"#,
    ))
    .unwrap();
    for i in 0..2000 {
        let v = d.observe(i * 60_000, quiet(i)).unwrap();
        assert!(!v.anomaly_active && v.level == 0, "sample {i}: {v:?}");
    }
    let spike = d.observe(2000 * 60_000, 300.0).unwrap();
    assert!(spike.anomaly_active && spike.level >= 1, "{spike:?}");
    assert!(spike.anomaly.unwrap() >= 0.5);
    // Normal samples inside the band: level 1 for five minutes, then 0.
    let after: Vec<(bool, u8)> = (2001..2010)
        .map(|i| {
            let v = d.observe(i * 60_000, quiet(i)).unwrap();
            (v.anomaly_active, v.level)
        })
        .collect();
    assert_eq!(after[..5], [(true, 1); 5], "{after:?}");
    assert_eq!(after[5..], [(false, 0); 4], "{after:?}");
}

#[test]
fn the_anomaly_layer_respects_the_kinds_direction() {
    let run = |kind: &str, v: f64| {
        let mut d =
            SeriesDetector::new(spec(&format!(r#"{{"kind":"{kind}","anomaly":{{}}}}"#))).unwrap();
        for i in 0..2000 {
            d.observe(i * 60_000, quiet(i)).unwrap();
        }
        d.observe(2000 * 60_000, v).unwrap()
    };
    // Business volume: a surge is normal (the scorer reports it, no level);
    // a collapse alerts.
    let surge = run("business_volume", 300.0);
    assert!(surge.anomaly.unwrap() >= 0.5, "{surge:?}");
    assert!(!surge.anomaly_active && surge.level == 0, "{surge:?}");
    let collapse = run("business_volume", 5.0);
    assert!(
        collapse.anomaly_active && collapse.level >= 1,
        "{collapse:?}"
    );
    // Error counts alert on the surge.
    let errors = run("error_count", 300.0);
    assert!(errors.anomaly_active && errors.level >= 1, "{errors:?}");
}

#[test]
fn a_bad_anomaly_key_is_refused_by_name() {
    let s: RuleSpec = serde_json::from_str(r#"{"anomaly":{"fire_z":-1}}"#).unwrap();
    let e = SeriesDetector::new(Arc::new(s)).unwrap_err().to_string();
    assert!(e.contains("anomaly.fire_z"), "{e}");
    assert!(serde_json::from_str::<RuleSpec>(r#"{"anomaly":{"fire":6}}"#).is_err());
    let s: RuleSpec = serde_json::from_str(r#"{"anomaly":{"season_slots":4000000000}}"#).unwrap();
    let e = s.validate().unwrap_err().to_string();
    assert!(e.contains("anomaly.season_slots"), "{e}");
    let s: RuleSpec = serde_json::from_str(r#"{"anomaly_hold_minutes":2000}"#).unwrap();
    assert!(s
        .validate()
        .unwrap_err()
        .to_string()
        .contains("anomaly_hold_minutes"));
}
