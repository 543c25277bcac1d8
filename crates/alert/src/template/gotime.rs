//! Alertmanager's time functions for Go templates, as in its `template.DefaultFuncs`:
//! `date LAYOUT TIME` (Go's `Time.Format`), `tz NAME TIME` (the time in an IANA zone),
//! `since TIME` (a `time.Duration` until now), `humanizeDuration` (Prometheus's: seconds, or a
//! duration, as `1h 2m 3s`), and `toJson`.
//!
//! ```
//! use argus_alert::template::go::{data, GoTemplates};
//! use argus_alert::{Alert, AlertStatus, IntegrationKind, Notification, NotifiedAlert};
//! use argus_model::Labels;
//! // Fired at 2024-05-01T10:00:00Z.
//! let a = Alert::firing(Labels::from_pairs(&[("alertname", "Down")]), 1_714_557_600_000);
//! let n = Notification::new("r", 0, IntegrationKind::Webhook, "{}", Labels::default(),
//!     vec![NotifiedAlert::new(a, AlertStatus::Firing)], 1_714_557_600_000);
//! let dot = data(&n.webhook_message("", 0));
//! let t = GoTemplates::builtin();
//! let out = t.render(r#"{{ range .Alerts }}{{ .StartsAt | tz "Europe/Berlin" | date "15:04 MST" }}{{ end }}"#, &dot).unwrap();
//! assert_eq!(out, "12:00 CEST");
//! ```

use std::sync::Arc;

use argus_gotmpl::{humanize_duration, want, Funcs, GoTime, Value};
use argus_model::Clock;
use chrono::{Offset, TimeZone};
use chrono_tz::OffsetName;

fn time_arg<'a>(v: &'a Value, func: &str) -> Result<&'a GoTime, String> {
    match v {
        Value::Time(t) => Ok(t),
        other => Err(format!(
            "{func}: wrong type for value; expected time.Time; got {}",
            other.go_type()
        )),
    }
}

/// `t` shown in the IANA zone `name` (`""` and `UTC` are UTC, as Go's `LoadLocation`).
pub fn in_zone(name: &str, t: &GoTime) -> Result<GoTime, String> {
    if name.is_empty() || name == "UTC" {
        return Ok(t.utc());
    }
    let tz: chrono_tz::Tz = name
        .parse()
        .map_err(|_| format!("unknown time zone {name}"))?;
    let utc = chrono::DateTime::from_timestamp(t.secs, 0)
        .ok_or_else(|| format!("time {} is out of range for zone {name}", t.go_string()))?
        .naive_utc();
    let off = tz.offset_from_utc_datetime(&utc);
    let secs = off.fix().local_minus_utc();
    Ok(t.in_zone(secs, off.abbreviation().unwrap_or("")))
}

/// A template value as JSON, the way Go's `json.Marshal` writes it (times as RFC 3339).
pub fn to_json(v: &Value) -> Result<serde_json::Value, String> {
    v.to_json()
}

/// Registers `date`, `tz`, `since` (on `clock`), `humanizeDuration` and `toJson`.
pub fn register(f: &mut Funcs, clock: Arc<dyn Clock>) {
    f.register("date", |a| {
        want(a, 2, "date")?;
        let layout = match &a[0] {
            Value::Str(s) => s,
            other => {
                return Err(format!(
                    "date: the layout must be a string, got {}",
                    other.go_type()
                ))
            }
        };
        Ok(Value::Str(time_arg(&a[1], "date")?.format(layout)))
    });
    f.register("tz", |a| {
        want(a, 2, "tz")?;
        let t = time_arg(&a[1], "tz")?;
        in_zone(&a[0].to_go_string(), t).map(Value::Time)
    });
    f.register("since", move |a| {
        want(a, 1, "since")?;
        let t = time_arg(&a[0], "since")?;
        let now = GoTime::from_unix_ms(clock.now_ms());
        Ok(Value::Duration(now.sub(t)))
    });
    f.register("humanizeDuration", |a| {
        want(a, 1, "humanizeDuration")?;
        Ok(Value::Str(humanize_duration(a[0].to_float()?)))
    });
    f.register("toJson", |a| {
        want(a, 1, "toJson")?;
        let j = to_json(&a[0])?;
        serde_json::to_string(&j)
            .map(Value::Str)
            .map_err(|e| e.to_string())
    });
}
