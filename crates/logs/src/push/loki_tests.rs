use super::proto::*;
use super::*;
use argus_model::Labels;

fn snappy(b: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(b).unwrap()
}

fn entry(s: i64, n: i32, line: &str) -> EntryAdapter {
    EntryAdapter {
        timestamp: Some(Timestamp {
            seconds: s,
            nanos: n,
        }),
        line: line.to_string(),
        structured_metadata: vec![],
    }
}

// PushRequest{streams:[{labels:`{a="b"}`, entries:[{timestamp:{1s,2ns}, line:"hi",
// structuredMetadata:[{k,v}]}]}]}, encoded by hand from push.proto's field numbers.
const FIXTURE: &[u8] = &[
    0x0a, 0x1d, // PushRequest.streams (1, LEN) 29 bytes
    0x0a, 0x07, // StreamAdapter.labels (1, LEN) 7 bytes
    b'{', b'a', b'=', b'"', b'b', b'"', b'}', //
    0x12, 0x12, // StreamAdapter.entries (2, LEN) 18 bytes
    0x0a, 0x04, // EntryAdapter.timestamp (1, LEN) 4 bytes
    0x08, 0x01, // Timestamp.seconds (1, varint) 1
    0x10, 0x02, // Timestamp.nanos (2, varint) 2
    0x12, 0x02, b'h', b'i', // EntryAdapter.line (2, LEN) "hi"
    0x1a, 0x06, // EntryAdapter.structuredMetadata (3, LEN) 6 bytes
    0x0a, 0x01, b'k', // LabelPairAdapter.name (1, LEN) "k"
    0x12, 0x01, b'v', // LabelPairAdapter.value (2, LEN) "v"
];

#[test]
fn byte_exact_protobuf_fixture() {
    let want = PushRequest {
        streams: vec![StreamAdapter {
            labels: r#"{a="b"}"#.to_string(),
            entries: vec![EntryAdapter {
                structured_metadata: vec![LabelPairAdapter {
                    name: "k".into(),
                    value: "v".into(),
                }],
                ..entry(1, 2, "hi")
            }],
            hash: 0,
        }],
    };
    assert_eq!(want.encode_to_vec(), FIXTURE);
    // Snappy block format by hand too: length varint 31, one literal of 31 bytes.
    let mut body = vec![0x1f, 30 << 2];
    body.extend_from_slice(FIXTURE);
    let d = decode_loki(
        &body,
        Some("application/x-protobuf"),
        None,
        &DecodeLimits::default(),
    )
    .unwrap();
    assert_eq!(
        d.records,
        vec![LogRecord {
            labels: Labels::from_pairs(&[("a", "b")]),
            ts_ns: 1_000_000_002,
            line: "hi".into(),
            metadata: vec![("k".into(), "v".into())],
        }]
    );
    assert!(d.refused.is_empty());
}

#[test]
fn protobuf_mixed_good_and_bad() {
    let req = PushRequest {
        streams: vec![
            StreamAdapter {
                labels: r#"{service="api", env="prod"}"#.into(),
                entries: vec![
                    entry(1_700_000_000, 5, "ok 1"),
                    EntryAdapter {
                        timestamp: None,
                        ..entry(0, 0, "no time")
                    },
                    entry(1_700_000_001, -1, "bad nanos"),
                    entry(1_700_000_002, 0, &"x".repeat(300)),
                    entry(1_700_000_003, 0, "ok 2"),
                ],
                hash: 7,
            },
            StreamAdapter {
                labels: "{}".into(),
                entries: vec![entry(1, 0, "a"), entry(2, 0, "b")],
                hash: 0,
            },
            StreamAdapter {
                labels: r#"{service.name="x"}"#.into(),
                entries: vec![entry(1, 0, "a")],
                hash: 0,
            },
            StreamAdapter {
                labels: r#"{service="x""#.into(),
                entries: vec![entry(1, 0, "a")],
                hash: 0,
            },
        ],
    };
    let limits = DecodeLimits {
        max_line_bytes: 100,
        ..DecodeLimits::default()
    };
    let d = decode_loki(&snappy(&req.encode_to_vec()), None, None, &limits).unwrap();
    let lines: Vec<&str> = d.records.iter().map(|r| r.line.as_str()).collect();
    assert_eq!(lines, ["ok 1", "ok 2"]);
    assert_eq!(d.records[0].ts_ns, 1_700_000_000_000_000_005);
    assert_eq!(
        d.records[0].labels,
        Labels::from_pairs(&[("env", "prod"), ("service", "api")])
    );
    let refused: Vec<String> = d.refused.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        refused,
        [
            "stream 1, entry 2: the entry has no timestamp",
            "stream 1, entry 3: the timestamp's nanoseconds -1 are not between 0 and 999999999",
            "stream 1, entry 4: the line is 300 bytes, over the limit of 100",
            "stream 2, entry 1: the stream has no labels; give it at least one",
            "stream 2, entry 2: the stream has no labels; give it at least one",
            "stream 3, entry 1: the label name \"service.name\" is not valid (letters, digits and _, not starting with a digit)",
            "stream 4, entry 1: the labels \"{service=\\\"x\\\"\" are not a label set: expected ',' or '}' at byte 12",
        ]
    );
}

