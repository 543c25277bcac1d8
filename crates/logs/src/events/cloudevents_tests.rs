use super::*;
use argus_model::Labels;

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

const NOW: i64 = 1_800_000_000_000_000_000;

fn dec(body: &str, headers: &[(&str, &str)]) -> DecodedEvents {
    decode_events(body.as_bytes(), &h(headers), NOW, &DecodeLimits::default()).unwrap()
}

#[test]
fn structured_mode_reads_one_event_with_extensions_as_labels() {
    let d = dec(
        r#"{"specversion":"1.0","id":"e1","source":"/shop/orders","type":"com.shop.order.created",
            "subject":"order/42","time":"2023-11-14T22:13:20.5Z","service":"orders","partition":3,
            "datacontenttype":"application/json","data":{"total":12.5}}"#,
        &[(
            "Content-Type",
            "application/cloudevents+json; charset=utf-8",
        )],
    );
    assert_eq!(d.refused, vec![]);
    let e = &d.events[0];
    assert_eq!(e.id, "e1");
    assert_eq!(e.source, "/shop/orders");
    assert_eq!(e.event_type, "com.shop.order.created");
    assert_eq!(e.kind, EventKind::Business);
    assert_eq!(e.subject.as_deref(), Some("order/42"));
    assert_eq!(e.ts_ns, 1_700_000_000_500_000_000);
    assert_eq!(
        e.labels,
        Labels::from_pairs(&[("partition", "3"), ("service", "orders")])
    );
    assert_eq!(e.data, serde_json::json!({"total": 12.5}));
}

#[test]
fn batch_mode_keeps_good_events_and_refuses_bad_ones_with_reasons() {
    let d = dec(
        r#"[{"specversion":"1.0","id":"1","source":"/ci","type":"com.ci.deploy.finished"},
            {"specversion":"0.3","id":"2","source":"/ci","type":"x"},
            {"specversion":"1.0","source":"/ci","type":"x"},
            {"specversion":"1.0","id":"4","source":"","type":"x"},
            {"specversion":"1.0","id":"5","source":"/a","type":7},
            {"specversion":"1.0","id":"6","source":"/a","type":"x","time":"yesterday"},
            {"specversion":"1.0","id":"7","source":"/a","type":"x","Bad_Name":"v"},
            {"specversion":"1.0","id":"8","source":"/a","type":"x","ext":{"a":1}},
            {"specversion":"1.0","id":"9","source":"/a","type":"x","data":1,"data_base64":"AA=="},
            {"id":"10","source":"/a","type":"x"},
            "event",
            {"specversion":"1.0","id":"12","source":"/a","type":"com.x.config.changed","kind":"deploy"}]"#,
        &[("content-type", "application/cloudevents-batch+json")],
    );
    let reasons: Vec<String> = d.refused.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        reasons,
        vec![
            "event 2: specversion \"0.3\" is not supported; send 1.0",
            "event 3: the required attribute \"id\" is missing",
            "event 4: the attribute \"source\" must not be empty",
            "event 5: the attribute \"type\" must be a string, not a number",
            "event 6: the time \"yesterday\" is not an RFC 3339 time between 1677 and 2262",
            "event 7: the attribute name \"Bad_Name\" is not valid (lower-case letters and digits only)",
            "event 8: the extension attribute \"ext\" must be a string, number or boolean, not a object",
            "event 9: the event has both \"data\" and \"data_base64\"; send one",
            "event 10: the required attribute \"specversion\" is missing",
            "event 11: the event is a JSON string, not an object",
        ]
    );
    assert_eq!(d.events.len(), 2);
    assert_eq!(d.events[0].kind, EventKind::Deploy);
    assert_eq!(d.events[0].ts_ns, NOW, "no time: the receive time");
    assert_eq!(
        d.events[1].kind,
        EventKind::Deploy,
        "the kind extension overrides"
    );
    assert!(d.summary().starts_with("2 accepted, 10 refused (event 2: "));
}

