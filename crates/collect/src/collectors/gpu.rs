//! GPUs through NVML (`nvml-wrapper`, which loads `libnvidia-ml` at run time).
//!
//! NVML is initialised once, when the collector is built. A host without the
//! library or without GPUs gets no GPU series: that is logged once at debug
//! level and is never an error. Names and UUIDs are read once and cached.
//!
//! ```
//! use argus_collect::collectors::{gpu::GpuCollector, Collector};
//! let mut gpu = GpuCollector::new();
//! let mut out = Vec::new();
//! gpu.collect(&mut out).unwrap(); // fine with or without GPUs
//! println!("{} GPUs", gpu.count());
//! ```

use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
use nvml_wrapper::Nvml;

use super::Collector;
use crate::expose::{MetricFamily, MetricKind};
use crate::CollectError;

/// Static facts about one GPU.
#[derive(Debug, Clone)]
pub struct GpuInfo {
    /// NVML index.
    pub index: u32,
    /// UUID, e.g. `GPU-…`.
    pub uuid: String,
    /// Product name, e.g. `NVIDIA H100 80GB HBM3`.
    pub name: String,
}

/// Reads GPU utilisation, memory, temperature and power.
pub struct GpuCollector {
    nvml: Option<Nvml>,
    gpus: Vec<GpuInfo>,
}

impl std::fmt::Debug for GpuCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuCollector")
            .field("gpus", &self.gpus)
            .finish()
    }
}

impl Default for GpuCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl GpuCollector {
    /// Initialises NVML and lists the GPUs; without NVML the collector is empty.
    pub fn new() -> Self {
        let nvml = match Nvml::init() {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(error = %e, "NVML is not available; no GPU metrics will be reported.");
                return GpuCollector {
                    nvml: None,
                    gpus: Vec::new(),
                };
            }
        };
        let mut gpus = Vec::new();
        let n = nvml.device_count().unwrap_or(0);
        for index in 0..n {
            let Ok(d) = nvml.device_by_index(index) else {
                continue;
            };
            gpus.push(GpuInfo {
                index,
                uuid: d.uuid().unwrap_or_default(),
                name: d.name().unwrap_or_default(),
            });
        }
        if gpus.is_empty() {
            tracing::debug!("NVML found no GPUs; no GPU metrics will be reported.");
        }
        GpuCollector {
            nvml: Some(nvml),
            gpus,
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

impl Collector for GpuCollector {
    fn name(&self) -> &'static str {
        "gpu"
    }

    fn collect(&mut self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let Some(nvml) = &self.nvml else {
            return Ok(());
        };
        if self.gpus.is_empty() {
            return Ok(());
        }
        let mut util = MetricFamily::new(
            "argus_gpu_utilization_ratio",
            "Fraction of time over the last sample period a kernel was running on the GPU.",
            MetricKind::Gauge,
        );
        let mut used = MetricFamily::new(
            "argus_gpu_memory_used_bytes",
            "GPU memory in use, in bytes.",
            MetricKind::Gauge,
        );
        let mut total = MetricFamily::new(
            "argus_gpu_memory_total_bytes",
            "Total GPU memory, in bytes.",
            MetricKind::Gauge,
        );
        let mut temp = MetricFamily::new(
            "argus_gpu_temperature_celsius",
            "GPU die temperature, in degrees Celsius.",
            MetricKind::Gauge,
        );
        let mut power = MetricFamily::new(
            "argus_gpu_power_watts",
            "GPU power draw, in watts.",
            MetricKind::Gauge,
        );
        for g in &self.gpus {
            let Ok(d) = nvml.device_by_index(g.index) else {
                continue;
            };
            let l = || {
                vec![
                    ("gpu", g.index.to_string()),
                    ("uuid", g.uuid.clone()),
                    ("name", g.name.clone()),
                ]
            };
            if let Ok(u) = d.utilization_rates() {
                util.push_owned(l(), f64::from(u.gpu) / 100.0);
            }
            if let Ok(m) = d.memory_info() {
                used.push_owned(l(), m.used as f64);
                total.push_owned(l(), m.total as f64);
            }
            if let Ok(t) = d.temperature(TemperatureSensor::Gpu) {
                temp.push_owned(l(), f64::from(t));
            }
            if let Ok(p) = d.power_usage() {
                power.push_owned(l(), f64::from(p) / 1000.0);
            }
        }
        out.extend([util, used, total, temp, power]);
        Ok(())
    }
}
