//! Prometheus rule files, parsed and validated like `promtool check rules`.
//!
//! The format is Prometheus's, unchanged: `groups: [{name, interval,
//! query_offset, limit, labels, rules: [{record|alert, expr, for,
//! keep_firing_for, labels, annotations}]}]`. Unknown keys are rejected.
//! Every error carries the file, the line and column, and the reason.
//!
//! ```
//! use argus_rules::parse_rule_file;
//! let f = parse_rule_file("r.yml", "groups:\n- name: g\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n").unwrap();
//! assert_eq!(f.groups[0].rules.len(), 1);
//! let e = parse_rule_file("r.yml", "groups:\n- name: g\n  rules:\n  - record: job:up:sum\n    expr: sum by (job (up)\n").unwrap_err();
//! assert!(e.to_string().starts_with("r.yml:5:"), "{e}");
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use argus_model::{is_valid_label_name, is_valid_metric_name, PromDuration};
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::template::check_alert_template;

/// One problem in a rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// What is wrong.
    pub reason: String,
}

/// Why a rule file was refused: every problem found, each with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    /// The file as named by the caller.
    pub file: String,
    /// The problems, in file order.
    pub problems: Vec<FileProblem>,
}

impl LoadError {
    fn one(file: &str, line: usize, column: usize, reason: impl Into<String>) -> Self {
        LoadError {
            file: file.to_string(),
            problems: vec![FileProblem {
                line,
                column,
                reason: reason.into(),
            }],
        }
    }

    /// Reading the file failed; worth retrying (the disk may recover).
    pub fn is_retryable(&self) -> bool {
        self.problems
            .iter()
            .any(|p| p.reason.starts_with("cannot read"))
    }
}

impl fmt::Display for LoadError {
    /// `file:line:col: reason`, one line per problem.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}:{}:{}: {}", self.file, p.line, p.column, p.reason)?;
        }
        Ok(())
    }
}

/// A parsed, validated rule file.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFile {
    /// The file as named by the caller.
    pub file: String,
    /// Its groups, in file order.
    pub groups: Vec<GroupSpec>,
}

/// One rule group as written in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    /// The group's name (unique in its file).
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// `interval` in ms; `None`: the global evaluation interval.
    pub interval_ms: Option<i64>,
    /// `query_offset` in ms; `None`: the global default.
    pub query_offset_ms: Option<i64>,
    /// `limit`: most alerts / series per rule; 0 means none.
    pub limit: usize,
    /// The rules, group `labels` already merged into each rule's labels.
    pub rules: Vec<RuleSpec>,
    /// Line of the group's `name`.
    pub line: usize,
}

/// What kind of rule, with its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleKind {
    /// `record: <metric name>`.
    Record(String),
    /// `alert: <alertname>`.
    Alert(String),
}

/// One rule as written in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    /// Recording or alerting, with the name.
    pub kind: RuleKind,
    /// The PromQL expression (parsed once at load to validate it).
    pub expr: String,
    /// `for` in ms (alerting only).
    pub for_ms: i64,
    /// `keep_firing_for` in ms (alerting only).
    pub keep_firing_for_ms: i64,
    /// Labels: group labels overridden by rule labels, sorted by name. Values
    /// of alerting rules are templates.
    pub labels: Vec<(String, String)>,
    /// Annotations (alerting only), sorted by name; values are templates.
    pub annotations: Vec<(String, String)>,
    /// Line of the rule's first key.
    pub line: usize,
}