#[test]
fn binary_mode_reads_headers_and_body() {
    let headers = h(&[
        ("ce-specversion", "1.0"),
        ("CE-ID", "b1"),
        ("ce-source", "%2Fci%2Fgithub"),
        ("ce-type", "com.github.deployment_status"),
        ("ce-time", "2023-11-14T22:13:20Z"),
        ("ce-service", "api"),
        ("Content-Type", "application/json"),
    ]);
    let l = DecodeLimits::default();
    let d = decode_events(br#"{"state":"success"}"#, &headers, NOW, &l).unwrap();
    assert_eq!(d.refused, vec![]);
    let e = &d.events[0];
    assert_eq!((e.id.as_str(), e.source.as_str()), ("b1", "/ci/github"));
    assert_eq!(e.kind, EventKind::Deploy);
    assert_eq!(e.ts_ns, 1_700_000_000_000_000_000);
    assert_eq!(e.labels, Labels::from_pairs(&[("service", "api")]));
    assert_eq!(e.data, serde_json::json!({"state": "success"}));

    // Text and binary bodies.
    let mut text = headers.clone();
    text[6].1 = "text/plain".into();
    let d = decode_events(b"hello", &text, NOW, &l).unwrap();
    assert_eq!(d.events[0].data, serde_json::json!("hello"));
    text[6].1 = "application/octet-stream".into();
    let d = decode_events(&[0xff, 0x00, 0x10], &text, NOW, &l).unwrap();
    assert_eq!(d.events[0].data, serde_json::json!({"data_base64": "/wAQ"}));

    // Missing type, and a body that is not the JSON it claims to be.
    let d = decode_events(b"{", &headers, NOW, &l).unwrap();
    assert_eq!(d.events, vec![]);
    assert!(d.refused[0]
        .reason
        .starts_with("the body is not valid JSON though the content type is application/json"));
    let no_type: Vec<_> = headers
        .iter()
        .filter(|(n, _)| n != "ce-type")
        .cloned()
        .collect();
    let d = decode_events(b"{}", &no_type, NOW, &l).unwrap();
    assert_eq!(
        d.refused[0].to_string(),
        "event 1: the required attribute \"type\" is missing"
    );
}

#[test]
fn whole_body_errors() {
    let l = DecodeLimits::default();
    let e = decode_events(b"{", &h(&[("content-type", STRUCTURED)]), NOW, &l).unwrap_err();
    assert!(e
        .to_string()
        .starts_with("the body is not a CloudEvents JSON event: "));
    let e = decode_events(b"{}", &h(&[("content-type", BATCH)]), NOW, &l).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the body is not a CloudEvents batch (a JSON array of events): the body is a JSON object, not an array"
    );
    let e = decode_events(b"x", &h(&[("content-type", "text/csv")]), NOW, &l).unwrap_err();
    assert!(matches!(e, EventsError::UnsupportedContentType(ref c) if c == "text/csv"));
    let e = decode_events(b"x", &h(&[("content-encoding", "br")]), NOW, &l).unwrap_err();
    assert!(matches!(
        e,
        EventsError::Body(PushError::UnsupportedEncoding(_))
    ));
}

#[test]
fn limits_refuse_large_events() {
    let l = DecodeLimits {
        max_line_bytes: 120,
        max_labels: 1,
        ..DecodeLimits::default()
    };
    let body = r#"[{"specversion":"1.0","id":"1","source":"/a","type":"t","a":"1","b":"2"},
        {"specversion":"1.0","id":"2","source":"/a","type":"t","data":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
        {"specversion":"1.0","id":"3","source":"/a","type":"t","a":"1"}]"#;
    let d = decode_events(body.as_bytes(), &h(&[("content-type", BATCH)]), NOW, &l).unwrap();
    assert_eq!(d.events.len(), 1);
    assert_eq!(
        d.refused[0].reason,
        "the event has 2 labels, over the limit of 1"
    );
    assert!(d.refused[1]
        .reason
        .ends_with("bytes as JSON, over the limit of 120"));
}

const CORE_V1: &str = r#"{"apiVersion":"v1","kind":"Event",
  "metadata":{"name":"api-7d9f.17a1","namespace":"shop","uid":"u-1","creationTimestamp":"2023-11-14T22:00:00Z"},
  "involvedObject":{"kind":"Pod","namespace":"shop","name":"api-7d9f","fieldPath":"spec.containers{api}"},
  "reason":"BackOff","message":"Back-off restarting failed container","type":"Warning",
  "source":{"component":"kubelet","host":"node-1"},"count":5,
  "firstTimestamp":"2023-11-14T22:10:00Z","lastTimestamp":"2023-11-14T22:13:20Z"}"#;

#[test]
fn kubernetes_core_v1_event_is_mapped() {
    let d = dec(CORE_V1, &[("content-type", "application/json")]);
    assert_eq!(d.refused, vec![]);
    let e = &d.events[0];
    assert_eq!(e.kind, EventKind::Kubernetes);
    assert_eq!(e.event_type, "io.k8s.event.BackOff");
    assert_eq!(e.source, "k8s/kubelet");
    assert_eq!(e.id, "u-1");
    assert_eq!(e.subject.as_deref(), Some("Pod/api-7d9f"));
    assert_eq!(e.ts_ns, 1_700_000_000_000_000_000, "lastTimestamp");
    assert_eq!(
        e.labels,
        Labels::from_pairs(&[
            ("kind", "Pod"),
            ("name", "api-7d9f"),
            ("namespace", "shop"),
            ("reason", "BackOff"),
            ("severity", "Warning")
        ])
    );
    assert_eq!(
        e.data,
        serde_json::json!({"message":"Back-off restarting failed container","count":5,
            "field_path":"spec.containers{api}","host":"node-1"})
    );
}

