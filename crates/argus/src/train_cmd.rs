//! `argus train`: starts training of a dynamic rule's models through a
//! running server's API (`POST /api/v1/models/train`) and prints the job's
//! progress until it ends. Exit code 1 when nothing could be trained.
//!
//! ```text
//! argus train --server http://127.0.0.1:9797 --rule ApiTrafficDrop --match '{instance="a"}'
//! ```

use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::time::Duration;

/// Arguments of `argus train`.
#[derive(clap::Args)]
pub struct Args {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:9797")]
    server: String,
    /// The dynamic rule's name.
    #[arg(long)]
    rule: String,
    /// Train only the rule's series that also match this selector.
    #[arg(long = "match")]
    matcher: Option<String>,
    /// Give up waiting after this many seconds (the job keeps running).
    #[arg(long, default_value_t = 3600)]
    timeout: u64,
}

/// The `data` of a Prometheus-style envelope, or the error it carries.
async fn data(resp: reqwest::Response, what: &str) -> anyhow::Result<Value> {
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .with_context(|| format!("{what}: the answer ({status}) is not JSON"))?;
    if !status.is_success() || body["status"] != "success" {
        bail!(
            "{what}: {status}: {}",
            body["error"].as_str().unwrap_or("no error message")
        );
    }
    Ok(body["data"].clone())
}

/// Runs `argus train`; returns the process exit code.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(train(args))
}

async fn train(args: Args) -> anyhow::Result<i32> {
    let base = args.server.trim_end_matches('/').to_string();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot build the HTTP client")?;
    let mut body = json!({"rule": args.rule});
    if let Some(m) = &args.matcher {
        body["match"] = json!(m);
    }
    let resp = client
        .post(format!("{base}/api/v1/models/train"))
        .json(&body)
        .send()
        .await
        .with_context(|| format!("cannot reach {base}"))?;
    let id = data(resp, "starting the training").await?["id"]
        .as_u64()
        .context("the answer has no job id")?;
    println!("Training job {id} started for rule {}.", args.rule);
    let started = std::time::Instant::now();
    let mut last = String::new();
    loop {
        let resp = client
            .get(format!("{base}/api/v1/models/train/{id}"))
            .send()
            .await
            .with_context(|| format!("cannot reach {base}"))?;
        let job = data(resp, "reading the job").await?;
        let state = job["state"].as_str().unwrap_or("?").to_string();
        let line = format!(
            "{state}: {}/{} series trained, {} failed",
            job["done"], job["total"], job["failed"]
        );
        if line != last {
            println!("{line}");
            last = line;
        }
        if state == "done" || state == "failed" {
            for e in job["errors"].as_array().into_iter().flatten() {
                println!("  error: {}", e.as_str().unwrap_or(""));
            }
            return Ok(if state == "done" { 0 } else { 1 });
        }
        if started.elapsed() > Duration::from_secs(args.timeout) {
            bail!(
                "job {id} still {state} after {} s; it keeps running on the server",
                args.timeout
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
