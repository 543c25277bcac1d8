//! The agent: configuration, the set of enabled collectors, and gathering and
//! rendering into one reused buffer. HTTP serving is the binary's job: it
//! calls [`Agent::render`] with the format from [`crate::negotiate`].
//!
//! A failing collector never fails the scrape: its error is logged, counted in
//! `argus_agent_scrape_errors_total{collector}`, and the others still report.
//! `argus_agent_scrape_duration_seconds{collector}` is measured with the
//! monotonic clock (a duration, not a timestamp).
//!
//! ```no_run
//! use std::sync::Arc;
//! use argus_collect::{Agent, AgentConfig, Format};
//! use argus_model::SystemClock;
//!
//! let cfg: AgentConfig = serde_json::from_str(r#"{"top_n": 5, "services": [{"name": "ssh", "comm": "sshd"}]}"#)?;
//! let agent = Agent::new(cfg, Arc::new(SystemClock))?;
//! print!("{}", agent.render(Format::Text));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_model::Clock;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

pub use crate::collectors::process::ServiceConfig;
use crate::collectors::{
    cpu::CpuCollector, disk::DiskCollector, filesystem::FilesystemCollector, filesystem::FsOptions,
    gpu::GpuCollector, gpu::GpuConfig, inventory::InventoryCollector, memory::MemoryCollector,
    network::NetworkCollector, pressure::PressureCollector, process::ProcessCollector, Collector,
};
use crate::expose::{render, Format, MetricFamily, MetricKind};
use crate::push::{PushConfig, PushStats};
use crate::tail::{LogStats, LogTailConfig};
use crate::CollectError;

/// Which collectors run. Every one defaults to on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectorsConfig {
    /// `/proc/stat`, `/proc/loadavg`: `node_cpu_seconds_total`, load, context switches, forks…
    pub cpu: bool,
    /// `/proc/meminfo`, `/proc/vmstat`: `node_memory_*`, `node_vmstat_*`.
    pub memory: bool,
    /// `/proc/pressure/*`: `node_pressure_*`.
    pub pressure: bool,
    /// `/proc/diskstats`: `node_disk_*`.
    pub disk: bool,
    /// Mounts + statvfs: `node_filesystem_*`.
    pub filesystem: bool,
    /// `/proc/net/dev`: `node_network_*_total`.
    pub network: bool,
    /// `/sys/class/net`: `node_network_up`, `_mtu_bytes`, `_speed_bytes` (3 small reads per interface).
    pub netclass: bool,
    /// Top processes and named services: `argus_process_*`, `argus_service_*`.
    pub process: bool,
    /// NVIDIA GPUs through NVML: `argus_gpu_*`.
    pub gpu: bool,
    /// `argus_node_info`, `node_uname_info` and friends.
    pub inventory: bool,
}

impl Default for CollectorsConfig {
    fn default() -> Self {
        CollectorsConfig {
            cpu: true,
            memory: true,
            pressure: true,
            disk: true,
            filesystem: true,
            network: true,
            netclass: true,
            process: true,
            gpu: true,
            inventory: true,
        }
    }
}

/// Filesystem collector settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesystemConfig {
    /// Query network filesystems (NFS, CIFS, Ceph, …). Default `false`: a hung
    /// server would block `statvfs`. When on, each call runs on a helper thread
    /// bounded by `statvfs_timeout_ms`.
    pub include_network: bool,
    /// Time limit of one network filesystem's statvfs, in milliseconds. Default 1000.
    pub statvfs_timeout_ms: u64,
}

impl Default for FilesystemConfig {
    fn default() -> Self {
        FilesystemConfig {
            include_network: false,
            statvfs_timeout_ms: 1000,
        }
    }
}

