//! GPUs through NVML (`nvml-wrapper`, which loads `libnvidia-ml` at run time).
//!
//! NVML is initialised once, when the collector is built. A host without the
//! library or without GPUs gets no GPU series: that is logged once at debug
//! level and is never an error. Names, UUIDs and PCI bus ids are read once and
//! cached.
//!
//! The work is split in two:
//!
//! * a [`GpuSource`] reads each GPU into a plain [`GpuReading`]; the real one
//!   ([`nvml::NvmlSource`]) calls NVML, and every value a GPU does not support
//!   (NVML's `NotSupported`, or any other error of that one call) is left
//!   `None` and silently skipped: one unsupported value never fails the scrape;
//! * [`render`] turns readings into metric families: `argus_gpu_*` names in
//!   base units (bytes, hertz, watts, joules, ratios), and, when
//!   [`GpuConfig::dcgm_names`] is on, NVIDIA dcgm-exporter's `DCGM_FI_DEV_*`
//!   names, units and labels, so that dcgm-exporter Grafana dashboards work.
//!
//! ```
//! use argus_collect::collectors::{gpu::GpuCollector, Collector};
//! let mut gpu = GpuCollector::new();
//! let mut out = Vec::new();
//! gpu.collect(&mut out).unwrap(); // fine with or without GPUs
//! println!("{} GPUs", gpu.count());
//! ```

pub mod nvml;
pub mod render;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Collector;
use crate::expose::MetricFamily;
use crate::CollectError;

/// Static facts about one GPU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GpuInfo {
    /// NVML index.
    pub index: u32,
    /// UUID, e.g. `GPU-…`.
    pub uuid: String,
    /// Product name, e.g. `NVIDIA H100 80GB HBM3`.
    pub name: String,
    /// PCI bus id as NVML writes it, e.g. `00000000:07:00.0`; empty when unknown.
    pub pci_bus_id: String,
}

/// The agent's GPU settings (`gpu:` in the agent's file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GpuConfig {
    /// Also write NVIDIA dcgm-exporter's names (`DCGM_FI_DEV_GPU_UTIL`, …) with
    /// its units and labels, for dcgm-exporter dashboards. Default `false`:
    /// they repeat the `argus_gpu_*` series, and a host that also runs
    /// dcgm-exporter would otherwise get every such series twice.
    pub dcgm_names: bool,
    /// At most this many processes per GPU in
    /// `argus_gpu_process_memory_used_bytes` (those using the most memory).
    /// Default 32; 0 turns the per-process series off.
    pub max_processes: usize,
}

impl Default for GpuConfig {
    fn default() -> Self {
        GpuConfig {
            dcgm_names: false,
            max_processes: 32,
        }
    }
}

/// GPU memory, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GpuMemory {
    /// Allocated.
    pub used: u64,
    /// Unallocated.
    pub free: u64,
    /// Installed.
    pub total: u64,
}

/// ECC error totals (corrected = single-bit, uncorrected = double-bit); each
/// `None` where the GPU does not support it (or ECC is off).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EccCounts {
    /// Corrected errors since the driver last loaded.
    pub corrected_volatile: Option<u64>,
    /// Uncorrected errors since the driver last loaded.
    pub uncorrected_volatile: Option<u64>,
    /// Corrected errors over the GPU's life.
    pub corrected_aggregate: Option<u64>,
    /// Uncorrected errors over the GPU's life.
    pub uncorrected_aggregate: Option<u64>,
}

/// Row remapping (Ampere and newer with HBM); each `None` where not supported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemappedRows {
    /// Rows remapped because of correctable errors.
    pub correctable: Option<u64>,
    /// Rows remapped because of uncorrectable errors.
    pub uncorrectable: Option<u64>,
    /// A remapping waits for the next GPU reset.
    pub pending: Option<bool>,
    /// A remapping failed.
    pub failure: Option<bool>,
}

