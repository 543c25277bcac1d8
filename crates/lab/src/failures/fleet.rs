//! The harness side of the services: start M of them, inject one failure into
//! one service and restore it, and check health directly.
//!
//! ```text
//! let mut fleet = Fleet::start(&FleetOptions { services: 50, .. }).await?;
//! let svc = fleet.take(7);                       // exclusive while failing
//! let (svc, rec) = inject(svc, Kind::Hang, &timing, group, &clock).await;
//! fleet.put(svc);
//! ```

use super::analysis::{Injected, Kind};
use anyhow::Context;
use argus_model::Clock;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// How one failure is held and when its window closes (per monitored system).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Timing {
    /// How long the failure lasts.
    pub hold: Duration,
    /// After restore (service healthy again), how long the service stays
    /// unpicked and its window stays open.
    pub cooldown: Duration,
    /// Response delay in slow mode (beyond the monitor's probe timeout).
    pub slow: Duration,
}

/// How to start the services.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Number of services.
    pub services: usize,
    /// First port; service i listens on base_port + i.
    pub base_port: u16,
    /// Redis host:port for heartbeats.
    pub redis: String,
    /// Prefix of the heartbeat keys (`<prefix>svc-01`).
    pub key_prefix: String,
    /// Heartbeat interval.
    pub heartbeat: Duration,
    /// Slow-mode delay.
    pub slow: Duration,
    /// The argus-lab binary (re-executed with `failures --serve-one`).
    pub exe: PathBuf,
}

/// One running service.
pub struct Svc {
    /// `svc-01`, ...
    pub name: String,
    /// Its port.
    pub port: u16,
    /// Its heartbeat key.
    pub key: String,
    child: Child,
    opts: Arc<FleetOptions>,
}

impl Svc {
    async fn spawn(
        name: String,
        port: u16,
        key: String,
        opts: Arc<FleetOptions>,
    ) -> anyhow::Result<Svc> {
        let child = Command::new(&opts.exe)
            .args(["failures", "--serve-one"])
            .arg("--port")
            .arg(port.to_string())
            .arg("--key")
            .arg(&key)
            .arg("--redis")
            .arg(&opts.redis)
            .arg("--heartbeat-ms")
            .arg(opts.heartbeat.as_millis().to_string())
            .arg("--slow-ms")
            .arg(opts.slow.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start service {name} ({})", opts.exe.display()))?;
        Ok(Svc {
            name,
            port,
            key,
            child,
            opts,
        })
    }

    /// The process id (None once reaped).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn control(&mut self, line: &str) -> anyhow::Result<()> {
        let stdin = self
            .child
            .stdin
            .as_mut()
            .with_context(|| format!("service {} has no control pipe", self.name))?;
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .with_context(|| format!("control line {line:?} to service {}", self.name))?;
        stdin.flush().await?;
        Ok(())
    }

    fn signal(&self, sig: i32) -> anyhow::Result<()> {
        let pid = self
            .pid()
            .with_context(|| format!("service {} is not running", self.name))?;
        // SAFETY: kill(2) on a pid we spawned and have not reaped; no memory is shared.
        let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
        anyhow::ensure!(
            rc == 0,
            "kill({pid}, {sig}) failed: {}",
            std::io::Error::last_os_error()
        );
        Ok(())
    }

