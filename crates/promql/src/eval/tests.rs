//! Unit tests of the evaluator over [`MemStorage`].

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use argus_model::{Labels, Sample, STALE_NAN};

use super::range_funcs::{extrapolated_rate, instant_value};
use crate::{Engine, EngineOptions, MemStorage, PromqlError, QueryRequest, Value};

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs)
}

/// A series given as label pairs and `(t, v)` points.
type SeriesSpec<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

fn store(series: &[SeriesSpec<'_>]) -> MemStorage {
    let mut m = MemStorage::new();
    for (ls, pts) in series {
        for (t, v) in pts.iter() {
            m.add(&l(ls), *t, *v);
        }
    }
    m
}

fn engine() -> Engine {
    Engine::new(EngineOptions::default())
}

fn vector(v: Result<Value, PromqlError>) -> Vec<(String, f64)> {
    match v {
        Ok(Value::Vector(v)) => v.into_iter().map(|s| (s.labels.to_string(), s.v)).collect(),
        other => panic!("expected a vector, got {other:?}"),
    }
}

#[test]
fn rate_extrapolates_and_handles_resets() {
    let s = |pts: &[(i64, f64)]| {
        pts.iter()
            .map(|(t, v)| Sample::new(*t, *v))
            .collect::<Vec<_>>()
    };
    // 0..=60s every 15s, increasing by 1: the window (0, 60s] holds 4 samples.
    let w = s(&[(15_000, 1.0), (30_000, 2.0), (45_000, 3.0), (60_000, 4.0)]);
    let inc = extrapolated_rate(&w, 0, 60_000, 60_000, true, false).unwrap();
    // Extrapolated to the start: but not below zero (the zero point is 15s before).
    assert!((inc - 4.0).abs() < 1e-12, "{inc}");
    // A reset adds the value before it.
    let w = s(&[(15_000, 5.0), (30_000, 6.0), (45_000, 1.0), (60_000, 2.0)]);
    let inc = extrapolated_rate(&w, 0, 60_000, 60_000, true, false).unwrap();
    assert!((inc - 4.0 * (2.0 - 5.0 + 6.0) / 3.0).abs() < 1e-9, "{inc}");
    // One sample: no rate.
    assert_eq!(
        extrapolated_rate(&w[..1], 0, 60_000, 60_000, true, true),
        None
    );
    // Gauges do not extrapolate to zero and may go negative: 30s of data, extended by 30s to the start.
    let w = s(&[(30_000, 10.0), (60_000, 4.0)]);
    assert!((extrapolated_rate(&w, 0, 60_000, 60_000, false, false).unwrap() + 12.0).abs() < 1e-12);
    // irate after a reset uses the new value.
    assert_eq!(
        instant_value(&s(&[(0, 10.0), (10_000, 2.0)]), true),
        Some(0.2)
    );
}

#[test]
fn lookback_is_left_open_and_stale_ends_series() {
    let m = store(&[(
        &[("__name__", "m")],
        &[(0, 1.0), (60_000, 2.0), (120_000, STALE_NAN)],
    )]);
    let e = engine();
    assert_eq!(
        vector(e.instant_query(&m, "m", 60_000)),
        vec![("m{}".to_string(), 2.0)]
    );
    assert!(
        vector(e.instant_query(&m, "m", 120_000)).is_empty(),
        "stale marker hides the series"
    );
    let m = store(&[(&[("__name__", "m")], &[(0, 1.0)])]);
    assert_eq!(vector(e.instant_query(&m, "m", 299_999)).len(), 1);
    assert!(
        vector(e.instant_query(&m, "m", 300_000)).is_empty(),
        "lookback window is (t-5m, t]"
    );
    // Range selectors are left-open too.
    let m = store(&[(&[("__name__", "m")], &[(0, 1.0), (60_000, 1.0)])]);
    assert_eq!(
        vector(e.instant_query(&m, "count_over_time(m[1m])", 60_000)),
        vec![("{}".to_string(), 1.0)]
    );
}

#[test]
fn range_query_matches_instant_queries() {
    let pts: Vec<(i64, f64)> = (0..40).map(|i| (i * 15_000, (i * i) as f64)).collect();
    let pts2: Vec<(i64, f64)> = (0..40).map(|i| (i * 15_000, i as f64)).collect();
    let m = store(&[
        (&[("__name__", "c"), ("j", "a")], &pts),
        (&[("__name__", "c"), ("j", "b")], &pts2),
    ]);
    let e = engine();
    for q in [
        "rate(c[1m])",
        "sum by (j) (c) / 2",
        "max_over_time(c[2m:30s])",
        "c > 20",
        "topk(1, c)",
    ] {
        let Ok(Value::Matrix(mat)) = e.range_query(&m, q, 60_000, 540_000, 60_000) else {
            panic!("{q}")
        };
        for t in (60_000..=540_000).step_by(60_000) {
            let inst = vector(e.instant_query(&m, q, t));
            for (name, v) in inst {
                let s = mat
                    .iter()
                    .find(|s| s.labels.to_string() == name)
                    .unwrap_or_else(|| panic!("{q} {name}"));
                let p = s
                    .samples
                    .iter()
                    .find(|p| p.t == t)
                    .unwrap_or_else(|| panic!("{q} {name} @{t}"));
                assert!((p.v - v).abs() < 1e-9, "{q} {name} @{t}: {} vs {v}", p.v);
            }
        }
    }
}

#[test]
fn matching_errors_use_prometheus_messages() {
    let m = store(&[
        (&[("__name__", "a"), ("x", "1"), ("y", "1")], &[(0, 1.0)]),
        (&[("__name__", "a"), ("x", "1"), ("y", "2")], &[(0, 1.0)]),
        (&[("__name__", "b"), ("x", "1")], &[(0, 1.0)]),
    ]);
    let e = engine();
    let err = e.instant_query(&m, "b + on(x) a", 0).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "found duplicate series for the match group {x=\"1\"} on the right hand-side"
        ),
        "{err}"
    );
    assert_eq!(err.error_type(), "execution");
    let err = e.instant_query(&m, "a + on(x) b", 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
    );
    assert_eq!(
        vector(e.instant_query(&m, "a + on(x) group_left b", 0)).len(),
        2
    );
    let err = e
        .instant_query(&m, "label_replace(a, \"y\", \"\", \"\", \"\") * 1", 0)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
}