/// The agent's configuration. Every key is optional; unknown keys are rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Address the binary serves `/metrics` on. Default `127.0.0.1:9798`.
    pub listen: String,
    /// Where procfs is mounted. Default `/proc`.
    pub procfs_root: PathBuf,
    /// Where sysfs is mounted. Default `/sys`.
    pub sysfs_root: PathBuf,
    /// Prefix for filesystem statvfs paths (node_exporter's `--path.rootfs`). Default `/`.
    pub rootfs: PathBuf,
    /// The os-release file giving `argus_node_info{os}`. Default `/etc/os-release`.
    pub os_release: PathBuf,
    /// Collector switches. Default: all on.
    pub collectors: CollectorsConfig,
    /// Filesystem collector settings.
    pub filesystem: FilesystemConfig,
    /// GPU collector settings (dcgm-exporter names, per-process bound).
    pub gpu: GpuConfig,
    /// How many processes to report by CPU and by memory. Default 10.
    pub top_n: usize,
    /// How often the process table is re-read, in seconds; gathers in between
    /// serve the cached result. Default 15.
    pub process_interval_secs: u64,
    /// Named services whose processes are counted. Default none.
    pub services: Vec<ServiceConfig>,
    /// Push to a remote_write endpoint. Default none (scrape only).
    pub push: Option<PushConfig>,
    /// Tail log files and ship them to the server. Default none.
    pub logs: Option<LogTailConfig>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            listen: "127.0.0.1:9798".into(),
            procfs_root: "/proc".into(),
            sysfs_root: "/sys".into(),
            rootfs: "/".into(),
            os_release: "/etc/os-release".into(),
            collectors: CollectorsConfig::default(),
            filesystem: FilesystemConfig::default(),
            gpu: GpuConfig::default(),
            top_n: 10,
            process_interval_secs: 15,
            services: Vec::new(),
            push: None,
            logs: None,
        }
    }
}

struct Slot {
    collector: Box<dyn Collector>,
    errors: u64,
    seconds: f64,
    failing: bool,
}

struct State {
    slots: Vec<Slot>,
    families: Vec<MetricFamily>,
    out: String,
}

/// The agent: owns the collectors. `Send + Sync`; gathers are serialised by an
/// internal lock, so share it behind an `Arc`.
pub struct Agent {
    cfg: AgentConfig,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    push_stats: Mutex<Option<Arc<PushStats>>>,
    log_stats: Mutex<Option<Arc<LogStats>>>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").field("cfg", &self.cfg).finish()
    }
}

