//! The `argus-lab` binary: the evaluation lab. It measures Argus against its
//! peers (Prometheus, Nagios, Zabbix) on this machine, starting them and, when
//! they are missing, installing them. None of this ships in the `argus`
//! binary; `argus eval nab|csv` (Argus's own detectors over a user's labelled
//! files) stay there.
//!
//! ```text
//! argus-lab failures --system argus --groups 5 --failures 1000
//! argus-lab failures --system prometheus --profile fast --groups 1 --failures 200 --out prom.json
//! argus-lab failures --system none --groups 1 --failures 20      # the harness alone
//! argus-lab incidents --faults 9 --seed 1                         # fault life, end to end
//! ```
//!
//! Exit codes: 0 success, 1 failure.

mod failures;
mod incidents;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "argus-lab",
    version,
    about = "Argus evaluation lab: measures Argus against its peers on this machine"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Replay the failure-injection experiment on this machine.
    Failures(failures::Args),
    /// The end-to-end fault-life experiment: ten services, Argus beside
    /// Prometheus + Alertmanager, faults one after another.
    Incidents(incidents::Args),
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ARGUS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}

fn main() {
    let cli = Cli::parse();
    init_logging();
    let res = match cli.cmd {
        Cmd::Failures(a) => failures::run(a),
        Cmd::Incidents(a) => incidents::run(a),
    };
    match res {
        Ok(0) => {}
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("argus-lab: error: {e:#}");
            std::process::exit(1);
        }
    }
}
