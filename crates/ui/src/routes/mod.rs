//! The web UI's routes: `/` redirects to `/ui/`; `/ui/`, `/ui/explorer`,
//! `/ui/alerts`, `/ui/incidents`, `/ui/incidents/{id}`, `/ui/logs`,
//! `/ui/silences` and `/ui/rules` are rendered by `argus-ui`
//! from the answers of the server's own JSON APIs (called in process, see
//! [`fetch`]); `/ui/assets/{path}` serves the embedded static files.
//!
//! ```no_run
//! # fn f(api: axum::Router) {
//! // `api` holds every JSON route; the UI reads through it.
//! let clock = std::sync::Arc::new(argus_model::SystemClock);
//! let app = api.clone().merge(argus_ui::routes::router(api, clock));
//! # }
//! ```

pub mod data;
pub mod fetch;
mod logs;

use crate::model::{
    AlertsPage, ExplorerPage, IncidentPage, IncidentsPage, Overview, RulesPage, SilencesPage,
};
use crate::{Ui, UiError};
use argus_model::Clock;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use std::sync::Arc;

/// How many models the rules page lists (the rest are counted, and a rule filter narrows them).
pub const MODEL_LIMIT: usize = 200;

struct UiState {
    /// The renderer, or why its templates did not load (every page then answers 500).
    ui: Result<Ui, String>,
    api: Router,
    clock: Arc<dyn Clock>,
}

type St = State<Arc<UiState>>;

/// The UI routes over `api`, the router of every JSON endpoint; `clock`
/// tells which alerts have resolved.
pub fn router(api: Router, clock: Arc<dyn Clock>) -> Router {
    let ui = Ui::new().map_err(|e| {
        tracing::error!(error = %e, "The web UI's templates did not load.");
        e.to_string()
    });
    let st = Arc::new(UiState { ui, api, clock });
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(overview))
        .route("/ui/explorer", get(explorer))
        .route("/graph", get(graph))
        .route("/ui/alerts", get(alerts))
        .route("/ui/incidents", get(incidents))
        .route("/ui/incidents/{id}", get(incident))
        .route("/ui/logs", get(logs::logs))
        .route("/ui/silences", get(silences))
        .route("/ui/rules", get(rules))
        .route("/ui/assets/{*path}", get(asset))
        .with_state(st)
}

fn page(st: &UiState, render: impl FnOnce(&Ui) -> Result<String, UiError>) -> Response {
    let r = match &st.ui {
        Ok(ui) => render(ui).map_err(|e| e.to_string()),
        Err(e) => Err(e.clone()),
    };
    match r {
        Ok(html) => ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "A UI page failed to render.");
            (StatusCode::INTERNAL_SERVER_ERROR, e).into_response()
        }
    }
}

async fn overview(State(st): St) -> Response {
    let mut d = Overview::default();
    let times_path = format!(
        "/api/argus/v1/incidents/times?period={}",
        data::incidents::PERIOD.0
    );
    let hosts_path = format!(
        "/api/v1/query?query={}",
        argus_model::url::percent_encode("count by (instance, nodename) (node_uname_info)")
    );
    let (svc, al, tsdb, times, hosts) = tokio::join!(
        fetch::get_json(&st.api, "/api/v1/services"),
        fetch::get_json(&st.api, "/api/v2/alerts?silenced=true&inhibited=true"),
        fetch::get_data(&st.api, "/api/v1/status/tsdb"),
        fetch::get_data(&st.api, &times_path),
        fetch::get_data(&st.api, &hosts_path),
    );
    match svc {
        Ok(v) => {
            d.services = data::services(&v);
            d.nodes = data::nodes(&d.services);
        }
        Err(e) => d.errors.push(e.to_string()),
    }
    match al {
        Ok(v) => {
            let (mut rows, counts) = data::firing(&v, st.clock.now_ms());
            rows.truncate(20);
            d.firing = rows;
            d.firing_by_level = counts;
        }
        Err(e) => d.errors.push(e.to_string()),
    }
    match tsdb {
        Ok(v) => d.head_series = v["headStats"]["numSeries"].as_u64().unwrap_or(0),
        Err(e) => d.errors.push(e.to_string()),
    }
    match times {
        Ok(v) => d.one_five_ten = data::incidents::one_five_ten(&v),
        Err(e) => d.errors.push(e.to_string()),
    }
    // Hosts whose agent (or node_exporter) reports count as nodes too.
    if let Ok(v) = hosts {
        data::reporting_nodes(&mut d.nodes, &v);
    }
    page(&st, |ui| ui.overview(&d))
}

