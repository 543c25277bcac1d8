//! Evaluator tests over a [`MemorySource`], checking concrete values and Loki's JSON shapes.

use super::*;
use crate::record::{LogRecord, MemorySource};
use argus_model::Labels;
use serde_json::{json, Value};

pub(super) const S: i64 = 1_000_000_000;

pub(super) fn rec(pairs: &[(&str, &str)], ts_s: i64, line: &str) -> LogRecord {
    LogRecord::new(Labels::from_pairs(pairs), ts_s * S, line)
}

pub(super) fn range(src: &MemorySource, q: &str, start_s: i64, end_s: i64, step_s: i64) -> Value {
    let q = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    query_range(
        src,
        &q,
        start_s * S,
        end_s * S,
        step_s * S,
        100,
        Direction::Backward,
        &Limits::default(),
    )
    .unwrap()
}

pub(super) fn logs(src: &MemorySource, q: &str, limit: usize, dir: Direction) -> Value {
    let q = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    query_range(src, &q, 0, 1000 * S, 0, limit, dir, &Limits::default()).unwrap()
}

/// `[(labels, [(ts, value)])]` of a matrix.
pub(super) fn matrix(v: &Value) -> Vec<(Value, Vec<(i64, String)>)> {
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["resultType"], "matrix");
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let pts = r["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_i64().unwrap(), p[1].as_str().unwrap().to_string()))
                .collect();
            (r["metric"].clone(), pts)
        })
        .collect()
}

/// `[(stream labels, [(ts string, line)])]` of a streams answer.
pub(super) fn streams(v: &Value) -> Vec<(Value, Vec<(String, String)>)> {
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["resultType"], "streams");
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let vals = r["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
                .collect();
            (r["stream"].clone(), vals)
        })
        .collect()
}

pub(super) fn pts(p: &[(i64, &str)]) -> Vec<(i64, String)> {
    p.iter().map(|(t, v)| (*t, v.to_string())).collect()
}

pub(super) fn two_apps() -> MemorySource {
    MemorySource::from_records(vec![
        rec(&[("app", "api"), ("env", "prod")], 10, "GET /a 200"),
        rec(&[("app", "api"), ("env", "prod")], 50, "GET /b 500 error"),
        rec(&[("app", "api"), ("env", "prod")], 61, "GET /c 200"),
        rec(&[("app", "api"), ("env", "prod")], 120, "GET /d 500 error"),
        rec(&[("app", "api"), ("env", "dev")], 55, "GET /x 200"),
        rec(&[("app", "db")], 30, "slow query"),
    ])
}

#[test]
fn count_over_time_per_step_with_left_open_windows() {
    let v = range(
        &two_apps(),
        r#"count_over_time({app="api", env="prod"}[1m])"#,
        0,
        180,
        60,
    );
    // Windows (t-60s, t]: t=0 → none (omitted), t=60 → 10,50; t=120 → 61,120; t=180 → none.
    assert_eq!(
        matrix(&v),
        vec![(
            json!({"app": "api", "env": "prod"}),
            pts(&[(60, "2"), (120, "2")])
        )]
    );
    // A line exactly at t-range is out, one at t is in.
    let v = range(
        &two_apps(),
        r#"count_over_time({app="api", env="prod"}[50s])"#,
        60,
        60,
        60,
    );
    assert_eq!(matrix(&v)[0].1, pts(&[(60, "1")]));
}

#[test]
fn rate_is_count_over_range_seconds_and_sum_by() {
    let v = range(&two_apps(), r#"rate({app="api"}[1m])"#, 60, 60, 60);
    let m = matrix(&v);
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].0, json!({"app": "api", "env": "dev"}));
    assert_eq!(m[0].1, pts(&[(60, "0.016666666666666666")]));
    assert_eq!(m[1].1, pts(&[(60, "0.03333333333333333")]));
    let v = range(
        &two_apps(),
        r#"sum by (app) (count_over_time({app=~".+"}[1m]))"#,
        60,
        120,
        60,
    );
    assert_eq!(
        matrix(&v),
        vec![
            (json!({"app": "api"}), pts(&[(60, "3"), (120, "2")])),
            (json!({"app": "db"}), pts(&[(60, "1")])),
        ]
    );
    let v = range(
        &two_apps(),
        r#"sum(count_over_time({app=~".+"}[1m]))"#,
        60,
        60,
        60,
    );
    assert_eq!(matrix(&v), vec![(json!({}), pts(&[(60, "4")]))]);
    let v = range(
        &two_apps(),
        r#"count_over_time({app=~".+"}[1m])"#,
        60,
        60,
        60,
    );
    let v2 = range(
        &two_apps(),
        r#"sum without (env) (count_over_time({app=~".+"}[1m]))"#,
        60,
        60,
        60,
    );
    assert_eq!(matrix(&v).len(), 3);
    assert_eq!(
        matrix(&v2),
        vec![
            (json!({"app": "api"}), pts(&[(60, "3")])),
            (json!({"app": "db"}), pts(&[(60, "1")])),
        ]
    );
}

