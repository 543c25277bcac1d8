//! Per-series column codec for immutable blocks, built on `pco`.
//!
//! One series' samples become a small header and two columns. Timestamps on a
//! perfectly regular grid are stored as a start and a step; others as a pco
//! `i64` column. Values that are decimals with at most 15 fractional digits
//! (counters, most gauges) are stored as scaled `i64`s, with the few values
//! that are not (stale markers, NaN) kept bit for bit in an exception list;
//! anything else is a pco `f64` column. The layout is documented in
//! `docs/format/chunks.md`. Every `f64` bit pattern round-trips exactly.
//!
//! ```
//! use argus_tsdb::blockcodec::{decode_series, encode_series};
//!
//! let ts: Vec<i64> = (0..480).map(|i| 1_700_000_000_000 + i * 15_000).collect();
//! let vs: Vec<f64> = (0..480).map(|i| (i * 7) as f64 / 100.0).collect();
//! let bytes = encode_series(&ts, &vs);
//! assert!(bytes.len() < 100);
//! assert_eq!(decode_series(&bytes).unwrap(), (ts, vs));
//! ```

use crate::chunk::ChunkError;
use pco::data_types::Number;
use pco::standalone::{simple_compress, DecompressorItem, FileDecompressor};
use pco::ChunkConfig;

/// The format version written in byte 0 of every encoded series.
pub const FORMAT_VERSION: u8 = 1;
/// Timestamp column kinds.
const TS_PCO: u8 = 0;
const TS_REGULAR: u8 = 1;
/// Value column kinds.
const VS_F64: u8 = 0;
const VS_DECIMAL: u8 = 1;
/// Powers of ten used for decimal scaling; each is exact in `f64`.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];
/// Decimal scaling is used when at most one value in this many is an exception.
const EXCEPTION_RATIO: usize = 32;
/// Numbers decoded per pco read, so a corrupt count cannot reserve memory early.
const READ_BATCH: usize = 1 << 16;

/// Encodes one series (timestamps strictly increasing) as a header and two
/// columns; see `docs/format/chunks.md`.
///
/// # Panics
///
/// When `ts` and `vs` differ in length.
pub fn encode_series(ts: &[i64], vs: &[f64]) -> Vec<u8> {
    assert_eq!(
        ts.len(),
        vs.len(),
        "encode_series needs one value per timestamp"
    );
    let mut out = vec![FORMAT_VERSION];
    put_varint(&mut out, ts.len() as u64);
    let Some(&t0) = ts.first() else {
        return out;
    };
    let step = ts.get(1).map_or(0, |t1| t1.wrapping_sub(t0));
    if ts.windows(2).all(|w| w[1].wrapping_sub(w[0]) == step) {
        out.push(TS_REGULAR);
        put_varint(&mut out, zigzag(t0));
        put_varint(&mut out, step as u64);
    } else {
        let col = compress(ts);
        out.push(TS_PCO);
        put_varint(&mut out, col.len() as u64);
        out.extend_from_slice(&col);
    }
    match decimal_scale(vs) {
        Some(k) => {
            let (ints, exceptions) = to_decimal(vs, k);
            out.extend_from_slice(&[VS_DECIMAL, k as u8]);
            put_varint(&mut out, exceptions.len() as u64);
            let mut prev = 0;
            for (i, bits) in exceptions {
                put_varint(&mut out, (i - prev) as u64);
                out.extend_from_slice(&bits.to_le_bytes());
                prev = i;
            }
            out.extend_from_slice(&compress(&ints));
        }
        None => {
            out.push(VS_F64);
            out.extend_from_slice(&compress(vs));
        }
    }
    out
}