    /// Waits until `GET /health` answers `ok` (each try 300 ms), up to `limit`.
    pub async fn wait_healthy(&self, limit: Duration) -> anyhow::Result<()> {
        let t0 = tokio::time::Instant::now();
        loop {
            if health_ok(self.port, Duration::from_millis(300)).await {
                return Ok(());
            }
            anyhow::ensure!(
                t0.elapsed() < limit,
                "service {} (port {}) not healthy within {limit:?}",
                self.name,
                self.port
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// True when `GET /health` on the port answers 200 with body `ok` within `limit`.
pub async fn health_ok(port: u16, limit: Duration) -> bool {
    let probe = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        s.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        Ok::<bool, std::io::Error>(buf.starts_with(b"HTTP/1.1 200") && buf.ends_with(b"ok"))
    };
    matches!(tokio::time::timeout(limit, probe).await, Ok(Ok(true)))
}

/// All services; a failing one is taken out of its slot until restored.
pub struct Fleet {
    slots: Vec<Option<Svc>>,
    opts: Arc<FleetOptions>,
}

impl Fleet {
    /// Starts every service and waits until all are healthy.
    pub async fn start(o: FleetOptions) -> anyhow::Result<Fleet> {
        let o = Arc::new(o);
        let mut slots = Vec::with_capacity(o.services);
        for i in 0..o.services {
            let name = service_name(i);
            let port = o
                .base_port
                .checked_add(i as u16)
                .context("--base-port + --services exceeds 65535")?;
            let key = format!("{}{}", o.key_prefix, name);
            slots.push(Some(Svc::spawn(name, port, key, o.clone()).await?));
        }
        for s in slots.iter().flatten() {
            s.wait_healthy(Duration::from_secs(20)).await?;
        }
        Ok(Fleet { slots, opts: o })
    }

    /// Names, ports and heartbeat keys of all services.
    pub fn specs(&self) -> Vec<(String, u16, String)> {
        (0..self.slots.len())
            .map(|i| {
                let name = service_name(i);
                let key = format!("{}{}", self.opts.key_prefix, name);
                (name, self.opts.base_port + i as u16, key)
            })
            .collect()
    }

    /// Indexes of the services not currently failing.
    pub fn idle(&self) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|&i| self.slots[i].is_some())
            .collect()
    }

    /// Takes service `i` out (None if it is failing already).
    pub fn take(&mut self, i: usize) -> Option<Svc> {
        self.slots.get_mut(i).and_then(Option::take)
    }

    /// Puts a restored service back in its slot.
    pub fn put(&mut self, s: Svc) {
        let i = s.port.saturating_sub(s.opts.base_port) as usize;
        if let Some(slot) = self.slots.get_mut(i) {
            *slot = Some(s);
        }
    }
}

/// `svc-01` … (two digits at least).
pub fn service_name(i: usize) -> String {
    format!("svc-{:02}", i + 1)
}

/// Injects `kind` into `svc`, holds it, restores, waits until healthy, then
/// waits the cool-down; returns the service and the record.
pub async fn inject(
    mut svc: Svc,
    kind: Kind,
    t: Timing,
    group: usize,
    clock: Arc<dyn Clock>,
) -> (Svc, anyhow::Result<Injected>) {
    let inject_ms = clock.now_ms();
    let res = async {
        match kind {
            Kind::Kill => {
                svc.child.start_kill().context("SIGKILL")?;
                let _ = svc.child.wait().await;
                tokio::time::sleep(t.hold).await;
                let fresh = Svc::spawn(
                    svc.name.clone(),
                    svc.port,
                    svc.key.clone(),
                    svc.opts.clone(),
                )
                .await?;
                svc = fresh;
            }
            Kind::Hang => {
                svc.signal(libc::SIGSTOP)?;
                tokio::time::sleep(t.hold).await;
                svc.signal(libc::SIGCONT)?;
            }
            Kind::PortClosed => {
                svc.control("port off").await?;
                tokio::time::sleep(t.hold).await;
                svc.control("port on").await?;
            }
            Kind::HeartbeatStopped => {
                svc.control("hb off").await?;
                tokio::time::sleep(t.hold).await;
                svc.control("hb on").await?;
            }
            Kind::Slow => {
                svc.control("slow on").await?;
                tokio::time::sleep(t.hold).await;
                svc.control("slow off").await?;
            }
        }
        // Requests that arrived while slow are still sleeping; allow for them.
        svc.wait_healthy(Duration::from_secs(10) + t.slow).await?;
        let restore_ms = clock.now_ms();
        tokio::time::sleep(t.cooldown).await;
        Ok(Injected {
            group,
            service: svc.name.clone(),
            kind,
            inject_ms,
            restore_ms,
            window_end_ms: clock.now_ms(),
        })
    }
    .await;
    (svc, res)
}
