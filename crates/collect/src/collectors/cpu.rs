//! CPU collector: `/proc/stat` and `/proc/loadavg`, as node_exporter's `cpu`,
//! `stat` and `loadavg` collectors.
//!
//! ```
//! use argus_collect::collectors::{cpu::CpuCollector, Collector};
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("stat"), "cpu0 100 0 0 0 0 0 0 0 0 0\nctxt 7\n").unwrap();
//! let mut out = Vec::new();
//! CpuCollector::new(dir.path()).collect(&mut out).unwrap(); // loadavg missing: skipped
//! let f = out.iter().find(|f| f.name == "node_cpu_seconds_total").unwrap();
//! assert_eq!(f.samples[0].value, 1.0); // 100 ticks at USER_HZ 100
//! ```

use std::path::{Path, PathBuf};

use super::{fields, lines, parse_f64, parse_u64, read_into, read_optional, Collector};
use crate::expose::{MetricFamily, MetricKind};
use crate::CollectError;

/// Clock ticks per second of `/proc/stat` (USER_HZ, 100 on every Linux ABI).
const USER_HZ: f64 = 100.0;
const MODES: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];

/// Reads `/proc/stat` and `/proc/loadavg`.
#[derive(Debug)]
pub struct CpuCollector {
    stat: PathBuf,
    loadavg: PathBuf,
    buf: Vec<u8>,
}

impl CpuCollector {
    /// A collector reading under `procfs_root`.
    pub fn new(procfs_root: &Path) -> Self {
        CpuCollector {
            stat: procfs_root.join("stat"),
            loadavg: procfs_root.join("loadavg"),
            buf: Vec::with_capacity(8192),
        }
    }
}

fn single(
    out: &mut Vec<MetricFamily>,
    name: &'static str,
    help: &'static str,
    kind: MetricKind,
    v: f64,
) {
    let mut f = MetricFamily::new(name, help, kind);
    f.push(&[], v);
    out.push(f);
}

