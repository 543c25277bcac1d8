//! Alertmanager's Go templates: the notification data model (`.Receiver`, `.Status`,
//! `.Alerts` with `.Firing`/`.Resolved`, `.GroupLabels`, `.CommonLabels`, `.CommonAnnotations`,
//! `.ExternalURL`, and the KV methods `.SortedPairs`, `.Names`, `.Values`, `.Remove`; an alert's
//! `.StartsAt`/`.EndsAt` are Go `time.Time` values with their methods, `.Format "2006-01-02"`,
//! `.Unix`, `.UTC`, ...), Alertmanager's template functions (with the time functions `date`,
//! `tz`, `since`, `humanizeDuration`, and `toJson`), and the `templates:` files, on the
//! `argus-gotmpl` engine.
//!
//! Argus defines the default template names Alertmanager configs refer to
//! (`slack.default.title`, `email.default.subject`, `email.default.html`,
//! `pagerduty.default.description`, `__subject`, `__text`, ...) with its own text
//! ([`DEFAULTS`]); a `templates:` file may redefine them.
//!
//! ```
//! use argus_alert::template::go::GoTemplates;
//! let mut t = GoTemplates::builtin();
//! t.add_file("my.tmpl", r#"{{ define "x" }}{{ .CommonLabels.alertname | toLower }}{{ end }}"#).unwrap();
//! t.prepare(r#"{{ template "x" . }}"#).unwrap();
//! assert!(t.prepare(r#"{{ template "nope" . }}"#).unwrap_err().to_string().contains("no such template"));
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use argus_gotmpl::{want, Funcs, GoTime, Template, Templates, Value};
use argus_model::Clock;

use crate::notification::{WebhookAlert, WebhookMessage};

/// Argus's definitions of Alertmanager's default template names (own text).
pub const DEFAULTS: &str = include_str!("defaults.tmpl");

/// The name the built-in definitions are loaded under (shown in errors).
const DEFAULTS_FILE: &str = "<argus default templates>";

/// Alertmanager's function names that Argus provides (besides Go's predefined ones).
pub const AM_FUNCS: &[&str] = &[
    "toUpper",
    "toLower",
    "title",
    "trimSpace",
    "join",
    "match",
    "safeHtml",
    "safeUrl",
    "urlUnescape",
    "reReplaceAll",
    "stringSlice",
    "date",
    "tz",
    "since",
    "humanizeDuration",
    "toJson",
];

/// The loaded `templates:` files plus the receiver fields parsed at config load.
#[derive(Debug, Clone)]
pub struct GoTemplates {
    set: Templates,
    funcs: Funcs,
    fields: HashMap<String, Template>,
}

impl Default for GoTemplates {
    fn default() -> Self {
        GoTemplates::builtin()
    }
}

fn s(v: &Value) -> String {
    v.to_go_string()
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l.iter().map(s).collect(),
        Value::Nil => Vec::new(),
        other => vec![s(other)],
    }
}

/// Alertmanager's function map, with `since` on the system clock.
pub fn am_funcs() -> Funcs {
    am_funcs_with_clock(Arc::new(argus_model::SystemClock))
}

