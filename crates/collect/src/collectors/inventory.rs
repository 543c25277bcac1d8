//! Static inventory: `argus_node_info`, core count, memory, GPU count, and
//! node_exporter's `node_uname_info`. Read once at start and cached; a change
//! (such as a new hostname) shows after an agent restart.
//!
//! ```
//! use argus_collect::collectors::{inventory::InventoryCollector, Collector};
//! let dir = tempfile::tempdir().unwrap();
//! let mut inv = InventoryCollector::new(dir.path(), &dir.path().join("os-release"), &[]);
//! let mut out = Vec::new();
//! inv.collect(&mut out).unwrap(); // missing files give empty labels, never an error
//! assert!(out.iter().any(|f| f.name == "argus_node_info"));
//! ```

use std::path::Path;

use super::{fields, lines, parse_u64, Collector};
use crate::expose::{MetricFamily, MetricKind};
use crate::CollectError;

/// Serves families computed once.
#[derive(Debug, Clone)]
pub struct InventoryCollector {
    families: Vec<MetricFamily>,
}

fn read_trim(p: &Path) -> String {
    std::fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn os_pretty_name(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim().trim_matches('"').to_string())
        .unwrap_or_else(|| std::env::consts::OS.to_string())
}

impl InventoryCollector {
    /// Reads the inventory under `procfs_root`, the OS name from `os_release`,
    /// and takes the GPU product names found by the GPU collector.
    pub fn new(procfs_root: &Path, os_release: &Path, gpu_names: &[String]) -> Self {
        let k = procfs_root.join("sys/kernel");
        let sysname = read_trim(&k.join("ostype"));
        let release = read_trim(&k.join("osrelease"));
        let version = read_trim(&k.join("version"));
        let nodename = read_trim(&k.join("hostname"));
        let domainname = read_trim(&k.join("domainname"));
        let machine = std::env::consts::ARCH.to_string();

        let stat = std::fs::read(procfs_root.join("stat")).unwrap_or_default();
        let cores = lines(&stat)
            .filter(|l| {
                l.strip_prefix(b"cpu")
                    .and_then(|r| r.split(|c| c.is_ascii_whitespace()).next())
                    .and_then(parse_u64)
                    .is_some()
            })
            .count();
        let meminfo = std::fs::read(procfs_root.join("meminfo")).unwrap_or_default();
        let mem_kb = lines(&meminfo)
            .find_map(|l| l.strip_prefix(b"MemTotal:"))
            .and_then(|r| fields(r).next().and_then(parse_u64))
            .unwrap_or(0);

        let mut models: Vec<&str> = gpu_names.iter().map(String::as_str).collect();
        models.sort_unstable();
        models.dedup();

        let mut info = MetricFamily::new(
            "argus_node_info",
            "Static facts about the node; the value is always 1.",
            MetricKind::Info,
        );
        info.push_owned(
            vec![
                ("hostname", nodename.clone()),
                ("kernel", release.clone()),
                ("os", os_pretty_name(os_release)),
                ("arch", machine.clone()),
                ("cores", cores.to_string()),
                ("gpu_models", models.join(",")),
            ],
            1.0,
        );
        let gauge = |name: &'static str, help: &'static str, v: f64| {
            let mut f = MetricFamily::new(name, help, MetricKind::Gauge);
            f.push(&[], v);
            f
        };
        let fams = vec![
            gauge(
                "argus_node_cpu_cores",
                "Number of logical CPU cores.",
                cores as f64,
            ),
            gauge(
                "argus_node_memory_bytes",
                "Total usable memory, in bytes.",
                mem_kb as f64 * 1024.0,
            ),
            gauge(
                "argus_node_gpu_count",
                "Number of NVIDIA GPUs visible through NVML.",
                gpu_names.len() as f64,
            ),
        ];
        let mut uname = MetricFamily::new(
            "node_uname_info",
            "Labeled system information as provided by the uname system call.",
            MetricKind::Info,
        );
        uname.push_owned(
            vec![
                ("domainname", domainname),
                ("machine", machine),
                ("nodename", nodename),
                ("release", release),
                ("sysname", sysname),
                ("version", version),
            ],
            1.0,
        );
        let mut families = vec![info];
        families.extend(fams);
        families.push(uname);
        InventoryCollector { families }
    }
}

impl Collector for InventoryCollector {
    fn name(&self) -> &'static str {
        "inventory"
    }

    fn collect(&mut self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        out.extend(self.families.iter().cloned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fixture_inventory() {
        let d = tempfile::tempdir().unwrap();
        let k = d.path().join("sys/kernel");
        std::fs::create_dir_all(&k).unwrap();
        for (f, v) in [
            ("ostype", "Linux"),
            ("osrelease", "6.1.0"),
            ("version", "#1 SMP"),
            ("hostname", "h1"),
            ("domainname", "(none)"),
        ] {
            std::fs::write(k.join(f), format!("{v}\n")).unwrap();
        }
        std::fs::write(
            d.path().join("stat"),
            "cpu 1 2\ncpu0 1 2\ncpu1 1 2\nintr 5\n",
        )
        .unwrap();
        std::fs::write(d.path().join("meminfo"), "MemTotal: 1000 kB\n").unwrap();
        std::fs::write(
            d.path().join("os"),
            "NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 12\"\n",
        )
        .unwrap();
        let gpus = vec!["H100".to_string(), "H100".to_string()];
        let mut out = Vec::new();
        InventoryCollector::new(d.path(), &d.path().join("os"), &gpus)
            .collect(&mut out)
            .unwrap();
        let info = &out[0].samples[0].labels;
        assert!(info.contains(&("hostname", "h1".to_string())));
        assert!(info.contains(&("os", "Debian GNU/Linux 12".to_string())));
        assert!(info.contains(&("cores", "2".to_string())));
        assert!(info.contains(&("gpu_models", "H100".to_string())));
        assert_eq!(out[1].samples[0].value, 2.0);
        assert_eq!(out[2].samples[0].value, 1_024_000.0);
        assert_eq!(out[3].samples[0].value, 2.0);
        let uname = &out[4].samples[0].labels;
        assert!(uname.contains(&("domainname", "(none)".to_string())));
        assert!(uname.contains(&("sysname", "Linux".to_string())));
    }
}
