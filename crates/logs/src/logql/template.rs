//! The Go templates of `line_format` and `label_format`, on `argus-gotmpl`: `.label` reads a
//! label (an absent one is empty, as Loki's `missingkey=zero`), `__line__` and
//! `__timestamp__` are functions, and the functions are Loki's common ones (see
//! [`LINE_FUNCS`]).

use super::lex::{byte_size, go_duration_secs};
use argus_gotmpl::{time_method, GoTime, Host, Template, Value};
use argus_model::Labels;
use regex::Regex;
use std::collections::BTreeMap;

/// The functions a `line_format` or `label_format` template may call, beyond Go's
/// predefined `and or not len index print printf println eq ne lt le gt ge html js urlquery`.
pub const LINE_FUNCS: &[&str] = &[
    "__line__",
    "__timestamp__",
    "ToLower",
    "ToUpper",
    "lower",
    "upper",
    "title",
    "Title",
    "Replace",
    "replace",
    "Trim",
    "TrimLeft",
    "TrimRight",
    "TrimPrefix",
    "TrimSuffix",
    "TrimSpace",
    "trim",
    "trimAll",
    "trimPrefix",
    "trimSuffix",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "substr",
    "trunc",
    "repeat",
    "indent",
    "nindent",
    "alignLeft",
    "alignRight",
    "default",
    "regexReplaceAll",
    "regexReplaceAllLiteral",
    "count",
    "int",
    "float64",
    "add",
    "sub",
    "mul",
    "div",
    "mod",
    "addf",
    "subf",
    "mulf",
    "divf",
    "max",
    "min",
    "maxf",
    "minf",
    "ceil",
    "floor",
    "round",
    "duration",
    "duration_seconds",
    "bytes",
    "unixEpoch",
    "unixEpochMillis",
    "unixEpochNanos",
    "unixToTime",
    "date",
    "now",
    "b64enc",
    "b64dec",
    "urlencode",
    "urldecode",
    "toJson",
    "fromJson",
];

/// A parsed `line_format`/`label_format` template and its source text.
#[derive(Debug, Clone)]
pub struct LineTemplate {
    src: String,
    tmpl: Template,
}

impl LineTemplate {
    /// Parses `src`; the error is what gotmpl says (an unknown function, an unclosed action).
    pub fn parse(src: &str) -> Result<LineTemplate, String> {
        let host = LineHost { line: "", ts_ns: 0 };
        let tmpl = Template::parse("line", src, &[], &host).map_err(|e| {
            let mut r = e.reason().to_string();
            if r == "unclosed action" {
                r.push_str(" (a `{{` without its `}}`)");
            }
            r
        })?;
        Ok(LineTemplate {
            src: src.to_string(),
            tmpl,
        })
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.src
    }

    /// Runs the template over `labels`, the line and its time.
    pub fn render(&self, labels: &Labels, line: &str, ts_ns: i64) -> Result<String, String> {
        let map: BTreeMap<String, Value> = labels
            .iter()
            .map(|l| (l.name.clone(), Value::Str(l.value.clone())))
            .collect();
        let host = LineHost { line, ts_ns };
        self.tmpl
            .execute(&Value::Map(map), &[], &host)
            .map_err(|e| e.reason().to_string())
    }
}

struct LineHost<'a> {
    line: &'a str,
    ts_ns: i64,
}

impl Host for LineHost<'_> {
    fn has_func(&self, name: &str) -> bool {
        LINE_FUNCS.contains(&name)
    }

    fn call(&self, name: &str, args: &[Value]) -> Result<Value, String> {
        match name {
            "__line__" => Ok(Value::Str(self.line.to_string())),
            "__timestamp__" => Ok(Value::Time(GoTime::from_unix(
                self.ts_ns.div_euclid(1_000_000_000),
                u32::try_from(self.ts_ns.rem_euclid(1_000_000_000)).unwrap_or(0),
            ))),
            _ => call(name, args),
        }
    }

    fn method(&self, recv: &Value, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        time_method(recv, name, args)
    }
}

fn want(a: &[Value], n: usize, name: &str) -> Result<(), String> {
    argus_gotmpl::want(a, n, name)
}

fn s(v: &Value) -> String {
    v.to_go_string()
}

