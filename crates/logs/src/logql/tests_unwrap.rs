//! `unwrap` and the range functions over values: parsing, errors with their place, and
//! values computed by hand.

use super::tests_eval::{matrix, pts, range, rec, S};
use super::*;
use crate::record::MemorySource;
use serde_json::json;

/// `host=a` has 10 at 10s and 30 at 20s; `host=b` has 20 at 30s and `abc` at 40s; the line at
/// 50s has no latency.
fn latencies() -> MemorySource {
    MemorySource::from_records(vec![
        rec(&[("app", "api")], 10, "host=a latency=10"),
        rec(&[("app", "api")], 20, "host=a latency=30"),
        rec(&[("app", "api")], 30, "host=b latency=20"),
        rec(&[("app", "api")], 40, "host=b latency=abc"),
        rec(&[("app", "api")], 50, "host=a"),
    ])
}

const LAT: &str = r#"{app="api"} | logfmt | unwrap latency | __error__="""#;

fn at60(src: &MemorySource, q: &str) -> Vec<(serde_json::Value, Vec<(i64, String)>)> {
    matrix(&range(src, q, 60, 60, 60))
}

fn one(src: &MemorySource, q: &str, host: &str) -> String {
    let m = at60(src, q);
    let s = m
        .iter()
        .find(|(l, _)| l["host"] == host)
        .unwrap_or_else(|| panic!("{q}: no host {host} in {m:?}"));
    assert_eq!(s.1.len(), 1, "{q}");
    s.1[0].1.clone()
}

#[test]
fn unwrapped_functions_by_hand() {
    let src = latencies();
    // a: [10, 30]; b: [20] (the `abc` line is filtered out, the line without latency skipped).
    for (f, a, b) in [
        ("sum_over_time", "40", "20"),
        ("avg_over_time", "20", "20"),
        ("max_over_time", "30", "20"),
        ("min_over_time", "10", "20"),
        ("first_over_time", "10", "20"),
        ("last_over_time", "30", "20"),
        // mean 20, ((10-20)² + (30-20)²) / 2 = 100.
        ("stdvar_over_time", "100", "0"),
        ("stddev_over_time", "10", "0"),
        // 40 / 60 s.
        ("rate", "0.6666666666666666", "0.3333333333333333"),
    ] {
        let q = format!("{f}({LAT} [1m])");
        assert_eq!(one(&src, &q, "a"), a, "{q}");
        assert_eq!(one(&src, &q, "b"), b, "{q}");
    }
    // Ranks 0.5 and 0.9 of [10, 30]: 10 + 0.5·20 and 10 + 0.9·20.
    for (phi, a) in [("0.5", "20"), ("0.9", "28"), ("0", "10"), ("1", "30")] {
        let q = format!("quantile_over_time({phi}, {LAT} [1m])");
        assert_eq!(one(&src, &q, "a"), a, "{q}");
    }
    assert_eq!(
        one(&src, &format!("quantile_over_time(2, {LAT} [1m])"), "a"),
        "+Inf"
    );
    assert_eq!(
        one(&src, &format!("quantile_over_time(-1, {LAT} [1m])"), "a"),
        "-Inf"
    );
}

#[test]
fn unwrapped_label_leaves_the_series_labels() {
    let m = at60(&latencies(), &format!("sum_over_time({LAT} [1m])"));
    assert_eq!(
        m,
        vec![
            (json!({"app": "api", "host": "a"}), pts(&[(60, "40")])),
            (json!({"app": "api", "host": "b"}), pts(&[(60, "20")])),
        ]
    );
}

#[test]
fn windows_per_step_over_unwrapped_values() {
    // [20s] windows at 20, 40, 60: (0,20] holds a's 10 and 30; (20,40] holds b's 20 (and the
    // filtered `abc`); (40,60] only the line without latency.
    let v = range(
        &latencies(),
        &format!("sum_over_time({LAT} [20s])"),
        20,
        60,
        20,
    );
    assert_eq!(
        matrix(&v),
        vec![
            (json!({"app": "api", "host": "a"}), pts(&[(20, "40")])),
            (json!({"app": "api", "host": "b"}), pts(&[(40, "20")])),
        ]
    );
}

