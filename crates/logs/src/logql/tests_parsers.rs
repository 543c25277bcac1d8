//! Evaluator tests of the parsers and label stages (`json`, `logfmt`, `pattern`, `regexp`,
//! `drop`, `keep`, label filters, structured metadata), over a [`MemorySource`].

use super::tests_eval::{logs, matrix, pts, range, rec, streams};
use super::*;
use crate::record::{LogRecord, MemorySource};
use argus_model::Labels;
use serde_json::json;

#[test]
fn json_extraction_flattens_and_marks_errors() {
    let src = MemorySource::from_records(vec![
        rec(
            &[("app", "api"), ("level", "x")],
            1,
            r#"{"level":"error","req":{"ms":12,"path":"/a"},"tags":[1],"ok":true,"n":null,"1st":"y","a-b":"z"}"#,
        ),
        rec(&[("app", "api"), ("level", "x")], 2, "not json"),
    ]);
    let v = logs(&src, r#"{app="api"} | json"#, 100, Direction::Forward);
    let s = streams(&v);
    assert_eq!(s.len(), 2);
    assert_eq!(
        s[0].0,
        json!({"_1st": "y", "a_b": "z", "app": "api", "level": "x", "level_extracted": "error", "ok": "true", "req_ms": "12", "req_path": "/a"})
    );
    assert_eq!(
        s[1].0,
        json!({"__error__": "JSONParserErr", "app": "api", "level": "x"})
    );
    assert_eq!(
        s[1].1,
        vec![("2000000000".to_string(), "not json".to_string())]
    );
    let v = logs(
        &src,
        r#"{app="api"} | json | __error__="""#,
        100,
        Direction::Forward,
    );
    assert_eq!(streams(&v).len(), 1);
    let v = logs(
        &src,
        r#"{app="api"} | json | req_ms > 10 and req_path=~"/.*""#,
        100,
        Direction::Forward,
    );
    assert_eq!(streams(&v).len(), 1);
    let v = logs(
        &src,
        r#"{app="api"} | json | req_ms > 12"#,
        100,
        Direction::Forward,
    );
    // The errored line passes numeric filters (Loki keeps it); the parsed one is dropped.
    let s = streams(&v);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0["__error__"], "JSONParserErr");
}

#[test]
fn drop_and_keep_change_stream_labels() {
    let src = MemorySource::from_records(vec![
        rec(&[("app", "api"), ("pod", "p1")], 1, "level=info x=1"),
        rec(&[("app", "api"), ("pod", "p2")], 2, "level=debug x=2"),
        rec(&[("app", "api"), ("pod", "p2")], 3, "{bad"),
    ]);
    let v = range(
        &src,
        r#"sum by (level) (count_over_time({app="api"} | json | drop __error__ [1m]))"#,
        60,
        60,
        60,
    );
    // All three lines are JSON errors; dropping `__error__` counts them in one group.
    assert_eq!(matrix(&v), vec![(json!({}), pts(&[(60, "3")]))]);
    let v = logs(
        &src,
        r#"{app="api"} | logfmt | drop pod, level="debug""#,
        100,
        Direction::Forward,
    );
    let s = streams(&v);
    assert_eq!(
        s.iter().map(|x| x.0.clone()).collect::<Vec<_>>(),
        [
            json!({"app": "api"}),
            json!({"app": "api", "level": "info", "x": "1"}),
            json!({"app": "api", "x": "2"})
        ]
    );
    let v = logs(
        &src,
        r#"{app="api"} | logfmt | keep app, x="1""#,
        100,
        Direction::Forward,
    );
    let s = streams(&v);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].0, json!({"app": "api"}));
    assert_eq!(s[0].1.len(), 2);
    assert_eq!(s[1].0, json!({"app": "api", "x": "1"}));
}

#[test]
fn logfmt_extraction_strict_and_lenient() {
    let src = MemorySource::from_records(vec![
        rec(
            &[("app", "api")],
            1,
            r#"level=info msg="hello \"you\"" duration=1.5s flag"#,
        ),
        rec(&[("app", "api")], 2, r#"level=warn =oops size=3KB"#),
    ]);
    let v = logs(&src, r#"{app="api"} | logfmt"#, 100, Direction::Forward);
    let s = streams(&v);
    assert_eq!(
        s[0].0,
        json!({"app": "api", "duration": "1.5s", "level": "info", "msg": "hello \"you\""})
    );
    assert_eq!(
        s[1].0,
        json!({"app": "api", "level": "warn", "size": "3KB"})
    );
    let v = logs(
        &src,
        r#"{app="api"} | logfmt --strict"#,
        100,
        Direction::Forward,
    );
    let s = streams(&v);
    // Label sets sort by name: `__error__` comes first.
    assert_eq!(
        s[0].0,
        json!({"__error__": "LogfmtParserErr", "app": "api", "level": "warn"})
    );
    assert_eq!(s[1].0["msg"], "hello \"you\"");
    let v = logs(
        &src,
        r#"{app="api"} | logfmt | duration > 1s"#,
        100,
        Direction::Forward,
    );
    let s = streams(&v);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0["level"], "info");
    let v = logs(
        &src,
        r#"{app="api"} | logfmt | size >= 3000B"#,
        100,
        Direction::Forward,
    );
    let s = streams(&v);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0["level"], "warn");
    // A value that is not a duration passes and is marked, as Loki does.
    let v = logs(
        &src,
        r#"{app="api"} | logfmt | level > 1s"#,
        100,
        Direction::Forward,
    );
    let s = streams(&v);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].0["__error__"], "LabelFilterErr");
    assert_eq!(s[1].0["__error__"], "LabelFilterErr");
}