impl Agent {
    /// Builds the enabled collectors. NVML and the static inventory are read here, once.
    pub fn new(cfg: AgentConfig, clock: Arc<dyn Clock>) -> Result<Agent, CollectError> {
        if cfg.process_interval_secs == 0 {
            return Err(CollectError::Config(
                "process_interval_secs must be at least 1".into(),
            ));
        }
        if cfg.top_n > 1000 {
            return Err(CollectError::Config(format!(
                "top_n {} is above the limit of 1000",
                cfg.top_n
            )));
        }
        if cfg.gpu.max_processes > 1000 {
            return Err(CollectError::Config(format!(
                "gpu.max_processes {} is above the limit of 1000",
                cfg.gpu.max_processes
            )));
        }
        if let Some(s) = cfg
            .services
            .iter()
            .find(|s| s.comm.is_none() && s.cmdline.is_none())
        {
            return Err(CollectError::Config(format!(
                "service {:?} needs `comm` or `cmdline`",
                s.name
            )));
        }
        let c = &cfg.collectors;
        let (proc_root, sys_root) = (cfg.procfs_root.as_path(), cfg.sysfs_root.as_path());
        let mut list: Vec<Box<dyn Collector>> = Vec::new();
        if c.cpu {
            list.push(Box::new(CpuCollector::new(proc_root)));
        }
        if c.memory {
            list.push(Box::new(MemoryCollector::new(proc_root)));
        }
        if c.pressure {
            list.push(Box::new(PressureCollector::new(proc_root)));
        }
        if c.disk {
            list.push(Box::new(DiskCollector::new(proc_root)));
        }
        if c.filesystem {
            let opts = FsOptions {
                rootfs: cfg.rootfs.clone(),
                include_network: cfg.filesystem.include_network,
                timeout: Duration::from_millis(cfg.filesystem.statvfs_timeout_ms),
            };
            list.push(Box::new(FilesystemCollector::new(proc_root, opts)));
        }
        if c.network {
            list.push(Box::new(NetworkCollector::new(
                proc_root, sys_root, c.netclass,
            )));
        }
        if c.process {
            list.push(Box::new(ProcessCollector::new(
                proc_root,
                cfg.top_n,
                cfg.process_interval_secs.saturating_mul(1000) as i64,
                cfg.services.clone(),
                Arc::clone(&clock),
            )));
        }
        let gpu = if c.gpu {
            Some(GpuCollector::with_config(cfg.gpu.clone(), proc_root))
        } else {
            None
        };
        if c.inventory {
            let names: Vec<String> = gpu
                .iter()
                .flat_map(|g| g.gpus().iter().map(|i| i.name.clone()))
                .collect();
            list.push(Box::new(InventoryCollector::new(
                proc_root,
                &cfg.os_release,
                &names,
            )));
        }
        if let Some(g) = gpu {
            list.push(Box::new(g));
        }
        let slots = list
            .into_iter()
            .map(|collector| Slot {
                collector,
                errors: 0,
                seconds: 0.0,
                failing: false,
            })
            .collect();
        Ok(Agent {
            cfg,
            clock,
            state: Mutex::new(State {
                slots,
                families: Vec::new(),
                out: String::new(),
            }),
            push_stats: Mutex::new(None),
            log_stats: Mutex::new(None),
        })
    }

    /// The configuration the agent was built with.
    pub fn config(&self) -> &AgentConfig {
        &self.cfg
    }

    /// The injected clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Includes a pusher's queue and delivery counters in the self metrics.
    pub fn attach_push_stats(&self, stats: Arc<PushStats>) {
        *self.push_stats.lock() = Some(stats);
    }

    /// Includes the log tailer's counters in the self metrics.
    pub fn attach_log_stats(&self, stats: Arc<LogStats>) {
        *self.log_stats.lock() = Some(stats);
    }

    fn gather_locked(&self, st: &mut State) {
        let State {
            slots, families, ..
        } = st;
        families.clear();
        for slot in slots.iter_mut() {
            let start = Instant::now();
            let res = slot.collector.collect(families);
            slot.seconds = start.elapsed().as_secs_f64();
            match res {
                Ok(()) => slot.failing = false,
                Err(e) => {
                    slot.errors += 1;
                    if slot.failing {
                        tracing::debug!(collector = slot.collector.name(), error = %e, "Collector failed again.");
                    } else {
                        tracing::warn!(collector = slot.collector.name(), error = %e, "Collector failed; the scrape goes on without its failing part.");
                    }
                    // A partial result is kept: what was parsed before the error is still good.
                    slot.failing = true;
                }
            }
        }
        let mut dur = MetricFamily::new(
            "argus_agent_scrape_duration_seconds",
            "Time the last gather spent in each collector, in seconds.",
            MetricKind::Gauge,
        );
        let mut errs = MetricFamily::new(
            "argus_agent_scrape_errors_total",
            "Gathers in which each collector failed.",
            MetricKind::Counter,
        );
        for s in slots.iter() {
            dur.push(&[("collector", s.collector.name())], s.seconds);
            errs.push(&[("collector", s.collector.name())], s.errors as f64);
        }
        families.push(dur);
        families.push(errs);
        if let Some(ps) = self.push_stats.lock().as_ref() {
            ps.families(families);
        }
        if let Some(ls) = self.log_stats.lock().as_ref() {
            ls.families(families);
        }
    }

