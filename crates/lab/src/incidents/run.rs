//! The run of `argus-lab incidents`: start everything, warm up, a quiet
//! phase, the faults one after another, the report.
//!
//! ```text
//! [setup] services, control endpoint, argus server + agent, prometheus + alertmanager, load
//! [quiet] 60 s with no fault: every incident opened is false
//! [fault 3/9] latency on payments: injected / notified 14.2 s / healed / recovered 61.0 s
//! ```

use super::api::Argus;
use super::fleet::{self, Fleet};
use super::plan::{self, Fault, FaultKind};
use super::report::{self, IncidentView, Row};
use super::{config, Args, RunbooksArg};
use crate::failures::analysis::Notice;
use crate::failures::receiver::Receiver;
use crate::failures::resources::{Sampler, Usage};
use crate::failures::systems::{free_port, spawn_logged, wait_ready, Running};
use anyhow::Context;
use argus_model::{Clock, SystemClock};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The machine-readable results (`--out`).
#[derive(Debug, Serialize)]
struct Results {
    seed: u64,
    runbooks: bool,
    prometheus: bool,
    faults: Vec<Fault>,
    rows: Vec<Row>,
    summary: report::Summary,
    quiet_incidents: Vec<IncidentView>,
    prometheus_quiet_notices: usize,
    unmatched_incidents: Vec<IncidentView>,
    argus_quiet: Usage,
    argus_faults: Usage,
    runbook_executions: Value,
    control_actions: Vec<fleet::Action>,
    argus_notices: Vec<Notice>,
    prometheus_notices: Vec<Notice>,
}

/// What a fault's steps share.
struct Ctx {
    a: Args,
    clock: Arc<dyn Clock>,
    api: Argus,
    fleet: Arc<Fleet>,
    argus_rx: Receiver,
    prom_rx: Receiver,
    runbooks: bool,
}

impl Ctx {
    fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}

fn secs(d: u64) -> Duration {
    Duration::from_secs(d)
}

async fn sleep_s(d: u64) {
    tokio::time::sleep(secs(d)).await
}

/// Writes Argus's files; with `runbooks` Auto, keeps `recover:` only when
/// `argus check config` accepts it. Returns whether runbooks are on.
fn write_argus_files(
    a: &Args,
    argus: &Path,
    dir: &Path,
    p: &config::Ports,
    hook: u16,
) -> anyhow::Result<bool> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("rules.yml"), config::RULES)?;
    std::fs::write(
        dir.join("alertmanager.yml"),
        config::argus_alertmanager_yml(hook),
    )?;
    let check = |runbooks: bool| -> anyhow::Result<(bool, String)> {
        std::fs::write(dir.join("argus.yml"), config::argus_yml(p, runbooks))?;
        let out = std::process::Command::new(argus)
            .args(["check", "config"])
            .arg(dir.join("argus.yml"))
            .output()
            .context("cannot run argus check config")?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), text))
    };
    let want = a.runbooks != RunbooksArg::Off;
    let (ok, text) = check(want)?;
    if ok {
        return Ok(want);
    }
    if a.runbooks == RunbooksArg::Auto {
        eprintln!("[setup] this argus refuses `recover:`; the lab heals every fault itself");
        let (ok, text) = check(false)?;
        anyhow::ensure!(ok, "argus check config refuses the generated file:\n{text}");
        return Ok(false);
    }
    anyhow::bail!("argus check config refuses the generated file:\n{text}")
}

