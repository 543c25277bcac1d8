//! A Go `text/template` subset: a parser, a value model that prints like Go's `fmt`, and a
//! function registry the caller extends. Prometheus rule templates (`argus-rules`) and
//! Alertmanager notification templates (`argus-alert`) both run on it, each registering its
//! own functions.
//!
//! ```
//! use argus_gotmpl::{Funcs, Template, Templates, Value};
//! use std::collections::BTreeMap;
//!
//! let funcs = Funcs::new().with_text_funcs();
//! let mut set = Templates::new();
//! set.add("my.tmpl", r#"{{ define "hello" }}Hello, {{ .Name | toUpper }}!{{ end }}"#, &funcs).unwrap();
//! let t = Template::parse("field", r#"{{ template "hello" . }}"#, &[], &funcs).unwrap();
//! set.check_refs(&t).unwrap();
//! let dot = Value::Map(BTreeMap::from([("Name".to_string(), Value::from("argus"))]));
//! assert_eq!(set.execute(&t, &dot, &funcs).unwrap(), "Hello, ARGUS!");
//! ```
//!
//! Supported: text and `{{ pipeline }}` actions with `{{-`/`-}}` trimming and comments;
//! `if`/`else if`/`else`/`end`, `range` over lists, maps (sorted by key) and integers (with
//! `$i, $e :=` and `else`), `with`; `define`, `template` and `block`; variables; field chains
//! (`.Labels.job`, `$labels.job`) ending, optionally, in a method call with arguments
//! (methods come from the [`Host`]); literals; parenthesised pipelines; Go's predefined
//! functions `and or not len index print printf println eq ne lt le gt ge html js urlquery`;
//! Go's `time.Time` and `time.Duration` values ([`GoTime`], [`Value::Time`], [`Value::Duration`])
//! with their methods (`.Format "2006-01-02"`, `.Unix`, `.UTC`, `.Sub`, `.Seconds`, ...).
//! Not supported: `break`/`continue`, `slice`, `call`, custom delimiters.

mod builtins;
mod exec;
pub mod gofmt;
mod gotime;
mod lex;
mod parse;
mod value;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub use builtins::{call_builtin, call_text, want, GO_BUILTINS, TEXT_FUNCS};
pub use gofmt::{fmt_g, fmt_v, sprintf};
pub use gotime::{
    go_duration, humanize_duration, time_layouts, time_method, GoTime, ZERO_TIME_UNIX,
};
pub use value::{parse_go_float, Value};

use parse::Node;

/// Why a template did not parse or execute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not a valid template, or it calls a template that does not exist.
    #[error("template: {name}:{line}: {reason}")]
    Parse {
        /// The template's (or file's) name.
        name: String,
        /// The 1-based line within the template's text.
        line: usize,
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

impl Error {
    /// What was wrong, without the template's name and line.
    pub fn reason(&self) -> &str {
        match self {
            Error::Parse { reason, .. } | Error::Exec { reason, .. } => reason,
        }
    }
}

/// The functions and methods a template can call beyond Go's predefined ones.
pub trait Host {
    /// Whether function `name` exists (asked while parsing: unknown names are parse errors).
    fn has_func(&self, name: &str) -> bool;
    /// Calls function `name`; the piped value, if any, is the last argument.
    fn call(&self, name: &str, args: &[Value]) -> Result<Value, String>;
    /// Calls method `name` on `recv` (`.Alerts.Firing`, `.Labels.Remove $x`); `None` when
    /// `recv` has no such method, so the name is looked up as a map key instead.
    fn method(&self, recv: &Value, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let _ = (recv, name, args);
        None
    }
}

/// A function in a [`Funcs`] registry.
pub type Func = Arc<dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync>;
/// A method in a [`Funcs`] registry: `None` when the receiver does not have it.
pub type Method = Arc<dyn Fn(&Value, &[Value]) -> Option<Result<Value, String>> + Send + Sync>;

/// A registry of context-free functions and methods: the usual [`Host`].
#[derive(Clone, Default)]
pub struct Funcs {
    funcs: HashMap<String, Func>,
    methods: HashMap<String, Method>,
}

impl std::fmt::Debug for Funcs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.funcs.keys().collect();
        names.sort();
        f.debug_struct("Funcs").field("funcs", &names).finish()
    }
}

