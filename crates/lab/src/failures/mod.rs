//! `argus-lab failures`: the failure-injection experiment on this machine,
//! against Argus and its peers. It starts M small services on
//! loopback (each heartbeats into Redis and answers `/health` and
//! `/metrics`), starts the monitoring system with a generated configuration,
//! measures its CPU and RSS in a quiet phase, then runs G groups of K failures
//! (kill, hang, port closed, heartbeat stopped, slow) chosen by a seeded RNG,
//! and matches the notifications its webhook receiver got to the failures.
//!
//! ```text
//! argus-lab failures --system argus --groups 5 --failures 1000
//! argus-lab failures --system prometheus --profile fast --groups 1 --failures 200 --out prom.json
//! argus-lab failures --system none --groups 1 --failures 20      # the harness alone
//! ```
//! See docs/eval-failures.md for what each figure means.

pub(crate) mod analysis;
mod fleet;
pub(crate) mod receiver;
mod report;
pub(crate) mod resources;
pub(crate) mod service;
pub(crate) mod systems;

use analysis::{group_figures, match_notices, Injected, Kind};
use anyhow::Context;
use argus_model::{Clock, SplitMix64, SystemClock};
use fleet::{Fleet, FleetOptions};
use report::{GroupReport, SystemReport};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use systems::{Profile, Target};

/// Which system to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SystemArg {
    /// Argus with the `health:` section.
    Argus,
    /// Prometheus 2.42 + Alertmanager 0.25.
    Prometheus,
    /// Nagios 4.
    Nagios,
    /// Zabbix 6.0 (server on the local PostgreSQL, API via php -S).
    Zabbix,
    /// Argus, then Prometheus, then Nagios.
    All,
    /// No monitor: checks the harness itself (everything goes undetected).
    None,
}

/// Which peer settings to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfileArg {
    /// The peer's defaults.
    Default,
    /// The peer's most aggressive settings.
    Fast,
    /// Both, fast first.
    Both,
}

/// Arguments of `argus-lab failures`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// System under test.
    #[arg(long, value_enum, default_value = "argus")]
    system: SystemArg,
    /// Peer settings (ignored for argus).
    #[arg(long, value_enum, default_value = "both")]
    profile: ProfileArg,
    /// Number of service processes.
    #[arg(long, default_value_t = 50)]
    services: usize,
    /// Number of groups.
    #[arg(long, default_value_t = 5)]
    groups: usize,
    /// Failures per group.
    #[arg(long, default_value_t = 1000)]
    failures: usize,
    /// Most services failing at once (default: half of --services).
    #[arg(long)]
    concurrency: Option<usize>,
    /// RNG seed (service and kind of each failure, spacing).
    #[arg(long, default_value_t = 4)]
    seed: u64,
    /// Largest random pause between two injections, milliseconds.
    #[arg(long, default_value_t = 100)]
    spacing_ms: u64,
    /// Length of the quiet (healthy) phase before the failures, seconds.
    #[arg(long, default_value_t = 20)]
    quiet_secs: u64,
    /// Port of the first service (the others follow).
    #[arg(long, default_value_t = 18001)]
    base_port: u16,
    /// Redis address for the heartbeats.
    #[arg(long, default_value = "127.0.0.1:6379")]
    redis: String,
    /// Heartbeat period of the services, milliseconds. Half the promised
    /// interval (1 s): a service that beats exactly once per promised interval
    /// misses it whenever its timer runs a little late, which a loaded host
    /// does (at 1000 ms, 5–7 false ServiceDown alerts per 200 failures).
    #[arg(long, default_value_t = 500)]
    heartbeat_ms: u64,
    /// Write the machine-readable results here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep generated configurations and logs here (default: a temp dir, removed).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Do not apt-get install missing peers; fail instead.
    #[arg(long)]
    no_install: bool,
    /// The argus binary to measure (default: the `argus` beside this
    /// binary, else the one on PATH).
    #[arg(long)]
    argus_bin: Option<PathBuf>,
    #[arg(long, hide = true)]
    serve_one: bool,
    #[arg(long, hide = true, default_value_t = 0)]
    port: u16,
    #[arg(long, hide = true, default_value = "")]
    key: String,
    #[arg(long, hide = true, default_value_t = 2000)]
    slow_ms: u64,
}

