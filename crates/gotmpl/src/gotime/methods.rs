//! `time.Duration` printing, Prometheus's `humanizeDuration`, and the methods templates call
//! on `time.Time` and `time.Duration` values.
//!
//! ```
//! use argus_gotmpl::{time_method, GoTime, Value};
//! let t = Value::Time(GoTime::from_unix(90, 0));
//! assert_eq!(time_method(&t, "Unix", &[]), Some(Ok(Value::Int(90))));
//! assert_eq!(argus_gotmpl::humanize_duration(3725.0), "1h 2m 5s");
//! ```

use super::{DAYS, MONTHS};
use crate::value::Value;

/// What Go's `Duration.String()` prints for `d` nanoseconds: `1h2m3.5s`, `1.5ms`, `0s`.
pub fn go_duration(d: i64) -> String {
    if d == 0 {
        return "0s".to_string();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let frac = |v: u64, prec: u32| -> (u64, String) {
        let p = 10u64.pow(prec);
        let f = format!("{:0width$}", v % p, width = prec as usize);
        let f = f.trim_end_matches('0');
        (
            v / p,
            if f.is_empty() {
                String::new()
            } else {
                format!(".{f}")
            },
        )
    };
    let body = if u < 1_000_000_000 {
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (int, f) = frac(u, prec);
        format!("{int}{f}{unit}")
    } else {
        let (secs, f) = frac(u, 9);
        let (s, mins) = (secs % 60, secs / 60);
        let (m, h) = (mins % 60, mins / 60);
        if h > 0 {
            format!("{h}h{m}m{s}{f}s")
        } else if m > 0 {
            format!("{m}m{s}{f}s")
        } else {
            format!("{s}{f}s")
        }
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

fn int_arg(v: &Value, what: &str) -> Result<i64, String> {
    match v {
        Value::Duration(d) | Value::Int(d) => Ok(*d),
        other => Err(format!("{what}: want a duration, got {}", other.go_type())),
    }
}

/// Calls method `name` of a `time.Time` or `time.Duration`; `None` when `recv` is neither or
/// has no such method.
pub fn time_method(recv: &Value, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
    let none = |r: Value| -> Option<Result<Value, String>> {
        if args.is_empty() {
            Some(Ok(r))
        } else {
            Some(Err(format!(
                "wrong number of args for {name}: want 0 got {}",
                args.len()
            )))
        }
    };
    match recv {
        Value::Time(t) => {
            let c = t.civil();
            match name {
                "Format" => Some(match args {
                    [Value::Str(layout)] => Ok(Value::Str(t.format(layout))),
                    [other] => Err(format!(
                        "Format: want a layout string, got {}",
                        other.go_type()
                    )),
                    _ => Err(format!(
                        "wrong number of args for Format: want 1 got {}",
                        args.len()
                    )),
                }),
                "String" => none(Value::Str(t.go_string())),
                "Unix" => none(Value::Int(t.secs)),
                "UnixMilli" => none(Value::Int(t.secs * 1000 + i64::from(t.nanos / 1_000_000))),
                "UnixMicro" => none(Value::Int(t.secs * 1_000_000 + i64::from(t.nanos / 1000))),
                "UnixNano" => none(Value::Int(t.unix_nanos() as i64)),
                "UTC" | "Local" => none(Value::Time(t.utc())),
                "IsZero" => none(Value::Bool(t.is_zero())),
                "Year" => none(Value::Int(c.year)),
                "Month" => none(Value::Str(MONTHS[c.month as usize - 1].to_string())),
                "Day" => none(Value::Int(c.day)),
                "Hour" => none(Value::Int(c.hour)),
                "Minute" => none(Value::Int(c.minute)),
                "Second" => none(Value::Int(c.second)),
                "Nanosecond" => none(Value::Int(i64::from(t.nanos))),
                "YearDay" => none(Value::Int(c.yday)),
                "Weekday" => none(Value::Str(DAYS[c.weekday as usize].to_string())),
                "Add" => Some(match args {
                    [d] => int_arg(d, "Add").map(|d| Value::Time(t.add(d))),
                    _ => Err(format!(
                        "wrong number of args for Add: want 1 got {}",
                        args.len()
                    )),
                }),
                "Sub" | "Before" | "After" | "Equal" => Some(match args {
                    [Value::Time(u)] => Ok(match name {
                        "Sub" => Value::Duration(t.sub(u)),
                        "Before" => Value::Bool(t.unix_nanos() < u.unix_nanos()),
                        "After" => Value::Bool(t.unix_nanos() > u.unix_nanos()),
                        _ => Value::Bool(t.unix_nanos() == u.unix_nanos()),
                    }),
                    [other] => Err(format!("{name}: want a time.Time, got {}", other.go_type())),
                    _ => Err(format!(
                        "wrong number of args for {name}: want 1 got {}",
                        args.len()
                    )),
                }),
                _ => None,
            }
        }
        Value::Duration(d) => {
            let f = *d as f64;
            match name {
                "String" => none(Value::Str(go_duration(*d))),
                "Hours" => none(Value::Float(f / 3.6e12)),
                "Minutes" => none(Value::Float(f / 6e10)),
                "Seconds" => none(Value::Float(f / 1e9)),
                "Milliseconds" => none(Value::Int(d / 1_000_000)),
                "Microseconds" => none(Value::Int(d / 1000)),
                "Nanoseconds" => none(Value::Int(*d)),
                "Abs" => none(Value::Duration(d.saturating_abs())),
                "Round" | "Truncate" => Some(match args {
                    [m] => int_arg(m, name).map(|m| {
                        if m <= 0 {
                            return Value::Duration(*d);
                        }
                        let r = d % m;
                        let down = d - r;
                        if name == "Truncate" {
                            return Value::Duration(down);
                        }
                        // Halfway values round away from zero, as Go does.
                        let up = r.unsigned_abs() * 2 >= m.unsigned_abs();
                        Value::Duration(match (up, *d < 0) {
                            (false, _) => down,
                            (true, false) => down.saturating_add(m),
                            (true, true) => down.saturating_sub(m),
                        })
                    }),
                    _ => Err(format!(
                        "wrong number of args for {name}: want 1 got {}",
                        args.len()
                    )),
                }),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Prometheus's `humanizeDuration` for `v` seconds: `1d 2h 3m 4s`, `1h 0m 5s`, `1.5s`, `12ms`.
pub fn humanize_duration(v: f64) -> String {
    let g4 = |x: f64| crate::fmt_g(x, Some(4));
    if v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let (sign, v) = if v < 0.0 { ("-", -v) } else { ("", v) };
        let d = v as i64;
        let (s, m, h, days) = (d % 60, d / 60 % 60, d / 3600 % 24, d / 86_400);
        return if days != 0 {
            format!("{sign}{days}d {h}h {m}m {s}s")
        } else if h != 0 {
            format!("{sign}{h}h {m}m {s}s")
        } else if m != 0 {
            format!("{sign}{m}m {s}s")
        } else {
            format!("{sign}{}s", g4(v))
        };
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}
