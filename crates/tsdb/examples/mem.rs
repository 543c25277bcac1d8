//! Head memory per active series: creates `n` series and appends
//! `samples` samples to each (15 s apart, in commits of 2000 series), then
//! prints the process's resident memory per series.
//!
//! ```text
//! cargo run --release -p argus-tsdb --example mem -- 1000000 [samples=120]
//! ```
//!
//! Values mix what exporters send: constant gauges, integer counters, two-decimal
//! gauges and byte counters (a quarter each). Label strings are generated on the
//! fly so the only long-lived copy is the store's.

use argus_tsdb::{Appender, Db, FsyncPolicy, Options};
use std::sync::Arc;

const BATCH: usize = 2_000;

/// `(VmRSS, VmHWM)` in bytes.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn value(series: usize, k: usize) -> f64 {
    let k = k as f64;
    match series % 4 {
        0 => 1.0,
        1 => k * (series % 10 + 1) as f64,
        2 => ((series as f64 * 0.37 + k * 0.1).sin() * 100.0 * 100.0).round() / 100.0,
        _ => (k * 1_048_576.0 * ((series % 13) + 1) as f64 + (k * k) % 4096.0).floor(),
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(100_000).max(1);
    let samples = args.get(1).copied().unwrap_or(120);
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        wal_fsync: FsyncPolicy::Never,
        // Timestamps start at 0 (1970): no retention bound on their age.
        retention_ms: None,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts, Arc::new(argus_model::SystemClock)).expect("open");
    let (base, _) = rss();
    let t0 = 1_700_000_000_000i64 / 7_200_000 * 7_200_000; // a block boundary
    let mut names: Vec<[String; 5]> = Vec::with_capacity(BATCH);
    for k in 0..samples {
        for start in (0..n).step_by(BATCH) {
            names.clear();
            names.extend((start..(start + BATCH).min(n)).map(|i| {
                [
                    format!("metric_{}", i % 500),
                    format!("host-{}.example.org:9100", i / 500),
                    format!("job-{}", i % 7),
                    format!("m{}", i % 3),
                    format!("eu-west-{}", i % 5),
                ]
            }));
            let mut app = db.appender();
            for (j, v) in names.iter().enumerate() {
                let pairs = [
                    ("__name__", v[0].as_str()),
                    ("instance", v[1].as_str()),
                    ("job", v[2].as_str()),
                    ("mode", v[3].as_str()),
                    ("zone", v[4].as_str()),
                ];
                let t = t0 + k as i64 * 15_000;
                app.append_pairs(&pairs, t, value(start + j, k))
                    .expect("append");
            }
            app.commit().expect("commit");
        }
    }
    drop(names);
    let (now, hwm) = rss();
    let st = db.stats();
    println!(
        "series={n} samples_per_series={samples} head_samples={} head_chunks={} symbols={}",
        st.head_samples, st.head_chunks, st.head_symbols
    );
    println!(
        "rss_mb={:.1} hwm_mb={:.1} base_mb={:.1} bytes_per_series(rss-base)={:.0} hwm_per_series={:.0}",
        now as f64 / 1e6,
        hwm as f64 / 1e6,
        base as f64 / 1e6,
        (now - base) as f64 / n as f64,
        hwm as f64 / n as f64
    );
}