#[test]
fn bytes_functions_and_line_filters() {
    let v = range(
        &two_apps(),
        r#"bytes_over_time({app="api"} |= "error" [2m])"#,
        120,
        120,
        60,
    );
    // "GET /b 500 error" and "GET /d 500 error": 16 bytes each.
    assert_eq!(matrix(&v)[0].1, pts(&[(120, "32")]));
    let v = range(
        &two_apps(),
        r#"bytes_rate({app="api"} |= "error" [2m])"#,
        120,
        120,
        60,
    );
    assert_eq!(matrix(&v)[0].1, pts(&[(120, "0.26666666666666666")]));
    let v = range(
        &two_apps(),
        r#"count_over_time({app="api"} != "error" |~ "/[ac]" [5m])"#,
        120,
        120,
        60,
    );
    assert_eq!(matrix(&v)[0].1, pts(&[(120, "2")]));
    let v = range(
        &two_apps(),
        r#"count_over_time({app="api"} !~ "200$" [5m])"#,
        120,
        120,
        60,
    );
    assert_eq!(matrix(&v)[0].1, pts(&[(120, "2")]));
}

#[test]
fn aggregations_min_max_avg_count_topk() {
    let src = MemorySource::from_records([("a", 1), ("b", 2), ("c", 3), ("d", 6)].iter().flat_map(
        |(name, n)| (0..*n).map(move |i| rec(&[("app", "x"), ("pod", name)], 10 + i, "l")),
    ));
    let one = |q: &str| {
        let v = range(&src, q, 60, 60, 60);
        matrix(&v)
            .into_iter()
            .map(|(l, p)| (l, p[0].1.clone()))
            .collect::<Vec<_>>()
    };
    let base = r#"count_over_time({app="x"}[1m])"#;
    assert_eq!(one(&format!("min({base})")), [(json!({}), "1".into())]);
    assert_eq!(one(&format!("max({base})")), [(json!({}), "6".into())]);
    assert_eq!(one(&format!("avg({base})")), [(json!({}), "3".into())]);
    assert_eq!(one(&format!("count({base})")), [(json!({}), "4".into())]);
    assert_eq!(one(&format!("stdvar({base})")), [(json!({}), "3.5".into())]);
    assert_eq!(
        one(&format!("topk(2, {base})")),
        [
            (json!({"app": "x", "pod": "c"}), "3".into()),
            (json!({"app": "x", "pod": "d"}), "6".into())
        ]
    );
    assert_eq!(
        one(&format!("bottomk(1, {base})")),
        [(json!({"app": "x", "pod": "a"}), "1".into())]
    );
}

#[test]
fn limit_and_direction_across_streams() {
    let src = MemorySource::from_records(vec![
        rec(&[("app", "a")], 1, "a1"),
        rec(&[("app", "a")], 4, "a4"),
        rec(&[("app", "b")], 2, "b2"),
        rec(&[("app", "b")], 3, "b3"),
        rec(&[("app", "b")], 5, "b5"),
    ]);
    let q = r#"{app=~"a|b"}"#;
    let v = logs(&src, q, 3, Direction::Backward);
    assert_eq!(
        streams(&v),
        vec![
            (
                json!({"app": "a"}),
                vec![("4000000000".into(), "a4".into())]
            ),
            (
                json!({"app": "b"}),
                vec![
                    ("5000000000".into(), "b5".into()),
                    ("3000000000".into(), "b3".into())
                ]
            ),
        ]
    );
    let v = logs(&src, q, 3, Direction::Forward);
    assert_eq!(
        streams(&v),
        vec![
            (
                json!({"app": "a"}),
                vec![("1000000000".into(), "a1".into())]
            ),
            (
                json!({"app": "b"}),
                vec![
                    ("2000000000".into(), "b2".into()),
                    ("3000000000".into(), "b3".into())
                ]
            ),
        ]
    );
    assert_eq!(v["data"]["stats"]["summary"]["totalLinesProcessed"], 5);
    assert_eq!(v["data"]["stats"]["summary"]["totalEntriesReturned"], 3);
}

