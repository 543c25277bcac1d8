//! OTLP/HTTP logs: the body of `POST /v1/logs`.
//!
//! An `opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest`, as protobuf
//! (`application/x-protobuf`, the default) or in the OTLP JSON encoding
//! (`application/json`: lowerCamelCase names, 64-bit integers as strings, trace and span
//! ids as hex). `Content-Encoding: gzip` is undone first.
//!
//! The mapping follows Grafana Loki's OTLP ingestion:
//!
//! - **Labels**: the resource attributes Loki indexes by default ([`INDEX_ATTRIBUTES`]),
//!   dots made underscores (`service.name` → `service_name`). Without `service.name` the
//!   stream gets `service_name="unknown_service"`.
//! - **Structured metadata**: every other resource attribute; `scope_name`,
//!   `scope_version`; the record's attributes; `severity_text`, `severity_number`,
//!   `trace_id` and `span_id` (lower-case hex), `flags`, `observed_timestamp` (ns), each
//!   when set; and `detected_level` (`trace`, `debug`, `info`, `warn`, `error`, `fatal`)
//!   from the severity number, else from the severity text. Attribute names are made label
//!   names with [`normalize_name`]; map values are flattened
//!   (`http` = `{method: GET}` → `http_method="GET"`), arrays are written as JSON.
//! - **Line**: the body; a string as is, anything else as JSON (bytes in base64).
//! - **Time**: `time_unix_nano`, else `observed_time_unix_nano`, else the caller's `now_ns`.

use super::{
    check_line, decode_content, make_labels, media_type, normalize_name, refuse_all, DecodeLimits,
    PushError,
};
use crate::record::{Decoded, LogRecord, Refusal};
use json::{from_json, Problems};
use prost::Message;
use proto::any_value::Value as Av;
use proto::AnyValue;

#[path = "otlp_json.rs"]
mod json;

/// The resource attributes that become stream labels, as in Loki's default configuration.
pub const INDEX_ATTRIBUTES: [&str; 17] = [
    "cloud.availability_zone",
    "cloud.region",
    "container.name",
    "deployment.environment",
    "k8s.cluster.name",
    "k8s.container.name",
    "k8s.cronjob.name",
    "k8s.daemonset.name",
    "k8s.deployment.name",
    "k8s.job.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.replicaset.name",
    "k8s.statefulset.name",
    "service.instance.id",
    "service.name",
    "service.namespace",
];