#[derive(Deserialize, Default)]
struct ExplorerQuery {
    q: Option<String>,
    range: Option<String>,
}

/// Prometheus's graph page parameters (the first panel only).
#[derive(Deserialize, Default)]
struct GraphQuery {
    #[serde(rename = "g0.expr")]
    expr: Option<String>,
    #[serde(rename = "g0.range_input")]
    range: Option<String>,
}

/// The explorer's range choices.
const RANGES: [&str; 10] = [
    "5m", "15m", "1h", "3h", "6h", "12h", "24h", "2d", "7d", "14d",
];

/// `/graph?g0.expr=…`, the link Prometheus puts in alerts' `generatorURL`:
/// redirects to the explorer with the expression (and range, when it is one
/// the explorer offers).
async fn graph(Query(p): Query<GraphQuery>) -> Redirect {
    let mut url = "/ui/explorer".to_string();
    let mut sep = '?';
    if let Some(expr) = p.expr.filter(|e| !e.is_empty()) {
        url.push_str(&format!(
            "{sep}q={}",
            argus_model::url::percent_encode(&expr)
        ));
        sep = '&';
    }
    if let Some(range) = p.range.filter(|r| RANGES.contains(&r.as_str())) {
        url.push_str(&format!("{sep}range={range}"));
    }
    Redirect::to(&url)
}

/// The explorer's address for `expr`, under `base` (an external URL).
pub fn explorer_url(base: &str, expr: &str) -> String {
    format!(
        "{}/ui/explorer?q={}",
        base.trim_end_matches('/'),
        argus_model::url::percent_encode(expr)
    )
}

async fn explorer(State(st): St, Query(p): Query<ExplorerQuery>) -> Response {
    let range = p
        .range
        .filter(|r| RANGES.contains(&r.as_str()))
        .unwrap_or_else(|| "1h".into());
    let query = match p.q {
        Some(q) => q,
        None => default_chart(&st).await,
    };
    let d = ExplorerPage { query, range };
    page(&st, |ui| ui.explorer(&d))
}

/// What the explorer shows when opened without a query: CPU busy per host
/// where an agent or node_exporter reports, else `up`, else nothing.
async fn default_chart(st: &UiState) -> String {
    let names = fetch::get_data(&st.api, "/api/v1/label/__name__/values")
        .await
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    let has = |n: &str| names.iter().any(|x| x.as_str() == Some(n));
    if has("node_cpu_seconds_total") {
        r#"sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))"#.into()
    } else if has("up") {
        "up".into()
    } else {
        String::new()
    }
}

async fn alerts(State(st): St) -> Response {
    let mut d = AlertsPage::default();
    match fetch::get_json(
        &st.api,
        "/api/v2/alerts/groups?silenced=true&inhibited=true",
    )
    .await
    {
        Ok(v) => d.groups = data::groups(&v, st.clock.now_ms()),
        Err(e) => d.errors.push(e.to_string()),
    }
    page(&st, |ui| ui.alerts(&d))
}

/// How many incidents the list shows.
pub const INCIDENT_LIMIT: usize = 200;

#[derive(Deserialize, Default)]
struct IncidentsQuery {
    state: Option<String>,
}

/// The list's tabs: the name in the address and the API's `state` filter.
const INCIDENT_TABS: [(&str, &str); 3] = [
    ("active", "open,acknowledged,mitigated"),
    ("resolved", "resolved"),
    ("all", ""),
];

async fn incidents(State(st): St, Query(p): Query<IncidentsQuery>) -> Response {
    let (filter, states) = INCIDENT_TABS
        .iter()
        .find(|(name, _)| p.state.as_deref() == Some(name))
        .copied()
        .unwrap_or(INCIDENT_TABS[0]);
    let mut d = IncidentsPage {
        filter: filter.to_string(),
        ..IncidentsPage::default()
    };
    let path = if states.is_empty() {
        format!("/api/argus/v1/incidents?limit={INCIDENT_LIMIT}")
    } else {
        format!("/api/argus/v1/incidents?state={states}&limit={INCIDENT_LIMIT}")
    };
    match fetch::get_data(&st.api, &path).await {
        Ok(v) => d.incidents = data::incidents::incident_rows(&v),
        Err(e) => d.errors.push(e.to_string()),
    }
    page(&st, |ui| ui.incidents(&d))
}

