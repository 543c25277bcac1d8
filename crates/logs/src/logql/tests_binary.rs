//! Binary operations, `offset`, `vector`, `sort` and `label_replace`, the pattern line filters,
//! `decolorize` and `unpack`, over a [`MemorySource`].

use super::tests_eval::{logs, matrix, range, rec, streams, two_apps, S};
use super::*;
use crate::record::MemorySource;
use serde_json::{json, Value};

/// The evaluator tests' two apps: api (prod and dev) and db.
fn source() -> MemorySource {
    two_apps()
}

/// `[(labels, [(ts, value)])]` of a matrix, values as numbers.
fn series(v: &Value) -> Vec<(Value, Vec<(i64, f64)>)> {
    matrix(v)
        .into_iter()
        .map(|(l, pts)| {
            (
                l,
                pts.into_iter()
                    .map(|(t, x)| (t, x.parse().unwrap()))
                    .collect(),
            )
        })
        .collect()
}

fn sorted(mut v: Vec<(Value, Vec<(i64, f64)>)>) -> Vec<(Value, Vec<(i64, f64)>)> {
    v.sort_by_key(|x| x.0.to_string());
    v
}

fn eval_err(q: &str) -> LogqlError {
    let parsed = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    query_range(
        &source(),
        &parsed,
        60 * S,
        120 * S,
        60 * S,
        100,
        Direction::Backward,
        &Limits::default(),
    )
    .expect_err(q)
}

fn syntax(q: &str) -> String {
    match parse(q) {
        Err(LogqlError::Syntax { msg, .. }) => msg,
        other => panic!("{q}: expected a syntax error, got {other:?}"),
    }
}

#[test]
fn an_error_ratio_divides_matching_series() {
    let q = r#"sum by (app) (count_over_time({app="api"} |= "error" [1m]))
             / sum by (app) (count_over_time({app="api"}[1m]))"#;
    // t=60: 1 error of 3 lines (10, 50, 55); t=120: 1 of 2 (61, 120).
    let v = series(&range(&source(), q, 60, 120, 60));
    assert_eq!(
        v,
        vec![(json!({"app": "api"}), vec![(60, 1.0 / 3.0), (120, 0.5)])]
    );
    // A series with no partner on the other side is dropped.
    let q = r#"count_over_time({app=~".+"}[1m]) / on (app) count_over_time({app="db"}[1m])"#;
    let v = series(&range(&source(), q, 60, 60, 60));
    assert_eq!(v, vec![(json!({"app": "db"}), vec![(60, 1.0)])]);
}

#[test]
fn numbers_precedence_and_signs() {
    let db = r#"count_over_time({app="db"}[1m])"#;
    for (q, want) in [
        (format!("{db} * 2 + 1"), 3.0),
        (format!("1 + {db} * 2"), 3.0),
        (format!("({db} + 1) * 2"), 4.0),
        (format!("{db} -1"), 0.0),
        (format!("-{db}"), -1.0),
        (format!("{db} - -1"), 2.0),
        (format!("{db} / 4 % 0.2"), 0.05),
        (format!("2 * {db} ^ 2"), 2.0),
    ] {
        let v = series(&range(&source(), &q, 60, 60, 60));
        assert_eq!(v.len(), 1, "{q}");
        assert!((v[0].1[0].1 - want).abs() < 1e-12, "{q}: {v:?}");
        assert_eq!(v[0].0, json!({"app": "db"}), "{q}");
    }
    // `^` is right-associative; numbers alone are folded.
    let v = series(&range(&source(), "2 ^ 3 ^ 2", 60, 120, 60));
    assert_eq!(v, vec![(json!({}), vec![(60, 512.0), (120, 512.0)])]);
    let v = series(&range(&source(), "10 - 4 - 3", 60, 60, 60));
    assert_eq!(v[0].1, vec![(60, 3.0)]);
}

