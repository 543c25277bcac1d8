//! The service processes of `argus-lab incidents`, the lab's control
//! endpoint that runbooks call, and the load generator that drives the
//! gateway.
//!
//! ```text
//! POST /lab/restart/{service}   kill the process and start it again (clears every fault)
//! POST /lab/heal/{service}      clear the injected fault (SIGCONT, start a dead one, `heal`)
//! GET  /lab/actions             what was called, with times (JSON)
//! ```

use super::plan::{self, CHANNELS, REGIONS};
use anyhow::Context;
use argus_model::Clock;
use axum::extract::{Path as AxPath, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin};
use tokio::sync::Mutex;

/// One service's fixed facts.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Its name.
    pub name: String,
    /// Its loopback port.
    pub port: u16,
    /// Its Redis heartbeat key, when it heartbeats.
    pub hb_key: Option<String>,
}

struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
}

/// A call of the control endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    /// When, Unix ms.
    pub at_ms: i64,
    /// `restart` or `heal`.
    pub action: String,
    /// Which service.
    pub service: String,
}

/// The running services.
pub struct Fleet {
    specs: Vec<Spec>,
    procs: Mutex<HashMap<String, Proc>>,
    exe: PathBuf,
    work: PathBuf,
    redis: String,
    actions: std::sync::Mutex<Vec<Action>>,
    clock: Arc<dyn Clock>,
}

impl Fleet {
    /// Picks ports and heartbeat keys and starts every service of the plan.
    pub async fn start(
        exe: PathBuf,
        work: PathBuf,
        redis: String,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Arc<Fleet>> {
        let prefix = format!("argus-lab-{}:hb:", std::process::id());
        let mut specs = Vec::new();
        for name in plan::SERVICES {
            specs.push(Spec {
                name: name.into(),
                port: crate::failures::systems::free_port()?,
                hb_key: plan::HEARTBEATS
                    .contains(&name)
                    .then(|| format!("{prefix}{name}")),
            });
        }
        std::fs::create_dir_all(work.join("logs"))?;
        let f = Arc::new(Fleet {
            specs,
            procs: Mutex::default(),
            exe,
            work,
            redis,
            actions: std::sync::Mutex::default(),
            clock,
        });
        for s in plan::SERVICES {
            f.spawn(s).await?;
        }
        for s in &f.specs {
            crate::failures::systems::wait_ready(
                s.port,
                "/health",
                Duration::from_secs(20),
                &s.name,
            )
            .await?;
        }
        Ok(f)
    }

    /// Every service.
    pub fn specs(&self) -> &[Spec] {
        &self.specs
    }

    /// The port of `name`.
    pub fn port(&self, name: &str) -> Option<u16> {
        self.specs.iter().find(|s| s.name == name).map(|s| s.port)
    }

    /// The JSON log file of `name`.
    pub fn log_file(&self, name: &str) -> PathBuf {
        self.work.join("logs").join(format!("{name}.log"))
    }

    async fn spawn(&self, name: &str) -> anyhow::Result<()> {
        let spec = self
            .specs
            .iter()
            .find(|s| s.name == name)
            .with_context(|| format!("no service {name}"))?;
        let calls: Vec<String> = plan::callees(name)
            .iter()
            .filter_map(|c| self.port(c).map(|p| format!("{c}={p}")))
            .collect();
        let err = std::fs::File::create(self.work.join("logs").join(format!("{name}.stderr")))?;
        let child = tokio::process::Command::new(&self.exe)
            .args(["incidents", "--serve-one", "--name", name])
            .args(["--port", &spec.port.to_string()])
            .args(["--calls", &calls.join(",")])
            .arg("--log")
            .arg(self.log_file(name))
            .arg("--data")
            .arg(self.work.join("disk"))
            .args(["--redis", &self.redis])
            .args(["--hb-key", spec.hb_key.as_deref().unwrap_or("")])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start service {name}"))?;
        let mut child = child;
        let stdin = child.stdin.take();
        self.procs
            .lock()
            .await
            .insert(name.into(), Proc { child, stdin });
        Ok(())
    }

    /// Sends one control line to `name`.
    pub async fn send(&self, name: &str, line: &str) -> anyhow::Result<()> {
        let mut g = self.procs.lock().await;
        let p = g
            .get_mut(name)
            .with_context(|| format!("no service {name}"))?;
        let stdin = p.stdin.as_mut().context("service stdin closed")?;
        stdin.write_all(format!("{line}\n").as_bytes()).await?;
        stdin.flush().await?;
        Ok(())
    }

    /// Sends `sig` to `name`'s process.
    pub async fn signal(&self, name: &str, sig: i32) -> anyhow::Result<()> {
        let g = self.procs.lock().await;
        let pid = g
            .get(name)
            .and_then(|p| p.child.id())
            .with_context(|| format!("service {name} is not running"))?;
        // SAFETY: kill(2) on a pid this process started and has not reaped.
        let rc = unsafe { libc::kill(pid as i32, sig) };
        anyhow::ensure!(rc == 0, "kill({pid}, {sig}) failed");
        Ok(())
    }

    /// SIGKILL and reap.
    pub async fn kill(&self, name: &str) -> anyhow::Result<()> {
        let mut g = self.procs.lock().await;
        if let Some(mut p) = g.remove(name) {
            let _ = p.child.start_kill();
            let _ = p.child.wait().await;
        }
        Ok(())
    }

    /// Kills `name` and starts it again: every fault in the process is gone.
    pub async fn restart(&self, name: &str) -> anyhow::Result<()> {
        self.kill(name).await?;
        let _ = std::fs::remove_file(self.work.join("disk").join(format!("{name}.fill")));
        self.spawn(name).await?;
        let port = self.port(name).context("no port")?;
        crate::failures::systems::wait_ready(port, "/health", Duration::from_secs(20), name).await
    }

    /// Clears whatever was done to `name`: starts it when dead, continues it
    /// when stopped, and sends `heal`.
    pub async fn heal(&self, name: &str) -> anyhow::Result<()> {
        let alive = {
            let mut g = self.procs.lock().await;
            match g.get_mut(name) {
                Some(p) => matches!(p.child.try_wait(), Ok(None)),
                None => false,
            }
        };
        if !alive {
            return self.restart(name).await;
        }
        self.signal(name, libc::SIGCONT).await?;
        self.send(name, "heal").await
    }

    fn record(&self, action: &str, service: &str) {
        if let Ok(mut v) = self.actions.lock() {
            v.push(Action {
                at_ms: self.clock.now_ms(),
                action: action.into(),
                service: service.into(),
            });
        }
    }

    /// Control calls received so far.
    pub fn actions(&self) -> Vec<Action> {
        self.actions.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Kills every service.
    pub async fn stop(&self) {
        for s in plan::SERVICES {
            let _ = self.kill(s).await;
        }
    }
}

/// Serves the control endpoint on a free loopback port; returns the port.
pub async fn serve_control(fleet: Arc<Fleet>) -> anyhow::Result<u16> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = l.local_addr()?.port();
    let app = Router::new()
        .route("/lab/restart/{service}", post(restart))
        .route("/lab/heal/{service}", post(heal))
        .route("/lab/actions", get(actions))
        .with_state(fleet);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(l, app).await {
            tracing::error!("lab control endpoint stopped: {e}");
        }
    });
    Ok(port)
}

