//! Disk I/O from `/proc/diskstats`, as node_exporter's `diskstats` collector,
//! with its default device filter
//! `^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$` (partitions and
//! virtual devices are ignored), matched by hand.
//!
//! ```
//! use argus_collect::collectors::disk::device_ignored;
//! assert!(device_ignored("sda1") && device_ignored("nvme0n1p2") && device_ignored("loop0"));
//! assert!(!device_ignored("sda") && !device_ignored("nvme0n1") && !device_ignored("dm-0"));
//! ```

use std::path::{Path, PathBuf};

use super::{as_str, fields, lines, parse_u64, read_into, Collector};
use crate::expose::{MetricFamily, MetricKind};
use crate::CollectError;

const SECTOR: f64 = 512.0;
const MS: f64 = 0.001;

/// (name, help, kind, scale) for diskstats fields 4.. in order.
const FIELDS: [(&str, &str, MetricKind, f64); 17] = [
    (
        "node_disk_reads_completed_total",
        "The total number of reads completed successfully.",
        MetricKind::Counter,
        1.0,
    ),
    (
        "node_disk_reads_merged_total",
        "The total number of reads merged.",
        MetricKind::Counter,
        1.0,
    ),
    (
        "node_disk_read_bytes_total",
        "The total number of bytes read successfully.",
        MetricKind::Counter,
        SECTOR,
    ),
    (
        "node_disk_read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        MetricKind::Counter,
        MS,
    ),
    (
        "node_disk_writes_completed_total",
        "The total number of writes completed successfully.",
        MetricKind::Counter,
        1.0,
    ),
    (
        "node_disk_writes_merged_total",
        "The number of writes merged.",
        MetricKind::Counter,
        1.0,
    ),
    (
        "node_disk_written_bytes_total",
        "The total number of bytes written successfully.",
        MetricKind::Counter,
        SECTOR,
    ),
    (
        "node_disk_write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        MetricKind::Counter,
        MS,
    ),
    (
        "node_disk_io_now",
        "The number of I/Os currently in progress.",
        MetricKind::Gauge,
        1.0,
    ),
    (
        "node_disk_io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        MetricKind::Counter,
        MS,
    ),
    (
        "node_disk_io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        MetricKind::Counter,
        MS,
    ),
    (
        "node_disk_discards_completed_total",
        "The total number of discards completed successfully.",
        MetricKind::Counter,
        1.0,
    ),
    (
        "node_disk_discards_merged_total",
        "The total number of discards merged.",
        MetricKind::Counter,
        1.0,
    ),
    (
        "node_disk_discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        MetricKind::Counter,
        1.0,
    ),
    (
        "node_disk_discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        MetricKind::Counter,
        MS,
    ),
    (
        "node_disk_flush_requests_total",
        "The total number of flush requests completed successfully",
        MetricKind::Counter,
        1.0,
    ),
    (
        "node_disk_flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        MetricKind::Counter,
        MS,
    ),
];

/// Whether node_exporter's default filter ignores `dev`.
pub fn device_ignored(dev: &str) -> bool {
    let prefix = dev.trim_end_matches(|c: char| c.is_ascii_digit());
    if prefix.len() == dev.len() {
        return false; // no trailing number
    }
    if matches!(prefix, "ram" | "zram" | "loop" | "fd") {
        return true;
    }
    let b = prefix.as_bytes();
    let disk_letter =
        |rest: &[u8]| rest.len() == 2 && rest[0] == b'd' && rest[1].is_ascii_lowercase();
    if (b.len() == 3 && matches!(b[0], b'h' | b's' | b'v') && disk_letter(&b[1..]))
        || (b.len() == 4 && b.starts_with(b"xv") && disk_letter(&b[2..]))
    {
        return true;
    }
    // nvme\d+n\d+p
    if let Some(rest) = prefix
        .strip_prefix("nvme")
        .and_then(|r| r.strip_suffix('p'))
    {
        if let Some((a, c)) = rest.split_once('n') {
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|x| x.is_ascii_digit());
            return digits(a) && digits(c);
        }
    }
    false
}

/// Reads `/proc/diskstats`.
#[derive(Debug)]
pub struct DiskCollector {
    path: PathBuf,
    buf: Vec<u8>,
}

impl DiskCollector {
    /// A collector reading under `procfs_root`.
    pub fn new(procfs_root: &Path) -> Self {
        DiskCollector {
            path: procfs_root.join("diskstats"),
            buf: Vec::with_capacity(4096),
        }
    }
}

impl Collector for DiskCollector {
    fn name(&self) -> &'static str {
        "disk"
    }

    fn collect(&mut self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        read_into(&self.path, &mut self.buf)?;
        let mut fams: Vec<MetricFamily> = FIELDS
            .iter()
            .map(|(n, h, k, _)| MetricFamily::new(*n, *h, *k))
            .collect();
        for line in lines(&self.buf) {
            let mut it = fields(line).skip(2);
            let Some(dev) = it.next().and_then(as_str) else {
                continue;
            };
            if device_ignored(dev) {
                continue;
            }
            for (i, v) in it.map_while(parse_u64).take(FIELDS.len()).enumerate() {
                fams[i].push_owned(vec![("device", dev.to_string())], v as f64 * FIELDS[i].3);
            }
        }
        out.extend(fams.into_iter().filter(|f| !f.samples.is_empty()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_matches_node_exporter_default() {
        for d in [
            "ram0",
            "zram1",
            "loop12",
            "fd0",
            "hda1",
            "sdb3",
            "vda1",
            "xvdc2",
            "nvme0n1p1",
            "nvme10n2p15",
        ] {
            assert!(device_ignored(d), "{d}");
        }
        for d in [
            "sda",
            "vdb",
            "nvme0n1",
            "dm-0",
            "md0",
            "mmcblk0",
            "sr0",
            "xvda",
            "nvmeXn1p1",
            "sdaa1",
            "",
        ] {
            assert!(!device_ignored(d), "{d}");
        }
    }

    #[test]
    fn parses_diskstats_with_and_without_discards() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("diskstats"),
            "   8       0 sda 100 2 2048 500 50 1 1024 250 0 600 750 10 0 80 5 3 7\n\
   8       1 sda1 1 1 1 1 1 1 1 1 1 1 1\n\
   7       0 loop0 1 1 1 1 1 1 1 1 1 1 1\n\
 253       0 dm-0 9 0 8 0 4 0 16 0 2 0 0\n\
 253       1 trunc 1 2\n\
 garbage\n",
        )
        .unwrap();
        let mut out = Vec::new();
        DiskCollector::new(d.path()).collect(&mut out).unwrap();
        let f = |n: &str| out.iter().find(|f| f.name == n).unwrap();
        assert_eq!(f("node_disk_reads_completed_total").samples.len(), 3);
        let rb = &f("node_disk_read_bytes_total").samples[0];
        assert_eq!(rb.labels, vec![("device", "sda".to_string())]);
        assert_eq!(rb.value, 2048.0 * 512.0);
        assert_eq!(f("node_disk_read_time_seconds_total").samples[0].value, 0.5);
        assert_eq!(f("node_disk_io_now").samples[1].value, 2.0);
        assert_eq!(f("node_disk_discards_completed_total").samples.len(), 1);
        assert_eq!(f("node_disk_flush_requests_total").samples[0].value, 3.0);
        assert!(out
            .iter()
            .all(|f| f.samples.iter().all(|s| s.labels[0].1 != "sda1")));
    }
}
