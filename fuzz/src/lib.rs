//! The bodies of Argus's fuzz targets, one function per parser of outside input.
//!
//! Each `fuzz_targets/<name>.rs` is a one-line libFuzzer wrapper around the
//! function of the same name here, and `tests/corpus.rs` replays every file of
//! `corpus/<name>/` through it on the stable toolchain, without libFuzzer. A
//! target must never panic on any input; where it is cheap, it also asserts
//! what a successful parse promises (limits kept, labels valid and sorted,
//! times in order).

use std::sync::OnceLock;
use std::time::Duration;

use argus_model::{is_valid_label_name, is_valid_metric_name, Labels, ManualClock, METRIC_NAME};
use argus_promql::{parse, tree_depth, Engine, EngineOptions, MemStorage, ParseLimits, Value};
use argus_tsdb::{AppendStats, Appender, SampleError, TsdbError};

/// Every target, by name: the fuzz binaries, the corpus directories and the
/// replay test all use these names.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("remote_write", remote_write),
    ("text_exposition", text_exposition),
    ("json_push", json_push),
    ("promql", promql),
    ("alert_json", alert_json),
    ("alertmanager_config", alertmanager_config),
    ("server_config", server_config),
    ("rule_file", rule_file),
    ("log_push", log_push),
    ("logql", logql),
];

/// "Now" for the targets that need a clock: 2023-11-14T22:13:20Z.
pub const NOW_MS: i64 = 1_700_000_000_000;

/// An appender that checks what a receiver hands the store and then discards it.
#[derive(Default)]
struct CheckingAppender {
    appended: u64,
    /// Most pairs one sample may carry (text parser's `max_labels`).
    max_pairs: Option<usize>,
}

impl Appender for CheckingAppender {
    fn append_pairs(
        &mut self,
        pairs: &[(&str, &str)],
        _t: i64,
        _v: f64,
    ) -> Result<(), SampleError> {
        // The store's contract: sorted by name, names unique, a valid metric
        // name, valid label names, no empty values.
        assert!(
            pairs.windows(2).all(|w| w[0].0 < w[1].0),
            "pairs not sorted or not unique: {pairs:?}"
        );
        let name = pairs.iter().find(|(n, _)| *n == METRIC_NAME);
        assert!(
            name.is_some_and(|(_, v)| is_valid_metric_name(v)),
            "bad metric name: {pairs:?}"
        );
        for (n, v) in pairs {
            assert!(
                *n == METRIC_NAME || is_valid_label_name(n),
                "bad label name {n:?}"
            );
            assert!(!v.is_empty(), "empty value for {n:?}");
        }
        if let Some(max) = self.max_pairs {
            assert!(pairs.len() <= max, "{} pairs, limit {max}", pairs.len());
        }
        self.appended += 1;
        Ok(())
    }

    fn commit(self) -> Result<AppendStats, TsdbError> {
        Ok(AppendStats::default())
    }

    fn rollback(self) {}
}

fn check_report(r: &argus_ingest::IngestReport, app: &CheckingAppender) {
    assert_eq!(
        r.accepted, app.appended,
        "accepted count differs from appends"
    );
    assert!(r.errors.len() <= argus_ingest::MAX_REPORTED_ERRORS);
    assert!(r.errors.len() as u64 <= r.rejected);
}

/// remote_write 1.0: the input is tried as a snappy body (the HTTP path) and as
/// an uncompressed `WriteRequest`, which is then compressed and must decode to
/// the same report through the HTTP path.
pub fn remote_write(data: &[u8]) {
    use argus_ingest::remote_write::{
        check_content_encoding, check_content_type, ingest_remote_write, ingest_write_request,
    };
    let mut app = CheckingAppender::default();
    if let Ok(r) = ingest_remote_write(&mut app, data, None, None) {
        check_report(&r, &app);
    }

    let mut raw_app = CheckingAppender::default();
    let raw = ingest_write_request(&mut raw_app, data);
    if let Ok(r) = &raw {
        check_report(r, &raw_app);
    }
    if data.len() <= argus_ingest::MAX_BODY_BYTES / 2 {
        let body = snap::raw::Encoder::new()
            .compress_vec(data)
            .expect("snappy compresses anything");
        let mut app = CheckingAppender::default();
        let via_http = ingest_remote_write(
            &mut app,
            &body,
            Some("application/x-protobuf;proto=prometheus.WriteRequest"),
            Some("snappy"),
        );
        match (&raw, &via_http) {
            (Ok(a), Ok(b)) => {
                assert_eq!((a.accepted, a.rejected), (b.accepted, b.rejected));
                assert_eq!(a.errors, b.errors);
            }
            (Err(_), Err(_)) => {}
            _ => panic!("snappy changed the outcome: {raw:?} vs {via_http:?}"),
        }
    }

    // The header checks see outside text too.
    if let Ok(s) = std::str::from_utf8(data) {
        if s.len() <= 256 {
            let _ = check_content_type(Some(s));
            let _ = check_content_encoding(Some(s));
        }
    }
}

