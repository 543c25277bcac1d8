//! Zabbix 6.0 under test (Debian's `zabbix-server-pgsql` and
//! `zabbix-frontend-php` 6.0.14) on the local PostgreSQL. The harness creates
//! the database `zabbix_argus_eval` from a once-imported copy of Debian's
//! schema, serves the JSON-RPC API with `php -S` (no web server), builds the
//! objects through the API and only then starts `zabbix_server`, so the
//! server loads everything at start.
//!
//! Per service: one host (agent interface 127.0.0.1, needed by simple
//! checks), a simple check `net.tcp.service[tcp,,PORT]`, a web scenario
//! `health` (GET /health, status 200, body `ok`), and one trigger
//! `last(tcp)=0 or last(web.test.fail[health])<>0`. One action sends every
//! problem and recovery to Admin through a webhook media type whose script
//! posts the flat JSON of Nagios's notification command to the harness.
//!
//! ```text
//! default: items and scenarios every 1m, step timeout 15s, Timeout=3 (simple checks)
//! fast:    every 1s, step timeout 1s, Timeout=1, CacheUpdateFrequency=1
//! both:    StartHTTPPollers = number of services, other processes at their defaults
//! ```

mod api;
mod db;

use super::{free_port, need_binary, Running, Target};
use anyhow::Context;
use api::{configure, wait_first_values, Api};
use std::fmt::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const SERVER: &str = "/usr/sbin/zabbix_server";
const FRONTEND: &str = "/usr/share/zabbix";
/// Debian's frontend reads its configuration from this fixed path
/// (`CConfigFile::CONFIG_FILE_PATH`), whatever directory it is served from.
const FRONTEND_CONF: &str = "/etc/zabbix/zabbix.conf.php";
const MARKER: &str = "argus-lab failures --system zabbix";
/// The marker older versions wrote (when the experiment was `argus eval
/// failures`); a file carrying it is the harness's own too.
const OLD_MARKER: &str = "argus eval failures --system zabbix";
/// The database of a run (dropped and re-created at each start).
pub const DB: &str = "zabbix_argus_eval";
pub(crate) const PG_HOST: &str = "127.0.0.1";
pub(crate) const PG_PORT: &str = "5432";
pub(crate) const PG_USER: &str = "postgres";

/// Item and server settings of one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Update interval of the simple check and the web scenario.
    pub delay: &'static str,
    /// Web scenario step timeout.
    pub step_timeout: &'static str,
    /// Server `Timeout` (simple checks), seconds.
    pub timeout_s: u32,
    /// Server `CacheUpdateFrequency`, seconds.
    pub cache_update_s: u32,
    /// Server `StartHTTPPollers`.
    pub http_pollers: usize,
}

/// The settings for `services` services.
pub fn settings(fast: bool, services: usize) -> Settings {
    let http_pollers = services.clamp(1, 1000);
    if fast {
        Settings {
            delay: "1s",
            step_timeout: "1s",
            timeout_s: 1,
            cache_update_s: 1,
            http_pollers,
        }
    } else {
        Settings {
            delay: "1m",
            step_timeout: "15s",
            timeout_s: 3,
            cache_update_s: 60,
            http_pollers,
        }
    }
}

/// zabbix_server.conf.
pub fn server_conf(t: &Target, s: &Settings, listen_port: u16) -> String {
    let w = |p: &str| t.work.join(p).display().to_string();
    let mut out = String::new();
    for (k, v) in [
        ("ListenIP", "127.0.0.1".to_string()),
        ("ListenPort", listen_port.to_string()),
        ("LogFile", w("zabbix_server.log")),
        ("LogFileSize", "0".into()),
        ("PidFile", w("zabbix_server.pid")),
        ("SocketDir", w("sock")),
        ("AlertScriptsPath", w("alertscripts")),
        ("ExternalScripts", w("externalscripts")),
        ("DBHost", PG_HOST.into()),
        ("DBPort", PG_PORT.into()),
        ("DBName", DB.into()),
        ("DBUser", PG_USER.into()),
        ("AllowRoot", "1".into()),
        ("Timeout", s.timeout_s.to_string()),
        ("CacheUpdateFrequency", s.cache_update_s.to_string()),
        ("StartHTTPPollers", s.http_pollers.to_string()),
    ] {
        let _ = writeln!(out, "{k}={v}");
    }
    out
}

