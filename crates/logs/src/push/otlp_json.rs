//! The OTLP JSON encoding of `ExportLogsServiceRequest`, read into the protobuf structs.
//!
//! Container shapes that are wrong (an object where a list belongs) fail the whole body;
//! a value inside a record or a resource that cannot be read is noted in [`Problems`] and
//! refuses that record, or every record of that resource.

use super::proto::{self, any_value::Value as Av, AnyValue, KeyValue};
use super::{unbase64, unhex};
use crate::push::{short, PushError};
use serde_json::Value;
use std::collections::HashMap;

/// Values in a JSON request that could not be read, by where they are.
#[derive(Default)]
pub(super) struct Problems {
    /// By resource index: refuses every record of the resource.
    pub(super) resource: HashMap<usize, String>,
    /// By (resource, scope, record) index.
    pub(super) record: HashMap<(usize, usize, usize), String>,
}

fn json_err(detail: impl Into<String>) -> PushError {
    PushError::Json {
        expected: "an OTLP JSON logs request",
        detail: detail.into(),
    }
}

/// A field by its lowerCamelCase name or its proto name (receivers accept both).
fn field<'a>(v: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    v.get(camel)
        .or_else(|| v.get(snake))
        .filter(|v| !v.is_null())
}

/// A repeated field: absent is empty, anything but an array is a body error.
fn list<'a>(v: &'a Value, camel: &str, snake: &str, path: &str) -> Result<&'a [Value], PushError> {
    match field(v, camel, snake) {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(json_err(format!("{path}.{camel} is not an array"))),
    }
}

pub(super) fn from_json(
    body: &[u8],
) -> Result<(proto::ExportLogsServiceRequest, Problems), PushError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| json_err(e.to_string()))?;
    if !v.is_object() {
        return Err(json_err("it is not a JSON object"));
    }
    let mut problems = Problems::default();
    let mut req = proto::ExportLogsServiceRequest::default();
    for (ri, rl) in list(&v, "resourceLogs", "resource_logs", "the request")?
        .iter()
        .enumerate()
    {
        let rpath = format!("resourceLogs[{ri}]");
        let mut out = proto::ResourceLogs::default();
        if let Some(res) = field(rl, "resource", "resource") {
            match attributes(list(res, "attributes", "attributes", &rpath)?) {
                Ok(a) => {
                    out.resource = Some(proto::Resource {
                        attributes: a,
                        dropped_attributes_count: 0,
                    })
                }
                Err(e) => {
                    problems
                        .resource
                        .insert(ri, format!("a resource attribute {e}"));
                }
            }
        }
        for (si, sl) in list(rl, "scopeLogs", "scope_logs", &rpath)?
            .iter()
            .enumerate()
        {
            let spath = format!("{rpath}.scopeLogs[{si}]");
            let mut scope_out = proto::ScopeLogs::default();
            if let Some(sc) = field(sl, "scope", "scope") {
                let s = |k| {
                    field(sc, k, k)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                scope_out.scope = Some(proto::InstrumentationScope {
                    name: s("name"),
                    version: s("version"),
                });
            }
            for (li, lr) in list(sl, "logRecords", "log_records", &spath)?
                .iter()
                .enumerate()
            {
                match json_record(lr) {
                    Ok(r) => scope_out.log_records.push(r),
                    Err(e) => {
                        problems.record.insert((ri, si, li), e);
                        scope_out.log_records.push(proto::LogRecord::default());
                    }
                }
            }
            out.scope_logs.push(scope_out);
        }
        req.resource_logs.push(out);
    }
    Ok((req, problems))
}