#[test]
fn limits_cancellation_and_parse_errors() {
    let pts: Vec<(i64, f64)> = (0..100).map(|i| (i * 1000, 1.0)).collect();
    let m = store(&[(&[("__name__", "m")], &pts)]);
    let small = Engine::new(EngineOptions {
        max_samples: 10,
        ..EngineOptions::default()
    });
    let err = small
        .instant_query(&m, "sum_over_time(m[100s])", 99_000)
        .unwrap_err();
    assert_eq!(err, PromqlError::TooManySamples);
    assert_eq!(
        err.to_string(),
        "query processing would load too many samples into memory in query execution"
    );
    assert_eq!(err.http_status(), 422);
    let cancel = Arc::new(AtomicBool::new(true));
    let req = QueryRequest {
        expr: "m".into(),
        start_ms: 0,
        end_ms: 0,
        step_ms: 0,
        cancel: Some(cancel),
    };
    assert_eq!(engine().exec(&m, &req).unwrap_err(), PromqlError::Canceled);
    let err = engine().instant_query(&m, "sum(", 0).unwrap_err();
    assert_eq!((err.error_type(), err.http_status()), ("bad_data", 400));
    let err = engine()
        .range_query(&m, "m[1m]", 0, 10_000, 1000)
        .unwrap_err();
    assert_eq!(err.error_type(), "bad_data");
}

#[test]
fn scalar_and_string_results() {
    let m = MemStorage::new();
    assert_eq!(
        engine().instant_query(&m, "1 + 2 * 3", 5000),
        Ok(Value::Scalar { t: 5000, v: 7.0 })
    );
    assert_eq!(
        engine().instant_query(&m, "\"x\"", 0),
        Ok(Value::String {
            t: 0,
            s: "x".into()
        })
    );
    let Ok(Value::Matrix(mm)) = engine().range_query(&m, "time()", 0, 2000, 1000) else {
        panic!()
    };
    assert_eq!(
        mm[0].samples.iter().map(|s| s.v).collect::<Vec<_>>(),
        vec![0.0, 1.0, 2.0]
    );
}

#[test]
fn topk_with_nan_k_is_an_execution_error() {
    // `scalar(count(b))` is NaN where `b` has no samples in the lookback.
    let m = store(&[(
        &[("__name__", "b"), ("a", "1")],
        &[(0, 1.0), (600_000, 2.0)],
    )]);
    let q = "topk(scalar(count(b)) - 1, b)";
    let want = "Scalar value NaN overflows int64";
    match engine().instant_query(&m, q, 3_600_000) {
        Err(PromqlError::Execution(e)) => assert_eq!(e, want),
        other => panic!("expected an execution error, got {other:?}"),
    }
    match engine().range_query(&m, q, 0, 3_600_000, 60_000) {
        Err(PromqlError::Execution(e)) => assert_eq!(e, want),
        other => panic!("expected an execution error, got {other:?}"),
    }
    // Every k below one: an empty result, not an error (Prometheus 3's early return).
    assert!(vector(engine().instant_query(&m, "topk(-Inf, b)", 0)).is_empty());
}

#[test]
fn sliding_sums_match_direct_sums() {
    // Large, cancelling and non-finite values force the direct compensated path.
    let vals = [
        1e100,
        1.0,
        -1e100,
        3.5,
        f64::INFINITY,
        2.0,
        7.25,
        0.1,
        0.2,
        0.3,
    ];
    let pts: Vec<(i64, f64)> = vals
        .iter()
        .enumerate()
        .map(|(i, v)| (i as i64 * 15_000, *v))
        .collect();
    let m = store(&[(&[("__name__", "g")], &pts)]);
    let want = [
        (45_000, 4.5),
        (75_000, f64::INFINITY),
        (135_000, 7.25 + 0.1 + 0.2 + 0.3),
    ];
    for (t, w) in want {
        let got = vector(engine().instant_query(&m, "sum_over_time(g[59s])", t));
        assert!(
            crate::almost_equal(got[0].1, w, 1e-12),
            "at {t}: {got:?} != {w}"
        );
    }
}
