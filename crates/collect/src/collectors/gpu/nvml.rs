//! The real [`GpuSource`]: NVML through `nvml-wrapper` 0.11.
//!
//! Every NVML call may fail on some GPU (`NotSupported` on consumer cards,
//! `NoPermission`, a driver too old for the symbol, …): each failure leaves
//! that one value `None` for that GPU and is otherwise ignored. Nothing here
//! panics.
//!
//! What `nvml-wrapper` 0.11 does not wrap is reached as follows:
//!
//! * remapped rows and the memory temperature are NVML *field values*
//!   (`nvmlDeviceGetFieldValues`, wrapped as `Device::field_values_for`);
//! * MIG devices (`nvmlDeviceGetMaxMigDeviceCount`,
//!   `nvmlDeviceGetMigDeviceHandleByIndex`, `nvmlDeviceGetGpuInstanceId`) are
//!   looked up with `dlsym` in the copy of `libnvidia-ml.so.1` that
//!   `nvml-wrapper` has already loaded (`MigApi`); the handles they give are
//!   then used through the wrapper's safe methods;
//! * NVLink throughput is not available: the field values need a per-link
//!   `scopeId` that `field_values_for` cannot set, and the utilisation
//!   counters need `set_utilization_control` (a device setting, root only,
//!   gone on recent GPUs). Only the link state and error counters are read.
//!
//! The `Nvml` handle is leaked on purpose once GPUs are found: the XID event
//! sets borrow it for as long as the agent runs, and the agent builds its
//! collectors once per process.

use std::ffi::{c_int, c_uint, c_void, CStr};

use nvml_wrapper::bitmasks::event::EventTypes;
use nvml_wrapper::enum_wrappers::device::{
    Clock, EccCounter, MemoryError, PcieUtilCounter, TemperatureSensor,
};
use nvml_wrapper::enum_wrappers::nv_link::ErrorCounter;
use nvml_wrapper::enums::device::{SampleValue, UsedGpuMemory};
use nvml_wrapper::enums::event::XidError;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::struct_wrappers::device::ProcessInfo;
use nvml_wrapper::structs::device::FieldId;
use nvml_wrapper::sys_exports::field_id::{
    NVML_FI_DEV_MEMORY_TEMP, NVML_FI_DEV_REMAPPED_COR, NVML_FI_DEV_REMAPPED_FAILURE,
    NVML_FI_DEV_REMAPPED_PENDING, NVML_FI_DEV_REMAPPED_UNC,
};
use nvml_wrapper::{Device, EventSet, Nvml};

use super::{
    EccCounts, GpuInfo, GpuMemory, GpuProcess, GpuReading, GpuSource, MigReading, NvLinkErrors,
    NvLinkState, RemappedRows, XidState,
};

/// NVML's `NVML_NVLINK_MAX_LINKS` (nvml.h, 12.x).
const MAX_NVLINKS: u32 = 18;
/// At most this many XID events are drained per collect (the rest wait).
const MAX_EVENTS_PER_COLLECT: usize = 64;
/// At most this many MIG devices per GPU (NVML's maximum is 7).
const MAX_MIG_DEVICES: u32 = 16;

/// One GPU and what was set up for it at start.
struct DeviceState {
    info: GpuInfo,
    device: Device<'static>,
    /// The XID event set; `None` when the GPU cannot report XID events.
    events: Option<EventSet<'static>>,
    xid: XidState,
    /// NVLink links that answered at start.
    links: Vec<u32>,
}

/// Reads GPUs through NVML.
pub struct NvmlSource {
    nvml: &'static Nvml,
    devices: Vec<DeviceState>,
    infos: Vec<GpuInfo>,
    mig: Option<MigApi>,
}

impl std::fmt::Debug for NvmlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NvmlSource")
            .field("gpus", &self.infos)
            .finish()
    }
}

impl NvmlSource {
    /// Initialises NVML and sets every GPU up; `None` (logged at debug level)
    /// without NVML or without GPUs.
    pub fn init() -> Option<NvmlSource> {
        let nvml = match Nvml::init() {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(error = %e, "NVML is not available; no GPU metrics will be reported.");
                return None;
            }
        };
        let n = nvml.device_count().unwrap_or(0);
        if n == 0 {
            tracing::debug!("NVML found no GPUs; no GPU metrics will be reported.");
            return None;
        }
        let nvml: &'static Nvml = Box::leak(Box::new(nvml));
        let mut devices = Vec::new();
        for index in 0..n {
            let Ok(device) = nvml.device_by_index(index) else {
                continue;
            };
            let info = GpuInfo {
                index,
                uuid: device.uuid().unwrap_or_default(),
                name: device.name().unwrap_or_default(),
                pci_bus_id: device.pci_info().map(|p| p.bus_id).unwrap_or_default(),
            };
            let events = register_xid(nvml, &device);
            let links = (0..MAX_NVLINKS)
                .filter(|&l| device.link_wrapper_for(l).is_active().is_ok())
                .collect();
            devices.push(DeviceState {
                info,
                device,
                events,
                xid: XidState::default(),
                links,
            });
        }
        if devices.is_empty() {
            tracing::debug!(
                "NVML listed GPUs but none could be opened; no GPU metrics will be reported."
            );
            return None;
        }
        let infos = devices.iter().map(|d| d.info.clone()).collect();
        Some(NvmlSource {
            nvml,
            devices,
            infos,
            mig: MigApi::load(),
        })
    }
}