#[test]
fn protobuf_whole_body_errors() {
    let l = DecodeLimits::default();
    let e = decode_loki(b"not snappy at all", None, None, &l).unwrap_err();
    assert!(matches!(e, PushError::Snappy(_)), "{e}");
    // Valid snappy, not protobuf (a field with wire type 7).
    let e = decode_loki(&snappy(&[0x0f, 0x01]), None, None, &l).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("the body is not a valid logproto.PushRequest protobuf message"),
        "{e}"
    );
}

#[test]
fn gzip_json_push() {
    // The shape of the example in Loki's HTTP API documentation.
    let body = br#"{
      "streams": [
        {
          "stream": { "label": "value" },
          "values": [
              [ "1570818238000000000", "fizzbuzz" ],
              [ "1570818239000000000", "with metadata", {"trace_id": "0242ac120002", "user_id": "superUser123"} ]
          ]
        }
      ]
    }"#;
    let gz = crate::push::tests::gzip(body);
    let d = decode_loki(
        &gz,
        Some("application/json; charset=utf-8"),
        Some("gzip"),
        &DecodeLimits::default(),
    )
    .unwrap();
    assert_eq!(d.records.len(), 2);
    assert_eq!(d.records[0].ts_ns, 1_570_818_238_000_000_000);
    assert_eq!(d.records[0].line, "fizzbuzz");
    assert_eq!(
        d.records[1].metadata,
        vec![
            ("trace_id".to_string(), "0242ac120002".to_string()),
            ("user_id".to_string(), "superUser123".to_string())
        ]
    );
    assert_eq!(d.records[1].labels.get("label"), Some("value"));
}

#[test]
fn json_mixed_good_and_bad() {
    let body = br#"{"streams":[
        {"stream":{"app":"a"},"values":[["1","one"],["abc","x"],[2,"two"],["3"],["4","m",{"k":1}]]},
        {"stream":{"app":5},"values":[["1","x"]]},
        {"stream":{"app":"b"}}
    ]}"#;
    let d = decode_loki(
        body,
        Some("application/json"),
        None,
        &DecodeLimits::default(),
    )
    .unwrap();
    let lines: Vec<(&str, i64)> = d
        .records
        .iter()
        .map(|r| (r.line.as_str(), r.ts_ns))
        .collect();
    assert_eq!(lines, [("one", 1), ("two", 2)]);
    let refused: Vec<String> = d.refused.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        refused,
        [
            "stream 1, entry 2: the timestamp \"abc\" is not a number of nanoseconds",
            "stream 1, entry 4: the entry is not [\"<ns>\", \"<line>\"] or [\"<ns>\", \"<line>\", {metadata}]",
            "stream 1, entry 5: the structured metadata \"k\" is not a string",
            "stream 2, entry 1: the value of label \"app\" is not a string",
            "stream 3: the stream has no \"values\" array",
        ]
    );
}

#[test]
fn json_whole_body_errors() {
    let l = DecodeLimits::default();
    let e = decode_loki(b"{nope", Some("application/json"), None, &l).unwrap_err();
    assert!(e
        .to_string()
        .starts_with("the body is not a Loki JSON push request: "));
    let e = decode_loki(b"[]", Some("application/json"), None, &l).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the body is not a Loki JSON push request: it has no \"streams\" array"
    );
}

#[test]
fn label_set_parsing() {
    let p = |s: &str| parse_label_set(s);
    let pairs = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(p("{}").unwrap(), pairs(&[]));
    assert_eq!(
        p(r#" { a = "b" , c="d", } "#).unwrap(),
        pairs(&[("a", "b"), ("c", "d")])
    );
    assert_eq!(
        p(r#"{a="\x41\101\u00e9\U0001F600\t\\\"", b='it\'s'}"#).unwrap(),
        pairs(&[("a", "AAé😀\t\\\""), ("b", "it's")])
    );
    assert_eq!(p(r#"{a="日本"}"#).unwrap(), pairs(&[("a", "日本")]));
    assert_eq!(
        p(r#"{a="b"#).unwrap_err(),
        LabelSetError {
            offset: 5,
            reason: "the value has no closing quote"
        }
    );
    assert_eq!(p(r#"a="b""#).unwrap_err().reason, "expected '{'");
    assert_eq!(
        p(r#"{a="\q"}"#).unwrap_err().reason,
        "an unknown escape sequence"
    );
    assert_eq!(
        p(r#"{a="\xff"}"#).unwrap_err().reason,
        "a byte escape that is not UTF-8 text"
    );
    assert_eq!(
        p(r#"{a="\u12"}"#).unwrap_err().reason,
        "a bad escape sequence"
    );
    assert_eq!(
        p(r#"{a="\u12"#).unwrap_err().reason,
        "a short escape sequence"
    );
    assert_eq!(
        p(r#"{"service.name"="x", b="y"}"#).unwrap(),
        pairs(&[("service.name", "x"), ("b", "y")])
    );
    assert_eq!(p(r#"{,}"#).unwrap_err().reason, "expected a label name");
    assert_eq!(
        p(r#"{a="\uD800"}"#).unwrap_err().reason,
        "an escape that is not a Unicode character"
    );
    assert_eq!(
        p(r#"{a=b}"#).unwrap_err().reason,
        "expected a quoted label value"
    );
    assert_eq!(
        p(r#"{a="b"} x"#).unwrap_err().reason,
        "unexpected text after '}'"
    );
    assert_eq!(
        p(r#"{a!="b"}"#).unwrap_err().reason,
        "expected '=' after the label name"
    );
}
