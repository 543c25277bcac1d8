//! The `templates:` files: globs resolved against the config file's directory, parsed at
//! config load (and so on every reload), and every receiver field written as a Go template
//! parsed and checked against them, so an unknown function or template name fails the load
//! with its file and line instead of failing a notification later.
//!
//! ```
//! use argus_alert::config::Config;
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("a.tmpl"), "{{ define \"t\" }}{{ .Status }}{{ end }}").unwrap();
//! let yml = dir.path().join("am.yml");
//! std::fs::write(&yml, "templates: ['*.tmpl']\nroute: {receiver: r}\nreceivers:\n- name: r\n  slack_configs: [{api_url: 'http://x/', title: '{{ template \"t\" . }}'}]\n").unwrap();
//! assert!(Config::load(&yml).is_ok());
//! std::fs::write(&yml, "templates: ['*.tmpl']\nroute: {receiver: r}\nreceivers:\n- name: r\n  slack_configs: [{api_url: 'http://x/', title: '{{ template \"zz\" . }}'}]\n").unwrap();
//! let e = Config::load(&yml).unwrap_err().to_string();
//! assert!(e.contains("line 5") && e.contains("no such template \"zz\""), "{e}");
//! ```
//!
//! Globs take `*` and `?` in the file name only (`templates/*.tmpl`); a pattern that matches
//! nothing adds nothing, as in Alertmanager.

use std::path::{Path, PathBuf};

use super::{locate, Config, ConfigError};
use crate::template::go::{is_go_template, GoTemplates};