/// Decodes an encoding made by [`encode_series`]. Truncated or corrupt input
/// returns an error; it never panics.
pub fn decode_series(b: &[u8]) -> Result<(Vec<i64>, Vec<f64>), ChunkError> {
    let mut pos = 0usize;
    let version = take_byte(b, &mut pos, "format version")?;
    if version != FORMAT_VERSION {
        return Err(ChunkError::UnsupportedVersion {
            format: "block series",
            version,
            supported: FORMAT_VERSION,
        });
    }
    let n = take_varint(b, &mut pos, "sample count")?;
    let n = usize::try_from(n)
        .map_err(|_| corrupt(1, format!("sample count {n} does not fit in memory")))?;
    if n == 0 {
        return match pos == b.len() {
            true => Ok((Vec::new(), Vec::new())),
            false => Err(corrupt(pos, "trailing bytes after an empty series")),
        };
    }
    let ts_at = pos;
    let ts_col = match take_byte(b, &mut pos, "timestamp column kind")? {
        TS_REGULAR => {
            let t0 = unzigzag(take_varint(b, &mut pos, "first timestamp")?);
            let step = take_varint(b, &mut pos, "timestamp step")?;
            let span = i128::from(step).checked_mul(n as i128 - 1);
            let fits = span.is_some_and(|s| i128::from(t0) + s <= i128::from(i64::MAX));
            if (n > 1 && step == 0) || !fits {
                return Err(corrupt(
                    ts_at,
                    format!("regular timestamps from {t0} by {step} do not increase {n} times"),
                ));
            }
            None
        }
        TS_PCO => {
            let len = take_varint(b, &mut pos, "timestamp column length")?;
            let end = usize::try_from(len)
                .ok()
                .and_then(|l| pos.checked_add(l))
                .filter(|&e| e <= b.len());
            let Some(end) = end else {
                return Err(corrupt(
                    pos,
                    format!(
                        "timestamp column length {len} runs past the end ({} bytes)",
                        b.len()
                    ),
                ));
            };
            let col = (b.get(pos..end).unwrap_or_default(), pos);
            pos = end;
            Some(col)
        }
        other => {
            return Err(corrupt(
                ts_at,
                format!("unknown timestamp column kind {other}"),
            ))
        }
    };
    let vs_at = pos;
    let vs = match take_byte(b, &mut pos, "value column kind")? {
        VS_F64 => decompress::<f64>(b.get(pos..).unwrap_or_default(), n, "value", pos)?,
        VS_DECIMAL => decode_decimal(b, pos, n)?,
        other => return Err(corrupt(vs_at, format!("unknown value column kind {other}"))),
    };
    // Values are decoded first: their column proves `n` before any
    // allocation that only the header asked for.
    let ts = match ts_col {
        Some((col, at)) => decompress::<i64>(col, n, "timestamp", at)?,
        None => {
            let mut p = ts_at + 1;
            let t0 = unzigzag(take_varint(b, &mut p, "first timestamp")?);
            // Checked above: every timestamp fits, so wrapping sums are exact.
            let step = take_varint(b, &mut p, "timestamp step")? as i64;
            (0..n as i64)
                .map(|i| t0.wrapping_add(step.wrapping_mul(i)))
                .collect()
        }
    };
    Ok((ts, vs))
}

fn decode_decimal(b: &[u8], mut pos: usize, n: usize) -> Result<Vec<f64>, ChunkError> {
    let k_at = pos;
    let k = take_byte(b, &mut pos, "decimal scale")?;
    let Some(&scale) = POW10.get(usize::from(k)) else {
        return Err(corrupt(
            k_at,
            format!("decimal scale 10^{k} is out of range"),
        ));
    };
    let e_at = pos;
    let e = take_varint(b, &mut pos, "exception count")?;
    if e > n as u64 {
        return Err(corrupt(
            e_at,
            format!("{e} exceptions in a series of {n} samples"),
        ));
    }
    let mut exceptions = Vec::with_capacity((e as usize).min(b.len() / 9));
    let mut idx = 0u64;
    for j in 0..e {
        let at = pos;
        let gap = take_varint(b, &mut pos, "exception index")?;
        idx = idx.saturating_add(gap);
        if idx >= n as u64 || (j > 0 && gap == 0) {
            return Err(corrupt(
                at,
                format!("exception index {idx} is out of order or past {n} samples"),
            ));
        }
        let raw = b
            .get(pos..pos + 8)
            .and_then(|s| <[u8; 8]>::try_from(s).ok());
        let Some(raw) = raw else {
            return Err(truncated("exception value", pos));
        };
        pos += 8;
        exceptions.push((idx as usize, f64::from_le_bytes(raw)));
    }
    let ints = decompress::<i64>(b.get(pos..).unwrap_or_default(), n, "value", pos)?;
    let mut vs: Vec<f64> = ints.into_iter().map(|m| m as f64 / scale).collect();
    for (i, v) in exceptions {
        if let Some(slot) = vs.get_mut(i) {
            *slot = v;
        }
    }
    Ok(vs)
}

/// The scaled integer `m` with `m as f64 / 10^k` bit-identical to `v`, if any.
fn scaled(v: f64, scale: f64) -> Option<i64> {
    let m = (v * scale).round();
    // -2^63 is exact in f64 and 2^63 is the first f64 above i64; NaN is in no range.
    let min = i64::MIN as f64;
    if !(min..-min).contains(&m) {
        return None;
    }
    let m = m as i64;
    ((m as f64 / scale).to_bits() == v.to_bits()).then_some(m)
}