/// The frontend configuration: the database comes from the environment of
/// the PHP process, so one file serves any run.
pub fn frontend_conf() -> String {
    format!(
        "<?php\n// Written by `{MARKER}`: the database comes from the environment\n\
// of the PHP process that serves the API (ARGUS_ZBX_DB_*).\n\
$DB['TYPE'] = 'POSTGRESQL';\n\
$DB['SERVER'] = getenv('ARGUS_ZBX_DB_HOST') ?: '{PG_HOST}';\n\
$DB['PORT'] = getenv('ARGUS_ZBX_DB_PORT') ?: '{PG_PORT}';\n\
$DB['DATABASE'] = getenv('ARGUS_ZBX_DB_NAME') ?: '{DB}';\n\
$DB['USER'] = getenv('ARGUS_ZBX_DB_USER') ?: '{PG_USER}';\n\
$DB['PASSWORD'] = '';\n$DB['SCHEMA'] = '';\n$DB['ENCRYPTION'] = false;\n\
$DB['KEY_FILE'] = '';\n$DB['CERT_FILE'] = '';\n$DB['CA_FILE'] = '';\n\
$DB['VERIFY_HOST'] = false;\n$DB['CIPHER_LIST'] = '';\n$DB['VAULT_URL'] = '';\n\
$DB['VAULT_DB_PATH'] = '';\n$DB['VAULT_TOKEN'] = '';\n$DB['DOUBLE_IEEE754'] = true;\n\
$ZBX_SERVER = '127.0.0.1';\n$ZBX_SERVER_PORT = getenv('ARGUS_ZBX_SERVER_PORT') ?: '10051';\n\
$ZBX_SERVER_NAME = 'argus-eval';\n$IMAGE_FORMAT_DEFAULT = IMAGE_FORMAT_PNG;\n"
    )
}

/// Writes [`frontend_conf`] to /etc/zabbix unless a foreign file is there.
fn install_frontend_conf() -> anyhow::Result<()> {
    let want = frontend_conf();
    match std::fs::read_to_string(FRONTEND_CONF) {
        Ok(s) if s == want => return Ok(()),
        Ok(s) if !s.contains(MARKER) && !s.contains(OLD_MARKER) => anyhow::bail!(
            "{FRONTEND_CONF} exists and was not written by the harness; it would be overwritten \
             (move it away to run --system zabbix)"
        ),
        _ => {}
    }
    if let Some(dir) = Path::new(FRONTEND_CONF).parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("mkdir {}", dir.display()))?;
    }
    std::fs::write(FRONTEND_CONF, want).with_context(|| format!("cannot write {FRONTEND_CONF}"))
}

