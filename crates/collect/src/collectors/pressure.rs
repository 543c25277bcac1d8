//! Pressure stall information (PSI) from `/proc/pressure/{cpu,memory,io}`,
//! as node_exporter's `pressure` collector. A kernel without PSI (no files)
//! gives no series and no error.
//!
//! ```
//! use argus_collect::collectors::{pressure::PressureCollector, Collector};
//! let dir = tempfile::tempdir().unwrap();
//! let mut out = Vec::new();
//! PressureCollector::new(dir.path()).collect(&mut out).unwrap();
//! assert!(out.is_empty());
//! ```

use std::path::{Path, PathBuf};

use super::{fields, lines, parse_u64, read_optional, Collector};
use crate::expose::{MetricFamily, MetricKind};
use crate::CollectError;

/// Reads `/proc/pressure/*`.
#[derive(Debug)]
pub struct PressureCollector {
    dir: PathBuf,
    buf: Vec<u8>,
}

/// (resource, line, metric name, help)
const METRICS: [(&str, &[u8], &str, &str); 5] = [
    (
        "cpu",
        b"some",
        "node_pressure_cpu_waiting_seconds_total",
        "Total time in seconds that processes have waited for CPU time",
    ),
    (
        "memory",
        b"some",
        "node_pressure_memory_waiting_seconds_total",
        "Total time in seconds that processes have waited for memory",
    ),
    (
        "memory",
        b"full",
        "node_pressure_memory_stalled_seconds_total",
        "Total time in seconds no process could make progress due to memory congestion",
    ),
    (
        "io",
        b"some",
        "node_pressure_io_waiting_seconds_total",
        "Total time in seconds that processes have waited due to IO congestion",
    ),
    (
        "io",
        b"full",
        "node_pressure_io_stalled_seconds_total",
        "Total time in seconds no process could make progress due to IO congestion",
    ),
];

impl PressureCollector {
    /// A collector reading under `procfs_root`.
    pub fn new(procfs_root: &Path) -> Self {
        PressureCollector {
            dir: procfs_root.join("pressure"),
            buf: Vec::with_capacity(256),
        }
    }
}

/// The `total=` value (microseconds) of the line starting with `kind`.
fn total_of(buf: &[u8], kind: &[u8]) -> Option<u64> {
    let line = lines(buf).find(|l| l.starts_with(kind))?;
    fields(line)
        .find_map(|f| f.strip_prefix(b"total="))
        .and_then(parse_u64)
}

impl Collector for PressureCollector {
    fn name(&self) -> &'static str {
        "pressure"
    }

    fn collect(&mut self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let mut current = "";
        let mut present = false;
        for (res, kind, name, help) in METRICS {
            if res != current {
                current = res;
                present = read_optional(&self.dir.join(res), &mut self.buf)?;
            }
            if !present {
                continue;
            }
            if let Some(us) = total_of(&self.buf, kind) {
                let mut f = MetricFamily::new(name, help, MetricKind::Counter);
                f.push(&[], us as f64 / 1e6);
                out.push(f);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_psi_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pressure");
        std::fs::create_dir(&p).unwrap();
        std::fs::write(
            p.join("cpu"),
            "some avg10=1.00 avg60=0.00 avg300=0.00 total=2500000\nfull avg10=0 total=9\n",
        )
        .unwrap();
        std::fs::write(
            p.join("memory"),
            "some avg10=0.00 total=1000000\nfull avg10=0.00 total=500000\n",
        )
        .unwrap();
        std::fs::write(p.join("io"), "some avg10=0.00 total=bad\nfull avg10").unwrap();
        let mut out = Vec::new();
        PressureCollector::new(d.path()).collect(&mut out).unwrap();
        let got: Vec<(&str, f64)> = out
            .iter()
            .map(|f| (f.name.as_ref(), f.samples[0].value))
            .collect();
        assert_eq!(
            got,
            vec![
                ("node_pressure_cpu_waiting_seconds_total", 2.5),
                ("node_pressure_memory_waiting_seconds_total", 1.0),
                ("node_pressure_memory_stalled_seconds_total", 0.5),
            ]
        );
    }
}
