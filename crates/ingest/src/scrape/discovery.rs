//! One-shot service discovery for callers outside the scrape manager (the
//! sender to external Alertmanagers): the DNS, HTTP and Kubernetes
//! discoveries of scrape jobs, run once, with a typed error.
//!
//! ```no_run
//! # async fn f() -> Result<(), argus_ingest::scrape::discovery::DiscoveryError> {
//! use argus_ingest::scrape::{discovery, DnsSdConfig};
//! let sd: DnsSdConfig = serde_saphyr::from_str("names: [_alertmanager._tcp.example.com]\n").unwrap();
//! discovery::check_dns(&sd)?;
//! let groups = discovery::dns_groups(&sd).await?;
//! # let _ = groups; Ok(()) }
//! ```

use super::config::TargetGroup;
use super::{DnsSdConfig, HttpSdConfig, KubernetesSdConfig};

/// A discovery refused by its checks, or one that failed to run; the
/// message names the key or the source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DiscoveryError(pub String);

/// Checks a `dns_sd_configs` entry.
pub fn check_dns(sd: &DnsSdConfig) -> Result<(), DiscoveryError> {
    sd.validate().map_err(DiscoveryError)
}

/// Checks an `http_sd_configs` entry.
pub fn check_http(sd: &HttpSdConfig) -> Result<(), DiscoveryError> {
    sd.validate().map_err(DiscoveryError)
}

/// Checks a `kubernetes_sd_configs` entry.
pub fn check_kubernetes(sd: &KubernetesSdConfig) -> Result<(), DiscoveryError> {
    sd.validate().map_err(DiscoveryError)
}

/// Looks up every name of the entry; the first failure fails the whole
/// entry, so the caller keeps its last targets.
pub async fn dns_groups(sd: &DnsSdConfig) -> Result<Vec<TargetGroup>, DiscoveryError> {
    let mut out = Vec::new();
    for name in &sd.names {
        out.extend(
            super::dns_sd::resolve(sd, name)
                .await
                .map_err(DiscoveryError)?,
        );
    }
    Ok(out)
}

/// Fetches the entry's target groups once.
pub async fn http_groups(sd: &HttpSdConfig) -> Result<Vec<TargetGroup>, DiscoveryError> {
    let client = sd
        .http_client_config()
        .build_client()
        .map_err(|e| DiscoveryError(format!("http_sd_configs {}: {e}", sd.url)))?;
    super::http_sd::fetch_groups(&client, sd)
        .await
        .map_err(|e| DiscoveryError(format!("http_sd_configs {}: {e}", sd.url)))
}

/// Lists the objects of the entry's role once and builds its target groups.
pub async fn kubernetes_groups(
    sd: &KubernetesSdConfig,
) -> Result<Vec<TargetGroup>, DiscoveryError> {
    let place = sd.api_server.as_deref().unwrap_or("in-cluster");
    let err = |e: super::kubernetes::api::KubernetesSdError| {
        DiscoveryError(format!("kubernetes_sd_configs {place}: {e}"))
    };
    let api = super::kubernetes::api::Api::new(sd).map_err(err)?;
    super::kubernetes::discover(&api, sd).await.map_err(err)
}
