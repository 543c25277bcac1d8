use crate::common::VecApp;
use argus_ingest::push::ingest_json;
use argus_ingest::remote_write::{ingest_remote_write, ingest_write_request};
use argus_ingest::text::{ingest_text, TextFormat};
use argus_model::prompb::{Label, Sample, TimeSeries, WriteRequest};
use argus_model::ManualClock;
use proptest::prelude::*;
use prost::Message;

fn valid_body() -> Vec<u8> {
    let ts = (0..4)
        .map(|i| TimeSeries {
            labels: vec![
                Label {
                    name: "__name__".into(),
                    value: format!("m{i}"),
                },
                Label {
                    name: "a".into(),
                    value: "b".into(),
                },
            ],
            samples: vec![Sample {
                value: i as f64,
                timestamp: i,
            }],
        })
        .collect();
    WriteRequest {
        timeseries: ts,
        metadata: vec![],
    }
    .encode_to_vec()
}

proptest! {
    #[test]
    fn remote_write_never_panics_on_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut app = VecApp::default();
        let _ = ingest_write_request(&mut app, &b);
        let _ = ingest_remote_write(&mut app, &b, None, None);
    }

    #[test]
    fn remote_write_never_panics_on_mutated_bodies(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut b = valid_body();
        for (i, v) in edits {
            let n = b.len();
            b[i % n] = v;
        }
        let mut app = VecApp::default();
        if let Ok(r) = ingest_write_request(&mut app, &b) {
            prop_assert_eq!(r.accepted as usize, app.staged.len());
        }
        let compressed = snap::raw::Encoder::new().compress_vec(&b).unwrap();
        let _ = ingest_remote_write(&mut app, &compressed, None, Some("snappy"));
    }

    #[test]
    fn text_never_panics(b in proptest::collection::vec(any::<u8>(), 0..256), s in "[a-z{}=\",# \\\\\n0-9.+-]{0,80}") {
        let mut app = VecApp::default();
        let _ = ingest_text(&mut app, &b, 0, TextFormat::Prometheus);
        let _ = ingest_text(&mut app, s.as_bytes(), 0, TextFormat::OpenMetrics);
        let r = ingest_text(&mut app, s.as_bytes(), 0, TextFormat::Prometheus);
        prop_assert!(r.errors.len() <= 10);
    }

    #[test]
    fn json_never_panics(b in proptest::collection::vec(any::<u8>(), 0..256), s in "[\\[\\]{}\":,a-z0-9 \n]{0,80}") {
        let clock = ManualClock::new(0);
        let mut app = VecApp::default();
        let _ = ingest_json(&mut app, &b, &clock);
        let _ = ingest_json(&mut app, s.as_bytes(), &clock);
    }
}
