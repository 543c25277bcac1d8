//! One `remote_write` entry of `prometheus.yml`, with Prometheus's keys and
//! defaults. Unknown keys are refused; keys Argus does not implement are
//! refused by name when they would change what is sent.

use crate::relabel::RelabelConfig;
use crate::scrape::http::{Authorization, BasicAuth, HttpClientConfig, TlsConfig};
use argus_model::PromDuration;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::collections::BTreeMap;

fn default_true() -> bool {
    true
}

fn default_timeout() -> PromDuration {
    PromDuration::from_secs(30)
}

/// `queue_config`: how samples are batched, sent in parallel and retried.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Samples read ahead of the sends, per shard. Default 10000.
    pub capacity: usize,
    /// Most parallel requests (shards). Default 50.
    pub max_shards: usize,
    /// Fewest parallel requests. Default 1.
    pub min_shards: usize,
    /// Most samples in one request. Default 2000.
    pub max_samples_per_send: usize,
    /// Longest a sample waits for a batch to fill. Default `5s`.
    pub batch_send_deadline: PromDuration,
    /// First retry delay; doubled per retry. Default `30ms`.
    pub min_backoff: PromDuration,
    /// Longest retry delay. Default `5s`.
    pub max_backoff: PromDuration,
    /// Retry a request answered with 429 Too Many Requests (else drop it).
    /// Default true.
    pub retry_on_http_429: bool,
    /// Samples older than this when read are dropped (counted). Default `0`: none.
    pub sample_age_limit: PromDuration,
    /// Accepted and ignored: Argus retries without a limit.
    #[serde(rename = "max_retries")]
    pub ignored_max_retries: Option<IgnoredAny>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            max_shards: 50,
            min_shards: 1,
            max_samples_per_send: 2_000,
            batch_send_deadline: PromDuration::from_secs(5),
            min_backoff: PromDuration(30),
            max_backoff: PromDuration::from_secs(5),
            retry_on_http_429: true,
            sample_age_limit: PromDuration(0),
            ignored_max_retries: None,
        }
    }
}

/// One `remote_write` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteWriteConfig {
    /// The receiver's URL (`http` or `https`). Required.
    pub url: String,
    /// A name unique among the entries, used in logs, self-metrics and the
    /// queue's directory. Default: a hash of the entry.
    #[serde(default)]
    pub name: Option<String>,
    /// Timeout of one request. Default `30s`.
    #[serde(default = "default_timeout")]
    pub remote_timeout: PromDuration,
    /// Extra HTTP headers on every request (not the protocol's own).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Relabeling of every series before it is sent.
    #[serde(default)]
    pub write_relabel_configs: Vec<RelabelConfig>,
    /// HTTP basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// An `Authorization` header.
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
    /// Batching, parallelism and retries.
    #[serde(default)]
    pub queue_config: QueueConfig,
    /// Metric metadata is not sent; accepted with a warning.
    #[serde(default)]
    pub metadata_config: Option<IgnoredAny>,
    /// Exemplars are not stored, so not sent: `true` is refused.
    #[serde(default)]
    pub send_exemplars: bool,
    /// Native histograms are not stored, so not sent: `true` is refused.
    #[serde(default)]
    pub send_native_histograms: bool,
    /// Only `prometheus.WriteRequest` (remote_write 1.0) is sent.
    #[serde(default)]
    pub protobuf_message: Option<String>,
    /// Accepted, ignored: the system resolver picks the address.
    #[serde(default, rename = "round_robin_dns")]
    pub ignored_round_robin_dns: Option<IgnoredAny>,
    /// Refused by name (see [`RemoteWriteConfig::validate`]).
    #[serde(default)]
    pub sigv4: Option<IgnoredAny>,
    /// Refused by name.
    #[serde(default)]
    pub azuread: Option<IgnoredAny>,
    /// Refused by name.
    #[serde(default)]
    pub oauth2: Option<IgnoredAny>,
    /// Refused by name.
    #[serde(default)]
    pub google_iam: Option<IgnoredAny>,
}

/// A `remote_write` entry that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteConfigError {
    /// A key Argus does not implement is set.
    #[error("remote_write {remote:?}: {key} is not supported: {reason}")]
    Unsupported {
        /// The entry's name.
        remote: String,
        /// The key.
        key: &'static str,
        /// Why, and what to do instead.
        reason: &'static str,
    },
    /// A value is out of range or malformed.
    #[error("remote_write {remote:?}: {message}")]
    Invalid {
        /// The entry's name.
        remote: String,
        /// What is wrong.
        message: String,
    },
}

