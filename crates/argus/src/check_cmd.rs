//! `argus check` and `argus test`: offline validation of the configuration and
//! of rule files, and rule unit tests, with `promtool`'s output and exit codes.
//!
//! ```text
//! argus check --config argus.yml      # same as `argus check config argus.yml` (kept for compatibility)
//! argus check config argus.yml        # the config and every rule file it names; exit 2 when invalid
//! argus check rules a.yml b.yml       # promtool check rules: exit 1 when any file is invalid
//! argus check agent agent.yml         # the file of `argus agent --config`
//! argus test rules tests.yml          # promtool test rules: exit 1 when any test fails
//! ```

use std::path::{Path, PathBuf};

use argus_server::config::Config;
use clap::{Args, Subcommand};

/// A command's verdict that is not an error message: exit with this code.
#[derive(Debug)]
pub struct Exit(pub i32);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// `argus check`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CheckArgs {
    /// The configuration file (the same as `argus check config FILE`).
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    what: Option<CheckCmd>,
}

#[derive(Subcommand)]
enum CheckCmd {
    /// Validate a configuration file and the rule files it names.
    Config {
        /// The configuration file.
        file: PathBuf,
    },
    /// Validate the settings file of `argus agent --config`.
    Agent {
        /// The agent's file.
        file: PathBuf,
    },
    /// Validate Prometheus rule files, like `promtool check rules` (exit 1 on any error).
    Rules {
        /// The rule files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `argus test`.
#[derive(Args)]
pub struct TestArgs {
    #[command(subcommand)]
    what: TestCmd,
}

#[derive(Subcommand)]
enum TestCmd {
    /// Run rule unit tests in `promtool test rules` format (exit 1 when a test fails).
    Rules {
        /// The test files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Runs `argus check ...`.
pub fn check(args: CheckArgs) -> anyhow::Result<()> {
    match (args.what, args.config) {
        (Some(CheckCmd::Config { file }), _) | (None, Some(file)) => check_config(&file),
        (Some(CheckCmd::Rules { files }), _) => check_rules(&files),
        (Some(CheckCmd::Agent { file }), _) => check_agent(&file),
        (None, None) => {
            eprintln!("argus: error: say what to check: `argus check config FILE`, `argus check rules FILE...` or `argus check --config FILE`");
            Err(Exit(2).into())
        }
    }
}

fn check_config(file: &Path) -> anyhow::Result<()> {
    let c = Config::load(file)?;
    let rules = c.check_rule_files()?;
    let files = c.rule_file_paths()?.len();
    let am = c.alerting_config()?;
    // Every section the server checks at start-up, so a file that passes
    // here starts (files named by the keys are read too, as at start-up).
    argus_ingest::scrape::ScrapeManager::<argus_tsdb::Storage>::prepare(
        c.effective_scrape_configs(),
    )
    .map_err(|e| anyhow::anyhow!("{}: scrape_configs: {e}", file.display()))?;
    c.health
        .validate()
        .map_err(|e| anyhow::anyhow!("{}: health: {e}", file.display()))?;
    c.detect
        .validate()
        .map_err(|e| anyhow::anyhow!("{}: detect: {e}", file.display()))?;
    let dynamic = argus_dynamic::config::compile_rules(&c.dynamic_rules)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    // The HTTP clients of the remote_write queues, reading their TLS files.
    for r in &c.remote_write {
        r.http_client_config().build_client().map_err(|e| {
            anyhow::anyhow!("{}: remote_write {}: {e}", file.display(), r.queue_name())
        })?;
    }
    let exhaustion = argus_predict::compile_rules(&c.exhaustion_rules)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    argus_predict::check_health_index_rules(&c.health_index_rules)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let forward = c
        .forward_settings()
        .prepare()
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let _ = forward;
    let runbooks = argus_server::recover::loaded(&c)
        .map_err(|e| anyhow::anyhow!("{}: recover: {e}", file.display()))?
        .runbooks
        .len();
    println!(
        "{}: valid ({} scrape jobs, {} remote_write queues, {files} rule files, {rules} rules, {} alert receivers, {} external Alertmanagers, {} health services, {} dynamic rules, {} exhaustion rules, {} composite health rules, {runbooks} runbooks)",
        file.display(),
        c.scrape_configs.len(),
        c.remote_write.len(),
        am.receivers.len(),
        c.alerting.alertmanagers.len(),
        c.health.services.len(),
        dynamic.len(),
        exhaustion.len(),
        c.health_index_rules.len(),
    );
    Ok(())
}

/// `argus check agent FILE`: the file of `argus agent --config`.
fn check_agent(file: &Path) -> anyhow::Result<()> {
    let c = crate::agent_cmd::load_config(file)?;
    println!(
        "{}: valid (serves {}, {} services{})",
        file.display(),
        c.listen,
        c.services.len(),
        c.push
            .as_ref()
            .map(|p| format!(", pushes to {}", p.url))
            .unwrap_or_default()
            + &c.logs
                .as_ref()
                .map(|l| format!(", tails {} file groups to {}", l.files.len(), l.url))
                .unwrap_or_default()
    );
    Ok(())
}

/// promtool's layout: `Checking FILE`, then `  SUCCESS: N rules found` on
/// stdout or `  FAILED:` and one `file:line:col: reason` per problem on stderr.
fn check_rules(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut failed = false;
    for (f, res) in files.iter().zip(argus_rules::check_rule_files(files)) {
        println!("Checking {}", f.display());
        match res {
            Ok(summary) => println!("  {summary}\n"),
            Err(e) => {
                failed = true;
                eprintln!("  FAILED:\n{e}\n");
            }
        }
    }
    if failed {
        Err(Exit(1).into())
    } else {
        Ok(())
    }
}

/// Runs `argus test ...`.
pub fn test(args: TestArgs) -> anyhow::Result<()> {
    match args.what {
        TestCmd::Rules { files } => {
            let report = argus_rules::run_rule_test_files(&files);
            print!("{report}");
            if report.passed() {
                Ok(())
            } else {
                Err(Exit(1).into())
            }
        }
    }
}
