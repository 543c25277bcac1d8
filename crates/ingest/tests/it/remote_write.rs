use crate::common::{get, VecApp};
use argus_ingest::remote_write::{ingest_remote_write, ingest_write_request};
use argus_model::prompb::{Label, Sample, TimeSeries, WriteRequest};
use argus_model::STALE_NAN;
use prost::Message;

const CT: Option<&str> = Some("application/x-protobuf;proto=prometheus.WriteRequest");

pub fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: samples
            .iter()
            .map(|&(timestamp, value)| Sample { value, timestamp })
            .collect(),
    }
}

pub fn body(ts: Vec<TimeSeries>) -> Vec<u8> {
    let raw = WriteRequest {
        timeseries: ts,
        metadata: vec![],
    }
    .encode_to_vec();
    snap::raw::Encoder::new().compress_vec(&raw).unwrap()
}

#[test]
fn round_trip_many_series_bit_exact() {
    // (-0.0 is not round-tripped by prost itself: proto3 omits a field equal to 0.0.)
    let specials = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        STALE_NAN,
        1e-300,
        1.5,
    ];
    let ts: Vec<TimeSeries> = (0..2000)
        .map(|i| {
            let host = format!("h{i}");
            // Unsorted on purpose for every other series.
            if i % 2 == 0 {
                series(
                    &[("__name__", "cpu"), ("host", &host)],
                    &[(i, specials[i as usize % 6])],
                )
            } else {
                series(
                    &[("host", &host), ("__name__", "cpu")],
                    &[(i, specials[i as usize % 6])],
                )
            }
        })
        .collect();
    let mut app = VecApp::default();
    let r = ingest_remote_write(&mut app, &body(ts), CT, Some("snappy")).unwrap();
    assert_eq!((r.accepted, r.rejected), (2000, 0));
    for (i, s) in app.staged.iter().enumerate() {
        assert_eq!(s.1, i as i64);
        assert_eq!(s.2.to_bits(), specials[i % 6].to_bits());
        assert_eq!(get(s, "host"), Some(format!("h{i}").as_str()));
        assert_eq!(s.0[0].0, "__name__");
    }
}

#[test]
fn mixed_good_and_bad_series() {
    let ts = vec![
        series(&[("__name__", "ok"), ("a", "1")], &[(1, 1.0), (2, 2.0)]),
        series(&[("__name__", "bad"), ("1a", "x")], &[(1, 1.0)]),
        series(&[("__name__", "dup"), ("a", "1"), ("a", "2")], &[(1, 1.0)]),
        series(&[("a", "noname")], &[(1, 1.0), (2, 1.0)]),
        series(&[("__name__", "9bad")], &[(1, 1.0)]),
        series(&[("__name__", "ok2")], &[(3, f64::NAN)]),
    ];
    let mut app = VecApp::default();
    let r = ingest_remote_write(&mut app, &body(ts), None, None).unwrap();
    assert_eq!((r.accepted, r.rejected), (3, 5));
    assert_eq!(r.errors.len(), 4);
    assert!(
        r.errors[0].contains("invalid label name \"1a\"") && r.errors[0].contains("bad{"),
        "{:?}",
        r.errors
    );
    assert!(r.errors[1].contains("duplicate label name"));
    assert!(r.errors[2].contains("missing metric name"));
    assert!(r.errors[3].contains("invalid metric name"));
}

#[test]
fn native_histograms_are_counted_as_rejected() {
    let mut raw = WriteRequest {
        timeseries: vec![series(&[("__name__", "h")], &[(1, 1.0)])],
        metadata: vec![],
    }
    .encode_to_vec();
    // Append a second series with a histogram (field 4, an empty message) and an exemplar (field 3).
    let mut inner: Vec<u8> = Vec::new();
    inner.extend_from_slice(&[0x0a, 0x0f, 0x0a, 0x08]);
    inner.extend_from_slice(b"__name__");
    inner.extend_from_slice(&[0x12, 0x03]);
    inner.extend_from_slice(b"hst");
    inner.extend_from_slice(&[0x22, 0x00, 0x1a, 0x00]);
    raw.push(0x0a);
    raw.push(inner.len() as u8);
    raw.extend_from_slice(&inner);
    let mut app = VecApp::default();
    let r = ingest_write_request(&mut app, &raw).unwrap();
    assert_eq!((r.accepted, r.rejected), (1, 1));
    assert!(
        r.errors[0].contains("native histograms are not supported") && r.errors[0].contains("hst"),
        "{:?}",
        r.errors
    );
}

#[test]
fn truncated_at_every_offset_never_panics() {
    let ts: Vec<TimeSeries> = (0..5)
        .map(|i| series(&[("__name__", "m"), ("i", &i.to_string())], &[(i, 1.0)]))
        .collect();
    let raw = WriteRequest {
        timeseries: ts,
        metadata: vec![],
    }
    .encode_to_vec();
    for cut in 0..raw.len() {
        let mut app = VecApp::default();
        match ingest_write_request(&mut app, &raw[..cut]) {
            Ok(r) => assert!(r.accepted <= 5),
            Err(e) => {
                assert_eq!(e.http_status(), 400);
                assert!(e.to_string().contains("byte offset"), "{e}");
                assert!(
                    app.staged.is_empty(),
                    "nothing is staged on a framing error"
                );
            }
        }
    }
    let mut app = VecApp::default();
    let e = ingest_write_request(&mut app, &raw[..raw.len() - 1]).unwrap_err();
    assert!(e.to_string().contains("malformed protobuf"), "{e}");
}

#[test]
fn bad_snappy_and_headers() {
    let mut app = VecApp::default();
    let e = ingest_remote_write(&mut app, b"\xff\xff\xff\xff\x0fgarbage", CT, Some("snappy"))
        .unwrap_err();
    assert_eq!(e.http_status(), 413);
    let e = ingest_remote_write(&mut app, b"\x05garbage", CT, Some("snappy")).unwrap_err();
    assert_eq!(e.http_status(), 400);
    assert!(e.to_string().contains("snappy"));
    let b = body(vec![series(&[("__name__", "m")], &[(1, 1.0)])]);
    let e = ingest_remote_write(&mut app, &b, Some("application/json"), None).unwrap_err();
    assert_eq!(e.http_status(), 415);
    let e = ingest_remote_write(
        &mut app,
        &b,
        Some("application/x-protobuf;proto=io.prometheus.write.v2.Request"),
        None,
    )
    .unwrap_err();
    assert_eq!(e.http_status(), 415);
    assert!(e.to_string().contains("2.0"));
    let e = ingest_remote_write(&mut app, &b, CT, Some("gzip")).unwrap_err();
    assert_eq!(e.http_status(), 415);
    assert!(app.staged.is_empty());
}