/// Runs `argus-lab failures`; returns the process exit code.
pub fn run(args: Args) -> anyhow::Result<i32> {
    if args.serve_one {
        return service::serve(service::ServeOptions {
            port: args.port,
            key: args.key,
            redis: args.redis,
            heartbeat: Duration::from_millis(args.heartbeat_ms.max(1)),
            slow: Duration::from_millis(args.slow_ms),
        });
    }
    anyhow::ensure!(args.services >= 1, "--services must be at least 1");
    anyhow::ensure!(
        args.groups >= 1 && args.failures >= 1,
        "--groups and --failures must be at least 1"
    );
    let profiles = profiles(&args)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(run_all(args, profiles))
}

fn profiles(a: &Args) -> anyhow::Result<Vec<Profile>> {
    let peer = |fast: Profile, default: Profile| match a.profile {
        ProfileArg::Fast => vec![fast],
        ProfileArg::Default => vec![default],
        ProfileArg::Both => vec![fast, default],
    };
    let prom = || peer(Profile::PrometheusFast, Profile::PrometheusDefault);
    let nagios = || peer(Profile::NagiosFast, Profile::NagiosDefault);
    let zabbix = || peer(Profile::ZabbixFast, Profile::ZabbixDefault);
    Ok(match a.system {
        SystemArg::Argus => vec![Profile::Argus],
        SystemArg::Prometheus => prom(),
        SystemArg::Nagios => nagios(),
        SystemArg::None => vec![Profile::DryRun],
        SystemArg::All => [vec![Profile::Argus], prom(), nagios()].concat(),
        SystemArg::Zabbix => zabbix(),
    })
}

/// Sends `INCR`-free `PING` to Redis so a missing Redis fails early and clearly.
pub(crate) async fn check_redis(addr: &str) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ping = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(b"*1\r\n$4\r\nPING\r\n").await?;
        let mut b = [0u8; 16];
        let n = s.read(&mut b).await?;
        Ok::<bool, std::io::Error>(b[..n].starts_with(b"+PONG"))
    };
    match tokio::time::timeout(Duration::from_secs(3), ping).await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => anyhow::bail!("Redis at {addr} did not answer PING with PONG"),
        Ok(Err(e)) => {
            anyhow::bail!("Redis at {addr} is not reachable ({e}); the services heartbeat into it")
        }
        Err(_) => anyhow::bail!("Redis at {addr} did not answer PING within 3 s"),
    }
}