async fn restart(State(f): State<Arc<Fleet>>, AxPath(s): AxPath<String>) -> (StatusCode, String) {
    control(f, s, "restart").await
}

async fn heal(State(f): State<Arc<Fleet>>, AxPath(s): AxPath<String>) -> (StatusCode, String) {
    control(f, s, "heal").await
}

async fn control(f: Arc<Fleet>, s: String, what: &str) -> (StatusCode, String) {
    if f.port(&s).is_none() {
        return (StatusCode::NOT_FOUND, format!("no service {s}\n"));
    }
    f.record(what, &s);
    eprintln!("  control: {what} {s}");
    let r = if what == "restart" {
        f.restart(&s).await
    } else {
        f.heal(&s).await
    };
    match r {
        Ok(()) => (StatusCode::OK, format!("{what} {s}: done\n")),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{what} {s}: {e:#}\n"),
        ),
    }
}

async fn actions(State(f): State<Arc<Fleet>>) -> Json<Vec<Action>> {
    Json(f.actions())
}

/// Drives the gateway with `rps` requests a second, cycling over the KPI's
/// regions and channels so each dimension value gets the same share.
pub fn start_load(gateway_port: u16, rps: u32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("load generator: {e}");
                return;
            }
        };
        let mut tick =
            tokio::time::interval(Duration::from_micros(1_000_000 / u64::from(rps.max(1))));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut i = 0usize;
        loop {
            tick.tick().await;
            let r = REGIONS[i % REGIONS.len()];
            let ch = CHANNELS[(i / REGIONS.len()) % CHANNELS.len()];
            i += 1;
            let c = client.clone();
            let url = format!("http://127.0.0.1:{gateway_port}/work?region={r}&channel={ch}");
            tokio::spawn(async move {
                let _ = c.get(url).send().await;
            });
        }
    })
}
