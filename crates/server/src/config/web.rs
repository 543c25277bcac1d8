//! The `web:` section: which host names and pages may reach the HTTP server,
//! the web configuration file (TLS, users, roles, tokens) and the switches of
//! the lifecycle and admin APIs.

use serde::Deserialize;

/// `web:` section: which names and pages may reach the HTTP server.
///
/// ```yaml
/// web:
///   allowed_hosts: [argus.lan]                      # extra Host names a loopback-only server answers to
///   allowed_origins: ["https://grafana.example.com"] # pages of these origins may send writes
///   config_file: web.yml        # TLS, users and roles (Prometheus's web config format)
///   enable_lifecycle: true      # POST /-/reload answers
///   enable_admin_api: false     # /api/v1/admin/... answer
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
    /// The web configuration file, in Prometheus's format (`tls_server_config`,
    /// `http_server_config`, `basic_auth_users`, `rate_limit`) plus Argus's
    /// `user_roles` and `bearer_tokens`; relative to this file's directory.
    /// `--web.config.file` overrides it. Default none: no TLS, no sign-in.
    pub config_file: Option<std::path::PathBuf>,
    /// Whether `POST /-/reload` (and `/-/quit`) answer, as Prometheus's
    /// `--web.enable-lifecycle` (which also sets it). Default false: reload
    /// with SIGHUP.
    pub enable_lifecycle: bool,
    /// Whether `/api/v1/admin/...` answer, as Prometheus's
    /// `--web.enable-admin-api` (which also sets it). Default false.
    pub enable_admin_api: bool,
}
