//! Rendering tests. A fake [`GpuSource`] stands in for NVML only because no
//! GPU (and no NVIDIA driver) can run where these tests run: it checks names,
//! labels, units, the dcgm-exporter mapping, skipping and bounding, not NVML
//! itself. `scripts/gpu-check.sh` compares the real thing with `nvidia-smi`
//! on a host with a GPU.

use std::path::Path;

use super::render::{render, top_processes, RenderOptions};
use super::*;
use crate::expose::{render as expose, Format, MetricKind};

const MIB: u64 = 1 << 20;

struct FakeSource {
    infos: Vec<GpuInfo>,
    readings: Vec<GpuReading>,
}

impl GpuSource for FakeSource {
    fn gpus(&self) -> &[GpuInfo] {
        &self.infos
    }
    fn read(&mut self, out: &mut Vec<GpuReading>) {
        out.extend(self.readings.iter().cloned());
    }
}

fn info(index: u32) -> GpuInfo {
    GpuInfo {
        index,
        uuid: format!("GPU-{index}"),
        name: "NVIDIA H100 80GB HBM3".into(),
        pci_bus_id: format!("00000000:0{index}:00.0"),
    }
}

/// Only what every NVIDIA GPU reports; everything optional is unsupported.
fn basic(index: u32) -> GpuReading {
    GpuReading {
        info: info(index),
        utilization_gpu: Some(42),
        memory: Some(GpuMemory {
            used: 3 * MIB + 512 * 1024,
            free: 10 * MIB,
            total: 16 * MIB,
        }),
        temperature_c: Some(55),
        power_mw: Some(123_456),
        ..Default::default()
    }
}

fn full(index: u32) -> GpuReading {
    GpuReading {
        utilization_memory: Some(7),
        encoder_utilization: Some(3),
        decoder_utilization: Some(0),
        memory_temperature_c: Some(61),
        energy_mj: Some(5_000_250),
        clock_graphics_mhz: Some(1755),
        clock_sm_mhz: Some(1980),
        clock_memory_mhz: Some(2619),
        pcie_tx_kbps: Some(1024),
        pcie_rx_kbps: Some(3),
        pcie_replays: Some(2),
        pcie_link_gen: Some(5),
        pcie_link_width: Some(16),
        ecc: EccCounts {
            corrected_volatile: Some(1),
            uncorrected_volatile: Some(0),
            corrected_aggregate: Some(12),
            uncorrected_aggregate: Some(3),
        },
        remapped_rows: RemappedRows {
            correctable: Some(4),
            uncorrectable: Some(1),
            pending: Some(false),
            failure: Some(true),
        },
        throttle_reasons: Some(0x4 | 0x40),
        xid: Some(XidState {
            last: 79,
            events: 2,
        }),
        nvlinks: vec![
            NvLinkState {
                link: 0,
                up: true,
                errors: NvLinkErrors {
                    replay: Some(5),
                    recovery: Some(0),
                    crc_flit: None,
                    crc_data: Some(1),
                },
            },
            NvLinkState {
                link: 1,
                up: false,
                errors: NvLinkErrors::default(),
            },
        ],
        processes: Some(vec![
            GpuProcess {
                pid: 100,
                used_bytes: 2 * MIB,
            },
            GpuProcess {
                pid: 7,
                used_bytes: MIB,
            },
        ]),
        mig_enabled: Some(true),
        mig_devices: vec![MigReading {
            index: 0,
            gpu_instance_id: Some(9),
            memory: Some(GpuMemory {
                used: 5 * MIB,
                free: 0,
                total: 10 * MIB,
            }),
        }],
        ..basic(index)
    }
}

fn opts(dcgm: bool) -> RenderOptions<'static> {
    RenderOptions {
        dcgm_names: dcgm,
        max_processes: 32,
        hostname: "h1",
    }
}

fn names(pid: u32) -> String {
    format!("proc{pid}")
}

fn run(readings: &[GpuReading], o: &RenderOptions<'_>) -> Vec<MetricFamily> {
    let mut out = Vec::new();
    render(readings, o, &names, &mut out);
    out
}

