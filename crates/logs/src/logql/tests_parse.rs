//! Parser tests: every syntax element, errors with their place, and no panics on any input.

use super::*;
use argus_model::MatchOp;
use proptest::prelude::*;

fn log(q: &str) -> LogQuery {
    match parse(q) {
        Ok(Query::Log(l)) => l,
        other => panic!("{q}: expected a log query, got {other:?}"),
    }
}

fn metric(q: &str) -> MetricExpr {
    match parse(q) {
        Ok(Query::Metric(m)) => m,
        other => panic!("{q}: expected a metric query, got {other:?}"),
    }
}

fn err(q: &str) -> LogqlError {
    match parse(q) {
        Err(e) => e,
        Ok(v) => panic!("{q}: expected an error, got {v:?}"),
    }
}

fn syntax_pos(q: &str) -> (usize, String) {
    match err(q) {
        LogqlError::Syntax { pos, msg } => (pos, msg),
        e => panic!("{q}: expected a syntax error, got {e:?}"),
    }
}

fn unsupported(q: &str) -> (usize, String) {
    match err(q) {
        LogqlError::Unsupported { pos, what } => (pos, what),
        e => panic!("{q}: expected an unsupported error, got {e:?}"),
    }
}

#[test]
fn selector_with_all_operators() {
    let m = parse_selector(r#"{a="b", c=~"x.*", d!="", e!~"y",}"#).unwrap();
    let ops: Vec<(&str, MatchOp, &str)> = m
        .iter()
        .map(|m| (m.name.as_str(), m.op, m.value.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            ("a", MatchOp::Eq, "b"),
            ("c", MatchOp::Re, "x.*"),
            ("d", MatchOp::Neq, ""),
            ("e", MatchOp::Nre, "y"),
        ]
    );
    // Regexes are anchored.
    assert!(m[1].matches("xyz"));
    assert!(!m[1].matches("axyz"));
}

#[test]
fn strings_go_escapes_and_backticks() {
    let m = parse_selector(r#"{a="q\"\\\n\t\u00e9\x41\101"}"#).unwrap();
    assert_eq!(m[0].value, "q\"\\\n\té\x41A");
    let m = parse_selector(r#"{a=`raw\n"x"`}"#).unwrap();
    assert_eq!(m[0].value, r#"raw\n"x""#);
    let (pos, msg) = syntax_pos(r#"{a="\q"}"#);
    assert_eq!(pos, 4);
    assert!(msg.contains("escape"), "{msg}");
    let (pos, msg) = syntax_pos(r#"{a="open}"#);
    assert_eq!(pos, 3);
    assert!(msg.contains("not closed"), "{msg}");
    let (_, msg) = syntax_pos("{a=`open}");
    assert!(msg.contains("backtick"), "{msg}");
}

#[test]
fn selector_needs_a_non_empty_matcher() {
    for q in [
        "{}",
        r#"{a=""}"#,
        r#"{a=~".*"}"#,
        r#"{a!="x"}"#,
        r#"{a!=""}"#,
        r#"{a!~"x"}"#,
    ] {
        let e = err(q);
        assert!(
            matches!(e, LogqlError::EmptyCompatible { pos: 0 }),
            "{q}: {e:?}"
        );
        assert!(e
            .to_string()
            .contains("at least one regexp or equality matcher"));
        assert!(e.is_bad_request());
    }
    parse_selector(r#"{a=~".+"}"#).unwrap();
    parse_selector(r#"{a="x", b=""}"#).unwrap();
}

#[test]
fn selector_errors_name_the_place() {
    let (pos, msg) = syntax_pos(r#"{a="b" c="d"}"#);
    assert_eq!(pos, 7);
    assert!(msg.contains("`,` or `}`"), "{msg}");
    let (pos, msg) = syntax_pos(r#"{a>"b"}"#);
    assert_eq!(pos, 2);
    assert!(msg.contains("after label `a`"), "{msg}");
    let (pos, msg) = syntax_pos(r#"{a=~"("}"#);
    assert_eq!(pos, 1);
    assert!(msg.contains("regex"), "{msg}");
    let (pos, _) = syntax_pos(r#"{a="b"} extra"#);
    assert_eq!(pos, 8);
    let e = err(r#"{a="b"} € "#);
    assert!(e.to_string().contains("byte 8"), "{e}");
    assert!(parse_selector(r#"{a="b"} |= "x""#).is_err());
}

#[test]
fn line_filters_chain() {
    let l = log(r#"{a="b"} |= "err" != `debug` |~ "time(out)?" !~ "(?i)retry""#);
    let f: Vec<(LineOp, &str)> = l
        .stages
        .iter()
        .map(|s| match s {
            Stage::Line(f) => (f.op, f.text.as_str()),
            _ => panic!("{s:?}"),
        })
        .collect();
    assert_eq!(
        f,
        [
            (LineOp::Contains, "err"),
            (LineOp::NotContains, "debug"),
            (LineOp::Match, "time(out)?"),
            (LineOp::NotMatch, "(?i)retry"),
        ]
    );
    let (pos, msg) = syntax_pos(r#"{a="b"} |~ "(""#);
    assert_eq!(pos, 11);
    assert!(msg.contains("invalid regex"), "{msg}");
    let (pos, msg) = syntax_pos(r#"{a="b"} |= 3"#);
    assert_eq!(pos, 11);
    assert!(msg.contains("line filter"), "{msg}");
}

#[test]
fn parsers_and_flags() {
    let l = log(r#"{a="b"} | json | logfmt | logfmt --strict --keep-empty"#);
    assert!(matches!(l.stages[0], Stage::Json));
    assert!(matches!(l.stages[1], Stage::Logfmt { strict: false }));
    assert!(matches!(l.stages[2], Stage::Logfmt { strict: true }));
    let (_, msg) = syntax_pos(r#"{a="b"} | logfmt --fast"#);
    assert!(msg.contains("--fast"), "{msg}");
    let (pos, what) = unsupported(r#"{a="b"} | json x="y""#);
    assert_eq!(pos, 15);
    assert!(what.contains("json"), "{what}");
    let (pos, msg) = syntax_pos(r#"{a="b"} | yaml"#);
    assert_eq!(pos, 10);
    assert!(msg.contains("`yaml`"), "{msg}");
}

fn label_expr(q: &str) -> LabelExpr {
    let l = log(q);
    match l.stages.last() {
        Some(Stage::Labels(e)) => e.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn label_filters_strings_numbers_durations_bytes() {
    match label_expr(r#"{a="b"} | json | level=~"err.*""#) {
        LabelExpr::Str(m) => {
            assert_eq!((m.name.as_str(), m.op), ("level", MatchOp::Re));
            assert!(m.matches("error") && !m.matches("xerror"));
        }
        e => panic!("{e:?}"),
    }
    let num = |q: &str| match label_expr(q) {
        LabelExpr::Num {
            name,
            op,
            value,
            kind,
        } => (name, op, value, kind),
        e => panic!("{e:?}"),
    };
    assert_eq!(
        num(r#"{a="b"} | status >= 500"#),
        ("status".into(), CmpOp::Ge, 500.0, NumKind::Number)
    );
    assert_eq!(
        num(r#"{a="b"} | x == -2.5"#),
        ("x".into(), CmpOp::Eq, -2.5, NumKind::Number)
    );
    assert_eq!(
        num(r#"{a="b"} | x = 3"#),
        ("x".into(), CmpOp::Eq, 3.0, NumKind::Number)
    );
    assert_eq!(
        num(r#"{a="b"} | x != 3"#),
        ("x".into(), CmpOp::Ne, 3.0, NumKind::Number)
    );
    assert_eq!(
        num(r#"{a="b"} | duration > 1m30s"#),
        ("duration".into(), CmpOp::Gt, 90.0, NumKind::Duration)
    );
    assert_eq!(
        num(r#"{a="b"} | d < 250ms"#),
        ("d".into(), CmpOp::Lt, 0.25, NumKind::Duration)
    );
    assert_eq!(
        num(r#"{a="b"} | size <= 2KiB"#),
        ("size".into(), CmpOp::Le, 2048.0, NumKind::Bytes)
    );
    let (pos, msg) = syntax_pos(r#"{a="b"} | x > 5zz"#);
    assert_eq!(pos, 14);
    assert!(msg.contains("5zz"), "{msg}");
    let (pos, msg) = syntax_pos(r#"{a="b"} | x > "5""#);
    assert_eq!(pos, 14);
    assert!(msg.contains("not a string"), "{msg}");
    let (pos, msg) = syntax_pos(r#"{a="b"} | x =~ 5"#);
    assert_eq!(pos, 15);
    assert!(msg.contains("expected a value"), "{msg}");
}

fn shape(e: &LabelExpr) -> String {
    match e {
        LabelExpr::And(a, b) => format!("({} and {})", shape(a), shape(b)),
        LabelExpr::Or(a, b) => format!("({} or {})", shape(a), shape(b)),
        LabelExpr::Str(m) => m.name.clone(),
        LabelExpr::Num { name, .. } => name.clone(),
    }
}

#[test]
fn label_filters_combine_with_and_over_or() {
    let e = label_expr(r#"{a="b"} | x="1" or y="2" and z>3"#);
    assert_eq!(shape(&e), "(x or (y and z))");
    let e = label_expr(r#"{a="b"} | x="1", y="2" z="3""#);
    assert_eq!(shape(&e), "((x and y) and z)");
    let e = label_expr(r#"{a="b"} | (x="1" or y="2") and z>3"#);
    assert_eq!(shape(&e), "((x or y) and z)");
    let (_, msg) = syntax_pos(r#"{a="b"} | (x="1" or y="2""#);
    assert!(msg.contains("`)`"), "{msg}");
}

#[test]
fn unsupported_stages_are_named() {
    for (q, name, pos) in [
        (r#"{a="b"} | distinct a"#, "distinct", 10),
        (r#"sum(rate({a="b"} | distinct a [1m]))"#, "distinct", 19),
    ] {
        let (p, what) = unsupported(q);
        assert!(what.contains(name), "{q}: {what}");
        assert_eq!(p, pos, "{q}");
        let text = err(q).to_string();
        assert!(
            text.contains("not supported") && text.contains(name),
            "{text}"
        );
    }
}

#[test]
fn pattern_and_regexp_parse_and_bad_ones_are_named() {
    assert!(matches!(
        parse(r#"{a="b"} | pattern "<ip> - <_> <status>""#).unwrap(),
        Query::Log(ref l) if matches!(l.stages[0], Stage::Pattern(_))
    ));
    assert!(matches!(
        parse(r#"{a="b"} | regexp "(?P<status>\\d{3})""#).unwrap(),
        Query::Log(ref l) if matches!(l.stages[0], Stage::Regexp(_))
    ));
    let (pos, msg) = syntax_pos(r#"{a="b"} | pattern "<x><y>""#);
    assert_eq!(pos, 18);
    assert!(msg.contains("two captures"), "{msg}");
    let (_, msg) = syntax_pos(r#"{a="b"} | regexp "(\\d+)""#);
    assert!(msg.contains("names no group"), "{msg}");
    let (_, msg) = syntax_pos(r#"{a="b"} | pattern status"#);
    assert!(msg.contains("quoted string"), "{msg}");
}

#[test]
fn range_functions_and_durations() {
    for (q, f, ns) in [
        (
            r#"count_over_time({a="b"}[5m])"#,
            RangeFn::CountOverTime,
            300,
        ),
        (r#"rate({a="b"} |= "x" [1h30m])"#, RangeFn::Rate, 5400),
        (
            r#"bytes_over_time({a="b"}[30s] | json)"#,
            RangeFn::BytesOverTime,
            30,
        ),
        (
            r#"bytes_rate({a="b"} | logfmt [1d])"#,
            RangeFn::BytesRate,
            86400,
        ),
        (r#"rate({a="b"}[1m0s])"#, RangeFn::Rate, 60),
    ] {
        match metric(q) {
            MetricExpr::Range {
                func,
                range_ns,
                log,
                ..
            } => {
                assert_eq!(func, f, "{q}");
                assert_eq!(range_ns, ns * 1_000_000_000, "{q}");
                assert_eq!(log.matchers.len(), 1);
            }
            e => panic!("{e:?}"),
        }
    }
    // A pipeline after the range is kept.
    match metric(r#"count_over_time({a="b"}[5m] |= "x" | json)"#) {
        MetricExpr::Range { log, .. } => assert_eq!(log.stages.len(), 2),
        e => panic!("{e:?}"),
    }
    match metric(r#"rate({a="b"}[500ms])"#) {
        MetricExpr::Range { range_ns, .. } => assert_eq!(range_ns, 500_000_000),
        e => panic!("{e:?}"),
    }
    let (pos, msg) = syntax_pos(r#"count_over_time({a="b"}[5x])"#);
    assert_eq!(pos, 23);
    assert!(msg.contains("positive duration"), "{msg}");
    let (_, msg) = syntax_pos(r#"count_over_time({a="b"}[0s])"#);
    assert!(msg.contains("positive duration"), "{msg}");
    let (pos, msg) = syntax_pos(r#"count_over_time({a="b"})"#);
    assert_eq!(pos, 23);
    assert!(msg.contains("[5m]"), "{msg}");
    let (_, msg) = syntax_pos(r#"{a="b"}[5m]"#);
    assert!(msg.contains("count_over_time"), "{msg}");
    let (pos, msg) = syntax_pos(r#"count_over_time({a="b"}[5m]"#);
    assert_eq!(pos, 27);
    assert!(msg.contains("end of the query"), "{msg}");
}

#[test]
fn aggregations_with_grouping_before_or_after() {
    let agg = |q: &str| match metric(q) {
        MetricExpr::Agg {
            op,
            k,
            grouping,
            inner,
        } => (op, k, grouping, inner),
        e => panic!("{e:?}"),
    };
    let (op, k, g, _) = agg(r#"sum by (a, b) (rate({a="b"}[5m]))"#);
    assert_eq!(
        (op, k, g),
        (
            AggOp::Sum,
            None,
            Some(Grouping::By(vec!["a".into(), "b".into()]))
        )
    );
    let (op, _, g, _) = agg(r#"avg(rate({a="b"}[5m])) without (c)"#);
    assert_eq!(
        (op, g),
        (AggOp::Avg, Some(Grouping::Without(vec!["c".into()])))
    );
    let (op, k, g, inner) = agg(r#"topk(3, sum by (x) (count_over_time({a="b"}[1m])))"#);
    assert_eq!((op, k, g), (AggOp::Topk, Some(3), None));
    assert!(matches!(*inner, MetricExpr::Agg { op: AggOp::Sum, .. }));
    let (op, k, g, _) = agg(r#"bottomk by (x) (2, rate({a="b"}[1m]))"#);
    assert_eq!(
        (op, k, g),
        (
            AggOp::Bottomk,
            Some(2),
            Some(Grouping::By(vec!["x".into()]))
        )
    );
    for op in ["min", "max", "count", "stddev", "stdvar"] {
        agg(&format!(r#"{op}(rate({{a="b"}}[1m])) by ()"#));
    }
    let (pos, msg) = syntax_pos(r#"topk(0, rate({a="b"}[1m]))"#);
    assert_eq!(pos, 5);
    assert!(msg.contains("positive whole number"), "{msg}");
    let (_, msg) = syntax_pos(r#"sum by (a) (rate({a="b"}[1m])) by (b)"#);
    assert!(msg.contains("twice"), "{msg}");
    let (pos, msg) = syntax_pos(r#"summ(rate({a="b"}[1m]))"#);
    assert_eq!(pos, 0);
    assert!(msg.contains("unknown function `summ`"), "{msg}");
    let (_, msg) = syntax_pos(r#"sum by (a b) (rate({a="b"}[1m]))"#);
    assert!(msg.contains("label list"), "{msg}");
    // Parentheses around a metric expression.
    agg(r#"(sum(rate({a="b"}[1m])))"#);
}

#[test]
fn limits_on_length_and_depth() {
    let long = format!(r#"{{a="{}"}}"#, "x".repeat(MAX_QUERY_BYTES));
    assert!(matches!(err(&long), LogqlError::TooLong { .. }));
    let deep = format!(
        "{}count_over_time({{a=\"b\"}}[1m]){}",
        "sum(".repeat(100),
        ")".repeat(100)
    );
    assert!(matches!(err(&deep), LogqlError::TooDeep { .. }));
    let deep = format!(r#"{{a="b"}} | {}x="1"{}"#, "(".repeat(100), ")".repeat(100));
    assert!(matches!(err(&deep), LogqlError::TooDeep { .. }));
    let many = format!(
        r#"{{a="b"}} | {}"#,
        vec![r#"x="1""#; MAX_TERMS + 1].join(" and ")
    );
    assert!(matches!(err(&many), LogqlError::Unsupported { .. }));
    let ok = format!(
        r#"{{a="b"}} | {}"#,
        vec![r#"x="1""#; MAX_TERMS].join(" or ")
    );
    log(&ok);
}

#[test]
fn drop_and_keep_lists() {
    let l = log(r#"{a="b"} | drop __error__, level="debug" | keep app, pod=~"web-.*""#);
    match &l.stages[..] {
        [Stage::Drop(d), Stage::Keep(k)] => {
            assert_eq!(d.len(), 2);
            assert!(d[0].selects("__error__", "anything"));
            assert!(d[1].selects("level", "debug") && !d[1].selects("level", "info"));
            assert!(k[1].selects("pod", "web-1") && !k[1].selects("pod", "db-1"));
            assert!(!k[0].selects("pod", "web-1"));
        }
        other => panic!("{other:?}"),
    }
    let (pos, msg) = syntax_pos(r#"{a="b"} | drop "x""#);
    assert_eq!(pos, 15);
    assert!(msg.contains("after `drop`"), "{msg}");
}

#[test]
fn comments_and_whitespace() {
    let l = log("{a=\"b\"} # the api\n |= \"x\"\t| json");
    assert_eq!(l.stages.len(), 2);
}

const VALID: &[&str] = &[
    r#"{a="b", c=~"x.*"} |= "err" != `d` | json | level="error" or status>=500"#,
    r#"sum by (level) (count_over_time({a="b"} | logfmt | duration > 10s [5m]))"#,
    r#"topk(3, sum(rate({a=~".+"} |~ "t(x)?" [1h])) without (x))"#,
    r#"bytes_rate({a="b"}[30s] | json | (a="1", b!~"2") and size < 1KB)"#,
    r#"{a="b"} | logfmt | line_format "{{.level | ToUpper}} {{ __line__ }}" | label_format x=y, z="{{.a}}-{{.b}}""#,
    r#"quantile_over_time(0.99, {a="b"} | json | unwrap duration(took) | __error__="" [5m]) by (h)"#,
    r#"sum by (h) (avg_over_time({a="b"}[1m] | logfmt | unwrap bytes(size)))"#,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_on_any_string(s in "\\PC{0,200}") {
        let _ = parse(&s);
        let _ = parse_selector(&s);
    }

    #[test]
    fn never_panics_on_logql_like_text(s in "[{}()\\[\\]|=!~<>,\"`a-z0-9_ .-]{0,120}") {
        let _ = parse(&s);
    }

    #[test]
    fn never_panics_on_mutated_queries(
        which in 0..VALID.len(),
        edits in proptest::collection::vec((any::<usize>(), 0u8..3, any::<char>()), 1..6),
    ) {
        let mut q: Vec<char> = VALID[which].chars().collect();
        for (at, kind, c) in edits {
            let i = at % (q.len() + 1);
            match kind {
                0 => q.insert(i, c),
                1 if i < q.len() => { q.remove(i); }
                _ if i < q.len() => q[i] = c,
                _ => q.push(c),
            }
        }
        let s: String = q.into_iter().collect();
        if let Err(e) = parse(&s) {
            // Every error renders, and syntax errors point inside the query.
            let _ = e.to_string();
            if let LogqlError::Syntax { pos, .. } | LogqlError::Unsupported { pos, .. } = e {
                prop_assert!(pos <= s.len());
            }
        }
    }
}

#[test]
fn valid_examples_parse() {
    for q in VALID {
        parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    }
}
