//! The web configuration file (`--web.config.file`): Prometheus's format
//! (TLS, HTTP headers, bcrypt basic-auth users, rate limit) plus Argus's
//! roles for those users and bearer tokens for agents and scripts.
//!
//! ```
//! use argus_auth::webconfig::{WebFile, Role};
//! let f = WebFile::parse(r#"
//! basic_auth_users:
//!   alice: $2y$04$Y4Ds8QJ3eGzmRsv4gWfFPOmiMmoz3P3HhBYQ1OGvfUkvB1HSh0Vqi
//!   bob: $2y$04$Y4Ds8QJ3eGzmRsv4gWfFPOmiMmoz3P3HhBYQ1OGvfUkvB1HSh0Vqi
//! user_roles:
//!   bob: operator
//! "#, "web.yml").unwrap();
//! assert_eq!(f.role_of("alice"), Some(Role::Admin));
//! assert_eq!(f.role_of("bob"), Some(Role::Operator));
//! assert!(f.auth_required());
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// What a signed-in user or token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Send samples, alerts and heartbeats; nothing else (for agents).
    Writer,
    /// Read everything.
    Viewer,
    /// Read, and acknowledge, resolve and silence alerts.
    Operator,
    /// Everything, including reload, the admin APIs and the audit log.
    Admin,
}

impl Role {
    /// The name used in the file, the UI and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Writer => "writer",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// `tls_server_config:` as in Prometheus.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsServerConfig {
    /// The server certificate chain, PEM, inline.
    pub cert: Option<String>,
    /// The server key, PEM, inline.
    pub key: Option<String>,
    /// The CA for client certificates, PEM, inline.
    pub client_ca: Option<String>,
    /// The server certificate chain file (PEM).
    pub cert_file: Option<PathBuf>,
    /// The server key file (PEM).
    pub key_file: Option<PathBuf>,
    /// `NoClientCert` (default), `VerifyClientCertIfGiven` or `RequireAndVerifyClientCert`.
    pub client_auth_type: Option<String>,
    /// The CA file for client certificates.
    pub client_ca_file: Option<PathBuf>,
    /// Client certificates must also carry one of these subject alternative
    /// names (DNS, email, IP or URI; needs `RequireAndVerifyClientCert`).
    pub client_allowed_sans: Vec<String>,
    /// `TLS12` (default) or `TLS13`.
    pub min_version: Option<String>,
    /// `TLS13` (default) or `TLS12`.
    pub max_version: Option<String>,
    /// Go names of TLS 1.2 cipher suites, in preference order.
    pub cipher_suites: Vec<String>,
    /// Accepted for compatibility; the server's order is always preferred.
    pub prefer_server_cipher_suites: Option<bool>,
    /// Go names of the key-exchange groups (`X25519`, `CurveP256`, `CurveP384`).
    pub curve_preferences: Vec<String>,
}

/// `http_server_config:` as in Prometheus.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpServerConfig {
    /// HTTP/2 over TLS (default true).
    pub http2: bool,
    /// Extra response headers (Prometheus allows the security headers only).
    pub headers: BTreeMap<String, String>,
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        HttpServerConfig {
            http2: true,
            headers: BTreeMap::new(),
        }
    }
}

/// `rate_limit:` as in Prometheus: a token bucket over all requests.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimit {
    /// Time between two tokens; 0 turns the limiter off.
    pub interval: argus_model::PromDuration,
    /// The bucket's size.
    pub burst: u32,
}

/// One bearer token (an Argus addition).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BearerToken {
    /// Who the token stands for, in the audit log and the alert history.
    pub name: String,
    /// The SHA-256 of the token, in hex (`printf %s "$TOKEN" | sha256sum`).
    pub sha256: String,
    /// What it may do.
    pub role: Role,
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebFile {
    /// TLS for the HTTP server.
    pub tls_server_config: Option<TlsServerConfig>,
    /// HTTP/2 and response headers.
    pub http_server_config: HttpServerConfig,
    /// User name → bcrypt hash of the password.
    pub basic_auth_users: BTreeMap<String, String>,
    /// Rate limit over all requests.
    pub rate_limit: Option<RateLimit>,
    /// User name → role (an Argus addition). Users not listed are admins, as
    /// every user in Prometheus's file has full access.
    pub user_roles: BTreeMap<String, Role>,
    /// Bearer tokens (an Argus addition).
    pub bearer_tokens: Vec<BearerToken>,
}

/// A web configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file could not be read.
    #[error("cannot read the web configuration {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML is malformed or has unknown keys.
    #[error("web configuration {path}: {msg}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, with line and column where known.
        msg: String,
    },
}

const HEADERS: [&str; 5] = [
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "X-XSS-Protection",
    "Strict-Transport-Security",
];