impl Funcs {
    /// Only Go's predefined functions.
    pub fn new() -> Funcs {
        Funcs::default()
    }

    /// Adds [`TEXT_FUNCS`] (`title toUpper toLower match reReplaceAll safeHtml`).
    pub fn with_text_funcs(mut self) -> Funcs {
        for name in TEXT_FUNCS {
            let n = *name;
            self.register(n, move |a| {
                call_text(n, a).unwrap_or_else(|| Err(format!("function {n:?} not defined")))
            });
        }
        self
    }

    /// Adds (or replaces) function `name`.
    pub fn register(
        &mut self,
        name: &str,
        f: impl Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static,
    ) -> &mut Funcs {
        self.funcs.insert(name.to_string(), Arc::new(f));
        self
    }

    /// Adds (or replaces) method `name`.
    pub fn register_method(
        &mut self,
        name: &str,
        f: impl Fn(&Value, &[Value]) -> Option<Result<Value, String>> + Send + Sync + 'static,
    ) -> &mut Funcs {
        self.methods.insert(name.to_string(), Arc::new(f));
        self
    }
}

impl Host for Funcs {
    fn has_func(&self, name: &str) -> bool {
        self.funcs.contains_key(name)
    }

    fn call(&self, name: &str, args: &[Value]) -> Result<Value, String> {
        match self.funcs.get(name) {
            Some(f) => f(args),
            None => Err(format!("function {name:?} not defined")),
        }
    }

    fn method(&self, recv: &Value, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        self.methods.get(name).and_then(|m| m(recv, args))
    }
}

fn known<'h>(host: &'h dyn Host) -> impl Fn(&str) -> bool + 'h {
    move |n: &str| GO_BUILTINS.contains(&n) || host.has_func(n)
}

/// One parsed template text, with the templates it defines itself.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    nodes: Vec<Node>,
    defs: HashMap<String, Vec<Node>>,
}

impl Template {
    /// Parses `text`; `vars` are predefined variables (without `$`), `host` says which
    /// functions exist.
    pub fn parse(
        name: &str,
        text: &str,
        vars: &[&str],
        host: &dyn Host,
    ) -> Result<Template, Error> {
        let p = parse::parse(text, vars, &known(host)).map_err(|(line, reason)| Error::Parse {
            name: name.to_string(),
            line,
            reason,
        })?;
        Ok(Template {
            name: name.to_string(),
            nodes: p.nodes,
            defs: p.defs.into_iter().collect(),
        })
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Executes with `dot` as `.` and `vars` as the predefined variables; `{{ template }}`
    /// reaches only the templates this text defines.
    pub fn execute(
        &self,
        dot: &Value,
        vars: &[(&str, Value)],
        host: &dyn Host,
    ) -> Result<String, Error> {
        run(&self.name, &self.nodes, &self.defs, dot, vars, host)
    }

    /// `(name, line)` of every `{{ template }}` call in the text, its own definitions included.
    pub fn template_calls(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        calls(&self.nodes, &mut out);
        for d in self.defs.values() {
            calls(d, &mut out);
        }
        out
    }
}

fn run(
    name: &str,
    nodes: &[Node],
    defs: &HashMap<String, Vec<Node>>,
    dot: &Value,
    vars: &[(&str, Value)],
    host: &dyn Host,
) -> Result<String, Error> {
    let mut ex = exec::Exec {
        host,
        defs,
        vars: std::iter::once((String::new(), dot.clone()))
            .chain(vars.iter().map(|(n, v)| (n.to_string(), v.clone())))
            .collect(),
        out: String::new(),
        depth: 0,
    };
    ex.nodes(nodes, dot).map_err(|reason| Error::Exec {
        name: name.to_string(),
        reason,
    })?;
    Ok(ex.out)
}

fn calls(nodes: &[Node], out: &mut Vec<(String, usize)>) {
    for n in nodes {
        match n {
            Node::Template { name, line, .. } => out.push((name.clone(), *line)),
            Node::If(branches, e) => {
                for (_, b) in branches {
                    calls(b, out);
                }
                calls(e, out);
            }
            Node::Range(_, b, e) | Node::With(_, b, e) => {
                calls(b, out);
                calls(e, out);
            }
            Node::Text(_) | Node::Out(_) => {}
        }
    }
}

/// A set of named templates, loaded from files of `{{ define }}` blocks: what
/// `{{ template "name" . }}` reaches.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    defs: HashMap<String, Vec<Node>>,
    /// The file each template came from, for errors.
    files: BTreeMap<String, String>,
}

