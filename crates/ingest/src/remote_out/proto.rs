//! Encoding of a remote_write 1.0 `WriteRequest` (`prometheus.WriteRequest`
//! of `prompb/remote.proto`): series with sorted labels and their samples,
//! snappy block-compressed.
//!
//! ```text
//! WriteRequest { repeated TimeSeries timeseries = 1; }
//! TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//! Label        { string name = 1; string value = 2; }
//! Sample       { double value = 1; int64 timestamp = 2; }
//! ```

/// One series of a request: sorted label pairs and `(t, v)` samples in
/// time order.
#[derive(Debug, Clone, PartialEq)]
pub struct OutSeries {
    /// Sorted by name, unique names.
    pub labels: Vec<(String, String)>,
    /// Timestamps in ms and values.
    pub samples: Vec<(i64, f64)>,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_bytes_field(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    put_varint(out, u64::from(field << 3 | 2));
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn label_len(n: &str, v: &str) -> usize {
    1 + varint_len(n.len() as u64) + n.len() + 1 + varint_len(v.len() as u64) + v.len()
}

fn sample_len(t: i64) -> usize {
    // value: tag + 8 bytes; timestamp: tag + varint (omitted when 0).
    9 + if t == 0 { 0 } else { 1 + varint_len(t as u64) }
}

/// Appends the protobuf encoding of a `WriteRequest` holding `series`.
pub fn encode_write_request(series: &[OutSeries], out: &mut Vec<u8>) {
    for s in series {
        let mut len = 0;
        for (n, v) in &s.labels {
            let l = label_len(n, v);
            len += 1 + varint_len(l as u64) + l;
        }
        for &(t, _) in &s.samples {
            let l = sample_len(t);
            len += 1 + varint_len(l as u64) + l;
        }
        put_varint(out, 1 << 3 | 2);
        put_varint(out, len as u64);
        for (n, v) in &s.labels {
            put_varint(out, 1 << 3 | 2);
            put_varint(out, label_len(n, v) as u64);
            put_bytes_field(out, 1, n.as_bytes());
            put_bytes_field(out, 2, v.as_bytes());
        }
        for &(t, v) in &s.samples {
            put_varint(out, 2 << 3 | 2);
            put_varint(out, sample_len(t) as u64);
            put_varint(out, 1 << 3 | 1);
            out.extend_from_slice(&v.to_bits().to_le_bytes());
            if t != 0 {
                put_varint(out, 2 << 3);
                put_varint(out, t as u64);
            }
        }
    }
}

/// The request body: the encoded `WriteRequest`, snappy block-compressed.
pub fn compress(raw: &[u8]) -> Result<Vec<u8>, snap::Error> {
    snap::raw::Encoder::new().compress_vec(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_write::ingest_write_request;
    use argus_tsdb::{AppendStats, Appender, SampleError, TsdbError};

    type Pairs = Vec<(String, String)>;

    #[derive(Default)]
    struct Rec(Vec<(Pairs, i64, f64)>);
    impl Appender for Rec {
        fn append_pairs(&mut self, p: &[(&str, &str)], t: i64, v: f64) -> Result<(), SampleError> {
            let l = p
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            self.0.push((l, t, v));
            Ok(())
        }
        fn commit(self) -> Result<AppendStats, TsdbError> {
            Ok(AppendStats::default())
        }
        fn rollback(self) {}
    }

    #[test]
    fn argus_own_receiver_decodes_what_is_encoded() {
        let series = vec![
            OutSeries {
                labels: vec![
                    ("__name__".into(), "up".into()),
                    ("job".into(), "node".repeat(40)),
                ],
                samples: vec![(1_700_000_000_000, 1.0), (1_700_000_015_000, f64::NAN)],
            },
            OutSeries {
                labels: vec![("__name__".into(), "x".into())],
                samples: vec![(0, -2.5)],
            },
        ];
        let mut raw = Vec::new();
        encode_write_request(&series, &mut raw);
        let mut rec = Rec::default();
        let report = ingest_write_request(&mut rec, &raw).unwrap();
        assert_eq!(report.accepted, 3, "{:?}", report.errors);
        assert_eq!(rec.0[0].0, series[0].labels);
        assert_eq!(rec.0[1].1, 1_700_000_015_000);
        assert!(rec.0[1].2.is_nan());
        assert_eq!((rec.0[2].1, rec.0[2].2), (0, -2.5));
        let body = compress(&raw).unwrap();
        assert_eq!(crate::remote_write::decompress(&body).unwrap(), raw);
    }
}