impl RemoteWriteConfig {
    /// An entry with Prometheus's defaults sending to `url`.
    pub fn new(url: &str) -> RemoteWriteConfig {
        RemoteWriteConfig {
            url: url.to_string(),
            name: None,
            remote_timeout: default_timeout(),
            headers: BTreeMap::new(),
            write_relabel_configs: Vec::new(),
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
            queue_config: QueueConfig::default(),
            metadata_config: None,
            send_exemplars: false,
            send_native_histograms: false,
            protobuf_message: None,
            ignored_round_robin_dns: None,
            sigv4: None,
            azuread: None,
            oauth2: None,
            google_iam: None,
        }
    }

    /// The entry's name: `name`, or a hash of the URL and the settings that
    /// change what is sent (as Prometheus names unnamed queues).
    pub fn queue_name(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => {
                let key = format!(
                    "{}|{:?}|{:?}",
                    self.url, self.write_relabel_configs, self.headers
                );
                format!(
                    "{:012x}",
                    argus_model::hash_pairs([("url", key.as_str())].into_iter()) & 0xffff_ffff_ffff
                )
            }
        }
    }

    /// The HTTP client settings, shared with scrape jobs.
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
            // The body is snappy; gzip is never asked for.
            enable_compression: false,
        }
    }

    /// The nested keys that are accepted but do nothing, as warning lines
    /// (the configuration's key table reports `metadata_config` and
    /// `round_robin_dns`).
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.queue_config.ignored_max_retries.is_some() {
            w.push(format!("remote_write {:?}: queue_config.max_retries is accepted but ignored: recoverable errors are retried until they succeed", self.queue_name()));
        }
        w
    }

    /// Checks the entry as Prometheus does, and refuses what Argus cannot do.
    pub fn validate(&self) -> Result<(), RemoteConfigError> {
        let remote = self.queue_name();
        let unsupported = |key, reason| {
            Err(RemoteConfigError::Unsupported {
                remote: remote.clone(),
                key,
                reason,
            })
        };
        let invalid = |message: String| {
            Err(RemoteConfigError::Invalid {
                remote: remote.clone(),
                message,
            })
        };
        if self.sigv4.is_some() {
            return unsupported("sigv4", "AWS signing is not implemented; put a signing proxy in front of the receiver and set proxy_url or url to it");
        }
        if self.azuread.is_some() {
            return unsupported("azuread", "Azure AD authentication is not implemented; use authorization with a token in credentials_file");
        }
        if self.oauth2.is_some() {
            return unsupported("oauth2", "OAuth 2.0 token exchange is not implemented; use authorization with a token in credentials_file");
        }
        if self.google_iam.is_some() {
            return unsupported("google_iam", "Google IAM authentication is not implemented; use authorization with a token in credentials_file");
        }
        if self.send_exemplars {
            return unsupported("send_exemplars", "Argus does not store exemplars");
        }
        if self.send_native_histograms {
            return unsupported(
                "send_native_histograms",
                "Argus stores classic (float) samples only",
            );
        }
        if let Some(m) = self.protobuf_message.as_deref() {
            if m != "prometheus.WriteRequest" {
                return unsupported(
                    "protobuf_message",
                    "only prometheus.WriteRequest (remote_write 1.0) is sent",
                );
            }
        }
        match reqwest::Url::parse(&self.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            Ok(_) => return invalid(format!("url {:?} must be an http or https URL", self.url)),
            Err(e) => return invalid(format!("url {:?}: {e}", self.url)),
        }
        if let Some(n) = &self.name {
            if n.is_empty()
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                || n.starts_with('.')
            {
                return invalid(format!(
                    "name {n:?} must be letters, digits, '_', '-' or '.' (it names a directory)"
                ));
            }
        }
        for h in self.headers.keys() {
            let lower = h.to_ascii_lowercase();
            if matches!(
                lower.as_str(),
                "authorization"
                    | "host"
                    | "content-encoding"
                    | "content-type"
                    | "content-length"
                    | "user-agent"
                    | "x-prometheus-remote-write-version"
                    | "connection"
                    | "keep-alive"
                    | "proxy-authenticate"
                    | "proxy-authorization"
                    | "www-authenticate"
            ) {
                return invalid(format!(
                    "headers: {h} is set by Argus and cannot be overridden"
                ));
            }
            if reqwest::header::HeaderName::from_bytes(h.as_bytes()).is_err() {
                return invalid(format!("headers: {h:?} is not a valid header name"));
            }
        }
        for (h, v) in &self.headers {
            if reqwest::header::HeaderValue::from_str(v).is_err() {
                return invalid(format!(
                    "headers: the value of {h} is not a valid header value"
                ));
            }
        }
        for r in &self.write_relabel_configs {
            if let Err(e) = r.validate() {
                return invalid(format!("write_relabel_configs: {e}"));
            }
        }
        let q = &self.queue_config;
        if q.max_samples_per_send == 0 {
            return invalid("queue_config.max_samples_per_send must be at least 1".into());
        }
        if q.min_shards == 0 || q.max_shards < q.min_shards {
            return invalid(format!(
                "queue_config: need 1 <= min_shards ({}) <= max_shards ({})",
                q.min_shards, q.max_shards
            ));
        }
        if q.capacity < q.max_samples_per_send {
            return invalid(format!(
                "queue_config.capacity ({}) must be at least max_samples_per_send ({})",
                q.capacity, q.max_samples_per_send
            ));
        }
        if q.min_backoff.0 <= 0 || q.max_backoff < q.min_backoff {
            return invalid("queue_config: need 0 < min_backoff <= max_backoff".into());
        }
        if self.remote_timeout.0 <= 0 || q.batch_send_deadline.0 <= 0 {
            return invalid(
                "remote_timeout and queue_config.batch_send_deadline must be positive".into(),
            );
        }
        self.http_client_config()
            .validate()
            .or_else(|e| invalid(e.to_string()))
    }
}

