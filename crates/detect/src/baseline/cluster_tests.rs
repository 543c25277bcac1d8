//! Unit tests of [`ClusterModel`].

use super::super::calendar::days_from_civil;
use super::*;

fn noon() -> i64 {
    12 * 3_600_000
}

fn cal(month_start_days: u32, special: Vec<i64>) -> CalendarSpec {
    CalendarSpec {
        utc_offset_min: 0,
        month_start_days,
        month_end_days: 0,
        special_days: special,
    }
}

/// Workdays 100 (+ a little noise), weekends 20; a month start at
/// `ms_factor` of its weekday.
fn series(c: &CalendarSpec, start: i64, days: i64, ms_factor: f64) -> (Vec<i64>, Vec<f64>) {
    let ts: Vec<i64> = (0..days * 96).map(|i| start + i * 900_000).collect();
    let v = ts
        .iter()
        .map(|&t| {
            let dn = t.div_euclid(DAY_MS);
            let base = if weekday_of(dn) == DayClass::Workday {
                100.0 + (t / 900_000 % 5) as f64
            } else {
                20.0 + (t / 900_000 % 3) as f64
            };
            if c.class_of(t) == DayClass::MonthStart {
                base * ms_factor
            } else {
                base
            }
        })
        .collect();
    (ts, v)
}

#[test]
fn alike_classes_merge_and_month_starts_are_factors() {
    let c = cal(1, vec![]);
    let start = days_from_civil(2024, 1, 1) * DAY_MS; // a Monday and a month start
    let (ts, v) = series(&c, start, 21, 1.5);
    let data = TrainData::new(&ts, &v, &[1.0; 21 * 96]);
    let m = ClusterModel::fit(&data, c, 1, 0.5, &BandConfig::default());
    assert_eq!(m.clusters(), vec![DayClass::Workday, DayClass::Weekend]);
    assert_eq!(
        m.merged,
        vec![DayClass::Sunday],
        "Sundays are like Saturdays"
    );
    assert_eq!(m.factors.len(), 1);
    assert!((m.factors[0].ratio_at(noon()).unwrap() - 1.5).abs() < 0.05);
    // 2024-06-01 is a Saturday and a month start: a Saturday's volume × 1.5.
    let st = m.initial_state();
    let sat = days_from_civil(2024, 6, 1) * DAY_MS + 12 * 3_600_000;
    let b = m.band(sat, &st);
    assert!((b.expected - 30.0).abs() < 2.0, "{b:?}");
}

#[test]
fn unseen_days_get_the_envelope_or_a_sunday_and_retraining_inherits() {
    let holiday = days_from_civil(2024, 3, 13); // a Wednesday
    let c = cal(1, vec![holiday]);
    // Two weeks from 2024-01-08: no month start, no holiday seen.
    let start = days_from_civil(2024, 1, 8) * DAY_MS;
    let (ts, v) = series(&c, start, 14, 0.6);
    let data = TrainData::new(&ts, &v, &[1.0; 14 * 96]);
    let m = ClusterModel::fit(&data, c.clone(), 1, 0.5, &BandConfig::default());
    assert!(m.factors.is_empty());
    let st = m.initial_state();
    let noon = 12 * 3_600_000;
    // A month start never seen: any level seen on any day is inside.
    let b = m.band(days_from_civil(2024, 2, 1) * DAY_MS + noon, &st);
    assert!(b.lower < 20.0 && b.upper > 100.0, "{b:?}");
    // A holiday never seen is taken for a Sunday.
    let b = m.band(holiday * DAY_MS + noon, &st);
    assert!((b.expected - 21.0).abs() < 2.0, "{b:?}");
    // Trained over a month start, then retrained on a window without
    // one: the factor is kept.
    let start2 = days_from_civil(2024, 1, 25) * DAY_MS;
    let (ts2, v2) = series(&c, start2, 14, 0.6);
    let first = ClusterModel::fit(
        &TrainData::new(&ts2, &v2, &[1.0; 14 * 96]),
        c.clone(),
        1,
        0.5,
        &BandConfig::default(),
    );
    assert!(
        (first.factors[0].ratio_at(noon).unwrap() - 0.6).abs() < 0.05,
        "{:?}",
        first.factors
    );
    let mut again = m.clone();
    again.inherit(&first, 1);
    assert_eq!(again.inherited, vec![DayClass::MonthStart]);
    let b = again.band(days_from_civil(2024, 3, 1) * DAY_MS + noon, &st); // a Friday
    assert!((b.expected - 61.0).abs() < 3.0, "{b:?}");
    assert!(b.lower > 30.0, "a drop to half of it departs: {b:?}");
}