/// The subset of the OTLP logs messages Argus reads, written by hand; field numbers and
/// wire types as in `opentelemetry/proto/{collector/logs,logs,common,resource}/v1/*.proto`.
pub mod proto {
    /// `collector.logs.v1.ExportLogsServiceRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportLogsServiceRequest {
        /// Logs by resource.
        #[prost(message, repeated, tag = "1")]
        pub resource_logs: Vec<ResourceLogs>,
    }

    /// `logs.v1.ResourceLogs`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResourceLogs {
        /// The resource.
        #[prost(message, optional, tag = "1")]
        pub resource: Option<Resource>,
        /// Logs by instrumentation scope.
        #[prost(message, repeated, tag = "2")]
        pub scope_logs: Vec<ScopeLogs>,
        /// Schema URL of the resource.
        #[prost(string, tag = "3")]
        pub schema_url: String,
    }

    /// `resource.v1.Resource`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Resource {
        /// Resource attributes.
        #[prost(message, repeated, tag = "1")]
        pub attributes: Vec<KeyValue>,
        /// Attributes the sender dropped.
        #[prost(uint32, tag = "2")]
        pub dropped_attributes_count: u32,
    }

    /// `logs.v1.ScopeLogs`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ScopeLogs {
        /// The instrumentation scope.
        #[prost(message, optional, tag = "1")]
        pub scope: Option<InstrumentationScope>,
        /// The records.
        #[prost(message, repeated, tag = "2")]
        pub log_records: Vec<LogRecord>,
        /// Schema URL of the scope.
        #[prost(string, tag = "3")]
        pub schema_url: String,
    }

    /// `common.v1.InstrumentationScope` (name and version).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct InstrumentationScope {
        /// Scope name, often the logger's name.
        #[prost(string, tag = "1")]
        pub name: String,
        /// Scope version.
        #[prost(string, tag = "2")]
        pub version: String,
    }

    /// `logs.v1.LogRecord`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LogRecord {
        /// When the event happened, Unix ns; 0 when unknown.
        #[prost(fixed64, tag = "1")]
        pub time_unix_nano: u64,
        /// `SeverityNumber`, 1 to 24; 0 unspecified.
        #[prost(int32, tag = "2")]
        pub severity_number: i32,
        /// The level as the source named it.
        #[prost(string, tag = "3")]
        pub severity_text: String,
        /// The body.
        #[prost(message, optional, tag = "5")]
        pub body: Option<AnyValue>,
        /// Attributes.
        #[prost(message, repeated, tag = "6")]
        pub attributes: Vec<KeyValue>,
        /// Attributes the sender dropped.
        #[prost(uint32, tag = "7")]
        pub dropped_attributes_count: u32,
        /// W3C trace flags in the low 8 bits.
        #[prost(fixed32, tag = "8")]
        pub flags: u32,
        /// Trace id, 16 bytes.
        #[prost(bytes = "vec", tag = "9")]
        pub trace_id: Vec<u8>,
        /// Span id, 8 bytes.
        #[prost(bytes = "vec", tag = "10")]
        pub span_id: Vec<u8>,
        /// When the collector saw it, Unix ns; 0 when unknown.
        #[prost(fixed64, tag = "11")]
        pub observed_time_unix_nano: u64,
    }

    /// `common.v1.KeyValue`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct KeyValue {
        /// Key.
        #[prost(string, tag = "1")]
        pub key: String,
        /// Value.
        #[prost(message, optional, tag = "2")]
        pub value: Option<AnyValue>,
    }

    /// `common.v1.AnyValue`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AnyValue {
        /// One of the kinds; `None` is the empty value.
        #[prost(oneof = "any_value::Value", tags = "1, 2, 3, 4, 5, 6, 7")]
        pub value: Option<any_value::Value>,
    }

    /// The `AnyValue` oneof.
    pub mod any_value {
        /// One kind of value.
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Value {
            /// A string.
            #[prost(string, tag = "1")]
            StringValue(String),
            /// A boolean.
            #[prost(bool, tag = "2")]
            BoolValue(bool),
            /// An integer.
            #[prost(int64, tag = "3")]
            IntValue(i64),
            /// A float.
            #[prost(double, tag = "4")]
            DoubleValue(f64),
            /// A list.
            #[prost(message, tag = "5")]
            ArrayValue(super::ArrayValue),
            /// A map.
            #[prost(message, tag = "6")]
            KvlistValue(super::KeyValueList),
            /// Bytes.
            #[prost(bytes = "vec", tag = "7")]
            BytesValue(Vec<u8>),
        }
    }

    /// `common.v1.ArrayValue`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ArrayValue {
        /// The items.
        #[prost(message, repeated, tag = "1")]
        pub values: Vec<AnyValue>,
    }

    /// `common.v1.KeyValueList`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct KeyValueList {
        /// The pairs.
        #[prost(message, repeated, tag = "1")]
        pub values: Vec<KeyValue>,
    }
}

/// Decodes an OTLP/HTTP logs body: JSON when `content_type` is `application/json`,
/// protobuf otherwise; gzip `content_encoding` is undone first. Records without a time get
/// `now_ns`.
pub fn decode_otlp(
    body: &[u8],
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    now_ns: i64,
    limits: &DecodeLimits,
) -> Result<Decoded, PushError> {
    let body = decode_content(body, content_encoding, limits)?;
    let (req, problems) = if media_type(content_type) == "application/json" {
        from_json(&body)?
    } else {
        let req =
            proto::ExportLogsServiceRequest::decode(&*body).map_err(|e| PushError::Protobuf {
                message: "ExportLogsServiceRequest",
                detail: e.to_string(),
            })?;
        (req, Problems::default())
    };
    Ok(map_request(req, &problems, now_ns, limits))
}

