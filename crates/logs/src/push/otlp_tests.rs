use super::json::severity_by_name;
use super::proto::LogRecord;
use super::proto::*;
use super::*;
use argus_model::Labels;

fn meta(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn s(v: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Av::StringValue(v.into())),
    })
}

fn kv(k: &str, v: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: v,
    }
}

const PB: Option<&str> = Some("application/x-protobuf");

// ExportLogsServiceRequest with one resource (service.name=api), one scope ("s") and one
// record, encoded by hand from the field numbers and wire types of the OTLP protos.
const FIXTURE: &[u8] = &[
    0x0a, 0x4d, // ExportLogsServiceRequest.resource_logs (1, LEN) 77 bytes
    0x0a, 0x17, // ResourceLogs.resource (1, LEN) 23 bytes
    0x0a, 0x15, // Resource.attributes (1, LEN) 21 bytes
    0x0a, 0x0c, // KeyValue.key (1, LEN) 12 bytes
    b's', b'e', b'r', b'v', b'i', b'c', b'e', b'.', b'n', b'a', b'm', b'e', //
    0x12, 0x05, // KeyValue.value (2, LEN) 5 bytes
    0x0a, 0x03, b'a', b'p', b'i', // AnyValue.string_value (1, LEN) "api"
    0x12, 0x32, // ResourceLogs.scope_logs (2, LEN) 50 bytes
    0x0a, 0x03, // ScopeLogs.scope (1, LEN) 3 bytes
    0x0a, 0x01, b's', // InstrumentationScope.name (1, LEN) "s"
    0x12, 0x2b, // ScopeLogs.log_records (2, LEN) 43 bytes
    0x09, 1, 0, 0, 0, 0, 0, 0, 0, // LogRecord.time_unix_nano (1, I64) 1
    0x10, 0x09, // LogRecord.severity_number (2, varint) 9 = INFO
    0x1a, 0x04, b'I', b'N', b'F', b'O', // LogRecord.severity_text (3, LEN)
    0x2a, 0x04, 0x0a, 0x02, b'h', b'i', // LogRecord.body (5, LEN) {string_value "hi"}
    0x45, 1, 0, 0, 0, // LogRecord.flags (8, I32) 1
    0x4a, 0x01, 0xab, // LogRecord.trace_id (9, LEN)
    0x52, 0x01, 0xcd, // LogRecord.span_id (10, LEN)
    0x59, 2, 0, 0, 0, 0, 0, 0, 0, // LogRecord.observed_time_unix_nano (11, I64) 2
];