/// Alertmanager's function map, with `since` measured on `clock`.
pub fn am_funcs_with_clock(clock: Arc<dyn Clock>) -> Funcs {
    let mut f = Funcs::new().with_text_funcs();
    super::gotime::register(&mut f, clock);
    f.register("trimSpace", |a| {
        want(a, 1, "trimSpace")?;
        Ok(Value::Str(s(&a[0]).trim().to_string()))
    });
    f.register("join", |a| {
        want(a, 2, "join")?;
        Ok(Value::Str(strings(&a[1]).join(&s(&a[0]))))
    });
    f.register("safeUrl", |a| {
        want(a, 1, "safeUrl")?;
        Ok(Value::Str(s(&a[0])))
    });
    f.register("urlUnescape", |a| {
        want(a, 1, "urlUnescape")?;
        url_unescape(&s(&a[0])).map(Value::Str)
    });
    f.register("stringSlice", |a| {
        Ok(Value::List(a.iter().map(|v| Value::Str(s(v))).collect()))
    });
    f.register_method("SortedPairs", |recv, args| match recv {
        Value::Map(m) if args.is_empty() => Some(Ok(Value::List(
            sorted_keys(m).into_iter().map(|k| pair(k, &m[k])).collect(),
        ))),
        _ => None,
    });
    f.register_method("Names", |recv, args| names_values(recv, args, true));
    f.register_method("Values", |recv, args| names_values(recv, args, false));
    f.register_method("Remove", |recv, args| match (recv, args) {
        (Value::Map(m), [keys]) => {
            let drop = strings(keys);
            Some(Ok(Value::Map(
                m.iter()
                    .filter(|(k, _)| !drop.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )))
        }
        _ => None,
    });
    f.register_method("Firing", |recv, args| by_status(recv, args, "firing"));
    f.register_method("Resolved", |recv, args| by_status(recv, args, "resolved"));
    f
}

/// Keys sorted with `alertname` first, as Alertmanager's `SortedPairs`.
fn sorted_keys(m: &BTreeMap<String, Value>) -> Vec<&String> {
    let mut keys: Vec<&String> = m.keys().filter(|k| *k != "alertname").collect();
    if let Some((k, _)) = m.get_key_value("alertname") {
        keys.insert(0, k);
    }
    keys
}

fn pair(k: &str, v: &Value) -> Value {
    Value::Map(BTreeMap::from([
        ("Name".to_string(), Value::Str(k.to_string())),
        ("Value".to_string(), v.clone()),
    ]))
}

/// `.Names`/`.Values` on a KV map or on the pairs `SortedPairs` returns.
fn names_values(recv: &Value, args: &[Value], names: bool) -> Option<Result<Value, String>> {
    if !args.is_empty() {
        return None;
    }
    match recv {
        Value::Map(m) => Some(Ok(Value::List(
            sorted_keys(m)
                .into_iter()
                .map(|k| {
                    if names {
                        Value::Str(k.clone())
                    } else {
                        m[k].clone()
                    }
                })
                .collect(),
        ))),
        Value::List(l)
            if l.iter()
                .all(|p| matches!(p, Value::Map(m) if m.contains_key("Name"))) =>
        {
            let key = if names { "Name" } else { "Value" };
            Some(
                l.iter()
                    .map(|p| p.field(key))
                    .collect::<Result<_, _>>()
                    .map(Value::List),
            )
        }
        _ => None,
    }
}

/// `.Alerts.Firing` / `.Alerts.Resolved`.
fn by_status(recv: &Value, args: &[Value], status: &str) -> Option<Result<Value, String>> {
    match recv {
        Value::List(l) if args.is_empty() => Some(Ok(Value::List(
            l.iter()
                .filter(|a| matches!(a.field("Status"), Ok(Value::Str(x)) if x == status))
                .cloned()
                .collect(),
        ))),
        _ => None,
    }
}

fn url_unescape(t: &str) -> Result<String, String> {
    let b = t.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = t
                    .get(i + 1..i + 3)
                    .ok_or_else(|| format!("invalid URL escape {:?}", &t[i..]))?;
                out.push(
                    u8::from_str_radix(hex, 16)
                        .map_err(|_| format!("invalid URL escape \"%{hex}\""))?,
                );
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|e| e.to_string())
}

/// An RFC 3339 time as Go's `time.Time` in UTC (Go's zero time stays zero); text that does
/// not parse stays text.
fn go_time(rfc3339: &str) -> Value {
    match GoTime::parse_rfc3339(rfc3339) {
        Ok(t) => Value::Time(t.utc()),
        Err(_) => Value::Str(rfc3339.to_string()),
    }
}

fn kv(m: &BTreeMap<String, String>) -> Value {
    Value::Map(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
            .collect(),
    )
}

fn alert_value(a: &WebhookAlert) -> Value {
    Value::Map(BTreeMap::from([
        ("Status".to_string(), Value::Str(a.status.clone())),
        ("Labels".to_string(), kv(&a.labels)),
        ("Annotations".to_string(), kv(&a.annotations)),
        ("StartsAt".to_string(), go_time(&a.starts_at)),
        ("EndsAt".to_string(), go_time(&a.ends_at)),
        (
            "GeneratorURL".to_string(),
            Value::Str(a.generator_url.clone()),
        ),
        ("Fingerprint".to_string(), Value::Str(a.fingerprint.clone())),
    ]))
}

