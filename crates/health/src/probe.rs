//! Active probes: HTTP(S) (status, body regex, TLS, timeout), TCP connect, and
//! process present (by name or pid file), each attempt bounded by the probe's
//! timeout and repeated `retries` more times before the probe counts as failed.
//!
//! ```no_run
//! # async fn f() -> Result<(), argus_health::HealthError> {
//! use argus_health::probe::Prober;
//! let cfg: argus_health::ProbeConfig = serde_json::from_value(serde_json::json!(
//!     {"type": "tcp", "address": "127.0.0.1:6379", "timeout": "500ms", "retries": 1}
//! )).unwrap();
//! let outcome = Prober::new(&cfg)?.probe().await;
//! println!("{} after {} attempts", outcome.success, outcome.attempts);
//! # Ok(()) }
//! ```

use crate::config::{ProbeConfig, ProbeType};
use crate::HealthError;
use std::time::{Duration, Instant};

/// Most bytes of an HTTP body read (and matched).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The result of one probe (all its attempts).
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeOutcome {
    /// Whether an attempt succeeded.
    pub success: bool,
    /// Seconds the last attempt took.
    pub duration_s: f64,
    /// Attempts made (1 + retries used).
    pub attempts: u32,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

#[derive(Debug)]
enum Kind {
    Http {
        client: reqwest::Client,
        url: String,
        expect_status: Option<u16>,
        body: Option<regex::Regex>,
    },
    Tcp {
        address: String,
    },
    ProcessName(String),
    PidFile(String),
}

/// A probe built from its config, ready to run repeatedly.
#[derive(Debug)]
pub struct Prober {
    kind: Kind,
    timeout: Duration,
    retries: u32,
}

impl Prober {
    /// Builds the probe (HTTP client, regex). The config must have passed
    /// [`crate::HealthConfig::validate`]; missing keys are errors here too.
    pub fn new(cfg: &ProbeConfig) -> Result<Prober, HealthError> {
        let bad = |m: String| HealthError::Probe(format!("{} probe: {m}", cfg.kind.as_str()));
        let timeout = cfg.timeout.to_std();
        let kind = match cfg.kind {
            ProbeType::Http => {
                let url = cfg.url.clone().ok_or_else(|| bad("no url".into()))?;
                let client = reqwest::Client::builder()
                    .timeout(timeout)
                    .connect_timeout(timeout)
                    // A fresh connection each time, like a blackbox prober:
                    // a port that stops accepting must fail the probe.
                    .pool_max_idle_per_host(0)
                    .danger_accept_invalid_certs(cfg.tls_insecure_skip_verify)
                    .user_agent("argus-health-probe")
                    .build()
                    .map_err(|e| bad(format!("cannot build the HTTP client: {e}")))?;
                let body = match &cfg.body_match {
                    Some(re) => Some(
                        regex::Regex::new(re)
                            .map_err(|e| bad(format!("body_match {re:?}: {e}")))?,
                    ),
                    None => None,
                };
                Kind::Http {
                    client,
                    url,
                    expect_status: cfg.expect_status,
                    body,
                }
            }
            ProbeType::Tcp => Kind::Tcp {
                address: cfg
                    .address
                    .clone()
                    .ok_or_else(|| bad("no address".into()))?,
            },
            ProbeType::Process => match (&cfg.name, &cfg.pid_file) {
                (Some(n), _) => Kind::ProcessName(n.clone()),
                (None, Some(p)) => Kind::PidFile(p.clone()),
                (None, None) => return Err(bad("neither name nor pid_file".into())),
            },
        };
        Ok(Prober {
            kind,
            timeout,
            retries: cfg.retries,
        })
    }

    /// Runs attempts until one succeeds or `1 + retries` have failed.
    pub async fn probe(&self) -> ProbeOutcome {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let started = Instant::now();
            let res = match tokio::time::timeout(self.timeout, self.attempt()).await {
                Ok(r) => r,
                Err(_) => Err(format!("timed out after {:?}", self.timeout)),
            };
            let duration_s = started.elapsed().as_secs_f64();
            match res {
                Ok(()) => {
                    return ProbeOutcome {
                        success: true,
                        duration_s,
                        attempts,
                        error: None,
                    }
                }
                Err(e) if attempts > self.retries => {
                    return ProbeOutcome {
                        success: false,
                        duration_s,
                        attempts,
                        error: Some(e),
                    }
                }
                Err(_) => {}
            }
        }
    }

    async fn attempt(&self) -> Result<(), String> {
        match &self.kind {
            Kind::Http {
                client,
                url,
                expect_status,
                body,
            } => http_attempt(client, url, *expect_status, body.as_ref()).await,
            Kind::Tcp { address } => tokio::net::TcpStream::connect(address.as_str())
                .await
                .map(drop)
                .map_err(|e| format!("cannot connect to {address}: {e}")),
            Kind::ProcessName(n) => {
                let n = n.clone();
                blocking(move || {
                    if process_by_name(&n) {
                        Ok(())
                    } else {
                        Err(format!("no process named {n:?}"))
                    }
                })
                .await
            }
            Kind::PidFile(p) => {
                let p = p.clone();
                blocking(move || process_by_pid_file(&p)).await
            }
        }
    }
}

