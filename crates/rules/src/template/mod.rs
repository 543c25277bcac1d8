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
//! Supported: text and `{{ pipeline }}` actions with `{{-`/`-}}` trimming and
//! comments; `if`/`else if`/`else`/`end`, `range` (with `$i, $e :=` and `else`),
//! `with`; variables; field chains (`.Labels.job`, `$labels.job`); literals;
//! parenthesised pipelines; the functions listed in `funcs.rs` (Go's `and or
//! not len index print printf println eq ne lt le gt ge` and Prometheus's
//! `humanize*`, `query first label value sortByLabel`, `title toUpper toLower
//! reReplaceAll match`, ...). Not supported: `define`/`template`/`block`,
//! `break`/`continue`, method calls.

mod funcs;
pub(crate) mod gofmt;
mod parse;
mod value;

use std::collections::BTreeMap;

use argus_model::Labels;

pub use funcs::{go_time, humanize, humanize1024, humanize_duration};
pub use gofmt::{fmt_g, fmt_v, sprintf};
pub use value::Value;

use crate::inject::QueryFn;
use parse::{Node, Operand, Pipe, Term};

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
    name: String,
    nodes: Vec<Node>,
}

/// The variables Prometheus defines for alert templates.
pub const ALERT_VARS: &[&str] = &["labels", "externalLabels", "externalURL", "value"];

impl Template {
    /// Parses `text`; `vars` are the predefined variables (without `$`).
    pub fn parse(name: &str, text: &str, vars: &[&str]) -> Result<Template, TemplateError> {
        let nodes = parse::parse(text, vars).map_err(|reason| TemplateError::Parse {
            name: name.to_string(),
            reason,
        })?;
        Ok(Template {
            name: name.to_string(),
            nodes,
        })
    }

    /// Executes with `dot` as `.` and `vars` as the predefined variables.
    pub fn execute(
        &self,
        dot: &Value,
        vars: &[(&str, Value)],
        ctx: &FuncCtx<'_>,
    ) -> Result<String, TemplateError> {
        let mut ex = Exec {
            ctx,
            vars: std::iter::once(("".to_string(), dot.clone()))
                .chain(vars.iter().map(|(n, v)| (n.to_string(), v.clone())))
                .collect(),
            out: String::new(),
        };
        ex.nodes(&self.nodes, dot)
            .map_err(|reason| TemplateError::Exec {
                name: self.name.clone(),
                reason,
            })?;
        Ok(ex.out)
    }
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
        let labels = Value::from(&self.labels);
        let ext = Value::from(&self.external_labels);
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

struct Exec<'a, 'c> {
    ctx: &'c FuncCtx<'a>,
    vars: Vec<(String, Value)>,
    out: String,
}

impl Exec<'_, '_> {
    fn nodes(&mut self, nodes: &[Node], dot: &Value) -> Result<(), String> {
        for n in nodes {
            match n {
                Node::Text(t) => self.out.push_str(t),
                Node::Out(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.decl.is_empty() {
                        self.out.push_str(&v.to_go_string());
                    }
                }
                Node::If(branches, else_body) => {
                    let mark = self.vars.len();
                    let mut done = false;
                    for (cond, body) in branches {
                        if self.pipe(cond, dot)?.truthy() {
                            self.nodes(body, dot)?;
                            done = true;
                            break;
                        }
                    }
                    if !done {
                        self.nodes(else_body, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::With(p, body, else_body) => {
                    let mark = self.vars.len();
                    let v = self.pipe(p, dot)?;
                    if v.truthy() {
                        self.nodes(body, &v)?;
                    } else {
                        self.nodes(else_body, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::Range(p, body, else_body) => self.range(p, body, else_body, dot)?,
            }
        }
        Ok(())
    }

    fn range(
        &mut self,
        p: &Pipe,
        body: &[Node],
        else_body: &[Node],
        dot: &Value,
    ) -> Result<(), String> {
        let mark = self.vars.len();
        let plain = Pipe {
            decl: Vec::new(),
            assign: false,
            cmds: p.cmds.clone(),
        };
        let v = self.pipe(&plain, dot)?;
        let items: Vec<(Value, Value)> = match v {
            Value::List(l) => l
                .into_iter()
                .enumerate()
                .map(|(i, x)| (Value::Int(i as i64), x))
                .collect(),
            Value::Map(m) => m.into_iter().map(|(k, x)| (Value::Str(k), x)).collect(),
            Value::Int(n) => (0..n).map(|i| (Value::Int(i), Value::Int(i))).collect(),
            Value::Nil => Vec::new(),
            other => return Err(format!("range can't iterate over {}", other.to_go_string())),
        };
        if items.is_empty() {
            self.nodes(else_body, dot)?;
        }
        for (k, x) in items {
            let inner = self.vars.len();
            match p.decl.as_slice() {
                [e] => self.vars.push((e.clone(), x.clone())),
                [i, e] => {
                    self.vars.push((i.clone(), k));
                    self.vars.push((e.clone(), x.clone()));
                }
                _ => {}
            }
            self.nodes(body, &x)?;
            self.vars.truncate(inner);
        }
        self.vars.truncate(mark);
        Ok(())
    }

    fn var(&self, name: &str) -> Result<Value, String> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| format!("undefined variable: ${name}"))
    }

    fn pipe(&mut self, p: &Pipe, dot: &Value) -> Result<Value, String> {
        let mut last: Option<Value> = None;
        for cmd in &p.cmds {
            last = Some(self.cmd(cmd, dot, last)?);
        }
        let v = last.unwrap_or(Value::Nil);
        if let Some(name) = p.decl.first() {
            if p.assign {
                let slot = self
                    .vars
                    .iter_mut()
                    .rev()
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| format!("undefined variable: ${name}"))?;
                slot.1 = v.clone();
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn cmd(&mut self, ops: &[Operand], dot: &Value, piped: Option<Value>) -> Result<Value, String> {
        let Some(first) = ops.first() else {
            return Err("empty command".into());
        };
        if let Term::Func(name) = &first.term {
            let mut args = Vec::with_capacity(ops.len());
            for o in &ops[1..] {
                args.push(self.operand(o, dot)?);
            }
            if let Some(v) = piped {
                args.push(v);
            }
            let r = funcs::call(name, args, self.ctx)
                .map_err(|e| format!("error calling {name}: {e}"))?;
            return fields(r, &first.fields);
        }
        if ops.len() > 1 || piped.is_some() {
            return Err("can't give argument to non-function".into());
        }
        self.operand(first, dot)
    }

    fn operand(&mut self, o: &Operand, dot: &Value) -> Result<Value, String> {
        let base = match &o.term {
            Term::Dot => dot.clone(),
            Term::Var(v) => self.var(v)?,
            Term::Lit(v) => v.clone(),
            Term::Sub(p) => self.pipe(p, dot)?,
            Term::Func(name) => funcs::call(name, Vec::new(), self.ctx)
                .map_err(|e| format!("error calling {name}: {e}"))?,
        };
        fields(base, &o.fields)
    }
}

fn fields(mut v: Value, names: &[String]) -> Result<Value, String> {
    for n in names {
        v = v.field(n)?;
    }
    Ok(v)
}

#[cfg(test)]
mod tests;