/// sprig's lenient integer conversion: strings are parsed, anything unreadable is 0.
fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Duration(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(t) => t
            .trim()
            .parse::<i64>()
            .ok()
            .or_else(|| t.trim().parse::<f64>().ok().map(|f| f as i64))
            .unwrap_or(0),
        _ => 0,
    }
}

/// sprig's lenient float conversion.
fn float(v: &Value) -> f64 {
    match v {
        Value::Str(t) => t.trim().parse::<f64>().unwrap_or(0.0),
        Value::Bool(b) => f64::from(u8::from(*b)),
        other => other.to_float().unwrap_or(0.0),
    }
}

fn regex(v: &Value) -> Result<Regex, String> {
    Regex::new(&s(v)).map_err(|e| format!("invalid regex {:?}: {e}", s(v)))
}

/// `s[from..to]` in characters, clamped.
fn chars(t: &str, from: usize, to: usize) -> String {
    t.chars().skip(from).take(to.saturating_sub(from)).collect()
}

fn time_arg(v: &Value) -> Result<GoTime, String> {
    match v {
        Value::Time(t) => Ok(t.clone()),
        other => Err(format!("expected a time, got {}", other.go_type())),
    }
}

fn ints(a: &[Value], name: &str, f: impl Fn(i64, i64) -> Option<i64>) -> Result<Value, String> {
    want(a, 2, name)?;
    f(int(&a[0]), int(&a[1]))
        .map(Value::Int)
        .ok_or_else(|| format!("{name}: integer overflow or division by zero"))
}

fn floats(a: &[Value], name: &str, f: impl Fn(f64, f64) -> f64) -> Result<Value, String> {
    let Some((first, rest)) = a.split_first() else {
        return Err(format!("{name} needs arguments"));
    };
    Ok(Value::Float(
        rest.iter().fold(float(first), |acc, v| f(acc, float(v))),
    ))
}

