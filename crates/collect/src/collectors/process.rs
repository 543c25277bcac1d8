//! Process table: the top N processes by CPU and by resident memory, and
//! named service processes, from `/proc/<pid>/stat` (and `cmdline` when a
//! service matches on it).
//!
//! Walking every pid costs CPU, so the table is refreshed at most once per
//! `interval_ms` (by the injected clock); gathers in between serve the cached
//! families. CPU ratio is CPU seconds per wall second since the previous
//! refresh (1.0 = one core busy); a process seen for the first time is rated
//! over its lifetime (or the interval, whichever is shorter).
//! Cardinality is bounded: at most `2 × top_n` process series per metric.
//!
//! ```
//! use std::sync::Arc;
//! use argus_collect::collectors::{process::{ProcessCollector, ServiceConfig}, Collector};
//! use argus_model::ManualClock;
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::create_dir_all(dir.path().join("7")).unwrap();
//! std::fs::write(dir.path().join("uptime"), "1000.0 5.0\n").unwrap();
//! std::fs::write(dir.path().join("7/stat"), "7 (sshd) S 1 7 7 0 -1 0 0 0 0 0 100 50 0 0 20 0 1 0 500 0 10\n").unwrap();
//! let svc = vec![ServiceConfig { name: "ssh".into(), comm: Some("sshd".into()), cmdline: None }];
//! let mut c = ProcessCollector::new(dir.path(), 10, 15_000, svc, Arc::new(ManualClock::new(0)));
//! let mut out = Vec::new();
//! c.collect(&mut out).unwrap();
//! assert!(out.iter().any(|f| f.name == "argus_service_process_up" && f.samples[0].value == 1.0));
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use argus_model::Clock;
use serde::{Deserialize, Serialize};

use super::{fields, parse_f64, parse_u64, read_into, Collector};
use crate::expose::{MetricFamily, MetricKind};
use crate::CollectError;

const HZ: f64 = 100.0;

/// A named service, present when at least one process matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// The `service` label value.
    pub name: String,
    /// Matches a process whose `comm` (first 15 bytes of the executable name) equals this.
    #[serde(default)]
    pub comm: Option<String>,
    /// Matches a process whose command line (arguments joined by spaces) contains this.
    #[serde(default)]
    pub cmdline: Option<String>,
}

#[derive(Debug, Clone)]
struct Proc {
    pid: u32,
    comm: String,
    cpu_secs: f64,
    ratio: f64,
    rss: f64,
}

/// Reads the process table at most once per interval.
#[derive(Debug)]
pub struct ProcessCollector {
    root: PathBuf,
    top_n: usize,
    interval_ms: i64,
    services: Vec<ServiceConfig>,
    clock: Arc<dyn Clock>,
    page_size: f64,
    /// pid → (starttime, total ticks) at the previous refresh.
    prev: HashMap<u32, (u64, u64)>,
    prev_ms: Option<i64>,
    /// pid → (starttime, command line): read once per process lifetime.
    cmdlines: HashMap<u32, (u64, String)>,
    cached: Vec<MetricFamily>,
    buf: Vec<u8>,
}

impl ProcessCollector {
    /// A collector reading under `procfs_root`.
    pub fn new(
        procfs_root: &Path,
        top_n: usize,
        interval_ms: i64,
        services: Vec<ServiceConfig>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        // SAFETY: sysconf has no preconditions; a failure returns -1, handled below.
        let ps = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        ProcessCollector {
            root: procfs_root.to_path_buf(),
            top_n,
            interval_ms,
            services,
            clock,
            page_size: if ps > 0 { ps as f64 } else { 4096.0 },
            prev: HashMap::new(),
            prev_ms: None,
            cmdlines: HashMap::new(),
            cached: Vec::new(),
            buf: Vec::with_capacity(1024),
        }
    }

    fn cmdline(&mut self, pid: u32, start: u64) -> &str {
        let stale = !matches!(self.cmdlines.get(&pid), Some((s, _)) if *s == start);
        if stale {
            let mut cl = String::new();
            if read_into(
                &self.root.join(pid.to_string()).join("cmdline"),
                &mut self.buf,
            )
            .is_ok()
            {
                let b: Vec<u8> = self
                    .buf
                    .iter()
                    .map(|&c| if c == 0 { b' ' } else { c })
                    .collect();
                cl = String::from_utf8_lossy(b.trim_ascii_end()).into_owned();
            }
            self.cmdlines.insert(pid, (start, cl));
        }
        self.cmdlines
            .get(&pid)
            .map(|(_, c)| c.as_str())
            .unwrap_or("")
    }