#[test]
fn label_filter_numbers_and_or() {
    let src = MemorySource::from_records(
        [200, 404, 500, 503]
            .iter()
            .enumerate()
            .map(|(i, c)| rec(&[("app", "web")], i as i64 + 1, &format!("status={c}"))),
    );
    let lines = |q: &str| -> Vec<String> {
        let v = logs(&src, q, 100, Direction::Forward);
        let mut out: Vec<(String, String)> = streams(&v).into_iter().flat_map(|s| s.1).collect();
        out.sort();
        out.into_iter().map(|x| x.1).collect()
    };
    assert_eq!(
        lines(r#"{app="web"} | logfmt | status >= 500"#),
        ["status=500", "status=503"]
    );
    assert_eq!(
        lines(r#"{app="web"} | logfmt | status == 404"#),
        ["status=404"]
    );
    assert_eq!(
        lines(r#"{app="web"} | logfmt | status != 404, status < 500"#),
        ["status=200"]
    );
    assert_eq!(
        lines(r#"{app="web"} | logfmt | status = 200 or status > 501"#),
        ["status=200", "status=503"]
    );
    assert_eq!(
        lines(r#"{app="web"} | logfmt | missing > 1"#),
        Vec::<String>::new()
    );
}

#[test]
fn pattern_and_regexp_extract_labels_for_filters_and_sums() {
    let s = 1_000_000_000i64;
    let app = Labels::from_pairs(&[("app", "web")]);
    let src = MemorySource::from_records(vec![
        LogRecord::new(app.clone(), 10 * s, r#"10.0.0.7 "GET /pay" 502 31"#),
        LogRecord::new(app.clone(), 20 * s, r#"10.0.0.8 "GET /pay" 200 12"#),
        LogRecord::new(app.clone(), 30 * s, r#"10.0.0.7 "POST /cart" 503 9"#),
        LogRecord::new(app.clone(), 40 * s, "garbage line"),
    ]);
    let q = parse(r#"sum by (status) (count_over_time({app="web"} | pattern "<ip> \"<method> <uri>\" <status> <_>" | status >= 500 [1m]))"#).unwrap();
    let v = query_instant(&src, &q, 60 * s, &Limits::default()).unwrap();
    let r = v["data"]["result"].as_array().unwrap();
    let mut got: Vec<(String, String)> = r
        .iter()
        .map(|x| {
            (
                x["metric"]["status"].as_str().unwrap().to_string(),
                x["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![("502".into(), "1".into()), ("503".into(), "1".into())]
    );
    let q = parse(r#"{app="web"} | regexp "^(?P<ip>\\S+) " | ip="10.0.0.7""#).unwrap();
    let v = query_range(
        &src,
        &q,
        0,
        100 * s,
        0,
        100,
        Direction::Forward,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        v["data"]["result"][0]["values"].as_array().unwrap().len(),
        2,
        "{v}"
    );
}

#[test]
fn structured_metadata_is_filtered_and_grouped_like_labels() {
    let s = 1_000_000_000i64;
    let svc = Labels::from_pairs(&[("service_name", "checkout")]);
    let rec = |t: i64, level: &str, line: &str| {
        let mut r = LogRecord::new(svc.clone(), t * s, line);
        r.metadata.push(("detected_level".into(), level.into()));
        r.metadata.push(("trace.id".into(), format!("t{t}")));
        r
    };
    let src = MemorySource::from_records(vec![
        rec(10, "error", "payment failed"),
        rec(20, "info", "order shipped"),
        rec(30, "error", "stock missing"),
    ]);
    let q = parse(r#"{service_name="checkout"} | detected_level="error""#).unwrap();
    let v = query_range(
        &src,
        &q,
        0,
        100 * s,
        0,
        100,
        Direction::Forward,
        &Limits::default(),
    )
    .unwrap();
    let r = v["data"]["result"].as_array().unwrap();
    assert_eq!(r.len(), 2, "one stream per trace id: {v}");
    assert_eq!(r[0]["stream"]["trace_id"], "t10");
    assert_eq!(r[0]["values"][0][1], "payment failed");
    let q = parse(r#"sum by (detected_level) (count_over_time({service_name="checkout"} [1m]))"#)
        .unwrap();
    let v = query_instant(&src, &q, 60 * s, &Limits::default()).unwrap();
    let mut got: Vec<(String, String)> = v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["metric"]["detected_level"].as_str().unwrap().to_string(),
                x["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![("error".into(), "2".into()), ("info".into(), "1".into())]
    );
}