#[test]
fn comparisons_filter_or_answer_with_bool() {
    let api = r#"count_over_time({app="api"}[1m])"#;
    let v = series(&range(&source(), &format!("{api} > 1"), 60, 60, 60));
    assert_eq!(
        v,
        vec![(json!({"app": "api", "env": "prod"}), vec![(60, 2.0)])]
    );
    // The number on the left: the vector's value is kept where true.
    let v = series(&range(&source(), &format!("1 < {api}"), 60, 60, 60));
    assert_eq!(
        v,
        vec![(json!({"app": "api", "env": "prod"}), vec![(60, 2.0)])]
    );
    let v = sorted(series(&range(
        &source(),
        &format!("{api} > bool 1"),
        60,
        60,
        60,
    )));
    assert_eq!(
        v,
        vec![
            (json!({"app": "api", "env": "dev"}), vec![(60, 0.0)]),
            (json!({"app": "api", "env": "prod"}), vec![(60, 1.0)]),
        ]
    );
    // Between vectors: the left value where the comparison holds.
    let q = format!(r#"{api} >= ignoring (env) group_left sum by (app) ({api}) / 2"#);
    let v = series(&range(&source(), &q, 60, 60, 60));
    assert_eq!(
        v,
        vec![(json!({"app": "api", "env": "prod"}), vec![(60, 2.0)])]
    );
}

#[test]
fn group_left_shares_and_many_to_one_must_be_explicit() {
    let api = r#"count_over_time({app="api"}[1m])"#;
    let q = format!("{api} / ignoring (env) group_left sum by (app) ({api})");
    let v = sorted(series(&range(&source(), &q, 60, 60, 60)));
    assert_eq!(
        v,
        vec![
            (json!({"app": "api", "env": "dev"}), vec![(60, 1.0 / 3.0)]),
            (json!({"app": "api", "env": "prod"}), vec![(60, 2.0 / 3.0)]),
        ]
    );
    // group_right: the right side has many; copied labels come from the left.
    let q = format!(
        r#"label_replace(sum by (app) ({api}), "team", "web", "app", "api") * on (app) group_right (team) {api}"#
    );
    let v = sorted(series(&range(&source(), &q, 60, 60, 60)));
    assert_eq!(v.len(), 2);
    assert_eq!(v[1].0, json!({"app": "api", "env": "prod", "team": "web"}));
    assert_eq!(v[1].1, vec![(60, 6.0)]);
    // Without the group modifier, two left series for one right one is refused.
    let e = eval_err(&format!("{api} / on (app) sum by (app) ({api})"));
    assert!(matches!(e, LogqlError::Matching(_)), "{e:?}");
    assert!(e.to_string().contains("group_left"), "{e}");
    assert!(e.is_bad_request());
    // Two right series for one group is many to many.
    let e = eval_err(&format!("sum by (app) ({api}) / on (app) group_left {api}"));
    assert!(e.to_string().contains("many-to-many"), "{e}");
    // One to one with `on`: the result keeps only the `on` labels.
    let q = r#"count_over_time({app="db"}[1m]) + on (app) count_over_time({app="db"}[1m])"#;
    let v = series(&range(&source(), q, 60, 60, 60));
    assert_eq!(v, vec![(json!({"app": "db"}), vec![(60, 2.0)])]);
}

#[test]
fn set_operators_and_vector() {
    let all = r#"count_over_time({app=~".+"}[1m])"#;
    let db = r#"count_over_time({app="db"}[1m])"#;
    let v = series(&range(
        &source(),
        &format!("{all} and on (app) {db}"),
        60,
        60,
        60,
    ));
    assert_eq!(v, vec![(json!({"app": "db"}), vec![(60, 1.0)])]);
    let v = series(&range(
        &source(),
        &format!("{all} unless on (app) {db}"),
        60,
        60,
        60,
    ));
    assert_eq!(v.len(), 2);
    assert!(v.iter().all(|s| s.0["app"] == "api"));
    // `or` fills the steps the left side lacks.
    let q = r#"sum(count_over_time({app="db"}[1m])) or vector(0)"#;
    let v = series(&range(&source(), q, 60, 180, 60));
    assert_eq!(
        v,
        vec![(json!({}), vec![(60, 1.0), (120, 0.0), (180, 0.0)])]
    );
}

#[test]
fn offset_reads_earlier_windows() {
    let q = r#"count_over_time({app="api", env="prod"}[1m] offset 1m)"#;
    // At t=120 the window is (0, 60]: lines at 10 and 50; at t=60 it is (-60, 0]: none.
    let v = series(&range(&source(), q, 60, 120, 60));
    assert_eq!(
        v,
        vec![(json!({"app": "api", "env": "prod"}), vec![(120, 2.0)])]
    );
    // Week over week, as a ratio.
    let q = r#"count_over_time({app="api", env="prod"}[1m]) / count_over_time({app="api", env="prod"}[1m] offset 1m)"#;
    let v = series(&range(&source(), q, 120, 120, 60));
    assert_eq!(v[0].1, vec![(120, 1.0)]);
    assert!(syntax(r#"count_over_time({a="b"}[1m] offset x)"#).contains("duration"));
}

#[test]
fn label_replace_and_sort() {
    let q =
        r#"label_replace(count_over_time({app="api"}[1m]), "stage", "$1-${1}", "env", "(p.*)")"#;
    let v = sorted(series(&range(&source(), q, 60, 60, 60)));
    assert_eq!(v[0].0, json!({"app": "api", "env": "dev"}));
    assert_eq!(
        v[1].0,
        json!({"app": "api", "env": "prod", "stage": "prod-prod"})
    );
    // Relabelling two series into one label set is an error.
    let e = eval_err(r#"label_replace(count_over_time({app="api"}[1m]), "env", "", "env", ".*")"#);
    assert!(e.to_string().contains("same labels"), "{e}");
    assert!(syntax(r#"label_replace(vector(1), "a-b", "", "c", ".*")"#).contains("label name"));
    assert!(syntax(r#"label_replace(vector(1), "a", "", "c", "(")"#).contains("regex"));
    // An instant query keeps the sorted order.
    let src = source();
    let q = parse(r#"sort_desc(count_over_time({app=~".+"}[1m]))"#).unwrap();
    let v = query_instant(&src, &q, 60 * S, &Limits::default()).unwrap();
    let vals: Vec<&str> = v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"][1].as_str().unwrap())
        .collect();
    assert_eq!(vals, ["2", "1", "1"]);
    // approx_topk is answered exactly.
    let q = parse(r#"approx_topk(1, count_over_time({app=~".+"}[1m]))"#).unwrap();
    let v = query_instant(&src, &q, 60 * S, &Limits::default()).unwrap();
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"]["result"][0]["value"][1], "2");
    assert!(syntax(r#"approx_topk by (app) (1, count_over_time({a="b"}[1m]))"#).contains("by"));
    let q = parse(r#"sort(count_over_time({app=~".+"}[1m]))"#).unwrap();
    let v = query_instant(&src, &q, 60 * S, &Limits::default()).unwrap();
    assert_eq!(v["data"]["result"][2]["value"][1], "2");
}

#[test]
fn what_promql_refuses_is_refused_with_the_reason() {
    assert!(syntax("1 > 2").contains("bool"));
    assert_eq!(
        series(&range(&source(), "1 < bool 2", 60, 60, 60))[0].1,
        vec![(60, 1.0)]
    );
    assert!(syntax(r#"1 and count_over_time({a="b"}[1m])"#).contains("set operator"));
    assert!(syntax(r#"count_over_time({a="b"}[1m]) + on (a) 1"#).contains("two vectors"));
    assert!(
        syntax(r#"count_over_time({a="b"}[1m]) + bool count_over_time({a="b"}[1m])"#)
            .contains("comparison")
    );
    assert!(syntax(
        r#"count_over_time({a="b"}[1m]) or on (a) group_left count_over_time({a="b"}[1m])"#
    )
    .contains("many to many"));
    assert!(syntax(r#"vector(count_over_time({a="b"}[1m]))"#).contains("number"));
    assert!(syntax(r#"count_over_time({a="b"}[1m]) +"#).contains("expected"));
    // Deep nesting through signs is bounded, not a stack overflow.
    let deep = format!("{}1", "- ".repeat(10_000));
    assert!(matches!(parse(&deep), Err(LogqlError::TooDeep { .. })));
    let long = format!("vector(1){}", " + vector(1)".repeat(5_000));
    assert!(matches!(parse(&long), Err(LogqlError::TooDeep { .. })));
    let pow = format!("vector(2){}", " ^ 1".repeat(5_000));
    assert!(matches!(parse(&pow), Err(LogqlError::TooDeep { .. })));
    // Sixty terms are fine.
    let ok = format!("vector(1){}", " + vector(1)".repeat(60));
    let v = series(&range(&source(), &ok, 60, 60, 60));
    assert_eq!(v[0].1, vec![(60, 61.0)]);
}

#[test]
fn pattern_line_filters_decolorize_and_unpack() {
    let src = MemorySource::from_records(vec![
        rec(&[("app", "api")], 10, "GET /pay 502 took 31ms"),
        rec(&[("app", "api")], 11, "GET /health 200 took 1ms"),
        rec(&[("app", "api")], 12, "POST /pay 200 took 12ms"),
        rec(
            &[("app", "term")],
            13,
            "\u{1b}[1;31mERROR\u{1b}[0m disk \u{1b}]0;title\u{7}full",
        ),
        rec(
            &[("app", "packed")],
            14,
            r#"{"_entry": "level=warn msg=slow", "pod": "api-7", "app": "x", "n": 3}"#,
        ),
        rec(&[("app", "packed")], 15, "not json"),
    ]);
    let lines = |q: &str| -> Vec<String> {
        streams(&logs(&src, q, 100, Direction::Forward))
            .into_iter()
            .flat_map(|(_, v)| v.into_iter().map(|x| x.1))
            .collect()
    };
    assert_eq!(lines(r#"{app="api"} |> "<_> /pay <_>""#).len(), 2);
    assert_eq!(
        lines(r#"{app="api"} |> "GET <_> took <_>""#),
        ["GET /pay 502 took 31ms", "GET /health 200 took 1ms"]
    );
    assert_eq!(
        lines(r#"{app="api"} !> "<_> 200 <_>""#),
        ["GET /pay 502 took 31ms"]
    );
    // A literal at the end must end the line; at the start, start it.
    assert_eq!(
        lines(r#"{app="api"} |> "<_> 12ms""#),
        ["POST /pay 200 took 12ms"]
    );
    assert!(lines(r#"{app="api"} |> "took <_>""#).is_empty());
    assert!(syntax(r#"{a="b"} |> "<_>""#).contains("no literal"));
    assert!(syntax(r#"{a="b"} |> "<x><y> z""#).contains("two captures"));

    assert_eq!(lines(r#"{app="term"} | decolorize"#), ["ERROR disk full"]);
    assert_eq!(
        lines(r#"{app="term"} | decolorize |= "ERROR disk""#).len(),
        1
    );

    let v = logs(
        &src,
        r#"{app="packed"} | unpack | __error__="" | logfmt"#,
        100,
        Direction::Forward,
    );
    let got = streams(&v);
    assert_eq!(got.len(), 1, "{v}");
    assert_eq!(got[0].1[0].1, "level=warn msg=slow");
    assert_eq!(got[0].0["pod"], "api-7");
    assert_eq!(got[0].0["app_extracted"], "x");
    assert_eq!(got[0].0["level"], "warn");
    assert!(got[0].0.get("n").is_none());
    let v = logs(
        &src,
        r#"{app="packed"} | unpack | __error__!="""#,
        100,
        Direction::Forward,
    );
    assert_eq!(streams(&v)[0].1[0].1, "not json");
}
