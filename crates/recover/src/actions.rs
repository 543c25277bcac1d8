//! Running one step's action: its fields rendered from the incident
//! ([`render`], also what a dry run shows), then run with a timeout
//! ([`run`]). Waits are not run here; the executor handles them.
//!
//! ```
//! use argus_recover::actions::{render, Rendered};
//! use argus_recover::config::Step;
//! use argus_recover::matching::Subject;
//! use argus_recover::template::dot;
//! let step: Step = serde_saphyr::from_str("redis_set: {key: 'degrade:{{ .Root.Service }}', value: '1'}").unwrap();
//! let s = Subject { root_service: Some("api".into()), ..Subject::default() };
//! let r = render(&step, &dot(&s, &Default::default(), 1, "degrade")).unwrap();
//! assert!(matches!(&r, Rendered::RedisSet { key, .. } if key == "degrade:api"));
//! ```

use crate::config::{Action, Step};
use crate::template;
use argus_gotmpl::Value;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The most output kept per step.
pub const MAX_OUTPUT: usize = 8 * 1024;

/// A step's action with its templates filled in.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rendered {
    /// `http:`
    Http {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// Headers.
        headers: BTreeMap<String, String>,
        /// Headers read from files at the call (their files, not values).
        header_files: BTreeMap<String, PathBuf>,
        /// Body.
        body: Option<String>,
        /// Statuses that succeed (empty: any 2xx).
        expect: Vec<u16>,
    },
    /// `command:`
    Command {
        /// Executable.
        path: PathBuf,
        /// Arguments.
        args: Vec<String>,
        /// Working directory.
        dir: Option<PathBuf>,
        /// Environment.
        env: BTreeMap<String, String>,
    },
    /// `restart:`
    Restart {
        /// Unit.
        unit: Option<String>,
        /// Process name.
        process: Option<String>,
        /// Pid file.
        pid_file: Option<PathBuf>,
        /// How the process is started again: executable, arguments, directory, environment.
        start: Option<Box<Rendered>>,
    },
    /// `redis_set:`
    RedisSet {
        /// Server.
        url: String,
        /// Key.
        key: String,
        /// Value.
        value: String,
        /// Expiry in milliseconds.
        ttl_ms: Option<i64>,
    },
    /// `nats_kv_put:`
    NatsKvPut {
        /// Server.
        url: String,
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Value.
        value: String,
    },
    /// `wait:`
    Wait {
        /// How long.
        ms: i64,
    },
    /// `wait_until:`
    WaitUntil {
        /// Alert names that must resolve.
        resolved: Vec<String>,
        /// Condition.
        condition: Option<String>,
        /// Deadline in milliseconds.
        deadline_ms: i64,
    },
}

impl Rendered {
    /// As the JSON kept in the journal.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_else(|_| json!({}))
    }
}

/// Fills in `step`'s templates.
pub fn render(step: &Step, dot: &Value) -> Result<Rendered, String> {
    let r = |s: &str| template::render(s, dot).map_err(|e| e.to_string());
    Ok(match step.action()? {
        Action::Http(h) => Rendered::Http {
            method: h.method.to_ascii_uppercase(),
            url: r(&h.url)?,
            headers: h
                .headers
                .iter()
                .map(|(k, v)| Ok((k.clone(), r(v)?)))
                .collect::<Result<_, String>>()?,
            header_files: h.header_files.clone(),
            body: h.body.as_deref().map(r).transpose()?,
            expect: h.expect.clone(),
        },
        Action::Command(c) => Rendered::Command {
            path: c.path.clone(),
            args: c.args.iter().map(|a| r(a)).collect::<Result<_, _>>()?,
            dir: c.dir.clone(),
            env: c
                .env
                .iter()
                .map(|(k, v)| Ok((k.clone(), r(v)?)))
                .collect::<Result<_, String>>()?,
        },
        Action::Restart(u) => Rendered::Restart {
            unit: u.unit.as_deref().map(r).transpose()?,
            process: u.process.as_deref().map(r).transpose()?,
            pid_file: u.pid_file.clone(),
            start: match &u.start {
                Some(c) => Some(Box::new(render(
                    &Step {
                        command: Some(c.clone()),
                        ..Step::default()
                    },
                    dot,
                )?)),
                None => None,
            },
        },
        Action::RedisSet(s) => Rendered::RedisSet {
            url: s.url.clone(),
            key: r(&s.key)?,
            value: r(&s.value)?,
            ttl_ms: s.ttl.map(|d| d.as_millis()),
        },
        Action::NatsKvPut(n) => Rendered::NatsKvPut {
            url: n.url.clone(),
            bucket: n.bucket.clone(),
            key: r(&n.key)?,
            value: r(&n.value)?,
        },
        Action::Wait(d) => Rendered::Wait { ms: d.as_millis() },
        Action::WaitUntil(w) => Rendered::WaitUntil {
            resolved: w.resolved.clone(),
            condition: w.condition.clone(),
            deadline_ms: w.deadline.as_millis(),
        },
    })
}

/// What running needs from the configuration.
#[derive(Debug, Clone)]
pub struct Env {
    /// Allowlisted executables.
    pub commands: Vec<PathBuf>,
    /// The `systemctl` to run.
    pub systemctl: PathBuf,
}

