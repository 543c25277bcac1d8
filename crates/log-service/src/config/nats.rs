//! `logs.nats:` NATS JetStream subjects read with durable pull consumers.

use argus_model::PromDuration;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One entry of `logs.nats:`: a JetStream stream read through a durable
/// pull consumer. Each message is decoded with `format`, stored, and
/// acknowledged only once its lines are in the WAL; what is not
/// acknowledged is delivered again by the server after `ack_wait`.
///
/// ```yaml
/// - url: nats://127.0.0.1:4222
///   stream: LOGS
///   subjects: [logs.>]
///   create_stream: true
///   consumer: argus
///   format: json_lines
///   labels: {source: bus}
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsSourceConfig {
    /// The NATS server. Default `nats://127.0.0.1:4222`.
    #[serde(default = "default_url")]
    pub url: String,
    /// The JetStream stream's name; it must exist unless `create_stream` is set.
    pub stream: String,
    /// Subjects of the stream to read (the consumer's filter); empty reads
    /// all of the stream. With `create_stream`, the stream's subjects.
    #[serde(default)]
    pub subjects: Vec<String>,
    /// Create the stream on `subjects` when it does not exist. Default false.
    #[serde(default)]
    pub create_stream: bool,
    /// The durable consumer's name; the server remembers what it
    /// acknowledged across restarts of Argus. Default `argus`.
    #[serde(default = "default_consumer")]
    pub consumer: String,
    /// How message bodies are decoded. Default `json_lines`.
    #[serde(default)]
    pub format: NatsFormat,
    /// Labels added to every line (for `cloudevents`, to every event's
    /// labels); a line's own label of the same name wins.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// How long the server waits for an acknowledgement before delivering a
    /// message again. Default `30s`.
    #[serde(default = "default_ack_wait")]
    pub ack_wait: PromDuration,
    /// Most messages delivered and not yet acknowledged. Default `1000`.
    #[serde(default = "default_max_ack_pending")]
    pub max_ack_pending: usize,
    /// Most messages fetched and stored together. Default `500`.
    #[serde(default = "default_batch")]
    pub batch: usize,
}

/// How the messages of a `logs.nats` source are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NatsFormat {
    /// JSON lines, as `/api/v1/logs` takes them.
    #[default]
    JsonLines,
    /// A Loki push body (JSON or snappy protobuf, by the `Content-Type` header).
    Loki,
    /// An OTLP logs request (protobuf or JSON, by the `Content-Type` header).
    Otlp,
    /// Plain text, one line a line.
    Text,
    /// CloudEvents (structured, batch or binary mode with `ce-` headers) or
    /// Kubernetes events, stored as events.
    Cloudevents,
}

impl NatsFormat {
    /// The name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            NatsFormat::JsonLines => "json_lines",
            NatsFormat::Loki => "loki",
            NatsFormat::Otlp => "otlp",
            NatsFormat::Text => "text",
            NatsFormat::Cloudevents => "cloudevents",
        }
    }
}

fn default_url() -> String {
    "nats://127.0.0.1:4222".into()
}

fn default_consumer() -> String {
    "argus".into()
}

fn default_ack_wait() -> PromDuration {
    PromDuration(30_000)
}

fn default_max_ack_pending() -> usize {
    1_000
}

fn default_batch() -> usize {
    500
}

/// A stream or consumer name JetStream accepts: no spaces, dots, `*`, `>`
/// or path separators.
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || ".*>/\\".contains(c))
}

impl NatsSourceConfig {
    /// Checks values that cannot work; `i` is the entry's index.
    pub fn validate(&self, i: usize) -> Result<(), String> {
        let at = format!("logs.nats[{i}]");
        if !self.url.contains("://") && !self.url.contains(':') {
            return Err(format!(
                "{at}.url: {:?} is not a NATS address such as nats://127.0.0.1:4222",
                self.url
            ));
        }
        if !valid_name(&self.stream) {
            return Err(format!("{at}.stream: {:?} is not a JetStream stream name (no spaces, dots, '*', '>' or slashes)", self.stream));
        }
        if !valid_name(&self.consumer) {
            return Err(format!("{at}.consumer: {:?} is not a durable consumer name (no spaces, dots, '*', '>' or slashes)", self.consumer));
        }
        if self.create_stream && self.subjects.is_empty() {
            return Err(format!("{at}: create_stream needs the stream's subjects"));
        }
        if let Some(s) = self
            .subjects
            .iter()
            .find(|s| s.is_empty() || s.contains(' '))
        {
            return Err(format!("{at}.subjects: {s:?} is not a subject"));
        }
        if let Some(k) = self
            .labels
            .keys()
            .find(|k| !argus_model::is_valid_label_name(k))
        {
            return Err(format!("{at}.labels: {k:?} is not a label name"));
        }
        if self.ack_wait.as_millis() < 1_000 {
            return Err(format!("{at}.ack_wait must be at least 1s"));
        }
        if self.max_ack_pending == 0 || self.batch == 0 {
            return Err(format!(
                "{at}.max_ack_pending and {at}.batch must be positive"
            ));
        }
        Ok(())
    }

    /// The name of the source in self-metrics and messages: `stream/consumer`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.stream, self.consumer)
    }
}

/// Checks every entry, and that no two read through the same consumer.
pub fn validate(sources: &[NatsSourceConfig]) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, s) in sources.iter().enumerate() {
        s.validate(i)?;
        if !seen.insert((s.url.clone(), s.name())) {
            return Err(format!(
                "logs.nats[{i}]: the consumer {:?} of stream {:?} is already read by another entry",
                s.consumer, s.stream
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_bad_values_are_named() {
        let v: Vec<NatsSourceConfig> = serde_saphyr::from_str(
            "- stream: LOGS\n  subjects: [logs.>]\n  create_stream: true\n  format: cloudevents\n  labels: {source: bus}\n",
        )
        .unwrap();
        let c = &v[0];
        assert_eq!(c.url, "nats://127.0.0.1:4222");
        assert_eq!(c.consumer, "argus");
        assert_eq!(c.format, NatsFormat::Cloudevents);
        assert_eq!((c.max_ack_pending, c.batch), (1_000, 500));
        assert_eq!(c.ack_wait, PromDuration(30_000));
        assert!(validate(&v).is_ok());
        let mut bad = c.clone();
        bad.stream = "a.b".into();
        assert!(bad.validate(0).unwrap_err().contains("logs.nats[0].stream"));
        let mut bad = c.clone();
        bad.subjects.clear();
        assert!(bad.validate(0).unwrap_err().contains("create_stream"));
        assert!(validate(&[c.clone(), c.clone()])
            .unwrap_err()
            .contains("already read"));
        assert!(
            serde_saphyr::from_str::<Vec<NatsSourceConfig>>("- stream: A\n  formt: text\n")
                .is_err()
        );
        assert!(
            serde_saphyr::from_str::<Vec<NatsSourceConfig>>("- stream: A\n  format: xml\n")
                .is_err()
        );
    }
}
