//! The `logs:` section: the log store and the log ingest endpoints.

mod nats;

pub use nats::{NatsFormat, NatsSourceConfig};

use argus_model::PromDuration;
use argus_web::values::{ByteSize, WalFsync};
use serde::Deserialize;
use std::time::Duration;

/// `logs:` section. Logs are received on the Loki push API
/// (`/loki/api/v1/push`), OTLP/HTTP (`/v1/logs`), JSON lines and plain text
/// (`/api/v1/logs`), when listen addresses are set, syslog, and from NATS
/// JetStream subjects through durable consumers (`nats`); they are queried through Loki's HTTP API (`/loki/api/v1/query_range`…).
///
/// ```yaml
/// logs:
///   retention: 7d
///   retention_size: 20GiB
///   syslog:
///     tcp: 0.0.0.0:1514
///     udp: 0.0.0.0:1514
///   nats:
///     - stream: LOGS
///       subjects: [logs.>]
///       create_stream: true
///       labels: {source: bus}
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogsConfig {
    /// Receive, keep and serve logs (default true).
    pub enabled: bool,
    /// Lines older than this are dropped, and refused on arrival. Default `7d`.
    pub retention: PromDuration,
    /// Keep at most this many bytes of log chunks; the oldest go first.
    /// Default unlimited.
    pub retention_size: Option<ByteSize>,
    /// When the log WAL is fsynced: `always` (before each acknowledgement)
    /// or a duration (at most that long after a write; a crash of Argus
    /// loses nothing either way, a power loss at most that much). Default `1s`.
    pub wal_fsync: WalFsync,
    /// Lines in memory are written to a compressed chunk once they take this
    /// many bytes... Default `64MiB`.
    pub flush_size: ByteSize,
    /// ...or once the oldest is this old. Default `15m`.
    pub flush_age: PromDuration,
    /// Lines stamped further ahead than this are refused. Default `10m`.
    pub max_future: PromDuration,
    /// Longest line accepted; a longer one is refused, not cut. Default `256KiB`.
    pub max_line_size: ByteSize,
    /// Most labels of a stream. Default `30`, as Loki.
    pub max_labels: usize,
    /// Most lines one query may read before it is refused with advice to
    /// narrow it. Default `5000000`.
    pub max_query_lines: usize,
    /// Fields of a JSON line sent to `/api/v1/logs` without `labels` that
    /// become the stream's labels. Default `service`, `level`, `host`, `app`,
    /// `job`.
    pub json_label_fields: Vec<String>,
    /// Syslog listeners (RFC 5424 and RFC 3164; TCP with octet counting or
    /// newlines). Default: none.
    pub syslog: SyslogConfig,
    /// Learn the normal mix of events (CloudEvents and Kubernetes events sent
    /// to `/api/v1/events`) from the last week and alert (`AbnormalEventMix`)
    /// when a five-minute window is out of line. Default true.
    pub event_mix: bool,
    /// Alerts from the lines themselves: a template a service never logged
    /// before, and bursts of error lines.
    pub anomalies: LogAnomaliesConfig,
    /// Log metrics: LogQL metric queries evaluated on an interval, their
    /// results written into the time-series store as series (per-minute
    /// business volume per center, errors per service…). Default: none.
    pub metrics: Vec<LogMetricConfig>,
    /// NATS JetStream sources: streams read through durable pull consumers,
    /// each message acknowledged once its lines are in the WAL (see
    /// [`NatsSourceConfig`]). Default: none.
    pub nats: Vec<NatsSourceConfig>,
}

/// `logs.anomalies:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogAnomaliesConfig {
    /// Raise `NewLogTemplate` and `LogErrorBurst` alerts. Default true.
    pub enabled: bool,
    /// A service's messages are learned this long before a template it
    /// never logged raises `NewLogTemplate`. Default `1h`.
    pub learn: PromDuration,
    /// Fewest error lines in a minute that can be a burst (it must also be
    /// four times the service's usual rate). Default `20`.
    pub error_burst_min: u64,
}

impl Default for LogAnomaliesConfig {
    fn default() -> Self {
        LogAnomaliesConfig {
            enabled: true,
            learn: PromDuration(3_600_000),
            error_burst_min: 20,
        }
    }
}

/// One entry of `logs.metrics:`.
///
/// ```yaml
/// - record: business_volume
///   expr: sum by (center) (count_over_time({app="pay"} | logfmt | status="ok" [1m]))
///   interval: 1m
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogMetricConfig {
    /// The series' metric name.
    pub record: String,
    /// A LogQL metric query; its result's labels become the series' labels.
    pub expr: String,
    /// How often it is evaluated, at boundaries of this interval. Default `1m`.
    #[serde(default = "one_minute")]
    pub interval: PromDuration,
    /// How long after a boundary it is evaluated, so late lines count.
    /// Default `30s`.
    #[serde(default = "half_minute")]
    pub delay: PromDuration,
    /// Labels added to every series.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// Most series one evaluation may write; a larger answer writes nothing
    /// and is reported. Default `1000`.
    #[serde(default = "thousand")]
    pub max_series: usize,
}