/// Runs the whole experiment.
pub async fn run_all(a: Args) -> anyhow::Result<i32> {
    crate::failures::check_redis(&a.redis).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let exe = std::env::current_exe().context("cannot find the argus-lab binary")?;
    let argus_bin = crate::failures::argus_binary(a.argus_bin.as_deref(), &exe)?;
    let tmp;
    let work: PathBuf = match &a.work_dir {
        Some(d) => d.clone(),
        None => {
            tmp = crate::failures::TempDir::named("incidents")?;
            tmp.0.clone()
        }
    };
    std::fs::create_dir_all(&work)?;
    // The services run from a copy of the binary, so they never share code
    // pages with a measured process.
    let svc_exe = work.join("argus-lab-service");
    std::fs::copy(&exe, &svc_exe)
        .with_context(|| format!("cannot copy {} to {}", exe.display(), svc_exe.display()))?;
    let argus_rx = Receiver::start(clock.clone()).await?;
    let prom_rx = Receiver::start(clock.clone()).await?;
    eprintln!("[setup] starting {} services", plan::SERVICES.len());
    let fleet = Fleet::start(
        svc_exe,
        work.join("services"),
        a.redis.clone(),
        clock.clone(),
    )
    .await?;
    let control = fleet::serve_control(fleet.clone()).await?;
    let argus_port = free_port()?;
    let ports = config::Ports {
        services: fleet.specs(),
        redis: &a.redis,
        argus: argus_port,
        control,
        agent: free_port()?,
    };
    let adir = work.join("argus");
    let runbooks = write_argus_files(&a, &argus_bin, &adir, &ports, argus_rx.port)?;
    std::fs::write(adir.join("agent.yml"), config::agent_yml(&ports, &work))?;
    eprintln!(
        "[setup] starting argus server and agent (files in {}; runbooks {})",
        adir.display(),
        if runbooks { "on" } else { "off" }
    );
    let mut argus = start_argus(&argus_bin, &adir, argus_port).await?;
    let mut prom = None;
    if !a.no_prometheus {
        eprintln!("[setup] starting prometheus and alertmanager");
        let pdir = work.join("prometheus");
        std::fs::create_dir_all(&pdir)?;
        let services = fleet.specs().to_vec();
        prom = Some(
            crate::failures::systems::prometheus::start_files(
                &pdir,
                !a.no_install,
                |am| config::prometheus_yml(&services, am),
                &config::alertmanager_yml(prom_rx.port),
                config::RULES,
                "Prometheus scrape 2s, eval 2s, the same rules; Alertmanager group_wait 0s, group_interval 5s",
            )
            .await?,
        );
    }
    let gateway = fleet.port("gateway").context("no gateway")?;
    let load = fleet::start_load(gateway, a.rps);
    let sampler = Sampler::start(argus.pids(), clock.clone());
    let ctx = Ctx {
        a: a.clone(),
        clock: clock.clone(),
        api: Argus {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            argus: argus_port,
        },
        fleet: fleet.clone(),
        argus_rx,
        prom_rx,
        runbooks,
    };
    // Interrupted, the lab still stops every process it started.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let res = tokio::select! {
        r = experiment(&ctx, &sampler, &mut argus, &adir) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        _ = term.recv() => Err(anyhow::anyhow!("terminated")),
    };
    load.abort();
    drop(sampler);
    argus.stop().await;
    if let Some(p) = prom {
        p.stop().await;
    }
    fleet.stop().await;
    let r = res?;
    print!("{}", report::table(&r.rows));
    println!(
        "argus (server + agent): quiet {:.1} % CPU, {:.0} MiB RSS ({:.0} MiB PSS); during faults {:.1} % CPU, {:.0} MiB RSS",
        r.argus_quiet.cpu_pct, r.argus_quiet.rss_mib, r.argus_quiet.pss_mib, r.argus_faults.cpu_pct, r.argus_faults.rss_mib
    );
    println!(
        "quiet phase: {} false incident(s) from argus, {} firing notification(s) from alertmanager; {} incident(s) during the faults matched none",
        r.quiet_incidents.len(),
        r.prometheus_quiet_notices,
        r.unmatched_incidents.len()
    );
    if let Some(out) = &a.out {
        std::fs::write(out, serde_json::to_string_pretty(&r)?)
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    println!("{}", report::summary_line(&r.summary));
    Ok(0)
}