async fn run_all(a: Args, profiles: Vec<Profile>) -> anyhow::Result<i32> {
    check_redis(&a.redis).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let exe = std::env::current_exe().context("cannot find the argus-lab binary")?;
    let argus = argus_binary(a.argus_bin.as_deref(), &exe)?;
    let tmp;
    let work = match &a.work_dir {
        Some(d) => d.clone(),
        None => {
            tmp = TempDir::new()?;
            tmp.0.clone()
        }
    };
    // The services run from a copy of the binary: a file of their own, so
    // their code pages are never shared with a monitoring process, whose PSS
    // would otherwise be divided among the fifty services.
    std::fs::create_dir_all(&work)?;
    let svc_exe = work.join("argus-eval-service");
    std::fs::copy(&exe, &svc_exe)
        .with_context(|| format!("cannot copy {} to {}", exe.display(), svc_exe.display()))?;
    let receiver = receiver::Receiver::start(clock.clone()).await?;
    let concurrency = a
        .concurrency
        .unwrap_or((a.services / 2).max(1))
        .clamp(1, a.services);
    let mut reports = Vec::new();
    for p in profiles {
        let t0 = clock.now_ms();
        receiver.clear();
        let fleet = Fleet::start(FleetOptions {
            services: a.services,
            base_port: a.base_port,
            redis: a.redis.clone(),
            key_prefix: format!("argus-eval-{}:hb:", std::process::id()),
            heartbeat: Duration::from_millis(a.heartbeat_ms.max(1)),
            slow: p.timing().slow,
            exe: svc_exe.clone(),
        })
        .await?;
        let target = Target {
            services: fleet.specs(),
            redis: a.redis.clone(),
            receiver_port: receiver.port,
            work: work.join(p.name()),
            exe: argus.clone(),
            install: !a.no_install,
        };
        eprintln!(
            "[{}] starting the monitor (files in {})",
            p.name(),
            target.work.display()
        );
        let running = systems::start(p, &target).await?;
        let r = measure(
            &a,
            p,
            fleet,
            running,
            &target,
            &receiver,
            clock.clone(),
            concurrency,
            t0,
        )
        .await?;
        print!("{}", report::table(&r));
        reports.push(r);
    }
    if let Some(out) = &a.out {
        let j = serde_json::to_string_pretty(&reports)?;
        std::fs::write(out, j).with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(0)
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    a: &Args,
    p: Profile,
    mut fleet: Fleet,
    mut running: systems::Running,
    target: &Target,
    receiver: &receiver::Receiver,
    clock: Arc<dyn Clock>,
    concurrency: usize,
    t0: i64,
) -> anyhow::Result<SystemReport> {
    let sampler = resources::Sampler::start(running.pids(), clock.clone());
    tokio::time::sleep(p.warmup()).await;
    let quiet_from = clock.now_ms();
    eprintln!("[{}] quiet phase {} s", p.name(), a.quiet_secs);
    tokio::time::sleep(Duration::from_secs(a.quiet_secs)).await;
    let quiet_to = clock.now_ms();
    running.check_alive(&target.work)?;
    let mut rng = SplitMix64::new(a.seed);
    let mut failures: Vec<Injected> = Vec::new();
    let mut spans = Vec::new();
    for g in 1..=a.groups {
        let g0 = clock.now_ms();
        eprintln!("[{}] group {g}: {} failures", p.name(), a.failures);
        let recs = run_group(&mut fleet, &mut rng, a, p, g, concurrency, clock.clone()).await?;
        failures.extend(recs);
        spans.push((g0, clock.now_ms()));
        running.check_alive(&target.work)?;
    }
    eprintln!(
        "[{}] waiting {:?} for late notifications",
        p.name(),
        p.drain()
    );
    tokio::time::sleep(p.drain()).await;
    let notices = receiver.notices();
    // The raw record, for auditing a run (kept with --work-dir).
    std::fs::write(
        target.work.join("failures.json"),
        serde_json::to_string_pretty(&failures)?,
    )?;
    std::fs::write(
        target.work.join("notices.json"),
        serde_json::to_string_pretty(&notices)?,
    )?;
    let m = match_notices(&failures, &notices, p.tolerance_ms());
    let quiet_false_alerts = m
        .false_alerts
        .iter()
        .filter(|n| n.arrival_ms <= quiet_to)
        .count();
    let mut groups = Vec::new();
    for (i, (g0, g1)) in spans.iter().enumerate() {
        groups.push(GroupReport {
            figures: group_figures(&m, i + 1),
            failing: sampler.between(*g0, *g1),
            duration_s: (g1 - g0) as f64 / 1000.0,
        });
    }
    let in_groups: usize = groups.iter().map(|g| g.figures.false_alerts).sum();
    let r = SystemReport {
        system: p.name().into(),
        settings: running.settings.clone(),
        timing: p.timing(),
        services: a.services,
        concurrency,
        seed: a.seed,
        healthy: sampler.between(quiet_from, quiet_to),
        quiet_false_alerts,
        other_false_alerts: m
            .false_alerts
            .len()
            .saturating_sub(in_groups + quiet_false_alerts),
        groups,
        duration_s: (clock.now_ms() - t0) as f64 / 1000.0,
    };
    drop(sampler);
    running.stop().await;
    drop(fleet);
    Ok(r)
}

/// Injects `a.failures` failures, at most `concurrency` at once, each into a
/// random idle service with a random kind.
async fn run_group(
    fleet: &mut Fleet,
    rng: &mut SplitMix64,
    a: &Args,
    p: Profile,
    group: usize,
    concurrency: usize,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Vec<Injected>> {
    let mut set = tokio::task::JoinSet::new();
    let mut out = Vec::with_capacity(a.failures);
    // Kinds come in shuffled blocks of all five, so every kind is drawn
    // equally often (±1 per group).
    let mut kinds: Vec<Kind> = Vec::new();
    let settle = |r: Result<(fleet::Svc, anyhow::Result<Injected>), tokio::task::JoinError>,
                  fleet: &mut Fleet,
                  out: &mut Vec<Injected>|
     -> anyhow::Result<()> {
        let (svc, rec) = r.context("an injection task panicked")?;
        let name = svc.name.clone();
        fleet.put(svc);
        out.push(rec.with_context(|| format!("failure injection into {name}"))?);
        Ok(())
    };
    for _ in 0..a.failures {
        while set.len() >= concurrency || fleet.idle().is_empty() {
            match set.join_next().await {
                Some(r) => settle(r, fleet, &mut out)?,
                None => anyhow::bail!("no idle service and nothing running"),
            }
        }
        let idle = fleet.idle();
        let i = idle[rng.index(idle.len())];
        if kinds.is_empty() {
            kinds = Kind::ALL.to_vec();
            for j in (1..kinds.len()).rev() {
                kinds.swap(j, rng.index(j + 1));
            }
        }
        let kind = kinds.pop().context("kinds refilled above")?;
        let svc = fleet.take(i).context("picked a service that is not idle")?;
        set.spawn(fleet::inject(svc, kind, p.timing(), group, clock.clone()));
        tokio::time::sleep(Duration::from_millis(
            rng.index(a.spacing_ms as usize + 1) as u64
        ))
        .await;
    }
    while let Some(r) = set.join_next().await {
        settle(r, fleet, &mut out)?;
    }
    out.sort_by_key(|f| f.inject_ms);
    Ok(out)
}

/// The argus binary under test: `--argus-bin`, else `argus` in the directory
/// of this binary (cargo builds both into the same `target/<profile>/`), else
/// `argus` on PATH.
pub(crate) fn argus_binary(given: Option<&Path>, lab_exe: &Path) -> anyhow::Result<PathBuf> {
    if let Some(p) = given {
        anyhow::ensure!(p.is_file(), "--argus-bin {}: no such file", p.display());
        return Ok(p.to_path_buf());
    }
    let name = format!("argus{}", std::env::consts::EXE_SUFFIX);
    if let Some(sibling) = lab_exe.parent().map(|d| d.join(&name)) {
        if sibling.is_file() {
            return Ok(sibling);
        }
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(&name))
                .find(|c| c.is_file())
        })
        .with_context(|| {
            format!(
                "cannot find the argus binary beside {} or on PATH (build it with \
                 `cargo build --release -p argus`, or pass --argus-bin)",
                lab_exe.display()
            )
        })
}

/// A temporary work directory removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<TempDir> {
        TempDir::named("failures")
    }

    /// A fresh `argus-eval-<what>-<pid>` under the system's temp directory.
    pub(crate) fn named(what: &str) -> anyhow::Result<TempDir> {
        let d = std::env::temp_dir().join(format!("argus-eval-{what}-{}", std::process::id()));
        std::fs::create_dir_all(&d).with_context(|| format!("mkdir {}", d.display()))?;
        Ok(TempDir(d))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