async fn incident(State(st): St, Path(id): Path<String>) -> Response {
    let mut d = IncidentPage {
        id: id.clone(),
        ..IncidentPage::default()
    };
    // Only a number goes into the in-process call; anything else is no incident.
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        match fetch::get_data(&st.api, &format!("/api/argus/v1/incidents/{id}")).await {
            Ok(v) => d.incident = Some(data::incidents::incident(&v)),
            Err(fetch::FetchError::Status { status, .. }) if status == StatusCode::NOT_FOUND => {}
            Err(e) => d.errors.push(e.to_string()),
        }
        if let Some(i) = &mut d.incident {
            match fetch::get_data(&st.api, &format!("/api/argus/v1/incidents/{id}/runbooks")).await
            {
                Ok(v) => i.runbooks = data::runbooks::runbooks(&v),
                // A server without the runbook routes (tests of the UI alone).
                Err(fetch::FetchError::Status { status, .. })
                    if status == StatusCode::NOT_FOUND => {}
                Err(e) => d.errors.push(e.to_string()),
            }
        }
    }
    let missing = d.incident.is_none() && d.errors.is_empty();
    let mut r = page(&st, |ui| ui.incident(&d));
    if missing && r.status().is_success() {
        *r.status_mut() = StatusCode::NOT_FOUND;
    }
    r
}

#[derive(Deserialize, Default)]
struct SilencesQuery {
    matchers: Option<String>,
}

async fn silences(State(st): St, Query(p): Query<SilencesQuery>) -> Response {
    let mut d = SilencesPage {
        prefill_matchers: p.matchers.unwrap_or_default(),
        ..SilencesPage::default()
    };
    match fetch::get_json(&st.api, "/api/v2/silences").await {
        Ok(v) => d.silences = data::silences(&v),
        Err(e) => d.errors.push(e.to_string()),
    }
    page(&st, |ui| ui.silences(&d))
}

#[derive(Deserialize, Default)]
struct RulesQuery {
    rule: Option<String>,
}

async fn rules(State(st): St, Query(p): Query<RulesQuery>) -> Response {
    let filter = p.rule.filter(|r| !r.is_empty());
    let mut d = RulesPage {
        rule_filter: filter.clone().unwrap_or_default(),
        ..RulesPage::default()
    };
    // Never the whole models list: with 10k series under dynamic rules it is megabytes.
    let models_path = match &filter {
        Some(r) => format!(
            "/api/v1/models?limit={MODEL_LIMIT}&rule={}",
            argus_model::url::percent_encode(r)
        ),
        None => format!("/api/v1/models?limit={MODEL_LIMIT}"),
    };
    let (rs, ms) = tokio::join!(
        fetch::get_data(&st.api, "/api/v1/rules"),
        fetch::get_json_counted(&st.api, &models_path),
    );
    match rs {
        Ok(v) => d.rules = data::rules(&v),
        Err(e) => d.errors.push(e.to_string()),
    }
    match ms {
        Ok((v, total)) => {
            let list = v["data"].as_array().map(Vec::as_slice).unwrap_or_default();
            d.models = list.iter().map(data::model).collect();
            d.models_total = total.unwrap_or(list.len());
            d.dynamic_rules = d.models.iter().map(|m| m.rule.clone()).collect();
            d.dynamic_rules.dedup();
        }
        Err(e) => d.errors.push(e.to_string()),
    }
    page(&st, |ui| ui.rules(&d))
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(a) = crate::assets::get(&path) else {
        return (StatusCode::NOT_FOUND, format!("no asset {path:?}")).into_response();
    };
    let etag = format!("\"{}\"", a.etag);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag)
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, a.content_type.to_string()),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        a.data.into_owned(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn location(expr: Option<&str>, range: Option<&str>) -> String {
        let r = graph(Query(GraphQuery {
            expr: expr.map(String::from),
            range: range.map(String::from),
        }))
        .await
        .into_response();
        assert!(r.status().is_redirection());
        r.headers()[header::LOCATION].to_str().unwrap().to_string()
    }

    #[tokio::test]
    async fn graph_links_redirect_to_the_explorer() {
        assert_eq!(
            location(Some("rate(x[5m]) > 1"), Some("6h")).await,
            "/ui/explorer?q=rate%28x%5B5m%5D%29%20%3E%201&range=6h"
        );
        assert_eq!(location(Some("up"), Some("13m")).await, "/ui/explorer?q=up");
        assert_eq!(location(None, None).await, "/ui/explorer");
    }

    #[test]
    fn explorer_urls_are_under_the_external_url() {
        assert_eq!(
            explorer_url("http://a:1/", "x{a=\"b\"}"),
            "http://a:1/ui/explorer?q=x%7Ba%3D%22b%22%7D"
        );
    }
}
