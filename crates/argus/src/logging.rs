//! Logging set-up: `--log.level` and `--log.format`, as in Prometheus.
//!
//! Logs go to stderr, one event a line, in logfmt (default) or JSON, never
//! with terminal colour codes. `ARGUS_LOG`, when set, is a filter such as
//! `info,argus_ingest=debug` and takes precedence over `--log.level`: it is
//! the finer tool, and an operator who sets it means it.

use clap::{Args, ValueEnum};
use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The environment variable with a log filter; wins over `--log.level`.
pub const ENV_FILTER: &str = "ARGUS_LOG";

/// The logging flags of `up`, `server` and `agent`.
#[derive(Args, Clone, Debug, Default)]
pub struct LogArgs {
    /// Only log messages with the given severity or above. `ARGUS_LOG`, when
    /// set, takes precedence.
    #[arg(long = "log.level", value_enum, default_value_t = Level::Info)]
    pub level: Level,
    /// Output format of log messages.
    #[arg(long = "log.format", value_enum, default_value_t = LogFormat::Logfmt)]
    pub format: LogFormat,
}

/// `--log.level`.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Level {
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

impl Level {
    fn directive(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// `--log.format`.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Logfmt,
    Json,
}

/// Installs the global subscriber.
pub fn init(args: &LogArgs) {
    let filter = tracing_subscriber::EnvFilter::try_from_env(ENV_FILTER)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(args.level.directive()));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .event_format(LineFormat {
            format: args.format,
        })
        .init();
}

/// Formats one event as a logfmt or JSON line.
struct LineFormat {
    format: LogFormat,
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let level = event.metadata().level().as_str().to_ascii_lowercase();
        let line = render(self.format, &time, &level, &fields);
        writeln!(w, "{line}")
    }
}

/// An event's message and other fields, in order.
#[derive(Default)]
struct Fields {
    msg: String,
    pairs: Vec<(String, serde_json::Value)>,
}

impl Fields {
    fn push(&mut self, field: &Field, value: serde_json::Value) {
        match field.name() {
            "message" => {
                self.msg = match value {
                    serde_json::Value::String(s) => s,
                    v => v.to_string(),
                }
            }
            name if name.starts_with("log.") => {}
            name => self.pairs.push((name.to_string(), value)),
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, format!("{value:?}").into());
    }
}

fn render(format: LogFormat, time: &str, level: &str, f: &Fields) -> String {
    match format {
        LogFormat::Json => {
            // Written by hand to keep time, level and msg first.
            let s = |v: &str| serde_json::Value::from(v).to_string();
            let mut line = format!(
                "{{\"time\":{},\"level\":{},\"msg\":{}",
                s(time),
                s(level),
                s(&f.msg)
            );
            for (k, v) in &f.pairs {
                let _ = write!(line, ",{}:{v}", s(k));
            }
            line.push('}');
            line
        }
        LogFormat::Logfmt => {
            let mut line = format!("time={time} level={level} msg={}", logfmt_value(&f.msg));
            for (k, v) in &f.pairs {
                let text = match v {
                    serde_json::Value::String(s) => logfmt_value(s),
                    v => v.to_string(),
                };
                let _ = write!(line, " {k}={text}");
            }
            line
        }
    }
}

/// A logfmt value: bare when it has no space, quote, `=` or control
/// character, else quoted with escapes.
fn logfmt_value(v: &str) -> String {
    let bare = !v.is_empty()
        && !v
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '=' || c.is_control());
    if bare {
        v.to_string()
    } else {
        format!("{v:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        Fields {
            msg: "Argus is listening.".into(),
            pairs: vec![
                ("listen".into(), "127.0.0.1:9797".into()),
                ("err".into(), "bad \"x\"".into()),
                ("n".into(), 3.into()),
            ],
        }
    }

    #[test]
    fn logfmt_quotes_only_what_needs_it() {
        let line = render(LogFormat::Logfmt, "T", "info", &fields());
        assert_eq!(
            line,
            r#"time=T level=info msg="Argus is listening." listen=127.0.0.1:9797 err="bad \"x\"" n=3"#
        );
    }

    #[test]
    fn json_is_one_object() {
        let line = render(LogFormat::Json, "T", "warn", &fields());
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "warn");
        assert_eq!(v["msg"], "Argus is listening.");
        assert_eq!(v["err"], "bad \"x\"");
        assert_eq!(v["n"], 3);
        assert!(
            line.starts_with(r#"{"time":"T","level":"warn","msg":"#),
            "{line}"
        );
    }
}
