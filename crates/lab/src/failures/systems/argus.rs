//! Argus under test: `argus server` with a generated configuration holding
//! the agreed `health:` section (one Redis heartbeat and one HTTP probe per
//! service, both 1 s) and an Alertmanager-style route to the harness's
//! webhook with `group_wait: 0s`.
//!
//! ```text
//! health:
//!   redis_url: redis://127.0.0.1:6379
//!   services:
//!     - name: svc-01
//!       heartbeat: { source: redis, key: argus-eval-123:hb:svc-01, interval: 1s }
//!       probes: [ { type: http, url: http://127.0.0.1:18001/health, ... } ]
//! ```

use super::{free_port, spawn_logged, wait_ready, Running, Target};
use std::fmt::Write as _;
use std::time::Duration;

/// The generated `argus.yml` text.
pub fn config_text(t: &Target) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "health:\n  redis_url: redis://{}\n  services:", t.redis);
    for (name, port, key) in &t.services {
        let _ = writeln!(
            s,
            "    - name: {name}\n      heartbeat: {{ source: redis, key: \"{key}\", interval: 1s }}\n      probes:\n        - {{ type: http, url: \"http://127.0.0.1:{port}/health\", expect_status: 200, body_match: \"ok\", interval: 1s, timeout: 500ms, retries: 0 }}"
        );
    }
    s.push_str("alerting:\n  config_file: alertmanager.yml\n");
    s
}

/// The generated notification routing (Alertmanager format).
pub fn alerting_text(receiver_port: u16) -> String {
    format!(
        "route:\n  receiver: hook\n  group_by: [alertname, service]\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 24h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: http://127.0.0.1:{receiver_port}/alertmanager\n        send_resolved: true\nargus:\n  flap_damping:\n    enabled: false\n"
    )
}

/// Writes the configuration and starts `argus server`.
pub async fn start(t: &Target) -> anyhow::Result<Running> {
    std::fs::write(t.work.join("argus.yml"), config_text(t))?;
    std::fs::write(
        t.work.join("alertmanager.yml"),
        alerting_text(t.receiver_port),
    )?;
    let port = free_port()?;
    let data = t.work.join("data");
    std::fs::create_dir_all(&data)?;
    let args: Vec<String> = vec![
        "server".into(),
        "--data-dir".into(),
        data.display().to_string(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--config".into(),
        t.work.join("argus.yml").display().to_string(),
    ];
    let child = spawn_logged(&t.exe, &args, &t.work.join("argus.log"))?;
    let mut r = Running {
        children: vec![child],
        settings: "argus server; health: redis heartbeat interval 1s + http probe 1s (timeout 500ms, retries 0); route group_wait 0s, group_interval 1s, repeat 24h; flap damping off (as Nagios flap detection is)".into(),
    };
    if let Err(e) = wait_ready(port, "/-/ready", Duration::from_secs(60), "argus").await {
        r.check_alive(&t.work)?;
        return Err(e);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_config_is_accepted_by_the_server() {
        let t = Target {
            services: vec![
                ("svc-01".into(), 18001, "argus-eval-1:hb:svc-01".into()),
                ("svc-02".into(), 18002, "argus-eval-1:hb:svc-02".into()),
            ],
            redis: "127.0.0.1:6379".into(),
            receiver_port: 9,
            work: std::env::temp_dir(),
            exe: "argus".into(),
            install: false,
        };
        let text = config_text(&t);
        if let Err(e) = argus_server::config::Config::from_yaml_str(&text, "argus.yml") {
            panic!("the server rejects the generated config: {e}\n{text}");
        }
        assert!(alerting_text(9).contains("group_wait: 0s"));
    }
}
