//! The HTTP client settings of a scrape job (Prometheus's `http_config`):
//! authentication, TLS, proxy, redirects and HTTP/2.

use serde::Deserialize;
use std::path::Path;

/// `basic_auth`: `username` (or `username_file`) and `password` (or `password_file`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name.
    #[serde(default)]
    pub username: String,
    /// A file holding the user name (re-read at every scrape).
    #[serde(default)]
    pub username_file: Option<String>,
    /// The password (hidden in `/api/v1/status/config`).
    #[serde(default)]
    pub password: Option<String>,
    /// A file holding the password (re-read at every scrape).
    #[serde(default)]
    pub password_file: Option<String>,
}

/// `authorization`: an `Authorization: <type> <credentials>` header.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// The scheme. Default `Bearer`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The credentials (hidden in `/api/v1/status/config`).
    #[serde(default)]
    pub credentials: Option<String>,
    /// A file holding the credentials (re-read at every scrape).
    #[serde(default)]
    pub credentials_file: Option<String>,
}

/// `tls_config`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// A PEM file of CA certificates that replace the built-in roots.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// A PEM client certificate, for mutual TLS (with `key_file`).
    #[serde(default)]
    pub cert_file: Option<String>,
    /// The PEM private key of `cert_file`.
    #[serde(default)]
    pub key_file: Option<String>,
    /// The name the server certificate must be valid for, instead of the
    /// target's host name.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Accept any server certificate. Default false.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// The lowest TLS version: `TLS12` or `TLS13`. Default TLS 1.2.
    #[serde(default)]
    pub min_version: Option<String>,
}

/// Everything that decides how a job's HTTP client is built and how each
/// request is authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpClientConfig {
    /// See [`BasicAuth`].
    pub basic_auth: Option<BasicAuth>,
    /// See [`Authorization`].
    pub authorization: Option<Authorization>,
    /// Legacy `bearer_token`.
    pub bearer_token: Option<String>,
    /// Legacy `bearer_token_file`.
    pub bearer_token_file: Option<String>,
    /// See [`TlsConfig`].
    pub tls_config: Option<TlsConfig>,
    /// `proxy_url`: an HTTP proxy for every request.
    pub proxy_url: Option<String>,
    /// `no_proxy`: comma-separated hosts, domains and CIDRs not proxied.
    pub no_proxy: Option<String>,
    /// `proxy_from_environment`: use `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`.
    pub proxy_from_environment: bool,
    /// `follow_redirects` (default true).
    pub follow_redirects: bool,
    /// `enable_http2` (default true).
    pub enable_http2: bool,
    /// `enable_compression` (default true): ask for gzip.
    pub enable_compression: bool,
}

