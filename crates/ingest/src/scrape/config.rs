//! Scrape configuration: the Prometheus `scrape_configs` subset, and file-based
//! discovery files.

use super::dns_sd::DnsSdConfig;
use super::http::{Authorization, BasicAuth, HttpClientConfig, TlsConfig};
use super::http_sd::HttpSdConfig;
use super::kubernetes::KubernetesSdConfig;
use crate::relabel::{RelabelConfig, RelabelError};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A Prometheus duration: `[0-9]+(ms|s|m|h|d|w|y)` units in decreasing order,
/// for example `15s`, `1m30s`, `250ms`, or `0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct PromDuration(pub Duration);

impl PromDuration {
    /// Parses the Prometheus duration syntax (shared with the rest of Argus:
    /// [`argus_model::parse_duration`]).
    pub fn parse(s: &str) -> Result<PromDuration, String> {
        let ms = argus_model::parse_duration(s).map_err(|e| e.to_string())?;
        Ok(PromDuration(Duration::from_millis(ms.max(0) as u64)))
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PromDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Plain HTTP (the default).
    #[default]
    Http,
    /// HTTPS (rustls, web PKI roots).
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// One group of targets sharing labels, in `static_configs` and in file_sd files.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TargetGroup {
    /// `host:port` addresses.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels added to every target of the group.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// `file_sd_configs`: target groups read from JSON or YAML files.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    /// Paths; the last path component may hold `*` and `?` wildcards. Files
    /// ending in `.json` are JSON, `.yml`/`.yaml` YAML.
    pub files: Vec<String>,
    /// How often the files are re-read. Default `5m`.
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
}

fn default_refresh() -> PromDuration {
    PromDuration(Duration::from_secs(300))
}

fn default_metrics_path() -> String {
    "/metrics".to_string()
}

fn default_true() -> bool {
    true
}

/// One `scrape_configs` entry. Unknown keys are refused.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    /// The `job` label of every target. Required, unique.
    pub job_name: String,
    /// How often to scrape. Default `1m` (see [`ScrapeConfig::interval`]).
    #[serde(default)]
    pub scrape_interval: Option<PromDuration>,
    /// Per-scrape timeout. Default `10s`, and never more than the interval.
    #[serde(default)]
    pub scrape_timeout: Option<PromDuration>,
    /// The HTTP path. Default `/metrics`.
    #[serde(default = "default_metrics_path")]
    pub metrics_path: String,
    /// `http` (default) or `https`.
    #[serde(default)]
    pub scheme: Scheme,
    /// URL query parameters. Default none.
    #[serde(default)]
    pub params: BTreeMap<String, Vec<String>>,
    /// Keep the target's own labels on conflict (default false: they become `exported_<name>`).
    #[serde(default)]
    pub honor_labels: bool,
    /// Use timestamps the target exposes (default true).
    #[serde(default = "default_true")]
    pub honor_timestamps: bool,
    /// Fixed target groups.
    #[serde(default)]
    pub static_configs: Vec<TargetGroup>,
    /// File-based discovery.
    #[serde(default)]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// HTTP-based discovery.
    #[serde(default)]
    pub http_sd_configs: Vec<HttpSdConfig>,
    /// DNS-based discovery (A and AAAA records).
    #[serde(default)]
    pub dns_sd_configs: Vec<DnsSdConfig>,
    /// Kubernetes API discovery.
    #[serde(default)]
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    /// Relabeling of target labels before scraping.
    #[serde(default)]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Relabeling of scraped samples before storing.
    #[serde(default)]
    pub metric_relabel_configs: Vec<RelabelConfig>,
    /// Fail the scrape (`up` 0) when more samples than this remain after
    /// metric relabeling. 0 (default): no limit.
    #[serde(default)]
    pub sample_limit: u64,
    /// Fail the scrape when the uncompressed body is larger than this
    /// (`10MB`, `512KiB`, bytes). 0 (default): Argus's own cap only.
    #[serde(default)]
    pub body_size_limit: ByteSize,
    /// Fail the scrape when a sample has more labels than this. 0: no limit.
    #[serde(default)]
    pub label_limit: u64,
    /// Fail the scrape when a label name is longer than this. 0: no limit.
    #[serde(default)]
    pub label_name_length_limit: u64,
    /// Fail the scrape when a label value is longer than this. 0: no limit.
    #[serde(default)]
    pub label_value_length_limit: u64,
    /// HTTP basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// An `Authorization` header (type default `Bearer`).
    #[serde(default)]
    pub authorization: Option<Authorization>,
    /// Legacy bearer token.
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// Legacy bearer token file.
    #[serde(default)]
    pub bearer_token_file: Option<String>,
    /// TLS settings.
    #[serde(default)]
    pub tls_config: Option<TlsConfig>,
    /// An HTTP proxy.
    #[serde(default)]
    pub proxy_url: Option<String>,
    /// Hosts not sent through `proxy_url`.
    #[serde(default)]
    pub no_proxy: Option<String>,
    /// Use the proxy environment variables. Default false.
    #[serde(default)]
    pub proxy_from_environment: bool,
    /// Follow HTTP redirects. Default true.
    #[serde(default = "default_true")]
    pub follow_redirects: bool,
    /// Allow HTTP/2. Default true.
    #[serde(default = "default_true")]
    pub enable_http2: bool,
    /// Ask for gzip-compressed bodies. Default true.
    #[serde(default = "default_true")]
    pub enable_compression: bool,
    /// Keys Prometheus knows that change nothing in Argus; accepted, and
    /// logged as ignored by the configuration check.
    #[serde(default, rename = "scrape_protocols")]
    pub ignored_scrape_protocols: Option<serde::de::IgnoredAny>,
    /// See `ignored_scrape_protocols`.
    #[serde(default, rename = "fallback_scrape_protocol")]
    pub ignored_fallback_scrape_protocol: Option<serde::de::IgnoredAny>,
    /// See `ignored_scrape_protocols`.
    #[serde(default, rename = "track_timestamps_staleness")]
    pub ignored_track_timestamps_staleness: Option<serde::de::IgnoredAny>,
    /// See `ignored_scrape_protocols`.
    #[serde(default, rename = "scrape_classic_histograms")]
    pub ignored_scrape_classic_histograms: Option<serde::de::IgnoredAny>,
    /// See `ignored_scrape_protocols`.
    #[serde(default, rename = "always_scrape_classic_histograms")]
    pub ignored_always_scrape_classic_histograms: Option<serde::de::IgnoredAny>,
    /// See `ignored_scrape_protocols`.
    #[serde(default, rename = "keep_dropped_targets")]
    pub ignored_keep_dropped_targets: Option<serde::de::IgnoredAny>,
    /// See `ignored_scrape_protocols`.
    #[serde(default, rename = "metric_name_validation_scheme")]
    pub ignored_metric_name_validation_scheme: Option<serde::de::IgnoredAny>,
    /// See `ignored_scrape_protocols`.
    #[serde(default, rename = "metric_name_escaping_scheme")]
    pub ignored_metric_name_escaping_scheme: Option<serde::de::IgnoredAny>,
    /// See `ignored_scrape_protocols`.
    #[serde(default, rename = "scrape_failure_log_file")]
    pub ignored_scrape_failure_log_file: Option<serde::de::IgnoredAny>,
    /// See `ignored_scrape_protocols`.
    #[serde(default, rename = "target_limit")]
    pub ignored_target_limit: Option<serde::de::IgnoredAny>,
    /// See `ignored_scrape_protocols`.
    #[serde(default, rename = "scrape_native_histograms")]
    pub ignored_scrape_native_histograms: Option<serde::de::IgnoredAny>,
    /// See `ignored_scrape_protocols`.
    #[serde(default, rename = "convert_classic_histograms_to_nhcb")]
    pub ignored_convert_classic_histograms_to_nhcb: Option<serde::de::IgnoredAny>,
    /// See `ignored_scrape_protocols`.
    #[serde(default, rename = "native_histogram_bucket_limit")]
    pub ignored_native_histogram_bucket_limit: Option<serde::de::IgnoredAny>,
    /// See `ignored_scrape_protocols`.
    #[serde(default, rename = "native_histogram_min_bucket_factor")]
    pub ignored_native_histogram_min_bucket_factor: Option<serde::de::IgnoredAny>,
}

