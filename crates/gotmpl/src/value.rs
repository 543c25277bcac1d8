//! The dynamic values a template works on, printed the way Go's `fmt` prints them.

use std::collections::BTreeMap;

use super::gofmt::fmt_v;
use super::gotime::{go_duration, GoTime};

/// A template value: what Go's `interface{}` holds in a template's data.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `nil` (also the result of an absent field).
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A list.
    List(Vec<Value>),
    /// A map with string keys (also how structs are modelled: `.Field` is a key).
    Map(BTreeMap<String, Value>),
    /// Go's `time.Time`, with methods (`.Format`, `.Unix`, ...; see [`crate::time_method`]).
    Time(GoTime),
    /// Go's `time.Duration`, in nanoseconds.
    Duration(i64),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl Value {
    /// Go's truth: false, 0, nil and empty strings, lists and maps are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            // Go treats every struct as true.
            Value::Time(_) => true,
            Value::Duration(d) => *d != 0,
        }
    }

    /// Go's type name, for error messages.
    pub fn go_type(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
            Value::Time(_) => "time.Time",
            Value::Duration(_) => "time.Duration",
        }
    }

    /// What `{{ . }}` prints (Go's `%v`).
    pub fn to_go_string(&self) -> String {
        match self {
            Value::Nil => "<no value>".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => fmt_v(*f),
            Value::Str(s) => s.clone(),
            Value::List(l) => {
                let parts: Vec<String> = l.iter().map(Value::to_go_string).collect();
                format!("[{}]", parts.join(" "))
            }
            Value::Map(m) => {
                let parts: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{k}:{}", v.to_go_string()))
                    .collect();
                format!("map[{}]", parts.join(" "))
            }
            Value::Time(t) => t.go_string(),
            Value::Duration(d) => go_duration(*d),
        }
    }

    /// The value as a float, converting strings like Prometheus's `convertToFloat`.
    pub fn to_float(&self) -> Result<f64, String> {
        match self {
            Value::Float(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            Value::Str(s) => parse_go_float(s),
            // As Prometheus's `convertToFloat` does for `time.Duration`: seconds.
            Value::Duration(d) => Ok(*d as f64 / 1e9),
            Value::Bool(_) | Value::Nil | Value::List(_) | Value::Map(_) | Value::Time(_) => {
                Err(format!("can't convert {} to float", self.go_type()))
            }
        }
    }

    /// `.Field` access on a map; an absent key gives an empty string (as Go does with
    /// `missingkey=zero` over `map[string]string`).
    pub fn field(&self, name: &str) -> Result<Value, String> {
        match self {
            Value::Map(m) => Ok(m.get(name).cloned().unwrap_or(Value::Str(String::new()))),
            Value::Nil => Err(format!("nil pointer evaluating .{name}")),
            other => Err(format!(
                "can't evaluate field {name} in type {}",
                other.go_type()
            )),
        }
    }
}

/// `strconv.ParseFloat` as templates use it (also `Inf` and `NaN`; hex is not accepted).
pub fn parse_go_float(s: &str) -> Result<f64, String> {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => return Ok(f64::INFINITY),
        "-inf" | "-infinity" => return Ok(f64::NEG_INFINITY),
        "nan" => return Ok(f64::NAN),
        _ => {}
    }
    t.parse::<f64>()
        .map_err(|_| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"))
}

impl Value {
    /// The value as JSON, the way Go's `json.Marshal` writes it: times as RFC 3339 with
    /// nanoseconds, durations as nanoseconds; a NaN or infinite float is an error.
    pub fn to_json(&self) -> Result<serde_json::Value, String> {
        Ok(match self {
            Value::Nil => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) | Value::Duration(i) => serde_json::Value::from(*i),
            // Go writes a whole float without a decimal point.
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                serde_json::Value::from(*f as i64)
            }
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .ok_or_else(|| format!("json: unsupported value: {}", self.to_go_string()))?,
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::List(l) => {
                serde_json::Value::Array(l.iter().map(Value::to_json).collect::<Result<_, _>>()?)
            }
            Value::Map(m) => serde_json::Value::Object(
                m.iter()
                    .map(|(k, x)| Ok((k.clone(), x.to_json()?)))
                    .collect::<Result<_, String>>()?,
            ),
            Value::Time(t) => {
                serde_json::Value::String(t.format(crate::time_layouts::RFC3339_NANO))
            }
        })
    }

    /// A JSON value as Go's `json.Unmarshal` into `interface{}` gives it: objects as maps,
    /// arrays as lists, every number a float.
    pub fn from_json(j: &serde_json::Value) -> Value {
        match j {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}