/// The smallest decimal scale at which few enough values are exceptions.
fn decimal_scale(vs: &[f64]) -> Option<usize> {
    let limit = vs.len() / EXCEPTION_RATIO;
    (0..POW10.len()).find(|&k| {
        let scale = POW10[k];
        let mut misses = vs.iter().filter(|&&v| scaled(v, scale).is_none());
        misses.nth(limit).is_none()
    })
}

/// Scaled integers (an exception repeats the previous integer) and the
/// exceptions as (index, raw bits).
fn to_decimal(vs: &[f64], k: usize) -> (Vec<i64>, Vec<(usize, u64)>) {
    let scale = POW10.get(k).copied().unwrap_or(1.0);
    let mut prev = 0;
    let mut exceptions = Vec::new();
    let ints = vs
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            match scaled(v, scale) {
                Some(m) => prev = m,
                None => exceptions.push((i, v.to_bits())),
            }
            prev
        })
        .collect();
    (ints, exceptions)
}

fn compress<T: Number>(nums: &[T]) -> Vec<u8> {
    // Invariant: pco fails to compress only on an invalid config (the default
    // is valid) or a write error (a Vec never fails to grow).
    simple_compress(nums, &ChunkConfig::default())
        .expect("pco compression of an in-memory slice cannot fail")
}

/// Decompresses one standalone pco column that must hold exactly `n` numbers
/// and nothing after them. Memory grows only with numbers actually decoded.
fn decompress<T: Number + Default>(
    b: &[u8],
    n: usize,
    column: &'static str,
    byte: usize,
) -> Result<Vec<T>, ChunkError> {
    let err = |reason: String| ChunkError::Column {
        column,
        byte,
        reason,
    };
    let (fd, mut src) = FileDecompressor::new(b).map_err(|e| err(e.to_string()))?;
    let mut out: Vec<T> = Vec::new();
    loop {
        match fd
            .chunk_decompressor::<T, &[u8]>(src)
            .map_err(|e| err(e.to_string()))?
        {
            DecompressorItem::Chunk(mut cd) => {
                let end = out.len().saturating_add(cd.n());
                if end > n {
                    return Err(err(format!("holds more than the header's {n} samples")));
                }
                while out.len() < end {
                    let start = out.len();
                    out.resize(start + (end - start).min(READ_BATCH), T::default());
                    let dst = out.get_mut(start..).unwrap_or_default();
                    let got = cd.read(dst).map_err(|e| err(e.to_string()))?;
                    if got.n_processed != dst.len() {
                        return Err(err(format!(
                            "a pco chunk ended after {} of {} numbers",
                            got.n_processed,
                            dst.len()
                        )));
                    }
                }
                src = cd.into_src();
            }
            DecompressorItem::EndOfData(rest) => {
                if out.len() != n {
                    return Err(err(format!(
                        "holds {} samples, the header says {n}",
                        out.len()
                    )));
                }
                if !rest.is_empty() {
                    return Err(err(format!(
                        "{} trailing byte(s) after the column",
                        rest.len()
                    )));
                }
                return Ok(out);
            }
        }
    }
}

fn corrupt(byte: usize, reason: impl Into<String>) -> ChunkError {
    ChunkError::Corrupt {
        bit: byte as u64 * 8,
        reason: reason.into(),
    }
}

fn zigzag(t: i64) -> u64 {
    ((t << 1) ^ (t >> 63)) as u64
}

fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

fn truncated(what: &'static str, byte: usize) -> ChunkError {
    let bit = byte as u64 * 8;
    ChunkError::Truncated { what, bit }
}

fn put_varint(out: &mut Vec<u8>, mut u: u64) {
    while u >= 0x80 {
        out.push((u as u8 & 0x7f) | 0x80);
        u >>= 7;
    }
    out.push(u as u8);
}

fn take_byte(b: &[u8], pos: &mut usize, what: &'static str) -> Result<u8, ChunkError> {
    let Some(&byte) = b.get(*pos) else {
        return Err(truncated(what, *pos));
    };
    *pos += 1;
    Ok(byte)
}

