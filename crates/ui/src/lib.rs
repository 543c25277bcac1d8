//! The Argus web UI: server-rendered pages over plain data structs
//! ([`model`]), and the static files (our CSS/JS and vendored uPlot and htmx)
//! embedded in the binary ([`assets`]). This crate knows nothing of the server:
//! the server fills the structs and serves what [`Ui`] renders.
//!
//! ```
//! use argus_ui::{model::Overview, Ui};
//! let ui = Ui::new().unwrap();
//! let html = ui.overview(&Overview::default()).unwrap();
//! assert!(html.contains("<title>Overview · Argus</title>"));
//! assert!(html.contains("No incident in the last 7 days"));
//! assert!(argus_ui::assets::get("vendor/uPlot.iife.min.js").is_some());
//! ```

pub mod assets;
pub mod graph;
pub mod model;
pub mod routes;

use minijinja::Environment;
use serde::Serialize;

/// Rendering failed (a template bug; the server answers 500 with it).
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// A template did not parse or render.
    #[error("cannot render the {page} page: {source}")]
    Render {
        /// The page.
        page: &'static str,
        /// minijinja's error, with the template line.
        source: minijinja::Error,
    },
}

/// The pages, in navigation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `/ui/`
    Overview,
    /// `/ui/explorer`
    Explorer,
    /// `/ui/alerts`
    Alerts,
    /// `/ui/incidents`
    Incidents,
    /// `/ui/incidents/{id}` (not in the navigation; it shows as Incidents there)
    Incident,
    /// `/ui/logs`
    Logs,
    /// `/ui/silences`
    Silences,
    /// `/ui/rules`
    Rules,
}

impl Page {
    /// Every page of the navigation, in its order.
    pub const ALL: [Page; 7] = [
        Page::Overview,
        Page::Explorer,
        Page::Alerts,
        Page::Incidents,
        Page::Logs,
        Page::Silences,
        Page::Rules,
    ];

    /// The title shown in the navigation and the `<title>`.
    pub fn title(self) -> &'static str {
        match self {
            Page::Overview => "Overview",
            Page::Explorer => "Explorer",
            Page::Alerts => "Alerts",
            Page::Incidents => "Incidents",
            Page::Incident => "Incident",
            Page::Logs => "Logs",
            Page::Silences => "Silences",
            Page::Rules => "Rules and models",
        }
    }

    /// The path under the server root.
    pub fn path(self) -> &'static str {
        match self {
            Page::Overview => "/ui/",
            Page::Explorer => "/ui/explorer",
            Page::Alerts => "/ui/alerts",
            Page::Incidents | Page::Incident => "/ui/incidents",
            Page::Logs => "/ui/logs",
            Page::Silences => "/ui/silences",
            Page::Rules => "/ui/rules",
        }
    }

    /// The keyboard shortcut (after `g`).
    pub fn key(self) -> char {
        match self {
            Page::Overview => 'o',
            Page::Explorer => 'e',
            Page::Alerts => 'a',
            Page::Incidents | Page::Incident => 'i',
            Page::Logs => 'l',
            Page::Silences => 's',
            Page::Rules => 'r',
        }
    }

    fn template(self) -> &'static str {
        match self {
            Page::Overview => "overview.html",
            Page::Explorer => "explorer.html",
            Page::Alerts => "alerts.html",
            Page::Incidents => "incidents.html",
            Page::Incident => "incident.html",
            Page::Logs => "logs.html",
            Page::Silences => "silences.html",
            Page::Rules => "rules.html",
        }
    }
}

#[derive(Serialize)]
struct NavItem {
    title: &'static str,
    path: &'static str,
    key: char,
    current: bool,
}

const TEMPLATES: [(&str, &str); 9] = [
    ("base.html", include_str!("../templates/base.html")),
    ("overview.html", include_str!("../templates/overview.html")),
    ("explorer.html", include_str!("../templates/explorer.html")),
    ("alerts.html", include_str!("../templates/alerts.html")),
    (
        "incidents.html",
        include_str!("../templates/incidents.html"),
    ),
    ("incident.html", include_str!("../templates/incident.html")),
    ("logs.html", include_str!("../templates/logs.html")),
    ("silences.html", include_str!("../templates/silences.html")),
    ("rules.html", include_str!("../templates/rules.html")),
];

