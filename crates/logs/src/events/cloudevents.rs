//! CloudEvents 1.0 over HTTP, and Kubernetes `Event` objects, decoded into [`Event`]s.
//!
//! [`decode_events`] reads one HTTP request:
//!
//! - structured mode, `Content-Type: application/cloudevents+json`: the body is one event;
//! - batch mode, `application/cloudevents-batch+json`: the body is a JSON array of events;
//! - binary mode, any `ce-*` header: the attributes are the headers (`ce-id`, `ce-source`,
//!   `ce-type`, `ce-specversion`, percent-decoded), `Content-Type` is `datacontenttype` and the
//!   body is the data;
//! - `application/json` (or no content type): a CloudEvent, an array of them, a Kubernetes
//!   `Event` (`v1` or `events.k8s.io/v1`), an `EventList`, or a watch event
//!   (`{"type": "ADDED", "object": {…}}`), told apart by their members.
//!
//! Validation follows the CloudEvents 1.0 specification: `specversion` must be `"1.0"`, and
//! `id`, `source` and `type` non-empty strings; `time` is RFC 3339 when given (the receive time
//! otherwise); extension attribute names are lower-case letters and digits, their values
//! strings, numbers or booleans. Extensions become the event's labels (`service`,
//! `namespace`, …); an extension `kind` (or `eventkind`) naming an [`EventKind`] overrides the
//! kind classified from the type. An event that breaks a rule is refused with the reason and
//! the others are kept; a body that cannot be read at all is an [`EventsError`].

use super::k8s::{from_kubernetes, is_kubernetes_event};
use super::model::{Event, EventKind};
use crate::push::{decode_content, media_type, normalize_name, short, DecodeLimits, PushError};
use crate::record::{summarise, Refusal};
use argus_model::{Label, Labels};
use serde_json::{Map, Value};

/// What the decoder made of one request: the good events and the refused ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecodedEvents {
    /// Events to keep, in request order.
    pub events: Vec<Event>,
    /// Events refused, in request order.
    pub refused: Vec<Refusal>,
}

impl DecodedEvents {
    /// "3 accepted, 1 refused (event 2: …)": the first three refusals are named.
    pub fn summary(&self) -> String {
        summarise(self.events.len(), &self.refused)
    }
}

/// Why a whole request could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventsError {
    /// The body's encoding, size or JSON is wrong.
    #[error(transparent)]
    Body(#[from] PushError),
    /// The content type is neither CloudEvents nor JSON, and there are no `ce-` headers.
    #[error(
        "the content type \"{0}\" is not an event encoding; send application/cloudevents+json, \
         application/cloudevents-batch+json, application/json, or the event in ce- headers"
    )]
    UnsupportedContentType(String),
}

const STRUCTURED: &str = "application/cloudevents+json";
const BATCH: &str = "application/cloudevents-batch+json";

/// The value of the first header named `name` (case does not matter).
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn json_error(expected: &'static str, e: serde_json::Error) -> EventsError {
    EventsError::Body(PushError::Json {
        expected,
        detail: e.to_string(),
    })
}

/// Decodes one HTTP request of events (see the module documentation for the modes).
///
/// `headers` are the request's headers as name/value pairs; `Content-Type`,
/// `Content-Encoding` (none or gzip) and the `ce-*` headers are read. `now_ns` is the time
/// given to events without one.
pub fn decode_events(
    body: &[u8],
    headers: &[(String, String)],
    now_ns: i64,
    limits: &DecodeLimits,
) -> Result<DecodedEvents, EventsError> {
    let body = decode_content(body, header(headers, "content-encoding"), limits)?;
    let content_type = header(headers, "content-type");
    let media = media_type(content_type);
    let mut out = DecodedEvents::default();
    let binary = headers
        .iter()
        .any(|(n, _)| n.len() > 3 && n.is_char_boundary(3) && n[..3].eq_ignore_ascii_case("ce-"));
    if media == STRUCTURED {
        let v: Value =
            serde_json::from_slice(&body).map_err(|e| json_error("a CloudEvents JSON event", e))?;
        push_one(&mut out, &v, "event 1".into(), false, now_ns, limits);
    } else if media == BATCH {
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| json_error("a CloudEvents batch (a JSON array of events)", e))?;
        let Value::Array(items) = v else {
            return Err(EventsError::Body(PushError::Json {
                expected: "a CloudEvents batch (a JSON array of events)",
                detail: format!("the body is a JSON {}, not an array", type_name(&v)),
            }));
        };
        for (i, item) in items.iter().enumerate() {
            push_one(
                &mut out,
                item,
                format!("event {}", i + 1),
                false,
                now_ns,
                limits,
            );
        }
    } else if binary {
        match from_binary(&body, headers, content_type, now_ns, limits) {
            Ok(e) => out.events.push(e),
            Err(reason) => out.refused.push(Refusal::new("event 1", reason)),
        }
    } else if media.is_empty() || media == "application/json" || media.ends_with("+json") {
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| json_error("a CloudEvent or Kubernetes event in JSON", e))?;
        push_sniffed(&mut out, &v, now_ns, limits);
    } else {
        return Err(EventsError::UnsupportedContentType(short(
            content_type.unwrap_or(""),
            80,
        )));
    }
    Ok(out)
}