impl RuleSpec {
    /// The record or alert name.
    pub fn name(&self) -> &str {
        match &self.kind {
            RuleKind::Record(n) | RuleKind::Alert(n) => n,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    groups: Vec<Spanned<RawGroup>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    #[serde(default)]
    name: Option<Spanned<String>>,
    #[serde(default)]
    interval: Option<PromDuration>,
    #[serde(default)]
    query_offset: Option<PromDuration>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    rules: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    record: Option<String>,
    #[serde(default)]
    alert: Option<String>,
    #[serde(default)]
    expr: Option<Spanned<String>>,
    #[serde(default, rename = "for")]
    for_: Option<PromDuration>,
    #[serde(default)]
    keep_firing_for: Option<PromDuration>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

fn line(l: &serde_saphyr::Location) -> (usize, usize) {
    (l.line() as usize, l.column() as usize)
}

/// Reads and validates a rule file.
pub fn load_rule_file(path: &Path) -> Result<RuleFile, LoadError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::one(&name, 0, 0, format!("cannot read the rule file: {e}")))?;
    parse_rule_file(&name, &text)
}

/// Parses and validates rule-file text; `file` names it in errors.
pub fn parse_rule_file(file: &str, text: &str) -> Result<RuleFile, LoadError> {
    let raw: RawFile = match serde_saphyr::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let (l, c) = e.location().map(|l| line(&l)).unwrap_or((0, 0));
            return Err(LoadError::one(file, l, c, yaml_reason(&e)));
        }
    };
    let mut problems = Vec::new();
    let mut groups = Vec::new();
    let mut seen = HashSet::new();
    for g in raw.groups {
        let (gl, gc) = line(&g.referenced);
        let g = g.value;
        let (name, nl, nc) = match &g.name {
            Some(n) if !n.value.is_empty() => {
                let (l, c) = line(&n.referenced);
                (n.value.clone(), l, c)
            }
            _ => {
                problems.push(FileProblem {
                    line: gl,
                    column: gc,
                    reason: "Groupname must not be empty".into(),
                });
                continue;
            }
        };
        if !seen.insert(name.clone()) {
            problems.push(FileProblem {
                line: nl,
                column: nc,
                reason: format!("groupname: \"{name}\" is repeated in the same file"),
            });
        }
        let glabels = g.labels.clone().unwrap_or_default();
        for k in glabels.keys() {
            if !is_valid_label_name(k) {
                problems.push(FileProblem {
                    line: nl,
                    column: nc,
                    reason: format!("group \"{name}\": invalid label name: {k}"),
                });
            }
        }
        if g.interval.is_some_and(|d| d.as_millis() <= 0) {
            problems.push(FileProblem {
                line: nl,
                column: nc,
                reason: format!("group \"{name}\": interval must be positive"),
            });
        }
        let mut rules = Vec::new();
        for (i, r) in g.rules.iter().enumerate() {
            let (rl, rc) = line(&r.referenced);
            match validate_rule(&r.value, &glabels) {
                Ok(mut spec) => {
                    spec.line = rl;
                    rules.push(spec);
                }
                Err((pos, reason)) => {
                    let rname = r
                        .value
                        .record
                        .clone()
                        .or(r.value.alert.clone())
                        .unwrap_or_default();
                    let (l, c) = pos.unwrap_or((rl, rc));
                    problems.push(FileProblem {
                        line: l,
                        column: c,
                        reason: format!("group \"{name}\", rule {}, \"{rname}\": {reason}", i + 1),
                    });
                }
            }
        }
        groups.push(GroupSpec {
            name,
            file: file.to_string(),
            interval_ms: g.interval.map(PromDuration::as_millis),
            query_offset_ms: g.query_offset.map(PromDuration::as_millis),
            limit: g.limit.unwrap_or(0),
            rules,
            line: nl,
        });
    }
    if problems.is_empty() {
        Ok(RuleFile {
            file: file.to_string(),
            groups,
        })
    } else {
        Err(LoadError {
            file: file.to_string(),
            problems,
        })
    }
}

/// The YAML error's message without the snippet rendering.
fn yaml_reason(e: &serde_saphyr::Error) -> String {
    let s = e.to_string();
    let mut first = s.lines().next().unwrap_or("").trim();
    first = first.strip_prefix("error: ").unwrap_or(first);
    if first.starts_with("line ") {
        if let Some((_, rest)) = first.split_once(": ") {
            first = rest;
        }
    }
    first.to_string()
}

type Pos = Option<(usize, usize)>;