/// The page renderer (templates parsed once; cheap to share).
pub struct Ui {
    env: Environment<'static>,
}

impl Ui {
    /// Parses the embedded templates.
    pub fn new() -> Result<Ui, UiError> {
        let mut env = Environment::new();
        for (name, src) in TEMPLATES {
            env.add_template(name, src)
                .map_err(|source| UiError::Render { page: name, source })?;
        }
        Ok(Ui { env })
    }

    /// Renders `page` with `data` under the name `page_data`.
    pub fn render<T: Serialize>(&self, page: Page, data: &T) -> Result<String, UiError> {
        let err = |source| UiError::Render {
            page: page.title(),
            source,
        };
        let nav: Vec<NavItem> = Page::ALL
            .iter()
            .map(|p| NavItem {
                title: p.title(),
                path: p.path(),
                key: p.key(),
                current: *p == page || (*p == Page::Incidents && page == Page::Incident),
            })
            .collect();
        let tmpl = self.env.get_template(page.template()).map_err(err)?;
        tmpl.render(minijinja::context! {
            title => page.title(),
            nav => nav,
            version => env!("CARGO_PKG_VERSION"),
            page_data => minijinja::Value::from_serialize(data),
        })
        .map_err(err)
    }

    /// The overview page.
    pub fn overview(&self, d: &model::Overview) -> Result<String, UiError> {
        self.render(Page::Overview, d)
    }

    /// The explorer page.
    pub fn explorer(&self, d: &model::ExplorerPage) -> Result<String, UiError> {
        self.render(Page::Explorer, d)
    }

    /// The alerts page.
    pub fn alerts(&self, d: &model::AlertsPage) -> Result<String, UiError> {
        self.render(Page::Alerts, d)
    }

    /// The incidents list.
    pub fn incidents(&self, d: &model::IncidentsPage) -> Result<String, UiError> {
        self.render(Page::Incidents, d)
    }

    /// One incident's page.
    pub fn incident(&self, d: &model::IncidentPage) -> Result<String, UiError> {
        self.render(Page::Incident, d)
    }

    /// The logs page.
    pub fn logs(&self, d: &model::LogsPage) -> Result<String, UiError> {
        self.render(Page::Logs, d)
    }

    /// The silences page.
    pub fn silences(&self, d: &model::SilencesPage) -> Result<String, UiError> {
        self.render(Page::Silences, d)
    }

