//! `argus agent`: serves the host's metrics on `/metrics` (Prometheus text or
//! OpenMetrics by the Accept header) and, with `--push-url`, pushes them by
//! remote_write through an on-disk buffer, and, with `logs:` in its file, tails
//! log files and ships their lines to the server through another.

use anyhow::Context;
use argus_collect::{Agent, AgentConfig};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::routing::get;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Flags of `argus agent`. Flags override the config file.
#[derive(Args)]
pub struct AgentArgs {
    /// HTTP listen address for /metrics. Default `127.0.0.1:9798` (or the file's `listen`).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// YAML file with the agent's settings (collectors, processes, push, logs).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Push to this remote_write URL as well (e.g. http://127.0.0.1:9797/api/v1/write).
    #[arg(long)]
    push_url: Option<String>,
    /// Directory of the push buffer (and, under `logs/`, of the log tailer's state).
    #[arg(long, default_value = "./agent-buffer")]
    buffer_dir: PathBuf,
    #[command(flatten)]
    pub log: crate::logging::LogArgs,
}

type Shared = Arc<Agent>;

async fn metrics(State(agent): State<Shared>, headers: HeaderMap) -> impl IntoResponse {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = argus_collect::negotiate(accept);
    let body = tokio::task::spawn_blocking(move || agent.render(format))
        .await
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, format.content_type())], body)
}

/// Reads the agent's YAML settings; unknown keys are named with their line.
pub fn load_config(path: &std::path::Path) -> anyhow::Result<AgentConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read agent config {}", path.display()))?;
    if text.trim().is_empty() {
        return Ok(AgentConfig::default());
    }
    serde_saphyr::from_str(&text)
        .map_err(|e| anyhow::anyhow!("invalid agent config {}: {e}", path.display()))
}

/// The `job` label of pushed series unless `push.extra_labels` sets one.
pub const DEFAULT_JOB: &str = "argus-agent";

/// Gives pushed series `job` and `instance` labels (unless the config's
/// `push.extra_labels` sets them), so that the agents of a fleet pushing to
/// one server each write their own series.
fn add_identity(extra: &mut std::collections::BTreeMap<String, String>, host: &str) {
    extra
        .entry("job".into())
        .or_insert_with(|| DEFAULT_JOB.into());
    extra
        .entry("instance".into())
        .or_insert_with(|| host.into());
}

/// Runs the agent until SIGINT/SIGTERM.
pub fn run(args: AgentArgs) -> anyhow::Result<()> {
    let mut cfg = match &args.config {
        Some(p) => load_config(p)?,
        None => AgentConfig::default(),
    };
    if let Some(url) = &args.push_url {
        cfg.push = Some(argus_collect::PushConfig::new(
            url.clone(),
            args.buffer_dir.clone(),
        ));
    }
    if let Some(push) = cfg.push.as_mut() {
        add_identity(&mut push.extra_labels, &argus_model::host::hostname());
    }
    if let Some(logs) = cfg.logs.as_mut() {
        logs.state_dir
            .get_or_insert_with(|| args.buffer_dir.join("logs"));
    }
    let listen: SocketAddr = match args.listen {
        Some(l) => l,
        None => cfg.listen.parse().with_context(|| {
            format!(
                "invalid listen address {:?} in the agent config",
                cfg.listen
            )
        })?,
    };
    let clock: Arc<dyn argus_model::Clock> = Arc::new(argus_model::SystemClock);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(4)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let push_cfg = cfg.push.clone();
        let logs_cfg = cfg.logs.clone();
        let agent: Shared =
            Arc::new(Agent::new(cfg, clock.clone()).context("cannot start the agent")?);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let pusher = match push_cfg {
            Some(pc) => {
                let p = argus_collect::Pusher::new(pc, agent.clone(), clock.clone())
                    .context("cannot start the push loop")?;
                agent.attach_push_stats(p.stats());
                let mut rx = stop_rx.clone();
                Some(tokio::spawn(p.run(async move {
                    let _ = rx.wait_for(|v| *v).await;
                })))
            }
            None => None,
        };
        let shipper = match logs_cfg {
            Some(lc) => {
                let s =
                    argus_collect::tail::LogShipper::new(lc).context("cannot start log tailing")?;
                agent.attach_log_stats(s.stats());
                let mut rx = stop_rx.clone();
                Some(tokio::spawn(s.run(async move {
                    let _ = rx.wait_for(|v| *v).await;
                })))
            }
            None => None,
        };
        let app = axum::Router::new()
            .route("/metrics", get(metrics))
            .route("/-/healthy", get(|| async { "Argus agent is Healthy.\n" }))
            .with_state(agent);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        tracing::info!(listen = %listen, "The Argus agent is serving /metrics.");
        axum::serve(listener, app)
            .with_graceful_shutdown(crate::shutdown_signal())
            .await
            .context("the agent's http server failed")?;
        let _ = stop_tx.send(true);
        if let Some(p) = pusher {
            let _ = p.await;
        }
        if let Some(s) = shipper {
            let _ = s.await;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn pushed_series_get_a_job_and_an_instance_unless_configured() {
        let mut extra = BTreeMap::new();
        add_identity(&mut extra, "web-1");
        assert_eq!(extra["job"], "argus-agent");
        assert_eq!(extra["instance"], "web-1");
        let mut extra = BTreeMap::from([("job".to_string(), "edge".to_string())]);
        add_identity(&mut extra, "web-2");
        assert_eq!(
            (extra["job"].as_str(), extra["instance"].as_str()),
            ("edge", "web-2")
        );
        assert!(!argus_model::host::hostname().is_empty());
    }
}
