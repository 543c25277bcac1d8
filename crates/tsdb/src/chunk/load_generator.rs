//! Bytes per sample on the load generator's value kinds.

use super::*;

/// The values of `examples/mem.rs`: constant, integer counter, two-decimal
/// sine gauge, byte counter.
fn value(series: usize, k: usize) -> f64 {
    let k = k as f64;
    match series % 4 {
        0 => 1.0,
        1 => k * (series % 10 + 1) as f64,
        2 => ((series as f64 * 0.37 + k * 0.1).sin() * 100.0 * 100.0).round() / 100.0,
        _ => (k * 1_048_576.0 * ((series % 13) + 1) as f64 + (k * k) % 4096.0).floor(),
    }
}

/// Bytes per sample of 120-sample chunks, XOR against the head's choice.
/// Run with `--nocapture` to see the figures in `docs/format/chunks.md`.
#[test]
fn head_chunks_beat_xor_on_every_kind() {
    for kind in 0..4 {
        let (mut xor, mut head, mut cap) = (0, 0, 0);
        for s in 0..400 {
            let series = s * 4 + kind;
            let mut c = XorChunk::new();
            let mut h = vec![HeadChunk::default()];
            for k in 0..120 {
                let (t, v) = (1_700_000_000_000 + k as i64 * 15_000, value(series, k));
                c.append(t, v);
                if !h.last_mut().unwrap().try_append(t, v) {
                    let mut next = HeadChunk::for_value(v, 0);
                    assert!(next.try_append(t, v));
                    h.push(next);
                }
            }
            xor += c.bytes().len();
            head += h.iter().map(|c| c.bytes().len()).sum::<usize>();
            cap += h.iter().map(HeadChunk::heap_bytes).sum::<usize>();
        }
        let per = |b: usize| b as f64 / (400.0 * 120.0);
        println!(
            "kind {kind}: xor {:.3}, head {:.3} bytes/sample; buffer {:.1} of {:.1} bytes used",
            per(xor),
            per(head),
            head as f64 / 400.0,
            cap as f64 / 400.0
        );
        assert!(head < xor, "kind {kind}");
        assert!(
            cap < head + head / 3 + 400 * 16,
            "kind {kind}: {cap} for {head}"
        );
    }
}