pub use argus_model::size::ByteSize;

/// A scrape configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScrapeConfigError {
    /// Two scrape configs share a job name.
    #[error("duplicate job_name {0:?} in scrape_configs")]
    DuplicateJob(String),
    /// A field has a bad value.
    #[error("scrape config {job:?}: {reason}")]
    Invalid {
        /// The job.
        job: String,
        /// What is wrong.
        reason: String,
    },
    /// A relabel step is invalid.
    #[error("scrape config {job:?}: {source}")]
    Relabel {
        /// The job.
        job: String,
        /// The relabel error.
        source: RelabelError,
    },
    /// `apply` was called outside a tokio runtime.
    #[error("the scrape manager must run inside a tokio runtime")]
    NoRuntime,
}

impl ScrapeConfig {
    /// A config with Prometheus defaults for `job_name`, scraping `targets`.
    pub fn new_static(job_name: &str, targets: &[&str]) -> ScrapeConfig {
        ScrapeConfig {
            job_name: job_name.to_string(),
            scrape_interval: None,
            scrape_timeout: None,
            metrics_path: default_metrics_path(),
            scheme: Scheme::Http,
            params: BTreeMap::new(),
            honor_labels: false,
            honor_timestamps: true,
            static_configs: vec![TargetGroup {
                targets: targets.iter().map(|t| t.to_string()).collect(),
                labels: BTreeMap::new(),
            }],
            file_sd_configs: Vec::new(),
            http_sd_configs: Vec::new(),
            dns_sd_configs: Vec::new(),
            kubernetes_sd_configs: Vec::new(),
            relabel_configs: Vec::new(),
            metric_relabel_configs: Vec::new(),
            sample_limit: 0,
            body_size_limit: ByteSize(0),
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            basic_auth: None,
            authorization: None,
            bearer_token: None,
            bearer_token_file: None,
            tls_config: None,
            proxy_url: None,
            no_proxy: None,
            proxy_from_environment: false,
            follow_redirects: true,
            enable_http2: true,
            enable_compression: true,
            ignored_scrape_protocols: None,
            ignored_fallback_scrape_protocol: None,
            ignored_track_timestamps_staleness: None,
            ignored_scrape_classic_histograms: None,
            ignored_always_scrape_classic_histograms: None,
            ignored_keep_dropped_targets: None,
            ignored_metric_name_validation_scheme: None,
            ignored_metric_name_escaping_scheme: None,
            ignored_scrape_failure_log_file: None,
            ignored_target_limit: None,
            ignored_scrape_native_histograms: None,
            ignored_convert_classic_histograms_to_nhcb: None,
            ignored_native_histogram_bucket_limit: None,
            ignored_native_histogram_min_bucket_factor: None,
        }
    }

