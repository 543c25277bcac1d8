//! Detection benchmarks: scoring cost per sample, state size per series, and
//! training time for 10080 points (one week of minutes) per algorithm.
//!
//! `cargo bench -p argus-detect --bench detect` (sizes are printed first).

use std::hint::black_box;
use std::sync::Arc;

use argus_detect::detector::{DetectorState, SeriesDetector};
use argus_detect::spec::{Algorithm, RuleSpec};
use argus_detect::train::{train, TrainInput, TrainedModel};
use divan::counter::ItemsCount;
use divan::Bencher;

const WEEK: usize = 10_080;
const MIN: i64 = 60_000;
// 2024-01-01 00:00 UTC, a Monday
const START: i64 = 1_704_067_200_000;

fn series(n: usize) -> (Vec<i64>, Vec<f64>) {
    let mut s = 0x1234_5678u64;
    let ts: Vec<i64> = (0..n as i64).map(|i| START + i * MIN).collect();
    let v = ts
        .iter()
        .map(|&t| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let noise = ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5;
            let h = (t % 86_400_000) as f64 / 3_600_000.0;
            let day = if (9.0..17.0).contains(&h) { 300.0 } else { 0.0 };
            100.0 + day + 20.0 * noise
        })
        .collect();
    (ts, v)
}

fn spec(alg: Algorithm) -> RuleSpec {
    RuleSpec {
        algorithm: alg,
        period: "day".parse().unwrap_or_default(),
        ..Default::default()
    }
}

fn trained(alg: Algorithm) -> TrainedModel {
    let (ts, v) = series(WEEK);
    let input = TrainInput {
        ts: &ts,
        values: &v,
        flagged: None,
    };
    match train(&spec(alg), &input, None, 0, &mut |_| {}) {
        Ok(o) => o.active().clone(),
        Err(e) => panic!("training {alg:?} failed: {e}"),
    }
}

const ALGS: [Algorithm; 5] = [
    Algorithm::ColdStart,
    Algorithm::Ma,
    Algorithm::Kde,
    Algorithm::DataCluster,
    Algorithm::HoltWinters,
];

fn main() {
    println!(
        "DetectorState: {} bytes",
        std::mem::size_of::<DetectorState>()
    );
    println!(
        "SeriesDetector (state + 2 Arcs): {} bytes",
        std::mem::size_of::<SeriesDetector>()
    );
    for alg in &ALGS[1..] {
        let m = trained(*alg);
        let json = serde_json::to_vec(&m).map(|v| v.len()).unwrap_or(0);
        println!(
            "model {:>12}: {json} bytes as JSON (shared, immutable)",
            alg.as_str()
        );
    }
    divan::main();
}

/// Scoring: `observe` per sample, 1440 samples per iteration.
#[divan::bench(args = ALGS)]
fn observe(bencher: Bencher, alg: Algorithm) {
    let s = Arc::new(spec(if alg == Algorithm::ColdStart {
        Algorithm::Auto
    } else {
        alg
    }));
    let mut det = SeriesDetector::new(s).unwrap_or_else(|e| panic!("{e}"));
    if alg != Algorithm::ColdStart {
        det.install(Arc::new(trained(alg)));
    }
    let (ts, v) = series(WEEK + 1440);
    for i in 0..64 {
        let _ = det.observe(ts[i], v[i]);
    }
    let (ts, v) = (ts[WEEK..].to_vec(), v[WEEK..].to_vec());
    bencher
        .counter(ItemsCount::new(ts.len()))
        .with_inputs(|| det.clone())
        .bench_local_values(|mut d| {
            for i in 0..ts.len() {
                black_box(d.observe(ts[i], v[i]).map(|x| x.level).unwrap_or(0));
            }
            d
        });
}

/// Training on 10080 points with the algorithm declared.
#[divan::bench(args = &ALGS[1..], sample_count = 5, sample_size = 1)]
fn train_week(bencher: Bencher, alg: Algorithm) {
    let (ts, v) = series(WEEK);
    let s = spec(alg);
    bencher.bench_local(|| {
        let input = TrainInput {
            ts: &ts,
            values: &v,
            flagged: None,
        };
        black_box(
            train(&s, &input, None, 0, &mut |_| {})
                .map(|o| o.candidate.version)
                .unwrap_or(0),
        )
    });
}

/// Training on 10080 points with the algorithm chosen by backtest (all candidates).
#[divan::bench(sample_count = 3, sample_size = 1)]
fn train_week_auto(bencher: Bencher) {
    let (ts, v) = series(WEEK);
    let s = spec(Algorithm::Auto);
    bencher.bench_local(|| {
        let input = TrainInput {
            ts: &ts,
            values: &v,
            flagged: None,
        };
        black_box(
            train(&s, &input, None, 0, &mut |_| {})
                .map(|o| o.candidate.version)
                .unwrap_or(0),
        )
    });
}