/// The value of the sample of `name` whose labels include all of `want`.
fn value(fams: &[MetricFamily], name: &str, want: &[(&str, &str)]) -> Option<f64> {
    let f = fams.iter().find(|f| f.name == name)?;
    f.samples
        .iter()
        .find(|s| {
            want.iter()
                .all(|(k, v)| s.labels.iter().any(|(n, x)| n == k && x == v))
        })
        .map(|s| s.value)
}

fn family_names(fams: &[MetricFamily]) -> Vec<&str> {
    fams.iter().map(|f| f.name.as_ref()).collect()
}

#[test]
fn full_reading_renders_every_series_in_base_units() {
    let fams = run(&[full(0)], &opts(false));
    let v = |n: &str, l: &[(&str, &str)]| value(&fams, n, l).unwrap_or_else(|| panic!("{n} {l:?}"));
    let g = [("gpu", "0")];
    assert_eq!(v("argus_gpu_utilization_ratio", &g), 0.42);
    assert_eq!(v("argus_gpu_memory_used_bytes", &g), 3_670_016.0);
    assert_eq!(v("argus_gpu_memory_total_bytes", &g), 16_777_216.0);
    assert_eq!(v("argus_gpu_memory_free_bytes", &g), 10_485_760.0);
    assert_eq!(v("argus_gpu_temperature_celsius", &g), 55.0);
    assert_eq!(v("argus_gpu_power_watts", &g), 123.456);
    assert_eq!(v("argus_gpu_memory_utilization_ratio", &g), 0.07);
    assert_eq!(v("argus_gpu_encoder_utilization_ratio", &g), 0.03);
    assert_eq!(v("argus_gpu_decoder_utilization_ratio", &g), 0.0);
    assert_eq!(v("argus_gpu_memory_temperature_celsius", &g), 61.0);
    assert_eq!(v("argus_gpu_energy_joules_total", &g), 5000.25);
    assert_eq!(v("argus_gpu_clock_hertz", &[("clock", "sm")]), 1.98e9);
    assert_eq!(v("argus_gpu_clock_hertz", &[("clock", "memory")]), 2.619e9);
    assert_eq!(
        v("argus_gpu_clock_hertz", &[("clock", "graphics")]),
        1.755e9
    );
    // 1024 KB/s = 1024 × 1024 bytes/s.
    let tx = [("direction", "transmit")];
    assert_eq!(
        v("argus_gpu_pcie_throughput_bytes_per_second", &tx),
        1_048_576.0
    );
    let rx = [("direction", "receive")];
    assert_eq!(v("argus_gpu_pcie_throughput_bytes_per_second", &rx), 3072.0);
    assert_eq!(v("argus_gpu_pcie_replays_total", &g), 2.0);
    assert_eq!(v("argus_gpu_pcie_link_generation", &g), 5.0);
    assert_eq!(v("argus_gpu_pcie_link_width", &g), 16.0);
    let ecc = |t, s| v("argus_gpu_ecc_errors_total", &[("type", t), ("scope", s)]);
    assert_eq!(ecc("corrected", "volatile"), 1.0);
    assert_eq!(ecc("uncorrected", "volatile"), 0.0);
    assert_eq!(ecc("corrected", "aggregate"), 12.0);
    assert_eq!(ecc("uncorrected", "aggregate"), 3.0);
    assert_eq!(
        v("argus_gpu_remapped_rows_total", &[("error", "correctable")]),
        4.0
    );
    assert_eq!(
        v(
            "argus_gpu_remapped_rows_total",
            &[("error", "uncorrectable")]
        ),
        1.0
    );
    assert_eq!(v("argus_gpu_row_remap_pending", &g), 0.0);
    assert_eq!(v("argus_gpu_row_remap_failure", &g), 1.0);
    assert_eq!(v("argus_gpu_throttle_reasons_bitmask", &g), 68.0);
    assert_eq!(v("argus_gpu_xid_last_code", &g), 79.0);
    assert_eq!(v("argus_gpu_xid_errors_total", &g), 2.0);
    assert_eq!(v("argus_gpu_nvlink_up", &[("link", "0")]), 1.0);
    assert_eq!(v("argus_gpu_nvlink_up", &[("link", "1")]), 0.0);
    assert_eq!(v("argus_gpu_nvlink_links_active", &g), 1.0);
    let nl = |t| {
        value(
            &fams,
            "argus_gpu_nvlink_errors_total",
            &[("link", "0"), ("type", t)],
        )
    };
    assert_eq!(nl("replay"), Some(5.0));
    assert_eq!(nl("recovery"), Some(0.0));
    assert_eq!(nl("crc_flit"), None);
    assert_eq!(nl("crc_data"), Some(1.0));
    let nvlink_errors = fams
        .iter()
        .find(|f| f.name == "argus_gpu_nvlink_errors_total")
        .unwrap();
    assert_eq!(nvlink_errors.samples.len(), 3);
    assert_eq!(v("argus_gpu_processes", &g), 2.0);
    let p = [("gpu", "0"), ("pid", "100"), ("process", "proc100")];
    assert_eq!(v("argus_gpu_process_memory_used_bytes", &p), 2_097_152.0);
    assert_eq!(v("argus_gpu_mig_enabled", &g), 1.0);
    let mig = [("mig", "0"), ("GPU_I_ID", "9")];
    assert_eq!(v("argus_gpu_mig_memory_used_bytes", &mig), 5_242_880.0);
    assert_eq!(v("argus_gpu_mig_memory_total_bytes", &mig), 10_485_760.0);
    // The usual labels, in order.
    let util = fams
        .iter()
        .find(|f| f.name == "argus_gpu_utilization_ratio")
        .unwrap();
    assert_eq!(
        util.samples[0].labels,
        vec![
            ("gpu", "0".to_string()),
            ("uuid", "GPU-0".to_string()),
            ("name", "NVIDIA H100 80GB HBM3".to_string()),
        ]
    );
    let kind = |n: &str| fams.iter().find(|f| f.name == n).unwrap().kind;
    assert_eq!(kind("argus_gpu_ecc_errors_total"), MetricKind::Counter);
    assert_eq!(kind("argus_gpu_energy_joules_total"), MetricKind::Counter);
    assert_eq!(kind("argus_gpu_clock_hertz"), MetricKind::Gauge);
    assert!(!family_names(&fams).iter().any(|n| n.starts_with("DCGM_")));
    for f in &fams {
        if f.kind == MetricKind::Counter {
            assert!(f.name.ends_with("_total"), "{}", f.name);
        }
    }
}

