//! Step fields are Go templates over the incident, the same language as
//! alert annotations: `{{ .Labels.service }}`, `{{ .Root.Service }}`,
//! `{{ .Root.Cause }}`, `{{ .Incident.ID }}`, `{{ .Incident.Title }}`,
//! `{{ .Incident.Severity }}`, `{{ .Execution.ID }}`, `{{ .Runbook }}`.
//! `.Labels` are those of the incident's first alert that matched the
//! runbook.
//!
//! ```
//! use argus_recover::template::{dot, render};
//! use argus_recover::matching::Subject;
//! use std::collections::BTreeMap;
//! let s = Subject { incident: 3, root_service: Some("db".into()), ..Subject::default() };
//! let d = dot(&s, &BTreeMap::from([("zone".into(), "eu".into())]), 9, "failover");
//! assert_eq!(render("/{{ .Labels.zone }}/{{ .Root.Service }}/{{ .Incident.ID }}", &d).unwrap(), "/eu/db/3");
//! ```

use crate::matching::Subject;
use argus_gotmpl::{Funcs, Template, Value};
use std::collections::BTreeMap;

fn funcs() -> Funcs {
    Funcs::new().with_text_funcs()
}

/// Parses `text` as a template, to report mistakes when the configuration loads.
pub fn check(text: &str) -> Result<(), argus_gotmpl::Error> {
    Template::parse("step", text, &[], &funcs()).map(|_| ())
}

/// The value the templates of one execution see.
pub fn dot(s: &Subject, labels: &BTreeMap<String, String>, execution: u64, runbook: &str) -> Value {
    let map = |pairs: Vec<(&str, Value)>| {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    };
    let opt = |v: &Option<String>| Value::from(v.clone().unwrap_or_default());
    map(vec![
        (
            "Incident",
            map(vec![
                ("ID", Value::Int(s.incident as i64)),
                ("Title", Value::from(s.title.clone())),
                ("Severity", Value::from(s.severity.clone())),
            ]),
        ),
        (
            "Labels",
            Value::Map(
                labels
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                    .collect(),
            ),
        ),
        (
            "Root",
            map(vec![
                ("Service", opt(&s.root_service)),
                ("Cause", opt(&s.root_cause)),
            ]),
        ),
        ("Execution", map(vec![("ID", Value::Int(execution as i64))])),
        ("Runbook", Value::from(runbook.to_string())),
    ])
}

/// Renders `text` with `dot`.
pub fn render(text: &str, dot: &Value) -> Result<String, argus_gotmpl::Error> {
    if !text.contains("{{") {
        return Ok(text.to_string());
    }
    let f = funcs();
    Template::parse("step", text, &[], &f)?.execute(dot, &[], &f)
}
