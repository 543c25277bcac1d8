//! `/ui/logs`: the Logs page. The server fills what the page starts with
//! (the query, the period, the label names for the picker); the page's
//! script reads the lines, the volume and the templates from the log APIs.
//!
//! Parameters: `query` (LogQL), `range` (`15m`, `1h`, `6h`, `24h`), `from`
//! and `to` (Unix milliseconds or RFC 3339), `at` (Unix milliseconds or RFC
//! 3339: five minutes either side, the nearest line marked) and `tab`
//! (`lines` or `templates`).

use super::{fetch, page, St};
use crate::model::LogsPage;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// Half the period shown around `at`.
pub const AROUND_MS: i64 = 5 * 60_000;

#[derive(Deserialize, Default)]
pub(super) struct LogsQuery {
    query: Option<String>,
    range: Option<String>,
    from: Option<String>,
    to: Option<String>,
    at: Option<String>,
    tab: Option<String>,
}

/// A time in the address: Unix milliseconds or RFC 3339.
fn parse_ms(name: &str, s: &str, errors: &mut Vec<String>) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let v = s.parse::<i64>().ok().or_else(|| {
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.timestamp_millis())
    });
    if v.is_none() {
        errors.push(format!(
            "The time {name}={s:?} in the address could not be read (use Unix milliseconds or a date such as 2026-03-01T10:00:00Z); the page shows the last hour instead."
        ));
    }
    v
}

/// The query to start with: every stream of the most likely service label.
fn default_query(labels: &[String]) -> String {
    let has = |n: &str| labels.iter().any(|l| l == n);
    let name = ["service_name", "service", "app", "job"]
        .into_iter()
        .find(|n| has(n))
        .or_else(|| labels.first().map(String::as_str));
    match name {
        Some(n) => format!("{{{n}=~\".+\"}}"),
        None => LogsPage::DEFAULT_QUERY.to_string(),
    }
}

pub(super) async fn logs(State(st): St, Query(p): Query<LogsQuery>) -> Response {
    let mut d = LogsPage {
        enabled: true,
        tab: if p.tab.as_deref() == Some("templates") {
            "templates".into()
        } else {
            "lines".into()
        },
        range: p
            .range
            .filter(|r| LogsPage::RANGES.contains(&r.as_str()))
            .unwrap_or_else(|| "1h".into()),
        ..LogsPage::default()
    };
    let mut errors = Vec::new();
    d.at = p.at.as_deref().and_then(|s| parse_ms("at", s, &mut errors));
    if d.at.is_none() {
        d.from = p
            .from
            .as_deref()
            .and_then(|s| parse_ms("from", s, &mut errors));
        d.to = p.to.as_deref().and_then(|s| parse_ms("to", s, &mut errors));
        if d.from.is_none() {
            d.to = None;
        }
        if let (Some(f), Some(t)) = (d.from, d.to) {
            if t < f {
                errors.push("The period in the address ends before it starts; the page shows the last hour instead.".into());
                (d.from, d.to) = (None, None);
            }
        }
    }
    d.errors = errors;
    // Label names of streams in the period shown (Loki's default, the last six hours, otherwise).
    let period = match (d.at, d.from) {
        (Some(at), _) => Some((at - AROUND_MS, at + AROUND_MS)),
        (None, Some(f)) => Some((f, d.to.unwrap_or_else(|| st.clock.now_ms()))),
        _ => None,
    };
    let path = match period {
        Some((s, e)) => format!(
            "/loki/api/v1/labels?start={}&end={}",
            s.saturating_mul(1_000_000),
            e.saturating_mul(1_000_000)
        ),
        None => "/loki/api/v1/labels".into(),
    };
    match fetch::get_data(&st.api, &path).await {
        Ok(v) => {
            d.label_names = v
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(String::from))
                .collect()
        }
        Err(fetch::FetchError::Status { status, .. }) if status == StatusCode::NOT_FOUND => {
            d.enabled = false
        }
        Err(e) => d
            .errors
            .push(format!("The label names could not be read: {e}")),
    }
    d.query = p
        .query
        .filter(|q| !q.trim().is_empty())
        .unwrap_or_else(|| default_query(&d.label_names));
    page(&st, |ui| ui.logs(&d))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use axum::{Json, Router};
    use std::sync::Arc;
    use tower::ServiceExt;

    async fn get_page(api: Router, path: &str) -> (StatusCode, String) {
        let ui = crate::routes::router(api, Arc::new(argus_model::SystemClock));
        let r = ui
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = r.status();
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn api() -> Router {
        Router::new().route(
            "/loki/api/v1/labels",
            get(|| async {
                Json(serde_json::json!({"status": "success", "data": ["level", "service"]}))
            }),
        )
    }

    #[tokio::test]
    async fn the_logs_page_renders_with_its_query_box_and_label_picker() {
        let (status, html) = get_page(api(), "/ui/logs").await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains("<title>Logs · Argus</title>"));
        assert!(html.contains(r#"<input id="q" name="query""#), "{html}");
        // No service_name label: the query starts on the service label.
        assert!(
            html.contains(r#"value="{service=~&quot;.+&quot;}""#),
            "{html}"
        );
        assert!(html.contains("<option>level</option>"));
        assert!(html.contains(r#"aria-current="page" title="g then l">Logs</a>"#));
        assert!(html.contains(r#"<option value="1h" selected>last 1h</option>"#));
        assert!(html.contains("/ui/assets/logs.js"));
    }

    #[tokio::test]
    async fn a_moment_or_a_period_in_the_address_is_kept() {
        let (_, html) = get_page(
            api(),
            "/ui/logs?at=1700000000000&tab=templates&query=%7Ba%3D%22b%22%7D",
        )
        .await;
        assert!(html.contains(r#"data-at="1700000000000""#), "{html}");
        assert!(html.contains(r#"data-tab="templates""#));
        assert!(html.contains(r#"value="{a=&quot;b&quot;}""#));
        assert!(html.contains("chosen period"));
        let (_, html) =
            get_page(api(), "/ui/logs?from=2023-11-14T22:13:20Z&to=1700000600000").await;
        assert!(
            html.contains(r#"data-from="1700000000000" data-to="1700000600000""#),
            "{html}"
        );
        let (status, html) = get_page(api(), "/ui/logs?at=yesterday").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("could not be read"), "{html}");
    }

    #[tokio::test]
    async fn without_logs_the_page_says_how_to_turn_them_on() {
        let (status, html) = get_page(Router::new(), "/ui/logs").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("This server keeps no logs."), "{html}");
        assert!(!html.contains("logs.js"));
    }
}