#[test]
fn dcgm_names_units_and_labels() {
    let fams = run(&[full(0)], &opts(true));
    let g = [("gpu", "0")];
    let v = |n: &str| value(&fams, n, &g).unwrap_or_else(|| panic!("{n}"));
    assert_eq!(v("DCGM_FI_DEV_GPU_UTIL"), 42.0);
    assert_eq!(v("DCGM_FI_DEV_MEM_COPY_UTIL"), 7.0);
    assert_eq!(v("DCGM_FI_DEV_ENC_UTIL"), 3.0);
    assert_eq!(v("DCGM_FI_DEV_DEC_UTIL"), 0.0);
    // 3.5 MiB used: whole MiB, as DCGM writes them.
    assert_eq!(v("DCGM_FI_DEV_FB_USED"), 3.0);
    assert_eq!(v("DCGM_FI_DEV_FB_FREE"), 10.0);
    assert_eq!(v("DCGM_FI_DEV_GPU_TEMP"), 55.0);
    assert_eq!(v("DCGM_FI_DEV_MEMORY_TEMP"), 61.0);
    assert_eq!(v("DCGM_FI_DEV_POWER_USAGE"), 123.456);
    assert_eq!(v("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"), 5_000_250.0);
    assert_eq!(v("DCGM_FI_DEV_SM_CLOCK"), 1980.0);
    assert_eq!(v("DCGM_FI_DEV_MEM_CLOCK"), 2619.0);
    assert_eq!(v("DCGM_FI_DEV_PCIE_REPLAY_COUNTER"), 2.0);
    assert_eq!(v("DCGM_FI_DEV_XID_ERRORS"), 79.0);
    assert_eq!(v("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL"), 1.0);
    assert_eq!(v("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"), 0.0);
    assert_eq!(v("DCGM_FI_DEV_ECC_SBE_AGG_TOTAL"), 12.0);
    assert_eq!(v("DCGM_FI_DEV_ECC_DBE_AGG_TOTAL"), 3.0);
    assert_eq!(v("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"), 68.0);
    assert_eq!(v("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS"), 4.0);
    assert_eq!(v("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS"), 1.0);
    assert_eq!(v("DCGM_FI_DEV_ROW_REMAP_FAILURE"), 1.0);

    let mut text = String::new();
    expose(&fams, Format::Text, &mut text);
    assert!(text.contains(
        "DCGM_FI_DEV_FB_USED{gpu=\"0\",UUID=\"GPU-0\",pci_bus_id=\"00000000:00:00.0\",\
device=\"nvidia0\",modelName=\"NVIDIA H100 80GB HBM3\",Hostname=\"h1\"} 3\n"
    ));
    // dcgm-exporter's counters keep their exact names in OpenMetrics too.
    let mut om = String::new();
    expose(&fams, Format::OpenMetrics, &mut om);
    assert!(om.contains("\nDCGM_FI_DEV_PCIE_REPLAY_COUNTER{gpu=\"0\""));
    assert!(!om.contains("DCGM_FI_DEV_PCIE_REPLAY_COUNTER_total"));
    assert!(om.contains("\nargus_gpu_pcie_replays_total{gpu=\"0\""));
}

