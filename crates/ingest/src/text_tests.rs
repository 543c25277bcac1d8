//! Unit tests of the text parser.

use super::*;

fn one(line: &str, f: TextFormat) -> Result<TextSample<'_>, ParseError> {
    TextParser::new(line.as_bytes(), f).next().unwrap()
}

#[test]
fn values_and_timestamps() {
    let s = one("m +Inf", TextFormat::Prometheus).unwrap();
    assert_eq!(s.value, f64::INFINITY);
    assert!(one("m NaN", TextFormat::Prometheus).unwrap().value.is_nan());
    assert_eq!(
        one("m{} -Inf 5", TextFormat::Prometheus)
            .unwrap()
            .timestamp_ms,
        Some(5)
    );
    let s = one("m 1 1.5 # {a=\"b\"} 1\n# EOF\n", TextFormat::OpenMetrics).unwrap();
    assert_eq!(s.timestamp_ms, Some(1500));
    assert!(one("m 1 NaN", TextFormat::OpenMetrics)
        .unwrap_err()
        .reason
        .contains("finite"));
    assert!(one("m 1 NaN", TextFormat::Prometheus)
        .unwrap_err()
        .reason
        .contains("invalid timestamp"));
    assert!(one("m 0x10", TextFormat::Prometheus)
        .unwrap_err()
        .reason
        .contains("invalid value"));
}

#[test]
fn escapes() {
    let s = one(r#"m{a="x\\y\"z\n"} 1"#, TextFormat::Prometheus).unwrap();
    assert_eq!(s.labels[0].1, "x\\y\"z\n");
    let e = one(r#"m{a="x\q"} 1"#, TextFormat::Prometheus).unwrap_err();
    assert_eq!(e.column, 7);
}

#[test]
fn help_and_created() {
    let body =
        b"# HELP c_total Count of \\n things\n# TYPE c counter\nc_total 1\nc_created 17\n# EOF\n";
    let mut p = TextParser::new(body, TextFormat::OpenMetrics);
    let got: Vec<_> = p.by_ref().collect();
    assert_eq!(got.len(), 1);
    assert_eq!(p.metadata()["c_total"].help, "Count of \n things");
    assert_eq!(p.metadata()["c"].metric_type, MetricType::Counter);
}

/// 100 000 labels on one line: duplicates are found without comparing
/// every pair, and a label limit stops the line early with its number.
#[test]
fn many_labels_per_line() {
    let mut line = String::from("m{");
    for i in 0..100_000 {
        line.push_str(&format!("l{i}=\"v\","));
    }
    let dup_col = line.len() + 1;
    line.push_str("l5=\"again\"} 1\n");
    let e = one(&line, TextFormat::Prometheus).unwrap_err();
    assert_eq!(e.reason, "duplicate label name \"l5\"");
    assert_eq!(e.column, dup_col);
    let body = format!("ok 1\n{line}");
    let got: Vec<_> = TextParser::new(body.as_bytes(), TextFormat::Prometheus)
        .with_max_labels(64)
        .collect();
    assert!(got[0].is_ok());
    let e = got[1].as_ref().unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.reason.contains("more than 64 labels"), "{}", e.reason);
    // Exactly at the limit: the metric name and 63 labels.
    let mut at = String::from("m{");
    for i in 0..63 {
        at.push_str(&format!("l{i}=\"v\","));
    }
    at.push_str("} 1");
    let s = TextParser::new(at.as_bytes(), TextFormat::Prometheus)
        .with_max_labels(64)
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(s.labels.len(), 63);
}

#[test]
fn openmetrics_eof_rules() {
    let got: Vec<_> = TextParser::new(b"m 1\n", TextFormat::OpenMetrics).collect();
    assert_eq!(got.len(), 2);
    assert!(got[1].as_ref().unwrap_err().reason.contains("EOF"));
    let got: Vec<_> = TextParser::new(b"# EOF\nm 1\n", TextFormat::OpenMetrics).collect();
    assert_eq!(got[0].as_ref().unwrap_err().line, 2);
    assert_eq!(
        TextFormat::from_content_type(Some("application/openmetrics-text; version=1.0.0")),
        TextFormat::OpenMetrics
    );
    assert_eq!(
        TextFormat::from_content_type(Some("text/plain")),
        TextFormat::Prometheus
    );
}
