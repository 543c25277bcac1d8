//! The crate's settings, error and request extensions.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::tls;
use crate::webconfig::{Role, WebConfigError};

/// What the binary passes in: the file and the API switches.
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    /// `--web.config.file`, or `web.config_file` in the configuration.
    pub file: Option<PathBuf>,
    /// `--web.enable-lifecycle`: `/-/reload` and `/-/quit` answer.
    pub enable_lifecycle: bool,
    /// `--web.enable-admin-api`: `/api/v1/admin/…` answer.
    pub enable_admin_api: bool,
}

/// Why authentication could not start.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The web configuration is unusable.
    #[error(transparent)]
    Config(#[from] WebConfigError),
    /// TLS could not be set up from it.
    #[error("web configuration {path}: tls_server_config: {msg}")]
    Tls {
        /// The file.
        path: String,
        /// What failed.
        msg: String,
    },
    /// The sign-in key or the audit log could not be opened.
    #[error("cannot open {what} in {dir}: {source}")]
    Files {
        /// Which file.
        what: &'static str,
        /// The data directory.
        dir: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Who made a request, once authenticated (a request extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user or token name.
    pub name: String,
    /// What they may do.
    pub role: Role,
}

/// The client's address, as the HTTP server saw it.
#[derive(Debug, Clone, Copy)]
pub struct RemoteAddr(pub SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for RemoteAddr
{
    fn connect_info(s: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        RemoteAddr(*s.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tls::TlsListener>>
    for RemoteAddr
{
    fn connect_info(s: axum::serve::IncomingStream<'_, tls::TlsListener>) -> Self {
        RemoteAddr(*s.remote_addr())
    }
}