#[test]
fn limit_holds_over_many_lines() {
    // More lines than the pruning threshold: the newest `limit` survive.
    let src = MemorySource::from_records((0..1000).map(|i| {
        rec(
            &[("app", if i % 2 == 0 { "a" } else { "b" })],
            i,
            &format!("l{i}"),
        )
    }));
    let v = logs(&src, r#"{app=~"a|b"}"#, 5, Direction::Backward);
    let mut got: Vec<String> = streams(&v)
        .into_iter()
        .flat_map(|s| s.1)
        .map(|x| x.1)
        .collect();
    got.sort();
    assert_eq!(got, ["l995", "l996", "l997", "l998", "l999"]);
    let v = logs(&src, r#"{app=~"a|b"}"#, 5, Direction::Forward);
    let mut got: Vec<String> = streams(&v)
        .into_iter()
        .flat_map(|s| s.1)
        .map(|x| x.1)
        .collect();
    got.sort();
    assert_eq!(got, ["l0", "l1", "l2", "l3", "l4"]);
}

#[test]
fn limits_refuse_big_queries() {
    let src = two_apps();
    let q = parse(r#"{app=~".+"}"#).unwrap();
    let small = Limits {
        max_lines_scanned: 3,
        ..Limits::default()
    };
    let e = query_range(&src, &q, 0, 1000 * S, 0, 100, Direction::Backward, &small).unwrap_err();
    assert!(
        matches!(
            e,
            LogqlError::Source(crate::record::SourceError::TooMany { limit: 3 })
        ),
        "{e:?}"
    );
    assert!(e.is_bad_request());
    let q = parse(r#"count_over_time({app=~".+"}[1m])"#).unwrap();
    let one_series = Limits {
        max_series: 1,
        ..Limits::default()
    };
    let e = query_range(
        &src,
        &q,
        0,
        100 * S,
        S,
        100,
        Direction::Backward,
        &one_series,
    )
    .unwrap_err();
    assert!(matches!(e, LogqlError::TooManySeries { limit: 1 }), "{e:?}");
    let e = query_range(
        &src,
        &q,
        0,
        100_000 * S,
        S,
        100,
        Direction::Backward,
        &Limits::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("maximum resolution"), "{e}");
    let e = query_range(
        &src,
        &q,
        0,
        100 * S,
        0,
        100,
        Direction::Backward,
        &Limits::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("step"), "{e}");
    let e = query_range(
        &src,
        &q,
        10,
        0,
        S,
        100,
        Direction::Backward,
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, LogqlError::BadParam(_)));
}

#[test]
fn instant_queries_give_vectors_and_refuse_logs() {
    let src = two_apps();
    let q = parse(r#"sum by (env) (count_over_time({app="api"}[1m]))"#).unwrap();
    let v = query_instant(&src, &q, 60 * S + S / 2, &Limits::default()).unwrap();
    assert_eq!(
        v,
        json!({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"env": "dev"}, "value": [60.5, "1"]},
            {"metric": {"env": "prod"}, "value": [60.5, "2"]},
        ], "stats": v["data"]["stats"].clone()}})
    );
    let q = parse(r#"{app="api"}"#).unwrap();
    let e = query_instant(&src, &q, 60 * S, &Limits::default()).unwrap_err();
    assert!(e.to_string().contains("range query"), "{e}");
    assert!(e.is_bad_request());
}

#[test]
fn labels_and_series_answers() {
    let src = two_apps();
    assert_eq!(
        label_names(&src, 0, 1000 * S).unwrap(),
        json!({"status": "success", "data": ["app", "env"]})
    );
    assert_eq!(
        label_values(&src, "env", Some(r#"{app="api"}"#), 0, 1000 * S).unwrap(),
        json!({"status": "success", "data": ["dev", "prod"]})
    );
    assert_eq!(
        series(
            &src,
            &[r#"{app="db"}"#, r#"{env="dev"}"#, r#"{app="db"}"#],
            0,
            1000 * S
        )
        .unwrap(),
        json!({"status": "success", "data": [{"app": "api", "env": "dev"}, {"app": "db"}]})
    );
    assert!(series(&src, &[r#"{app=""}"#], 0, 1)
        .unwrap_err()
        .is_bad_request());
    assert!(series(&src, &[], 0, 1).is_err());
}

#[test]
fn direction_parses_any_case() {
    assert_eq!(Direction::parse("BACKWARD").unwrap(), Direction::Backward);
    assert_eq!(Direction::parse("forward").unwrap(), Direction::Forward);
    assert!(Direction::parse("up").is_err());
}

#[test]
fn value_formatting() {
    use super::response::fmt_value;
    assert_eq!(fmt_value(2.0), "2");
    assert_eq!(fmt_value(0.25), "0.25");
    assert_eq!(fmt_value(f64::NAN), "NaN");
    assert_eq!(fmt_value(f64::INFINITY), "+Inf");
    assert_eq!(fmt_value(1e21), "1000000000000000000000");
}
