//! The `argus` binary: `up`, `server`, `agent`, `check`, `test`, `train`,
//! `backtest` and `eval`. It parses the command line and calls into the
//! library crates.
//!
//! ```text
//! argus up                       # server + built-in agent on ./data, http://127.0.0.1:9797
//! argus server --config argus.yml --data-dir /var/lib/argus
//! argus agent --listen 127.0.0.1:9798 [--push-url http://server:9797/api/v1/write]
//! argus check --config argus.yml           # or: argus check config argus.yml
//! argus check rules rules/*.yml             # like promtool check rules
//! argus test rules tests.yml                # like promtool test rules
//! argus train --rule NAME [--match SEL]    # train a dynamic rule's models via the API
//! argus backtest --config argus.yml --data-dir ./data --rule NAME
//! argus eval csv --input cpu.csv --out scored.csv   # the detector over labelled files
//! ```
//!
//! Exit codes: 0 success, 1 runtime failure, 2 invalid configuration or usage.
//! `check rules` and `test rules` follow promtool: 1 when a file is invalid or
//! a test fails. SIGHUP and `POST /-/reload` reload the rule files.

mod agent_cmd;
mod backtest_cmd;
mod check_cmd;
mod logging;
mod train_cmd;
mod tsdb_cmd;

use anyhow::Context;
use argus_server::config::{Config, ConfigError};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "argus",
    version,
    about = "Argus: monitoring and alerting in one binary"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run everything on this machine: the server plus a built-in agent for this host.
    Up(ServerArgs),
    /// Run the server only (ingest, storage, query).
    Server(ServerArgs),
    /// Run the host agent: serve /metrics and optionally push to a server.
    Agent(agent_cmd::AgentArgs),
    /// Validate a configuration file or rule files without starting anything.
    Check(check_cmd::CheckArgs),
    /// Run unit tests (`argus test rules`, like promtool).
    Test(check_cmd::TestArgs),
    /// Train a dynamic rule's models now, through a running server's API.
    Train(train_cmd::Args),
    /// Replay a dynamic rule over stored history and print what would have fired.
    Backtest(backtest_cmd::Args),
    /// Work on a store directory: `tsdb import` writes history from a text file.
    Tsdb {
        #[command(subcommand)]
        cmd: tsdb_cmd::TsdbCmd,
    },
    /// Measure accuracy on labelled files: detection (`nab`, `csv`, `cv`),
    /// alert grouping (`incidents`, `storm`, `storms`), logs (`logparse`,
    /// `logstore`) and localisation (`rca`, `rca-topology`).
    Eval {
        #[command(subcommand)]
        cmd: argus_eval::cli::EvalCmd,
    },
}

#[derive(Args)]
struct ServerArgs {
    /// Directory of the embedded store.
    #[arg(long, default_value = "./data")]
    data_dir: PathBuf,
    /// HTTP listen address.
    #[arg(long, default_value = "127.0.0.1:9797")]
    listen: SocketAddr,
    /// YAML configuration file (optional).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Web configuration file in Prometheus's format (TLS, basic-auth users)
    /// with Argus's roles and bearer tokens; overrides `web.config_file`.
    #[arg(long = "web.config.file", value_name = "FILE")]
    web_config_file: Option<PathBuf>,
    /// Answer `POST /-/reload` (and `/-/quit`), as in Prometheus.
    #[arg(long = "web.enable-lifecycle")]
    web_enable_lifecycle: bool,
    /// Answer the admin APIs (`/api/v1/admin/...`), as in Prometheus.
    #[arg(long = "web.enable-admin-api")]
    web_enable_admin_api: bool,
    #[command(flatten)]
    log: logging::LogArgs,
}

fn load_config(path: Option<&PathBuf>) -> Result<Config, ConfigError> {
    match path {
        Some(p) => Config::load(p),
        None => Ok(Config::default()),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("Shutdown requested; finishing in-flight requests and closing the store.");
}

fn run_server(args: ServerArgs, run_agent: bool) -> anyhow::Result<()> {
    let mut config = load_config(args.config.as_ref())?;
    if let Some(f) = &args.web_config_file {
        config.web.config_file = Some(
            std::path::absolute(f).with_context(|| format!("cannot resolve {}", f.display()))?,
        );
    }
    config.web.enable_lifecycle |= args.web_enable_lifecycle;
    config.web.enable_admin_api |= args.web_enable_admin_api;
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(argus_server::run(
        argus_server::ServerOptions {
            data_dir: args.data_dir,
            listen: args.listen,
            config,
            run_agent,
            config_path: args.config,
            // `None`: the server feeds rule alerts to its own alert pipeline.
            alert_tx: None,
            write_gate: None,
        },
        Arc::new(argus_model::SystemClock),
        shutdown_signal(),
    ))?;
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let log = match &cli.cmd {
        Cmd::Up(a) | Cmd::Server(a) => a.log.clone(),
        Cmd::Agent(a) => a.log.clone(),
        // Evaluations print their results; the store's routine messages
        // (a store opened per case) would drown them.
        Cmd::Eval { .. } => logging::LogArgs {
            level: logging::Level::Warn,
            ..logging::LogArgs::default()
        },
        _ => logging::LogArgs::default(),
    };
    logging::init(&log);
    let res = match cli.cmd {
        Cmd::Up(a) => run_server(a, true),
        Cmd::Server(a) => run_server(a, false),
        Cmd::Agent(a) => agent_cmd::run(a),
        Cmd::Check(a) => check_cmd::check(a),
        Cmd::Test(a) => check_cmd::test(a),
        Cmd::Train(a) => train_cmd::run(a).map(|c| {
            if c != 0 {
                std::process::exit(c)
            }
        }),
        Cmd::Backtest(a) => backtest_cmd::run(a).map(|_| ()),
        Cmd::Tsdb { cmd } => tsdb_cmd::run(cmd).map(|c| {
            if c != 0 {
                std::process::exit(c)
            }
        }),
        Cmd::Eval { cmd } => argus_eval::cli::run(cmd)
            .map(|c| {
                if c != 0 {
                    std::process::exit(c)
                }
            })
            .map_err(Into::into),
    };
    if let Err(e) = res {
        if let Some(check_cmd::Exit(code)) = e.downcast_ref::<check_cmd::Exit>() {
            std::process::exit(*code);
        }
        eprintln!("argus: error: {e:#}");
        let code = if e.downcast_ref::<ConfigError>().is_some()
            || matches!(
                e.downcast_ref::<argus_server::ServerError>(),
                Some(argus_server::ServerError::Rules(_))
            ) {
            2
        } else {
            1
        };
        std::process::exit(code);
    }
}