#[test]
fn byte_exact_protobuf_fixture() {
    let want = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("service.name", s("api"))],
                dropped_attributes_count: 0,
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "s".into(),
                    version: String::new(),
                }),
                log_records: vec![LogRecord {
                    time_unix_nano: 1,
                    severity_number: 9,
                    severity_text: "INFO".into(),
                    body: s("hi"),
                    flags: 1,
                    trace_id: vec![0xab],
                    span_id: vec![0xcd],
                    observed_time_unix_nano: 2,
                    ..LogRecord::default()
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    assert_eq!(want.encode_to_vec(), FIXTURE);
    let d = decode_otlp(FIXTURE, PB, None, 99, &DecodeLimits::default()).unwrap();
    assert!(d.refused.is_empty());
    assert_eq!(
        d.records,
        vec![crate::record::LogRecord {
            labels: Labels::from_pairs(&[("service_name", "api")]),
            ts_ns: 1,
            line: "hi".into(),
            metadata: meta(&[
                ("scope_name", "s"),
                ("severity_text", "INFO"),
                ("severity_number", "9"),
                ("trace_id", "ab"),
                ("span_id", "cd"),
                ("flags", "1"),
                ("observed_timestamp", "2"),
                ("detected_level", "info"),
            ]),
        }]
    );
}

#[test]
fn any_value_kinds_by_hand() {
    // Each AnyValue oneof member, encoded by hand: (bytes, rendering).
    let cases: [(&[u8], &str); 6] = [
        (&[0x10, 0x01], "true"),                        // bool_value (2, varint)
        (&[0x18, 0x05], "5"),                           // int_value (3, varint)
        (&[0x21, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f], "1.5"), // double_value (4, I64)
        (&[0x2a, 0x04, 0x0a, 0x02, 0x18, 0x07], "[7]"), // array_value (5, LEN) [int 7]
        (&[0x32, 0x05, 0x0a, 0x03, 0x0a, 0x01, b'k'], r#"{"k":null}"#), // kvlist_value (6)
        (&[0x3a, 0x02, 0xff, 0x00], "/wA="),            // bytes_value (7, LEN)
    ];
    for (bytes, want) in cases {
        let v = AnyValue::decode(bytes).unwrap();
        assert_eq!(render(&v), want, "{bytes:02x?}");
    }
}

#[test]
fn protobuf_mapping_labels_metadata_and_times() {
    let kvlist = |pairs: Vec<KeyValue>| {
        Some(AnyValue {
            value: Some(Av::KvlistValue(KeyValueList { values: pairs })),
        })
    };
    let req = ExportLogsServiceRequest {
        resource_logs: vec![
            ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", s("checkout")),
                        kv("k8s.namespace.name", s("shop")),
                        kv("k8s.pod.name", s("checkout-7d9f")),
                        kv("host.name", s("node-3")),
                        kv(
                            "process.pid",
                            Some(AnyValue {
                                value: Some(Av::IntValue(42)),
                            }),
                        ),
                    ],
                    dropped_attributes_count: 0,
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: "io.shop.Checkout".into(),
                        version: "2.1".into(),
                    }),
                    log_records: vec![
                        LogRecord {
                            time_unix_nano: 1_700_000_000_000_000_000,
                            severity_text: "Warning".into(),
                            body: kvlist(vec![kv("msg", s("slow")), kv("ms", s("900"))]),
                            attributes: vec![kv(
                                "http",
                                kvlist(vec![kv("method", s("GET")), kv("status.code", s("200"))]),
                            )],
                            ..LogRecord::default()
                        },
                        LogRecord {
                            observed_time_unix_nano: 1_700_000_000_000_000_001,
                            severity_number: 17,
                            body: s("observed only"),
                            ..LogRecord::default()
                        },
                        LogRecord {
                            body: s("no time"),
                            ..LogRecord::default()
                        },
                        LogRecord {
                            time_unix_nano: u64::MAX,
                            body: s("far future"),
                            ..LogRecord::default()
                        },
                    ],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            },
            // No resource at all.
            ResourceLogs {
                resource: None,
                scope_logs: vec![ScopeLogs {
                    scope: None,
                    log_records: vec![LogRecord {
                        time_unix_nano: 5,
                        body: None,
                        ..LogRecord::default()
                    }],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            },
        ],
    };
    let body = crate::push::tests::gzip(&req.encode_to_vec());
    let d = decode_otlp(&body, None, Some("gzip"), 777, &DecodeLimits::default()).unwrap();
    assert_eq!(d.records.len(), 4);
    let r = &d.records[0];
    assert_eq!(
        r.labels,
        Labels::from_pairs(&[
            ("k8s_namespace_name", "shop"),
            ("k8s_pod_name", "checkout-7d9f"),
            ("service_name", "checkout"),
        ])
    );
    assert_eq!(r.line, r#"{"msg":"slow","ms":"900"}"#);
    assert_eq!(
        r.metadata,
        meta(&[
            ("host_name", "node-3"),
            ("process_pid", "42"),
            ("scope_name", "io.shop.Checkout"),
            ("scope_version", "2.1"),
            ("http_method", "GET"),
            ("http_status_code", "200"),
            ("severity_text", "Warning"),
            ("detected_level", "warn"),
        ])
    );
    assert_eq!(d.records[1].ts_ns, 1_700_000_000_000_000_001);
    assert!(d.records[1]
        .metadata
        .contains(&("detected_level".into(), "error".into())));
    assert_eq!(
        (d.records[2].ts_ns, d.records[2].line.as_str()),
        (777, "no time")
    );
    let last = &d.records[3];
    assert_eq!(
        last.labels,
        Labels::from_pairs(&[("service_name", "unknown_service")])
    );
    assert_eq!((last.ts_ns, last.line.as_str()), (5, ""));
    assert_eq!(
        d.refused,
        vec![Refusal::new(
            "resource 1, scope 1, record 4",
            "the time 18446744073709551615 ns is after the year 2262 and out of range"
        )]
    );
}

#[test]
fn protobuf_whole_body_error_and_long_lines() {
    let e = decode_otlp(b"\xff\xff\xff", PB, None, 0, &DecodeLimits::default()).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("the body is not a valid ExportLogsServiceRequest protobuf message"),
        "{e}"
    );
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    LogRecord {
                        body: s("short"),
                        ..LogRecord::default()
                    },
                    LogRecord {
                        body: s(&"y".repeat(11)),
                        ..LogRecord::default()
                    },
                ],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    };
    let limits = DecodeLimits {
        max_line_bytes: 10,
        ..DecodeLimits::default()
    };
    let d = decode_otlp(&req.encode_to_vec(), PB, None, 1, &limits).unwrap();
    assert_eq!(d.records.len(), 1);
    assert_eq!(
        d.summary(),
        "1 accepted, 1 refused (resource 1, scope 1, record 2: the line is 11 bytes, over the limit of 10)"
    );
}

