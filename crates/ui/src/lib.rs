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
//! assert!(html.contains("no data yet"));
//! assert!(argus_ui::assets::get("vendor/uPlot.iife.min.js").is_some());
//! ```

pub mod assets;
pub mod model;

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
    /// `/ui/silences`
    Silences,
    /// `/ui/rules`
    Rules,
}

impl Page {
    /// Every page, in navigation order.
    pub const ALL: [Page; 5] = [
        Page::Overview,
        Page::Explorer,
        Page::Alerts,
        Page::Silences,
        Page::Rules,
    ];

    /// The title shown in the navigation and the `<title>`.
    pub fn title(self) -> &'static str {
        match self {
            Page::Overview => "Overview",
            Page::Explorer => "Explorer",
            Page::Alerts => "Alerts",
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
            Page::Silences => 's',
            Page::Rules => 'r',
        }
    }

    fn template(self) -> &'static str {
        match self {
            Page::Overview => "overview.html",
            Page::Explorer => "explorer.html",
            Page::Alerts => "alerts.html",
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

const TEMPLATES: [(&str, &str); 6] = [
    ("base.html", include_str!("../templates/base.html")),
    ("overview.html", include_str!("../templates/overview.html")),
    ("explorer.html", include_str!("../templates/explorer.html")),
    ("alerts.html", include_str!("../templates/alerts.html")),
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
                current: *p == page,
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
            ui.explorer(&ExplorerPage {
                query: "up{a=\"</script>\"}".into(),
                range: "1h".into(),
            }),
        ];
        for (i, p) in pages.into_iter().enumerate() {
            let html = p.unwrap_or_else(|e| panic!("page {i}: {e}"));
            assert!(html.starts_with("<!doctype html>"), "page {i}");
            assert!(!html.contains("<script>x"), "page {i} is not escaped");
            assert!(!html.contains("<b>boom"), "page {i} is not escaped");
            assert!(!html.contains("\"</script>"), "page {i} is not escaped");
        }
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
