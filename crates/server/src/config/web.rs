//! The `web:` section: which host names and pages may reach the HTTP server.

use serde::Deserialize;

/// `web:` section: which names and pages may reach the HTTP server.
///
/// ```yaml
/// web:
///   allowed_hosts: [argus.lan]                      # extra Host names a loopback-only server answers to
///   allowed_origins: ["https://grafana.example.com"] # pages of these origins may send writes
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Host names a server listening on a loopback address answers to besides
    /// `localhost`, `127.0.0.1`, `[::1]` and the host of `rules.external_url`
    /// (others get 421, which stops DNS rebinding). Default none.
    pub allowed_hosts: Vec<String>,
    /// Origins (`https://host:port`) whose pages may send requests that change
    /// something (silences, acks, alerts, reload, writes) besides Argus's own
    /// and that of `rules.external_url`. Requests from other pages get 403;
    /// clients that send no `Origin` header (curl, agents) are not affected.
    /// Default none.
    pub allowed_origins: Vec<String>,
}
