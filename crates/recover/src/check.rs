//! Checking the `recover:` section and reading runbook files: every
//! problem named with its file, the runbook's line and the step.

use crate::config::{Action, Mode, RecoverConfig, Runbook};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A problem in the runbooks, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: runbook {runbook:?}: {message}")]
pub struct RunbookError {
    /// The file.
    pub file: String,
    /// The line of the runbook (or of the problem, when found).
    pub line: usize,
    /// The runbook's name.
    pub runbook: String,
    /// What is wrong.
    pub message: String,
}

/// Why runbook files could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read, or a glob is malformed.
    #[error("runbook file {path}: {reason}")]
    Read {
        /// The file or glob.
        path: String,
        /// Why.
        reason: String,
    },
    /// A file is not valid YAML or does not fit the schema.
    #[error("runbook file {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// The parser's message, with the line.
        message: String,
    },
    /// Runbooks are wrong.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Runbooks(Vec<RunbookError>),
}

/// The 1-based line of the first line of `text` that contains `needle`
/// (1 when none does).
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(1, |i| i + 1)
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl RecoverConfig {
    /// Checks every runbook; `file` and `text` place the errors.
    pub fn validate(&self, file: &str, text: &str) -> Result<(), LoadError> {
        let mut errs = Vec::new();
        if self.max_concurrent == 0 {
            errs.push(RunbookError {
                file: file.into(),
                line: line_of(text, "max_concurrent"),
                runbook: String::new(),
                message: "recover.max_concurrent must be at least 1".into(),
            });
        }
        for c in &self.commands {
            if !c.is_absolute() {
                errs.push(RunbookError {
                    file: file.into(),
                    line: line_of(text, &c.display().to_string()),
                    runbook: String::new(),
                    message: format!("recover.commands: {} is not an absolute path", c.display()),
                });
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for rb in &self.runbooks {
            let line = line_of(text, &format!("name: {}", rb.name));
            for message in self.problems(rb) {
                errs.push(RunbookError {
                    file: file.into(),
                    line,
                    runbook: rb.name.clone(),
                    message,
                });
            }
            if !seen.insert(rb.name.clone()) {
                errs.push(RunbookError {
                    file: file.into(),
                    line,
                    runbook: rb.name.clone(),
                    message: "another runbook has this name".into(),
                });
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(LoadError::Runbooks(errs))
        }
    }

    fn problems(&self, rb: &Runbook) -> Vec<String> {
        let mut out = Vec::new();
        if !valid_name(&rb.name) {
            out.push("the name must be 1-100 letters, digits, '-', '_' or '.'".into());
        }
        if rb.steps.is_empty() {
            out.push("has no steps".into());
        }
        for (k, re) in &rb.matches.labels {
            if let Err(e) = crate::matching::anchored(re) {
                out.push(format!("match.labels.{k}: {e}"));
            }
        }
        for (what, re) in [
            ("root_service", &rb.matches.root_service),
            ("root_cause", &rb.matches.root_cause),
        ] {
            if let Some(Err(e)) = re.as_deref().map(crate::matching::anchored) {
                out.push(format!("match.{what}: {e}"));
            }
        }
        if let Some(r) = rb.rate_limit {
            if r.max == 0 || r.per.as_millis() <= 0 {
                out.push("rate_limit needs max ≥ 1 and a positive per".into());
            }
        }
        if rb.delay.as_millis() > 0 && rb.mode != Mode::Auto {
            out.push("delay applies to mode: auto only".into());
        }
        if rb.verify.deadline.as_millis() <= 0 || rb.verify.hold.as_millis() < 0 {
            out.push("verify.deadline must be positive and verify.hold not negative".into());
        }
        if !rb.verify.resolved && rb.verify.condition.is_none() {
            out.push(
                "verify needs resolved: true or a condition (an execution must be checked)".into(),
            );
        }
        for (phase, steps) in [("steps", &rb.steps), ("rollback", &rb.rollback)] {
            for (i, s) in steps.iter().enumerate() {
                let at = format!("{phase}[{}]", i + 1);
                match s.action() {
                    Err(e) => out.push(format!("{at} {e}")),
                    Ok(a) => {
                        if let Err(e) = self.check_action(&a) {
                            out.push(format!("{at} ({}): {e}", a.kind()));
                        }
                    }
                }
                if let Some(t) = s.timeout {
                    if t.as_millis() <= 0 {
                        out.push(format!("{at}: timeout must be positive"));
                    }
                }
            }
        }
        out
    }

    fn check_action(&self, a: &Action<'_>) -> Result<(), String> {
        let tpl = |s: &str| crate::template::check(s).map_err(|e| e.to_string());
        match a {
            Action::Http(h) => {
                if !matches!(
                    h.method.to_ascii_uppercase().as_str(),
                    "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
                ) {
                    return Err(format!(
                        "method {} is not GET, POST, PUT, PATCH or DELETE",
                        h.method
                    ));
                }
                tpl(&h.url)?;
                if !(h.url.starts_with("http://")
                    || h.url.starts_with("https://")
                    || h.url.starts_with("{{"))
                {
                    return Err(format!("url {:?} is not http:// or https://", h.url));
                }
                for v in h.headers.values() {
                    tpl(v)?;
                }
                if let Some(b) = &h.body {
                    tpl(b)?;
                }
                Ok(())
            }
            Action::Command(c) => {
                if !self.commands.iter().any(|p| p == &c.path) {
                    return Err(format!(
                        "{} is not in recover.commands (the executables steps may run)",
                        c.path.display()
                    ));
                }
                for s in c.args.iter().chain(c.env.values()) {
                    tpl(s)?;
                }
                Ok(())
            }
            Action::Restart(r) => {
                let given = [r.unit.is_some(), r.process.is_some(), r.pid_file.is_some()];
                if given.iter().filter(|g| **g).count() != 1 {
                    return Err("give exactly one of unit, process and pid_file".into());
                }
                if r.unit.is_some() && r.start.is_some() {
                    return Err("start is for a process; systemd starts a unit".into());
                }
                if let Some(u) = &r.unit {
                    tpl(u)?;
                }
                if let Some(p) = &r.process {
                    tpl(p)?;
                }
                if let Some(c) = &r.start {
                    self.check_action(&Action::Command(c))?;
                }
                Ok(())
            }
            Action::RedisSet(r) => {
                tpl(&r.key)?;
                tpl(&r.value)?;
                redis::Client::open(r.url.as_str())
                    .map(|_| ())
                    .map_err(|e| format!("url {:?}: {e}", r.url))
            }
            Action::NatsKvPut(n) => {
                tpl(&n.key)?;
                tpl(&n.value)?;
                if n.bucket.is_empty() {
                    return Err("bucket is empty".into());
                }
                Ok(())
            }
            Action::Wait(d) => {
                if d.as_millis() <= 0 {
                    Err("must be positive".into())
                } else {
                    Ok(())
                }
            }
            Action::WaitUntil(w) => {
                if w.deadline.as_millis() <= 0 {
                    Err("deadline must be positive".into())
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Reads `runbook_files` (relative to `base`), appends their runbooks,
    /// and validates the whole.
    pub fn load_files(
        &mut self,
        base: &Path,
        cfg_file: &str,
        cfg_text: &str,
    ) -> Result<(), LoadError> {
        self.validate(cfg_file, cfg_text)?;
        let mut errs = Vec::new();
        for pat in &self.runbook_files.clone() {
            let full = if Path::new(pat).is_absolute() {
                PathBuf::from(pat)
            } else {
                base.join(pat)
            };
            let paths = glob::glob(&full.to_string_lossy()).map_err(|e| LoadError::Read {
                path: pat.clone(),
                reason: e.to_string(),
            })?;
            for p in paths {
                let p = p.map_err(|e| LoadError::Read {
                    path: pat.clone(),
                    reason: e.to_string(),
                })?;
                let name = p.display().to_string();
                let text = std::fs::read_to_string(&p).map_err(|e| LoadError::Read {
                    path: name.clone(),
                    reason: e.to_string(),
                })?;
                let list = parse_file(&text).map_err(|message| LoadError::Invalid {
                    path: name.clone(),
                    message,
                })?;
                let only = RecoverConfig {
                    runbooks: list.clone(),
                    ..self.clone()
                };
                if let Err(LoadError::Runbooks(e)) = only.validate(&name, &text) {
                    errs.extend(e);
                }
                self.runbooks.extend(list);
            }
        }
        if !errs.is_empty() {
            return Err(LoadError::Runbooks(errs));
        }
        self.validate(cfg_file, cfg_text)
    }
}

/// A runbook file: a list of runbooks, or a map with `runbooks:`.
fn parse_file(text: &str) -> Result<Vec<Runbook>, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wrapped {
        runbooks: Vec<Runbook>,
    }
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    if text.trim_start().starts_with('-') {
        serde_saphyr::from_str::<Vec<Runbook>>(text).map_err(|e| e.to_string())
    } else {
        serde_saphyr::from_str::<Wrapped>(text)
            .map(|w| w.runbooks)
            .map_err(|e| e.to_string())
    }
}
