//! `http_sd_configs`: target groups fetched from an HTTP endpoint, as in
//! Prometheus: a `200` JSON answer (`Content-Type: application/json`) with the
//! file_sd format; targets get `__meta_url`; on a failed refresh the last
//! targets are kept.

use super::config::{PromDuration, TargetGroup};
use super::http::{Authorization, BasicAuth, HttpClientConfig, TlsConfig};
use serde::Deserialize;
use std::time::Duration;

fn default_refresh() -> PromDuration {
    PromDuration(Duration::from_secs(60))
}

fn default_true() -> bool {
    true
}

/// One `http_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSdConfig {
    /// The URL answering the target groups.
    pub url: String,
    /// How often it is fetched. Default `60s`.
    #[serde(default = "default_refresh")]
    pub refresh_interval: PromDuration,
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
}

impl HttpSdConfig {
    /// The client settings of the discovery requests.
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

    /// Checks the URL and the client settings (through [`super::ScrapeConfig::validate`]).
    pub(crate) fn validate(&self) -> Result<(), String> {
        let u = reqwest::Url::parse(&self.url)
            .map_err(|e| format!("http_sd_configs: url {:?}: {e}", self.url))?;
        if u.scheme() != "http" && u.scheme() != "https" {
            return Err(format!(
                "http_sd_configs: url {:?} must be http or https",
                self.url
            ));
        }
        if self.refresh_interval.0.is_zero() {
            return Err("http_sd_configs: refresh_interval must be greater than 0".into());
        }
        self.http_client_config()
            .validate()
            .map_err(|e| format!("http_sd_configs: {e}"))
    }
}

/// Fetches the target groups once.
pub(crate) async fn fetch_groups(
    client: &reqwest::Client,
    sd: &HttpSdConfig,
) -> Result<Vec<TargetGroup>, String> {
    let mut req = client
        .get(&sd.url)
        .header(reqwest::header::ACCEPT, "application/json")
        .timeout(sd.refresh_interval.0.max(Duration::from_secs(1)));
    if let Some(h) = sd
        .http_client_config()
        .auth_header()
        .map_err(|e| e.to_string())?
    {
        req = req.header(reqwest::header::AUTHORIZATION, h);
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    if resp.status() != reqwest::StatusCode::OK {
        return Err(format!("server returned HTTP status {}", resp.status()));
    }
    let ct = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if !ct.starts_with("application/json") {
        return Err(format!(
            "unsupported content type {ct:?}: expected application/json"
        ));
    }
    let body = resp.bytes().await.map_err(|e| e.to_string())?;
    serde_json::from_slice(&body).map_err(|e| format!("invalid target groups: {e}"))
}
