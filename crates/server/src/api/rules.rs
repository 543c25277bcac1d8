//! `/api/v1/rules`, `/api/v1/alerts` and `POST /-/reload`, in Prometheus's
//! JSON shapes (`web/api/v1/api.go`).
//!
//! ```text
//! GET /api/v1/rules?type=alert&rule_group[]=node&rule_name[]=HostDown&file[]=/etc/argus/node.yml
//! → {"status":"success","data":{"groups":[{"name":"node","file":"...","rules":[{"state":"firing",
//!    "name":"HostDown","query":"up == 0","duration":120,"keepFiringFor":0,"labels":{..},
//!    "annotations":{..},"alerts":[..],"health":"ok","evaluationTime":0.0003,
//!    "lastEvaluation":"2024-05-01T10:00:00.123Z","type":"alerting"}],
//!    "interval":60,"limit":0,"evaluationTime":0.0004,"lastEvaluation":"..."}]}}
//! GET /api/v1/alerts
//! → {"status":"success","data":{"alerts":[{"labels":{..},"annotations":{..},"state":"pending",
//!    "activeAt":"2024-05-01T10:00:00Z","value":"1e+00"}]}}
//! POST /-/reload → 200, or 500 "failed to reload config: FILE:LINE:COL: reason"
//! ```

use super::params::{collect_params, success, ApiError};
use super::AppState;
use argus_rules::api_json::{alert_json, groups_json, RuleFilter};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// `GET|POST /api/v1/rules`.
pub async fn rules(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = collect_params(q.as_deref(), &body);
    let filter = RuleFilter::parse(&p).map_err(|e| ApiError::bad_data(e.to_string()))?;
    let groups = st
        .rules
        .manager()
        .with_groups(|gs| groups_json(gs, &filter));
    Ok(success(json!({ "groups": groups })))
}

/// `GET /api/v1/alerts`: every pending and firing alert.
pub async fn alerts(State(st): State<AppState>) -> Response {
    let alerts: Vec<Value> = st
        .rules
        .manager()
        .active_alerts()
        .iter()
        .map(alert_json)
        .collect();
    success(json!({ "alerts": alerts }))
}

/// `POST|PUT /-/reload`: re-reads the configuration and reloads every
/// reloadable section (see [`crate::lifecycle::reload`]). When a section is
/// invalid the answer is 500 with the error, which names the section, and
/// nothing changed.
pub async fn reload(State(st): State<AppState>) -> Response {
    match st.reload.reload().await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}\n"),
        )
            .into_response(),
    }
}
