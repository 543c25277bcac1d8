//! `alerting.alertmanagers` entries, as in Prometheus's configuration:
//! where the Alertmanagers are (static targets, file, DNS, HTTP and
//! Kubernetes discovery), how to
//! reach them (scheme, path prefix, timeout, HTTP client settings), and the
//! relabeling of targets and alerts.

use argus_ingest::relabel::RelabelConfig;
use argus_ingest::scrape::discovery;
use argus_ingest::scrape::{
    Authorization, BasicAuth, DnsSdConfig, FileSdConfig, HttpClientConfig, HttpSdConfig,
    KubernetesSdConfig, PromDuration, TargetGroup, TlsConfig,
};
use serde::Deserialize;
use std::time::Duration;

fn default_timeout() -> PromDuration {
    PromDuration(Duration::from_secs(10))
}

fn default_true() -> bool {
    true
}

fn default_scheme() -> String {
    "http".to_string()
}

fn default_api_version() -> String {
    "v2".to_string()
}

/// One `alerting.alertmanagers` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// `host:port` targets.
    #[serde(default)]
    pub static_configs: Vec<TargetGroup>,
    /// Targets read from files (JSON or YAML target groups), re-read every
    /// `refresh_interval`.
    #[serde(default)]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// `http` or `https`. Default `http`.
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// Prefixed to `/api/v2/alerts`. Default none.
    #[serde(default)]
    pub path_prefix: String,
    /// Per request. Default `10s`.
    #[serde(default = "default_timeout")]
    pub timeout: PromDuration,
    /// Only `v2` (Alertmanager 0.16 and later; Prometheus 3 dropped `v1`).
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// Relabeling of the discovered targets (`__address__`, `__scheme__`,
    /// `__alerts_path__`); a dropped target gets no alerts.
    #[serde(default)]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Relabeling of the alerts sent to these Alertmanagers only.
    #[serde(default)]
    pub alert_relabel_configs: Vec<RelabelConfig>,
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
    /// Follow redirects. Default true.
    #[serde(default = "default_true")]
    pub follow_redirects: bool,
    /// Allow HTTP/2. Default true.
    #[serde(default = "default_true")]
    pub enable_http2: bool,
    /// Alertmanagers found through DNS (SRV by default, or A/AAAA with a
    /// port), looked up every `refresh_interval`.
    #[serde(default)]
    pub dns_sd_configs: Vec<DnsSdConfig>,
    /// Alertmanagers fetched from an HTTP endpoint every `refresh_interval`.
    #[serde(default)]
    pub http_sd_configs: Vec<HttpSdConfig>,
    /// Alertmanagers found in Kubernetes (typically `role: pod` or
    /// `endpoints` with relabeling), listed every `refresh_interval`.
    #[serde(default)]
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    /// Not supported: refused with the reason.
    #[serde(default)]
    pub consul_sd_configs: Option<serde::de::IgnoredAny>,
    /// Not supported: refused with the reason.
    #[serde(default)]
    pub ec2_sd_configs: Option<serde::de::IgnoredAny>,
    /// Not supported: refused with the reason.
    #[serde(default)]
    pub azure_sd_configs: Option<serde::de::IgnoredAny>,
    /// Not supported: refused with the reason.
    #[serde(default)]
    pub gce_sd_configs: Option<serde::de::IgnoredAny>,
    /// Not supported: refused with the reason.
    #[serde(default)]
    pub docker_sd_configs: Option<serde::de::IgnoredAny>,
    /// Not supported: refused with the reason.
    #[serde(default)]
    pub sigv4: Option<serde::de::IgnoredAny>,
    /// Not supported: refused with the reason.
    #[serde(default)]
    pub oauth2: Option<serde::de::IgnoredAny>,
}

/// Why an `alerting.alertmanagers` entry cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct ForwardConfigError {
    /// Where: `alerting.alertmanagers[0]`, `alerting.alert_relabel_configs[1]`.
    pub key: String,
    /// What is wrong, naming the key within the entry.
    pub reason: String,
}

impl AlertmanagerConfig {
    /// Whether the entry has discoveries that need the network (DNS, HTTP,
    /// Kubernetes), run by the forwarder's discovery task.
    pub(crate) fn discovers(&self) -> bool {
        !self.dns_sd_configs.is_empty()
            || !self.http_sd_configs.is_empty()
            || !self.kubernetes_sd_configs.is_empty()
    }

    /// The shortest `refresh_interval` of those discoveries.
    pub(crate) fn discovery_interval(&self) -> Option<Duration> {
        self.dns_sd_configs
            .iter()
            .map(|d| d.refresh_interval.0)
            .chain(self.http_sd_configs.iter().map(|d| d.refresh_interval.0))
            .chain(
                self.kubernetes_sd_configs
                    .iter()
                    .map(|d| d.refresh_interval.0),
            )
            .min()
    }

    /// Runs the entry's network discoveries once. A discovery that fails
    /// keeps its part of `last` (the previous result, by position), so an
    /// unreachable DNS server or API server does not drop every target.
    pub(crate) async fn discover(&self, last: &[Vec<TargetGroup>]) -> Vec<Vec<TargetGroup>> {
        let mut out = Vec::new();
        let keep = |i: usize| last.get(i).cloned().unwrap_or_default();
        for sd in &self.dns_sd_configs {
            out.push(discovery::dns_groups(sd).await);
        }
        for sd in &self.http_sd_configs {
            out.push(discovery::http_groups(sd).await);
        }
        for sd in &self.kubernetes_sd_configs {
            out.push(discovery::kubernetes_groups(sd).await);
        }
        out.into_iter()
            .enumerate()
            .map(|(i, r)| match r {
                Ok(g) => g,
                Err(e) => {
                    tracing::warn!(error = %e, "Alertmanager discovery failed; its last targets are kept.");
                    keep(i)
                }
            })
            .collect()
    }

