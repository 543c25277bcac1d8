//! Training throughput at scale: trains many synthetic series of 10080
//! points (one week of minutes) the way the server does, on every core, and
//! extrapolates the time to train 100k series on this machine.
//!
//! Each series goes through `argus_detect::train::train` with the default
//! `RuleSpec` (period `auto`, algorithm `auto`: every candidate algorithm is
//! fitted on the head and backtested on the holdout, then the winner is
//! refitted on everything), exactly what the server's trainer runs for a
//! rule with no `detector:` settings. Then, on a smaller share, each
//! declared algorithm alone (period still `auto`).
//!
//! The series are seeded and vary in shape: flat noisy, daily periodic
//! (business hours), weekly (quiet weekends) and trending (a daily sine on a
//! linear trend), each with its own level, amplitude and noise.
//!
//! ```text
//! cargo run --release -p argus-detect --example train_many -- 2000
//! cargo run --release -p argus-detect --example train_many -- 2000 --per-algorithm 200 --threads 2
//! ```
//!
//! Arguments: the number of series for the `auto` run (default 200);
//! `--per-algorithm M` series per declared algorithm (default N/4, `0`
//! skips); `--threads T` worker threads (default: every core).
//!
//! Printed per run: series/s (wall), CPU-seconds per series (process user +
//! system time from `/proc/self/stat`, falling back to the workers' busy
//! time), and the extrapolated wall time for 100k series with this many
//! threads. The figures assume an otherwise idle machine; `loadavg` is
//! printed so a busy one shows.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use argus_detect::spec::{Algorithm, RuleSpec};
use argus_detect::train::{train, TrainInput};
use argus_model::SplitMix64;

const WEEK: usize = 10_080;
const MIN: i64 = 60_000;
// 2024-01-01 00:00 UTC, a Monday.
const START: i64 = 1_704_067_200_000;
const TARGET: f64 = 100_000.0;

/// Roughly normal (sum of four uniforms), mean 0, σ 1.
fn normal(r: &mut SplitMix64) -> f64 {
    (r.unit() + r.unit() + r.unit() + r.unit() - 2.0) * 1.732
}

/// The shape of series `i`: 0 flat, 1 daily, 2 weekly, 3 trending.
fn shape_name(i: usize) -> &'static str {
    ["flat", "daily", "weekly", "trending"][i % 4]
}

/// Series `i`: one week of minutes, seeded by `i`.
fn series(i: usize) -> (Vec<i64>, Vec<f64>) {
    let mut r = SplitMix64::new(0xA5A5_0000 + i as u64);
    let level = 10.0 + 1000.0 * r.unit();
    let amp = level * (0.5 + 2.0 * r.unit());
    let noise = level * (0.02 + 0.1 * r.unit());
    let trend = level * (r.unit() - 0.3) / WEEK as f64;
    let ts: Vec<i64> = (0..WEEK as i64).map(|k| START + k * MIN).collect();
    let vs = ts
        .iter()
        .enumerate()
        .map(|(k, &t)| {
            let h = (t % 86_400_000) as f64 / 3_600_000.0;
            let weekday = (t - START) / 86_400_000 % 7 < 5;
            let business = (9.0..17.0).contains(&h);
            let base = match i % 4 {
                0 => level,
                1 => level + if business { amp } else { 0.0 },
                2 => level + if weekday && business { amp } else { 0.0 },
                _ => {
                    level + trend * k as f64 + 0.3 * amp * (h / 24.0 * std::f64::consts::TAU).sin()
                }
            };
            (base + noise * normal(&mut r)).max(0.0)
        })
        .collect();
    (ts, vs)
}

/// Process CPU time (user + system), from `/proc/self/stat` (Linux).
fn cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are
    // fields 14 and 15 (1-based), in clock ticks of 1/100 s on Linux.
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

struct Run {
    wall: Duration,
    cpu: Duration,
    busy: Duration,
    chosen: [usize; 5],
    failed: usize,
}