    /// Runs every collector and returns all families, self metrics included.
    pub fn gather(&self) -> Vec<MetricFamily> {
        let mut st = self.state.lock();
        self.gather_locked(&mut st);
        std::mem::take(&mut st.families)
    }

    /// Gathers and renders into `out` (cleared first); the internal family buffer is reused.
    pub fn render_into(&self, format: Format, out: &mut String) {
        let mut st = self.state.lock();
        self.gather_locked(&mut st);
        out.clear();
        render(&st.families, format, out);
    }

    /// Gathers and renders a whole `/metrics` body in `format`, reusing an
    /// internal String and returning a copy of it.
    pub fn render(&self, format: Format) -> String {
        let mut st = self.state.lock();
        self.gather_locked(&mut st);
        let State { families, out, .. } = &mut *st;
        out.clear();
        render(families, format, out);
        out.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_model::ManualClock;

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c: AgentConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, AgentConfig::default());
        assert_eq!(c.listen, "127.0.0.1:9798");
        assert_eq!(c.top_n, 10);
        let e = serde_json::from_str::<AgentConfig>(r#"{"collectors": {"cpu": true, "bogus": 1}}"#)
            .unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let c: AgentConfig = serde_json::from_str(
            r#"{"push": {"url": "http://x/api/v1/write", "queue_dir": "/tmp/q"}}"#,
        )
        .unwrap();
        assert_eq!(c.push.unwrap().max_queue_bytes, 512 << 20);
        let c: AgentConfig = serde_json::from_str(r#"{"gpu": {"dcgm_names": true}}"#).unwrap();
        assert!(c.gpu.dcgm_names);
        assert_eq!(c.gpu.max_processes, 32);
        let e = serde_json::from_str::<AgentConfig>(r#"{"gpu": {"dcgm": true}}"#).unwrap_err();
        assert!(e.to_string().contains("dcgm"), "{e}");
    }

    #[test]
    fn bad_config_is_rejected() {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(0));
        let cfg = AgentConfig {
            process_interval_secs: 0,
            ..Default::default()
        };
        assert!(matches!(
            Agent::new(cfg, clock.clone()),
            Err(CollectError::Config(_))
        ));
        let cfg = AgentConfig {
            services: vec![ServiceConfig {
                name: "x".into(),
                comm: None,
                cmdline: None,
            }],
            ..Default::default()
        };
        assert!(Agent::new(cfg, clock.clone()).is_err());
        let mut cfg = AgentConfig::default();
        cfg.gpu.max_processes = 5000;
        assert!(matches!(
            Agent::new(cfg, clock),
            Err(CollectError::Config(_))
        ));
    }

    #[test]
    fn failing_collectors_do_not_fail_the_scrape() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("meminfo"), "MemTotal: 10 kB\n").unwrap();
        let cfg = AgentConfig {
            procfs_root: d.path().to_path_buf(),
            sysfs_root: d.path().to_path_buf(),
            collectors: CollectorsConfig {
                gpu: false,
                ..Default::default()
            },
            ..Default::default()
        };
        let agent = Agent::new(cfg, Arc::new(ManualClock::new(0))).unwrap();
        let _ = agent.render(Format::Text);
        let text = agent.render(Format::Text);
        assert!(
            text.contains("node_memory_MemTotal_bytes 10240\n"),
            "{text}"
        );
        assert!(
            text.contains("argus_agent_scrape_errors_total{collector=\"cpu\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("argus_agent_scrape_errors_total{collector=\"memory\"} 0\n"));
        assert!(text.contains("argus_agent_scrape_errors_total{collector=\"pressure\"} 0\n"));
        assert!(text.contains("argus_node_info{"));
        let om = agent.render(Format::OpenMetrics);
        assert!(om.ends_with("# EOF\n"));
        assert!(agent
            .gather()
            .iter()
            .any(|f| f.name == "argus_agent_scrape_duration_seconds"));
    }
}