/// The Prometheus text format 0.0.4 and OpenMetrics 1.0 (scrapes and the import
/// endpoint), with a label limit that the accepted samples must keep.
pub fn text_exposition(data: &[u8]) {
    use argus_ingest::text::{ingest_text_limited, parse_metadata, TextFormat};
    for format in [TextFormat::Prometheus, TextFormat::OpenMetrics] {
        let max_labels = 8;
        let mut app = CheckingAppender {
            max_pairs: Some(max_labels),
            ..Default::default()
        };
        let r = ingest_text_limited(&mut app, data, NOW_MS, format, max_labels);
        check_report(&r, &app);
        let _ = parse_metadata(data, format);
    }
}

/// The JSON push format (`POST /api/v1/push`), arrays and newline-delimited.
pub fn json_push(data: &[u8]) {
    let clock = ManualClock::new(NOW_MS);
    let mut app = CheckingAppender::default();
    if let Ok(r) = argus_ingest::push::ingest_json(&mut app, data, &clock) {
        check_report(&r, &app);
    }
}

/// Tight limits, so that a fuzzer's query costs milliseconds.
fn promql_options() -> EngineOptions {
    EngineOptions {
        lookback_ms: 300_000,
        max_samples: 10_000,
        timeout: Duration::from_secs(2),
        parse: ParseLimits {
            max_length: 4096,
            max_depth: 64,
        },
        max_subquery_points: 5_000,
        max_memory_bytes: 16 << 20,
        // A pool of its own per query, a little larger than one query's
        // limit: the reservation code runs on every input.
        memory_pool: Some(argus_promql::MemoryPool::new(24 << 20)),
    }
}

/// A tiny store: a few counters and gauges, one sample every 30 s for 10 minutes.
fn promql_store() -> &'static MemStorage {
    static STORE: OnceLock<MemStorage> = OnceLock::new();
    STORE.get_or_init(|| {
        let mut m = MemStorage::new();
        let series: [&[(&str, &str)]; 6] = [
            &[("__name__", "up"), ("job", "api"), ("instance", "a:9100")],
            &[("__name__", "up"), ("job", "db"), ("instance", "b:9100")],
            &[
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("code", "200"),
            ],
            &[
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("code", "500"),
            ],
            &[("__name__", "req_duration_seconds_bucket"), ("le", "0.1")],
            &[("__name__", "req_duration_seconds_bucket"), ("le", "+Inf")],
        ];
        for (i, l) in series.iter().enumerate() {
            let labels = Labels::from_pairs(l);
            for k in 0..=20i64 {
                let v = match i {
                    0 => 1.0,
                    1 => (k % 2) as f64,
                    2..=5 => (k * (i as i64)) as f64,
                    _ => unreachable!(),
                };
                m.add(&labels, k * 30_000, v);
            }
        }
        m
    })
}

/// PromQL: the guarded parser, and then the evaluator (instant and range) over
/// a tiny store with tight limits. A successful parse must keep its limits.
pub fn promql(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let opts = promql_options();
    let limits = opts.parse;
    let Ok(expr) = parse(text, &limits) else {
        return;
    };
    assert!(
        text.len() <= limits.max_length,
        "parse passed the length limit"
    );
    let depth = tree_depth(&expr);
    assert!(
        depth <= limits.max_depth,
        "parse passed the depth limit: {depth}"
    );
    drop(expr);

    let engine = Engine::new(opts);
    let store = promql_store();
    let _ = engine.instant_query(store, text, 300_000);
    if let Ok(v) = engine.range_query(store, text, 0, 600_000, 60_000) {
        match v {
            Value::Matrix(m) => {
                for s in &m {
                    assert!(s.samples.len() <= 11, "more points than steps");
                }
            }
            other => panic!("a range query returned {other:?}"),
        }
    }
}

/// Alertmanager's `POST /api/v2/alerts` body, decoded and converted the way the
/// API does.
pub fn alert_json(data: &[u8]) {
    use argus_alert::alert::{format_rfc3339, parse_rfc3339};
    let Ok(posted) = serde_json::from_slice::<Vec<argus_alert::PostableAlert>>(data) else {
        return;
    };
    for p in posted {
        let Ok(a) = p.into_alert(NOW_MS, 300_000) else {
            continue;
        };
        assert!(!a.labels.is_empty(), "an alert without labels was accepted");
        assert!(
            a.ends_at >= a.starts_at,
            "an alert that ends before it starts was accepted"
        );
        let _ = argus_alert::fingerprint(&a.labels);
        // Times the API writes back must read back as the same instant (years 1..=9999).
        for t in [a.starts_at, a.ends_at] {
            if (-62_135_596_800_000..=253_402_300_799_999).contains(&t) {
                let text = format_rfc3339(t);
                assert_eq!(parse_rfc3339(&text), Ok(t), "{text}");
            }
        }
    }
}

/// The Alertmanager configuration file (`alerting.config_file`, `/-/reload`).
pub fn alertmanager_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `templates:` names files to read; a fuzzer must not read the machine's files.
    if text.contains("templates") {
        return;
    }
    let Ok(cfg) = argus_alert::config::Config::parse(text, "fuzz/alertmanager.yml") else {
        return;
    };
    // What the dispatcher builds from an accepted file.
    let _ = argus_alert::route::RouteTree::build(&cfg.route);
}