/// An event set with `CRITICAL_XID_ERROR` registered for `device`, if it supports it.
fn register_xid(nvml: &'static Nvml, device: &Device<'static>) -> Option<EventSet<'static>> {
    let supported = device.supported_event_types().ok()?;
    if !supported.contains(EventTypes::CRITICAL_XID_ERROR) {
        return None;
    }
    let set = nvml.create_event_set().ok()?;
    match device.register_events(EventTypes::CRITICAL_XID_ERROR, set) {
        Ok(set) => Some(set),
        Err(e) => {
            tracing::debug!(error = %e, "XID events cannot be registered for this GPU.");
            None
        }
    }
}

/// Drains pending events without blocking (`wait(0)`; `Timeout` is "no event").
fn poll_xid(set: &EventSet<'static>, xid: &mut XidState) {
    for _ in 0..MAX_EVENTS_PER_COLLECT {
        match set.wait(0) {
            Ok(ev) => {
                if ev.event_type.contains(EventTypes::CRITICAL_XID_ERROR) {
                    xid.events += 1;
                    if let Some(XidError::Value(v)) = ev.event_data {
                        xid.last = v;
                    }
                }
            }
            Err(NvmlError::Timeout) => break,
            Err(e) => {
                tracing::debug!(error = %e, "Reading GPU events failed.");
                break;
            }
        }
    }
}

fn sample_u64(v: &SampleValue) -> Option<u64> {
    match *v {
        SampleValue::U32(x) => Some(u64::from(x)),
        SampleValue::U64(x) => Some(x),
        SampleValue::I64(x) => u64::try_from(x).ok(),
        SampleValue::F64(x) if x >= 0.0 && x.is_finite() => Some(x as u64),
        SampleValue::F64(_) => None,
    }
}

/// Field values, in the order asked; `None` for each one that failed.
fn field_values(device: &Device<'static>, ids: &[u32]) -> Vec<Option<u64>> {
    let fields: Vec<FieldId> = ids.iter().map(|&i| FieldId(i)).collect();
    let mut out = vec![None; ids.len()];
    let Ok(values) = device.field_values_for(&fields) else {
        return out;
    };
    for (slot, v) in out.iter_mut().zip(values) {
        if let Ok(sample) = v {
            if let Ok(value) = sample.value {
                *slot = sample_u64(&value);
            }
        }
    }
    out
}

fn memory_of(device: &Device<'_>) -> Option<GpuMemory> {
    device.memory_info().ok().map(|m| GpuMemory {
        used: m.used,
        free: m.free,
        total: m.total,
    })
}

/// Compute and graphics processes, one entry per pid (the larger figure when
/// a process is in both lists); `None` when neither list is readable.
fn processes_of(device: &Device<'_>) -> Option<Vec<GpuProcess>> {
    let compute = device.running_compute_processes();
    let graphics = device.running_graphics_processes();
    if compute.is_err() && graphics.is_err() {
        return None;
    }
    let mut out: Vec<GpuProcess> = Vec::new();
    let all = compute
        .unwrap_or_default()
        .into_iter()
        .chain(graphics.unwrap_or_default());
    for ProcessInfo {
        pid,
        used_gpu_memory,
        ..
    } in all
    {
        let used = match used_gpu_memory {
            UsedGpuMemory::Used(b) => b,
            UsedGpuMemory::Unavailable => 0,
        };
        match out.iter_mut().find(|p| p.pid == pid) {
            Some(p) => p.used_bytes = p.used_bytes.max(used),
            None => out.push(GpuProcess {
                pid,
                used_bytes: used,
            }),
        }
    }
    Some(out)
}

