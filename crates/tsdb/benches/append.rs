//! Append throughput: commits of 2000-series × 1-sample batches (a remote_write
//! request) into a head that already holds 100k series.
//!
//! ```text
//! cargo bench -p argus-tsdb --bench append
//! ```
//!
//! Wall time on a shared machine is noisy; `examples/append_cpu.rs` reports
//! the same workload as samples per CPU-second.

use argus_tsdb::{Appender, Db, FsyncPolicy, Options};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const SERIES: usize = 100_000;
const BATCH: usize = 2_000;

fn main() {
    divan::main();
}

/// Label values of series `i`: 5 labels, sorted by name.
fn label_set(i: usize) -> [(String, String); 5] {
    [
        ("__name__".into(), format!("metric_{}", i % 200)),
        ("instance".into(), format!("host-{}:9100", i / 200)),
        ("job".into(), format!("job-{}", i % 7)),
        ("mode".into(), format!("m{}", i % 3)),
        ("zone".into(), format!("z{}", i % 5)),
    ]
}

struct Fixture {
    db: Db,
    labels: Vec<[(String, String); 5]>,
    round: AtomicU64,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        wal_fsync: FsyncPolicy::Never,
        // Timestamps start at 0 (1970): no retention bound on their age.
        retention_ms: None,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts, Arc::new(argus_model::SystemClock)).expect("open");
    let labels: Vec<_> = (0..SERIES).map(label_set).collect();
    for chunk in labels.chunks(BATCH) {
        let mut app = db.appender();
        for l in chunk {
            let pairs: Vec<(&str, &str)> =
                l.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            app.append_pairs(&pairs, 0, 1.0).expect("append");
        }
        app.commit().expect("commit");
    }
    Fixture {
        db,
        labels,
        round: AtomicU64::new(1),
        _dir: dir,
    }
}

/// One commit of 2000 existing series × 1 sample.
#[divan::bench(sample_count = 50, sample_size = 10)]
fn commit_2000_of_100k(bencher: divan::Bencher) {
    let f = fixture();
    bencher
        .counter(divan::counter::ItemsCount::new(BATCH))
        .bench(|| {
            let r = f.round.fetch_add(1, Ordering::Relaxed) as usize;
            let start = (r * BATCH) % SERIES;
            // Every series gets one sample per pass over the 100k.
            let t = ((r * BATCH) / SERIES) as i64 * 15_000 + 15_000;
            let mut app = f.db.appender();
            for l in &f.labels[start..start + BATCH] {
                let pairs: [(&str, &str); 5] =
                    std::array::from_fn(|k| (l[k].0.as_str(), l[k].1.as_str()));
                app.append_pairs(&pairs, t, r as f64).expect("append");
            }
            app.commit().expect("commit")
        });
}