    /// The rules and models page.
    pub fn rules(&self, d: &model::RulesPage) -> Result<String, UiError> {
        self.render(Page::Rules, d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::*;

    fn alert() -> AlertRow {
        AlertRow {
            fingerprint: "00000000000000ab".into(),
            name: "DiskFull".into(),
            level: "critical".into(),
            state: "active".into(),
            labels: [("alertname".to_string(), "<script>x</script>".to_string())].into(),
            silence_matchers: "alertname=\"DiskFull\"".into(),
            ..AlertRow::default()
        }
    }

    #[test]
    fn every_page_renders_and_escapes_data() {
        let ui = Ui::new().unwrap();
        let pages = [
            ui.overview(&Overview {
                firing: vec![alert()],
                errors: vec!["<b>boom</b>".into()],
                ..Overview::default()
            }),
            ui.alerts(&AlertsPage {
                groups: vec![AlertGroup {
                    receiver: "ops".into(),
                    labels: Default::default(),
                    alerts: vec![alert()],
                }],
                errors: vec![],
            }),
            ui.silences(&SilencesPage {
                prefill_matchers: "a=\"<b>\"".into(),
                ..SilencesPage::default()
            }),
            ui.rules(&RulesPage::default()),
            ui.incidents(&IncidentsPage {
                filter: "active".into(),
                incidents: vec![IncidentRow {
                    id: "1".into(),
                    title: "<script>x</script>".into(),
                    active: true,
                    ..IncidentRow::default()
                }],
                errors: vec!["<b>boom</b>".into()],
            }),
            ui.incident(&incident_page()),
            ui.incident(&IncidentPage {
                id: "9".into(),
                ..IncidentPage::default()
            }),
            ui.explorer(&ExplorerPage {
                query: "up{a=\"</script>\"}".into(),
                range: "1h".into(),
            }),
            ui.logs(&LogsPage {
                query: "{a=\"</script>\"}".into(),
                range: "1h".into(),
                enabled: true,
                label_names: vec!["<script>x</script>".into()],
                errors: vec!["<b>boom</b>".into()],
                ..LogsPage::default()
            }),
            ui.logs(&LogsPage::default()),
        ];
        for (i, p) in pages.into_iter().enumerate() {
            let html = p.unwrap_or_else(|e| panic!("page {i}: {e}"));
            assert!(html.starts_with("<!doctype html>"), "page {i}");
            assert!(!html.contains("<script>x"), "page {i} is not escaped");
            assert!(!html.contains("<b>boom"), "page {i} is not escaped");
            assert!(!html.contains("\"</script>"), "page {i} is not escaped");
        }
    }

    fn incident_page() -> IncidentPage {
        let services = vec!["api".to_string(), "<script>x</script>".to_string()];
        let edges = vec![
            ("web".to_string(), "api".to_string()),
            ("api".to_string(), "<script>x</script>".to_string()),
        ];
        IncidentPage {
            id: "12".into(),
            incident: Some(IncidentView {
                id: "12".into(),
                title: "SlowQueries on db".into(),
                state: "open".into(),
                severity: "critical".into(),
                active: true,
                root: Some(RootView {
                    what: "service db".into(),
                    confidence: "80%".into(),
                    ..RootView::default()
                }),
                times: vec![Milestone {
                    name: "Detected".into(),
                    at: "2026-03-01 10:00:40".into(),
                    since_fault: "40 s".into(),
                    target: "1 min".into(),
                    over: false,
                }],
                timeline: vec![TimelineRow {
                    at: "2026-03-01 10:00:40".into(),
                    kind: "opened".into(),
                    kind_text: "opened".into(),
                    text: "Opened by <script>x</script>.".into(),
                    alert: String::new(),
                    at_ms: 1_772_359_240_000,
                }],
                alerts: vec![IncidentAlertRow {
                    fingerprint: "00000000000000ab".into(),
                    name: "SlowQueries".into(),
                    service: "db".into(),
                    severity: "critical".into(),
                    firing: true,
                    firings: 1,
                    ..IncidentAlertRow::default()
                }],
                graph: graph::layout(&services, &edges, Some("api")),
                services,
                ..IncidentView::default()
            }),
            errors: vec![],
        }
    }

    #[test]
    fn the_incident_page_has_its_times_actions_and_map() {
        let html = Ui::new().unwrap().incident(&incident_page()).unwrap();
        assert!(html.contains("<title>Incident 12 · Argus</title>"));
        assert!(html.contains("<h1>Incident 12: SlowQueries on db</h1>"));
        assert!(html.contains(r#"data-incident="12" data-incident-action="ack""#));
        assert!(html.contains(r#"data-incident-action="resolve""#));
        assert!(html.contains(r#"<svg id="map""#));
        assert!(html.contains(r#"class="node incident root" data-service="api""#));
        assert!(html.contains(r#"class="node" data-service="web""#));
        assert!(html.contains("confidence 80%"));
        assert!(html.contains("Opened by &lt;script&gt;"));
        assert!(html.contains(r#"href="/ui/logs?at=1772359240000">logs around this time</a>"#));
        // The navigation marks the incidents list as the current page.
        assert!(html.contains(r#"aria-current="page" title="g then i">Incidents</a>"#));
        let none = Ui::new()
            .unwrap()
            .incident(&IncidentPage {
                id: "9".into(),
                ..IncidentPage::default()
            })
            .unwrap();
        assert!(none.contains("There is no incident 9."));
        assert!(!none.contains("data-incident-action"));
    }

    #[test]
    fn the_logs_page_has_its_query_box_views_and_period() {
        let ui = Ui::new().unwrap();
        let html = ui
            .logs(&LogsPage {
                query: "{service=\"pay\"}".into(),
                range: "6h".into(),
                tab: "templates".into(),
                enabled: true,
                label_names: vec!["service".into()],
                ..LogsPage::default()
            })
            .unwrap();
        assert!(html.contains(r#"<input id="q" name="query" value="{service=&quot;pay&quot;}""#));
        assert!(html.contains(r#"<option value="6h" selected>last 6h</option>"#));
        assert!(html.contains(r#"data-tab="templates""#));
        assert!(html.contains(r#"<section id="lines-view" hidden>"#));
        assert!(html.contains("<option>service</option>"));
        assert!(!html.contains("chosen period"));
        let at = ui
            .logs(&LogsPage {
                at: Some(1_700_000_000_000),
                enabled: true,
                ..LogsPage::default()
            })
            .unwrap();
        assert!(at.contains(r#"data-at="1700000000000""#));
        assert!(at.contains(r#"<option value="" selected>chosen period</option>"#));
        let off = ui.logs(&LogsPage::default()).unwrap();
        assert!(off.contains("This server keeps no logs."));
    }

    #[test]
    fn the_incidents_list_has_tabs_and_actions_only_for_active_ones() {
        let row = |id: &str, state: &str, active: bool| IncidentRow {
            id: id.into(),
            title: format!("incident {id}"),
            state: state.into(),
            active,
            ..IncidentRow::default()
        };
        let html = Ui::new()
            .unwrap()
            .incidents(&IncidentsPage {
                filter: "all".into(),
                incidents: vec![row("1", "open", true), row("2", "resolved", false)],
                errors: vec![],
            })
            .unwrap();
        assert!(html.contains(r#"<a href="/ui/incidents?state=all" aria-current="page">All</a>"#));
        assert!(html.contains(r#"<a href="/ui/incidents/1">incident 1</a>"#));
        assert!(html.contains(r#"data-incident="1" data-incident-action="ack""#));
        assert!(!html.contains(r#"data-incident="2""#));
        let empty = Ui::new()
            .unwrap()
            .incidents(&IncidentsPage {
                filter: "active".into(),
                ..IncidentsPage::default()
            })
            .unwrap();
        assert!(empty.contains("No active incident."));
    }

    #[test]
    fn the_overview_shows_the_one_five_ten_figures() {
        let ui = Ui::new().unwrap();
        let fig = |name: &str, p50: &str, over: bool| TimeFigure {
            name: name.into(),
            target: "1 min".into(),
            p50: p50.into(),
            p90: p50.into(),
            count: 2,
            over,
            missed: usize::from(over),
        };
        let html = ui
            .overview(&Overview {
                one_five_ten: Some(OneFiveTen {
                    incidents: 2,
                    period: "7 days".into(),
                    figures: vec![fig("Detect", "40 s", false), fig("Locate", "7 min", true)],
                }),
                ..Overview::default()
            })
            .unwrap();
        assert!(html.contains("2 incidents in the last 7 days"));
        assert!(html.contains(r#"<span class="over">7 min</span>"#));
        assert!(
            html.contains(r#"<span class="over">1</span>"#),
            "one missed the locate goal"
        );
        assert!(!html.contains("one-five-ten-empty"));
        let empty = ui.overview(&Overview::default()).unwrap();
        assert!(empty.contains("No incident in the last 7 days"));
        assert!(empty.contains("<code>health.services</code>"));
    }

    #[test]
    fn the_alerts_page_has_one_click_actions_and_a_prefilled_silence_link() {
        let html = Ui::new()
            .unwrap()
            .alerts(&AlertsPage {
                groups: vec![AlertGroup {
                    alerts: vec![alert()],
                    ..AlertGroup::default()
                }],
                errors: vec![],
            })
            .unwrap();
        assert!(html.contains(r#"data-action="ack" data-fp="00000000000000ab""#));
        assert!(html.contains(r#"data-action="resolve""#));
        assert!(html.contains("/ui/silences?matchers=alertname%3D%22DiskFull%22"));
    }
}