#[test]
fn unsupported_values_are_skipped_without_error() {
    let fams = run(&[basic(0), basic(1)], &opts(false));
    assert_eq!(
        family_names(&fams),
        vec![
            "argus_gpu_utilization_ratio",
            "argus_gpu_memory_used_bytes",
            "argus_gpu_memory_total_bytes",
            "argus_gpu_temperature_celsius",
            "argus_gpu_power_watts",
            "argus_gpu_memory_free_bytes",
        ]
    );
    assert!(fams.iter().all(|f| f.samples.len() == 2));
    let fams = run(&[basic(0)], &opts(true));
    let dcgm: Vec<&str> = family_names(&fams)
        .into_iter()
        .filter(|n| n.starts_with("DCGM_"))
        .collect();
    assert_eq!(
        dcgm,
        vec![
            "DCGM_FI_DEV_GPU_UTIL",
            "DCGM_FI_DEV_FB_FREE",
            "DCGM_FI_DEV_FB_USED",
            "DCGM_FI_DEV_GPU_TEMP",
            "DCGM_FI_DEV_POWER_USAGE",
        ]
    );
    // A GPU that answers nothing at all still costs no error and no series.
    let empty = GpuReading {
        info: info(0),
        ..Default::default()
    };
    assert!(run(&[empty], &opts(true)).is_empty());
}

#[test]
fn throttle_bitmask_becomes_one_series_per_reason() {
    let r = GpuReading {
        info: info(0),
        throttle_reasons: Some(0x1 | 0x8 | 0x100 | 0x8000),
        ..Default::default()
    };
    let fams = run(&[r], &opts(false));
    assert_eq!(
        value(&fams, "argus_gpu_throttle_reasons_bitmask", &[]),
        Some(33033.0)
    );
    let active = |reason| {
        value(
            &fams,
            "argus_gpu_throttle_reason_active",
            &[("reason", reason)],
        )
    };
    for (reason, want) in [
        ("gpu_idle", 1.0),
        ("applications_clocks_setting", 0.0),
        ("sw_power_cap", 0.0),
        ("hw_slowdown", 1.0),
        ("sync_boost", 0.0),
        ("sw_thermal_slowdown", 0.0),
        ("hw_thermal_slowdown", 0.0),
        ("hw_power_brake_slowdown", 0.0),
        ("display_clock_setting", 1.0),
    ] {
        assert_eq!(active(reason), Some(want), "{reason}");
    }
    let f = fams
        .iter()
        .find(|f| f.name == "argus_gpu_throttle_reason_active")
        .unwrap();
    assert_eq!(f.samples.len(), 9);
    let none = GpuReading {
        info: info(0),
        throttle_reasons: Some(0),
        ..Default::default()
    };
    let fams = run(&[none], &opts(false));
    let f = fams
        .iter()
        .find(|f| f.name == "argus_gpu_throttle_reason_active")
        .unwrap();
    assert!(f.samples.iter().all(|s| s.value == 0.0));
}

