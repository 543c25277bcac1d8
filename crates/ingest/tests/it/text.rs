use crate::common::{get, VecApp};
use argus_ingest::text::{ingest_text, TextFormat, TextParser};

#[test]
fn invalid_lines_table() {
    // (line, column, reason fragment)
    let cases: &[(&str, usize, &str)] = &[
        ("m{a=\"b\" 1", 9, "expected ',' or '}'"),
        ("m{a=\"b} 1", 5, "unterminated label value"),
        ("m{a=\"\\x\"} 1", 6, "invalid escape"),
        ("m 1 NaN", 5, "invalid timestamp"),
        ("m{1a=\"x\"} 1", 3, "invalid label name"),
        ("m{a=\"1\",a=\"2\"} 1", 9, "duplicate label name"),
        ("m{__name__=\"x\"} 1", 3, "duplicate label name"),
        ("m", 2, "missing value"),
        ("m abc", 3, "invalid value"),
        ("m 1 2 3", 7, "unexpected text"),
        ("{a=\"b\"} 1", 1, "missing metric name"),
        ("1m 1", 1, "invalid metric name"),
        ("m{a} 1", 4, "expected '='"),
        ("m{a=b} 1", 5, "expected '\"'"),
        ("# TYPE m nonsense", 10, "unknown metric type"),
    ];
    for (line, col, reason) in cases {
        let body = format!("ok 1\n{line}\n");
        let got: Vec<_> = TextParser::new(body.as_bytes(), TextFormat::Prometheus).collect();
        assert!(got[0].is_ok());
        let e = got[1].as_ref().expect_err(line);
        assert_eq!((e.line, e.column), (2, *col), "{line}: {e}");
        assert!(e.reason.contains(reason), "{line}: {e}");
    }
}

#[test]
fn valid_lines_table() {
    let cases: &[(&str, &str, f64, Option<i64>, usize)] = &[
        ("m{} 1", "m", 1.0, None, 0),
        ("m{a=\"b\",} 2 3", "m", 2.0, Some(3), 1),
        (
            "  m { a = \"b\" , c=\"d\" }\t-Inf",
            "m",
            f64::NEG_INFINITY,
            None,
            2,
        ),
        ("m:sub_total 1e3 -5", "m:sub_total", 1000.0, Some(-5), 0),
        ("m +Inf", "m", f64::INFINITY, None, 0),
        ("m 1\r", "m", 1.0, None, 0),
    ];
    for (line, name, v, ts, nl) in cases {
        let s = TextParser::new(line.as_bytes(), TextFormat::Prometheus)
            .next()
            .unwrap()
            .expect(line);
        assert_eq!(
            (s.name, s.value, s.timestamp_ms, s.labels.len()),
            (*name, *v, *ts, *nl),
            "{line}"
        );
    }
}

const NODE: &str = r#"# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 2.14859225e+06
node_cpu_seconds_total{cpu="0",mode="iowait"} 1234.56
# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.
# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{device="/dev/sda1",fstype="ext4",mountpoint="/"} 1.2345e+10
# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 0.42
# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 2.1e-05
go_gc_duration_seconds{quantile="1"} NaN
go_gc_duration_seconds_sum 0.5
go_gc_duration_seconds_count 1234
# HELP node_uname_info Labeled system information as provided by the uname system call.
# TYPE node_uname_info gauge
node_uname_info{domainname="(none)",machine="x86_64",nodename="host \"one\"\\a\nb",release="6.1.0",sysname="Linux"} 1
"#;

#[test]
fn node_exporter_payload() {
    let mut app = VecApp::default();
    let r = ingest_text(
        &mut app,
        NODE.replace('\n', "\r\n").as_bytes(),
        77,
        TextFormat::Prometheus,
    );
    assert_eq!((r.accepted, r.rejected), (9, 0), "{:?}", r.errors);
    assert!(app.staged.iter().all(|s| s.1 == 77));
    let uname = app
        .staged
        .iter()
        .find(|s| get(s, "__name__") == Some("node_uname_info"))
        .unwrap();
    assert_eq!(get(uname, "nodename"), Some("host \"one\"\\a\nb"));
    let meta = argus_ingest::text::parse_metadata(NODE.as_bytes(), TextFormat::Prometheus);
    assert_eq!(
        meta["go_gc_duration_seconds"].metric_type.as_str(),
        "summary"
    );
    assert_eq!(meta["node_load1"].help, "1m load average.");
}

#[test]
fn openmetrics_payload() {
    let body = "# TYPE req counter\n# UNIT req_seconds seconds\n# HELP req Requests.\nreq_total{code=\"200\"} 10 1700000000.5 # {trace_id=\"abc\"} 1 1700000000\nreq_created{code=\"200\"} 1699999999\n# EOF\n";
    let mut app = VecApp::default();
    let r = ingest_text(&mut app, body.as_bytes(), 0, TextFormat::OpenMetrics);
    assert_eq!((r.accepted, r.rejected), (1, 0), "{:?}", r.errors);
    assert_eq!(app.staged[0].1, 1_700_000_000_500);
}

#[test]
fn good_lines_kept_around_bad_ones() {
    let body = b"a 1\nb{x=\"1\" 2\nc 3 NaN\nd 4\n\xff\xfe 5\n";
    let mut app = VecApp::default();
    let r = ingest_text(&mut app, body, 10, TextFormat::Prometheus);
    assert_eq!((r.accepted, r.rejected), (2, 3));
    assert!(r.errors[0].starts_with("line 2, column"));
    assert!(r.errors[1].starts_with("line 3, column 5"));
    assert!(r.errors[2].contains("UTF-8"));
}