    fn refresh(&mut self, now_ms: i64) -> Result<(), CollectError> {
        let uptime = read_into(&self.root.join("uptime"), &mut self.buf)
            .ok()
            .and_then(|_| fields(&self.buf).next().and_then(parse_f64));
        let dt = self
            .prev_ms
            .map(|p| (now_ms - p) as f64 / 1000.0)
            .filter(|d| *d > 0.0);
        let dir = std::fs::read_dir(&self.root).map_err(|e| CollectError::io(&self.root, e))?;
        let mut procs: Vec<Proc> = Vec::with_capacity(self.prev.len() + 16);
        let mut next: HashMap<u32, (u64, u64)> = HashMap::with_capacity(self.prev.len() + 16);
        let mut counts = vec![0u32; self.services.len()];
        let mut path = PathBuf::new();
        let services = std::mem::take(&mut self.services);
        for ent in dir.flatten() {
            let name = ent.file_name();
            let Some(pid) = name.to_str().and_then(|s| parse_u64(s.as_bytes())) else {
                continue;
            };
            let pid = pid as u32;
            path.clone_from(&self.root);
            path.push(&name);
            path.push("stat");
            if read_into(&path, &mut self.buf).is_err() {
                continue; // exited meanwhile
            }
            let Some((comm, utime, stime, start, rss)) = parse_stat(&self.buf) else {
                continue;
            };
            let ticks = utime + stime;
            let cpu_secs = ticks as f64 / HZ;
            let ratio = match (self.prev.get(&pid), dt) {
                (Some(&(s, t)), Some(dt)) if s == start => ticks.saturating_sub(t) as f64 / HZ / dt,
                _ => {
                    let age = uptime.map(|u| u - start as f64 / HZ).unwrap_or(0.0);
                    let span = match dt {
                        Some(dt) => age.min(dt),
                        None => age,
                    };
                    if span > 0.0 {
                        cpu_secs / span
                    } else {
                        0.0
                    }
                }
            };
            next.insert(pid, (start, ticks));
            let comm = comm.to_string();
            for (svc, n) in services.iter().zip(counts.iter_mut()) {
                let hit = svc
                    .comm
                    .as_deref()
                    .is_some_and(|c| c.get(..15).unwrap_or(c) == comm)
                    || svc
                        .cmdline
                        .as_deref()
                        .is_some_and(|pat| self.cmdline(pid, start).contains(pat));
                if hit {
                    *n += 1;
                }
            }
            procs.push(Proc {
                pid,
                comm,
                cpu_secs,
                ratio,
                rss: rss as f64 * self.page_size,
            });
        }
        self.services = services;
        self.cmdlines.retain(|pid, _| next.contains_key(pid));
        self.prev = next;
        self.prev_ms = Some(now_ms);

        let mut cpu_s = MetricFamily::new(
            "argus_process_cpu_seconds_total",
            "CPU time (user + system) of a top process, in seconds.",
            MetricKind::Counter,
        );
        let mut rss = MetricFamily::new(
            "argus_process_resident_memory_bytes",
            "Resident memory of a top process, in bytes.",
            MetricKind::Gauge,
        );
        let mut ratio = MetricFamily::new(
            "argus_process_cpu_ratio",
            "CPU seconds per second of a top process since the previous refresh (1 = one core).",
            MetricKind::Gauge,
        );
        for rank_by in ["cpu", "memory"] {
            if rank_by == "cpu" {
                procs.sort_unstable_by(|a, b| {
                    b.ratio
                        .total_cmp(&a.ratio)
                        .then(b.cpu_secs.total_cmp(&a.cpu_secs))
                });
            } else {
                procs.sort_unstable_by(|a, b| b.rss.total_cmp(&a.rss));
            }
            for p in procs.iter().take(self.top_n) {
                let l = vec![
                    ("pid", p.pid.to_string()),
                    ("comm", p.comm.clone()),
                    ("rank_by", rank_by.to_string()),
                ];
                cpu_s.push_owned(l.clone(), p.cpu_secs);
                rss.push_owned(l.clone(), p.rss);
                ratio.push_owned(l, p.ratio);
            }
        }
        let mut up = MetricFamily::new(
            "argus_service_process_up",
            "1 if at least one process of the named service is running, 0 otherwise.",
            MetricKind::Gauge,
        );
        let mut count = MetricFamily::new(
            "argus_service_process_count",
            "Number of running processes matching the named service.",
            MetricKind::Gauge,
        );
        for (s, n) in self.services.iter().zip(counts) {
            up.push(&[("service", &s.name)], if n > 0 { 1.0 } else { 0.0 });
            count.push(&[("service", &s.name)], f64::from(n));
        }
        self.cached = vec![cpu_s, rss, ratio, up, count];
        Ok(())
    }
}

/// Parses `/proc/<pid>/stat`: (comm, utime, stime, starttime, rss pages).
/// The comm may contain spaces and parentheses, so it ends at the last `)`.
fn parse_stat(b: &[u8]) -> Option<(&str, u64, u64, u64, u64)> {
    let open = b.iter().position(|&c| c == b'(')?;
    let close = b.iter().rposition(|&c| c == b')')?;
    if close < open {
        return None;
    }
    let comm = std::str::from_utf8(&b[open + 1..close]).ok()?;
    // Fields after ")": index 0 is field 3 (state).
    let mut it = fields(&b[close + 1..]);
    let utime = parse_u64(it.nth(11)?)?;
    let stime = parse_u64(it.next()?)?;
    let start = parse_u64(it.nth(6)?)?;
    let rss = it.nth(1).and_then(parse_u64).unwrap_or(0);
    Some((comm, utime, stime, start, rss))
}

