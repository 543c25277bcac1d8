//! The `limits:` section: bounds on what HTTP clients may send, and how much
//! ingest work runs at once.

use super::ByteSize;
use argus_model::PromDuration;
use serde::Deserialize;

/// `limits:` section.
///
/// ```yaml
/// limits:
///   max_request_body: 32MiB
///   max_concurrent_writes: 8      # default: 2 x CPU cores, at least 4
///   write_queue_timeout: 10s
///   max_labels_per_series: 64
///   max_label_name_length: 256
///   max_label_value_length: 16KiB
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest accepted request body, compressed. Default `32MiB`.
    pub max_request_body: ByteSize,
    /// Most write requests (remote_write, text import, JSON push together)
    /// decoded and committed at once; more wait in a queue. Default: twice
    /// the CPU cores available, at least 4 (VictoriaMetrics'
    /// `-maxConcurrentInserts` default is also 2 x cores): ingest is CPU
    /// bound, and more parallel writes only add memory and latency. Queries
    /// have their own budget (`query.max_concurrent`).
    pub max_concurrent_writes: Option<usize>,
    /// How long a write may wait in that queue. Past it the write is
    /// refused with HTTP 503 and `Retry-After` (this timeout in whole
    /// seconds, at least 1), and nothing is stored, so
    /// the sender backs off and retries instead of timing out while still
    /// adding load. Default `10s`, well below Prometheus's 30 s
    /// remote_write timeout. `0s` refuses a write at once when all slots
    /// are busy.
    pub write_queue_timeout: PromDuration,
    /// Most labels of one series, the metric name included; a series with
    /// more is refused (HTTP 400 for its samples, the rest of the request
    /// is kept). Default `64`: Mimir's default is 30 and real exporters stay
    /// well under 40; each label costs index memory in every series.
    pub max_labels_per_series: usize,
    /// Longest label name in bytes, enforced like `max_labels_per_series`.
    /// Default `256`, as VictoriaMetrics.
    pub max_label_name_length: ByteSize,
    /// Longest label value (the metric name included) in bytes, enforced
    /// like `max_labels_per_series`, and for the labels of alerts posted to
    /// `/api/v2/alerts` (at its default). Default `16KiB`: VictoriaMetrics
    /// cuts values at 4 KiB, but Prometheus has no limit and some exporters
    /// put SQL text or JSON into info-style labels; 16 KiB keeps those while
    /// refusing the megabyte values that bloat the index and the WAL.
    pub max_label_value_length: ByteSize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let l = argus_tsdb::LabelLimits::default();
        LimitsConfig {
            max_request_body: ByteSize(32 << 20),
            max_concurrent_writes: None,
            write_queue_timeout: PromDuration::from_secs(10),
            max_labels_per_series: l.max_labels,
            max_label_name_length: ByteSize(l.max_name_bytes as u64),
            max_label_value_length: ByteSize(l.max_value_bytes as u64),
        }
    }
}

impl LimitsConfig {
    /// `max_concurrent_writes` with its default filled in.
    pub fn max_concurrent_writes(&self) -> usize {
        self.max_concurrent_writes.unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            (2 * cores).max(4)
        })
    }

    /// The write gate these limits ask for: `max_concurrent_writes` slots,
    /// each request waiting at most `write_queue_timeout` for one.
    pub fn write_gate(&self) -> argus_web::WriteGate {
        let ms = u64::try_from(self.write_queue_timeout.as_millis()).unwrap_or(0);
        argus_web::WriteGate::new(
            self.max_concurrent_writes(),
            std::time::Duration::from_millis(ms),
        )
    }

    /// The store's limits on new series' label sets.
    pub fn label_limits(&self) -> argus_tsdb::LabelLimits {
        let clamp = |b: ByteSize| usize::try_from(b.0).unwrap_or(usize::MAX);
        argus_tsdb::LabelLimits {
            max_labels: self.max_labels_per_series,
            max_name_bytes: clamp(self.max_label_name_length),
            max_value_bytes: clamp(self.max_label_value_length),
        }
    }

    /// Checks the values the types cannot.
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.max_concurrent_writes == Some(0) {
            return Err("limits.max_concurrent_writes must be at least 1".into());
        }
        if self.write_queue_timeout.as_millis() < 0 {
            return Err("limits.write_queue_timeout must not be negative".into());
        }
        if self.max_labels_per_series == 0 {
            return Err("limits.max_labels_per_series must be at least 1".into());
        }
        if self.max_label_name_length.0 == 0 || self.max_label_value_length.0 == 0 {
            return Err(
                "limits.max_label_name_length and limits.max_label_value_length must be at least 1 byte"
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn limits_parse_and_default() {
        let c = Config::from_yaml_str("{}\n", "x.yml").unwrap();
        assert!(c.limits.max_concurrent_writes() >= 4);
        assert_eq!(c.limits.write_queue_timeout.as_millis(), 10_000);
        assert_eq!(
            c.tsdb_options().label_limits,
            argus_tsdb::LabelLimits::default()
        );
        let c = Config::from_yaml_str(
            "limits:\n  max_concurrent_writes: 1\n  write_queue_timeout: 100ms\n  max_labels_per_series: 10\n  max_label_value_length: 4KiB\n",
            "x.yml",
        )
        .unwrap();
        assert_eq!(c.limits.max_concurrent_writes(), 1);
        assert_eq!(c.tsdb_options().label_limits.max_value_bytes, 4096);
        assert_eq!(c.tsdb_options().label_limits.max_labels, 10);
        let e =
            Config::from_yaml_str("limits:\n  max_concurrent_writes: 0\n", "x.yml").unwrap_err();
        assert!(
            e.to_string().contains("limits.max_concurrent_writes"),
            "{e}"
        );
    }
}