/// Installs the PHP PostgreSQL module when PHP lacks it.
fn need_php_pgsql(install: bool) -> anyhow::Result<()> {
    let has = || {
        Command::new("php")
            .args(["-r", "exit(function_exists('pg_connect') ? 0 : 1);"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if has() {
        return Ok(());
    }
    anyhow::ensure!(
        install,
        "PHP has no PostgreSQL module; install php8.2-pgsql (or drop --no-install)"
    );
    println!("installing php8.2-pgsql with apt-get (for the Zabbix API)");
    let st = Command::new("apt-get")
        .args([
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            "php8.2-pgsql",
        ])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("cannot run apt-get")?;
    anyhow::ensure!(
        st.success() && has(),
        "installing php8.2-pgsql failed ({st})"
    );
    Ok(())
}

/// A free loopback port for the server's trapper: Zabbix accepts
/// `ListenPort` only in 1024–32767, below Linux's ephemeral range.
fn trapper_port() -> anyhow::Result<u16> {
    let start = 20000 + (std::process::id() % 10000) as u16;
    (0..2000u16)
        .map(|i| 20000 + (start - 20000 + i) % 12000)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .context("no free port in 20000–31999 for zabbix_server's ListenPort")
}

/// Kills the server's whole process group once its main process or the
/// harness is gone: the harness kills the main process only, and Zabbix's
/// children outlive it (reparented to init) when it dies by SIGKILL.
fn spawn_reaper(main_pid: u32) -> anyhow::Result<()> {
    let script = format!(
        "while kill -0 {main_pid} 2>/dev/null && kill -0 {h} 2>/dev/null; do sleep 1; done; \
         kill -s KILL -- -{main_pid} 2>/dev/null; exit 0",
        h = std::process::id()
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .context("cannot start the zabbix_server reaper")?;
    Ok(())
}

/// Spawns `cmd` with its output into `log` (and `envs`), in its own
/// process group when `group` is set.
fn spawn(
    cmd: &str,
    args: &[String],
    envs: &[(&str, String)],
    log: &Path,
    group: bool,
) -> anyhow::Result<tokio::process::Child> {
    let f = std::fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
    let mut c = tokio::process::Command::new(cmd);
    c.args(args)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(f.try_clone()?)
        .stderr(f)
        .kill_on_drop(true);
    if group {
        c.process_group(0);
    }
    c.spawn().with_context(|| format!("cannot start {cmd}"))
}

/// Sets up the database and the API, configures the objects, starts
/// zabbix_server and waits for its first values.
pub async fn start(t: &Target, fast: bool) -> anyhow::Result<Running> {
    need_binary(SERVER, &["zabbix-server-pgsql"], t.install)?;
    // php8.2-cgi satisfies php8.2's web-server SAPI dependency, so apt-get
    // does not pull in Apache.
    need_binary(
        &format!("{FRONTEND}/api_jsonrpc.php"),
        &[
            "zabbix-frontend-php",
            "php8.2-cli",
            "php8.2-cgi",
            "php8.2-pgsql",
        ],
        t.install,
    )?;
    need_binary("php", &["php8.2-cli"], t.install)?;
    need_binary("psql", &["postgresql-client"], t.install)?;
    need_php_pgsql(t.install)?;
    let s = settings(fast, t.services.len());
    for d in ["sock", "alertscripts", "externalscripts"] {
        std::fs::create_dir_all(t.work.join(d))?;
    }
    db::prepare_db()?;
    install_frontend_conf()?;
    let api_port = free_port()?;
    let server_port = trapper_port()?;
    let php = spawn(
        "php",
        &[
            "-S".into(),
            format!("127.0.0.1:{api_port}"),
            "-t".into(),
            FRONTEND.into(),
        ],
        &[
            ("ARGUS_ZBX_DB_HOST", PG_HOST.into()),
            ("ARGUS_ZBX_DB_PORT", PG_PORT.into()),
            ("ARGUS_ZBX_DB_NAME", DB.into()),
            ("ARGUS_ZBX_DB_USER", PG_USER.into()),
            ("ARGUS_ZBX_SERVER_PORT", server_port.to_string()),
        ],
        &t.work.join("php.log"),
        false,
    )?;
    let settings_text = format!(
        "Zabbix 6.0.14 (PostgreSQL, API via php -S): simple check net.tcp.service + web scenario GET /health \
         every {}, step timeout {}, Timeout={}, trigger on either; webhook action; CacheUpdateFrequency={}, \
         StartHTTPPollers={}",
        s.delay, s.step_timeout, s.timeout_s, s.cache_update_s, s.http_pollers
    );
    let mut r = Running {
        children: vec![php],
        settings: settings_text,
    };
    let mut api = Api::new(api_port)?;
    if let Err(e) = api.login(Duration::from_secs(30)).await {
        r.check_alive(&t.work)?;
        return Err(e);
    }
    let group = configure(&api, t, &s).await?;
    let cfg = t.work.join("zabbix_server.conf");
    std::fs::write(&cfg, server_conf(t, &s, server_port))?;
    let server = spawn(
        SERVER,
        &["-f".into(), "-c".into(), cfg.display().to_string()],
        &[("TZ", "UTC".into())],
        &t.work.join("zabbix_server.stdout"),
        true,
    )?;
    if let Some(pid) = server.id() {
        spawn_reaper(pid)?;
    }
    r.children.push(server);
    // The first check of a 1m item falls anywhere in its first minute.
    let limit = Duration::from_secs(if fast { 60 } else { 180 });
    let want = 2 * t.services.len();
    wait_first_values(&api, &mut r, &t.work, &group, want, limit).await?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            services: vec![("svc-01".into(), 18001, "k".into())],
            redis: "127.0.0.1:6379".into(),
            receiver_port: 9,
            work: "/w".into(),
            exe: "/x".into(),
            install: false,
        }
    }

    #[test]
    fn profiles_differ_in_intervals_and_timeouts() {
        let f = settings(true, 50);
        let d = settings(false, 50);
        assert_eq!((f.delay, f.step_timeout, f.timeout_s), ("1s", "1s", 1));
        assert_eq!((d.delay, d.step_timeout, d.timeout_s), ("1m", "15s", 3));
        assert_eq!(f.http_pollers, 50);
        assert_eq!(settings(true, 5000).http_pollers, 1000);
    }

    #[test]
    fn server_conf_names_the_run_files() {
        let c = server_conf(&target(), &settings(true, 1), 10099);
        for line in [
            "ListenPort=10099",
            "PidFile=/w/zabbix_server.pid",
            "DBName=zabbix_argus_eval",
            "CacheUpdateFrequency=1",
            "Timeout=1",
            "AllowRoot=1",
        ] {
            assert!(c.lines().any(|l| l == line), "{line} missing in\n{c}");
        }
    }

    #[test]
    fn trapper_port_is_in_zabbixs_range() {
        let p = trapper_port().expect("a free port");
        assert!((20000..32000).contains(&p), "{p}");
    }

    #[test]
    fn trigger_fires_on_either_check() {
        assert_eq!(
            api::trigger_expression("svc-01", 18001),
            "last(/svc-01/net.tcp.service[tcp,,18001])=0 or last(/svc-01/web.test.fail[health])<>0"
        );
        assert!(frontend_conf().contains(MARKER));
    }
}