fn validate_rule(
    r: &RawRule,
    group_labels: &BTreeMap<String, String>,
) -> Result<RuleSpec, (Pos, String)> {
    let kind = match (&r.record, &r.alert) {
        (Some(_), Some(_)) => {
            return Err((None, "only one of 'record' and 'alert' must be set".into()))
        }
        (None, None) => return Err((None, "one of 'record' or 'alert' must be set".into())),
        (Some(n), None) if n.is_empty() => {
            return Err((None, "one of 'record' or 'alert' must be set".into()))
        }
        (None, Some(n)) if n.is_empty() => {
            return Err((None, "one of 'record' or 'alert' must be set".into()))
        }
        (Some(n), None) => RuleKind::Record(n.clone()),
        (None, Some(n)) => RuleKind::Alert(n.clone()),
    };
    let Some(expr) = r.expr.as_ref().filter(|e| !e.value.trim().is_empty()) else {
        return Err((None, "field 'expr' must be set in rule".into()));
    };
    let epos = Some(line(&expr.referenced));
    // The same limits the server evaluates rules with: a rule that passes here
    // cannot crash or be refused at evaluation for its shape.
    if let Err(e) = argus_promql::parse(&expr.value, &argus_promql::ParseLimits::default()) {
        return Err((
            epos,
            format!("could not parse expression: {}", e.to_string().trim()),
        ));
    }
    let rule_labels = r.labels.clone().unwrap_or_default();
    let annotations = r.annotations.clone().unwrap_or_default();
    match &kind {
        RuleKind::Record(name) => {
            if r.annotations.is_some() {
                return Err((None, "invalid field 'annotations' in recording rule".into()));
            }
            if r.for_.is_some() {
                return Err((None, "invalid field 'for' in recording rule".into()));
            }
            if r.keep_firing_for.is_some() {
                return Err((
                    None,
                    "invalid field 'keep_firing_for' in recording rule".into(),
                ));
            }
            if !is_valid_metric_name(name) {
                return Err((None, format!("invalid recording rule name: {name}")));
            }
        }
        RuleKind::Alert(name) => {
            for (k, v) in annotations.iter().chain(rule_labels.iter()) {
                if let Err(e) = check_alert_template(name, v) {
                    return Err((None, format!("msg={e}")));
                }
                let _ = k;
            }
            for k in annotations.keys() {
                if !is_valid_label_name(k) {
                    return Err((None, format!("invalid annotation name: {k}")));
                }
            }
        }
    }
    for k in rule_labels.keys() {
        if !is_valid_label_name(k) {
            return Err((None, format!("invalid label name: {k}")));
        }
        if k == "__name__" {
            return Err((
                None,
                "invalid label name: __name__ (use record to set the metric name)".into(),
            ));
        }
    }
    let mut labels: BTreeMap<String, String> = group_labels.clone();
    labels.extend(rule_labels);
    Ok(RuleSpec {
        kind,
        expr: expr.value.clone(),
        for_ms: r.for_.map(PromDuration::as_millis).unwrap_or(0),
        keep_firing_for_ms: r.keep_firing_for.map(PromDuration::as_millis).unwrap_or(0),
        labels: labels.into_iter().collect(),
        annotations: annotations.into_iter().collect(),
        line: 0,
    })
}

/// What `check rules` reports for a good file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSummary {
    /// The file.
    pub file: String,
    /// Number of groups.
    pub groups: usize,
    /// Number of rules.
    pub rules: usize,
}

impl fmt::Display for CheckSummary {
    /// promtool's wording: `SUCCESS: N rules found`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SUCCESS: {} rules found", self.rules)
    }
}

/// `argus check rules FILE...`: validates each file; one result per file, in order.
pub fn check_rule_files(paths: &[PathBuf]) -> Vec<Result<CheckSummary, LoadError>> {
    paths
        .iter()
        .map(|p| {
            load_rule_file(p).map(|f| CheckSummary {
                file: f.file.clone(),
                groups: f.groups.len(),
                rules: f.groups.iter().map(|g| g.rules.len()).sum(),
            })
        })
        .collect()
}

/// Expands rule-file patterns as Prometheus does: a `*`/`?`/`[...]` wildcard
/// in the last path component; relative patterns resolve against `base`.
/// Matches are sorted; a pattern without a wildcard is returned as is.
pub fn expand_rule_globs(patterns: &[String], base: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in patterns {
        let path = base.join(p);
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !file.contains(['*', '?', '[']) {
            out.push(path);
            continue;
        }
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut re = String::from("^");
        for c in file.chars() {
            match c {
                '*' => re.push_str("[^/]*"),
                '?' => re.push_str("[^/]"),
                '[' | ']' => re.push(c),
                c => re.push_str(&regex::escape(&c.to_string())),
            }
        }
        re.push('$');
        let re = regex::Regex::new(&re)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok())
            .filter(|e| re.is_match(&e.file_name().to_string_lossy()))
            .map(|e| e.path())
            .collect();
        found.sort();
        out.extend(found);
    }
    Ok(out)
}