/// One incident on the only Sunday of a window, flagged by the previous
/// model, does not become the Sunday profile on retraining.
#[test]
fn an_incident_on_the_only_sunday_keeps_the_previous_phase() {
    let c = cal(0, vec![]);
    let cfg = BandConfig::default();
    let (ts, v) = series(&c, days_from_civil(2024, 1, 1) * DAY_MS, 14, 1.0);
    let first = ClusterModel::fit(
        &TrainData::new(&ts, &v, &vec![1.0; ts.len()]),
        c.clone(),
        2,
        0.5,
        &cfg,
    );
    // A week from Monday 2024-01-15: its only Sunday falls to 5 from 12:00
    // to 14:00, and the previous model flagged those points.
    let (ts, mut v) = series(&c, days_from_civil(2024, 1, 15) * DAY_MS, 7, 1.0);
    let sunday = days_from_civil(2024, 1, 21) * DAY_MS;
    let mut w = vec![1.0; ts.len()];
    for i in 0..ts.len() {
        if (sunday + 12 * 3_600_000..sunday + 14 * 3_600_000).contains(&ts[i]) {
            v[i] = 5.0;
            w[i] = 0.02;
        }
    }
    let data = TrainData::new(&ts, &v, &w);
    let st = first.initial_state();
    let next_sunday_13h = days_from_civil(2024, 1, 28) * DAY_MS + 13 * 3_600_000;
    let alone = ClusterModel::fit(&data, c.clone(), 2, 0.5, &cfg);
    assert!(
        alone.band(next_sunday_13h, &st).expected < 10.0,
        "without a previous model the incident is all there is"
    );
    let m = ClusterModel::fit_after(&data, c, 2, 0.5, &cfg, Some(&first));
    let b = m.band(next_sunday_13h, &st);
    assert!((b.expected - 21.0).abs() < 2.0, "{b:?}");
}

/// A month start seen only from midnight to 06:00 gives a share for those
/// hours only; later phases are judged against the envelope until a
/// previous model's share fills them.
#[test]
fn a_month_start_seen_in_part_leaves_its_other_phases_unknown() {
    let c = cal(1, vec![]);
    let cfg = BandConfig::default();
    let st = ClusterModel::fit(
        &TrainData::new(&[0, 1], &[1.0, 1.0], &[1.0, 1.0]),
        c.clone(),
        1,
        0.5,
        &cfg,
    )
    .initial_state();
    // 14 days to 2024-02-01 06:00, a Thursday and a month start at 0.6.
    let (ts, v) = series(&c, days_from_civil(2024, 1, 18) * DAY_MS, 15, 0.6);
    let cut = ts.partition_point(|&t| t < days_from_civil(2024, 2, 1) * DAY_MS + 6 * 3_600_000);
    let ones = vec![1.0; cut];
    let part = TrainData::new(&ts[..cut], &v[..cut], &ones);
    let m = ClusterModel::fit(&part, c.clone(), 1, 0.5, &cfg);
    let f = &m.factors[0];
    assert!(
        (f.ratio_at(3 * 3_600_000).unwrap() - 0.6).abs() < 0.05,
        "{f:?}"
    );
    assert_eq!(f.ratio_at(noon()), None, "{f:?}");
    // 2024-03-01, a Friday: at noon, the envelope (any level seen).
    let b = m.band(days_from_civil(2024, 3, 1) * DAY_MS + noon(), &st);
    assert!(b.lower < 20.0 && b.upper > 100.0, "{b:?}");
    // A previous model that saw a whole month start fills the phases.
    let (ts, v) = series(&c, days_from_civil(2023, 12, 20) * DAY_MS, 14, 0.6);
    let previous = ClusterModel::fit(
        &TrainData::new(&ts, &v, &vec![1.0; ts.len()]),
        c.clone(),
        1,
        0.5,
        &cfg,
    );
    let m = ClusterModel::fit_after(&part, c, 1, 0.5, &cfg, Some(&previous));
    assert!(
        (m.factors[0].ratio_at(noon()).unwrap() - 0.6).abs() < 0.05,
        "{:?}",
        m.factors
    );
    assert!(m.factors[0].unknown.is_empty());
    let b = m.band(days_from_civil(2024, 3, 1) * DAY_MS + noon(), &st);
    assert!((b.expected - 61.0).abs() < 3.0 && b.lower > 30.0, "{b:?}");
}

/// A month share saved before shares could have unknown phases reads back
/// with every phase known, and one with none unknown is saved as before.
#[test]
fn month_shares_from_older_model_files_read_as_known() {
    let old = r#"{"class":"month_start","ratios":{"period_ms":86400000,"bin_ms":43200000,"bins":[[1.5,1.5,1.5],[1.5,1.5,1.5]]},"days":1}"#;
    let f: MonthFactor = serde_json::from_str(old).unwrap();
    assert!(f.unknown.is_empty());
    assert_eq!(f.ratio_at(noon()), Some(1.5));
    let again = serde_json::to_string(&f).unwrap();
    assert!(!again.contains("unknown"), "{again}");
    let partial = MonthFactor {
        unknown: vec![false, true],
        ..f
    };
    let back: MonthFactor =
        serde_json::from_str(&serde_json::to_string(&partial).unwrap()).unwrap();
    assert_eq!(back, partial);
    assert_eq!(back.ratio_at(noon()), None);
}