/// An HTTP client setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpConfigError {
    /// Two settings exclude each other, or a value is malformed.
    #[error("{0}")]
    Invalid(String),
    /// A file named by a setting could not be read or parsed.
    #[error("{key}: cannot use {path}: {reason}")]
    File {
        /// The key naming the file.
        key: &'static str,
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

pub(crate) fn read_file(key: &'static str, path: &str) -> Result<Vec<u8>, HttpConfigError> {
    std::fs::read(Path::new(path)).map_err(|e| HttpConfigError::File {
        key,
        path: path.to_string(),
        reason: e.to_string(),
    })
}

fn read_secret(key: &'static str, path: &str) -> Result<String, HttpConfigError> {
    let b = read_file(key, path)?;
    Ok(String::from_utf8_lossy(&b).trim().to_string())
}

impl HttpClientConfig {
    /// Checks the rules Prometheus enforces between the settings.
    pub fn validate(&self) -> Result<(), HttpConfigError> {
        let bad = |s: &str| Err(HttpConfigError::Invalid(s.to_string()));
        let bearer = self.bearer_token.is_some() || self.bearer_token_file.is_some();
        if self.bearer_token.is_some() && self.bearer_token_file.is_some() {
            return bad("at most one of bearer_token and bearer_token_file may be set");
        }
        if let Some(b) = &self.basic_auth {
            if b.password.is_some() && b.password_file.is_some() {
                return bad("basic_auth: at most one of password and password_file may be set");
            }
            if !b.username.is_empty() && b.username_file.is_some() {
                return bad("basic_auth: at most one of username and username_file may be set");
            }
        }
        if let Some(a) = &self.authorization {
            if bearer {
                return bad(
                    "at most one of bearer_token, bearer_token_file and authorization may be set",
                );
            }
            if a.credentials.is_some() && a.credentials_file.is_some() {
                return bad(
                    "authorization: at most one of credentials and credentials_file may be set",
                );
            }
            if a.kind
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("basic"))
            {
                return bad("authorization: type cannot be \"Basic\"; use basic_auth instead");
            }
        }
        if self.basic_auth.is_some() && (bearer || self.authorization.is_some()) {
            return bad("at most one of basic_auth, authorization and bearer_token may be set");
        }
        if let Some(p) = &self.proxy_url {
            reqwest::Url::parse(p)
                .map_err(|e| HttpConfigError::Invalid(format!("proxy_url {p:?}: {e}")))?;
            if self.proxy_from_environment {
                return bad("at most one of proxy_url and proxy_from_environment may be set");
            }
        } else if self.no_proxy.is_some() && !self.proxy_from_environment {
            return bad("no_proxy requires proxy_url");
        }
        if let Some(t) = &self.tls_config {
            if let Some(n) = &t.server_name {
                if rustls::pki_types::ServerName::try_from(n.as_str()).is_err() {
                    return Err(HttpConfigError::Invalid(format!(
                        "tls_config: server_name {n:?} is not a valid DNS name or IP address"
                    )));
                }
            }
            if t.cert_file.is_some() != t.key_file.is_some() {
                return bad("tls_config: cert_file and key_file must be set together");
            }
            if let Some(v) = &t.min_version {
                if !matches!(v.as_str(), "TLS12" | "TLS13") {
                    return Err(HttpConfigError::Invalid(format!(
                        "tls_config: min_version {v:?} is not supported (TLS12 or TLS13)"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Builds the client: TLS roots and client certificate, proxy, redirects,
    /// HTTP/2, compression. Reads the TLS files now.
    pub fn build_client(&self) -> Result<reqwest::Client, HttpConfigError> {
        self.validate()?;
        let mut b = reqwest::Client::builder()
            .user_agent(concat!("Argus/", env!("CARGO_PKG_VERSION")))
            .gzip(self.enable_compression)
            .redirect(if self.follow_redirects {
                reqwest::redirect::Policy::limited(10)
            } else {
                reqwest::redirect::Policy::none()
            });
        if !self.enable_http2 {
            b = b.http1_only();
        }
        if let Some(p) = &self.proxy_url {
            let mut proxy = reqwest::Proxy::all(p)
                .map_err(|e| HttpConfigError::Invalid(format!("proxy_url: {e}")))?;
            if let Some(np) = &self.no_proxy {
                proxy = proxy.no_proxy(reqwest::NoProxy::from_string(np));
            }
            b = b.proxy(proxy);
        } else if !self.proxy_from_environment {
            b = b.no_proxy();
        }
        if let Some(t) = self
            .tls_config
            .as_ref()
            .filter(|t| t.server_name.is_some() && !t.insecure_skip_verify)
        {
            b = b.use_preconfigured_tls(super::tls::client_config(t)?);
        } else if let Some(t) = &self.tls_config {
            if let Some(ca) = &t.ca_file {
                let pem = read_file("tls_config.ca_file", ca)?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                    HttpConfigError::File {
                        key: "tls_config.ca_file",
                        path: ca.clone(),
                        reason: e.to_string(),
                    }
                })?;
                b = b.tls_built_in_root_certs(false);
                for c in certs {
                    b = b.add_root_certificate(c);
                }
            }
            if let (Some(cert), Some(key)) = (&t.cert_file, &t.key_file) {
                let mut pem = read_file("tls_config.cert_file", cert)?;
                pem.push(b'\n');
                pem.extend(read_file("tls_config.key_file", key)?);
                let id = reqwest::Identity::from_pem(&pem).map_err(|e| HttpConfigError::File {
                    key: "tls_config.cert_file",
                    path: cert.clone(),
                    reason: e.to_string(),
                })?;
                b = b.identity(id);
            }
            if t.insecure_skip_verify {
                b = b.danger_accept_invalid_certs(true);
            }
            if t.min_version.as_deref() == Some("TLS13") {
                b = b.min_tls_version(reqwest::tls::Version::TLS_1_3);
            }
        }
        b.build()
            .map_err(|e| HttpConfigError::Invalid(format!("cannot build the HTTP client: {e}")))
    }

    /// The `Authorization` header value for one request, reading the secret
    /// files now (so rotated credentials are picked up).
    pub fn auth_header(&self) -> Result<Option<String>, HttpConfigError> {
        if let Some(b) = &self.basic_auth {
            let user = match &b.username_file {
                Some(f) => read_secret("basic_auth.username_file", f)?,
                None => b.username.clone(),
            };
            let pass = match (&b.password, &b.password_file) {
                (Some(p), _) => p.clone(),
                (None, Some(f)) => read_secret("basic_auth.password_file", f)?,
                (None, None) => String::new(),
            };
            return Ok(Some(format!(
                "Basic {}",
                base64_encode(format!("{user}:{pass}").as_bytes())
            )));
        }
        if let Some(a) = &self.authorization {
            let cred = match (&a.credentials, &a.credentials_file) {
                (Some(c), _) => c.clone(),
                (None, Some(f)) => read_secret("authorization.credentials_file", f)?,
                (None, None) => String::new(),
            };
            let kind = a.kind.as_deref().unwrap_or("Bearer");
            return Ok(Some(format!("{kind} {cred}")));
        }
        if let Some(t) = &self.bearer_token {
            return Ok(Some(format!("Bearer {t}")));
        }
        if let Some(f) = &self.bearer_token_file {
            return Ok(Some(format!(
                "Bearer {}",
                read_secret("bearer_token_file", f)?
            )));
        }
        Ok(None)
    }
}

fn base64_encode(input: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(i.as_bytes()), o);
        }
    }

    #[test]
    fn auth_headers_and_exclusions() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tok");
        std::fs::write(&f, "s3cret\n").unwrap();
        let f = f.display().to_string();
        let c = HttpClientConfig {
            basic_auth: Some(BasicAuth {
                username: "u".into(),
                password_file: Some(f.clone()),
                ..BasicAuth::default()
            }),
            ..HttpClientConfig::default()
        };
        assert_eq!(
            c.auth_header().unwrap().unwrap(),
            format!("Basic {}", base64_encode(b"u:s3cret"))
        );
        let c = HttpClientConfig {
            authorization: Some(Authorization {
                credentials_file: Some(f.clone()),
                ..Authorization::default()
            }),
            ..HttpClientConfig::default()
        };
        assert_eq!(c.auth_header().unwrap().unwrap(), "Bearer s3cret");
        let c = HttpClientConfig {
            bearer_token_file: Some(f),
            ..HttpClientConfig::default()
        };
        assert_eq!(c.auth_header().unwrap().unwrap(), "Bearer s3cret");
        let both = HttpClientConfig {
            basic_auth: Some(BasicAuth::default()),
            bearer_token: Some("x".into()),
            ..HttpClientConfig::default()
        };
        assert!(both.validate().is_err());
        let basic_type = HttpClientConfig {
            authorization: Some(Authorization {
                kind: Some("Basic".into()),
                ..Authorization::default()
            }),
            ..HttpClientConfig::default()
        };
        assert!(basic_type
            .validate()
            .unwrap_err()
            .to_string()
            .contains("basic_auth"));
    }
}