/// Alertmanager's notification data (`template.Data`) for a webhook-shaped message.
pub fn data(msg: &WebhookMessage) -> Value {
    Value::Map(BTreeMap::from([
        ("Receiver".to_string(), Value::Str(msg.receiver.clone())),
        ("Status".to_string(), Value::Str(msg.status.clone())),
        (
            "Alerts".to_string(),
            Value::List(msg.alerts.iter().map(alert_value).collect()),
        ),
        ("GroupLabels".to_string(), kv(&msg.group_labels)),
        ("CommonLabels".to_string(), kv(&msg.common_labels)),
        ("CommonAnnotations".to_string(), kv(&msg.common_annotations)),
        (
            "ExternalURL".to_string(),
            Value::Str(msg.external_url.clone()),
        ),
    ]))
}

impl GoTemplates {
    /// Alertmanager's functions and Argus's default definitions, no files.
    pub fn builtin() -> GoTemplates {
        let funcs = am_funcs();
        let mut set = Templates::new();
        // The built-in text is part of the binary and covered by tests, so it parses; a
        // failure would leave the defaults undefined and show up as "no such template".
        if let Err(e) = set.add(DEFAULTS_FILE, DEFAULTS, &funcs) {
            tracing::error!(error = %e, "Argus's default Go templates do not parse.");
        }
        GoTemplates {
            set,
            funcs,
            fields: HashMap::new(),
        }
    }

    /// Measures `since` on `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> GoTemplates {
        super::gotime::register(&mut self.funcs, clock);
        self
    }

    /// Adds a `templates:` file (its `define`s replace earlier ones of the same name).
    pub fn add_file(&mut self, name: &str, text: &str) -> Result<(), argus_gotmpl::Error> {
        self.set.add(name, text, &self.funcs)
    }

    /// Checks that the files' `{{ template }}` calls all resolve.
    pub fn check(&self) -> Result<(), argus_gotmpl::Error> {
        self.set.check()
    }

    /// Parses a receiver field and checks its template calls, keeping it for rendering.
    pub fn prepare(&mut self, text: &str) -> Result<(), argus_gotmpl::Error> {
        if self.fields.contains_key(text) {
            return Ok(());
        }
        let t = Template::parse("field", text, &[], &self.funcs)?;
        self.set.check_refs(&t)?;
        self.fields.insert(text.to_string(), t);
        Ok(())
    }

    /// Renders a field with `dot` (see [`data`]); a field not prepared at load is parsed now.
    pub fn render(&self, text: &str, dot: &Value) -> Result<String, argus_gotmpl::Error> {
        match self.fields.get(text) {
            Some(t) => self.set.execute(t, dot, &self.funcs),
            None => {
                let t = Template::parse("field", text, &[], &self.funcs)?;
                self.set.check_refs(&t)?;
                self.set.execute(&t, dot, &self.funcs)
            }
        }
    }
}

const GO_KEYWORDS: &[&str] = &[
    "template", "define", "block", "if", "range", "with", "else", "end", "nil", "true", "false",
];

/// Whether a receiver field is an Alertmanager Go template (rather than Argus's `minijinja`):
/// it has no `{%`/`{#` tags, and some `{{ }}` action refers to `.Field` or `$var`, or starts
/// with a Go keyword, a comment, a literal or a Go/Alertmanager function name.
pub fn is_go_template(t: &str) -> bool {
    if t.contains("{%") || t.contains("{#") {
        return false;
    }
    let mut rest = t;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let end = after.find("}}").unwrap_or(after.len());
        let body = after[..end]
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        let first: String = body
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let go_token = body
            .split(|c: char| c.is_whitespace() || c == '(')
            .any(|w| w.starts_with('$') || (w.starts_with('.') && w.len() > 1) || w == ".");
        if go_token
            || body.starts_with("/*")
            || body.starts_with('"')
            || body.starts_with('`')
            || body.starts_with('(')
            || GO_KEYWORDS.contains(&first.as_str())
            || argus_gotmpl::GO_BUILTINS.contains(&first.as_str())
            || AM_FUNCS.contains(&first.as_str())
        {
            return true;
        }
        rest = &after[end.min(after.len())..];
    }
    false
}

#[cfg(test)]
mod tests;