/// A JSON body without a CloudEvents content type: one event, an array, a Kubernetes list or
/// watch event.
fn push_sniffed(out: &mut DecodedEvents, v: &Value, now_ns: i64, limits: &DecodeLimits) {
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                push_one(out, item, format!("event {}", i + 1), true, now_ns, limits);
            }
        }
        Value::Object(o) => {
            let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
            if let (true, Some(Value::Array(items))) = (kind.ends_with("List"), o.get("items")) {
                for (i, item) in items.iter().enumerate() {
                    push_one(out, item, format!("item {}", i + 1), true, now_ns, limits);
                }
            } else if let (Some(obj @ Value::Object(_)), None) =
                (o.get("object"), o.get("specversion"))
            {
                push_one(out, obj, "object".into(), true, now_ns, limits);
            } else {
                push_one(out, v, "event 1".into(), true, now_ns, limits);
            }
        }
        other => out.refused.push(Refusal::new(
            "event 1",
            format!(
                "the body is a JSON {}, not an event object",
                type_name(other)
            ),
        )),
    }
}

/// Decodes one event object at `at`; Kubernetes events are recognised when `k8s` is set.
fn push_one(
    out: &mut DecodedEvents,
    v: &Value,
    at: String,
    k8s: bool,
    now_ns: i64,
    limits: &DecodeLimits,
) {
    let r = match v {
        Value::Object(o) if k8s && is_kubernetes_event(o) => from_kubernetes(o, now_ns, limits),
        Value::Object(o) => from_structured(o, now_ns, limits),
        other => Err(format!(
            "the event is a JSON {}, not an object",
            type_name(other)
        )),
    };
    match r {
        Ok(e) => out.events.push(e),
        Err(reason) => out.refused.push(Refusal::new(at, reason)),
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A required non-empty string attribute.
fn required<'a>(o: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    match o.get(name) {
        None | Some(Value::Null) => Err(format!("the required attribute \"{name}\" is missing")),
        Some(Value::String(s)) if s.is_empty() => {
            Err(format!("the attribute \"{name}\" must not be empty"))
        }
        Some(Value::String(s)) => Ok(s),
        Some(v) => Err(format!(
            "the attribute \"{name}\" must be a string, not a {}",
            type_name(v)
        )),
    }
}

/// An optional string attribute (`null` is absent).
fn optional<'a>(o: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match o.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => {
            Err(format!("the attribute \"{name}\" must not be empty"))
        }
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(format!(
            "the attribute \"{name}\" must be a string, not a {}",
            type_name(v)
        )),
    }
}

/// RFC 3339 to Unix nanoseconds; the reason names `what`.
pub(crate) fn parse_time(s: &str, what: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(|| {
            format!(
                "the {what} \"{}\" is not an RFC 3339 time between 1677 and 2262",
                short(s, 64)
            )
        })
}

/// Attribute names the specification defines; every other member is an extension.
const CONTEXT: &[&str] = &[
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "dataschema",
    "data",
    "data_base64",
];