impl Templates {
    /// An empty set.
    pub fn new() -> Templates {
        Templates::default()
    }

    /// Parses a file and adds its definitions (a later definition of a name replaces an
    /// earlier one). Text outside `define` that is not blank becomes a template named `file`.
    pub fn add(&mut self, file: &str, text: &str, host: &dyn Host) -> Result<(), Error> {
        let t = Template::parse(file, text, &[], host)?;
        let blank = t
            .nodes
            .iter()
            .all(|n| matches!(n, Node::Text(s) if s.trim().is_empty()));
        if !blank {
            self.files.insert(file.to_string(), file.to_string());
            self.defs.insert(file.to_string(), t.nodes);
        }
        for (name, body) in t.defs {
            self.files.insert(name.clone(), file.to_string());
            self.defs.insert(name, body);
        }
        Ok(())
    }

    /// Whether a template `name` is defined.
    pub fn contains(&self, name: &str) -> bool {
        self.defs.contains_key(name)
    }

    /// The defined names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.files.keys().map(String::as_str).collect()
    }

    /// Checks that every `{{ template }}` call inside the set names a defined template; the
    /// error names the file and line of the first call that does not.
    pub fn check(&self) -> Result<(), Error> {
        for (name, file) in &self.files {
            let mut out = Vec::new();
            if let Some(nodes) = self.defs.get(name) {
                calls(nodes, &mut out);
            }
            if let Some((missing, line)) = out.into_iter().find(|(n, _)| !self.contains(n)) {
                return Err(Error::Parse {
                    name: file.clone(),
                    line,
                    reason: format!("no such template {missing:?}"),
                });
            }
        }
        Ok(())
    }

    /// Checks that every `{{ template }}` call in `t` names a template of `t` or of the set.
    pub fn check_refs(&self, t: &Template) -> Result<(), Error> {
        match t
            .template_calls()
            .into_iter()
            .find(|(n, _)| !self.contains(n) && !t.defs.contains_key(n))
        {
            Some((missing, line)) => Err(Error::Parse {
                name: t.name.clone(),
                line,
                reason: format!("no such template {missing:?}"),
            }),
            None => Ok(()),
        }
    }

    /// Executes `t` with `dot` as `.`; `{{ template }}` reaches the set and `t`'s own
    /// definitions (which win).
    pub fn execute(&self, t: &Template, dot: &Value, host: &dyn Host) -> Result<String, Error> {
        if t.defs.is_empty() {
            return run(&t.name, &t.nodes, &self.defs, dot, &[], host);
        }
        let mut defs = self.defs.clone();
        defs.extend(t.defs.iter().map(|(k, v)| (k.clone(), v.clone())));
        run(&t.name, &t.nodes, &defs, dot, &[], host)
    }

    /// Executes the template called `name` with `dot` as `.`.
    pub fn execute_named(&self, name: &str, dot: &Value, host: &dyn Host) -> Result<String, Error> {
        let nodes = self.defs.get(name).ok_or_else(|| Error::Exec {
            name: name.to_string(),
            reason: format!("no such template {name:?}"),
        })?;
        run(name, nodes, &self.defs, dot, &[], host)
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_time;