fn take_varint(b: &[u8], pos: &mut usize, what: &'static str) -> Result<u64, ChunkError> {
    let start = *pos;
    let mut out = 0u64;
    for i in 0..10 {
        let byte = take_byte(b, pos, what)?;
        if i == 9 && byte > 1 {
            return Err(corrupt(start, format!("{what} varint overflows 64 bits")));
        }
        out |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Ok(out);
        }
    }
    Err(corrupt(
        start,
        format!("{what} varint is longer than 10 bytes"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::tests::{increasing, value};
    use crate::chunk::{HeadChunk, XorChunk};
    use argus_model::STALE_NAN;
    use proptest::prelude::*;

    /// The load generator's series kinds, 480 samples at a 15 s step.
    pub(crate) fn synthetic(kind: usize, seed: u64) -> (Vec<i64>, Vec<f64>) {
        // Seeded, so the synthetic load is the same on every run.
        let mut rng = argus_model::SplitMix64::new(seed);
        let t0 = 1_700_000_000_000 + rng.below(15_000) as i64;
        let ts: Vec<i64> = (0..480).map(|i| t0 + i * 15_000).collect();
        let mut v = rng.below(1000) as f64;
        let vs = (0..480)
            .map(|_| {
                match kind {
                    0 => v += rng.below(100) as f64,
                    1 => {
                        v = ((v + (rng.below(2001) as f64 - 1000.0) / 100.0) * 100.0).round()
                            / 100.0
                    }
                    _ => {
                        if rng.below(10) == 0 {
                            v = rng.below(100) as f64;
                        }
                    }
                }
                v
            })
            .collect();
        (ts, vs)
    }

    /// Strictly increasing timestamps (regular runs, jitter, huge gaps) and
    /// mostly one-decimal values with arbitrary bit patterns mixed in.
    fn series() -> impl Strategy<Value = (Vec<i64>, Vec<f64>)> {
        let start = prop_oneof![any::<i64>(), Just(i64::MIN), Just(0i64)];
        let gap = prop_oneof![4 => Just(15_000u64), 1 => 1u64..100, 1 => any::<u64>(), 1 => Just(u64::MAX / 2)];
        let v = prop_oneof![1 => value(), 3 => (0i64..10_000).prop_map(|m| m as f64 / 10.0)];
        (start, prop::collection::vec((gap, v), 0..300))
            .prop_map(|(t, steps)| increasing(t, steps).into_iter().unzip())
    }

    /// The value column kind byte of a non-empty encoding.
    fn value_kind(b: &[u8]) -> u8 {
        let mut pos = 0;
        take_byte(b, &mut pos, "").unwrap();
        take_varint(b, &mut pos, "").unwrap();
        if take_byte(b, &mut pos, "").unwrap() == TS_REGULAR {
            take_varint(b, &mut pos, "").unwrap();
            take_varint(b, &mut pos, "").unwrap();
        } else {
            pos += take_varint(b, &mut pos, "").unwrap() as usize;
        }
        b[pos]
    }

    fn assert_same(got: (Vec<i64>, Vec<f64>), ts: &[i64], vs: &[f64]) {
        assert_eq!(got.0, ts);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got.1), bits(vs));
    }

    proptest! {
        #[test]
        fn round_trips_bit_exact((ts, vs) in series()) {
            assert_same(decode_series(&encode_series(&ts, &vs)).unwrap(), &ts, &vs);
        }

        #[test]
        fn arbitrary_bits_round_trip_through_pco_f64(bits in prop::collection::vec(any::<u64>(), 1..300)) {
            let vs: Vec<f64> = bits.iter().map(|&b| f64::from_bits(b)).collect();
            let ts: Vec<i64> = (0..vs.len() as i64).collect();
            let b = encode_series(&ts, &vs);
            prop_assert!(vs.len() < 32 || value_kind(&b) == VS_F64);
            assert_same(decode_series(&b).unwrap(), &ts, &vs);
        }

        #[test]
        fn truncations_never_panic((ts, vs) in series(), cut in any::<prop::sample::Index>()) {
            let b = encode_series(&ts, &vs);
            prop_assert!(decode_series(&b[..cut.index(b.len())]).is_err());
        }

        #[test]
        fn corruptions_never_panic((ts, vs) in series(), at in any::<prop::sample::Index>(), x in 1u8..) {
            let mut b = encode_series(&ts, &vs);
            let i = at.index(b.len());
            b[i] ^= x;
            let _ = decode_series(&b);
        }

        #[test]
        fn garbage_never_panics(b in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_series(&b);
            let mut v = vec![FORMAT_VERSION];
            v.extend_from_slice(&b);
            let _ = decode_series(&v);
        }
    }

    #[test]
    fn pco_keeps_nan_payloads_in_float_mult_data() {
        // Two-decimal values pull pco towards FloatMult; mixing in many
        // special values forces the f64 column kind.
        let mut vs: Vec<f64> = (0..400).map(|i| i as f64 * 0.01).collect();
        for i in (0..400).step_by(7) {
            vs[i] = [
                STALE_NAN,
                f64::NAN,
                -f64::NAN,
                f64::from_bits(0x7ff8_dead_beef_0001),
                -0.0,
            ][i % 5];
        }
        let ts: Vec<i64> = (0..400).map(|i| i * 15_000).collect();
        let b = encode_series(&ts, &vs);
        assert_eq!(value_kind(&b), VS_F64);
        assert_same(decode_series(&b).unwrap(), &ts, &vs);
    }

    proptest! {
        /// Answers "does pco keep NaN payloads?" for each float mode directly.
        #[test]
        fn pco_float_modes_are_bit_exact(vs in prop::collection::vec(value(), 1..300)) {
            use pco::ModeSpec;
            for mode in [ModeSpec::Auto, ModeSpec::Classic, ModeSpec::TryFloatMult(0.01), ModeSpec::TryFloatQuant(20)] {
                let c = simple_compress(&vs, &ChunkConfig::default().with_mode_spec(mode)).unwrap();
                let got: Vec<f64> = pco::standalone::simple_decompress(&c).unwrap();
                prop_assert_eq!(got.len(), vs.len());
                for (g, v) in got.iter().zip(&vs) {
                    prop_assert_eq!(g.to_bits(), v.to_bits());
                }
            }
        }
    }

    #[test]
    fn stale_markers_become_exceptions() {
        let (ts, mut vs) = synthetic(1, 7);
        vs[479] = STALE_NAN;
        let b = encode_series(&ts, &vs);
        assert_eq!(value_kind(&b), VS_DECIMAL);
        assert_same(decode_series(&b).unwrap(), &ts, &vs);
    }

    #[test]
    fn edge_series() {
        for (ts, vs) in [
            (vec![], vec![]),
            (vec![i64::MIN], vec![STALE_NAN]),
            (vec![i64::MIN, 0], vec![-0.0, 1.5]),
        ] {
            assert_same(decode_series(&encode_series(&ts, &vs)).unwrap(), &ts, &vs);
        }
        let ts = [i64::MIN, 0, i64::MAX];
        assert_same(
            decode_series(&encode_series(&ts, &[1.0; 3])).unwrap(),
            &ts,
            &[1.0; 3],
        );
        let err = decode_series(&[2]).unwrap_err();
        assert!(
            matches!(err, ChunkError::UnsupportedVersion { version: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn synthetic_load_compresses_below_one_byte_per_sample() {
        let names = ["counter", "gauge random walk", "mostly-constant gauge"];
        let (mut total, mut xor_total, mut head_total, mut samples) = (0, 0, 0, 0usize);
        for (kind, name) in names.iter().enumerate() {
            let (mut bytes, mut xor_bytes, mut head_bytes) = (0, 0, 0);
            for seed in 0..50 {
                let (ts, vs) = synthetic(kind, seed * 3 + kind as u64);
                // The head cuts chunks at 120 samples, like Prometheus.
                for (tc, vc) in ts.chunks(120).zip(vs.chunks(120)) {
                    let mut c = XorChunk::new();
                    tc.iter().zip(vc).for_each(|(&t, &v)| c.append(t, v));
                    xor_bytes += c.bytes().len();
                    let mut h = HeadChunk::default();
                    tc.iter()
                        .zip(vc)
                        .for_each(|(&t, &v)| assert!(h.try_append(t, v)));
                    assert_eq!(h.scale(), Some(if kind == 1 { 2 } else { 0 }));
                    head_bytes += h.bytes().len();
                }
                let b = encode_series(&ts, &vs);
                assert_eq!(decode_series(&b).unwrap(), (ts, vs));
                bytes += b.len();
            }
            let per = |b: usize| b as f64 / (50.0 * 480.0);
            println!(
                "{name}: block codec {:.3}, xor chunk {:.3}, decimal head chunk {:.3} bytes/sample",
                per(bytes),
                per(xor_bytes),
                per(head_bytes)
            );
            xor_total += xor_bytes;
            head_total += head_bytes;
            total += bytes;
            samples += 50 * 480;
        }
        let avg = total as f64 / samples as f64;
        let xor_avg = xor_total as f64 / samples as f64;
        let head_avg = head_total as f64 / samples as f64;
        println!("average: block codec {avg:.3}, xor chunk {xor_avg:.3}, decimal head chunk {head_avg:.3} bytes/sample");
        assert!(xor_avg < 3.5, "xor chunk: {xor_avg} bytes/sample");
        assert!(
            head_avg < 1.5,
            "decimal head chunk: {head_avg} bytes/sample"
        );
        assert!(avg < 1.0, "{avg} bytes/sample");
    }
}
