//! Tests of the head-chunk codecs.

use super::codec::*;
use super::*;
use argus_model::STALE_NAN;
use proptest::prelude::*;

fn build(samples: &[(i64, f64)]) -> XorChunk {
    let mut c = XorChunk::new();
    samples.iter().for_each(|&(t, v)| c.append(t, v));
    c
}

fn assert_bit_eq(got: &[Sample], want: &[(i64, f64)]) {
    let got: Vec<_> = got.iter().map(|s| (s.t, s.v.to_bits())).collect();
    let want: Vec<_> = want.iter().map(|s| (s.0, s.1.to_bits())).collect();
    assert_eq!(got, want);
}

/// Any bit pattern, small integers, and every special value.
pub(crate) fn value() -> impl Strategy<Value = f64> {
    let special = [
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        STALE_NAN,
        -0.0,
        0.0,
    ];
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        (0u32..1000).prop_map(f64::from),
        prop::sample::select(special.to_vec()),
    ]
}

/// Strictly increasing timestamps from `start` after the given gaps
/// (clamped so nothing passes `i64::MAX`), paired with values.
pub(crate) fn increasing<V>(start: i64, steps: Vec<(u64, V)>) -> Vec<(i64, V)> {
    let mut t = start;
    let mut out = Vec::new();
    for (i, (gap, v)) in steps.into_iter().enumerate() {
        if i > 0 {
            let room = (i64::MAX as i128 - t as i128) as u64;
            if room == 0 {
                break;
            }
            t = (t as i128 + gap.clamp(1, room) as i128) as i64;
        }
        out.push((t, v));
    }
    out
}

fn series() -> impl Strategy<Value = Vec<(i64, f64)>> {
    let start = prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MIN + 1), Just(0i64)];
    let gap = prop_oneof![Just(15_000u64), 1u64..100, any::<u64>(), Just(u64::MAX / 2)];
    (start, prop::collection::vec((gap, value()), 0..300)).prop_map(|(t, s)| increasing(t, s))
}

proptest! {
    #[test]
    fn round_trips_bit_exact(s in series()) {
        let c = build(&s);
        prop_assert_eq!(c.len(), s.len());
        assert_bit_eq(&decode(c.bytes()).unwrap(), &s);
        assert_bit_eq(&c.iter().collect::<Vec<_>>(), &s);
        prop_assert_eq!(c.first_t(), s.first().map(|x| x.0));
        prop_assert_eq!(c.last_t(), s.last().map(|x| x.0));
        prop_assert_eq!(c.last_v().map(f64::to_bits), s.last().map(|x| x.1.to_bits()));
    }

    #[test]
    fn reopened_chunk_stays_appendable(s in series(), split in 0usize..300) {
        let split = split.min(s.len());
        let mut c = XorChunk::from_bytes(build(&s[..split]).bytes().to_vec()).unwrap();
        s[split..].iter().for_each(|&(t, v)| c.append(t, v));
        let whole = build(&s);
        prop_assert_eq!(c.bytes(), whole.bytes());
    }

    #[test]
    fn truncations_and_corruptions_never_panic(s in series(), at in any::<prop::sample::Index>(), x in 1u8..) {
        let mut b = build(&s).bytes().to_vec();
        let i = at.index(b.len());
        prop_assert!(decode(&b[..i]).is_err());
        prop_assert!(XorChunk::from_bytes(b[..i].to_vec()).is_err());
        b[i] ^= x;
        if let Ok(c) = XorChunk::from_bytes(b) {
            let _ = (c.iter().count(), c.first_t());
        }
    }

    #[test]
    fn garbage_never_panics(mut b in prop::collection::vec(any::<u8>(), 0..200), ver in any::<bool>()) {
        if ver && !b.is_empty() {
            b[0] = FORMAT_VERSION;
        }
        let _ = decode(&b);
        if let Ok(c) = XorChunk::from_bytes(b) {
            let _ = c.iter().count();
        }
    }
}

/// Values with a decimal form at some scale, of every magnitude up to `2^53 / 10^k`.
fn decimal_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-MAX_SCALED..=MAX_SCALED, 0..=MAX_SCALE).prop_map(|(m, k)| from_scaled(m, k)),
        (-100_000i64..100_000, 0..=MAX_SCALE).prop_map(|(m, k)| from_scaled(m, k)),
        (0u32..1000).prop_map(f64::from),
    ]
}