fn cut(mut s: String) -> String {
    if s.len() > MAX_OUTPUT {
        let mut end = MAX_OUTPUT;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str(" …(cut)");
    }
    s
}

/// Runs `r` (not a wait) within `timeout`: `Ok(output)` on success,
/// `Err(why)` otherwise.
pub async fn run(r: &Rendered, env: &Env, timeout: Duration) -> Result<String, String> {
    match tokio::time::timeout(timeout, run_inner(r, env, timeout)).await {
        Ok(res) => res.map(cut).map_err(cut),
        Err(_) => Err(format!("timed out after {} ms", timeout.as_millis())),
    }
}

async fn run_inner(r: &Rendered, env: &Env, timeout: Duration) -> Result<String, String> {
    match r {
        Rendered::Http {
            method,
            url,
            headers,
            header_files,
            body,
            expect,
        } => {
            let client = reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .map_err(|e| e.to_string())?;
            let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
            let mut req = client.request(m, url);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            for (k, f) in header_files {
                let v = std::fs::read_to_string(f)
                    .map_err(|e| format!("header {k}: cannot read {}: {e}", f.display()))?;
                req = req.header(k, v.trim());
            }
            if let Some(b) = body {
                req = req.body(b.clone());
            }
            let resp = req
                .send()
                .await
                .map_err(|e| format!("{method} {url}: {e}"))?;
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            let out = format!("HTTP {status}\n{text}");
            let good = if expect.is_empty() {
                (200..300).contains(&status)
            } else {
                expect.contains(&status)
            };
            if good {
                Ok(out)
            } else {
                Err(out)
            }
        }
        Rendered::Command {
            path,
            args,
            dir,
            env: vars,
        } => {
            if !env.commands.iter().any(|p| p == path) {
                return Err(format!("{} is not an allowed command", path.display()));
            }
            command(path, args, dir.as_ref(), vars).await
        }
        Rendered::Restart {
            unit: Some(unit), ..
        } => {
            let none = BTreeMap::new();
            let sc = &env.systemctl;
            let out = command(sc, &["restart".into(), unit.clone()], None, &none).await?;
            let active = command(sc, &["is-active".into(), unit.clone()], None, &none)
                .await
                .map_err(|e| format!("{unit} is not active after the restart: {e}"))?;
            Ok(format!("{out}{active}"))
        }
        Rendered::Restart {
            process,
            pid_file,
            start,
            ..
        } => {
            let which = crate::process::Which::new(process.as_deref(), pid_file.as_deref())?;
            let start = match start.as_deref() {
                Some(Rendered::Command {
                    path,
                    args,
                    dir,
                    env: vars,
                }) => {
                    if !env.commands.iter().any(|p| p == path) {
                        return Err(format!("{} is not an allowed command", path.display()));
                    }
                    Some((path.clone(), args.clone(), dir.clone(), vars.clone()))
                }
                _ => None,
            };
            crate::process::restart(&which, start, timeout.mul_f64(0.9)).await
        }
        Rendered::RedisSet {
            url,
            key,
            value,
            ttl_ms,
        } => {
            let client = redis::Client::open(url.as_str()).map_err(|e| e.to_string())?;
            let mut con = client
                .get_multiplexed_async_connection()
                .await
                .map_err(|e| format!("redis {url}: {e}"))?;
            let mut cmd = redis::cmd("SET");
            cmd.arg(key).arg(value);
            if let Some(ms) = ttl_ms {
                cmd.arg("PX").arg(*ms);
            }
            let reply: String = cmd
                .query_async(&mut con)
                .await
                .map_err(|e| format!("redis SET {key}: {e}"))?;
            Ok(format!("SET {key} = {value}: {reply}"))
        }
        Rendered::NatsKvPut {
            url,
            bucket,
            key,
            value,
        } => {
            let client = async_nats::connect(url.as_str())
                .await
                .map_err(|e| format!("nats {url}: {e}"))?;
            let js = async_nats::jetstream::new(client);
            let kv = js
                .get_key_value(bucket.as_str())
                .await
                .map_err(|e| format!("bucket {bucket}: {e}"))?;
            let rev = kv
                .put(key.as_str(), value.clone().into_bytes().into())
                .await
                .map_err(|e| format!("put {bucket}/{key}: {e}"))?;
            Ok(format!("{bucket}/{key} = {value} (revision {rev})"))
        }
        Rendered::Wait { .. } | Rendered::WaitUntil { .. } => {
            Err("waits are run by the executor".into())
        }
    }
}

async fn command(
    path: &PathBuf,
    args: &[String],
    dir: Option<&PathBuf>,
    vars: &BTreeMap<String, String>,
) -> Result<String, String> {
    let mut c = tokio::process::Command::new(path);
    c.args(args)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("LANG", "C.UTF-8")
        .envs(vars)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(d) = dir {
        c.current_dir(d);
    }
    let out = c
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    if !err.is_empty() {
        text.push_str(&err);
    }
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "{} exited with {}\n{text}",
            path.display(),
            out.status
        ))
    }
}