/// The shape of `examples/logs.json` in the opentelemetry-proto repository.
const JSON_SAMPLE: &str = r#"{
  "resourceLogs": [
    {
      "resource": {
        "attributes": [
          { "key": "service.name", "value": { "stringValue": "my.service" } }
        ]
      },
      "scopeLogs": [
        {
          "scope": {
            "name": "my.library",
            "version": "1.0.0",
            "attributes": [
              { "key": "my.scope.attribute", "value": { "stringValue": "some scope attribute" } }
            ]
          },
          "logRecords": [
            {
              "timeUnixNano": "1544712660300000000",
              "observedTimeUnixNano": "1544712660300000000",
              "severityNumber": 10,
              "severityText": "Information",
              "traceId": "5B8EFFF798038103D269B633813FC60C",
              "spanId": "EEE19B7EC3C1B174",
              "body": { "stringValue": "Example log record" },
              "attributes": [
                { "key": "string.attribute", "value": { "stringValue": "some string" } },
                { "key": "boolean.attribute", "value": { "boolValue": true } },
                { "key": "int.attribute", "value": { "intValue": "10" } },
                { "key": "double.attribute", "value": { "doubleValue": 637.704 } },
                { "key": "array.attribute", "value": { "arrayValue": { "values": [
                  { "stringValue": "many" }, { "stringValue": "values" } ] } } },
                { "key": "map.attribute", "value": { "kvlistValue": { "values": [
                  { "key": "some.map.key", "value": { "stringValue": "some value" } } ] } } }
              ]
            }
          ]
        }
      ]
    }
  ]
}"#;