impl Collector for ProcessCollector {
    fn name(&self) -> &'static str {
        "process"
    }

    fn collect(&mut self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let now = self.clock.now_ms();
        let due = self
            .prev_ms
            .is_none_or(|p| now - p >= self.interval_ms || now < p);
        if due {
            self.refresh(now)?;
        }
        out.extend(self.cached.iter().cloned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_model::ManualClock;

    fn write_proc(root: &Path, pid: u32, comm: &str, ticks: u64, start: u64, rss: u64, cmd: &str) {
        let d = root.join(pid.to_string());
        std::fs::create_dir_all(&d).unwrap();
        let stat = format!(
            "{pid} ({comm}) S 1 1 1 0 -1 0 0 0 0 0 {ticks} 0 0 0 20 0 1 0 {start} 1000 {rss} 0 0\n"
        );
        std::fs::write(d.join("stat"), stat).unwrap();
        std::fs::write(d.join("cmdline"), cmd.replace(' ', "\0")).unwrap();
    }

    #[test]
    fn ranks_by_cpu_delta_and_rss_and_caches_between_intervals() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::write(r.join("uptime"), "100.00 50.00\n").unwrap();
        write_proc(r, 1, "init", 1000, 0, 100, "/sbin/init");
        write_proc(
            r,
            20,
            "my (weird) app",
            10,
            5000,
            5000,
            "/usr/bin/app --serve",
        );
        write_proc(r, 30, "idle", 0, 9000, 1, "");
        std::fs::create_dir_all(r.join("40")).unwrap();
        std::fs::write(r.join("40/stat"), "40 (trunc) S 1 2").unwrap();
        std::fs::create_dir_all(r.join("self")).unwrap();
        let clock = Arc::new(ManualClock::new(1_000_000));
        let svc = vec![
            ServiceConfig {
                name: "app".into(),
                comm: None,
                cmdline: Some("--serve".into()),
            },
            ServiceConfig {
                name: "db".into(),
                comm: Some("postgres".into()),
                cmdline: None,
            },
        ];
        let mut c = ProcessCollector::new(r, 2, 15_000, svc, clock.clone());
        let mut out = Vec::new();
        c.collect(&mut out).unwrap();
        let f = |out: &[MetricFamily], n: &str| out.iter().find(|f| f.name == n).unwrap().clone();
        let cpu = f(&out, "argus_process_cpu_seconds_total");
        assert_eq!(cpu.samples.len(), 4, "top 2 by cpu + top 2 by memory");
        assert_eq!(
            cpu.samples[0].labels[1].1, "init",
            "first gather: lifetime ratio"
        );
        let rss = f(&out, "argus_process_resident_memory_bytes");
        assert_eq!(rss.samples[2].labels[1].1, "my (weird) app");
        assert_eq!(rss.samples[2].labels[2].1, "memory");
        assert_eq!(rss.samples[2].value, 5000.0 * c.page_size);
        let up = f(&out, "argus_service_process_up");
        assert_eq!((up.samples[0].value, up.samples[1].value), (1.0, 0.0));

        // pid 20 burns 10 s of CPU in 10 s of wall time; cached until the interval passes.
        write_proc(
            r,
            20,
            "my (weird) app",
            1010,
            5000,
            5000,
            "/usr/bin/app --serve",
        );
        clock.advance(10_000);
        out.clear();
        c.collect(&mut out).unwrap();
        assert_eq!(
            f(&out, "argus_process_cpu_ratio").samples[0].labels[1].1,
            "init"
        );
        clock.advance(5_000);
        out.clear();
        c.collect(&mut out).unwrap();
        let ratio = f(&out, "argus_process_cpu_ratio");
        assert_eq!(ratio.samples[0].labels[1].1, "my (weird) app");
        assert!((ratio.samples[0].value - 10.0 / 15.0).abs() < 1e-9);
    }

    #[test]
    fn stat_parser_survives_junk() {
        assert!(parse_stat(b"").is_none());
        assert!(parse_stat(b"1 (x").is_none());
        assert!(parse_stat(b"1 )x( S").is_none());
        assert!(parse_stat(b"1 (x) S 1 2 3").is_none());
        let ok = parse_stat(b"1 (a b) S 1 1 1 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 99").unwrap();
        assert_eq!(ok, ("a b", 7, 3, 99, 0));
    }

    #[test]
    fn missing_proc_dir_is_an_error_not_a_panic() {
        let mut c = ProcessCollector::new(
            Path::new("/nonexistent/argus"),
            3,
            1,
            vec![],
            Arc::new(ManualClock::new(0)),
        );
        assert!(c.collect(&mut Vec::new()).is_err());
    }
}