/// XID errors seen through the NVML event set since the agent started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XidState {
    /// The last XID value, 0 while none was seen.
    pub last: u64,
    /// XID events seen.
    pub events: u64,
}

/// One NVLink link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NvLinkState {
    /// Link number.
    pub link: u32,
    /// Whether the link is active.
    pub up: bool,
    /// Error counters of an active link: data link replays, recoveries,
    /// flow-control CRC errors and data CRC errors; `None` where not readable.
    pub errors: NvLinkErrors,
}

/// One NVLink link's error counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NvLinkErrors {
    /// Data link transmit replays.
    pub replay: Option<u64>,
    /// Data link transmit recoveries.
    pub recovery: Option<u64>,
    /// Flow-control digit (flit) CRC errors received.
    pub crc_flit: Option<u64>,
    /// Data CRC errors received.
    pub crc_data: Option<u64>,
}

/// A process using GPU memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GpuProcess {
    /// Process id (in the agent's pid namespace).
    pub pid: u32,
    /// GPU memory it uses, in bytes.
    pub used_bytes: u64,
}

/// One MIG device (GPU instance slice) of a GPU in MIG mode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigReading {
    /// Its index under the parent GPU.
    pub index: u32,
    /// The GPU instance id (`GPU_I_ID`), where NVML gives it.
    pub gpu_instance_id: Option<u32>,
    /// Its memory, where readable.
    pub memory: Option<GpuMemory>,
}

/// One GPU's values at one collect. Every value is optional: `None` means the
/// GPU (or driver) does not support it, and it is skipped without error.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuReading {
    /// Which GPU.
    pub info: GpuInfo,
    /// Percent of time a kernel was running (0–100).
    pub utilization_gpu: Option<u32>,
    /// Percent of time device memory was read or written (0–100).
    pub utilization_memory: Option<u32>,
    /// Encoder utilisation, percent.
    pub encoder_utilization: Option<u32>,
    /// Decoder utilisation, percent.
    pub decoder_utilization: Option<u32>,
    /// Frame buffer memory.
    pub memory: Option<GpuMemory>,
    /// Die temperature, °C.
    pub temperature_c: Option<u32>,
    /// Memory (HBM) temperature, °C.
    pub memory_temperature_c: Option<u32>,
    /// Power draw, milliwatts.
    pub power_mw: Option<u32>,
    /// Energy used since the driver last loaded, millijoules.
    pub energy_mj: Option<u64>,
    /// Graphics clock, MHz.
    pub clock_graphics_mhz: Option<u32>,
    /// SM clock, MHz.
    pub clock_sm_mhz: Option<u32>,
    /// Memory clock, MHz.
    pub clock_memory_mhz: Option<u32>,
    /// PCIe transmit throughput, KB/s (NVML's unit: 1 KB = 1024 bytes).
    pub pcie_tx_kbps: Option<u32>,
    /// PCIe receive throughput, KB/s.
    pub pcie_rx_kbps: Option<u32>,
    /// PCIe replays.
    pub pcie_replays: Option<u64>,
    /// Current PCIe link generation.
    pub pcie_link_gen: Option<u32>,
    /// Current PCIe link width (lanes).
    pub pcie_link_width: Option<u32>,
    /// ECC error totals.
    pub ecc: EccCounts,
    /// Row remapping.
    pub remapped_rows: RemappedRows,
    /// Clock throttle (clock event) reasons, NVML's bitmask.
    pub throttle_reasons: Option<u64>,
    /// XID errors; `None` when XID events could not be registered.
    pub xid: Option<XidState>,
    /// NVLink links the GPU reports.
    pub nvlinks: Vec<NvLinkState>,
    /// Processes using the GPU (compute and graphics, one entry per pid);
    /// `None` when the list is not readable.
    pub processes: Option<Vec<GpuProcess>>,
    /// Whether MIG mode is on; `None` where MIG is not supported.
    pub mig_enabled: Option<bool>,
    /// MIG devices, when MIG mode is on.
    pub mig_devices: Vec<MigReading>,
}

