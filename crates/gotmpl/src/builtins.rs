//! Go's predefined template functions (`and or not len index print printf println eq ne lt le
//! gt ge html js urlquery`) and the text helpers that both Prometheus and Alertmanager add
//! (`title toUpper toLower match reReplaceAll safeHtml`).

use regex::Regex;

use super::gofmt::sprintf;
use super::value::Value;

/// Go's predefined functions.
pub const GO_BUILTINS: &[&str] = &[
    "and", "or", "not", "len", "index", "print", "printf", "println", "eq", "ne", "lt", "le", "gt",
    "ge", "html", "js", "urlquery",
];

/// The text helpers shared by Prometheus's and Alertmanager's function maps.
pub const TEXT_FUNCS: &[&str] = &[
    "title",
    "toUpper",
    "toLower",
    "match",
    "reReplaceAll",
    "safeHtml",
];

/// Checks the argument count.
pub fn want(args: &[Value], n: usize, name: &str) -> Result<(), String> {
    if args.len() != n {
        return Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

fn s(v: &Value) -> String {
    v.to_go_string()
}

fn cmp(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        (Value::Float(_) | Value::Int(_), Value::Float(_) | Value::Int(_)) => {
            let (x, y) = (a.to_float()?, b.to_float()?);
            x.partial_cmp(&y)
                .ok_or_else(|| "NaN is not comparable".to_string())
        }
        (Value::Bool(x), Value::Bool(y)) => Ok(x.cmp(y)),
        (Value::Duration(x) | Value::Int(x), Value::Duration(y) | Value::Int(y)) => Ok(x.cmp(y)),
        (Value::Time(x), Value::Time(y)) => Ok(x.unix_nanos().cmp(&y.unix_nanos())),
        _ => Err("incompatible types for comparison".into()),
    }
}

fn eq(a: &Value, b: &Value) -> Result<bool, String> {
    match (a, b) {
        (Value::Nil, Value::Nil) => Ok(true),
        (Value::Float(_) | Value::Int(_), Value::Float(_) | Value::Int(_)) => {
            Ok(a.to_float()? == b.to_float()?)
        }
        _ => cmp(a, b).map(|o| o.is_eq()),
    }
}

fn html_escape(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Calls a Go builtin; `None` when `name` is not one.
pub fn call_builtin(name: &str, a: &[Value]) -> Option<Result<Value, String>> {
    Some(Ok(match name {
        "and" => a
            .iter()
            .find(|v| !v.truthy())
            .or(a.last())
            .cloned()
            .unwrap_or(Value::Nil),
        "or" => a
            .iter()
            .find(|v| v.truthy())
            .or(a.last())
            .cloned()
            .unwrap_or(Value::Nil),
        "not" => match want(a, 1, name) {
            Ok(()) => Value::Bool(!a[0].truthy()),
            Err(e) => return Some(Err(e)),
        },
        "len" => match a {
            [Value::Str(x)] => Value::Int(x.len() as i64),
            [Value::List(l)] => Value::Int(l.len() as i64),
            [Value::Map(m)] => Value::Int(m.len() as i64),
            [v] => return Some(Err(format!("len of type {}", v.go_type()))),
            _ => return Some(want(a, 1, name).map(|_| Value::Nil)),
        },
        "index" => return Some(index(a)),
        "print" => {
            // Go's Sprint adds spaces between operands when neither is a string.
            let mut out = String::new();
            for (i, v) in a.iter().enumerate() {
                if i > 0 && !matches!(v, Value::Str(_)) && !matches!(a[i - 1], Value::Str(_)) {
                    out.push(' ');
                }
                out.push_str(&s(v));
            }
            Value::Str(out)
        }
        "println" => Value::Str(format!(
            "{}\n",
            a.iter().map(s).collect::<Vec<_>>().join(" ")
        )),
        "printf" => match a.split_first() {
            Some((fmt, rest)) => Value::Str(sprintf(&s(fmt), rest)),
            None => return Some(Err("printf needs a format".into())),
        },
        "eq" => {
            let Some((x, rest)) = a.split_first() else {
                return Some(Err("missing argument for comparison".into()));
            };
            let mut any = false;
            for y in rest {
                match eq(x, y) {
                    Ok(b) => any |= b,
                    Err(e) => return Some(Err(e)),
                }
            }
            Value::Bool(any)
        }
        "ne" | "lt" | "le" | "gt" | "ge" => return Some(compare(name, a)),
        "html" => Value::Str(html_escape(&a.iter().map(s).collect::<String>())),
        "js" | "urlquery" => Value::Str(a.iter().map(s).collect::<String>()),
        _ => return None,
    }))
}

fn compare(name: &str, a: &[Value]) -> Result<Value, String> {
    want(a, 2, name)?;
    if name == "ne" {
        return Ok(Value::Bool(!eq(&a[0], &a[1])?));
    }
    let o = cmp(&a[0], &a[1])?;
    Ok(Value::Bool(match name {
        "lt" => o.is_lt(),
        "le" => o.is_le(),
        "gt" => o.is_gt(),
        _ => o.is_ge(),
    }))
}

fn index(a: &[Value]) -> Result<Value, String> {
    let mut cur = a.first().cloned().unwrap_or(Value::Nil);
    for k in &a[1.min(a.len())..] {
        cur = match (&cur, k) {
            (Value::Map(m), key) => m.get(&s(key)).cloned().unwrap_or(Value::Str(String::new())),
            (Value::List(l), Value::Int(i)) => l
                .get(usize::try_from(*i).map_err(|_| format!("index out of range: {i}"))?)
                .cloned()
                .ok_or_else(|| format!("index out of range: {i}"))?,
            (v, _) => return Err(format!("can't index item of type {}", v.go_type())),
        };
    }
    Ok(cur)
}

/// Calls one of [`TEXT_FUNCS`]; `None` when `name` is not one.
pub fn call_text(name: &str, a: &[Value]) -> Option<Result<Value, String>> {
    let r = match name {
        "title" => want(a, 1, name).map(|_| {
            let mut out = String::new();
            let mut prev_letter = false;
            for c in s(&a[0]).chars() {
                if !prev_letter && c.is_alphanumeric() {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                prev_letter = c.is_alphanumeric() || c == '_';
            }
            Value::Str(out)
        }),
        "toUpper" => want(a, 1, name).map(|_| Value::Str(s(&a[0]).to_uppercase())),
        "toLower" => want(a, 1, name).map(|_| Value::Str(s(&a[0]).to_lowercase())),
        "match" => want(a, 2, name).and_then(|_| {
            let re = Regex::new(&s(&a[0])).map_err(|e| e.to_string())?;
            Ok(Value::Bool(re.is_match(&s(&a[1]))))
        }),
        "reReplaceAll" => want(a, 3, name).and_then(|_| {
            let re = Regex::new(&s(&a[0])).map_err(|e| e.to_string())?;
            Ok(Value::Str(
                re.replace_all(&s(&a[2]), s(&a[1]).as_str()).into_owned(),
            ))
        }),
        "safeHtml" => want(a, 1, name).map(|_| Value::Str(s(&a[0]))),
        _ => return None,
    };
    Some(r)
}
