//! `GET /api/v1/services`: the five-tuple of every service, as a JSON array
//! of `{node, source, content, status, value, service, checks}`.
//! `POST /api/v1/heartbeat/{service}`: one heartbeat of a service whose
//! heartbeat source is `http`; 204, 404 for an unknown service, 409 for a
//! service whose heartbeat is not counted by Argus.

use super::HealthRuntime;
use argus_health::HealthError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;

pub(super) fn router(rt: Arc<HealthRuntime>) -> Router {
    Router::new()
        .route("/api/v1/services", get(services))
        .route("/api/v1/heartbeat/{service}", post(heartbeat))
        .with_state(rt)
}

async fn services(State(rt): State<Arc<HealthRuntime>>) -> Response {
    Json(rt.with(|s| s.five_tuples()).unwrap_or_default()).into_response()
}

async fn heartbeat(State(rt): State<Arc<HealthRuntime>>, Path(service): Path<String>) -> Response {
    let res = rt
        .with(|s| s.heartbeat(&service))
        .unwrap_or_else(|| Err(HealthError::UnknownService(service.clone())));
    match res {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e @ HealthError::UnknownService(_)) => {
            (StatusCode::NOT_FOUND, e.to_string()).into_response()
        }
        Err(e) => (StatusCode::CONFLICT, e.to_string()).into_response(),
    }
}