/// Where GPU readings come from: NVML on a real host, a fake in the tests.
pub trait GpuSource: Send {
    /// The GPUs found at start.
    fn gpus(&self) -> &[GpuInfo];
    /// Reads every GPU, appending to `out`; a GPU that cannot be read at all
    /// now (fallen off the bus) is left out.
    fn read(&mut self, out: &mut Vec<GpuReading>);
}

/// Reads GPU metrics from a [`GpuSource`] (NVML by default).
pub struct GpuCollector {
    source: Option<Box<dyn GpuSource>>,
    gpus: Vec<GpuInfo>,
    cfg: GpuConfig,
    procfs_root: PathBuf,
    hostname: String,
    readings: Vec<GpuReading>,
}

impl std::fmt::Debug for GpuCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuCollector")
            .field("gpus", &self.gpus)
            .field("cfg", &self.cfg)
            .finish()
    }
}

impl Default for GpuCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl GpuCollector {
    /// Initialises NVML and lists the GPUs, with the default settings and
    /// `/proc`; without NVML the collector is empty.
    pub fn new() -> Self {
        Self::with_config(GpuConfig::default(), Path::new("/proc"))
    }

    /// Like [`GpuCollector::new`] with the given settings; process names are
    /// read from `procfs_root/<pid>/comm`.
    pub fn with_config(cfg: GpuConfig, procfs_root: &Path) -> Self {
        let source = nvml::NvmlSource::init().map(|s| Box::new(s) as Box<dyn GpuSource>);
        Self::from_source(source, cfg, procfs_root)
    }

    /// A collector reading from `source` (`None`: no GPUs).
    pub fn from_source(
        source: Option<Box<dyn GpuSource>>,
        cfg: GpuConfig,
        procfs_root: &Path,
    ) -> Self {
        let gpus = source
            .as_ref()
            .map(|s| s.gpus().to_vec())
            .unwrap_or_default();
        let hostname = if cfg.dcgm_names && !gpus.is_empty() {
            read_hostname(procfs_root)
        } else {
            String::new()
        };
        GpuCollector {
            source,
            gpus,
            cfg,
            procfs_root: procfs_root.to_path_buf(),
            hostname,
            readings: Vec::new(),
        }
    }

    /// Number of GPUs found.
    pub fn count(&self) -> usize {
        self.gpus.len()
    }

    /// The GPUs found at start.
    pub fn gpus(&self) -> &[GpuInfo] {
        &self.gpus
    }
}

/// The host name for dcgm-exporter's `Hostname` label.
fn read_hostname(procfs_root: &Path) -> String {
    std::fs::read_to_string(procfs_root.join("sys/kernel/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// A process's name from `procfs_root/<pid>/comm`; empty when unreadable (it
/// has exited, or lives in another pid namespace).
pub(crate) fn process_name(procfs_root: &Path, pid: u32) -> String {
    std::fs::read_to_string(procfs_root.join(pid.to_string()).join("comm"))
        .map(|s| s.trim_end_matches('\n').to_string())
        .unwrap_or_default()
}

impl Collector for GpuCollector {
    fn name(&self) -> &'static str {
        "gpu"
    }

    fn collect(&mut self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let Some(source) = self.source.as_mut() else {
            return Ok(());
        };
        if self.gpus.is_empty() {
            return Ok(());
        }
        self.readings.clear();
        source.read(&mut self.readings);
        let opts = render::RenderOptions {
            dcgm_names: self.cfg.dcgm_names,
            max_processes: self.cfg.max_processes,
            hostname: &self.hostname,
        };
        let root = &self.procfs_root;
        render::render(&self.readings, &opts, &|pid| process_name(root, pid), out);
        Ok(())
    }
}
