//! Restarting a process that is not a systemd unit: found the way the
//! health checks' process probes find it (by name, or by pid file), asked
//! to stop with SIGTERM (SIGKILL when it does not), started again with an
//! allowlisted command, and watched until it runs again.
//!
//! ```
//! use argus_recover::process::{pids, Which};
//! let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
//! let dir = tempfile::tempdir().unwrap();
//! let file = dir.path().join("sleep.pid");
//! std::fs::write(&file, child.id().to_string()).unwrap();
//! assert_eq!(pids(&Which::new(None, Some(&file)).unwrap()), vec![child.id()]);
//! child.kill().unwrap();
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How the process is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    /// Its `comm` (cut at 15 bytes by the kernel) or the file name of its `argv[0]`.
    Name(String),
    /// The pid written in this file.
    PidFile(PathBuf),
}

impl Which {
    /// From a step's `process` or `pid_file`.
    pub fn new(name: Option<&str>, pid_file: Option<&Path>) -> Result<Which, String> {
        match (name, pid_file) {
            (Some(n), None) if !n.is_empty() => Ok(Which::Name(n.to_string())),
            (None, Some(p)) => Ok(Which::PidFile(p.to_path_buf())),
            _ => Err("a process restart needs a process name or a pid file".into()),
        }
    }

    fn describe(&self) -> String {
        match self {
            Which::Name(n) => format!("process {n}"),
            Which::PidFile(p) => format!("the process in {}", p.display()),
        }
    }
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

fn named(pid: u32, name: &str) -> bool {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if name.len() <= 15 && comm.trim_end_matches('\n') == name {
        return true;
    }
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let argv0 = cmd.split(|&b| b == 0).next().unwrap_or(&[]);
    argv0.rsplit(|&b| b == b'/').next().unwrap_or(argv0) == name.as_bytes()
}

/// The live processes `which` names (never Argus itself).
pub fn pids(which: &Which) -> Vec<u32> {
    let me = std::process::id();
    let found: Vec<u32> = match which {
        Which::PidFile(p) => std::fs::read_to_string(p)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .into_iter()
            .collect(),
        Which::Name(n) => std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| named(pid, n))
            .collect(),
    };
    found.into_iter().filter(|&p| p != me && alive(p)).collect()
}

fn signal(pid: u32, sig: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) with a positive pid only sends a signal; it touches no
    // memory of ours. An error (the process already gone) is what we want.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// What starts the process again: executable, arguments, directory, environment.
pub type Start = (
    PathBuf,
    Vec<String>,
    Option<PathBuf>,
    BTreeMap<String, String>,
);

/// Stops every process `which` names (SIGTERM; SIGKILL after half of
/// `timeout`), runs `start` (left running, in its own session of output:
/// none), and waits, within `timeout`, until a process `which` names runs
/// again. `Ok` says which pids went and which came.
pub async fn restart(
    which: &Which,
    start: Option<Start>,
    timeout: Duration,
) -> Result<String, String> {
    let t0 = Instant::now();
    let old = pids(which);
    for &p in &old {
        signal(p, libc::SIGTERM);
    }
    let grace = timeout / 2;
    while old.iter().any(|&p| alive(p)) {
        if t0.elapsed() >= grace {
            for &p in old.iter().filter(|&&p| alive(p)) {
                signal(p, libc::SIGKILL);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if let Some(p) = old.iter().find(|&&p| alive(p)) {
        return Err(format!("{} (pid {p}) did not stop", which.describe()));
    }
    if let Some((path, args, dir, vars)) = start {
        let mut c = std::process::Command::new(&path);
        c.args(&args)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("LANG", "C.UTF-8")
            .envs(&vars)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(d) = &dir {
            c.current_dir(d);
        }
        let child = c
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
        // Reaped by a thread of its own, so it never lingers as a zombie.
        std::thread::spawn(move || {
            let mut child = child;
            let _ = child.wait();
        });
    }
    loop {
        let now = pids(which);
        let new: Vec<u32> = now.iter().copied().filter(|p| !old.contains(p)).collect();
        if !new.is_empty() {
            return Ok(format!(
                "{}: stopped {:?}, running again as {:?}",
                which.describe(),
                old,
                new
            ));
        }
        if t0.elapsed() >= timeout {
            return Err(format!(
                "{} did not run again within {} s (stopped {:?})",
                which.describe(),
                timeout.as_secs(),
                old
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