fn wildcard(pat: &[char], name: &[char]) -> bool {
    match (pat.first(), name.first()) {
        (None, None) => true,
        (Some('*'), _) => {
            wildcard(&pat[1..], name) || (!name.is_empty() && wildcard(pat, &name[1..]))
        }
        (Some('?'), Some(_)) => wildcard(&pat[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => wildcard(&pat[1..], &name[1..]),
        _ => false,
    }
}

/// The files a `templates:` entry names, sorted.
fn expand(base: &Path, pattern: &str, origin: &str) -> Result<Vec<PathBuf>, ConfigError> {
    let full = base.join(pattern);
    let invalid = |message: String| ConfigError::Invalid {
        origin: origin.to_string(),
        line: None,
        message,
    };
    let name = full
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| invalid(format!("templates: {pattern:?} names no file")))?;
    let dir = full.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.to_string_lossy().contains(['*', '?', '[']) {
        return Err(invalid(format!(
            "templates: {pattern:?}: wildcards are supported in the file name only"
        )));
    }
    if !name.contains(['*', '?']) {
        return Ok(if full.is_file() {
            vec![full]
        } else {
            Vec::new()
        });
    }
    let pat: Vec<char> = name.chars().collect();
    let mut out: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .filter(|p| {
                p.file_name().is_some_and(|n| {
                    wildcard(&pat, &n.to_string_lossy().chars().collect::<Vec<_>>())
                })
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    Ok(out)
}

/// Every receiver field Argus renders as a template: `(receiver, field, text)`.
fn fields(cfg: &Config) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut add = |r: &str, f: &str, t: &Option<String>| {
        if let Some(t) = t {
            out.push((r.to_string(), f.to_string(), t.clone()));
        }
    };
    for r in &cfg.receivers {
        let n = r.name.as_str();
        for c in &r.slack_configs {
            for (f, t) in [
                ("title", &c.title),
                ("text", &c.text),
                ("pretext", &c.pretext),
                ("footer", &c.footer),
                ("fallback", &c.fallback),
                ("title_link", &c.title_link),
                ("color", &c.color),
                ("username", &c.username),
                ("channel", &c.channel),
            ] {
                add(n, f, t);
            }
            for (i, fv) in c
                .fields
                .iter()
                .flat_map(|v| v.as_array())
                .flatten()
                .enumerate()
            {
                for key in ["title", "value"] {
                    let t = fv.get(key).and_then(|v| v.as_str()).map(String::from);
                    add(n, &format!("fields[{i}].{key}"), &t);
                }
            }
        }
        for c in &r.email_configs {
            add(n, "html", &c.html);
            add(n, "text", &c.text);
            for (k, v) in &c.headers {
                add(n, &format!("headers.{k}"), &Some(v.clone()));
            }
        }
        for c in &r.pagerduty_configs {
            for (f, t) in [
                ("description", &c.description),
                ("client", &c.client),
                ("client_url", &c.client_url),
                ("severity", &c.severity),
                ("class", &c.class),
                ("component", &c.component),
                ("group", &c.group),
                ("source", &c.source),
            ] {
                add(n, f, t);
            }
            for (k, v) in &c.details {
                add(n, &format!("details.{k}"), &Some(v.clone()));
            }
        }
        for c in &r.wechat_configs {
            add(n, "message", &Some(c.message().to_string()));
            for (key, t) in c.recipients() {
                add(n, key, &Some(t));
            }
        }
    }
    let a = &cfg.argus;
    for c in &a.dingtalk_configs {
        add(&c.receiver, "dingtalk title", &c.title);
        add(&c.receiver, "dingtalk text", &c.text);
    }
    for c in &a.wecom_configs {
        add(&c.receiver, "wecom text", &c.text);
    }
    for c in &a.feishu_configs {
        add(&c.receiver, "feishu title", &c.title);
        add(&c.receiver, "feishu text", &c.text);
    }
    out
}

/// Loads `cfg.templates` (relative to the directory of `origin`) and checks every Go template
/// field of `cfg` (whose YAML is `text`).
pub(super) fn load(cfg: &Config, text: &str, origin: &str) -> Result<GoTemplates, ConfigError> {
    let base = Path::new(origin)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut set = GoTemplates::builtin();
    for pattern in &cfg.templates {
        for file in expand(&base, pattern, origin)? {
            let name = file.display().to_string();
            let body = std::fs::read_to_string(&file).map_err(|source| ConfigError::Read {
                path: name.clone(),
                source,
            })?;
            set.add_file(&name, &body).map_err(|e| template_error(&e))?;
        }
    }
    set.check().map_err(|e| template_error(&e))?;
    for (receiver, field, t) in fields(cfg) {
        if !is_go_template(&t) {
            continue;
        }
        if let Err(e) = set.prepare(&t) {
            let at = match &e {
                argus_gotmpl::Error::Parse { line, .. } => *line,
                argus_gotmpl::Error::Exec { .. } => 1,
            };
            // The field's first line locates it in the YAML; the error's line counts from there.
            let first = t.lines().next().unwrap_or_default().trim();
            return Err(ConfigError::Invalid {
                origin: origin.to_string(),
                line: locate(text, first).map(|l| l + at.saturating_sub(1)),
                message: format!(
                    "receiver {receiver:?}: {field}: template line {at}: {}",
                    e.reason()
                ),
            });
        }
    }
    Ok(set)
}

fn template_error(e: &argus_gotmpl::Error) -> ConfigError {
    match e {
        argus_gotmpl::Error::Parse { name, line, reason } => ConfigError::Invalid {
            origin: name.clone(),
            line: Some(*line),
            message: reason.clone(),
        },
        argus_gotmpl::Error::Exec { name, reason } => ConfigError::Invalid {
            origin: name.clone(),
            line: None,
            message: reason.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn wildcards() {
        let w = |p: &str, n: &str| {
            wildcard(
                &p.chars().collect::<Vec<_>>(),
                &n.chars().collect::<Vec<_>>(),
            )
        };
        assert!(w("*.tmpl", "a.tmpl"));
        assert!(w("a?.tmpl", "ab.tmpl"));
        assert!(!w("*.tmpl", "a.tmpl.bak"));
        assert!(w("*", ""));
        assert!(!w("a", "b"));
    }
}