async fn start_argus(bin: &Path, dir: &Path, port: u16) -> anyhow::Result<Running> {
    let data = dir.join("data");
    std::fs::create_dir_all(&data)?;
    let d = |p: &Path| p.display().to_string();
    let server = spawn_logged(
        bin,
        &[
            "server".into(),
            "--data-dir".into(),
            d(&data),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--config".into(),
            d(&dir.join("argus.yml")),
        ],
        &dir.join("argus.log"),
    )?;
    let mut r = Running {
        children: vec![server],
        settings: "argus server + argus agent".into(),
    };
    if let Err(e) = wait_ready(port, "/-/ready", Duration::from_secs(60), "argus").await {
        r.check_alive(dir)?;
        return Err(e);
    }
    let agent = spawn_logged(
        bin,
        &[
            "agent".into(),
            "--config".into(),
            d(&dir.join("agent.yml")),
            "--buffer-dir".into(),
            d(&dir.join("agent-buffer")),
        ],
        &dir.join("agent.log"),
    )?;
    r.children.push(agent);
    Ok(r)
}

async fn experiment(
    ctx: &Ctx,
    sampler: &Sampler,
    argus: &mut Running,
    adir: &Path,
) -> anyhow::Result<Results> {
    let a = &ctx.a;
    eprintln!("[warm-up] {} s", a.warmup_secs);
    sleep_s(a.warmup_secs).await;
    argus.check_alive(adir)?;
    match ctx.api.train_kpi().await {
        Ok(st) => eprintln!("[warm-up] the KPI's band trained on the warm-up: {st}"),
        Err(e) => eprintln!("[warm-up] the KPI's band could not be trained: {e:#}"),
    }
    let quiet_from = ctx.now();
    eprintln!("[quiet] {} s with no fault", a.quiet_secs);
    sleep_s(a.quiet_secs).await;
    let quiet_to = ctx.now();
    let quiet_incidents: Vec<IncidentView> = ctx
        .api
        .incidents(quiet_from)
        .await
        .into_iter()
        .filter(|i| {
            i.detected_ms
                .is_some_and(|d| d >= quiet_from && d <= quiet_to)
        })
        .collect();
    let prometheus_quiet_notices = ctx
        .prom_rx
        .notices()
        .iter()
        .filter(|n| n.firing && n.arrival_ms >= quiet_from && n.arrival_ms <= quiet_to)
        .count();
    eprintln!(
        "[quiet] {} false incident(s) from argus, {} firing notification(s) from alertmanager",
        quiet_incidents.len(),
        prometheus_quiet_notices
    );
    let faults = plan::schedule(a.faults, a.seed);
    let mut rows = Vec::new();
    let mut matched: Vec<String> = Vec::new();
    for f in &faults {
        let r = run_fault(ctx, f).await?;
        eprintln!(
            "[fault {}/{}] done: detect {} notify {} root {} recover {} ({})",
            f.n,
            faults.len(),
            opt(r.detect_s),
            opt(r.notify_s),
            r.root.as_deref().unwrap_or("-"),
            opt(r.recover_s),
            r.fixed_by
        );
        matched.extend(r.incident.clone());
        rows.push(r);
        argus.check_alive(adir)?;
        ctx.api.wait_all_resolved().await;
        sleep_s(a.gap_secs).await;
    }
    let faults_to = ctx.now();
    let unmatched_incidents = ctx
        .api
        .incidents(quiet_to)
        .await
        .into_iter()
        .filter(|i| i.detected_ms.is_some_and(|d| d > quiet_to) && !matched.contains(&i.id))
        .collect();
    let summary = report::summarize(&rows, quiet_incidents.len());
    Ok(Results {
        seed: a.seed,
        runbooks: ctx.runbooks,
        prometheus: !a.no_prometheus,
        faults,
        rows,
        summary,
        quiet_incidents,
        prometheus_quiet_notices,
        unmatched_incidents,
        argus_quiet: sampler.between(quiet_from, quiet_to),
        argus_faults: sampler.between(quiet_to, faults_to),
        runbook_executions: Value::Array(ctx.api.executions().await),
        control_actions: ctx.fleet.actions(),
        argus_notices: ctx.argus_rx.notices(),
        prometheus_notices: ctx.prom_rx.notices(),
    })
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |s| format!("{s:.1}s"))
}

