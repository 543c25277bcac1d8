//! Readings to metric families: names, labels, units, the dcgm-exporter
//! mapping, skipping of unsupported values and the per-process bound.
//!
//! `argus_gpu_*` series carry `gpu` (NVML index), `uuid` and `name`, and are
//! in base units (bytes, hertz, watts, joules, ratios 0–1), as node_exporter
//! writes them. dcgm-exporter's series carry its labels, in its order: `gpu`,
//! `UUID`, `pci_bus_id`, `device` (`nvidia<gpu>`), `modelName` and, when
//! known, `Hostname`; and its units (percent, MiB, MHz, W, mJ).
//!
//! dcgm-exporter declares some of its names counters, although they do not end
//! in `_total`; OpenMetrics would rename such a counter's samples to
//! `<name>_total`, and dashboards would miss them, so these families are
//! written untyped and keep their exact names in both formats.

use crate::expose::{MetricFamily, MetricKind};

use super::{GpuInfo, GpuProcess, GpuReading};

/// The named clock throttle (clock event) reasons and their NVML bits
/// (`nvmlClocksThrottleReason*`, checked against `nvml-wrapper` in a test).
pub const THROTTLE_REASONS: &[(&str, u64)] = &[
    ("gpu_idle", 0x1),
    ("applications_clocks_setting", 0x2),
    ("sw_power_cap", 0x4),
    ("hw_slowdown", 0x8),
    ("sync_boost", 0x10),
    ("sw_thermal_slowdown", 0x20),
    ("hw_thermal_slowdown", 0x40),
    ("hw_power_brake_slowdown", 0x80),
    ("display_clock_setting", 0x100),
];

const MIB: f64 = 1024.0 * 1024.0;

/// Rendering settings.
#[derive(Debug, Clone)]
pub struct RenderOptions<'a> {
    /// Also write dcgm-exporter's names.
    pub dcgm_names: bool,
    /// Processes per GPU (most memory first); 0: none.
    pub max_processes: usize,
    /// dcgm-exporter's `Hostname` label; left out when empty.
    pub hostname: &'a str,
}