/// Checks a whole `remote_write` list: each entry, and unique names.
pub fn validate_all(list: &[RemoteWriteConfig]) -> Result<(), RemoteConfigError> {
    let mut seen = std::collections::HashSet::new();
    for c in list {
        c.validate()?;
        let n = c.queue_name();
        if !seen.insert(n.clone()) {
            return Err(RemoteConfigError::Invalid {
                remote: n,
                message:
                    "two remote_write entries have the same name (or the same url and settings)"
                        .into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(y: &str) -> RemoteWriteConfig {
        serde_saphyr::from_str(y).unwrap()
    }

    #[test]
    fn defaults_are_prometheus_defaults() {
        let c = parse("url: http://vm:8428/api/v1/write\n");
        assert_eq!(c.remote_timeout, PromDuration::from_secs(30));
        assert_eq!(c.queue_config.max_samples_per_send, 2000);
        assert_eq!(c.queue_config.capacity, 10_000);
        assert_eq!(c.queue_config.max_shards, 50);
        assert_eq!(c.queue_config.min_backoff, PromDuration(30));
        assert!(c.validate().is_ok());
        assert_eq!(c.queue_name().len(), 12);
    }

    #[test]
    fn unsupported_keys_are_refused_by_name() {
        for (y, key) in [
            ("url: http://a/\nsigv4: {region: x}\n", "sigv4"),
            ("url: http://a/\nazuread: {cloud: x}\n", "azuread"),
            ("url: http://a/\noauth2: {client_id: x}\n", "oauth2"),
            ("url: http://a/\nsend_exemplars: true\n", "send_exemplars"),
            (
                "url: http://a/\nsend_native_histograms: true\n",
                "send_native_histograms",
            ),
        ] {
            let e = parse(y).validate().unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
        let ok = parse("url: http://a/\nsend_exemplars: false\nmetadata_config: {send: true}\nqueue_config: {max_retries: 3}\n");
        assert!(ok.validate().is_ok());
        assert_eq!(ok.warnings().len(), 1);
        assert!(serde_saphyr::from_str::<RemoteWriteConfig>("url: http://a/\nbogus: 1\n").is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        let mut c = RemoteWriteConfig::new("ftp://a/");
        assert!(c.validate().is_err());
        c.url = "http://a/".into();
        c.queue_config.min_shards = 0;
        assert!(c.validate().is_err());
        c.queue_config.min_shards = 1;
        c.headers.insert("Content-Type".into(), "x".into());
        assert!(c.validate().is_err());
        c.headers.clear();
        c.name = Some("../x".into());
        assert!(c.validate().is_err());
        let same = [
            RemoteWriteConfig::new("http://a/"),
            RemoteWriteConfig::new("http://a/"),
        ];
        assert!(validate_all(&same).is_err());
    }
}
