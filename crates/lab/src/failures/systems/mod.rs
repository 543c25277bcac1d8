//! The monitoring systems under test and their two settings each. Every
//! system is started by the harness on loopback with a generated
//! configuration under a work directory, and killed at the end.
//!
//! ```text
//! argus               health: redis heartbeat 1s + http probe 1s, group_wait 0s
//! prometheus-default  scrape 15s / eval 15s, Alertmanager group_wait 30s
//! prometheus-fast     scrape 1s / eval 1s, group_wait 0s
//! nagios-default      Debian's generic-service (10m / 2m / 3 attempts)
//! nagios-fast         interval_length 1, check_interval 1, max_check_attempts 1
//! zabbix-default      simple check + web scenario every 1m, step timeout 15s
//! zabbix-fast         every 1s, step timeout 1s, Timeout=1, CacheUpdateFrequency=1
//! ```

pub mod argus;
pub mod nagios;
pub mod prometheus;
pub mod zabbix;

use super::fleet::Timing;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Child;

/// One system at one setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// No monitor at all: checks the harness (every failure goes undetected).
    DryRun,
    /// Argus with the agreed `health:` section.
    Argus,
    /// Prometheus + Alertmanager at their defaults.
    PrometheusDefault,
    /// Prometheus + Alertmanager at their most aggressive settings.
    PrometheusFast,
    /// Nagios 4 with Debian's generic-service template.
    NagiosDefault,
    /// Nagios 4 at its most aggressive settings.
    NagiosFast,
    /// Zabbix 6.0 with its default intervals and timeouts.
    ZabbixDefault,
    /// Zabbix 6.0 at its most aggressive settings.
    ZabbixFast,
}

impl Profile {
    /// Name in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Profile::DryRun => "dry-run",
            Profile::Argus => "argus",
            Profile::PrometheusDefault => "prometheus-default",
            Profile::PrometheusFast => "prometheus-fast",
            Profile::NagiosDefault => "nagios-default",
            Profile::NagiosFast => "nagios-fast",
            Profile::ZabbixDefault => "zabbix-default",
            Profile::ZabbixFast => "zabbix-fast",
        }
    }

    /// Hold, cool-down and slow delay for failures against this system. The
    /// hold covers the system's whole chain from failure to notification
    /// (probe or scrape interval + timeout + evaluation + group_wait), so a
    /// working monitor can still see the failure when it notifies; Argus gets
    /// the shortest hold (3× its 1 s interval). The slow delay exceeds the
    /// system's probe timeout.
    pub fn timing(self) -> Timing {
        let s = Duration::from_secs;
        match self {
            Profile::DryRun | Profile::Argus => Timing {
                hold: s(3),
                cooldown: s(3),
                slow: s(2),
            },
            // 1 s scrape + 1 s timeout + 1 s eval + 0 s group_wait.
            Profile::PrometheusFast => Timing {
                hold: s(5),
                cooldown: s(4),
                slow: s(2),
            },
            // 15 s scrape + 10 s timeout + 15 s eval + 30 s group_wait.
            Profile::PrometheusDefault => Timing {
                hold: s(75),
                cooldown: s(35),
                slow: s(12),
            },
            // 1 s check + 1 s timeout + 1 s reaper.
            Profile::NagiosFast => Timing {
                hold: s(5),
                cooldown: s(4),
                slow: s(3),
            },
            // 1 s check + 1 s timeout + 1 s history sync + 3 s escalator + 1 s alert manager.
            Profile::ZabbixFast => Timing {
                hold: s(8),
                cooldown: s(5),
                slow: s(3),
            },
            // 1 min interval + 15 s step timeout + the same ≈ 5 s of processing.
            // The cool-down covers Zabbix's recovery (next check ≤ 1 min + 15 s):
            // a trigger still in PROBLEM makes no new event for the next failure.
            Profile::ZabbixDefault => Timing {
                hold: s(90),
                cooldown: s(80),
                slow: s(20),
            },
            // 10 min check interval + 2 retries × 2 min, plus a check's 10 s timeout.
            Profile::NagiosDefault => Timing {
                hold: s(15 * 60),
                cooldown: s(4 * 60),
                slow: s(15),
            },
        }
    }

    /// Time after start before the quiet phase (first scrapes, first checks).
    pub fn warmup(self) -> Duration {
        match self {
            Profile::DryRun => Duration::ZERO,
            // Zabbix's start waits for every check's first value.
            Profile::Argus
            | Profile::PrometheusFast
            | Profile::NagiosFast
            | Profile::ZabbixFast
            | Profile::ZabbixDefault => Duration::from_secs(5),
            Profile::PrometheusDefault => Duration::from_secs(35),
            Profile::NagiosDefault => Duration::from_secs(90),
        }
    }

    /// How long to wait after the last failure for late notifications.
    pub fn drain(self) -> Duration {
        match self {
            Profile::DryRun | Profile::Argus | Profile::PrometheusFast => Duration::from_secs(5),
            Profile::NagiosFast | Profile::ZabbixFast => Duration::from_secs(10),
            Profile::ZabbixDefault => Duration::from_secs(30),
            // A new alert in an existing Alertmanager group waits for group_interval (5m).
            Profile::PrometheusDefault => Duration::from_secs(330),
            Profile::NagiosDefault => Duration::from_secs(120),
        }
    }

    /// Backwards tolerance of alert start times (Nagios and Zabbix report whole seconds).
    pub fn tolerance_ms(self) -> i64 {
        match self {
            Profile::NagiosDefault
            | Profile::NagiosFast
            | Profile::ZabbixDefault
            | Profile::ZabbixFast => 1000,
            _ => 200,
        }
    }
}