fn one_minute() -> PromDuration {
    PromDuration(60_000)
}

fn half_minute() -> PromDuration {
    PromDuration(30_000)
}

fn thousand() -> usize {
    1_000
}

/// `logs.syslog:` listen addresses; absent means not listening.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyslogConfig {
    /// TCP listen address, such as `0.0.0.0:1514`.
    pub tcp: Option<String>,
    /// UDP listen address.
    pub udp: Option<String>,
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            enabled: true,
            retention: PromDuration(7 * 86_400_000),
            retention_size: None,
            wal_fsync: WalFsync::Interval(PromDuration(1_000)),
            flush_size: ByteSize(64 << 20),
            flush_age: PromDuration(15 * 60_000),
            max_future: PromDuration(10 * 60_000),
            max_line_size: ByteSize(256 << 10),
            max_labels: 30,
            max_query_lines: 5_000_000,
            json_label_fields: ["service", "level", "host", "app", "job"]
                .map(String::from)
                .to_vec(),
            syslog: SyslogConfig::default(),
            event_mix: true,
            anomalies: LogAnomaliesConfig::default(),
            metrics: Vec::new(),
            nats: Vec::new(),
        }
    }
}

fn positive(d: PromDuration) -> Duration {
    Duration::from_millis(d.as_millis().max(0) as u64)
}

/// A `logs:` value that cannot work; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LogsConfigError(pub String);

impl LogsConfig {
    /// Checks values that cannot work.
    pub fn validate(&self) -> Result<(), LogsConfigError> {
        self.check().map_err(LogsConfigError)
    }

    fn check(&self) -> Result<(), String> {
        if self.retention.as_millis() < 3_600_000 {
            return Err("logs.retention must be at least 1h".into());
        }
        if self.flush_age.as_millis() < 1_000 {
            return Err("logs.flush_age must be at least 1s".into());
        }
        if self.max_future.as_millis() < 0 {
            return Err("logs.max_future must not be negative".into());
        }
        if self.max_line_size.0 == 0 || self.max_labels == 0 || self.max_query_lines == 0 {
            return Err(
                "logs.max_line_size, logs.max_labels and logs.max_query_lines must be positive"
                    .into(),
            );
        }
        crate::metrics::compile(&self.metrics).map_err(|e| e.0)?;
        nats::validate(&self.nats)?;
        for (what, addr) in [("tcp", &self.syslog.tcp), ("udp", &self.syslog.udp)] {
            if let Some(a) = addr {
                a.parse::<std::net::SocketAddr>().map_err(|e| {
                    format!("logs.syslog.{what}: {a:?} is not a listen address such as 0.0.0.0:1514: {e}")
                })?;
            }
        }
        Ok(())
    }

    /// The store's options.
    pub fn store_options(&self) -> argus_logs::store::StoreOptions {
        use argus_logs::store::Fsync;
        argus_logs::store::StoreOptions {
            retention: positive(self.retention),
            max_bytes: self.retention_size.map_or(0, |b| b.0),
            fsync: match self.wal_fsync {
                WalFsync::Always => Fsync::Always,
                WalFsync::Interval(d) => Fsync::Interval(positive(d)),
                // The log WAL has no "never": its bytes reach the kernel before the answer.
                WalFsync::Never => Fsync::Interval(Duration::from_secs(60)),
            },
            head_max_bytes: usize::try_from(self.flush_size.0).unwrap_or(usize::MAX),
            head_max_age: positive(self.flush_age),
            max_future: positive(self.max_future),
            max_read_lines: self.max_query_lines,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_bad_values_are_named() {
        let c: LogsConfig = serde_saphyr::from_str(
            "retention: 2d\nretention_size: 1GiB\nwal_fsync: always\nsyslog:\n  udp: 127.0.0.1:1514\n",
        )
        .unwrap();
        assert_eq!(c.retention, PromDuration(2 * 86_400_000));
        assert_eq!(c.store_options().max_bytes, 1 << 30);
        assert_eq!(c.store_options().fsync, argus_logs::store::Fsync::Always);
        assert!(c.validate().is_ok());
        let bad = LogsConfig {
            syslog: SyslogConfig {
                tcp: Some("localhost".into()),
                udp: None,
            },
            ..LogsConfig::default()
        };
        assert!(bad.validate().unwrap_err().0.contains("logs.syslog.tcp"));
        assert!(serde_saphyr::from_str::<LogsConfig>("retension: 2d\n").is_err());
    }
}