impl NvmlSource {
    fn read_one(&self, d: &mut DeviceState) -> GpuReading {
        let dev = &d.device;
        let mut r = GpuReading {
            info: d.info.clone(),
            ..Default::default()
        };
        if let Ok(u) = dev.utilization_rates() {
            r.utilization_gpu = Some(u.gpu);
            r.utilization_memory = Some(u.memory);
        }
        r.encoder_utilization = dev.encoder_utilization().ok().map(|u| u.utilization);
        r.decoder_utilization = dev.decoder_utilization().ok().map(|u| u.utilization);
        r.memory = memory_of(dev);
        r.temperature_c = dev.temperature(TemperatureSensor::Gpu).ok();
        r.power_mw = dev.power_usage().ok();
        r.energy_mj = dev.total_energy_consumption().ok();
        r.clock_graphics_mhz = dev.clock_info(Clock::Graphics).ok();
        r.clock_sm_mhz = dev.clock_info(Clock::SM).ok();
        r.clock_memory_mhz = dev.clock_info(Clock::Memory).ok();
        r.pcie_tx_kbps = dev.pcie_throughput(PcieUtilCounter::Send).ok();
        r.pcie_rx_kbps = dev.pcie_throughput(PcieUtilCounter::Receive).ok();
        r.pcie_replays = dev.pcie_replay_counter().ok().map(u64::from);
        r.pcie_link_gen = dev.current_pcie_link_gen().ok();
        r.pcie_link_width = dev.current_pcie_link_width().ok();
        let ecc = |e, c| dev.total_ecc_errors(e, c).ok();
        r.ecc = EccCounts {
            corrected_volatile: ecc(MemoryError::Corrected, EccCounter::Volatile),
            uncorrected_volatile: ecc(MemoryError::Uncorrected, EccCounter::Volatile),
            corrected_aggregate: ecc(MemoryError::Corrected, EccCounter::Aggregate),
            uncorrected_aggregate: ecc(MemoryError::Uncorrected, EccCounter::Aggregate),
        };
        let f = field_values(
            dev,
            &[
                NVML_FI_DEV_MEMORY_TEMP,
                NVML_FI_DEV_REMAPPED_COR,
                NVML_FI_DEV_REMAPPED_UNC,
                NVML_FI_DEV_REMAPPED_PENDING,
                NVML_FI_DEV_REMAPPED_FAILURE,
            ],
        );
        // GPUs without a memory sensor may answer 0 rather than NotSupported.
        r.memory_temperature_c = f[0].filter(|&t| t > 0).and_then(|t| u32::try_from(t).ok());
        r.remapped_rows = RemappedRows {
            correctable: f[1],
            uncorrectable: f[2],
            pending: f[3].map(|v| v != 0),
            failure: f[4].map(|v| v != 0),
        };
        r.throttle_reasons = dev.current_throttle_reasons().ok().map(|t| t.bits());
        if let Some(set) = &d.events {
            poll_xid(set, &mut d.xid);
            r.xid = Some(d.xid);
        }
        r.nvlinks = d
            .links
            .iter()
            .filter_map(|&l| {
                let link = dev.link_wrapper_for(l);
                let up = link.is_active().ok()?;
                let count = |c| link.error_counter(c).ok();
                let errors = if up {
                    NvLinkErrors {
                        replay: count(ErrorCounter::DlReplay),
                        recovery: count(ErrorCounter::DlRecovery),
                        crc_flit: count(ErrorCounter::DlCrcFlit),
                        crc_data: count(ErrorCounter::DlCrcData),
                    }
                } else {
                    NvLinkErrors::default()
                };
                Some(NvLinkState {
                    link: l,
                    up,
                    errors,
                })
            })
            .collect();
        r.processes = processes_of(dev);
        if let Ok(mode) = dev.mig_mode() {
            let on = mode.current == 1; // NVML_DEVICE_MIG_ENABLE
            r.mig_enabled = Some(on);
            if on {
                if let Some(mig) = &self.mig {
                    r.mig_devices = mig.devices(self.nvml, dev);
                }
            }
        }
        r
    }
}

impl GpuSource for NvmlSource {
    fn gpus(&self) -> &[GpuInfo] {
        &self.infos
    }

    fn read(&mut self, out: &mut Vec<GpuReading>) {
        let mut devices = std::mem::take(&mut self.devices);
        for d in &mut devices {
            out.push(self.read_one(d));
        }
        self.devices = devices;
    }
}

type MaxMigCountFn = unsafe extern "C" fn(*mut c_void, *mut c_uint) -> c_int;
type MigByIndexFn = unsafe extern "C" fn(*mut c_void, c_uint, *mut *mut c_void) -> c_int;
type GpuInstanceIdFn = unsafe extern "C" fn(*mut c_void, *mut c_uint) -> c_int;

/// The NVML MIG calls `nvml-wrapper` 0.11 does not wrap, from the library it
/// loaded. Signatures as in nvml.h (12.x):
///
/// ```c
/// nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count);
/// nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index, nvmlDevice_t *migDevice);
/// nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t device, unsigned int *id);
/// ```
struct MigApi {
    max_count: MaxMigCountFn,
    by_index: MigByIndexFn,
    gpu_instance_id: Option<GpuInstanceIdFn>,
}

