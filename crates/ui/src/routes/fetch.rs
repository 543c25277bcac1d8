//! In-process calls to the server's own JSON APIs: the UI pages read the same
//! documented answers a browser or `amtool` would, without a network hop.
//!
//! ```no_run
//! # async fn f(api: axum::Router) {
//! let v = argus_ui::routes::fetch::get_json(&api, "/api/v1/services").await.unwrap();
//! assert!(v.is_array());
//! # }
//! ```

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::Value;
use tower::ServiceExt;

/// Largest answer read (the models list of a very large install stays under it).
const MAX_BODY: usize = 256 << 20;

/// Why an in-process API call gave no JSON.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The endpoint answered with an error status.
    #[error("{path} answered {status}: {body}")]
    Status {
        /// The path called.
        path: String,
        /// The status.
        status: StatusCode,
        /// The start of the body.
        body: String,
    },
    /// The body could not be read or was not JSON.
    #[error("{path}: {msg}")]
    Body {
        /// The path called.
        path: String,
        /// What went wrong.
        msg: String,
    },
}

/// `GET path` (with its query string) on `api`; the JSON body.
pub async fn get_json(api: &Router, path: &str) -> Result<Value, FetchError> {
    get_json_counted(api, path).await.map(|(v, _)| v)
}

/// Like [`get_json`], with the `X-Argus-Total-Count` header when the answer has one.
pub async fn get_json_counted(
    api: &Router,
    path: &str,
) -> Result<(Value, Option<usize>), FetchError> {
    let body_err = |msg: String| FetchError::Body {
        path: path.to_string(),
        msg,
    };
    let req = Request::get(path)
        .body(Body::empty())
        .map_err(|e| body_err(e.to_string()))?;
    let resp = api
        .clone()
        .oneshot(req)
        .await
        .map_err(|e| body_err(e.to_string()))?;
    let status = resp.status();
    let total = resp
        .headers()
        .get("x-argus-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let bytes = axum::body::to_bytes(resp.into_body(), MAX_BODY)
        .await
        .map_err(|e| body_err(format!("cannot read the answer: {e}")))?;
    if !status.is_success() {
        return Err(FetchError::Status {
            path: path.to_string(),
            status,
            body: String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned(),
        });
    }
    serde_json::from_slice(&bytes)
        .map(|v| (v, total))
        .map_err(|e| body_err(format!("not JSON: {e}")))
}

/// The `data` of a Prometheus-style envelope answer.
pub async fn get_data(api: &Router, path: &str) -> Result<Value, FetchError> {
    let mut v = get_json(api, path).await?;
    match v.get_mut("data") {
        Some(d) => Ok(d.take()),
        None => Err(FetchError::Body {
            path: path.to_string(),
            msg: "no \"data\" in the answer".into(),
        }),
    }
}
