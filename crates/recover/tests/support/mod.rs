//! Shared pieces of the recovery tests: a host whose answers the test sets,
//! a real HTTP server that records what it is sent, and a driver that ticks
//! the executor with a manual clock.

#![allow(dead_code)]

use argus_model::ManualClock;
use argus_recover::exec::Execution;
use argus_recover::matching::Subject;
use argus_recover::{Host, RecoverConfig, RecoverService};
use futures::future::BoxFuture;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Answers as the test says; records every change it is told of.
#[derive(Debug, Default)]
pub struct TestHost {
    pub firing: AtomicBool,
    pub condition: AtomicBool,
    pub changes: Mutex<Vec<(u64, String)>>,
}

impl Host for TestHost {
    fn firing<'a>(
        &'a self,
        _incident: u64,
        _names: &'a [String],
    ) -> BoxFuture<'a, Result<bool, String>> {
        let v = self.firing.load(Ordering::SeqCst);
        Box::pin(async move { Ok(v) })
    }
    fn holds<'a>(&'a self, _expr: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        let v = self.condition.load(Ordering::SeqCst);
        Box::pin(async move { Ok(v) })
    }
    fn changed(&self, e: &Execution) {
        self.changes
            .lock()
            .push((e.id, e.state.as_str().to_string()));
    }
}

pub struct Rig {
    pub svc: RecoverService,
    pub clock: Arc<ManualClock>,
    pub host: Arc<TestHost>,
}

pub fn config(yaml: &str) -> RecoverConfig {
    let c: RecoverConfig = serde_saphyr::from_str(yaml).unwrap();
    c.validate("test.yml", yaml).unwrap();
    c
}

pub fn rig(dir: Option<&Path>, yaml: &str) -> Rig {
    let clock = Arc::new(ManualClock::new(1_000_000));
    rig_at(dir, yaml, clock)
}

pub fn rig_at(dir: Option<&Path>, yaml: &str, clock: Arc<ManualClock>) -> Rig {
    let svc = RecoverService::open(dir, &config(yaml), clock.clone()).unwrap();
    let host = Arc::new(TestHost::default());
    svc.set_host(host.clone());
    Rig { svc, clock, host }
}

impl Rig {
    /// Ticks and lets started steps finish, `n` times, `step_ms` apart.
    pub async fn run(&self, n: usize, step_ms: i64) {
        for _ in 0..n {
            self.svc.tick().await;
            self.svc.settle().await;
            self.clock.advance(step_ms);
        }
    }
}

pub fn subject(incident: u64, service: &str) -> Subject {
    Subject {
        incident,
        title: format!("{service} is down"),
        severity: "critical".into(),
        alerts: vec![BTreeMap::from([
            ("alertname".to_string(), "ServiceDown".to_string()),
            ("service".to_string(), service.to_string()),
        ])],
        root_service: Some(service.to_string()),
        root_cause: None,
        located: true,
        detected_ms: 0,
        reopened_ms: 0,
    }
}

/// A real HTTP server on loopback that records each request as
/// `METHOD path body` (with the `authorization` header when sent) and
/// answers `status`.
pub struct Recorder {
    pub base: String,
    pub seen: Arc<Mutex<Vec<String>>>,
}

pub async fn recorder(status: u16) -> Recorder {
    use axum::extract::Request;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let app = axum::Router::new().fallback(move |req: Request| {
        let seen = s2.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20)
                .await
                .unwrap_or_default();
            let auth = parts
                .headers
                .get("authorization")
                .map(|v| format!(" auth={}", v.to_str().unwrap_or("")))
                .unwrap_or_default();
            seen.lock().push(format!(
                "{} {} {}{auth}",
                parts.method,
                parts.uri.path(),
                String::from_utf8_lossy(&body)
            ));
            (axum::http::StatusCode::from_u16(status).unwrap(), "done")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Recorder {
        base: format!("http://{addr}"),
        seen,
    }
}

/// The journal's events, as JSON values.
pub fn journal(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("recover.journal"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn events_of<'a>(j: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    j.iter().filter(|e| e["event"] == kind).collect()
}