/// Argus's own configuration file, and what the server derives from it at start.
pub fn server_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = argus_server::config::Config::from_yaml_str(text, "fuzz/argus.yml") else {
        return;
    };
    let _ = cfg.evaluation_interval();
    let _ = cfg.effective_scrape_configs();
    let _ = cfg.tsdb_options();
}

/// A Prometheus rule file. Every expression of an accepted file parses.
pub fn rule_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = argus_rules::parse_rule_file("fuzz/rules.yml", text) else {
        return;
    };
    let mut names = std::collections::HashSet::new();
    for g in &file.groups {
        assert!(!g.name.is_empty());
        assert!(names.insert(g.name.as_str()), "group {:?} repeated", g.name);
        for r in &g.rules {
            assert!(
                parse(&r.expr, &ParseLimits::default()).is_ok(),
                "accepted rule expression does not parse: {:?}",
                r.expr
            );
        }
    }
}

/// Every log and event decoder, picked by the first byte: Loki push (protobuf
/// after snappy, JSON), OTLP logs (protobuf, JSON), JSON lines, syslog, and
/// CloudEvents or Kubernetes events. A kept record must keep the limits.
pub fn log_push(data: &[u8]) {
    use argus_logs::push::{self, DecodeLimits, JsonLinesOptions};
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let limits = DecodeLimits {
        max_line_bytes: 4096,
        max_labels: 8,
        max_label_value_bytes: 256,
        max_body_bytes: 1 << 20,
    };
    let now = NOW_MS * 1_000_000;
    let decoded = match which % 7 {
        0 => push::decode_loki(body, Some("application/x-protobuf"), None, &limits).ok(),
        1 => push::decode_loki(body, Some("application/json"), None, &limits).ok(),
        2 => push::decode_otlp(body, Some("application/x-protobuf"), None, now, &limits).ok(),
        3 => push::decode_otlp(body, Some("application/json"), None, now, &limits).ok(),
        4 => {
            let opts = JsonLinesOptions {
                label_fields: vec!["service".into(), "level".into()],
                ..JsonLinesOptions::default()
            };
            push::decode_json_lines(body, None, &opts, now, &limits).ok()
        }
        5 => Some(push::decode_syslog(body, now, &limits)),
        _ => {
            let headers = [(
                "content-type".to_string(),
                "application/cloudevents-batch+json".to_string(),
            )];
            let _ = argus_logs::events::decode_events(body, &headers, now, &limits);
            None
        }
    };
    for r in decoded.iter().flat_map(|d| &d.records) {
        assert!(
            r.line.len() <= limits.max_line_bytes,
            "a line over the limit was kept"
        );
        assert!(
            r.labels.len() <= limits.max_labels,
            "a stream over the label limit was kept"
        );
        for l in r.labels.iter() {
            assert!(
                is_valid_label_name(&l.name),
                "invalid label name {:?}",
                l.name
            );
        }
    }
}

/// A small set of streams for the LogQL target.
fn log_source() -> &'static argus_logs::record::MemorySource {
    static SRC: OnceLock<argus_logs::record::MemorySource> = OnceLock::new();
    SRC.get_or_init(|| {
        use argus_logs::record::{LogRecord, MemorySource};
        let s = 1_000_000_000i64;
        let t0 = NOW_MS * 1_000_000;
        let lines = [
            r#"{"level":"error","req":{"ms":12},"path":"/pay"}"#,
            "level=info msg=\"order shipped\" took=35ms size=2KB",
            r#"10.0.0.7 "GET /pay HTTP/1.1" 502 31"#,
            "plain text line with error in it",
        ];
        MemorySource::from_records((0..40).map(|i| {
            let app = if i % 2 == 0 { "api" } else { "db" };
            let mut r = LogRecord::new(
                Labels::from_pairs(&[("app", app), ("env", "prod")]),
                t0 - 600 * s + i * 15 * s,
                lines[i as usize % lines.len()],
            );
            r.metadata.push(("trace_id".into(), format!("t{}", i % 3)));
            r
        }))
    })
}

/// LogQL: parse any text; run what parses over a small store within limits.
pub fn logql(data: &[u8]) {
    use argus_logs::logql::{self, Direction, Limits};
    let Ok(q) = std::str::from_utf8(data) else {
        return;
    };
    let _ = logql::parse_selector(q);
    let Ok(parsed) = logql::parse(q) else {
        return;
    };
    let limits = Limits {
        max_lines_scanned: 10_000,
        max_series: 500,
        max_steps: 200,
    };
    let end = NOW_MS * 1_000_000;
    let start = end - 900_000_000_000;
    let _ = logql::query_range(
        log_source(),
        &parsed,
        start,
        end,
        60_000_000_000,
        50,
        Direction::Backward,
        &limits,
    );
    let _ = logql::query_instant(log_source(), &parsed, end, &limits);
}
