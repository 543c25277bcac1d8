//! The store service's own metrics, rendered for `/metrics`.

use crate::StoreCounters;
use argus_model::exposition::write_family;
use argus_tsdb::DbStats;
use std::sync::atomic::{AtomicU64, Ordering};

fn family(out: &mut String, name: &str, kind: &str, help: &str, v: f64) {
    write_family(name, kind, help, v, out);
}

impl StoreCounters {
    /// Renders the counters, the store's statistics, the scrape targets and
    /// the process's memory in text format 0.0.4.
    pub fn render(
        &self,
        s: &DbStats,
        scrape: Option<&argus_ingest::scrape::ScrapeManager<argus_tsdb::Storage>>,
    ) -> String {
        let c = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        let mut o = String::with_capacity(4096);
        family(
            &mut o,
            "argus_ingest_requests_total",
            "counter",
            "Write requests received.",
            c(&self.write_requests),
        );
        family(
            &mut o,
            "argus_ingest_requests_failed_total",
            "counter",
            "Write requests answered with an error.",
            c(&self.requests_failed),
        );
        family(
            &mut o,
            "argus_ingest_samples_accepted_total",
            "counter",
            "Samples accepted by the write endpoints.",
            c(&self.samples_accepted),
        );
        family(
            &mut o,
            "argus_ingest_samples_rejected_total",
            "counter",
            "Samples refused by the write endpoints.",
            c(&self.samples_rejected),
        );
        family(
            &mut o,
            "argus_tsdb_maintenance_failures_total",
            "counter",
            "Compaction or retention runs that failed.",
            c(&self.maintenance_failures),
        );
        family(
            &mut o,
            "argus_tsdb_read_only",
            "gauge",
            "1 while the store refuses writes because the disk is full or nearly full (storage.min_free_space).",
            f64::from(u8::from(s.read_only)),
        );
        family(
            &mut o,
            "argus_tsdb_out_of_window_samples_total",
            "counter",
            "Samples refused because their timestamp was too far in the future or older than the retention.",
            s.samples_rejected_out_of_window_total as f64,
        );
        family(
            &mut o,
            "argus_tsdb_head_series",
            "gauge",
            "Series in the head.",
            s.head_series as f64,
        );
        family(
            &mut o,
            "argus_tsdb_head_chunks",
            "gauge",
            "Chunks in the head.",
            s.head_chunks as f64,
        );
        family(
            &mut o,
            "argus_tsdb_head_samples",
            "gauge",
            "Samples in the head.",
            s.head_samples as f64,
        );
        family(
            &mut o,
            "argus_tsdb_blocks",
            "gauge",
            "Persisted blocks.",
            s.blocks as f64,
        );
        family(
            &mut o,
            "argus_tsdb_blocks_size_bytes",
            "gauge",
            "Bytes of persisted blocks.",
            s.block_bytes as f64,
        );
        family(
            &mut o,
            "argus_tsdb_wal_size_bytes",
            "gauge",
            "Bytes of WAL segments.",
            s.wal_bytes as f64,
        );
        family(
            &mut o,
            "argus_tsdb_wal_held_segments_dropped_total",
            "counter",
            "WAL segments a remote_write queue had not sent yet that were deleted because the unsent WAL exceeded storage.remote_write_max_wal_size.",
            s.wal_held_segments_dropped_total as f64,
        );
        family(
            &mut o,
            "argus_tsdb_samples_appended_total",
            "counter",
            "Samples appended to the store.",
            s.samples_appended_total as f64,
        );
        family(
            &mut o,
            "argus_tsdb_series_created_total",
            "counter",
            "Series created.",
            s.series_created_total as f64,
        );
        family(
            &mut o,
            "argus_tsdb_out_of_order_samples_total",
            "counter",
            "Samples refused as out of order.",
            s.samples_rejected_out_of_order_total as f64,
        );
        family(
            &mut o,
            "argus_tsdb_backfilled_samples_total",
            "counter",
            "Samples older than the head, written straight to blocks.",
            s.samples_backfilled_total as f64,
        );
        family(
            &mut o,
            "argus_tsdb_compactions_total",
            "counter",
            "Head compactions.",
            s.compactions_total as f64,
        );
        if let Some(sm) = scrape {
            let t = sm.targets();
            let up = t
                .iter()
                .filter(|x| x.health == argus_ingest::scrape::Health::Up)
                .count();
            family(
                &mut o,
                "argus_scrape_targets",
                "gauge",
                "Scrape targets configured.",
                t.len() as f64,
            );
            family(
                &mut o,
                "argus_scrape_targets_up",
                "gauge",
                "Scrape targets whose last scrape succeeded.",
                up as f64,
            );
        }
        if let Some(rss) = read_rss_bytes() {
            family(
                &mut o,
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                rss as f64,
            );
        }
        o
    }
}

fn read_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
