//! CPU, RSS and PSS of the monitoring processes, from `/proc`. The monitored set is
//! the given root pids and all their descendants (Nagios's workers and the
//! check plugins they fork). CPU is utime+stime of every live process plus
//! cutime+cstime (its reaped children), so a short-lived plugin is counted
//! once, in its parent, after it exits.
//!
//! Memory is reported two ways. RSS summed over processes counts a page once
//! per process that maps it, which overstates systems of many processes sharing
//! memory (Zabbix's ≈ 100 forks). PSS (`/proc/PID/smaps_rollup`) divides each
//! shared page among the processes mapping it, so the sum over the tree is the
//! tree's real share of memory; it is the fairer comparison across systems and
//! the one the report puts first.
//!
//! ```text
//! sampler = Sampler::start(vec![prometheus_pid, alertmanager_pid]);
//! ... later ...
//! let fig = sampler.between(t0_ms, t1_ms);   // mean CPU % of one core, mean RSS MiB
//! ```

use argus_model::Clock;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One sample of the whole process tree.
#[derive(Debug, Clone, Copy)]
struct Sample {
    t_ms: i64,
    ticks: u64,
    rss_kb: u64,
    pss_kb: u64,
}

/// Mean CPU and RSS over an interval.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Usage {
    /// Mean CPU, percent of one core.
    pub cpu_pct: f64,
    /// Mean resident set size summed over the processes, MiB.
    pub rss_mib: f64,
    /// Mean proportional set size summed over the processes, MiB.
    pub pss_mib: f64,
    /// Samples used.
    pub samples: usize,
}

/// Samples the tree once per second on the blocking pool.
pub struct Sampler {
    samples: Arc<Mutex<Vec<Sample>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    /// Starts sampling `roots` and their descendants.
    pub fn start(roots: Vec<u32>, clock: Arc<dyn Clock>) -> Sampler {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let out = samples.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let roots = roots.clone();
                let Ok(Some((ticks, rss_kb, pss_kb))) =
                    tokio::task::spawn_blocking(move || tree_usage(&roots)).await
                else {
                    continue;
                };
                if let Ok(mut v) = out.lock() {
                    v.push(Sample {
                        t_ms: clock.now_ms(),
                        ticks,
                        rss_kb,
                        pss_kb,
                    });
                }
            }
        });
        Sampler { samples, task }
    }

    /// Mean CPU and RSS over `[from_ms, to_ms]`.
    pub fn between(&self, from_ms: i64, to_ms: i64) -> Usage {
        let v: Vec<Sample> = self
            .samples
            .lock()
            .map(|v| {
                v.iter()
                    .copied()
                    .filter(|s| s.t_ms >= from_ms && s.t_ms <= to_ms)
                    .collect()
            })
            .unwrap_or_default();
        usage(&v, clk_tck())
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn usage(v: &[Sample], hz: f64) -> Usage {
    let (Some(a), Some(b)) = (v.first(), v.last()) else {
        return Usage::default();
    };
    let dt = (b.t_ms - a.t_ms) as f64 / 1000.0;
    let cpu_pct = if dt > 0.0 {
        100.0 * (b.ticks.saturating_sub(a.ticks)) as f64 / hz / dt
    } else {
        0.0
    };
    Usage {
        cpu_pct,
        rss_mib: v.iter().map(|s| s.rss_kb as f64).sum::<f64>() / v.len() as f64 / 1024.0,
        pss_mib: v.iter().map(|s| s.pss_kb as f64).sum::<f64>() / v.len() as f64 / 1024.0,
        samples: v.len(),
    }
}

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no memory effects; a non-positive answer falls back to 100.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

/// (ppid, ticks incl. reaped children, rss kB) of one pid.
fn proc_stat(pid: u32) -> Option<(u32, u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state): ppid = field 4, utime..cstime = fields 14..17.
    let num = |i: usize| f.get(i - 3).and_then(|x| x.parse::<u64>().ok());
    let ticks = num(14)? + num(15)? + num(16)? + num(17)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|x| x.split_whitespace().next())
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    Some((num(4)? as u32, ticks, rss))
}

/// (RSS, PSS) in kB of one pid from one read of `smaps_rollup`, which walks the
/// page tables, so PSS ≤ RSS holds. `VmRSS` in `status` is a per-mm counter that
/// may lag behind a busy process, so it is only the fallback when `smaps_rollup`
/// is unreadable (then PSS is 0; also 0/0 when the process just exited).
fn mem_kb(pid: u32, vm_rss: u64) -> (u64, u64) {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
        return (vm_rss, 0);
    };
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|x| x.split_whitespace().next())
            .and_then(|x| x.parse::<u64>().ok())
    };
    match (field("Rss:"), field("Pss:")) {
        (Some(r), Some(p)) => (r, p),
        _ => (vm_rss, 0),
    }
}

/// Sum of ticks, RSS and PSS over `roots` and their live descendants.
fn tree_usage(roots: &[u32]) -> Option<(u64, u64, u64)> {
    let mut all: HashMap<u32, (u32, u64, u64)> = HashMap::new();
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
            if let Some(s) = proc_stat(pid) {
                all.insert(pid, s);
            }
        }
    }
    let mut set: HashSet<u32> = roots
        .iter()
        .copied()
        .filter(|p| all.contains_key(p))
        .collect();
    if set.is_empty() {
        return None;
    }
    loop {
        let before = set.len();
        for (pid, (ppid, _, _)) in &all {
            if set.contains(ppid) {
                set.insert(*pid);
            }
        }
        if set.len() == before {
            break;
        }
    }
    Some(set.iter().fold((0, 0, 0), |(t, r, s), p| {
        let (_, ticks, vm_rss) = all[p];
        let (rss, pss) = mem_kb(*p, vm_rss);
        (t + ticks, r + rss, s + pss)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_tick_delta_over_wall_time() {
        let v = [
            Sample {
                t_ms: 0,
                ticks: 100,
                rss_kb: 1024,
                pss_kb: 512,
            },
            Sample {
                t_ms: 10_000,
                ticks: 150,
                rss_kb: 3072,
                pss_kb: 1536,
            },
        ];
        let u = usage(&v, 100.0);
        assert!((u.cpu_pct - 5.0).abs() < 1e-9);
        assert!((u.rss_mib - 2.0).abs() < 1e-9);
        assert!((u.pss_mib - 1.0).abs() < 1e-9);
        assert_eq!(usage(&[], 100.0).samples, 0);
    }

    #[test]
    fn reads_this_process() {
        let (t, rss, pss) = tree_usage(&[std::process::id()]).expect("own /proc entry");
        assert!(rss > 0);
        assert!(pss > 0 && pss <= rss, "pss {pss} kB, rss {rss} kB");
        let _ = t;
    }
}
