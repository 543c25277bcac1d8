//! Prometheus's template functions (`template/template.go`): humanize*, query helpers and
//! string helpers, registered into the `argus-gotmpl` engine by implementing its
//! [`Host`] for [`FuncCtx`]. Go's predefined functions come from the engine.

use std::collections::BTreeMap;

use argus_gotmpl::{call_text, fmt_g, Host, TEXT_FUNCS};
use argus_model::Labels;

use super::{labels_value, FuncCtx, Value};

/// Prometheus's functions besides the engine's [`TEXT_FUNCS`].
const NAMES: &[&str] = &[
    // Prometheus
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "args",
    "graphLink",
    "tableLink",
    "sortByLabel",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toTime",
    "pathPrefix",
    "externalURL",
    "parseDuration",
    "now",
    "stripPort",
    "stripDomain",
];

impl Host for FuncCtx<'_> {
    fn has_func(&self, name: &str) -> bool {
        NAMES.contains(&name) || TEXT_FUNCS.contains(&name)
    }

    fn call(&self, name: &str, args: &[Value]) -> Result<Value, String> {
        match call_text(name, args) {
            Some(r) => r,
            None => call(name, args, self),
        }
    }
}

/// A query-result sample: a map with `Labels` and `Value`, as Prometheus's `sample` struct.
fn sample(labels: &Labels, v: f64) -> Value {
    let mut m = BTreeMap::new();
    m.insert("Labels".to_string(), labels_value(labels));
    m.insert("Value".to_string(), Value::Float(v));
    Value::Map(m)
}

fn want(args: &[Value], n: usize, name: &str) -> Result<(), String> {
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

fn f(v: &Value) -> Result<f64, String> {
    v.to_float()
}

/// Calls Prometheus's function `name` with evaluated `args` (a piped value comes last).
fn call(name: &str, a: &[Value], ctx: &FuncCtx<'_>) -> Result<Value, String> {
    Ok(match name {
        "query" => {
            want(a, 1, name)?;
            let q = ctx.query.ok_or("query is not available in this context")?;
            let res = q.query(&s(&a[0]), ctx.t_ms)?;
            Value::List(res.iter().map(|x| sample(&x.labels, x.v)).collect())
        }
        "first" => {
            want(a, 1, name)?;
            match &a[0] {
                Value::List(l) => l
                    .first()
                    .cloned()
                    .ok_or("first() called on vector with no elements")?,
                v => return Err(format!("first of type {}", v.go_type())),
            }
        }
        "label" => {
            want(a, 2, name)?;
            a[1].field("Labels")?.field(&s(&a[0]))?
        }
        "value" => {
            want(a, 1, name)?;
            a[0].field("Value")?
        }
        "strvalue" => {
            want(a, 1, name)?;
            a[0].field("Labels")?.field("__value__")?
        }
        "args" => {
            let mut m = BTreeMap::new();
            for (i, v) in a.iter().enumerate() {
                m.insert(format!("arg{i}"), v.clone());
            }
            Value::Map(m)
        }
        "graphLink" | "tableLink" => {
            want(a, 1, name)?;
            let tab = if name == "graphLink" { 0 } else { 1 };
            Value::Str(format!(
                "/graph?g0.expr={}&g0.tab={tab}",
                argus_model::url::query_escape(&s(&a[0]))
            ))
        }
        "sortByLabel" => {
            want(a, 2, name)?;
            let key = s(&a[0]);
            let Value::List(mut l) = a[1].clone() else {
                return Err("sortByLabel needs a query result".into());
            };
            l.sort_by_key(|x| {
                x.field("Labels")
                    .and_then(|m| m.field(&key))
                    .map(|v| s(&v))
                    .unwrap_or_default()
            });
            Value::List(l)
        }
        "humanize" => Value::Str(humanize(f(one(a, name)?)?)),
        "humanize1024" => Value::Str(humanize1024(f(one(a, name)?)?)),
        "humanizeDuration" => Value::Str(humanize_duration(f(one(a, name)?)?)),
        "humanizePercentage" => {
            Value::Str(format!("{}%", fmt_g(f(one(a, name)?)? * 100.0, Some(4))))
        }
        "humanizeTimestamp" => {
            let v = f(one(a, name)?)?;
            Value::Str(if v.is_finite() {
                go_time(v)
            } else {
                fmt_g(v, Some(4))
            })
        }
        "toTime" => {
            let v = f(one(a, name)?)?;
            Value::Str(go_time(v))
        }
        "parseDuration" => {
            let d = argus_model::parse_duration(&s(one(a, name)?)).map_err(|e| e.to_string())?;
            Value::Float(d as f64 / 1000.0)
        }
        "pathPrefix" => Value::Str(String::new()),
        "externalURL" => Value::Str(ctx.external_url.to_string()),
        "now" => Value::Float(ctx.t_ms as f64 / 1000.0),
        "stripPort" => {
            let h = s(one(a, name)?);
            Value::Str(match h.rsplit_once(':') {
                Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
                _ => h,
            })
        }
        "stripDomain" => {
            let h = s(one(a, name)?);
            let (host, port) = match h.rsplit_once(':') {
                Some((x, p)) if p.chars().all(|c| c.is_ascii_digit()) => {
                    (x.to_string(), format!(":{p}"))
                }
                _ => (h.clone(), String::new()),
            };
            if host.parse::<std::net::IpAddr>().is_ok() {
                Value::Str(h)
            } else {
                Value::Str(format!("{}{port}", host.split('.').next().unwrap_or("")))
            }
        }
        other => return Err(format!("function \"{other}\" not defined")),
    })
}

fn one<'a>(a: &'a [Value], name: &str) -> Result<&'a Value, String> {
    want(a, 1, name)?;
    Ok(&a[0])
}

/// Prometheus's `humanize`: SI prefixes, 4 significant digits.
pub fn humanize(mut v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return fmt_g(v, Some(4));
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", fmt_g(v, Some(4)))
}

/// Prometheus's `humanize1024`: binary prefixes (`ki`, `Mi`, ...).
pub fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return fmt_g(v, Some(4));
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", fmt_g(v, Some(4)))
}

/// Prometheus's `humanizeDuration` over seconds: `1d 2h 3m 4s`, `1.5s`, `250ms`
/// (the same function Alertmanager templates use).
pub use argus_gotmpl::humanize_duration;

/// Go's `time.Time.String()` in UTC for Unix seconds: `2006-01-02 15:04:05.5 +0000 UTC`.
pub fn go_time(secs: f64) -> String {
    // Prometheus converts through model.Time: nanoseconds, truncated to milliseconds.
    let ms = ((secs * 1e9) as i64) / 1_000_000;
    let whole = ms.div_euclid(1000);
    let frac_ms = ms.rem_euclid(1000);
    let days = whole.div_euclid(86_400);
    let sod = whole.rem_euclid(86_400);
    let (y, m, d) = argus_model::time::civil_from_days(days);
    let frac = if frac_ms > 0 {
        format!(".{frac_ms:03}").trim_end_matches('0').to_string()
    } else {
        String::new()
    };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}{frac} +0000 UTC",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}