impl Collector for CpuCollector {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn collect(&mut self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        read_into(&self.stat, &mut self.buf)?;
        let mut secs = MetricFamily::new(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
            MetricKind::Counter,
        );
        let mut guest = MetricFamily::new(
            "node_cpu_guest_seconds_total",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
            MetricKind::Counter,
        );
        let mut scalars: Vec<(&'static str, &'static str, MetricKind, f64)> = Vec::with_capacity(6);
        for line in lines(&self.buf) {
            let mut it = fields(line);
            let Some(key) = it.next() else { continue };
            if let Some(num) = key.strip_prefix(b"cpu") {
                // The aggregate "cpu" line has no number; node_exporter skips it too.
                let Some(cpu) = parse_u64(num) else { continue };
                let cpu = cpu.to_string();
                let vals: Vec<u64> = it.map_while(parse_u64).collect();
                for (mode, v) in MODES.iter().zip(vals.iter()) {
                    secs.push_owned(
                        vec![("cpu", cpu.clone()), ("mode", (*mode).to_string())],
                        *v as f64 / USER_HZ,
                    );
                }
                for (i, mode) in ["user", "nice"].iter().enumerate() {
                    if let Some(v) = vals.get(8 + i) {
                        guest.push_owned(
                            vec![("cpu", cpu.clone()), ("mode", (*mode).to_string())],
                            *v as f64 / USER_HZ,
                        );
                    }
                }
                continue;
            }
            let Some(v) = it.next().and_then(parse_u64) else {
                continue;
            };
            let v = v as f64;
            let m = match key {
                b"intr" => (
                    "node_intr_total",
                    "Total number of interrupts serviced.",
                    MetricKind::Counter,
                ),
                b"ctxt" => (
                    "node_context_switches_total",
                    "Total number of context switches.",
                    MetricKind::Counter,
                ),
                b"btime" => (
                    "node_boot_time_seconds",
                    "Node boot time, in unixtime.",
                    MetricKind::Gauge,
                ),
                b"processes" => (
                    "node_forks_total",
                    "Total number of forks.",
                    MetricKind::Counter,
                ),
                b"procs_running" => (
                    "node_procs_running",
                    "Number of processes in runnable state.",
                    MetricKind::Gauge,
                ),
                b"procs_blocked" => (
                    "node_procs_blocked",
                    "Number of processes blocked waiting for I/O to complete.",
                    MetricKind::Gauge,
                ),
                _ => continue,
            };
            scalars.push((m.0, m.1, m.2, v));
        }
        out.push(secs);
        out.push(guest);
        for (n, h, k, v) in scalars {
            single(out, n, h, k, v);
        }

        if read_optional(&self.loadavg, &mut self.buf)? {
            let mut it = fields(&self.buf);
            for (name, help) in [
                ("node_load1", "1m load average."),
                ("node_load5", "5m load average."),
                ("node_load15", "15m load average."),
            ] {
                match it.next().and_then(parse_f64) {
                    Some(v) => single(out, name, help, MetricKind::Gauge, v),
                    None => {
                        return Err(CollectError::Parse {
                            path: self.loadavg.clone(),
                            reason: format!("missing or malformed {name} field"),
                        })
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(out: &'a [MetricFamily], name: &str) -> Option<&'a MetricFamily> {
        out.iter().find(|f| f.name == name)
    }

    #[test]
    fn parses_stat_and_loadavg() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("stat"),
            "cpu  10 20 30 40 50 60 70 80 0 0\ncpu0 100 200 300 400 500 600 700 800 900 1000\ncpu1 1 2 3\n\
intr 12345 1 2 3\nctxt 999\nbtime 1700000000\nprocesses 4242\nprocs_running 3\nprocs_blocked 1\nsoftirq 1 2\n",
        )
        .unwrap();
        std::fs::write(d.path().join("loadavg"), "0.52 0.41 0.30 2/345 6789\n").unwrap();
        let mut out = Vec::new();
        CpuCollector::new(d.path()).collect(&mut out).unwrap();
        let secs = get(&out, "node_cpu_seconds_total").unwrap();
        assert_eq!(secs.samples.len(), 8 + 3, "cpu1 is truncated to 3 modes");
        assert_eq!(
            secs.samples[0].labels,
            vec![("cpu", "0".to_string()), ("mode", "user".to_string())]
        );
        assert_eq!(secs.samples[0].value, 1.0);
        assert_eq!(secs.samples[7].value, 8.0);
        assert_eq!(
            get(&out, "node_cpu_guest_seconds_total")
                .unwrap()
                .samples
                .len(),
            2
        );
        assert_eq!(
            get(&out, "node_intr_total").unwrap().samples[0].value,
            12345.0
        );
        assert_eq!(
            get(&out, "node_context_switches_total").unwrap().samples[0].value,
            999.0
        );
        assert_eq!(
            get(&out, "node_boot_time_seconds").unwrap().samples[0].value,
            1.7e9
        );
        assert_eq!(
            get(&out, "node_forks_total").unwrap().samples[0].value,
            4242.0
        );
        assert_eq!(
            get(&out, "node_procs_running").unwrap().samples[0].value,
            3.0
        );
        assert_eq!(
            get(&out, "node_procs_blocked").unwrap().samples[0].value,
            1.0
        );
        assert_eq!(get(&out, "node_load1").unwrap().samples[0].value, 0.52);
        assert_eq!(get(&out, "node_load15").unwrap().samples[0].value, 0.30);
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let d = tempfile::tempdir().unwrap();
        let mut c = CpuCollector::new(d.path());
        assert!(
            c.collect(&mut Vec::new()).is_err(),
            "missing /proc/stat is an error"
        );
        std::fs::write(
            d.path().join("stat"),
            "cpuX 1 2\ncpu0\nctxt\nctxt abc\n\u{0}\u{ff}garbage",
        )
        .unwrap();
        std::fs::write(d.path().join("loadavg"), "0.5").unwrap();
        let mut out = Vec::new();
        assert!(
            c.collect(&mut out).is_err(),
            "truncated loadavg is reported"
        );
        assert!(get(&out, "node_cpu_seconds_total")
            .unwrap()
            .samples
            .is_empty());
    }
}
