//! Per-sample cost of the streaming anomaly scorer, and its state size.
//!
//! ```text
//! cargo bench -p argus-detect --bench anomaly
//! ```
//!
//! `score_10k` feeds 10 000 samples of a noisy daily series to one scorer
//! (the default: forecasters, likelihood layer and contextual detector);
//! `score_10k_without_context` is the same with the contextual detector off,
//! and `context_10k` is the contextual detector alone. Divide the time by
//! 10 000 for the cost per sample. The state sizes are printed once before
//! the run.

use argus_detect::anomaly::{AnomalyConfig, AnomalyScorer, ContextConfig, ContextDetector};

fn main() {
    let s = AnomalyScorer::new(AnomalyConfig::default());
    let off = AnomalyScorer::new(without_context());
    let c = ContextDetector::new(ContextConfig::default());
    println!(
        "anomaly scorer state: {} bytes per series ({} without the contextual detector, which alone holds {})",
        s.state_bytes(),
        off.state_bytes(),
        c.state_bytes()
    );
    divan::main();
}

fn without_context() -> AnomalyConfig {
    AnomalyConfig {
        context_add: 0.0,
        context_weight: 0.0,
        ..AnomalyConfig::default()
    }
}

const N: i64 = 10_000;

fn sample(i: i64) -> f64 {
    let x = (i as u64)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let noise = ((x >> 33) % 1000) as f64 / 1000.0;
    let tod = (i * 300) % 86_400;
    50.0 + 20.0 * (tod as f64 / 86_400.0 * std::f64::consts::TAU).sin() + noise
}

/// 10 000 samples through one warm scorer (divide by 10 000 per sample).
#[divan::bench]
fn score_10k(bencher: divan::Bencher) {
    run_10k(bencher, AnomalyConfig::default());
}

/// As `score_10k`, with the contextual detector disabled.
#[divan::bench]
fn score_10k_without_context(bencher: divan::Bencher) {
    run_10k(bencher, without_context());
}

/// 10 000 samples through one warm contextual detector alone.
#[divan::bench]
fn context_10k(bencher: divan::Bencher) {
    let values: Vec<f64> = (0..N).map(sample).collect();
    let mut d = ContextDetector::new(ContextConfig::default());
    for v in &values {
        d.update(*v);
    }
    bencher.bench_local(|| {
        let mut acc = 0.0;
        for v in &values {
            acc += d.update(divan::black_box(*v));
        }
        acc
    });
}

fn run_10k(bencher: divan::Bencher, cfg: AnomalyConfig) {
    let values: Vec<f64> = (0..N).map(sample).collect();
    let mut scorer = AnomalyScorer::new(cfg);
    for (i, v) in values.iter().enumerate() {
        scorer.update(i as i64 * 300, *v);
    }
    let mut t = N;
    bencher.bench_local(|| {
        let mut acc = 0.0;
        for v in &values {
            t += 1;
            acc += scorer.update(divan::black_box(t * 300), divan::black_box(*v));
        }
        acc
    });
}

/// Creating a scorer (three allocations: the daily and weekly profiles and
/// the contextual detector).
#[divan::bench]
fn new_scorer() -> AnomalyScorer {
    AnomalyScorer::new(divan::black_box(AnomalyConfig::default()))
}
