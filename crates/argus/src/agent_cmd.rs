//! `argus agent`: serves the host's metrics on `/metrics` (Prometheus text or
//! OpenMetrics by the Accept header) and, with `--push-url`, pushes them by
//! remote_write through an on-disk buffer.

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

/// Flags of `argus agent`.
#[derive(Args)]
pub struct AgentArgs {
    /// HTTP listen address for /metrics.
    #[arg(long, default_value = "127.0.0.1:9798")]
    listen: SocketAddr,
    /// YAML file with the agent's settings (collectors, processes, push).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Push to this remote_write URL as well (e.g. http://127.0.0.1:9797/api/v1/write).
    #[arg(long)]
    push_url: Option<String>,
    /// Directory of the push buffer.
    #[arg(long, default_value = "./agent-buffer")]
    buffer_dir: PathBuf,
}

type Shared = Arc<parking_lot::Mutex<Agent>>;

async fn metrics(State(agent): State<Shared>, headers: HeaderMap) -> impl IntoResponse {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = argus_collect::negotiate(accept);
    let a = agent.clone();
    let body = tokio::task::spawn_blocking(move || a.lock().render(format))
        .await
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, format.content_type())], body)
}

/// Runs the agent until SIGINT/SIGTERM.
pub fn run(args: AgentArgs) -> anyhow::Result<()> {
    let cfg: AgentConfig = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read agent config {}", p.display()))?;
            AgentConfig::from_yaml_str(&text)
                .with_context(|| format!("invalid agent config {}", p.display()))?
        }
        None => AgentConfig::default(),
    };
    let clock: Arc<dyn argus_model::Clock> = Arc::new(argus_model::SystemClock);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let agent = Agent::new(cfg.clone(), clock.clone()).context("cannot start the agent")?;
        let shared: Shared = Arc::new(parking_lot::Mutex::new(agent));
        let pusher = match &args.push_url {
            Some(url) => Some(
                argus_collect::Pusher::start(
                    url.clone(),
                    args.buffer_dir.clone(),
                    shared.clone(),
                    clock.clone(),
                )
                .context("cannot start the push loop")?,
            ),
            None => None,
        };
        let app = axum::Router::new()
            .route("/metrics", get(metrics))
            .route("/-/healthy", get(|| async { "Argus agent is Healthy.\n" }))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        tracing::info!(listen = %args.listen, "The Argus agent is serving /metrics.");
        axum::serve(listener, app)
            .with_graceful_shutdown(crate::shutdown_signal())
            .await
            .context("the agent's http server failed")?;
        if let Some(p) = pusher {
            p.shutdown().await;
        }
        Ok(())
    })
}