    /// A config sending to the `host:port` targets, with every default.
    ///
    /// ```
    /// let c = argus_forward::AlertmanagerConfig::new_static(&["127.0.0.1:9093"]);
    /// assert_eq!(c.api_version, "v2");
    /// ```
    pub fn new_static(targets: &[&str]) -> AlertmanagerConfig {
        AlertmanagerConfig {
            static_configs: vec![TargetGroup {
                targets: targets.iter().map(|t| t.to_string()).collect(),
                labels: Default::default(),
            }],
            file_sd_configs: Vec::new(),
            scheme: default_scheme(),
            path_prefix: String::new(),
            timeout: default_timeout(),
            api_version: default_api_version(),
            relabel_configs: Vec::new(),
            alert_relabel_configs: Vec::new(),
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
            dns_sd_configs: Vec::new(),
            http_sd_configs: Vec::new(),
            kubernetes_sd_configs: Vec::new(),
            consul_sd_configs: None,
            ec2_sd_configs: None,
            azure_sd_configs: None,
            gce_sd_configs: None,
            docker_sd_configs: None,
            sigv4: None,
            oauth2: None,
        }
    }

    /// The client settings of the requests to these Alertmanagers.
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
            enable_compression: true,
        }
    }

    /// Checks the entry and builds its HTTP client (reading the TLS files).
    pub fn client(&self, index: usize) -> Result<reqwest::Client, ForwardConfigError> {
        let err = |reason: String| ForwardConfigError {
            key: format!("alerting.alertmanagers[{index}]"),
            reason,
        };
        let refused = [
            ("consul_sd_configs", self.consul_sd_configs.is_some()),
            ("ec2_sd_configs", self.ec2_sd_configs.is_some()),
            ("azure_sd_configs", self.azure_sd_configs.is_some()),
            ("gce_sd_configs", self.gce_sd_configs.is_some()),
            ("docker_sd_configs", self.docker_sd_configs.is_some()),
            ("sigv4", self.sigv4.is_some()),
            ("oauth2", self.oauth2.is_some()),
        ];
        if let Some((key, _)) = refused.iter().find(|(_, set)| *set) {
            let why = if key.ends_with("_sd_configs") {
                "this discovery is not implemented for Alertmanagers; use static_configs, file_sd_configs, dns_sd_configs, http_sd_configs or kubernetes_sd_configs"
            } else {
                "this authentication is not implemented; use basic_auth, authorization or tls_config"
            };
            return Err(err(format!("{key}: {why}")));
        }
        if self.api_version != "v2" {
            return Err(err(format!(
                "api_version {:?} is not supported: only v2 (Alertmanager 0.16 and later)",
                self.api_version
            )));
        }
        if self.scheme != "http" && self.scheme != "https" {
            return Err(err(format!(
                "scheme {:?} must be http or https",
                self.scheme
            )));
        }
        if self.timeout.0.is_zero() {
            return Err(err("timeout must be positive".into()));
        }
        if !self.path_prefix.is_empty() && !self.path_prefix.starts_with('/') {
            return Err(err(format!(
                "path_prefix {:?} must start with /",
                self.path_prefix
            )));
        }
        for (i, sd) in self.dns_sd_configs.iter().enumerate() {
            discovery::check_dns(sd).map_err(|e| err(format!("dns_sd_configs[{i}]: {e}")))?;
        }
        for (i, sd) in self.http_sd_configs.iter().enumerate() {
            discovery::check_http(sd).map_err(|e| err(format!("http_sd_configs[{i}]: {e}")))?;
        }
        for (i, sd) in self.kubernetes_sd_configs.iter().enumerate() {
            discovery::check_kubernetes(sd)
                .map_err(|e| err(format!("kubernetes_sd_configs[{i}]: {e}")))?;
        }
        for (key, list) in [
            ("relabel_configs", &self.relabel_configs),
            ("alert_relabel_configs", &self.alert_relabel_configs),
        ] {
            for (i, r) in list.iter().enumerate() {
                r.validate().map_err(|e| err(format!("{key}[{i}]: {e}")))?;
            }
        }
        let http = self.http_client_config();
        http.validate().map_err(|e| err(e.to_string()))?;
        http.build_client().map_err(|e| err(e.to_string()))
    }
}

/// Checks every entry and the shared `alert_relabel_configs`, building the
/// clients. The error names the entry and the key.
pub fn validate(
    entries: &[AlertmanagerConfig],
    alert_relabel: &[RelabelConfig],
) -> Result<Vec<reqwest::Client>, ForwardConfigError> {
    for (i, r) in alert_relabel.iter().enumerate() {
        r.validate().map_err(|e| ForwardConfigError {
            key: format!("alerting.alert_relabel_configs[{i}]"),
            reason: e.to_string(),
        })?;
    }
    entries
        .iter()
        .enumerate()
        .map(|(i, c)| c.client(i))
        .collect()
}