#[test]
fn a_value_that_is_not_a_number_fails_the_query_unless_filtered() {
    let q = parse(r#"sum_over_time({app="api"} | logfmt | unwrap latency [1m])"#).unwrap();
    let e = query_instant(&latencies(), &q, 60 * S, &Limits::default()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("pipeline error: 'SampleExtractionErr' for series: "),
        "{text}"
    );
    // The series names the value that failed, and the way out.
    assert!(text.contains(r#"latency="abc""#), "{text}");
    assert!(text.contains(r#"__error__="""#), "{text}");
    assert!(e.is_bad_request());
    // Filtering only that error works too; so does `drop __error__` before unwrap for a
    // parser error, but not for the unwrap's own.
    let q = r#"sum_over_time({app="api"} | logfmt | unwrap latency | __error__!="SampleExtractionErr" [1m])"#;
    assert_eq!(one(&latencies(), q, "b"), "20");
    // A parser error fails an unwrapped query too (here the value is a stream label).
    let src = MemorySource::from_records(vec![
        rec(&[("app", "api"), ("n", "5")], 10, r#"{"x": 1}"#),
        rec(&[("app", "api"), ("n", "7")], 20, "not json"),
    ]);
    let q = parse(r#"max_over_time({app="api"} | json | unwrap n [1m])"#).unwrap();
    let e = query_instant(&src, &q, 60 * S, &Limits::default()).unwrap_err();
    assert!(e.to_string().contains("'JSONParserErr'"), "{e}");
    let m = at60(
        &src,
        r#"max_over_time({app="api"} | json | __error__="" | unwrap n [1m])"#,
    );
    assert_eq!(
        m,
        vec![(json!({"app": "api", "x": "1"}), pts(&[(60, "5")]))]
    );
    // A line without the label is skipped, not an error (Loki ≥ 2.7).
    let m = at60(
        &src,
        r#"max_over_time({app="api"} | json | __error__="" | unwrap x [1m])"#,
    );
    assert_eq!(
        m,
        vec![(json!({"app": "api", "n": "5"}), pts(&[(60, "1")]))]
    );
}

#[test]
fn conversions_duration_and_bytes() {
    let src = MemorySource::from_records(vec![
        rec(&[("app", "api")], 10, "took=1.5s size=1KB"),
        rec(&[("app", "api")], 20, "took=250ms size=2KiB"),
        rec(&[("app", "api")], 30, "took=1m size=500"),
    ]);
    // 1.5 + 0.25 + 60 seconds; 1000 + 2048 + 500 bytes.
    for (q, want) in [
        (
            r#"sum(sum_over_time({app="api"} | logfmt | unwrap duration(took) [1m]))"#,
            "61.75",
        ),
        (
            r#"sum(sum_over_time({app="api"} | logfmt | unwrap duration_seconds(took) [1m]))"#,
            "61.75",
        ),
        (
            r#"sum(sum_over_time({app="api"} | logfmt | unwrap bytes(size) [1m]))"#,
            "3548",
        ),
        // Without conversion `1.5s` is not a number: every line fails and is filtered.
        (
            r#"sum(sum_over_time({app="api"} | logfmt | unwrap took | __error__="" [1m]))"#,
            "",
        ),
    ] {
        let m = at60(&src, q);
        if want.is_empty() {
            assert!(m.is_empty(), "{q}: {m:?}");
        } else {
            assert_eq!(m, vec![(json!({}), pts(&[(60, want)]))], "{q}");
        }
    }
}

#[test]
fn grouping_on_the_range_function_and_outer_aggregations() {
    let src = latencies();
    // by (app) merges a and b before the function: [10, 30, 20].
    let m = at60(&src, &format!("avg_over_time({LAT} [1m]) by (app)"));
    assert_eq!(m, vec![(json!({"app": "api"}), pts(&[(60, "20")]))]);
    let m = at60(&src, &format!("max_over_time({LAT} [1m]) by ()"));
    assert_eq!(m, vec![(json!({}), pts(&[(60, "30")]))]);
    let m = at60(&src, &format!("min_over_time({LAT} [1m]) without (host)"));
    assert_eq!(m, vec![(json!({"app": "api"}), pts(&[(60, "10")]))]);
    // Outer aggregations: 40 + 20; the larger last value is a's 30.
    let m = at60(&src, &format!("sum(sum_over_time({LAT} [1m]))"));
    assert_eq!(m, vec![(json!({}), pts(&[(60, "60")]))]);
    let m = at60(&src, &format!("topk(1, last_over_time({LAT} [1m]))"));
    assert_eq!(
        m,
        vec![(json!({"app": "api", "host": "a"}), pts(&[(60, "30")]))]
    );
}

#[test]
fn rate_counter_counts_resets_and_extrapolates() {
    // 100, 110, 5 (a reset), 15, 25 at 10..50 s: the increase is 10 + 5 + 10 + 10 = 35 over
    // 40 s of samples; the window (0, 50] reaches 10 s before the first (under 1.1 × the 10 s
    // gap, so extrapolated fully) and 0 s after the last: 35 × 50/40 / 50 s = 0.875.
    let src = MemorySource::from_records(
        [(10, "100"), (20, "110"), (30, "5"), (40, "15"), (50, "25")]
            .iter()
            .map(|(t, v)| rec(&[("app", "c")], *t, &format!("n={v}")))
            .collect::<Vec<_>>(),
    );
    let v = range(
        &src,
        r#"rate_counter({app="c"} | logfmt | unwrap n [50s])"#,
        50,
        50,
        10,
    );
    assert_eq!(
        matrix(&v),
        vec![(json!({"app": "c"}), pts(&[(50, "0.875")]))]
    );
    // One sample gives no point.
    let v = range(
        &src,
        r#"rate_counter({app="c"} | logfmt | unwrap n [5s])"#,
        50,
        50,
        10,
    );
    assert!(matrix(&v).is_empty());
}

#[test]
fn absent_over_time_marks_empty_windows() {
    // Lines at 10..50 s: the window at 0 and the one at 120 ((60, 120]) are empty.
    let v = range(
        &latencies(),
        r#"absent_over_time({app="api"}[1m])"#,
        0,
        120,
        60,
    );
    assert_eq!(
        matrix(&v),
        vec![(json!({"app": "api"}), pts(&[(0, "1"), (120, "1")]))]
    );
    let v = range(
        &latencies(),
        r#"absent_over_time({app="api", host=~".+"} |= "nothing" [1m])"#,
        60,
        60,
        60,
    );
    assert_eq!(matrix(&v), vec![(json!({"app": "api"}), pts(&[(60, "1")]))]);
}

fn syntax(q: &str) -> (usize, String) {
    match parse(q) {
        Err(LogqlError::Syntax { pos, msg }) => (pos, msg),
        other => panic!("{q}: expected a syntax error, got {other:?}"),
    }
}

#[test]
fn unwrap_parses_with_conversions_and_post_filters() {
    let q = r#"avg_over_time({a="b"} | json | unwrap duration(took) | __error__="" [5m]) by (h)"#;
    match parse(q).unwrap() {
        Query::Metric(MetricExpr::Range {
            func,
            log,
            unwrap: Some(u),
            grouping,
            ..
        }) => {
            assert_eq!(func, RangeFn::AvgOverTime);
            assert_eq!(log.stages.len(), 1);
            assert_eq!((u.label.as_str(), u.conv), ("took", Conversion::Duration));
            assert_eq!(u.post.len(), 1);
            assert_eq!(u.pos, 31);
            assert_eq!(grouping, Some(Grouping::By(vec!["h".into()])));
        }
        other => panic!("{other:?}"),
    }
    for (q, label, conv) in [
        (
            r#"sum_over_time({a="b"}[5m] | unwrap bytes(x))"#,
            "x",
            Conversion::Bytes,
        ),
        (
            r#"sum_over_time({a="b"} | unwrap bytes [5m])"#,
            "bytes",
            Conversion::Number,
        ),
        (
            r#"rate({a="b"} | unwrap duration_seconds(d) [1m])"#,
            "d",
            Conversion::Duration,
        ),
    ] {
        match parse(q).unwrap() {
            Query::Metric(MetricExpr::Range {
                unwrap: Some(u), ..
            }) => {
                assert_eq!((u.label.as_str(), u.conv), (label, conv), "{q}");
            }
            other => panic!("{q}: {other:?}"),
        }
    }
    match parse(r#"quantile_over_time(0.99, {a="b"} | unwrap x [5m])"#).unwrap() {
        Query::Metric(MetricExpr::Range { param, .. }) => assert_eq!(param, Some(0.99)),
        other => panic!("{other:?}"),
    }
    for f in ["sum_over_time", "rate_counter", "absent_over_time", "rate"] {
        assert_eq!(RangeFn::from_name(f).map(RangeFn::name), Some(f));
    }
}

#[test]
fn unwrap_errors_name_the_place() {
    let (pos, msg) = syntax(r#"{a="b"} | unwrap x"#);
    assert_eq!(pos, 10);
    assert!(msg.contains("range function"), "{msg}");
    let (pos, msg) = syntax(r#"count_over_time({a="b"} | unwrap x [5m])"#);
    assert_eq!(pos, 26);
    assert!(msg.contains("count_over_time with unwrap"), "{msg}");
    let (pos, msg) = syntax(r#"sum_over_time({a="b"}[5m])"#);
    assert_eq!(pos, 0);
    assert!(msg.contains("without unwrap"), "{msg}");
    let (pos, msg) = syntax(r#"sum_over_time({a="b"} | unwrap x [5m]) by (h)"#);
    assert_eq!(pos, 39);
    assert!(msg.contains("grouping not allowed"), "{msg}");
    let (_, msg) = syntax(r#"count_over_time({a="b"}[5m]) by (h)"#);
    assert!(msg.contains("grouping not allowed"), "{msg}");
    let (_, msg) = syntax(r#"sum_over_time({a="b"} | unwrap x |= "y" [5m])"#);
    assert!(msg.contains("only label filters"), "{msg}");
    let (pos, msg) = syntax(r#"sum_over_time({a="b"} | unwrap seconds(x) [5m])"#);
    assert_eq!(pos, 38);
    assert!(msg.contains("unknown unwrap conversion `seconds"), "{msg}");
    let (_, msg) = syntax(r#"sum_over_time({a="b"} | unwrap [5m])"#);
    assert!(msg.contains("label name after `unwrap`"), "{msg}");
    let (pos, msg) = syntax(r#"quantile_over_time({a="b"} | unwrap x [5m])"#);
    assert_eq!(pos, 19);
    assert!(msg.contains("φ"), "{msg}");
    let (_, msg) = syntax(r#"sum_over_time({a="b"} | unwrap x | unwrap y [5m])"#);
    assert!(msg.contains("only label filters"), "{msg}");
}
