//! `argus-lab incidents`: the end-to-end fault-life experiment. It starts ten
//! services calling each other (`plan`), a load generator on the gateway,
//! Argus (`argus server` and an `argus agent` tailing the services' JSON
//! logs) with a configuration written as a user would (`config`), and
//! Prometheus + Alertmanager on the same services with the same rules; after a
//! warm-up and a quiet phase it injects faults one after another, chosen by a
//! seeded RNG, and for each waits for the notification, reads the incident
//! from Argus's API (detected, notified, located, recovered), lets a runbook
//! fix it (or heals it itself), waits for the recovery and a quiet gap.
//!
//! ```text
//! argus-lab incidents --faults 9
//! argus-lab incidents --faults 27 --seed S --out incidents.json --work-dir /tmp/lab
//! ```
//! See docs/eval-incidents.md for what each figure means.

mod api;
mod config;
mod fleet;
mod plan;
mod report;
mod run;
mod svc;

use anyhow::Context;
use std::path::PathBuf;

/// Whether Argus's runbooks fix the faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RunbooksArg {
    /// When `argus check config` accepts the `recover:` section.
    Auto,
    /// Always write `recover:` (the run fails if Argus refuses it).
    On,
    /// Never: the lab heals every fault itself.
    Off,
}

/// Arguments of `argus-lab incidents`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Number of faults.
    #[arg(long, default_value_t = 9)]
    faults: usize,
    /// RNG seed of the faults (kind, service, region).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seconds after start before the quiet phase (first scrapes, the KPI's first band).
    #[arg(long, default_value_t = 90)]
    warmup_secs: u64,
    /// Length of the quiet phase (no fault; every incident is false), seconds.
    #[arg(long, default_value_t = 60)]
    quiet_secs: u64,
    /// Pause after a fault's recovery before the next, seconds.
    #[arg(long, default_value_t = 20)]
    gap_secs: u64,
    /// Longest wait for a fault's first notification, seconds.
    #[arg(long, default_value_t = 90)]
    detect_timeout_secs: u64,
    /// Without a runbook: heal this long after the detection (sooner once
    /// the root is located), seconds.
    #[arg(long, default_value_t = 45)]
    heal_after_secs: u64,
    /// Longest wait for a runbook to fix the fault and for the incident to recover, seconds.
    #[arg(long, default_value_t = 180)]
    recover_timeout_secs: u64,
    /// Requests per second into the gateway.
    #[arg(long, default_value_t = 5)]
    rps: u32,
    /// Runbooks (`recover:`).
    #[arg(long, value_enum, default_value = "auto")]
    runbooks: RunbooksArg,
    /// Skip Prometheus + Alertmanager.
    #[arg(long)]
    no_prometheus: bool,
    /// Redis address for the heartbeats.
    #[arg(long, default_value = "127.0.0.1:6379")]
    redis: String,
    /// Write the machine-readable results here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep generated configurations, data and logs here (default: a temp dir, removed).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Do not apt-get install Prometheus or Alertmanager when missing; fail instead.
    #[arg(long)]
    no_install: bool,
    /// The argus binary (default: the `argus` beside this binary, else on PATH).
    #[arg(long)]
    argus_bin: Option<PathBuf>,
    #[arg(long, hide = true)]
    serve_one: bool,
    #[arg(long, hide = true, default_value = "")]
    name: String,
    #[arg(long, hide = true, default_value_t = 0)]
    port: u16,
    #[arg(long, hide = true, default_value = "")]
    calls: String,
    #[arg(long, hide = true, default_value = "service.log")]
    log: PathBuf,
    #[arg(long, hide = true, default_value = ".")]
    data: PathBuf,
    #[arg(long, hide = true, default_value = "")]
    hb_key: String,
}

/// Runs `argus-lab incidents`; returns the process exit code.
pub fn run(a: Args) -> anyhow::Result<i32> {
    if a.serve_one {
        let calls = a
            .calls
            .split(',')
            .filter(|c| !c.is_empty())
            .map(|c| {
                let (n, p) = c.split_once('=').context("--calls takes name=port,...")?;
                Ok((n.to_string(), p.parse::<u16>()?))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        return svc::serve(svc::ServeOptions {
            name: a.name,
            port: a.port,
            calls,
            log: a.log,
            data: a.data,
            redis: a.redis,
            hb_key: a.hb_key,
        });
    }
    anyhow::ensure!(a.faults >= 1, "--faults must be at least 1");
    anyhow::ensure!(a.rps >= 1, "--rps must be at least 1");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(run::run_all(a))
}