fn valid_extension_name(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// One CloudEvent in the JSON format (structured or batch mode, or built from binary headers).
fn from_structured(
    o: &Map<String, Value>,
    now_ns: i64,
    limits: &DecodeLimits,
) -> Result<Event, String> {
    match o.get("specversion") {
        Some(Value::String(s)) if s == "1.0" => {}
        Some(Value::String(s)) => {
            return Err(format!(
                "specversion \"{}\" is not supported; send 1.0",
                short(s, 20)
            ))
        }
        _ => required(o, "specversion").map(|_| ())?,
    }
    let id = required(o, "id")?;
    let source = required(o, "source")?;
    let event_type = required(o, "type")?;
    let subject = optional(o, "subject")?;
    let ts_ns = match optional(o, "time")? {
        Some(t) => parse_time(t, "time")?,
        None => now_ns,
    };
    optional(o, "datacontenttype")?;
    optional(o, "dataschema")?;
    let data = match (o.get("data"), o.get("data_base64")) {
        (Some(d), Some(b)) if !d.is_null() && !b.is_null() => {
            return Err("the event has both \"data\" and \"data_base64\"; send one".into())
        }
        (_, Some(Value::String(b))) => serde_json::json!({ "data_base64": b }),
        (_, Some(b)) if !b.is_null() => {
            return Err(format!(
                "\"data_base64\" must be a string, not a {}",
                type_name(b)
            ))
        }
        (Some(d), _) => d.clone(),
        (None, _) => Value::Null,
    };
    let mut kind = EventKind::classify(event_type);
    let mut labels: Vec<Label> = Vec::new();
    for (name, value) in o {
        if CONTEXT.contains(&name.as_str()) || value.is_null() {
            continue;
        }
        if name == "labels" {
            // Argus's own structured form (see `Event::to_json`): an object of strings.
            let Value::Object(m) = value else {
                return Err("\"labels\" must be an object of strings".into());
            };
            for (n, v) in m {
                let Some(v) = v.as_str() else {
                    return Err(format!("the label \"{}\" must be a string", short(n, 40)));
                };
                labels.push(Label {
                    name: normalize_name(n),
                    value: v.to_string(),
                });
            }
            continue;
        }
        if !valid_extension_name(name) {
            return Err(format!(
                "the attribute name \"{}\" is not valid (lower-case letters and digits only)",
                short(name, 40)
            ));
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(format!(
                "the extension attribute \"{name}\" must be a string, number or boolean, not a {}",
                type_name(other)
            ))
            }
        };
        if name == "kind" || name == "eventkind" {
            if let Ok(k) = text.parse::<EventKind>() {
                kind = k;
                continue;
            }
        }
        labels.push(Label {
            name: normalize_name(name),
            value: text,
        });
    }
    let labels = check_labels(labels, limits)?;
    let event = Event {
        id: id.to_string(),
        source: source.to_string(),
        kind,
        event_type: event_type.to_string(),
        subject: subject.map(str::to_string),
        ts_ns,
        labels,
        data,
    };
    check_size(&event, limits)?;
    Ok(event)
}

/// Checks event labels against the limits (an event may have none).
pub(crate) fn check_labels(labels: Vec<Label>, limits: &DecodeLimits) -> Result<Labels, String> {
    for l in &labels {
        if l.value.len() > limits.max_label_value_bytes {
            return Err(format!(
                "the value of label \"{}\" is {} bytes, over the limit of {}",
                short(&l.name, 40),
                l.value.len(),
                limits.max_label_value_bytes
            ));
        }
    }
    let labels = Labels::from_vec(labels);
    if labels.len() > limits.max_labels {
        return Err(format!(
            "the event has {} labels, over the limit of {}",
            labels.len(),
            limits.max_labels
        ));
    }
    Ok(labels)
}

/// Refuses an event whose stored line would be over the line limit.
pub(crate) fn check_size(event: &Event, limits: &DecodeLimits) -> Result<(), String> {
    let n = event.to_json().to_string().len();
    if n > limits.max_line_bytes {
        return Err(format!(
            "the event is {n} bytes as JSON, over the limit of {}",
            limits.max_line_bytes
        ));
    }
    Ok(())
}

/// Binary mode: attributes in `ce-` headers, the body is the data.
fn from_binary(
    body: &[u8],
    headers: &[(String, String)],
    content_type: Option<&str>,
    now_ns: i64,
    limits: &DecodeLimits,
) -> Result<Event, String> {
    let mut o = Map::new();
    for (n, v) in headers {
        if n.len() > 3 && n.is_char_boundary(3) && n[..3].eq_ignore_ascii_case("ce-") {
            let name = n[3..].to_ascii_lowercase();
            if name == "data" || name == "data_base64" {
                continue;
            }
            o.insert(name, Value::String(percent_decode(v)));
        }
    }
    if let Some(ct) = content_type.filter(|c| !c.trim().is_empty()) {
        o.insert(
            "datacontenttype".into(),
            Value::String(ct.trim().to_string()),
        );
    }
    if !body.is_empty() {
        let media = media_type(content_type);
        let json = media == "application/json" || media.ends_with("+json");
        let data = if json {
            serde_json::from_slice(body).map_err(|e| {
                format!("the body is not valid JSON though the content type is {media} ({e})")
            })?
        } else if let Ok(s) = std::str::from_utf8(body) {
            Value::String(s.to_string())
        } else {
            o.insert("data_base64".into(), Value::String(base64(body)));
            Value::Null
        };
        if !data.is_null() {
            o.insert("data".into(), data);
        }
    }
    from_structured(&o, now_ns, limits)
}

/// Undoes `%XX` escapes (as the HTTP binding asks of header values); a malformed escape is
/// kept as written, and bytes that are not UTF-8 become U+FFFD.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Standard base64 with padding.
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.len();
        let v = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= n {
                out.push(A[(v >> (18 - 6 * k)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "cloudevents_tests.rs"]
mod tests;