async fn blocking(f: impl FnOnce() -> Result<(), String> + Send + 'static) -> Result<(), String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("probe task failed: {e}"))?
}

async fn http_attempt(
    client: &reqwest::Client,
    url: &str,
    expect_status: Option<u16>,
    body_re: Option<&regex::Regex>,
) -> Result<(), String> {
    let mut resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {}", error_chain(&e)))?;
    let status = resp.status().as_u16();
    // Read the body (bounded) even when not matched: a response that is slow
    // to finish is a slow response.
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("GET {url}: reading the body: {}", error_chain(&e)))?
    {
        let room = MAX_BODY_BYTES - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_BODY_BYTES {
            break;
        }
    }
    let ok_status = match expect_status {
        Some(want) => status == want,
        None => (200..300).contains(&status),
    };
    if !ok_status {
        let want = expect_status.map_or("2xx".to_string(), |s| s.to_string());
        return Err(format!("GET {url}: status {status}, expected {want}"));
    }
    if let Some(re) = body_re {
        let text = String::from_utf8_lossy(&body);
        if !re.is_match(&text) {
            return Err(format!(
                "GET {url}: the body does not match {:?}",
                re.as_str()
            ));
        }
    }
    Ok(())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Whether `/proc/<pid>` is a live (not zombie) process.
fn alive(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the last ')' (the command may contain parentheses).
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Whether a live process has `name` as its `comm` (which the kernel cuts at
/// 15 bytes) or as the file name of its `argv[0]`.
pub fn process_by_name(name: &str) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    for entry in dir.flatten() {
        let file = entry.file_name();
        let Some(pid) = file
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let hit = (name.len() <= 15 && comm.trim_end_matches('\n') == name) || argv0_is(pid, name);
        if hit && alive(pid) {
            return true;
        }
    }
    false
}

fn argv0_is(pid: &str, name: &str) -> bool {
    let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let argv0 = cmd.split(|&b| b == 0).next().unwrap_or(&[]);
    let base = argv0.rsplit(|&b| b == b'/').next().unwrap_or(argv0);
    base == name.as_bytes()
}

/// Whether the pid in `path` is a live process.
pub fn process_by_pid_file(path: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("pid file {path}: {e}"))?;
    let pid = text.trim();
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("pid file {path}: {pid:?} is not a pid"));
    }
    if alive(pid) {
        Ok(())
    } else {
        Err(format!("pid file {path}: process {pid} is not running"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_found_by_name_and_pid_file() {
        let me = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert!(process_by_name(me.trim()));
        assert!(!process_by_name("argus-no-such-process-name-xyz"));
        let dir = std::env::temp_dir().join(format!("argus-health-pid-{}", std::process::id()));
        std::fs::write(&dir, format!("{}\n", std::process::id())).unwrap();
        assert_eq!(process_by_pid_file(dir.to_str().unwrap()), Ok(()));
        std::fs::write(&dir, "not-a-pid").unwrap();
        assert!(process_by_pid_file(dir.to_str().unwrap())
            .unwrap_err()
            .contains("is not a pid"));
        let _ = std::fs::remove_file(&dir);
        assert!(process_by_pid_file("/nonexistent/argus.pid").is_err());
    }
}