type Labels = Vec<(&'static str, String)>;

fn labels(i: &GpuInfo) -> Labels {
    vec![
        ("gpu", i.index.to_string()),
        ("uuid", i.uuid.clone()),
        ("name", i.name.clone()),
    ]
}

fn with(mut l: Labels, name: &'static str, value: impl Into<String>) -> Labels {
    l.push((name, value.into()));
    l
}

fn dcgm_labels(i: &GpuInfo, hostname: &str) -> Labels {
    let mut l = vec![
        ("gpu", i.index.to_string()),
        ("UUID", i.uuid.clone()),
        ("pci_bus_id", i.pci_bus_id.clone()),
        ("device", format!("nvidia{}", i.index)),
        ("modelName", i.name.clone()),
    ];
    if !hostname.is_empty() {
        l.push(("Hostname", hostname.to_string()));
    }
    l
}

/// A set of families indexed by name, created on first use, in order.
#[derive(Default)]
struct Families(Vec<MetricFamily>);

impl Families {
    fn push(
        &mut self,
        name: &'static str,
        help: &'static str,
        kind: MetricKind,
        labels: Labels,
        value: f64,
    ) {
        let f = match self.0.iter().position(|f| f.name == name) {
            Some(i) => &mut self.0[i],
            None => {
                self.0.push(MetricFamily::new(name, help, kind));
                self.0.last_mut().expect("just pushed")
            }
        };
        f.push_owned(labels, value);
    }

    fn gauge(&mut self, name: &'static str, help: &'static str, l: Labels, v: f64) {
        self.push(name, help, MetricKind::Gauge, l, v);
    }

    fn counter(&mut self, name: &'static str, help: &'static str, l: Labels, v: f64) {
        self.push(name, help, MetricKind::Counter, l, v);
    }
}

/// The `max` processes using the most memory (ties: lower pid first), and
/// how many there were in all.
pub fn top_processes(procs: &[GpuProcess], max: usize) -> (Vec<GpuProcess>, usize) {
    let mut v = procs.to_vec();
    v.sort_by(|a, b| b.used_bytes.cmp(&a.used_bytes).then(a.pid.cmp(&b.pid)));
    v.truncate(max);
    (v, procs.len())
}

/// Renders `readings` into `out`. `process_name` gives a pid's name (empty
/// when unknown); it is called only for the processes kept.
pub fn render(
    readings: &[GpuReading],
    opts: &RenderOptions<'_>,
    process_name: &dyn Fn(u32) -> String,
    out: &mut Vec<MetricFamily>,
) {
    let mut fs = Families::default();
    for r in readings {
        render_argus(r, opts, process_name, &mut fs);
    }
    if opts.dcgm_names {
        for r in readings {
            render_dcgm(r, opts.hostname, &mut fs);
        }
    }
    out.extend(fs.0);
}

fn render_argus(
    r: &GpuReading,
    opts: &RenderOptions<'_>,
    process_name: &dyn Fn(u32) -> String,
    fs: &mut Families,
) {
    let l = || labels(&r.info);
    let pct = |p: u32| f64::from(p) / 100.0;
    if let Some(u) = r.utilization_gpu {
        fs.gauge(
            "argus_gpu_utilization_ratio",
            "Fraction of time over the last sample period a kernel was running on the GPU.",
            l(),
            pct(u),
        );
    }
    if let Some(m) = &r.memory {
        fs.gauge(
            "argus_gpu_memory_used_bytes",
            "GPU memory in use, in bytes.",
            l(),
            m.used as f64,
        );
        fs.gauge(
            "argus_gpu_memory_total_bytes",
            "Total GPU memory, in bytes.",
            l(),
            m.total as f64,
        );
    }
    if let Some(t) = r.temperature_c {
        fs.gauge(
            "argus_gpu_temperature_celsius",
            "GPU die temperature, in degrees Celsius.",
            l(),
            f64::from(t),
        );
    }
    if let Some(p) = r.power_mw {
        fs.gauge(
            "argus_gpu_power_watts",
            "GPU power draw, in watts.",
            l(),
            f64::from(p) / 1000.0,
        );
    }
    if let Some(m) = &r.memory {
        fs.gauge(
            "argus_gpu_memory_free_bytes",
            "Unallocated GPU memory, in bytes (used + free may be below total: the driver reserves some).",
            l(),
            m.free as f64,
        );
    }
    if let Some(u) = r.utilization_memory {
        fs.gauge(
            "argus_gpu_memory_utilization_ratio",
            "Fraction of time over the last sample period device memory was read or written.",
            l(),
            pct(u),
        );
    }
    if let Some(u) = r.encoder_utilization {
        fs.gauge(
            "argus_gpu_encoder_utilization_ratio",
            "Video encoder utilisation, 0 to 1.",
            l(),
            pct(u),
        );
    }
    if let Some(u) = r.decoder_utilization {
        fs.gauge(
            "argus_gpu_decoder_utilization_ratio",
            "Video decoder utilisation, 0 to 1.",
            l(),
            pct(u),
        );
    }
    if let Some(t) = r.memory_temperature_c {
        fs.gauge(
            "argus_gpu_memory_temperature_celsius",
            "GPU memory (HBM) temperature, in degrees Celsius.",
            l(),
            f64::from(t),
        );
    }
    if let Some(e) = r.energy_mj {
        fs.counter(
            "argus_gpu_energy_joules_total",
            "Energy the GPU used since the driver loaded, in joules.",
            l(),
            e as f64 / 1000.0,
        );
    }
    for (clock, v) in [
        ("graphics", r.clock_graphics_mhz),
        ("sm", r.clock_sm_mhz),
        ("memory", r.clock_memory_mhz),
    ] {
        if let Some(mhz) = v {
            fs.gauge(
                "argus_gpu_clock_hertz",
                "Current GPU clock by domain (graphics, sm, memory), in hertz.",
                with(l(), "clock", clock),
                f64::from(mhz) * 1e6,
            );
        }
    }
    for (dir, v) in [("transmit", r.pcie_tx_kbps), ("receive", r.pcie_rx_kbps)] {
        if let Some(kb) = v {
            fs.gauge(
                "argus_gpu_pcie_throughput_bytes_per_second",
                "PCIe throughput over NVML's last 20 ms sample, by direction, in bytes per second.",
                with(l(), "direction", dir),
                f64::from(kb) * 1024.0,
            );
        }
    }
    if let Some(n) = r.pcie_replays {
        fs.counter(
            "argus_gpu_pcie_replays_total",
            "PCIe replays (link-level retries).",
            l(),
            n as f64,
        );
    }
    if let Some(g) = r.pcie_link_gen {
        fs.gauge(
            "argus_gpu_pcie_link_generation",
            "Current PCIe link generation.",
            l(),
            f64::from(g),
        );
    }
    if let Some(w) = r.pcie_link_width {
        fs.gauge(
            "argus_gpu_pcie_link_width",
            "Current PCIe link width, in lanes.",
            l(),
            f64::from(w),
        );
    }
    let e = &r.ecc;
    for (ty, scope, v) in [
        ("corrected", "volatile", e.corrected_volatile),
        ("uncorrected", "volatile", e.uncorrected_volatile),
        ("corrected", "aggregate", e.corrected_aggregate),
        ("uncorrected", "aggregate", e.uncorrected_aggregate),
    ] {
        if let Some(n) = v {
            fs.counter(
                "argus_gpu_ecc_errors_total",
                "ECC memory errors by type (corrected = single-bit, uncorrected = double-bit) and scope (volatile: since the driver loaded; aggregate: the GPU's life).",
                with(with(l(), "type", ty), "scope", scope),
                n as f64,
            );
        }
    }
    let rr = &r.remapped_rows;
    for (cause, v) in [
        ("correctable", rr.correctable),
        ("uncorrectable", rr.uncorrectable),
    ] {
        if let Some(n) = v {
            fs.counter(
                "argus_gpu_remapped_rows_total",
                "GPU memory rows remapped, by the kind of error that caused it.",
                with(l(), "error", cause),
                n as f64,
            );
        }
    }
    if let Some(p) = rr.pending {
        fs.gauge(
            "argus_gpu_row_remap_pending",
            "1 while a row remapping waits for a GPU reset.",
            l(),
            f64::from(u8::from(p)),
        );
    }
    if let Some(f) = rr.failure {
        fs.gauge(
            "argus_gpu_row_remap_failure",
            "1 when a row remapping has failed.",
            l(),
            f64::from(u8::from(f)),
        );
    }
    if let Some(mask) = r.throttle_reasons {
        fs.gauge(
            "argus_gpu_throttle_reasons_bitmask",
            "NVML's clock throttle (clock event) reasons bitmask; 0 when clocks are not held back.",
            l(),
            mask as f64,
        );
        for (reason, bit) in THROTTLE_REASONS {
            fs.gauge(
                "argus_gpu_throttle_reason_active",
                "1 while this clock throttle (clock event) reason holds the GPU's clocks back.",
                with(l(), "reason", *reason),
                f64::from(u8::from(mask & bit != 0)),
            );
        }
    }
    if let Some(x) = r.xid {
        fs.gauge(
            "argus_gpu_xid_last_code",
            "The last XID error the GPU reported since the agent started; 0 for none.",
            l(),
            x.last as f64,
        );
        fs.counter(
            "argus_gpu_xid_errors_total",
            "XID error events the GPU reported since the agent started.",
            l(),
            x.events as f64,
        );
    }
    if !r.nvlinks.is_empty() {
        for link in &r.nvlinks {
            fs.gauge(
                "argus_gpu_nvlink_up",
                "1 while this NVLink link is active.",
                with(l(), "link", link.link.to_string()),
                f64::from(u8::from(link.up)),
            );
            let e = &link.errors;
            for (ty, v) in [
                ("replay", e.replay),
                ("recovery", e.recovery),
                ("crc_flit", e.crc_flit),
                ("crc_data", e.crc_data),
            ] {
                if let Some(n) = v {
                    fs.counter(
                        "argus_gpu_nvlink_errors_total",
                        "NVLink errors of an active link by type: data link replays and recoveries, flow-control (flit) and data CRC errors.",
                        with(with(l(), "link", link.link.to_string()), "type", ty),
                        n as f64,
                    );
                }
            }
        }
        fs.gauge(
            "argus_gpu_nvlink_links_active",
            "NVLink links active.",
            l(),
            r.nvlinks.iter().filter(|k| k.up).count() as f64,
        );
    }
    if let Some(procs) = &r.processes {
        let (top, n) = top_processes(procs, opts.max_processes);
        fs.gauge(
            "argus_gpu_processes",
            "Processes using the GPU (compute and graphics).",
            l(),
            n as f64,
        );
        for p in top {
            fs.gauge(
                "argus_gpu_process_memory_used_bytes",
                "GPU memory used by a process, in bytes (the processes using the most, up to gpu.max_processes per GPU).",
                vec![
                    ("gpu", r.info.index.to_string()),
                    ("pid", p.pid.to_string()),
                    ("process", process_name(p.pid)),
                ],
                p.used_bytes as f64,
            );
        }
    }
    if let Some(on) = r.mig_enabled {
        fs.gauge(
            "argus_gpu_mig_enabled",
            "1 when the GPU is in MIG (multi-instance GPU) mode.",
            l(),
            f64::from(u8::from(on)),
        );
    }
    for m in &r.mig_devices {
        let Some(mem) = &m.memory else { continue };
        let ml = || {
            let gi = m.gpu_instance_id.map(|i| i.to_string()).unwrap_or_default();
            with(with(l(), "mig", m.index.to_string()), "GPU_I_ID", gi)
        };
        fs.gauge(
            "argus_gpu_mig_memory_used_bytes",
            "Memory in use in a MIG device, in bytes.",
            ml(),
            mem.used as f64,
        );
        fs.gauge(
            "argus_gpu_mig_memory_total_bytes",
            "Memory of a MIG device, in bytes.",
            ml(),
            mem.total as f64,
        );
    }
}

fn render_dcgm(r: &GpuReading, hostname: &str, fs: &mut Families) {
    let l = || dcgm_labels(&r.info, hostname);
    let gauge = MetricKind::Gauge;
    // dcgm-exporter's counters (see the module docs).
    let counter = MetricKind::Untyped;
    let mut put = |name: &'static str, help: &'static str, kind, v: Option<f64>| {
        if let Some(v) = v {
            fs.push(name, help, kind, l(), v);
        }
    };
    let f = |v: Option<u32>| v.map(f64::from);
    let g = |v: Option<u64>| v.map(|x| x as f64);
    let mib = |b: u64| (b as f64 / MIB).floor();
    put(
        "DCGM_FI_DEV_GPU_UTIL",
        "GPU utilization (in %).",
        gauge,
        f(r.utilization_gpu),
    );
    put(
        "DCGM_FI_DEV_MEM_COPY_UTIL",
        "Memory utilization (in %).",
        gauge,
        f(r.utilization_memory),
    );
    put(
        "DCGM_FI_DEV_ENC_UTIL",
        "Encoder utilization (in %).",
        gauge,
        f(r.encoder_utilization),
    );
    put(
        "DCGM_FI_DEV_DEC_UTIL",
        "Decoder utilization (in %).",
        gauge,
        f(r.decoder_utilization),
    );
    put(
        "DCGM_FI_DEV_FB_FREE",
        "Framebuffer memory free (in MiB).",
        gauge,
        r.memory.map(|m| mib(m.free)),
    );
    put(
        "DCGM_FI_DEV_FB_USED",
        "Framebuffer memory used (in MiB).",
        gauge,
        r.memory.map(|m| mib(m.used)),
    );
    put(
        "DCGM_FI_DEV_GPU_TEMP",
        "GPU temperature (in C).",
        gauge,
        f(r.temperature_c),
    );
    put(
        "DCGM_FI_DEV_MEMORY_TEMP",
        "Memory temperature (in C).",
        gauge,
        f(r.memory_temperature_c),
    );
    put(
        "DCGM_FI_DEV_POWER_USAGE",
        "Power draw (in W).",
        gauge,
        r.power_mw.map(|p| f64::from(p) / 1000.0),
    );
    put(
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
        "Total energy consumption since boot (in mJ).",
        counter,
        g(r.energy_mj),
    );
    put(
        "DCGM_FI_DEV_SM_CLOCK",
        "SM clock frequency (in MHz).",
        gauge,
        f(r.clock_sm_mhz),
    );
    put(
        "DCGM_FI_DEV_MEM_CLOCK",
        "Memory clock frequency (in MHz).",
        gauge,
        f(r.clock_memory_mhz),
    );
    put(
        "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
        "Total number of PCIe retries.",
        counter,
        g(r.pcie_replays),
    );
    put(
        "DCGM_FI_DEV_XID_ERRORS",
        "Value of the last XID error encountered.",
        gauge,
        r.xid.map(|x| x.last as f64),
    );
    put(
        "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",
        "Total number of single-bit volatile ECC errors.",
        counter,
        g(r.ecc.corrected_volatile),
    );
    put(
        "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
        "Total number of double-bit volatile ECC errors.",
        counter,
        g(r.ecc.uncorrected_volatile),
    );
    put(
        "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL",
        "Total number of single-bit persistent ECC errors.",
        counter,
        g(r.ecc.corrected_aggregate),
    );
    put(
        "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL",
        "Total number of double-bit persistent ECC errors.",
        counter,
        g(r.ecc.uncorrected_aggregate),
    );
    put(
        "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS",
        "Current clock throttle reasons (bitmask of DCGM_CLOCKS_THROTTLE_REASON_*).",
        gauge,
        r.throttle_reasons.map(|m| m as f64),
    );
    put(
        "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
        "Number of remapped rows for correctable errors",
        counter,
        g(r.remapped_rows.correctable),
    );
    put(
        "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
        "Number of remapped rows for uncorrectable errors",
        counter,
        g(r.remapped_rows.uncorrectable),
    );
    put(
        "DCGM_FI_DEV_ROW_REMAP_FAILURE",
        "Whether remapping of rows has failed",
        gauge,
        r.remapped_rows.failure.map(|b| f64::from(u8::from(b))),
    );
}