/// Trains series `0..n` with `spec` on `threads` workers.
fn run(spec: &RuleSpec, n: usize, threads: usize) -> Run {
    let next = AtomicUsize::new(0);
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let per_thread: Vec<(Duration, [usize; 5], usize)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut busy = Duration::ZERO;
                    let mut chosen = [0usize; 5];
                    let mut failed = 0;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            break;
                        }
                        let (ts, vs) = series(i);
                        let input = TrainInput {
                            ts: &ts,
                            values: &vs,
                            flagged: None,
                        };
                        let t = Instant::now();
                        let out = train(spec, &input, None, 0, &mut |_| {});
                        busy += t.elapsed();
                        match out {
                            Ok(o) => {
                                let k = ALGS
                                    .iter()
                                    .position(|a| *a == o.active().algorithm)
                                    .unwrap_or(4);
                                chosen[k] += 1;
                            }
                            Err(e) => {
                                failed += 1;
                                eprintln!("series {i} ({}): {e}", shape_name(i));
                            }
                        }
                    }
                    (busy, chosen, failed)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("a training thread panicked"))
            .collect()
    });
    let wall = t0.elapsed();
    let busy: Duration = per_thread.iter().map(|p| p.0).sum();
    let mut chosen = [0usize; 5];
    for p in &per_thread {
        for (c, x) in chosen.iter_mut().zip(p.1) {
            *c += x;
        }
    }
    let failed = per_thread.iter().map(|p| p.2).sum();
    let cpu = match (cpu0, cpu_time()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => busy,
    };
    Run {
        wall,
        cpu,
        busy,
        chosen,
        failed,
    }
}

const ALGS: [Algorithm; 5] = [
    Algorithm::Ma,
    Algorithm::Kde,
    Algorithm::DataCluster,
    Algorithm::HoltWinters,
    Algorithm::ColdStart,
];

fn report(label: &str, n: usize, threads: usize, r: &Run) {
    let wall = r.wall.as_secs_f64();
    let rate = n as f64 / wall;
    let cpu_per = r.cpu.as_secs_f64() / n as f64;
    let extrapolated = TARGET / rate;
    println!(
        "{label:>13}: {n} series in {wall:.1} s wall, {:.1} CPU-s ({:.1} s busy): \
         {rate:.2} series/s, {:.1} ms CPU/series; 100k series ≈ {:.0} s ({:.2} h) on {threads} threads{}",
        r.cpu.as_secs_f64(),
        r.busy.as_secs_f64(),
        cpu_per * 1000.0,
        extrapolated,
        extrapolated / 3600.0,
        if r.failed > 0 {
            format!(", {} FAILED", r.failed)
        } else {
            String::new()
        }
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut n = 200usize;
    let mut per_alg: Option<usize> = None;
    let mut threads = std::thread::available_parallelism().map_or(1, |p| p.get());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |what: &str| -> usize {
            match it.next().map(|v| v.parse::<usize>()) {
                Some(Ok(v)) => v,
                _ => {
                    eprintln!("{what} needs a number");
                    std::process::exit(2)
                }
            }
        };
        match a.as_str() {
            "--per-algorithm" => per_alg = Some(val("--per-algorithm")),
            "--threads" => threads = val("--threads").max(1),
            "-h" | "--help" => {
                println!("train_many [N] [--per-algorithm M] [--threads T]");
                return;
            }
            x => match x.parse() {
                Ok(v) => n = v,
                Err(_) => {
                    eprintln!("unknown argument {x:?}; see --help");
                    std::process::exit(2)
                }
            },
        }
    }
    let per_alg = per_alg.unwrap_or(n / 4);
    println!(
        "{WEEK} points per series, {threads} threads, loadavg before: {}",
        loadavg()
    );
    let auto = RuleSpec::default();
    let r = run(&auto, n, threads);
    report("auto", n, threads, &r);
    println!(
        "{:>13}  chosen: ma {}, kde {}, data_cluster {}, holt_winters {}",
        "", r.chosen[0], r.chosen[1], r.chosen[2], r.chosen[3]
    );
    if per_alg > 0 {
        for alg in &ALGS[..4] {
            let spec = RuleSpec {
                algorithm: *alg,
                ..RuleSpec::default()
            };
            let r = run(&spec, per_alg, threads);
            report(alg.as_str(), per_alg, threads, &r);
        }
    }
    println!("loadavg after: {}", loadavg());
}
