//! Kubernetes `Event` objects (`v1` and `events.k8s.io/v1`) as [`Event`]s.
//!
//! The type is `io.k8s.event.<reason>` (`io.k8s.event.BackOff`), the source
//! `k8s/<reporting component>`, the subject `<Kind>/<name>` of the object the event is
//! about, and the labels `namespace`, `kind`, `name`, `reason` and `severity` (`Normal` or
//! `Warning`). The time is the latest the object gives (`series.lastObservedTime`,
//! `lastTimestamp`, `eventTime`, `firstTimestamp`, `metadata.creationTimestamp`).

use super::cloudevents::{check_labels, check_size, parse_time, type_name};
use super::model::{Event, EventKind};
use crate::push::{short, DecodeLimits};
use argus_model::Label;
use serde_json::{Map, Value};

/// Whether `o` is a Kubernetes `Event` (by `kind` and the object it is about).
pub(crate) fn is_kubernetes_event(o: &Map<String, Value>) -> bool {
    o.get("kind").and_then(Value::as_str) == Some("Event")
        && (o.contains_key("involvedObject") || o.contains_key("regarding"))
}

fn s<'a>(o: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    o.get(name)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
}

fn obj<'a>(o: &'a Map<String, Value>, name: &str) -> Option<&'a Map<String, Value>> {
    o.get(name).and_then(Value::as_object)
}

/// Maps one Kubernetes `Event` object; the reason names what is missing or wrong.
pub(crate) fn from_kubernetes(
    o: &Map<String, Value>,
    now_ns: i64,
    limits: &DecodeLimits,
) -> Result<Event, String> {
    let empty = Map::new();
    let regarding = match o.get("regarding").or_else(|| o.get("involvedObject")) {
        Some(Value::Object(r)) => r,
        Some(v) => {
            return Err(format!(
                "the Kubernetes event's object must be a JSON object, not a {}",
                type_name(v)
            ))
        }
        None => {
            return Err("the Kubernetes event names no object (involvedObject or regarding)".into())
        }
    };
    let meta = obj(o, "metadata").unwrap_or(&empty);
    let reason = s(o, "reason").ok_or("the Kubernetes event has no reason")?;
    let severity = s(o, "type").unwrap_or("Normal");
    let series = obj(o, "series").unwrap_or(&empty);
    let times = [
        ("series.lastObservedTime", series.get("lastObservedTime")),
        ("lastTimestamp", o.get("lastTimestamp")),
        ("deprecatedLastTimestamp", o.get("deprecatedLastTimestamp")),
        ("eventTime", o.get("eventTime")),
        ("firstTimestamp", o.get("firstTimestamp")),
        (
            "deprecatedFirstTimestamp",
            o.get("deprecatedFirstTimestamp"),
        ),
        ("metadata.creationTimestamp", meta.get("creationTimestamp")),
    ];
    let mut ts_ns = now_ns;
    for (what, v) in times {
        match v {
            None | Some(Value::Null) => continue,
            Some(Value::String(t)) if !t.is_empty() => {
                ts_ns = parse_time(t, what)?;
                break;
            }
            Some(v) => {
                return Err(format!(
                    "{what} must be an RFC 3339 string, not a {}",
                    type_name(v)
                ))
            }
        }
    }
    let namespace = s(regarding, "namespace").or_else(|| s(meta, "namespace"));
    let kind = s(regarding, "kind");
    let name = s(regarding, "name");
    let deprecated_source = obj(o, "deprecatedSource")
        .or_else(|| obj(o, "source"))
        .unwrap_or(&empty);
    let component = s(o, "reportingController")
        .or_else(|| s(o, "reportingComponent"))
        .or_else(|| s(deprecated_source, "component"));
    let id = match (s(meta, "uid"), s(meta, "name")) {
        (Some(uid), _) => uid.to_string(),
        (None, Some(n)) => format!("{}/{n}", namespace.unwrap_or("")),
        (None, None) => format!(
            "{}/{}/{reason}/{ts_ns}",
            namespace.unwrap_or(""),
            name.unwrap_or("")
        ),
    };
    let mut labels = Vec::new();
    for (n, v) in [
        ("namespace", namespace),
        ("kind", kind),
        ("name", name),
        ("reason", Some(reason)),
        ("severity", Some(severity)),
    ] {
        if let Some(v) = v {
            labels.push(Label {
                name: n.into(),
                value: v.into(),
            });
        }
    }
    let mut data = Map::new();
    if let Some(m) = s(o, "note").or_else(|| s(o, "message")) {
        data.insert("message".into(), Value::from(m));
    }
    let count = series
        .get("count")
        .or_else(|| o.get("count"))
        .or_else(|| o.get("deprecatedCount"));
    if let Some(c) = count.filter(|c| c.is_number()) {
        data.insert("count".into(), c.clone());
    }
    for (key, v) in [
        ("action", s(o, "action")),
        ("field_path", s(regarding, "fieldPath")),
        (
            "host",
            s(deprecated_source, "host").or_else(|| s(o, "reportingInstance")),
        ),
    ] {
        if let Some(v) = v {
            data.insert(key.into(), Value::from(v));
        }
    }
    let event = Event {
        id,
        source: match component {
            Some(c) => format!("k8s/{}", short(c, 200)),
            None => "k8s".into(),
        },
        kind: EventKind::Kubernetes,
        event_type: format!("io.k8s.event.{reason}"),
        subject: match (kind, name) {
            (Some(k), Some(n)) => Some(format!("{k}/{n}")),
            (None, Some(n)) => Some(n.to_string()),
            _ => None,
        },
        ts_ns,
        labels: check_labels(labels, limits)?,
        data: Value::Object(data),
    };
    check_size(&event, limits)?;
    Ok(event)
}
