//! Memory collector: every `/proc/meminfo` field as node_exporter's `meminfo`
//! collector names it, and the default `/proc/vmstat` fields of its `vmstat`
//! collector (`oom_kill`, `pgpg*`, `pswp*`, `pg*fault*`).
//!
//! ```
//! use argus_collect::collectors::{memory::meminfo_name, Collector};
//! assert_eq!(meminfo_name("Active(anon)", true), "node_memory_Active_anon_bytes");
//! assert_eq!(meminfo_name("HugePages_Total", false), "node_memory_HugePages_Total");
//! ```

use std::path::{Path, PathBuf};

use super::{as_str, fields, lines, parse_u64, read_into, read_optional, Collector};
use crate::expose::{MetricFamily, MetricKind};
use crate::CollectError;

/// Reads `/proc/meminfo` and `/proc/vmstat`.
#[derive(Debug)]
pub struct MemoryCollector {
    meminfo: PathBuf,
    vmstat: PathBuf,
    buf: Vec<u8>,
}

impl MemoryCollector {
    /// A collector reading under `procfs_root`.
    pub fn new(procfs_root: &Path) -> Self {
        MemoryCollector {
            meminfo: procfs_root.join("meminfo"),
            vmstat: procfs_root.join("vmstat"),
            buf: Vec::with_capacity(8192),
        }
    }
}

/// node_exporter's metric name for a meminfo key: `(x)` becomes `_x`, and
/// fields in kB get `_bytes`.
pub fn meminfo_name(key: &str, in_bytes: bool) -> String {
    let mut s = String::with_capacity(14 + key.len() + 6);
    s.push_str("node_memory_");
    for c in key.chars() {
        match c {
            '(' => s.push('_'),
            ')' => {}
            c => s.push(c),
        }
    }
    if in_bytes {
        s.push_str("_bytes");
    }
    s
}

fn vmstat_wanted(key: &str) -> bool {
    key.starts_with("oom_kill")
        || key.starts_with("pgpg")
        || key.starts_with("pswp")
        || (key.starts_with("pg") && key[2..].contains("fault"))
}

impl Collector for MemoryCollector {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn collect(&mut self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        read_into(&self.meminfo, &mut self.buf)?;
        for line in lines(&self.buf) {
            let mut it = fields(line);
            let (Some(key), Some(val)) = (it.next(), it.next()) else {
                continue;
            };
            let Some(key) = key.strip_suffix(b":").and_then(as_str) else {
                continue;
            };
            let Some(val) = parse_u64(val) else { continue };
            let kb = it.next() == Some(b"kB");
            let name = meminfo_name(key, kb);
            let help = format!(
                "Memory information field {}.",
                &name["node_memory_".len()..]
            );
            let mut f = MetricFamily::new(name, help, MetricKind::Gauge);
            f.push(&[], if kb { val as f64 * 1024.0 } else { val as f64 });
            out.push(f);
        }

        if read_optional(&self.vmstat, &mut self.buf)? {
            for line in lines(&self.buf) {
                let mut it = fields(line);
                let (Some(key), Some(val)) = (it.next(), it.next()) else {
                    continue;
                };
                let (Some(key), Some(val)) = (as_str(key), parse_u64(val)) else {
                    continue;
                };
                if !vmstat_wanted(key) {
                    continue;
                }
                let mut f = MetricFamily::new(
                    format!("node_vmstat_{key}"),
                    format!("/proc/vmstat information field {key}."),
                    MetricKind::Untyped,
                );
                f.push(&[], val as f64);
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
    fn parses_meminfo_and_vmstat() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("meminfo"),
            "MemTotal:       16000000 kB\nMemAvailable:    8000000 kB\nActive(anon):      1000 kB\n\
HugePages_Total:       4\nSwapTotal:        2048 kB\nBroken:\nNoColon 5 kB\nTrunc: 12",
        )
        .unwrap();
        std::fs::write(d.path().join("vmstat"), "nr_free_pages 5\npgfault 100\npgmajfault 2\npgpgin 3\npswpout 4\noom_kill 0\npgsteal_kswapd 9\n").unwrap();
        let mut out = Vec::new();
        MemoryCollector::new(d.path()).collect(&mut out).unwrap();
        let names: Vec<&str> = out.iter().map(|f| f.name.as_ref()).collect();
        assert_eq!(
            names,
            vec![
                "node_memory_MemTotal_bytes",
                "node_memory_MemAvailable_bytes",
                "node_memory_Active_anon_bytes",
                "node_memory_HugePages_Total",
                "node_memory_SwapTotal_bytes",
                "node_memory_Trunc",
                "node_vmstat_pgfault",
                "node_vmstat_pgmajfault",
                "node_vmstat_pgpgin",
                "node_vmstat_pswpout",
                "node_vmstat_oom_kill",
            ]
        );
        assert_eq!(out[0].samples[0].value, 16000000.0 * 1024.0);
        assert_eq!(out[0].help, "Memory information field MemTotal_bytes.");
        assert_eq!(out[3].samples[0].value, 4.0);
        assert_eq!(out[6].kind, MetricKind::Untyped);
    }

    #[test]
    fn missing_meminfo_is_error_missing_vmstat_is_not() {
        let d = tempfile::tempdir().unwrap();
        let mut c = MemoryCollector::new(d.path());
        assert!(c.collect(&mut Vec::new()).is_err());
        std::fs::write(d.path().join("meminfo"), "MemTotal: 1 kB\n").unwrap();
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        assert_eq!(out.len(), 1);
    }
}