#[test]
fn json_sample_from_the_otlp_examples() {
    let d = decode_otlp(
        JSON_SAMPLE.as_bytes(),
        Some("application/json"),
        None,
        0,
        &DecodeLimits::default(),
    )
    .unwrap();
    assert!(d.refused.is_empty(), "{}", d.summary());
    assert_eq!(
        d.records,
        vec![crate::record::LogRecord {
            labels: Labels::from_pairs(&[("service_name", "my.service")]),
            ts_ns: 1_544_712_660_300_000_000,
            line: "Example log record".into(),
            metadata: meta(&[
                ("scope_name", "my.library"),
                ("scope_version", "1.0.0"),
                ("string_attribute", "some string"),
                ("boolean_attribute", "true"),
                ("int_attribute", "10"),
                ("double_attribute", "637.704"),
                ("array_attribute", r#"["many","values"]"#),
                ("map_attribute_some_map_key", "some value"),
                ("severity_text", "Information"),
                ("severity_number", "10"),
                ("trace_id", "5b8efff798038103d269b633813fc60c"),
                ("span_id", "eee19b7ec3c1b174"),
                ("observed_timestamp", "1544712660300000000"),
                ("detected_level", "info"),
            ]),
        }]
    );
}

#[test]
fn json_mixed_good_and_bad() {
    let body = br#"{"resourceLogs":[
      {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},
       "scopeLogs":[{"logRecords":[
         {"timeUnixNano":"10","body":{"stringValue":"good"}},
         {"timeUnixNano":"ten","body":{"stringValue":"bad time"}},
         {"timeUnixNano":"11","traceId":"xyz"},
         {"timeUnixNano":"12","attributes":[{"key":"n","value":{"intValue":"x"}}]},
         {"time_unix_nano":13,"severity_number":"SEVERITY_NUMBER_ERROR2","body":{"bytesValue":"aGk="}},
         {"timeUnixNano":"14","body":{"weirdValue":1}}
       ]}]},
      {"resource":{"attributes":[{"key":"k8s.pod.name","value":7}]},
       "scopeLogs":[{"logRecords":[{"timeUnixNano":"1"},{"timeUnixNano":"2"}]}]}
    ]}"#;
    let d = decode_otlp(
        body,
        Some("application/json"),
        None,
        0,
        &DecodeLimits::default(),
    )
    .unwrap();
    let got: Vec<(i64, &str)> = d
        .records
        .iter()
        .map(|r| (r.ts_ns, r.line.as_str()))
        .collect();
    assert_eq!(got, [(10, "good"), (13, "\"aGk=\"")]);
    assert!(d.records[1]
        .metadata
        .contains(&("detected_level".into(), "error".into())));
    assert!(d.records[1]
        .metadata
        .contains(&("severity_number".into(), "18".into())));
    let refused: Vec<String> = d.refused.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        refused,
        [
            "resource 1, scope 1, record 2: timeUnixNano \"ten\" is not a number of nanoseconds",
            "resource 1, scope 1, record 3: traceId \"xyz\" is not hex",
            "resource 1, scope 1, record 4: an attribute \"n\" has a bad intValue",
            "resource 1, scope 1, record 6: the body has the unknown kind \"weirdValue\"",
            "resource 2, scope 1, record 1: a resource attribute \"k8s.pod.name\" is not an OTLP AnyValue object",
            "resource 2, scope 1, record 2: a resource attribute \"k8s.pod.name\" is not an OTLP AnyValue object",
        ]
    );
}

#[test]
fn json_whole_body_errors() {
    let l = DecodeLimits::default();
    let j = Some("application/json");
    let e = decode_otlp(b"resourceLogs", j, None, 0, &l).unwrap_err();
    assert!(e
        .to_string()
        .starts_with("the body is not an OTLP JSON logs request: "));
    let e = decode_otlp(b"[1]", j, None, 0, &l).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the body is not an OTLP JSON logs request: it is not a JSON object"
    );
    let e = decode_otlp(br#"{"resourceLogs":[{"scopeLogs":{}}]}"#, j, None, 0, &l).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the body is not an OTLP JSON logs request: resourceLogs[0].scopeLogs is not an array"
    );
    // An empty request is fine and holds nothing.
    assert_eq!(
        decode_otlp(b"{}", j, None, 0, &l).unwrap(),
        Decoded::default()
    );
}

#[test]
fn helpers() {
    assert_eq!(severity_by_name("SEVERITY_NUMBER_TRACE"), Some(1));
    assert_eq!(severity_by_name("SEVERITY_NUMBER_INFO4"), Some(12));
    assert_eq!(severity_by_name("SEVERITY_NUMBER_FATAL3"), Some(23));
    assert_eq!(severity_by_name("SEVERITY_NUMBER_INFO5"), None);
    assert_eq!(severity_by_name("INFO"), None);
    for data in [&b""[..], b"a", b"ab", b"abc", b"\x00\xff\x10\x80"] {
        assert_eq!(unbase64(&base64(data)).as_deref(), Some(data));
    }
    assert_eq!(base64(b"hi!"), "aGkh");
    assert_eq!(unhex("0aFf"), Some(vec![0x0a, 0xff]));
    assert_eq!(unhex("0"), None);
    assert_eq!(unhex("zz"), None);
    assert_eq!(level_from_text(" ERROR "), Some("error"));
    assert_eq!(level_from_text("verbose"), None);
}