/// Mostly decimal values with some that are not (NaN, stale, -0.0, noise).
fn mixed_value() -> impl Strategy<Value = f64> {
    prop_oneof![8 => decimal_value(), 1 => value()]
}

fn walk() -> impl Strategy<Value = Vec<(i64, f64)>> {
    // A two-decimal random walk, the XOR encoding's worst case.
    let steps = prop::collection::vec((1u64..30_000, -1000i64..1000), 0..300);
    (any::<i64>(), -1_000_000i64..1_000_000, steps).prop_map(|(t, m0, steps)| {
        let mut m = m0;
        let s = steps.into_iter().map(|(g, d)| {
            m += d;
            (g, from_scaled(m, 2))
        });
        increasing(t, s.collect())
    })
}

fn decimal_series() -> impl Strategy<Value = Vec<(i64, f64)>> {
    let start = prop_oneof![any::<i64>(), Just(i64::MIN), Just(0i64)];
    let gap = prop_oneof![Just(15_000u64), 1u64..100, any::<u64>()];
    let s = (
        start.clone(),
        prop::collection::vec((gap.clone(), decimal_value()), 0..300),
    );
    let m = (start, prop::collection::vec((gap, mixed_value()), 0..300));
    prop_oneof![
        s.prop_map(|(t, s)| increasing(t, s)),
        m.prop_map(|(t, s)| increasing(t, s)),
        walk(),
    ]
}

/// Appends like the head does: a refused value cuts a chunk that takes it.
fn build_head(samples: &[(i64, f64)]) -> Vec<HeadChunk> {
    let mut out = vec![HeadChunk::default()];
    for &(t, v) in samples {
        let c = out.last_mut().unwrap();
        if !c.try_append(t, v) {
            let mut next = HeadChunk::for_value(v, c.scale().unwrap_or(0));
            assert!(next.try_append(t, v), "a chunk for {v} refused it");
            out.push(next);
        }
    }
    out.retain(|c| !c.is_empty());
    out
}

proptest! {
    #[test]
    fn head_chunks_round_trip_bit_exact(s in decimal_series()) {
        let chunks = build_head(&s);
        let mut got = Vec::new();
        for c in &chunks {
            let d = decode(c.bytes()).unwrap();
            assert_bit_eq(&c.iter().collect::<Vec<_>>(), &d.iter().map(|x| (x.t, x.v)).collect::<Vec<_>>());
            prop_assert_eq!(c.len(), d.len());
            prop_assert_eq!(c.first_t(), d.first().map(|x| x.t));
            prop_assert_eq!(c.last_t(), d.last().map(|x| x.t));
            prop_assert_eq!(c.last_v().map(f64::to_bits), d.last().map(|x| x.v.to_bits()));
            got.extend(d);
        }
        assert_bit_eq(&got, &s);
    }

    #[test]
    fn pure_decimal_values_stay_in_one_chunk(s in walk()) {
        let chunks = build_head(&s);
        prop_assert!(chunks.len() <= 1);
        prop_assert!(chunks.iter().all(|c| c.bytes()[0] == FORMAT_DECIMAL));
    }

    #[test]
    fn reopened_head_chunk_stays_appendable(s in decimal_series(), split in 0usize..300) {
        let chunks = build_head(&s);
        let mut at = 0;
        for whole in &chunks {
            let n = whole.len();
            let cut = split.min(n);
            // An empty chunk of the same format (and final scale) as `whole`.
            let mut part = match whole {
                HeadChunk::Xor(_) => HeadChunk::Xor(XorChunk::new()),
                HeadChunk::Decimal(d) => HeadChunk::Decimal(DecimalChunk::new(d.scale())),
            };
            for &(t, v) in &s[at..at + cut] {
                prop_assert!(part.try_append(t, v));
            }
            let bytes = part.bytes().to_vec();
            let mut c = HeadChunk::from_bytes(bytes).unwrap();
            for &(t, v) in &s[at + cut..at + n] {
                prop_assert!(c.try_append(t, v));
            }
            prop_assert_eq!(c.bytes(), whole.bytes());
            at += n;
        }
    }

    #[test]
    fn decimal_truncations_and_corruptions_never_panic(s in decimal_series(), at in any::<prop::sample::Index>(), x in 1u8..) {
        for c in build_head(&s) {
            let mut b = c.bytes().to_vec();
            let i = at.index(b.len());
            prop_assert!(decode(&b[..i]).is_err());
            prop_assert!(HeadChunk::from_bytes(b[..i].to_vec()).is_err());
            b[i] ^= x;
            if let Ok(c) = HeadChunk::from_bytes(b) {
                let _ = (c.iter().count(), c.first_t(), c.last_v());
            }
        }
    }

    #[test]
    fn decimal_garbage_never_panics(mut b in prop::collection::vec(any::<u8>(), 0..200), scale in 0u8..6) {
        if b.len() > 5 {
            (b[0], b[5]) = (FORMAT_DECIMAL, scale);
        }
        let _ = decode(&b);
        if let Ok(c) = HeadChunk::from_bytes(b) {
            let _ = c.iter().count();
        }
    }
}