fn map_request(
    req: proto::ExportLogsServiceRequest,
    problems: &Problems,
    now_ns: i64,
    limits: &DecodeLimits,
) -> Decoded {
    let mut out = Decoded::default();
    for (ri, rl) in req.resource_logs.into_iter().enumerate() {
        let attrs = rl.resource.map(|r| r.attributes).unwrap_or_default();
        let mut pairs = Vec::new();
        let mut resource_meta = Vec::new();
        for kv in &attrs {
            if INDEX_ATTRIBUTES.contains(&kv.key.as_str()) {
                if let Some(v) = &kv.value {
                    pairs.push((normalize_name(&kv.key), render(v)));
                }
            } else {
                flatten(&kv.key, kv.value.as_ref(), &mut resource_meta);
            }
        }
        if !pairs
            .iter()
            .any(|(n, v)| n == "service_name" && !v.is_empty())
        {
            pairs.push(("service_name".to_string(), "unknown_service".to_string()));
        }
        let labels = match problems.resource.get(&ri) {
            Some(p) => Err(p.clone()),
            None => make_labels(pairs, limits),
        };
        for (si, sl) in rl.scope_logs.into_iter().enumerate() {
            let at =
                |li: usize| format!("resource {}, scope {}, record {}", ri + 1, si + 1, li + 1);
            let labels = match &labels {
                Err(reason) => {
                    refuse_all(&mut out.refused, sl.log_records.len(), at, reason);
                    continue;
                }
                Ok(l) => l,
            };
            let mut scope_meta = Vec::new();
            if let Some(s) = &sl.scope {
                push_nonempty(&mut scope_meta, "scope_name", &s.name);
                push_nonempty(&mut scope_meta, "scope_version", &s.version);
            }
            for (li, lr) in sl.log_records.into_iter().enumerate() {
                if let Some(reason) = problems.record.get(&(ri, si, li)) {
                    out.refused.push(Refusal::new(at(li), reason.clone()));
                    continue;
                }
                match map_record(lr, now_ns, limits) {
                    Ok((ts_ns, line, meta)) => {
                        let mut metadata = resource_meta.clone();
                        metadata.extend(scope_meta.iter().cloned());
                        metadata.extend(meta);
                        out.records.push(LogRecord {
                            labels: labels.clone(),
                            ts_ns,
                            line,
                            metadata,
                        });
                    }
                    Err(reason) => out.refused.push(Refusal::new(at(li), reason)),
                }
            }
        }
    }
    out
}

type Mapped = (i64, String, Vec<(String, String)>);

fn map_record(lr: proto::LogRecord, now_ns: i64, limits: &DecodeLimits) -> Result<Mapped, String> {
    let ts = if lr.time_unix_nano != 0 {
        lr.time_unix_nano
    } else {
        lr.observed_time_unix_nano
    };
    let ts_ns = match ts {
        0 => now_ns,
        t => i64::try_from(t)
            .map_err(|_| format!("the time {t} ns is after the year 2262 and out of range"))?,
    };
    let line = match &lr.body {
        None | Some(AnyValue { value: None }) => String::new(),
        Some(AnyValue {
            value: Some(Av::StringValue(s)),
        }) => s.clone(),
        Some(v) => to_json(v),
    };
    check_line(&line, limits)?;
    let mut meta = Vec::new();
    for kv in &lr.attributes {
        flatten(&kv.key, kv.value.as_ref(), &mut meta);
    }
    push_nonempty(&mut meta, "severity_text", &lr.severity_text);
    if lr.severity_number != 0 {
        meta.push(("severity_number".into(), lr.severity_number.to_string()));
    }
    push_nonempty(&mut meta, "trace_id", &hex(&lr.trace_id));
    push_nonempty(&mut meta, "span_id", &hex(&lr.span_id));
    if lr.flags != 0 {
        meta.push(("flags".into(), lr.flags.to_string()));
    }
    if lr.observed_time_unix_nano != 0 {
        meta.push((
            "observed_timestamp".into(),
            lr.observed_time_unix_nano.to_string(),
        ));
    }
    if let Some(level) =
        level_from_number(lr.severity_number).or_else(|| level_from_text(&lr.severity_text))
    {
        meta.push(("detected_level".into(), level.to_string()));
    }
    Ok((ts_ns, line, meta))
}