impl WebFile {
    /// Parses and checks the file's text; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<WebFile, WebConfigError> {
        let bad = |msg: String| WebConfigError::Invalid {
            path: path.to_string(),
            msg,
        };
        let f: WebFile = if text.trim().is_empty() {
            WebFile::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| bad(e.to_string()))?
        };
        for (user, hash) in &f.basic_auth_users {
            if user.contains(':') {
                return Err(bad(format!(
                    "basic_auth_users: user name {user:?} contains ':'"
                )));
            }
            if bcrypt_cost(hash).is_none() {
                return Err(bad(format!(
                    "basic_auth_users: the password of {user:?} is not a bcrypt hash (want $2y$/$2b$/$2a$, e.g. from `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)"
                )));
            }
        }
        for user in f.user_roles.keys() {
            if !f.basic_auth_users.contains_key(user) {
                return Err(bad(format!(
                    "user_roles: {user:?} is not in basic_auth_users"
                )));
            }
        }
        let mut names = std::collections::HashSet::new();
        for t in &f.bearer_tokens {
            if t.sha256.len() != 64 || !t.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad(format!(
                    "bearer_tokens: {:?}: sha256 must be 64 hex digits (printf %s \"$TOKEN\" | sha256sum)",
                    t.name
                )));
            }
            if t.name.trim().is_empty() || !names.insert(t.name.as_str()) {
                return Err(bad(format!(
                    "bearer_tokens: names must be present and distinct ({:?})",
                    t.name
                )));
            }
        }
        for (name, value) in &f.http_server_config.headers {
            if !HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                return Err(bad(format!(
                    "http_server_config.headers: {name:?} is not one of {}",
                    HEADERS.join(", ")
                )));
            }
            if name.eq_ignore_ascii_case("X-Frame-Options")
                && !["deny", "sameorigin"].contains(&value.to_ascii_lowercase().as_str())
            {
                return Err(bad(format!(
                    "http_server_config.headers: X-Frame-Options must be deny or sameorigin, not {value:?}"
                )));
            }
            if name.eq_ignore_ascii_case("X-Content-Type-Options")
                && !value.eq_ignore_ascii_case("nosniff")
            {
                return Err(bad(format!(
                    "http_server_config.headers: X-Content-Type-Options must be nosniff, not {value:?}"
                )));
            }
            if axum::http::HeaderValue::from_str(value).is_err() {
                return Err(bad(format!(
                    "http_server_config.headers: {name}: {value:?} is not a valid header value"
                )));
            }
        }
        if let Some(r) = &f.rate_limit {
            if r.interval.as_millis() < 0 {
                return Err(bad("rate_limit.interval must not be negative".into()));
            }
            if r.interval.as_millis() > 0 && r.burst == 0 {
                return Err(bad("rate_limit.burst must be at least 1".into()));
            }
        }
        if let Some(t) = &f.tls_server_config {
            super::tls::check(t).map_err(|e| bad(format!("tls_server_config: {e}")))?;
        }
        Ok(f)
    }

    /// Reads and checks a file.
    pub fn load(path: &std::path::Path) -> Result<WebFile, WebConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let mut f = WebFile::parse(&text, &shown)?;
        if let (Some(t), Some(dir)) = (f.tls_server_config.as_mut(), path.parent()) {
            // Prometheus resolves the files against the web config's directory.
            for p in [&mut t.cert_file, &mut t.key_file, &mut t.client_ca_file]
                .into_iter()
                .flatten()
            {
                if p.is_relative() {
                    *p = dir.join(&*p);
                }
            }
        }
        Ok(f)
    }

    /// True when requests must authenticate (any user or token is configured).
    pub fn auth_required(&self) -> bool {
        !self.basic_auth_users.is_empty() || !self.bearer_tokens.is_empty()
    }

    /// The role of a basic-auth user, `None` when there is no such user.
    pub fn role_of(&self, user: &str) -> Option<Role> {
        self.basic_auth_users.get(user)?;
        Some(self.user_roles.get(user).copied().unwrap_or(Role::Admin))
    }
}

/// The cost of a bcrypt hash, `None` when the text is not one.
pub fn bcrypt_cost(hash: &str) -> Option<u32> {
    let rest = hash
        .strip_prefix("$2y$")
        .or_else(|| hash.strip_prefix("$2b$"))
        .or_else(|| hash.strip_prefix("$2a$"))
        .or_else(|| hash.strip_prefix("$2x$"))?;
    let (cost, tail) = rest.split_once('$')?;
    (tail.len() == 53).then_some(())?;
    cost.parse().ok().filter(|c| (4..=31).contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "$2y$04$Y4Ds8QJ3eGzmRsv4gWfFPOmiMmoz3P3HhBYQ1OGvfUkvB1HSh0Vqi";

    #[test]
    fn prometheus_example_file_parses() {
        let f = WebFile::parse(
            &format!(
                "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  alice: {H}\nrate_limit:\n  interval: 1s\n  burst: 20\nhttp_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n"
            ),
            "web.yml",
        )
        .unwrap();
        assert_eq!(f.role_of("alice"), Some(Role::Admin));
        assert_eq!(f.role_of("carol"), None);
        assert_eq!(f.rate_limit.unwrap().burst, 20);
    }

    #[test]
    fn errors_name_the_problem() {
        let cases = [
            ("nope: 1\n", "unknown field"),
            (
                "basic_auth_users:\n  alice: plaintext\n",
                "not a bcrypt hash",
            ),
            (
                &*format!("basic_auth_users:\n  alice: {H}\nuser_roles:\n  bob: viewer\n"),
                "\"bob\" is not in basic_auth_users",
            ),
            (
                &*format!("basic_auth_users:\n  alice: {H}\nuser_roles:\n  alice: root\n"),
                "unknown variant",
            ),
            (
                "bearer_tokens:\n  - {name: a, sha256: abc, role: writer}\n",
                "64 hex digits",
            ),
            (
                "http_server_config:\n  headers:\n    X-Powered-By: me\n",
                "is not one of",
            ),
            (
                "rate_limit:\n  interval: 1s\n  burst: 0\n",
                "burst must be at least 1",
            ),
        ];
        for (text, want) in cases {
            let e = WebFile::parse(text, "w.yml").unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(e.contains("w.yml"), "{e}");
        }
    }

    #[test]
    fn empty_file_means_no_auth() {
        let f = WebFile::parse("", "w.yml").unwrap();
        assert!(!f.auth_required());
        assert!(f.http_server_config.http2);
    }

    #[test]
    fn bcrypt_costs() {
        assert_eq!(bcrypt_cost(H), Some(4));
        assert_eq!(bcrypt_cost("$2y$10$short"), None);
        assert_eq!(bcrypt_cost("secret"), None);
    }
}
