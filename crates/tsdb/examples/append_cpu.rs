//! Append throughput per CPU-second: `threads` senders commit batches of
//! 2000 series × 1 sample into a head of `series` series; prints samples per
//! CPU-second of the whole process (user + system time from /proc/self/stat).
//!
//! ```text
//! cargo run --release -p argus-tsdb --example append_cpu -- [series=100000] [threads=8] [commits=3000]
//! ```

use argus_tsdb::{Appender, Db, FsyncPolicy, Options};
use std::sync::Arc;

const BATCH: usize = 2_000;

/// User + system CPU seconds of this process (all threads).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    f.iter().sum::<u64>() as f64 / 100.0
}

fn label_set(i: usize) -> Vec<(String, String)> {
    vec![
        ("__name__".into(), format!("metric_{}", i % 200)),
        ("instance".into(), format!("host-{}:9100", i / 200)),
        ("job".into(), format!("job-{}", i % 7)),
        ("mode".into(), format!("m{}", i % 3)),
        ("zone".into(), format!("z{}", i % 5)),
    ]
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let series = args.first().copied().unwrap_or(100_000).max(BATCH);
    let threads = args.get(1).copied().unwrap_or(8).max(1);
    let commits = args.get(2).copied().unwrap_or(3_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        wal_fsync: FsyncPolicy::Never,
        // Timestamps start at 0 (1970): no retention bound on their age.
        retention_ms: None,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts, Arc::new(argus_model::SystemClock)).expect("open");
    let labels: Arc<Vec<Vec<(String, String)>>> = Arc::new((0..series).map(label_set).collect());
    for chunk in labels.chunks(BATCH) {
        let mut app = db.appender();
        for l in chunk {
            let pairs: Vec<(&str, &str)> =
                l.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            app.append_pairs(&pairs, 0, 0.0).expect("append");
        }
        app.commit().expect("commit");
    }
    let batches = series / BATCH;
    let (c0, w0) = (cpu_seconds(), std::time::Instant::now());
    let handles: Vec<_> = (0..threads)
        .map(|th| {
            let (db, labels) = (db.clone(), labels.clone());
            std::thread::spawn(move || {
                let mut pairs: Vec<(&str, &str)> = Vec::new();
                let mut n = 0u64;
                // Thread `th` owns batches th, th+threads, ...: senders never share a series.
                let mine: Vec<usize> = (th..batches).step_by(threads).collect();
                if mine.is_empty() {
                    return 0;
                }
                for k in 0..commits / threads {
                    let b = mine[k % mine.len()];
                    let t = (k / mine.len()) as i64 * 15_000 + 15_000;
                    let mut app = db.appender();
                    for l in &labels[b * BATCH..(b + 1) * BATCH] {
                        pairs.clear();
                        pairs.extend(l.iter().map(|(n, v)| (n.as_str(), v.as_str())));
                        app.append_pairs(&pairs, t, k as f64).expect("append");
                    }
                    n += app.commit().expect("commit").samples;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().expect("join")).sum();
    let (cpu, wall) = (cpu_seconds() - c0, w0.elapsed().as_secs_f64());
    println!(
        "series={series} threads={threads} samples={total} cpu_s={cpu:.2} wall_s={wall:.2} samples_per_cpu_s={:.0}",
        total as f64 / cpu
    );
}