fn push_nonempty(out: &mut Vec<(String, String)>, name: &str, value: &str) {
    if !value.is_empty() {
        out.push((name.to_string(), value.to_string()));
    }
}

fn level_from_number(n: i32) -> Option<&'static str> {
    Some(match n {
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warn",
        17..=20 => "error",
        21..=24 => "fatal",
        _ => return None,
    })
}

fn level_from_text(t: &str) -> Option<&'static str> {
    let t = t.trim().to_ascii_lowercase();
    Some(match t.as_str() {
        "trace" | "trc" => "trace",
        "debug" | "dbg" => "debug",
        "info" | "inf" | "information" | "informational" | "notice" => "info",
        "warn" | "wrn" | "warning" => "warn",
        "error" | "err" | "eror" => "error",
        "fatal" | "critical" | "crit" | "emerg" | "emergency" | "alert" | "panic" => "fatal",
        _ => return None,
    })
}

/// Adds `name` = value as metadata, maps flattened into `name_key` pairs.
fn flatten(name: &str, v: Option<&AnyValue>, out: &mut Vec<(String, String)>) {
    match v.and_then(|v| v.value.as_ref()) {
        None => {}
        Some(Av::KvlistValue(kvs)) => {
            for kv in &kvs.values {
                flatten(&format!("{name}.{}", kv.key), kv.value.as_ref(), out);
            }
        }
        Some(_) => {
            if let Some(v) = v {
                out.push((normalize_name(name), render(v)));
            }
        }
    }
}

/// A value as text: strings as they are, scalars in their usual form, the rest as JSON.
fn render(v: &AnyValue) -> String {
    match &v.value {
        None => String::new(),
        Some(Av::StringValue(s)) => s.clone(),
        Some(Av::BoolValue(b)) => b.to_string(),
        Some(Av::IntValue(i)) => i.to_string(),
        Some(Av::DoubleValue(d)) => d.to_string(),
        Some(Av::BytesValue(b)) => base64(b),
        Some(_) => to_json(v),
    }
}

/// A value as compact JSON, map keys in the sender's order.
fn to_json(v: &AnyValue) -> String {
    let mut out = String::new();
    write_json(v, &mut out);
    out
}

fn write_json(v: &AnyValue, out: &mut String) {
    let quote = |s: &str, out: &mut String| out.push_str(&serde_json::Value::from(s).to_string());
    match &v.value {
        None => out.push_str("null"),
        Some(Av::StringValue(s)) => quote(s, out),
        Some(Av::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(Av::IntValue(i)) => out.push_str(&i.to_string()),
        Some(Av::DoubleValue(d)) => match serde_json::Number::from_f64(*d) {
            Some(n) => out.push_str(&n.to_string()),
            None => quote(&d.to_string(), out),
        },
        Some(Av::BytesValue(b)) => quote(&base64(b), out),
        Some(Av::ArrayValue(a)) => {
            out.push('[');
            for (i, x) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, out);
            }
            out.push(']');
        }
        Some(Av::KvlistValue(kvs)) => {
            out.push('{');
            for (i, kv) in kvs.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                quote(&kv.key, out);
                out.push(':');
                match &kv.value {
                    Some(x) => write_json(x, out),
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
    }
}

fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(DIGITS[usize::from(x >> 4)] as char);
        s.push(DIGITS[usize::from(x & 15)] as char);
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|p| {
            let d = |c: u8| (c as char).to_digit(16);
            Some((d(p[0])? * 16 + d(p[1])?) as u8)
        })
        .collect()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                s.push(B64[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn unbase64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
#[path = "otlp_tests.rs"]
mod tests;
