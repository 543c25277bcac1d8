//! The Logs page's data: what the page starts with. The lines, the volume
//! chart and the templates are fetched by the page's script from the log
//! APIs.
//!
//! ```
//! use argus_ui::model::LogsPage;
//! let p = LogsPage { query: r#"{service="pay"}"#.into(), range: "1h".into(), enabled: true, ..LogsPage::default() };
//! assert_eq!(LogsPage::RANGES[1], "1h");
//! assert!(p.from.is_none());
//! ```

use serde::Serialize;

/// The Logs page (`/ui/logs`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogsPage {
    /// The LogQL query to start with.
    pub query: String,
    /// The range to start with (one of [`LogsPage::RANGES`]), when neither
    /// `from`/`to` nor `at` is given.
    pub range: String,
    /// The start of an explicit range, in Unix milliseconds.
    pub from: Option<i64>,
    /// The end of an explicit range, in Unix milliseconds.
    pub to: Option<i64>,
    /// A moment to show the lines around (Unix milliseconds): the range is
    /// five minutes either side and the nearest line is marked.
    pub at: Option<i64>,
    /// `lines` or `templates`.
    pub tab: String,
    /// Label names of recent streams, for the label picker.
    pub label_names: Vec<String>,
    /// False when the server keeps no logs (the page then says how to turn them on).
    pub enabled: bool,
    /// What went wrong while gathering the data (shown, never fatal).
    pub errors: Vec<String>,
}

impl LogsPage {
    /// The range choices.
    pub const RANGES: [&'static str; 4] = ["15m", "1h", "6h", "24h"];
    /// The query the page starts with when none is given and no label suits better.
    pub const DEFAULT_QUERY: &'static str = r#"{service_name=~".+"}"#;
}
