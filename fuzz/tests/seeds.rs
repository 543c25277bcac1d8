//! Writes the remote_write seeds of `corpus/remote_write/` (binary, so made by
//! code rather than by hand). Run it after changing them:
//!
//! `cargo test --manifest-path fuzz/Cargo.toml --no-default-features --test seeds -- --ignored`

use argus_model::prompb::{Label, Sample, TimeSeries, WriteRequest};
use prost::Message;

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
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

#[test]
#[ignore = "writes the committed seeds; run by hand"]
fn write_remote_write_seeds() {
    let t = argus_fuzz::NOW_MS;
    let requests = [
        (
            "two_series",
            vec![
                series(
                    &[("__name__", "up"), ("instance", "a:9100"), ("job", "node")],
                    &[(t, 1.0), (t + 15_000, 1.0)],
                ),
                series(
                    &[("__name__", "node_load1"), ("instance", "a:9100")],
                    &[(t, 0.25)],
                ),
            ],
        ),
        (
            "specials",
            vec![series(
                &[("__name__", "x"), ("k", "v")],
                &[
                    (t, f64::NAN),
                    (t + 1, f64::INFINITY),
                    (t + 2, f64::NEG_INFINITY),
                    (t + 3, f64::from_bits(argus_model::STALE_NAN_BITS)),
                    (-1, -0.5),
                ],
            )],
        ),
        (
            "rejects",
            vec![
                series(&[("job", "no_name")], &[(t, 1.0)]),
                series(&[("__name__", "dup"), ("a", "1"), ("a", "2")], &[(t, 1.0)]),
                series(&[("__name__", "bad-name")], &[(t, 1.0)]),
                series(
                    &[("__name__", "unsorted"), ("z", "1"), ("b", "2")],
                    &[(t, 1.0)],
                ),
                series(&[("__name__", "empty_value"), ("a", "")], &[(t, 1.0)]),
                series(&[("__name__", "no_samples")], &[]),
            ],
        ),
        (
            "many",
            (0..50)
                .map(|i| {
                    let inst = format!("host-{i}:9100");
                    series(
                        &[
                            ("__name__", "node_cpu_seconds_total"),
                            ("cpu", "0"),
                            ("instance", &inst),
                        ],
                        &[(t, i as f64), (t + 15_000, i as f64 + 0.5)],
                    )
                })
                .collect(),
        ),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/remote_write");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, ts) in requests {
        let raw = WriteRequest {
            timeseries: ts,
            metadata: vec![],
        }
        .encode_to_vec();
        let body = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        std::fs::write(dir.join(format!("{name}.snappy")), &body).unwrap();
        // The uncompressed message too: the target also decodes its input as one.
        std::fs::write(dir.join(format!("{name}.pb")), &raw).unwrap();
    }
}
