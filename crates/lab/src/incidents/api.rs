//! The calls `argus-lab incidents` makes to Argus's HTTP API: incidents,
//! runbook executions, the KPI's training, and the deploy event.
//!
//! ```text
//! GET  /api/argus/v1/incidents?start=…          GET /api/argus/v1/runbooks/executions
//! POST /api/v1/models/train {"rule": …}         POST /api/v1/events (CloudEvents)
//! ```

use super::report::{self, IncidentView};
use anyhow::Context;
use serde_json::Value;
use std::time::Duration;

/// Argus on a loopback port.
pub struct Argus {
    /// The client (10 s timeout).
    pub http: reqwest::Client,
    /// The port.
    pub argus: u16,
}

async fn sleep_s(d: u64) {
    tokio::time::sleep(Duration::from_secs(d)).await
}

impl Argus {
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let url = format!("http://127.0.0.1:{}{path}", self.argus);
        let r = self.http.get(&url).send().await?;
        anyhow::ensure!(r.status().is_success(), "GET {path}: {}", r.status());
        Ok(r.json().await?)
    }

    pub async fn incidents(&self, from_ms: i64) -> Vec<IncidentView> {
        let q = format!("/api/argus/v1/incidents?start={}", from_ms / 1000);
        self.get(&q)
            .await
            .map(|v| report::parse_list(&v))
            .unwrap_or_default()
    }

    /// The runbook executions (empty when Argus has no such API).
    pub async fn executions(&self) -> Vec<Value> {
        let Ok(v) = self.get("/api/argus/v1/runbooks/executions").await else {
            return Vec::new();
        };
        let arr = v
            .pointer("/executions")
            .or_else(|| v.pointer("/data/executions"))
            .or_else(|| v.pointer("/data"));
        arr.and_then(Value::as_array).cloned().unwrap_or_default()
    }

    /// Trains the KPI rule on the history so far (the warm-up: no fault
    /// yet), as `argus train` would, and waits for the job (at most 60 s).
    pub async fn train_kpi(&self) -> anyhow::Result<String> {
        let r = self
            .http
            .post(format!(
                "http://127.0.0.1:{}/api/v1/models/train",
                self.argus
            ))
            .json(&serde_json::json!({"rule": "OrdersDrop"}))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "train: {}", r.status());
        let v: Value = r.json().await?;
        let id = v
            .pointer("/data/id")
            .and_then(Value::as_u64)
            .context("train: no job id")?;
        for _ in 0..60 {
            let j = self.get(&format!("/api/v1/models/train/{id}")).await?;
            let st = j
                .pointer("/data/state")
                .and_then(Value::as_str)
                .unwrap_or("");
            if st == "done" || st == "failed" {
                return Ok(format!(
                    "{st} ({})",
                    j.pointer("/data").map(Value::to_string).unwrap_or_default()
                ));
            }
            sleep_s(1).await;
        }
        anyhow::bail!("training job {id} still running after 60 s")
    }

    /// Waits (at most 60 s) until Argus has no incident left open.
    pub async fn wait_all_resolved(&self) {
        for _ in 0..30 {
            let open = self
                .get("/api/argus/v1/incidents?state=open,acknowledged,mitigated")
                .await
                .map(|v| report::parse_list(&v).len())
                .unwrap_or(0);
            if open == 0 {
                return;
            }
            sleep_s(2).await;
        }
    }

    pub async fn deploy_event(&self, service: &str) -> anyhow::Result<()> {
        let ev = serde_json::json!({
            "specversion": "1.0", "id": format!("lab-{}", chrono::Utc::now().timestamp_millis()), "source": "/argus-lab/ci",
            "type": "com.example.deploy.finished", "subject": service, "service": service,
            "time": chrono::Utc::now().to_rfc3339(), "data": {"version": "2.0.0"},
        });
        let r = self
            .http
            .post(format!("http://127.0.0.1:{}/api/v1/events", self.argus))
            .header("content-type", "application/cloudevents+json")
            .body(ev.to_string())
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "deploy event: {}", r.status());
        Ok(())
    }

    /// Every firing alert of incident `id` is a `RunbookFailed` (and one fires).
    pub async fn only_runbook_failed(&self, id: &str) -> bool {
        let Ok(v) = self.get(&format!("/api/argus/v1/incidents/{id}")).await else {
            return false;
        };
        let firing: Vec<&str> = v
            .pointer("/data/alerts")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|x| x.get("firing").and_then(Value::as_bool) == Some(true))
                    .filter_map(|x| x.pointer("/labels/alertname").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        !firing.is_empty() && firing.iter().all(|n| *n == "RunbookFailed")
    }

    /// Resolves incident `id` as the on-call person would.
    pub async fn resolve(&self, id: &str) {
        let url = format!(
            "http://127.0.0.1:{}/api/argus/v1/incidents/{id}/resolve",
            self.argus
        );
        let r = self
            .http
            .post(url)
            .json(&serde_json::json!({"who": "argus-lab"}))
            .send()
            .await;
        if let Err(e) = r {
            tracing::warn!("resolving incident {id}: {e}");
        }
    }
}
