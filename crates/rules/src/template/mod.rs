//! A Go `text/template` subset with Prometheus's template functions, for alert
//! labels and annotations.
//!
//! ```
//! use argus_model::Labels;
//! use argus_rules::template::{expand_alert_text, AlertTemplateData};
//!
//! let data = AlertTemplateData {
//!     labels: Labels::from_pairs(&[("instance", "db1")]),
//!     external_labels: Labels::empty(),
//!     external_url: String::new(),
//!     value: 1234567.0,
//! };
//! let out = expand_alert_text("Disk", "{{ $labels.instance }} has {{ $value | humanize }}B", &data, None, 0);
//! assert_eq!(out, "db1 has 1.235MB");
//! ```
//!
//! The engine is `argus-gotmpl` (Go's syntax, `define`/`template`, Go's predefined
//! functions); this module adds Prometheus's functions (`funcs.rs`: `humanize*`, `query first
//! label value sortByLabel`, `title toUpper toLower reReplaceAll match`, ...) as the engine's
//! [`argus_gotmpl::Host`], and the `$labels`/`$value`/`$externalLabels`/`$externalURL` setup.

mod funcs;

use std::collections::BTreeMap;

use argus_model::Labels;

pub use argus_gotmpl::{fmt_g, fmt_v, sprintf, Value};
pub use funcs::{go_time, humanize, humanize1024, humanize_duration};

use crate::inject::QueryFn;

/// Why a template did not parse or execute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The text is not a valid template.
    #[error("template: {name}: {reason}")]
    Parse {
        /// The template's name (`__alert_<alertname>`).
        name: String,
        /// What was wrong.
        reason: String,
    },
    /// Execution failed (a function error, a bad field).
    #[error("template: {name}: executing \"{name}\": {reason}")]
    Exec {
        /// The template's name.
        name: String,
        /// What was wrong.
        reason: String,
    },
}

/// What template functions may reach: the query function, the evaluation time
/// and the external URL.
#[derive(Clone, Copy)]
pub struct FuncCtx<'a> {
    /// For `query`; `None` makes `query` an error.
    pub query: Option<&'a dyn QueryFn>,
    /// Evaluation time for `query` and `now` (ms).
    pub t_ms: i64,
    /// For `externalURL`.
    pub external_url: &'a str,
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    inner: argus_gotmpl::Template,
}

/// The variables Prometheus defines for alert templates.
pub const ALERT_VARS: &[&str] = &["labels", "externalLabels", "externalURL", "value"];

fn parse_err(name: &str, e: argus_gotmpl::Error) -> TemplateError {
    TemplateError::Parse {
        name: name.to_string(),
        reason: e.reason().to_string(),
    }
}

impl Template {
    /// Parses `text`; `vars` are the predefined variables (without `$`).
    pub fn parse(name: &str, text: &str, vars: &[&str]) -> Result<Template, TemplateError> {
        let host = FuncCtx {
            query: None,
            t_ms: 0,
            external_url: "",
        };
        let inner = argus_gotmpl::Template::parse(name, text, vars, &host)
            .map_err(|e| parse_err(name, e))?;
        // A `{{ template }}` call can only reach what the text itself defines.
        argus_gotmpl::Templates::new()
            .check_refs(&inner)
            .map_err(|e| parse_err(name, e))?;
        Ok(Template { inner })
    }

    /// Executes with `dot` as `.` and `vars` as the predefined variables.
    pub fn execute(
        &self,
        dot: &Value,
        vars: &[(&str, Value)],
        ctx: &FuncCtx<'_>,
    ) -> Result<String, TemplateError> {
        self.inner
            .execute(dot, vars, ctx)
            .map_err(|e| TemplateError::Exec {
                name: self.inner.name().to_string(),
                reason: e.reason().to_string(),
            })
    }
}

/// A label set as a template map of strings (the metric name included, as in Prometheus).
pub fn labels_value(l: &Labels) -> Value {
    Value::Map(
        l.iter()
            .map(|l| (l.name.clone(), Value::Str(l.value.clone())))
            .collect(),
    )
}

/// The data an alert's labels and annotations are expanded with.
#[derive(Debug, Clone, Default)]
pub struct AlertTemplateData {
    /// The alert's labels (the series' labels without `__name__`, before rule labels).
    pub labels: Labels,
    /// The server's external labels.
    pub external_labels: Labels,
    /// The server's external URL.
    pub external_url: String,
    /// The sample value.
    pub value: f64,
}

impl AlertTemplateData {
    fn dot_and_vars(&self) -> (Value, Vec<(&'static str, Value)>) {
        let labels = labels_value(&self.labels);
        let ext = labels_value(&self.external_labels);
        let url = Value::Str(self.external_url.clone());
        let mut m = BTreeMap::new();
        m.insert("Labels".to_string(), labels.clone());
        m.insert("ExternalLabels".to_string(), ext.clone());
        m.insert("ExternalURL".to_string(), url.clone());
        m.insert("Value".to_string(), Value::Float(self.value));
        (
            Value::Map(m),
            vec![
                ("labels", labels),
                ("externalLabels", ext),
                ("externalURL", url),
                ("value", Value::Float(self.value)),
            ],
        )
    }
}

/// Checks that `text` parses as an alert template (for `check rules`).
pub fn check_alert_template(alertname: &str, text: &str) -> Result<(), TemplateError> {
    Template::parse(&format!("__alert_{alertname}"), text, ALERT_VARS).map(|_| ())
}

/// Expands one label value or annotation like Prometheus: a failure becomes
/// the text `<error expanding template: ...>`.
pub fn expand_alert_text(
    alertname: &str,
    text: &str,
    data: &AlertTemplateData,
    query: Option<&dyn QueryFn>,
    t_ms: i64,
) -> String {
    if !text.contains("{{") {
        return text.to_string();
    }
    let name = format!("__alert_{alertname}");
    let ctx = FuncCtx {
        query,
        t_ms,
        external_url: &data.external_url,
    };
    let (dot, vars) = data.dot_and_vars();
    match Template::parse(&name, text, ALERT_VARS).and_then(|t| t.execute(&dot, &vars, &ctx)) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(alertname, error = %e, "Expanding an alert template failed.");
            format!("<error expanding template: {e}>")
        }
    }
}

#[cfg(test)]
mod tests;