// SAFETY: plain function pointers into a library that stays loaded (never dlclosed).
unsafe impl Send for MigApi {}

impl MigApi {
    fn load() -> Option<MigApi> {
        const LIB: &CStr = c"libnvidia-ml.so.1";
        // SAFETY: RTLD_NOLOAD only returns the copy nvml-wrapper has already
        // loaded (never loading another one); the handle is never closed.
        let handle = unsafe { libc::dlopen(LIB.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) };
        if handle.is_null() {
            return None;
        }
        let sym = |name: &CStr| {
            // SAFETY: `handle` is a live dlopen handle and `name` is NUL-terminated.
            let p = unsafe { libc::dlsym(handle, name.as_ptr()) };
            (!p.is_null()).then_some(p)
        };
        let max_count = sym(c"nvmlDeviceGetMaxMigDeviceCount")?;
        let by_index = sym(c"nvmlDeviceGetMigDeviceHandleByIndex")?;
        let gpu_instance_id = sym(c"nvmlDeviceGetGpuInstanceId");
        // SAFETY: the symbols are NVML's C functions with the signatures above.
        unsafe {
            Some(MigApi {
                max_count: std::mem::transmute::<*mut c_void, MaxMigCountFn>(max_count),
                by_index: std::mem::transmute::<*mut c_void, MigByIndexFn>(by_index),
                gpu_instance_id: gpu_instance_id
                    .map(|p| std::mem::transmute::<*mut c_void, GpuInstanceIdFn>(p)),
            })
        }
    }

    /// The MIG devices of `parent` with their memory; empty on any failure.
    fn devices(&self, nvml: &'static Nvml, parent: &Device<'static>) -> Vec<MigReading> {
        let mut out = Vec::new();
        // SAFETY: the raw handle of a live device of the same NVML instance.
        let raw = unsafe { parent.handle() }.cast::<c_void>();
        let mut count: c_uint = 0;
        // SAFETY: valid device handle and out-pointer; NVML_SUCCESS is 0.
        if unsafe { (self.max_count)(raw, &mut count) } != 0 {
            return out;
        }
        for index in 0..count.min(MAX_MIG_DEVICES) {
            let mut mig: *mut c_void = std::ptr::null_mut();
            // SAFETY: as above; an index without a MIG device returns an error.
            if unsafe { (self.by_index)(raw, index, &mut mig) } != 0 || mig.is_null() {
                continue;
            }
            let gpu_instance_id = self.gpu_instance_id.and_then(|f| {
                let mut id: c_uint = 0;
                // SAFETY: `mig` is a MIG device handle NVML just returned.
                (unsafe { f(mig, &mut id) } == 0).then_some(id)
            });
            // SAFETY: NVML's MIG device handles are device handles of the same
            // library instance; the wrapper's safe calls accept them.
            let device = unsafe { Device::new(mig.cast(), nvml) };
            out.push(MigReading {
                index,
                gpu_instance_id,
                memory: memory_of(&device),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use nvml_wrapper::bitmasks::device::ThrottleReasons;

    use super::super::render::THROTTLE_REASONS;

    #[test]
    fn throttle_reason_bits_match_nvml() {
        let want = [
            ("gpu_idle", ThrottleReasons::GPU_IDLE),
            (
                "applications_clocks_setting",
                ThrottleReasons::APPLICATIONS_CLOCKS_SETTING,
            ),
            ("sw_power_cap", ThrottleReasons::SW_POWER_CAP),
            ("hw_slowdown", ThrottleReasons::HW_SLOWDOWN),
            ("sync_boost", ThrottleReasons::SYNC_BOOST),
            ("sw_thermal_slowdown", ThrottleReasons::SW_THERMAL_SLOWDOWN),
            ("hw_thermal_slowdown", ThrottleReasons::HW_THERMAL_SLOWDOWN),
            (
                "hw_power_brake_slowdown",
                ThrottleReasons::HW_POWER_BRAKE_SLOWDOWN,
            ),
            (
                "display_clock_setting",
                ThrottleReasons::DISPLAY_CLOCK_SETTING,
            ),
        ];
        assert_eq!(THROTTLE_REASONS.len(), want.len());
        for (name, bits) in want {
            let got = THROTTLE_REASONS.iter().find(|(n, _)| *n == name).unwrap();
            assert_eq!(got.1, bits.bits(), "{name}");
        }
    }

    #[test]
    fn nvml_absent_gives_no_source() {
        // This machine has no NVIDIA driver: the real init fails quietly.
        if nvml_wrapper::Nvml::init().is_err() {
            assert!(super::NvmlSource::init().is_none());
        }
    }
}