fn call(name: &str, a: &[Value]) -> Result<Value, String> {
    let one = |f: &dyn Fn(&str) -> String| -> Result<Value, String> {
        want(a, 1, name)?;
        Ok(Value::Str(f(&s(&a[0]))))
    };
    let two = |f: &dyn Fn(&str, &str) -> Value| -> Result<Value, String> {
        want(a, 2, name)?;
        Ok(f(&s(&a[0]), &s(&a[1])))
    };
    let str2 = |f: &dyn Fn(&str, &str) -> String| two(&|x, y| Value::Str(f(x, y)));
    match name {
        "ToLower" | "lower" => one(&str::to_lowercase),
        "ToUpper" | "upper" => one(&str::to_uppercase),
        "title" | "Title" => {
            argus_gotmpl::call_text("title", a).unwrap_or_else(|| Err("title is missing".into()))
        }
        "TrimSpace" | "trim" => one(&|x| x.trim().to_string()),
        // Go's strings.X(s, arg).
        "Trim" => str2(&|x, c| x.trim_matches(|ch| c.contains(ch)).to_string()),
        "TrimLeft" => str2(&|x, c| x.trim_start_matches(|ch| c.contains(ch)).to_string()),
        "TrimRight" => str2(&|x, c| x.trim_end_matches(|ch| c.contains(ch)).to_string()),
        "TrimPrefix" => str2(&|x, p| x.strip_prefix(p).unwrap_or(x).to_string()),
        "TrimSuffix" => str2(&|x, p| x.strip_suffix(p).unwrap_or(x).to_string()),
        // sprig's, with the string last so that it can be piped.
        "trimAll" => str2(&|c, x| x.trim_matches(|ch| c.contains(ch)).to_string()),
        "trimPrefix" => str2(&|p, x| x.strip_prefix(p).unwrap_or(x).to_string()),
        "trimSuffix" => str2(&|p, x| x.strip_suffix(p).unwrap_or(x).to_string()),
        "contains" => two(&|sub, x| Value::Bool(x.contains(sub))),
        "hasPrefix" => two(&|p, x| Value::Bool(x.starts_with(p))),
        "hasSuffix" => two(&|p, x| Value::Bool(x.ends_with(p))),
        "Replace" => {
            want(a, 4, name)?;
            let (x, old, new) = (s(&a[0]), s(&a[1]), s(&a[2]));
            let n = int(&a[3]);
            Ok(Value::Str(if n < 0 {
                x.replace(&old, &new)
            } else {
                x.replacen(&old, &new, usize::try_from(n).unwrap_or(0))
            }))
        }
        "replace" => {
            want(a, 3, name)?;
            Ok(Value::Str(s(&a[2]).replace(&s(&a[0]), &s(&a[1]))))
        }
        "substr" => {
            want(a, 3, name)?;
            let x = s(&a[2]);
            let len = x.chars().count();
            let (start, end) = (int(&a[0]), int(&a[1]));
            let end_c = usize::try_from(end).unwrap_or(len).min(len);
            Ok(Value::Str(if start < 0 {
                chars(&x, 0, end_c)
            } else {
                let start = usize::try_from(start).unwrap_or(0).min(len);
                if end < 0 || end_c == len {
                    chars(&x, start, len)
                } else {
                    chars(&x, start, end_c)
                }
            }))
        }
        "trunc" => {
            want(a, 2, name)?;
            let (n, x) = (int(&a[0]), s(&a[1]));
            let len = x.chars().count();
            let k = usize::try_from(n.unsigned_abs())
                .unwrap_or(usize::MAX)
                .min(len);
            Ok(Value::Str(if n >= 0 {
                chars(&x, 0, k)
            } else {
                chars(&x, len - k, len)
            }))
        }
        "repeat" => {
            want(a, 2, name)?;
            let n = usize::try_from(int(&a[0])).unwrap_or(0);
            let x = s(&a[1]);
            if n.saturating_mul(x.len()) > 1 << 20 {
                return Err("repeat: the result would exceed 1 MiB".into());
            }
            Ok(Value::Str(x.repeat(n)))
        }
        "indent" | "nindent" => {
            want(a, 2, name)?;
            let pad = " ".repeat(usize::try_from(int(&a[0])).unwrap_or(0).min(1024));
            let body = format!("{pad}{}", s(&a[1]).replace('\n', &format!("\n{pad}")));
            Ok(Value::Str(if name == "nindent" {
                format!("\n{body}")
            } else {
                body
            }))
        }
        "alignLeft" | "alignRight" => {
            want(a, 2, name)?;
            let n = usize::try_from(int(&a[0])).unwrap_or(0).min(1 << 16);
            let x = s(&a[1]);
            let len = x.chars().count();
            Ok(Value::Str(if len >= n {
                chars(&x, 0, n)
            } else if name == "alignLeft" {
                format!("{x}{}", " ".repeat(n - len))
            } else {
                format!("{}{x}", " ".repeat(n - len))
            }))
        }
        "default" => match a {
            [d] => Ok(d.clone()),
            [d, given] => Ok(if given.truthy() { given } else { d }.clone()),
            _ => want(a, 2, name).map(|_| Value::Nil),
        },
        "regexReplaceAll" | "regexReplaceAllLiteral" => {
            want(a, 3, name)?;
            let re = regex(&a[0])?;
            let (x, with) = (s(&a[1]), s(&a[2]));
            Ok(Value::Str(if name == "regexReplaceAll" {
                re.replace_all(&x, with.as_str()).into_owned()
            } else {
                re.replace_all(&x, regex::NoExpand(&with)).into_owned()
            }))
        }
        "count" => {
            want(a, 2, name)?;
            let re = regex(&a[0])?;
            Ok(Value::Int(re.find_iter(&s(&a[1])).count() as i64))
        }
        "int" => want(a, 1, name).map(|_| Value::Int(int(&a[0]))),
        "float64" => want(a, 1, name).map(|_| Value::Float(float(&a[0]))),
        "add" => ints(a, name, i64::checked_add),
        "sub" => ints(a, name, i64::checked_sub),
        "mul" => ints(a, name, i64::checked_mul),
        "div" => ints(a, name, i64::checked_div),
        "mod" => ints(a, name, i64::checked_rem),
        "max" | "min" => {
            let it = a.iter().map(int);
            let v = if name == "max" { it.max() } else { it.min() };
            v.map(Value::Int)
                .ok_or_else(|| format!("{name} needs arguments"))
        }
        "addf" => floats(a, name, |x, y| x + y),
        "subf" => floats(a, name, |x, y| x - y),
        "mulf" => floats(a, name, |x, y| x * y),
        "divf" => floats(a, name, |x, y| x / y),
        "maxf" => floats(a, name, f64::max),
        "minf" => floats(a, name, f64::min),
        "ceil" => want(a, 1, name).map(|_| Value::Float(float(&a[0]).ceil())),
        "floor" => want(a, 1, name).map(|_| Value::Float(float(&a[0]).floor())),
        "round" => {
            if a.is_empty() || a.len() > 2 {
                return want(a, 2, name).map(|_| Value::Nil);
            }
            let p = a.get(1).map(int).unwrap_or(0).clamp(0, 15);
            let scale = 10f64.powi(i32::try_from(p).unwrap_or(0));
            Ok(Value::Float((float(&a[0]) * scale).round() / scale))
        }
        "duration" | "duration_seconds" => {
            want(a, 1, name)?;
            let x = s(&a[0]);
            go_duration_secs(x.trim())
                .map(Value::Float)
                .ok_or_else(|| format!("{name}: {x:?} is not a duration"))
        }
        "bytes" => {
            want(a, 1, name)?;
            let x = s(&a[0]);
            byte_size(x.trim())
                .map(Value::Float)
                .ok_or_else(|| format!("bytes: {x:?} is not a byte size"))
        }
        "unixEpoch" | "unixEpochMillis" | "unixEpochNanos" => {
            want(a, 1, name)?;
            let ns = time_arg(&a[0])?.unix_nanos();
            let div = match name {
                "unixEpoch" => 1_000_000_000,
                "unixEpochMillis" => 1_000_000,
                _ => 1,
            };
            Ok(Value::Int(
                i64::try_from(ns.div_euclid(div)).unwrap_or(i64::MAX),
            ))
        }
        "unixToTime" => {
            want(a, 1, name)?;
            let x = s(&a[0]);
            let n: i64 = x
                .trim()
                .parse()
                .map_err(|_| format!("unixToTime: {x:?} is not a whole number"))?;
            // Loki reads the epoch by its digits: seconds, milliseconds, micro- or nanoseconds.
            let digits = x.trim().trim_start_matches('-').len();
            let ns = match digits {
                0..=10 => n.saturating_mul(1_000_000_000),
                11..=13 => n.saturating_mul(1_000_000),
                14..=16 => n.saturating_mul(1_000),
                _ => n,
            };
            Ok(Value::Time(GoTime::from_unix(
                ns.div_euclid(1_000_000_000),
                u32::try_from(ns.rem_euclid(1_000_000_000)).unwrap_or(0),
            )))
        }
        "date" => {
            want(a, 2, name)?;
            Ok(Value::Str(time_arg(&a[1])?.utc().format(&s(&a[0]))))
        }
        "now" => {
            want(a, 0, name)?;
            let ns = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            Ok(Value::Time(GoTime::from_unix(
                i64::try_from(ns / 1_000_000_000).unwrap_or(i64::MAX),
                u32::try_from(ns % 1_000_000_000).unwrap_or(0),
            )))
        }
        "b64enc" => {
            use base64::Engine;
            want(a, 1, name)?;
            Ok(Value::Str(
                base64::engine::general_purpose::STANDARD.encode(s(&a[0])),
            ))
        }
        "b64dec" => {
            use base64::Engine;
            want(a, 1, name)?;
            let x = s(&a[0]);
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(x.trim())
                .map_err(|e| format!("b64dec: {x:?} is not base64: {e}"))?;
            Ok(Value::Str(String::from_utf8_lossy(&bytes).into_owned()))
        }
        "toJson" => {
            want(a, 1, name)?;
            let j = a[0].to_json()?;
            serde_json::to_string(&j)
                .map(Value::Str)
                .map_err(|e| e.to_string())
        }
        "fromJson" => {
            want(a, 1, name)?;
            let x = s(&a[0]);
            serde_json::from_str::<serde_json::Value>(&x)
                .map(|j| Value::from_json(&j))
                .map_err(|e| format!("fromJson: {e}"))
        }
        "urlencode" => {
            want(a, 1, name)?;
            Ok(Value::Str(query_escape(&s(&a[0]))))
        }
        "urldecode" => {
            want(a, 1, name)?;
            let x = s(&a[0]);
            query_unescape(&x)
                .map(Value::Str)
                .ok_or_else(|| format!("urldecode: {x:?} has a bad % escape"))
        }
        _ => Err(format!("function {name:?} not defined")),
    }
}

/// Go's `url.QueryEscape`: letters, digits and `-_.~` stay, a space is `+`, the rest `%XX`.
fn query_escape(x: &str) -> String {
    let mut out = String::with_capacity(x.len());
    for b in x.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte; `None` for a bad escape.
fn query_unescape(x: &str) -> Option<String> {
    let b = x.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}