#[test]
fn processes_are_bounded_by_memory() {
    let procs: Vec<GpuProcess> = (1..=40)
        .map(|pid| GpuProcess {
            pid,
            used_bytes: u64::from(pid % 10) * MIB,
        })
        .collect();
    let (top, n) = top_processes(&procs, 3);
    assert_eq!(n, 40);
    // 9 MiB: pids 9, 19, 29, 39; the lowest pids first.
    assert_eq!(
        top.iter().map(|p| p.pid).collect::<Vec<_>>(),
        vec![9, 19, 29]
    );
    let r = GpuReading {
        info: info(0),
        processes: Some(procs),
        ..Default::default()
    };
    let fams = run(std::slice::from_ref(&r), &opts(false));
    assert_eq!(value(&fams, "argus_gpu_processes", &[]), Some(40.0));
    let f = fams
        .iter()
        .find(|f| f.name == "argus_gpu_process_memory_used_bytes")
        .unwrap();
    assert_eq!(f.samples.len(), 32);
    assert!(f.samples.iter().all(|s| s.value >= 2.0 * MIB as f64));
    let o = RenderOptions {
        max_processes: 0,
        ..opts(false)
    };
    let fams = run(&[r], &o);
    assert!(!family_names(&fams).contains(&"argus_gpu_process_memory_used_bytes"));
    assert_eq!(value(&fams, "argus_gpu_processes", &[]), Some(40.0));
}

#[test]
fn collector_reads_the_source_and_process_names() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("100")).unwrap();
    std::fs::write(d.path().join("100/comm"), "python3\n").unwrap();
    std::fs::create_dir_all(d.path().join("sys/kernel")).unwrap();
    std::fs::write(d.path().join("sys/kernel/hostname"), "gpu-node-1\n").unwrap();
    let src = FakeSource {
        infos: vec![info(0)],
        readings: vec![full(0)],
    };
    let cfg = GpuConfig {
        dcgm_names: true,
        ..Default::default()
    };
    let mut c = GpuCollector::from_source(Some(Box::new(src) as Box<dyn GpuSource>), cfg, d.path());
    assert_eq!(c.count(), 1);
    assert_eq!(c.gpus()[0].uuid, "GPU-0");
    let mut out = Vec::new();
    c.collect(&mut out).unwrap();
    let p = [("pid", "100"), ("process", "python3")];
    assert_eq!(
        value(&out, "argus_gpu_process_memory_used_bytes", &p),
        Some(2_097_152.0)
    );
    // pid 7 has no /proc entry here: its name is empty, the series stays.
    let p = [("pid", "7"), ("process", "")];
    assert_eq!(
        value(&out, "argus_gpu_process_memory_used_bytes", &p),
        Some(1_048_576.0)
    );
    assert_eq!(
        value(&out, "DCGM_FI_DEV_GPU_TEMP", &[("Hostname", "gpu-node-1")]),
        Some(55.0)
    );
    // A second collect gives the same families, not twice as many samples.
    let mut again = Vec::new();
    c.collect(&mut again).unwrap();
    assert_eq!(out, again);
}

#[test]
fn nvml_absent_gives_no_series_and_no_error() {
    // The real NVML: this machine has no NVIDIA driver, so `Nvml::init()` fails.
    if nvml_wrapper::Nvml::init().is_ok() {
        return; // a host with a driver: this case cannot be checked here
    }
    let mut c = GpuCollector::new();
    assert_eq!(c.count(), 0);
    let mut out = Vec::new();
    c.collect(&mut out).unwrap();
    assert!(out.is_empty());
    let cfg = GpuConfig {
        dcgm_names: true,
        ..Default::default()
    };
    let mut c = GpuCollector::with_config(cfg, Path::new("/proc"));
    c.collect(&mut out).unwrap();
    assert!(out.is_empty());
}

#[test]
fn config_keys() {
    let c: GpuConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(c, GpuConfig::default());
    assert!(!c.dcgm_names);
    assert_eq!(c.max_processes, 32);
    let c: GpuConfig = serde_json::from_str(r#"{"dcgm_names": true, "max_processes": 4}"#).unwrap();
    assert!(c.dcgm_names);
    assert_eq!(c.max_processes, 4);
    assert!(serde_json::from_str::<GpuConfig>(r#"{"dcgm": true}"#).is_err());
}