#[test]
fn decimal_chunk_refuses_and_rescales() {
    let mut c = DecimalChunk::new(0);
    assert!(c.is_empty() && c.heap_bytes() == 0);
    assert_eq!(decode(c.bytes()).unwrap().len(), 0);
    for (i, v) in [3.0, 4.0, 4.5, 4.25, 1e12].into_iter().enumerate() {
        assert!(c.try_append(i as i64, v), "{v}");
    }
    assert_eq!(c.scale(), 2);
    for v in [
        f64::NAN,
        STALE_NAN,
        -0.0,
        f64::INFINITY,
        0.1 + 0.2,
        1e-5,
        2f64.powi(60),
    ] {
        let before = c.bytes().to_vec();
        assert!(!c.try_append(10, v), "{v}");
        assert_eq!(c.bytes(), before);
    }
    // 1e12 · 10^4 is beyond 2^53, so scale 4 cannot take the chunk.
    assert!(!c.try_append(10, 0.0001));
    let got = decode(c.bytes()).unwrap();
    assert_eq!(
        got.iter().map(|s| s.v).collect::<Vec<_>>(),
        [3.0, 4.0, 4.5, 4.25, 1e12]
    );
    assert!(matches!(
        XorChunk::from_bytes(c.bytes().to_vec()),
        Err(ChunkError::UnsupportedVersion { version: 2, .. })
    ));
    assert!(DecimalChunk::from_bytes(XorChunk::new().bytes().to_vec()).is_err());
    let mut bad = c.bytes().to_vec();
    bad[5] = MAX_SCALE + 1;
    assert!(decode(&bad).unwrap_err().to_string().contains("scale"));
    assert!(
        std::mem::size_of::<HeadChunk>() <= 80,
        "{}",
        std::mem::size_of::<HeadChunk>()
    );
}

#[test]
fn extreme_gaps_and_special_values() {
    let s = [
        (i64::MIN, STALE_NAN),
        (0, -0.0),
        (i64::MAX / 2, f64::NAN),
        (i64::MAX, 1.0),
    ];
    let c = build(&s);
    assert_bit_eq(&decode(c.bytes()).unwrap(), &s);
    assert_eq!(XorChunk::from_bytes(c.bytes().to_vec()).unwrap().len(), 4);
}

#[test]
fn errors_name_the_position() {
    let c = build(&[(1, 1.0), (2, 2.0)]);
    let mut b = c.bytes().to_vec();
    b.push(0);
    assert!(decode(&b)
        .unwrap_err()
        .to_string()
        .contains("trailing byte"));
    let err = decode(&c.bytes()[..7]).unwrap_err().to_string();
    assert!(err.contains("truncated") && err.contains("byte 6"), "{err}");
    let err = decode(&[9, 0, 0, 0, 0]).unwrap_err();
    assert!(matches!(
        err,
        ChunkError::UnsupportedVersion { version: 9, .. }
    ));
}

#[test]
fn empty_chunk() {
    let c = XorChunk::new();
    assert!(c.is_empty() && c.first_t().is_none() && c.last_v().is_none());
    assert_eq!(decode(c.bytes()).unwrap().len(), 0);
    assert!(c.heap_bytes() >= c.bytes().len());
    assert!(std::mem::size_of::<XorChunk>() <= 56);
}