/// What a system needs to know about the services and the receiver.
#[derive(Debug, Clone)]
pub struct Target {
    /// (name, port, heartbeat key) of each service.
    pub services: Vec<(String, u16, String)>,
    /// Redis host:port.
    pub redis: String,
    /// Port of the harness's webhook receiver.
    pub receiver_port: u16,
    /// A fresh directory for this system's files.
    pub work: PathBuf,
    /// The argus binary (`argus server` is the system under test).
    pub exe: PathBuf,
    /// Install missing Debian packages with apt-get.
    pub install: bool,
}

/// A started system.
pub struct Running {
    /// Its processes (killed on drop).
    pub children: Vec<Child>,
    /// The settings, in words, for the table header.
    pub settings: String,
}

impl Running {
    /// Pids of the monitoring processes (roots of the sampled trees).
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().filter_map(Child::id).collect()
    }

    /// Kills every process and waits for it.
    pub async fn stop(mut self) {
        for c in &mut self.children {
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
    }

    /// Fails when a process has exited (names its log file).
    pub fn check_alive(&mut self, work: &Path) -> anyhow::Result<()> {
        for c in &mut self.children {
            if let Ok(Some(st)) = c.try_wait() {
                anyhow::bail!(
                    "a monitoring process exited ({st}); see the logs in {}",
                    work.display()
                );
            }
        }
        Ok(())
    }
}

/// Starts `p` against `t`.
pub async fn start(p: Profile, t: &Target) -> anyhow::Result<Running> {
    std::fs::create_dir_all(&t.work).with_context(|| format!("mkdir {}", t.work.display()))?;
    match p {
        Profile::DryRun => Ok(Running {
            children: Vec::new(),
            settings: "no monitor (harness check)".into(),
        }),
        Profile::Argus => argus::start(t).await,
        Profile::PrometheusDefault => prometheus::start(t, false).await,
        Profile::PrometheusFast => prometheus::start(t, true).await,
        Profile::NagiosDefault => nagios::start(t, false).await,
        Profile::NagiosFast => nagios::start(t, true).await,
        Profile::ZabbixDefault => zabbix::start(t, false).await,
        Profile::ZabbixFast => zabbix::start(t, true).await,
    }
}

/// A free loopback port.
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("bind an ephemeral port")?;
    Ok(l.local_addr()?.port())
}

/// Status code of `GET path` on 127.0.0.1:port, or None.
pub async fn http_status(port: u16, path: &str) -> Option<u16> {
    let req = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        Ok::<Vec<u8>, std::io::Error>(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(2), req)
        .await
        .ok()?
        .ok()?;
    let head = String::from_utf8_lossy(&buf[..buf.len().min(64)]).to_string();
    head.split_whitespace().nth(1)?.parse().ok()
}

/// Waits until `GET path` answers 200, or fails after `limit`.
pub async fn wait_ready(port: u16, path: &str, limit: Duration, what: &str) -> anyhow::Result<()> {
    let t0 = tokio::time::Instant::now();
    while http_status(port, path).await != Some(200) {
        anyhow::ensure!(
            t0.elapsed() < limit,
            "{what} not ready on port {port} within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Spawns `cmd args` with stdout and stderr into `log`.
pub fn spawn_logged(cmd: &Path, args: &[String], log: &Path) -> anyhow::Result<Child> {
    let f = std::fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
    let f2 = f.try_clone()?;
    tokio::process::Command::new(cmd)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(f)
        .stderr(f2)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", cmd.display()))
}

/// Finds `bin` on PATH (or an absolute path); installs `packages` with
/// apt-get when missing and `install` is set, printing what it does.
pub fn need_binary(bin: &str, packages: &[&str], install: bool) -> anyhow::Result<PathBuf> {
    let find = || {
        let p = Path::new(bin);
        if p.is_absolute() {
            return p.is_file().then(|| p.to_path_buf());
        }
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(bin))
                .find(|c| c.is_file())
        })
    };
    if let Some(p) = find() {
        return Ok(p);
    }
    anyhow::ensure!(
        install,
        "{bin} not found; install {} (or drop --no-install)",
        packages.join(" ")
    );
    println!("installing {} with apt-get (for {bin})", packages.join(" "));
    let st = std::process::Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("cannot run apt-get")?;
    anyhow::ensure!(
        st.success(),
        "apt-get install {} failed ({st})",
        packages.join(" ")
    );
    find().with_context(|| {
        format!(
            "{bin} still not found after installing {}",
            packages.join(" ")
        )
    })
}