fn json_record(v: &Value) -> Result<proto::LogRecord, String> {
    if !v.is_object() {
        return Err("the log record is not an object".into());
    }
    let nanos = |camel: &str, snake: &str| -> Result<u64, String> {
        match field(v, camel, snake) {
            None => Ok(0),
            Some(Value::String(s)) => s.parse().map_err(|_| {
                format!(
                    "{camel} \"{}\" is not a number of nanoseconds",
                    short(s, 64)
                )
            }),
            Some(Value::Number(n)) => n
                .as_u64()
                .ok_or_else(|| format!("{camel} {n} is not a whole number of nanoseconds")),
            Some(_) => Err(format!("{camel} is not a string of nanoseconds")),
        }
    };
    let id = |camel: &str, snake: &str| -> Result<Vec<u8>, String> {
        match field(v, camel, snake) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => {
                unhex(s).ok_or_else(|| format!("{camel} \"{}\" is not hex", short(s, 64)))
            }
            Some(_) => Err(format!("{camel} is not a hex string")),
        }
    };
    let severity_number = match field(v, "severityNumber", "severity_number") {
        None => 0,
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| format!("severityNumber {n} is not a severity number"))?,
        Some(Value::String(s)) => severity_by_name(s)
            .ok_or_else(|| format!("severityNumber \"{}\" is not a severity", short(s, 64)))?,
        Some(_) => return Err("severityNumber is not a number".into()),
    };
    let severity_text = match field(v, "severityText", "severity_text") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err("severityText is not a string".into()),
    };
    let flags = match field(v, "flags", "flags") {
        None => 0,
        Some(f) => f
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or("flags is not a 32-bit number")?,
    };
    let body = match field(v, "body", "body") {
        None => None,
        Some(b) => Some(any_value(b).map_err(|e| format!("the body {e}"))?),
    };
    Ok(proto::LogRecord {
        time_unix_nano: nanos("timeUnixNano", "time_unix_nano")?,
        observed_time_unix_nano: nanos("observedTimeUnixNano", "observed_time_unix_nano")?,
        severity_number,
        severity_text,
        body,
        attributes: attributes(
            list(v, "attributes", "attributes", "")
                .map_err(|_| "attributes is not an array".to_string())?,
        )
        .map_err(|e| format!("an attribute {e}"))?,
        dropped_attributes_count: 0,
        flags,
        trace_id: id("traceId", "trace_id")?,
        span_id: id("spanId", "span_id")?,
    })
}

pub(super) fn severity_by_name(s: &str) -> Option<i32> {
    const NAMES: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    let rest = s.strip_prefix("SEVERITY_NUMBER_")?;
    if rest == "UNSPECIFIED" {
        return Some(0);
    }
    let (base, k) = match rest.char_indices().find(|(_, c)| c.is_ascii_digit()) {
        Some((i, _)) => (&rest[..i], rest[i..].parse::<i32>().ok()?),
        None => (rest, 1),
    };
    let b = NAMES.iter().position(|n| *n == base)? as i32;
    (1..=4).contains(&k).then_some(b * 4 + k)
}

/// `[{"key": …, "value": AnyValue}]`; the error says which key and why.
fn attributes(items: &[Value]) -> Result<Vec<KeyValue>, String> {
    items
        .iter()
        .map(|kv| {
            let key = kv
                .get("key")
                .and_then(Value::as_str)
                .ok_or("has no \"key\" string")?;
            let value = match kv.get("value").filter(|v| !v.is_null()) {
                None => None,
                Some(v) => Some(any_value(v).map_err(|e| format!("\"{}\" {e}", short(key, 64)))?),
            };
            Ok(KeyValue {
                key: key.to_string(),
                value,
            })
        })
        .collect()
}

/// `{"stringValue": "x"}`, `{"intValue": "5"}`, `{"kvlistValue": {"values": […]}}`, ….
fn any_value(v: &Value) -> Result<AnyValue, String> {
    let obj = v.as_object().ok_or("is not an OTLP AnyValue object")?;
    let Some((k, x)) = obj.iter().find(|(_, x)| !x.is_null()) else {
        return Ok(AnyValue { value: None });
    };
    let bad = || format!("has a bad {k}");
    let value = match k.as_str() {
        "stringValue" | "string_value" => Av::StringValue(x.as_str().ok_or_else(bad)?.into()),
        "boolValue" | "bool_value" => Av::BoolValue(x.as_bool().ok_or_else(bad)?),
        "intValue" | "int_value" => Av::IntValue(match x {
            Value::String(s) => s.parse().map_err(|_| bad())?,
            _ => x.as_i64().ok_or_else(bad)?,
        }),
        "doubleValue" | "double_value" => Av::DoubleValue(match x {
            Value::String(s) => match s.as_str() {
                "NaN" => f64::NAN,
                "Infinity" => f64::INFINITY,
                "-Infinity" => f64::NEG_INFINITY,
                _ => s.parse().map_err(|_| bad())?,
            },
            _ => x.as_f64().ok_or_else(bad)?,
        }),
        "bytesValue" | "bytes_value" => {
            Av::BytesValue(x.as_str().and_then(unbase64).ok_or_else(bad)?)
        }
        "arrayValue" | "array_value" => {
            let items = match x.get("values") {
                None | Some(Value::Null) => &[][..],
                Some(Value::Array(a)) => a,
                Some(_) => return Err(bad()),
            };
            Av::ArrayValue(proto::ArrayValue {
                values: items.iter().map(any_value).collect::<Result<_, _>>()?,
            })
        }
        "kvlistValue" | "kvlist_value" => {
            let items = match x.get("values") {
                None | Some(Value::Null) => &[][..],
                Some(Value::Array(a)) => a,
                Some(_) => return Err(bad()),
            };
            Av::KvlistValue(proto::KeyValueList {
                values: attributes(items)?,
            })
        }
        _ => return Err(format!("has the unknown kind \"{}\"", short(k, 64))),
    };
    Ok(AnyValue { value: Some(value) })
}
