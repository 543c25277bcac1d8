//! The webhook receiver inside the harness. It records every alert of every
//! notification with its arrival time.
//!
//! ```text
//! POST /alertmanager   Alertmanager webhook v4 JSON (Argus, Alertmanager)
//! POST /nagios         {"service":"svc-01","type":"PROBLEM","state":"CRITICAL","since":1700000000}
//! ```
//! Nagios's `since` is `$LASTSERVICESTATECHANGE$` (seconds); it plays the
//! role of Alertmanager's `startsAt`.

use super::analysis::Notice;
use argus_model::Clock;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use std::sync::{Arc, Mutex};

/// What the receiver shares with the harness.
#[derive(Clone)]
pub struct Receiver {
    notices: Arc<Mutex<Vec<Notice>>>,
    clock: Arc<dyn Clock>,
    /// The bound port.
    pub port: u16,
}

impl Receiver {
    /// Binds 127.0.0.1:0 and serves until the runtime ends.
    pub async fn start(clock: Arc<dyn Clock>) -> anyhow::Result<Receiver> {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = l.local_addr()?.port();
        let r = Receiver {
            notices: Arc::new(Mutex::new(Vec::new())),
            clock,
            port,
        };
        let app = Router::new()
            .route("/alertmanager", post(alertmanager))
            .route("/nagios", post(nagios))
            .with_state(r.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(l, app).await {
                tracing::error!("webhook receiver stopped: {e}");
            }
        });
        Ok(r)
    }

    /// Everything received so far.
    pub fn notices(&self) -> Vec<Notice> {
        self.notices.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Forgets everything received so far (between systems).
    pub fn clear(&self) {
        if let Ok(mut v) = self.notices.lock() {
            v.clear();
        }
    }

    fn push(&self, n: Vec<Notice>) {
        if let Ok(mut v) = self.notices.lock() {
            v.extend(n);
        }
    }
}

fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
        .filter(|&ms| ms > 0)
}

/// Alerts out of one Alertmanager webhook v4 body.
pub fn parse_alertmanager(v: &serde_json::Value, arrival_ms: i64) -> Vec<Notice> {
    let Some(alerts) = v.get("alerts").and_then(|a| a.as_array()) else {
        return Vec::new();
    };
    alerts
        .iter()
        .map(|a| {
            let label = |k: &str| a.pointer(&format!("/labels/{k}")).and_then(|x| x.as_str());
            Notice {
                arrival_ms,
                service: label("service").map(str::to_string),
                alertname: label("alertname").unwrap_or("").to_string(),
                firing: a.get("status").and_then(|s| s.as_str()) == Some("firing"),
                starts_ms: a
                    .get("startsAt")
                    .and_then(|s| s.as_str())
                    .and_then(parse_rfc3339_ms),
            }
        })
        .collect()
}

async fn alertmanager(State(r): State<Receiver>, Json(v): Json<serde_json::Value>) -> StatusCode {
    let now = r.clock.now_ms();
    r.push(parse_alertmanager(&v, now));
    StatusCode::OK
}

async fn nagios(State(r): State<Receiver>, Json(v): Json<serde_json::Value>) -> StatusCode {
    let now = r.clock.now_ms();
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("");
    let kind = s("type");
    r.push(vec![Notice {
        arrival_ms: now,
        service: Some(s("service").to_string()).filter(|x| !x.is_empty()),
        alertname: format!("nagios {}", s("state")),
        firing: kind == "PROBLEM",
        starts_ms: v.get("since").and_then(|x| x.as_i64()).map(|x| x * 1000),
    }]);
    StatusCode::OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_webhook_v4_alerts() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"version":"4","status":"firing","alerts":[
              {"status":"firing","labels":{"alertname":"ServiceDown","service":"svc-03"},"startsAt":"2024-01-01T00:00:01.5Z"},
              {"status":"resolved","labels":{"alertname":"HeartbeatStoreDown"},"startsAt":"0001-01-01T00:00:00Z"}]}"#,
        )
        .expect("json");
        let n = parse_alertmanager(&v, 42);
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].service.as_deref(), Some("svc-03"));
        assert!(n[0].firing);
        assert_eq!(n[0].starts_ms, Some(1_704_067_201_500));
        assert_eq!(n[1].service, None);
        assert!(!n[1].firing);
        assert_eq!(n[1].starts_ms, None);
        assert_eq!(n[1].arrival_ms, 42);
    }
}
