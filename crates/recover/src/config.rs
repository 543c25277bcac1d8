//! The `recover:` section: runbooks, their steps and guards, and the limits
//! every execution runs under.
//!
//! ```
//! use argus_recover::config::{Action, Mode, RecoverConfig};
//! let yaml = r#"
//! commands: [/usr/bin/true]
//! runbooks:
//!   - name: restart-api
//!     match: {labels: {alertname: "ApiDown|ApiErrors"}, root_service: api}
//!     mode: approval
//!     steps:
//!       - command: {path: /usr/bin/true, args: ["{{ .Root.Service }}"]}
//!       - wait: 30s
//!     verify: {hold: 1m, deadline: 10m}
//! "#;
//! let c: RecoverConfig = serde_saphyr::from_str(yaml).unwrap();
//! c.validate("argus.yml", yaml).unwrap();
//! let rb = &c.runbooks[0];
//! assert_eq!(rb.mode, Mode::Approval);
//! assert!(matches!(rb.steps[1].action(), Ok(Action::Wait(_))));
//! ```

use argus_model::PromDuration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `recover:`: runbooks and the guards around them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecoverConfig {
    /// At most this many executions run (or verify) at once; more are
    /// refused (default 4).
    pub max_concurrent: usize,
    /// Start with every execution stopped (the kill switch), until someone
    /// turns it off in the UI or API (default false).
    pub paused: bool,
    /// The only executables a `command` step may run, as absolute paths.
    pub commands: Vec<PathBuf>,
    /// The `systemctl` a `restart` step runs (default `/usr/bin/systemctl`).
    pub systemctl: PathBuf,
    /// A request waiting for approval expires after this long (default 1h).
    pub approval_timeout: PromDuration,
    /// Runbooks written here.
    pub runbooks: Vec<Runbook>,
    /// Files (globs, relative to the config file) each holding a list of
    /// runbooks or `runbooks: [...]`.
    pub runbook_files: Vec<String>,
}

impl Default for RecoverConfig {
    fn default() -> Self {
        RecoverConfig {
            max_concurrent: 4,
            paused: false,
            commands: Vec::new(),
            systemctl: PathBuf::from("/usr/bin/systemctl"),
            approval_timeout: PromDuration(3_600_000),
            runbooks: Vec::new(),
            runbook_files: Vec::new(),
        }
    }
}

/// How a runbook starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Someone presses the button (or the link in a notification).
    #[default]
    Manual,
    /// Someone asks, and someone else approves.
    Approval,
    /// Runs by itself for each matched incident, within the guards.
    Auto,
}

impl Mode {
    /// The name used in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Manual => "manual",
            Mode::Approval => "approval",
            Mode::Auto => "auto",
        }
    }
}

/// One runbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    /// Its name, unique (letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// What it does, for people.
    #[serde(default)]
    pub description: String,
    /// Which incidents it applies to.
    #[serde(default, rename = "match")]
    pub matches: Match,
    /// How it starts (default manual).
    #[serde(default)]
    pub mode: Mode,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Run, in order, when a step fails or verification does not hold.
    #[serde(default)]
    pub rollback: Vec<Step>,
    /// What recovered means.
    #[serde(default)]
    pub verify: Verify,
    /// At most `max` executions in any `per` (default none).
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// No new execution this long after the last one ended (default 0).
    #[serde(default)]
    pub cooldown: PromDuration,
    /// `mode: auto` only: wait this long after the incident was detected
    /// before running, so its root can settle (default 0).
    #[serde(default)]
    pub delay: PromDuration,
}

/// Which incidents a runbook applies to. Every given condition must hold;
/// an empty match applies to every incident.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Match {
    /// Label name → regular expression (anchored) that one of the
    /// incident's alerts must match with all of them.
    pub labels: BTreeMap<String, String>,
    /// Regular expression (anchored) on the incident's root service.
    pub root_service: Option<String>,
    /// Regular expression (anchored) on the located cause (the top likely
    /// cause, or a dynamic rule's localisation).
    pub root_cause: Option<String>,
}

/// `rate_limit:`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// How many executions.
    pub max: u32,
    /// In how long.
    pub per: PromDuration,
}

/// `verify:`: an execution succeeds only when this holds for `hold`,
/// before `deadline` (counted from the end of the steps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Verify {
    /// Every alert of the incident must be resolved (default true).
    pub resolved: bool,
    /// A PromQL expression that must return at least one sample.
    pub condition: Option<String>,
    /// How long it must keep holding (default 1m).
    pub hold: PromDuration,
    /// Give up after this long (default 10m).
    pub deadline: PromDuration,
}

impl Default for Verify {
    fn default() -> Self {
        Verify {
            resolved: true,
            condition: None,
            hold: PromDuration(60_000),
            deadline: PromDuration(600_000),
        }
    }
}

/// One step: a name, exactly one action key, and a timeout.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Its name (default: the action's kind).
    #[serde(default)]
    pub name: Option<String>,
    /// An HTTP call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpAction>,
    /// An allowlisted executable, run without a shell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandAction>,
    /// Restart a systemd unit or a process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<RestartAction>,
    /// Set a Redis key (a traffic switch or degrade flag services watch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_set: Option<RedisSet>,
    /// Put a key in a NATS JetStream key-value bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nats_kv_put: Option<NatsKvPut>,
    /// Wait this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<PromDuration>,
    /// Wait until named alerts resolve or a condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_until: Option<WaitUntil>,
    /// The step fails after this long (default 30s; not for waits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<PromDuration>,
}