async fn inject(ctx: &Ctx, f: &Fault) -> anyhow::Result<()> {
    let s = f.service.as_str();
    let fl = &ctx.fleet;
    match f.kind {
        FaultKind::Kill => fl.kill(s).await,
        FaultKind::Hang => fl.signal(s, libc::SIGSTOP).await,
        FaultKind::Latency => fl.send(s, "latency 800").await,
        FaultKind::DeployErrors => {
            ctx.api.deploy_event(s).await?;
            fl.send(s, "errors 60").await
        }
        FaultKind::CpuHog => fl.send(s, "cpu on").await,
        FaultKind::MemoryLeak => fl.send(s, "leak on").await,
        FaultKind::DiskFill => fl.send(s, "disk on").await,
        FaultKind::DependencyDown => fl.send(s, "port off").await,
        FaultKind::KpiDrop => {
            let region = f.region.as_deref().unwrap_or("eu");
            fl.send(s, &format!("kpi {region}")).await
        }
    }
}

/// Injects `f`, waits for the notification, lets a runbook (or the lab) fix
/// it, waits for the recovery, and reads the figures.
async fn run_fault(ctx: &Ctx, f: &Fault) -> anyhow::Result<Row> {
    let a = &ctx.a;
    let what = match &f.region {
        Some(r) => format!("{} on {} (region {r})", f.kind.name(), f.service),
        None => format!("{} on {}", f.kind.name(), f.service),
    };
    let t0 = ctx.now();
    inject(ctx, f)
        .await
        .with_context(|| format!("injecting {what}"))?;
    eprintln!("[fault {}/{}] {what}: injected", f.n, a.faults);
    let mut row = Row::new(f, t0);
    // Detection: the first notification from Argus.
    let deadline = t0 + 1000 * a.detect_timeout_secs as i64;
    let mut detected_at = None;
    while ctx.now() < deadline {
        if let Some((arr, _)) = report::first_notice(&ctx.argus_rx.notices(), t0, ctx.now()) {
            detected_at = Some(arr);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    row.notify_s = detected_at.map(|t| (t - t0) as f64 / 1000.0);
    if let Some(t) = detected_at {
        row.first_alerts = report::alerts_at(&ctx.argus_rx.notices(), t);
    }
    match detected_at {
        Some(_) => eprintln!(
            "[fault {}/{}] notified after {}: {}",
            f.n,
            a.faults,
            opt(row.notify_s),
            row.first_alerts.join(", ")
        ),
        None => eprintln!("[fault {}/{}] no notification", f.n, a.faults),
    }
    // The fix: a runbook's call of the control endpoint, else the lab heals.
    let acted = match detected_at {
        Some(d) if ctx.runbooks => wait_runbook(ctx, f, t0, d).await,
        _ => Vec::new(),
    };
    let by_runbook = acted.contains(&f.service);
    if !by_runbook {
        if let (Some(d), true) = (detected_at, acted.is_empty()) {
            wait_located(ctx, f, t0, d + 1000 * a.heal_after_secs as i64).await;
        }
        ctx.fleet
            .heal(&f.service)
            .await
            .with_context(|| format!("healing {what}"))?;
        row.fixed_by = "lab heal".into();
        eprintln!("[fault {}/{}] healed by the lab", f.n, a.faults);
    }
    let healed = ctx.now();
    // Recovery: the matched incident's recovered time.
    let until = healed + 1000 * a.recover_timeout_secs as i64;
    let mut lab_resolved = false;
    let inc = loop {
        let list = ctx.api.incidents(t0 - 5000).await;
        let inc = report::match_incident(&list, &f.service, t0, healed.max(t0 + 1)).cloned();
        if inc.as_ref().is_some_and(|i| i.recovered_ms.is_some()) || ctx.now() > until {
            break inc;
        }
        if inc.is_none() && detected_at.is_none() && ctx.now() > healed + 10_000 {
            break inc;
        }
        // A failed runbook's page waits for a person: the lab is that person.
        if let Some(i) = &inc {
            if ctx.api.only_runbook_failed(&i.id).await {
                ctx.api.resolve(&i.id).await;
                lab_resolved = true;
                eprintln!(
                    "[fault {}/{}] only RunbookFailed fires: the lab resolved incident {}",
                    f.n, a.faults, i.id
                );
                break inc;
            }
        }
        sleep_s(2).await;
    };
    if let Some(i) = &inc {
        row.set_incident(i);
        if let Ok(v) = ctx
            .api
            .get(&format!("/api/argus/v1/incidents/{}", i.id))
            .await
        {
            row.root_cause = v
                .pointer("/data/alerts")
                .and_then(Value::as_array)
                .and_then(|al| {
                    al.iter()
                        .find_map(|x| x.pointer("/annotations/root_cause")?.as_str())
                })
                .map(str::to_string);
        }
        if !acted.is_empty() {
            row.fixed_by = report::runbook_outcome(&ctx.api.executions().await, &i.id);
            if !by_runbook {
                row.fixed_by
                    .push_str(&format!(" on {}; lab heal", acted.join(",")));
            }
        }
    }
    if lab_resolved {
        row.fixed_by.push_str("; lab resolved");
    }
    if let Some((arr, start)) = report::first_notice(&ctx.prom_rx.notices(), t0, healed + 30_000) {
        row.prom_notify_s = Some((arr - t0) as f64 / 1000.0);
        row.prom_detect_s = start.map(|s| (s - t0).max(0) as f64 / 1000.0);
    }
    Ok(row)
}

/// Waits (until `max(--heal-after-secs, 60 s)` after the detection at
/// `detected`) for a runbook to call the control endpoint, then for every
/// execution to end (or roll back). Returns the services it acted on.
async fn wait_runbook(ctx: &Ctx, f: &Fault, t0: i64, detected: i64) -> Vec<String> {
    let acted = |ctx: &Ctx| {
        let mut v: Vec<String> = ctx
            .fleet
            .actions()
            .into_iter()
            .filter(|x| x.at_ms >= t0)
            .map(|x| x.service)
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let first = detected + 1000 * ctx.a.heal_after_secs.max(60) as i64;
    while ctx.now() < first && acted(ctx).is_empty() {
        sleep_s(1).await;
    }
    if acted(ctx).is_empty() {
        return Vec::new();
    }
    eprintln!(
        "[fault {}/{}] a runbook called the lab: {}",
        f.n,
        ctx.a.faults,
        acted(ctx).join(", ")
    );
    let until = ctx.now() + 1000 * ctx.a.recover_timeout_secs as i64;
    while ctx.now() < until {
        let open = ctx.api.executions().await.iter().any(|e| {
            matches!(
                e.get("state").and_then(Value::as_str),
                Some("pending_approval" | "running" | "verifying" | "rolling_back")
            )
        });
        if !open {
            break;
        }
        sleep_s(2).await;
    }
    acted(ctx)
}

/// Waits until the incident of `f` names a located root, or `until`.
async fn wait_located(ctx: &Ctx, f: &Fault, t0: i64, until: i64) {
    while ctx.now() < until {
        let list = ctx.api.incidents(t0 - 5000).await;
        if report::match_incident(&list, &f.service, t0, ctx.now())
            .is_some_and(|i| i.located_ms.is_some() && i.root.as_deref() == Some(&f.service))
        {
            // A few seconds more, so the recording of the fault is complete.
            sleep_s(5).await;
            return;
        }
        sleep_s(2).await;
    }
}
