//! Network interfaces: counters from `/proc/net/dev` (node_exporter's
//! `netdev`), and `up`, MTU and speed from `/sys/class/net/<dev>/` (the cheap
//! part of its `netclass`).
//!
//! ```
//! use argus_collect::collectors::{network::NetworkCollector, Collector};
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::create_dir_all(dir.path().join("net")).unwrap();
//! std::fs::write(dir.path().join("net/dev"), "h1\nh2\n  lo: 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0\n").unwrap();
//! let mut out = Vec::new();
//! NetworkCollector::new(dir.path(), dir.path(), false).collect(&mut out).unwrap();
//! assert_eq!(out[0].name, "node_network_receive_bytes_total");
//! ```

use std::path::{Path, PathBuf};

use super::{as_str, fields, parse_u64, read_into, Collector};
use crate::expose::{MetricFamily, MetricKind};
use crate::CollectError;

const STATS: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errs",
    "receive_drop",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errs",
    "transmit_drop",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

/// Reads `/proc/net/dev` and, optionally, `/sys/class/net`.
#[derive(Debug)]
pub struct NetworkCollector {
    netdev: PathBuf,
    class: PathBuf,
    netclass: bool,
    buf: Vec<u8>,
    small: Vec<u8>,
    families: Vec<(String, String)>,
}

impl NetworkCollector {
    /// A collector reading under `procfs_root` and (with `netclass`) `sysfs_root`.
    pub fn new(procfs_root: &Path, sysfs_root: &Path, netclass: bool) -> Self {
        NetworkCollector {
            netdev: procfs_root.join("net/dev"),
            class: sysfs_root.join("class/net"),
            netclass,
            buf: Vec::with_capacity(4096),
            small: Vec::with_capacity(64),
            families: STATS
                .iter()
                .map(|s| {
                    (
                        format!("node_network_{s}_total"),
                        format!("Network device statistic {s}."),
                    )
                })
                .collect(),
        }
    }

    /// Reads a one-line sysfs attribute as a trimmed string; `None` when unreadable.
    fn attr(&mut self, dev: &str, name: &str) -> Option<&[u8]> {
        let p = self.class.join(dev).join(name);
        read_into(&p, &mut self.small).ok()?;
        Some(self.small.trim_ascii())
    }
}

impl Collector for NetworkCollector {
    fn name(&self) -> &'static str {
        "network"
    }

    fn collect(&mut self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        read_into(&self.netdev, &mut self.buf)?;
        let mut fams: Vec<MetricFamily> = self
            .families
            .iter()
            .map(|(n, h)| MetricFamily::new(n.clone(), h.clone(), MetricKind::Counter))
            .collect();
        let mut devices: Vec<String> = Vec::new();
        // The first two lines are headers.
        for line in self.buf.split(|&c| c == b'\n').skip(2) {
            let Some(colon) = line.iter().position(|&c| c == b':') else {
                continue;
            };
            let Some(dev) = as_str(line[..colon].trim_ascii()) else {
                continue;
            };
            if dev.is_empty() {
                continue;
            }
            for (i, v) in fields(&line[colon + 1..])
                .map_while(parse_u64)
                .take(STATS.len())
                .enumerate()
            {
                fams[i].push_owned(vec![("device", dev.to_string())], v as f64);
            }
            devices.push(dev.to_string());
        }
        out.extend(fams);
        if !self.netclass {
            return Ok(());
        }
        let mut up = MetricFamily::new(
            "node_network_up",
            "Value is 1 if operstate is 'up', 0 otherwise.",
            MetricKind::Gauge,
        );
        let mut mtu = MetricFamily::new(
            "node_network_mtu_bytes",
            "Network device property: mtu_bytes",
            MetricKind::Gauge,
        );
        let mut speed = MetricFamily::new(
            "node_network_speed_bytes",
            "Network device property: speed_bytes",
            MetricKind::Gauge,
        );
        for dev in devices {
            let Some(state) = self.attr(&dev, "operstate") else {
                continue;
            };
            let is_up = state == b"up";
            up.push_owned(vec![("device", dev.clone())], if is_up { 1.0 } else { 0.0 });
            if let Some(v) = self.attr(&dev, "mtu").and_then(parse_u64) {
                mtu.push_owned(vec![("device", dev.clone())], v as f64);
            }
            // Down or virtual links answer EINVAL or -1: no series, as node_exporter.
            if let Some(v) = self.attr(&dev, "speed").and_then(parse_u64) {
                speed.push_owned(vec![("device", dev)], v as f64 * 125_000.0);
            }
        }
        out.push(up);
        out.push(mtu);
        out.push(speed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_net_dev_and_class() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("net")).unwrap();
        std::fs::write(
            d.path().join("net/dev"),
            "Inter-|   Receive |  Transmit\n face |bytes packets|bytes\n    lo: 100 2 0 0 0 0 0 0 100 2 0 0 0 0 0 0\n\
  eth0:5000 40 1 2 3 4 5 6 7000 50 7 8 9 10 11 12\n  bad 1 2 3\n short: 1 2\n",
        )
        .unwrap();
        let cls = d.path().join("class/net");
        for (dev, state, mtu, speed) in [
            ("lo", "unknown", "65536", "-1"),
            ("eth0", "up", "1500", "1000"),
        ] {
            std::fs::create_dir_all(cls.join(dev)).unwrap();
            std::fs::write(cls.join(dev).join("operstate"), format!("{state}\n")).unwrap();
            std::fs::write(cls.join(dev).join("mtu"), format!("{mtu}\n")).unwrap();
            std::fs::write(cls.join(dev).join("speed"), format!("{speed}\n")).unwrap();
        }
        let mut out = Vec::new();
        NetworkCollector::new(d.path(), d.path(), true)
            .collect(&mut out)
            .unwrap();
        let f = |n: &str| out.iter().find(|f| f.name == n).unwrap();
        let rb = f("node_network_receive_bytes_total");
        assert_eq!(rb.samples.len(), 3);
        assert_eq!(rb.samples[1].labels, vec![("device", "eth0".to_string())]);
        assert_eq!(rb.samples[1].value, 5000.0);
        assert_eq!(
            f("node_network_transmit_carrier_total").samples[1].value,
            11.0
        );
        assert_eq!(f("node_network_transmit_compressed_total").samples.len(), 2);
        let up = f("node_network_up");
        assert_eq!((up.samples[0].value, up.samples[1].value), (0.0, 1.0));
        assert_eq!(f("node_network_mtu_bytes").samples[1].value, 1500.0);
        let sp = f("node_network_speed_bytes");
        assert_eq!(sp.samples.len(), 1);
        assert_eq!(sp.samples[0].value, 125_000_000.0);
    }
}