/// The one action of a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Action<'a> {
    /// `http:`
    Http(&'a HttpAction),
    /// `command:`
    Command(&'a CommandAction),
    /// `restart:`
    Restart(&'a RestartAction),
    /// `redis_set:`
    RedisSet(&'a RedisSet),
    /// `nats_kv_put:`
    NatsKvPut(&'a NatsKvPut),
    /// `wait:`
    Wait(PromDuration),
    /// `wait_until:`
    WaitUntil(&'a WaitUntil),
}

impl Action<'_> {
    /// The action's key.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Http(_) => "http",
            Action::Command(_) => "command",
            Action::Restart(_) => "restart",
            Action::RedisSet(_) => "redis_set",
            Action::NatsKvPut(_) => "nats_kv_put",
            Action::Wait(_) => "wait",
            Action::WaitUntil(_) => "wait_until",
        }
    }
}

impl Step {
    /// Its one action, or why there is not exactly one.
    pub fn action(&self) -> Result<Action<'_>, String> {
        let mut found = Vec::new();
        if let Some(a) = &self.http {
            found.push(Action::Http(a));
        }
        if let Some(a) = &self.command {
            found.push(Action::Command(a));
        }
        if let Some(a) = &self.restart {
            found.push(Action::Restart(a));
        }
        if let Some(a) = &self.redis_set {
            found.push(Action::RedisSet(a));
        }
        if let Some(a) = &self.nats_kv_put {
            found.push(Action::NatsKvPut(a));
        }
        if let Some(d) = self.wait {
            found.push(Action::Wait(d));
        }
        if let Some(a) = &self.wait_until {
            found.push(Action::WaitUntil(a));
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err("has no action (one of http, command, restart, redis_set, nats_kv_put, wait, wait_until)".into()),
            _ => Err(format!(
                "has {} actions ({}); give each its own step",
                found.len(),
                found.iter().map(|a| a.kind()).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// Its name, or its action's kind.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            self.action()
                .map(|a| a.kind())
                .unwrap_or("step")
                .to_string()
        })
    }

    /// Its timeout (default 30s).
    pub fn timeout_ms(&self) -> i64 {
        self.timeout.map_or(30_000, |d| d.as_millis())
    }
}

/// `http:`. The URL, header values and body are templates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpAction {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE` (default `POST`).
    #[serde(default = "default_method")]
    pub method: String,
    /// The URL.
    pub url: String,
    /// Headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Headers whose value is read from a file at each call (secrets; the
    /// value never appears in the audit log).
    #[serde(default)]
    pub header_files: BTreeMap<String, PathBuf>,
    /// The body.
    #[serde(default)]
    pub body: Option<String>,
    /// The statuses that count as success (default any 2xx).
    #[serde(default)]
    pub expect: Vec<u16>,
}

fn default_method() -> String {
    "POST".into()
}

/// `command:`. Arguments and environment values are templates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandAction {
    /// The executable: an absolute path listed in `recover.commands`.
    pub path: PathBuf,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Its working directory (default: Argus's).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Its environment, on top of a minimal one (`PATH`, `LANG`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// `restart:`: a systemd unit, or a process found by name or pid file (as
/// the health checks' process probes find it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartAction {
    /// The systemd unit (a template), restarted with `systemctl restart`
    /// and then checked with `systemctl is-active`.
    #[serde(default)]
    pub unit: Option<String>,
    /// A process name (`/proc/<pid>/comm`, or the file name of `argv[0]`):
    /// every such process gets SIGTERM (SIGKILL after half the timeout), then
    /// `start` runs, and the step waits until one runs again.
    #[serde(default)]
    pub process: Option<String>,
    /// A file holding the pid of the process, instead of `process`.
    #[serde(default)]
    pub pid_file: Option<PathBuf>,
    /// How to start the process again (an allowlisted executable, left
    /// running); without it, a supervisor is expected to start it.
    #[serde(default)]
    pub start: Option<CommandAction>,
}

/// `redis_set:`. Key and value are templates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSet {
    /// `redis://host:port/db` (default `redis://127.0.0.1:6379/`).
    #[serde(default = "default_redis")]
    pub url: String,
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
    /// Expire the key after this long (default never).
    #[serde(default)]
    pub ttl: Option<PromDuration>,
}

fn default_redis() -> String {
    "redis://127.0.0.1:6379/".into()
}

/// `nats_kv_put:`. Key and value are templates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsKvPut {
    /// The server (default `nats://127.0.0.1:4222`).
    #[serde(default = "default_nats")]
    pub url: String,
    /// The bucket (it must exist).
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

fn default_nats() -> String {
    "nats://127.0.0.1:4222".into()
}

/// `wait_until:`: holds when every named alert of the incident is resolved
/// (all of its alerts when none is named and `condition` is absent) and the
/// condition returns a sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitUntil {
    /// Alert names that must be resolved.
    #[serde(default)]
    pub resolved: Vec<String>,
    /// A PromQL expression that must return at least one sample.
    #[serde(default)]
    pub condition: Option<String>,
    /// The step fails after this long (default 5m).
    #[serde(default = "default_deadline")]
    pub deadline: PromDuration,
}

fn default_deadline() -> PromDuration {
    PromDuration(300_000)
}

pub use crate::check::{line_of, LoadError, RunbookError};
