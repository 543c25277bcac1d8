//! Nagios 4 under test (Debian's `nagios4-core`, plugins from
//! `monitoring-plugins-basic`). One host per service (no host checks) and one
//! `check_http` service check of `/health` expecting `ok`; a notification
//! command posts JSON to the harness with curl. `check_http` covers the TCP
//! connect as well (a refused port fails it), so no separate `check_tcp`.
//!
//! ```text
//! default: interval_length 60, check_interval 10, retry_interval 2,
//!          max_check_attempts 3, check_http -t 10 (Debian's generic-service)
//! fast:    interval_length 1, check_interval 1, retry_interval 1,
//!          max_check_attempts 1, check_http -t 1, reaper 1s, no flap detection
//! ```

use super::{need_binary, spawn_logged, Running, Target};
use std::fmt::Write as _;
use std::time::Duration;

const PLUGINS: &str = "/usr/lib/nagios/plugins";

/// The object definitions.
pub fn objects_cfg(t: &Target, fast: bool) -> String {
    let (ci, ri, att, to, ni) = if fast {
        (1, 1, 1, 1, 0)
    } else {
        (10, 2, 3, 10, 60)
    };
    let mut s = format!(
        "define timeperiod {{\n  timeperiod_name always\n  alias always\n  sunday 00:00-24:00\n  monday 00:00-24:00\n  tuesday 00:00-24:00\n  wednesday 00:00-24:00\n  thursday 00:00-24:00\n  friday 00:00-24:00\n  saturday 00:00-24:00\n}}\n\
define command {{\n  command_name check_svc\n  command_line {PLUGINS}/check_http -H 127.0.0.1 -p $ARG1$ -u /health -e 200 -s ok -t {to}\n}}\n\
define command {{\n  command_name host_noop\n  command_line /bin/true\n}}\n\
define command {{\n  command_name notify_hook\n  command_line /usr/bin/curl -s -m 5 -H 'Content-Type: application/json' -d '{{\"service\":\"$HOSTNAME$\",\"type\":\"$NOTIFICATIONTYPE$\",\"state\":\"$SERVICESTATE$\",\"since\":$LASTSERVICESTATECHANGE$}}' http://127.0.0.1:{rp}/nagios\n}}\n\
define contact {{\n  contact_name hook\n  service_notification_period always\n  host_notification_period always\n  service_notification_options w,u,c,r\n  host_notification_options n\n  service_notification_commands notify_hook\n  host_notification_commands notify_hook\n}}\n",
        rp = t.receiver_port
    );
    for (name, port, _) in &t.services {
        let _ = write!(
            s,
            "define host {{\n  host_name {name}\n  address 127.0.0.1\n  check_command host_noop\n  max_check_attempts 1\n  check_period always\n  active_checks_enabled 0\n  contacts hook\n  notification_period always\n  notifications_enabled 0\n}}\n\
define service {{\n  host_name {name}\n  service_description health\n  check_command check_svc!{port}\n  max_check_attempts {att}\n  check_interval {ci}\n  retry_interval {ri}\n  check_period always\n  notification_period always\n  notification_interval {ni}\n  notification_options w,u,c,r\n  contacts hook\n  flap_detection_enabled {flap}\n}}\n",
            flap = if fast { 0 } else { 1 }
        );
    }
    s
}

/// nagios.cfg.
pub fn main_cfg(t: &Target, fast: bool) -> String {
    let w = |p: &str| t.work.join(p).display().to_string();
    let mut s = String::new();
    for (k, v) in [
        ("log_file", w("nagios.log")),
        ("cfg_file", w("objects.cfg")),
        ("object_cache_file", w("objects.cache")),
        ("precached_object_file", w("objects.precache")),
        ("status_file", w("status.dat")),
        ("lock_file", w("nagios.lock")),
        ("temp_file", w("nagios.tmp")),
        ("temp_path", w("tmp")),
        ("check_result_path", w("checkresults")),
        ("state_retention_file", w("retention.dat")),
        ("query_socket", w("nagios.qh")),
        ("debug_file", w("nagios.debug")),
        ("nagios_user", "nagios".into()),
        ("nagios_group", "nagios".into()),
        ("check_external_commands", "0".into()),
        ("retain_state_information", "0".into()),
        ("use_syslog", "0".into()),
        ("enable_notifications", "1".into()),
        ("execute_service_checks", "1".into()),
        ("enable_flap_detection", if fast { "0" } else { "1" }.into()),
        ("interval_length", if fast { "1" } else { "60" }.into()),
        (
            "check_result_reaper_frequency",
            if fast { "1" } else { "10" }.into(),
        ),
        // Spread the first checks over at most one interval so the run can start.
        ("max_service_check_spread", "1".into()),
        ("illegal_macro_output_chars", "`~$&|'\"<>".into()),
    ] {
        let _ = writeln!(s, "{k}={v}");
    }
    s
}

/// Writes the configuration, verifies it with `nagios4 -v` and starts Nagios.
pub async fn start(t: &Target, fast: bool) -> anyhow::Result<Running> {
    let bin = need_binary("/usr/sbin/nagios4", &["nagios4-core"], t.install)?;
    need_binary(
        &format!("{PLUGINS}/check_http"),
        &["monitoring-plugins-basic"],
        t.install,
    )?;
    need_binary("curl", &["curl"], t.install)?;
    for d in ["tmp", "checkresults"] {
        std::fs::create_dir_all(t.work.join(d))?;
    }
    std::fs::write(t.work.join("objects.cfg"), objects_cfg(t, fast))?;
    let cfg = t.work.join("nagios.cfg");
    std::fs::write(&cfg, main_cfg(t, fast))?;
    // Nagios drops to the nagios user: it must own its working files.
    let st = std::process::Command::new("chown")
        .args(["-R", "nagios:nagios"])
        .arg(&t.work)
        .status()?;
    anyhow::ensure!(
        st.success(),
        "chown -R nagios:nagios {} failed",
        t.work.display()
    );
    let v = std::process::Command::new(&bin)
        .arg("-v")
        .arg(&cfg)
        .output()?;
    anyhow::ensure!(
        v.status.success(),
        "nagios4 -v {} rejected the configuration:\n{}",
        cfg.display(),
        String::from_utf8_lossy(&v.stdout)
    );
    let child = spawn_logged(
        &bin,
        &[cfg.display().to_string()],
        &t.work.join("nagios.stdout"),
    )?;
    let mut r = Running {
        children: vec![child],
        settings: if fast {
            "Nagios 4.4.6, interval_length 1: check_interval 1, retry_interval 1, max_check_attempts 1, check_http -t 1, reaper 1s, flap detection off, notification_interval 0".into()
        } else {
            "Nagios 4.4.6, Debian generic-service: check_interval 10m, retry_interval 2m, max_check_attempts 3, check_http -t 10, flap detection on, notification_interval 60m".into()
        },
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    r.check_alive(&t.work)?;
    Ok(r)
}
