//! Helpers shared by the server's integration tests: a free loopback port,
//! a JSON GET, and PromQL instant queries against a running server.
//!
//! ```ignore
//! mod common;
//! let port = common::free_port();
//! let up = common::query(&format!("http://127.0.0.1:{port}"), "up").await;
//! ```
// Each test binary uses its own subset of these.
#![allow(dead_code)]

use serde_json::Value;

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET url`, its body parsed as JSON (panics on a transport or parse error).
pub async fn get_json(url: String) -> Value {
    reqwest::get(&url).await.unwrap().json().await.unwrap()
}

/// `GET /api/v1/query` at the server's now; asserts success and returns the result vector.
pub async fn query(base: &str, q: &str) -> Vec<Value> {
    run_query(base, &[("query", q.to_string())]).await
}

/// `GET /api/v1/query` at `t_ms`; asserts success and returns the result vector.
pub async fn query_at(base: &str, q: &str, t_ms: i64) -> Vec<Value> {
    let t = format!("{}", t_ms as f64 / 1000.0);
    run_query(base, &[("query", q.to_string()), ("time", t)]).await
}

async fn run_query(base: &str, params: &[(&str, String)]) -> Vec<Value> {
    let r: Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/query"))
        .query(params)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "success", "{params:?}: {r}");
    r["data"]["result"].as_array().cloned().unwrap_or_default()
}