#[test]
fn kubernetes_events_v1_list_and_watch_shapes() {
    let v1 = r#"{"apiVersion":"events.k8s.io/v1","kind":"Event",
      "metadata":{"name":"web.1","namespace":"prod"},
      "eventTime":"2023-11-14T22:13:20.000001Z","reportingController":"deployment-controller",
      "action":"Scale","reason":"ScalingReplicaSet","note":"Scaled up replica set web-5c to 3",
      "type":"Normal","regarding":{"kind":"Deployment","namespace":"prod","name":"web"}}"#;
    let list = format!(
        r#"{{"kind":"EventList","apiVersion":"v1","items":[{v1},{CORE_V1},{{"kind":"Event","involvedObject":{{}}}}]}}"#
    );
    let d = dec(&list, &[]);
    assert_eq!(d.events.len(), 2);
    let e = &d.events[0];
    assert_eq!(e.event_type, "io.k8s.event.ScalingReplicaSet");
    assert_eq!(e.source, "k8s/deployment-controller");
    assert_eq!(e.id, "prod/web.1");
    assert_eq!(e.ts_ns, 1_700_000_000_000_001_000);
    assert_eq!(e.labels.get("kind"), Some("Deployment"));
    assert_eq!(e.labels.get("severity"), Some("Normal"));
    assert_eq!(e.data["action"], "Scale");
    assert_eq!(
        d.refused[0].to_string(),
        "item 3: the Kubernetes event has no reason"
    );

    let watch = format!(r#"{{"type":"ADDED","object":{CORE_V1}}}"#);
    let d = dec(&watch, &[("content-type", "application/json")]);
    assert_eq!(d.events[0].event_type, "io.k8s.event.BackOff");
    let d = dec(&format!("[{CORE_V1}, 3]"), &[]);
    assert_eq!(d.events.len(), 1);
    assert_eq!(
        d.refused[0].to_string(),
        "event 2: the event is a JSON number, not an object"
    );
}

#[test]
fn helpers_decode_percent_and_encode_base64() {
    assert_eq!(percent_decode("a%20b%zz%4"), "a b%zz%4");
    assert_eq!(percent_decode("%C3%A9"), "é");
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
}

#[test]
fn a_decoded_event_round_trips_through_its_log_line() {
    let d = dec(CORE_V1, &[]);
    let line = d.events[0].to_log_record().line;
    let again = dec(&line, &[("content-type", STRUCTURED)]);
    assert_eq!(again.refused, vec![]);
    assert_eq!(again.events[0], d.events[0]);
}

mod no_panics {
    use super::*;
    use proptest::prelude::*;

    fn shaped() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            any::<u8>().prop_map(|b| vec![b]),
            Just(br#"{"specversion":"1.0","id":"1","source":"/a","type":"t""#.to_vec()),
            Just(br#","time":"2023-11-14T22:13:20Z""#.to_vec()),
            Just(br#"{"kind":"Event","involvedObject":{"#.to_vec()),
            Just(br#""reason":"BackOff","lastTimestamp":"#.to_vec()),
            Just(br#"{"kind":"EventList","items":["#.to_vec()),
            Just(br#""data_base64":"#.to_vec()),
            Just(b"[".to_vec()),
            Just(b"]".to_vec()),
            Just(b"}".to_vec()),
            Just(b",".to_vec()),
            Just(b"\"".to_vec()),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn decoders_never_panic(body in shaped(), hv in "[ -~]{0,12}") {
            let l = DecodeLimits { max_line_bytes: 200, ..DecodeLimits::default() };
            for ct in ["application/cloudevents+json", "application/cloudevents-batch+json",
                       "application/json", "", "text/plain"] {
                let _ = decode_events(&body, &h(&[("content-type", ct)]), i64::MAX, &l);
            }
            let headers = h(&[("ce-specversion", "1.0"), ("ce-id", &hv), ("ce-source", &hv),
                              ("ce-type", "t"), ("ce-time", &hv), ("content-type", &hv)]);
            let _ = decode_events(&body, &headers, i64::MIN, &l);
            let _ = percent_decode(&hv);
        }
    }
}