    /// The job's HTTP client settings.
    pub fn http_client_config(&self) -> HttpClientConfig {
        HttpClientConfig {
            basic_auth: self.basic_auth.clone(),
            authorization: self.authorization.clone(),
            bearer_token: self.bearer_token.clone(),
            bearer_token_file: self.bearer_token_file.clone(),
            tls_config: self.tls_config.clone(),
            proxy_url: self.proxy_url.clone(),
            no_proxy: self.no_proxy.clone(),
            proxy_from_environment: self.proxy_from_environment,
            follow_redirects: self.follow_redirects,
            enable_http2: self.enable_http2,
            enable_compression: self.enable_compression,
        }
    }

    /// The scrape interval (default 1m).
    pub fn interval(&self) -> Duration {
        self.scrape_interval
            .map_or(Duration::from_secs(60), |d| d.0)
    }

    /// The scrape timeout (default 10s), capped at the interval.
    pub fn timeout(&self) -> Duration {
        self.scrape_timeout
            .map_or(Duration::from_secs(10), |d| d.0)
            .min(self.interval())
    }

    /// Checks field values and relabel steps.
    pub fn validate(&self) -> Result<(), ScrapeConfigError> {
        let bad = |reason: &str| {
            Err(ScrapeConfigError::Invalid {
                job: self.job_name.clone(),
                reason: reason.to_string(),
            })
        };
        if self.job_name.is_empty() {
            return bad("job_name must not be empty");
        }
        if self.interval().is_zero() {
            return bad("scrape_interval must be greater than 0");
        }
        if let Some(t) = self.scrape_timeout {
            if t.0 > self.interval() {
                return bad("scrape_timeout must not be greater than scrape_interval");
            }
        }
        if !self.metrics_path.starts_with('/') {
            return bad("metrics_path must start with '/'");
        }
        if let Err(e) = self.http_client_config().validate() {
            return bad(&e.to_string());
        }
        for sd in &self.http_sd_configs {
            if let Err(e) = sd.validate() {
                return bad(&e);
            }
        }
        for sd in &self.dns_sd_configs {
            if let Err(e) = sd.validate() {
                return bad(&e);
            }
        }
        for sd in &self.kubernetes_sd_configs {
            if let Err(e) = sd.validate() {
                return bad(&e);
            }
        }
        for rc in self
            .relabel_configs
            .iter()
            .chain(&self.metric_relabel_configs)
        {
            rc.validate().map_err(|source| ScrapeConfigError::Relabel {
                job: self.job_name.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

/// Matches `name` against a pattern with `*` and `?` wildcards.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The files a file_sd pattern names now, sorted.
pub fn expand_pattern(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let Some(last) = path.file_name().and_then(|f| f.to_str()) else {
        return Vec::new();
    };
    if !last.contains(['*', '?']) {
        return if path.is_file() {
            vec![path.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| wildcard_match(last, n))
            })
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

/// Reads one file_sd file: a JSON or YAML list of target groups.
pub fn read_sd_file(path: &Path) -> Result<Vec<TargetGroup>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let groups: Vec<TargetGroup> = match ext {
        "json" => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?,
        "yml" | "yaml" => {
            serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        _ => {
            return Err(format!(
                "{}: file_sd files must end in .json, .yml or .yaml",
                path.display()
            ))
        }
    };
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ms = |s: &str| PromDuration::parse(s).map(|d| d.0.as_millis());
        assert_eq!(ms("15s"), Ok(15_000));
        assert_eq!(ms("1m30s"), Ok(90_000));
        assert_eq!(ms("250ms"), Ok(250));
        assert_eq!(ms("1h1ms"), Ok(3_600_001));
        assert_eq!(ms("0"), Ok(0));
        for bad in ["", "s", "15", "1s1m", "1x", "-1s", "1.5s"] {
            assert!(ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.json", "a.json"));
        assert!(wildcard_match("t?.yml", "t1.yml"));
        assert!(!wildcard_match("*.json", "a.yml"));
        assert!(wildcard_match("*", ""));
    }

    #[test]
    fn yaml_config_with_unknown_key_is_refused() {
        let ok =
            "job_name: node\nscrape_interval: 15s\nstatic_configs:\n  - targets: ['a:1']\n    labels: {env: prod}\n";
        let c: ScrapeConfig = serde_saphyr::from_str(ok).unwrap();
        assert_eq!(c.interval(), Duration::from_secs(15));
        assert_eq!(c.timeout(), Duration::from_secs(10));
        assert!(c.validate().is_ok());
        let bad = "job_name: node\nscrape_intervall: 15s\n";
        let e = serde_saphyr::from_str::<ScrapeConfig>(bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("scrape_intervall"), "{e}");
    }
}
