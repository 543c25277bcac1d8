//! TLS for the HTTP server (rustls): the server configuration built from
//! `tls_server_config`, and a listener that completes handshakes off the
//! accept loop, so a slow client cannot hold up others.
//!
//! With `client_allowed_sans`, a client certificate the client CA verified
//! must also carry one of the listed subject alternative names (DNS name,
//! email address, IP address or URI, compared exactly), as in Prometheus.
//!
//! Certificates are read again when the web configuration file or one of
//! the certificate files changes, at most once a second, as Prometheus picks
//! up renewed certificates without a restart.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::webconfig::TlsServerConfig;

mod sans;

/// How long a client may take to finish the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks the settings that need no files: known names and combinations.
pub fn check(t: &TlsServerConfig) -> Result<(), String> {
    if t.cert.is_some() == t.cert_file.is_some() {
        return Err("set exactly one of cert and cert_file".into());
    }
    if t.key.is_some() == t.key_file.is_some() {
        return Err("set exactly one of key and key_file".into());
    }
    if t.client_ca.is_some() && t.client_ca_file.is_some() {
        return Err("set at most one of client_ca and client_ca_file".into());
    }
    let auth = t.client_auth_type.as_deref().unwrap_or("NoClientCert");
    match auth {
        "NoClientCert" => {}
        "VerifyClientCertIfGiven" | "RequireAndVerifyClientCert" => {
            if t.client_ca.is_none() && t.client_ca_file.is_none() {
                return Err(format!("client_auth_type {auth} needs client_ca_file"));
            }
        }
        "RequestClientCert" | "RequireAnyClientCert" => {
            return Err(format!(
                "client_auth_type {auth} accepts certificates nobody verified; use RequireAndVerifyClientCert or VerifyClientCertIfGiven"
            ))
        }
        other => return Err(format!("unknown client_auth_type {other:?}")),
    }
    if !t.client_allowed_sans.is_empty() && auth != "RequireAndVerifyClientCert" {
        // With VerifyClientCertIfGiven a client could connect without a
        // certificate, and so without any name to check (Prometheus refuses
        // it too).
        return Err(format!(
            "client_allowed_sans needs client_auth_type RequireAndVerifyClientCert (it is {auth}), as only then does every client present a verified certificate whose names can be checked"
        ));
    }
    let min = version(t.min_version.as_deref().unwrap_or("TLS12"))?;
    let max = version(t.max_version.as_deref().unwrap_or("TLS13"))?;
    if min > max {
        return Err("min_version is above max_version".into());
    }
    for s in &t.cipher_suites {
        suite(s)?;
    }
    for c in &t.curve_preferences {
        group(c)?;
    }
    Ok(())
}

fn version(v: &str) -> Result<u8, String> {
    match v {
        "TLS12" => Ok(12),
        "TLS13" => Ok(13),
        "TLS10" | "TLS11" => Err(format!("{v} is not offered (too weak); use TLS12 or TLS13")),
        other => Err(format!("unknown TLS version {other:?} (TLS12 or TLS13)")),
    }
}

fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// A TLS 1.2 suite by its Go name (Go's CHACHA20 names omit the hash).
fn suite(name: &str) -> Result<rustls::SupportedCipherSuite, String> {
    let want = name.trim_end_matches("_SHA256");
    provider()
        .cipher_suites
        .into_iter()
        .find(|s| {
            s.version().version == rustls::ProtocolVersion::TLSv1_2
                && format!("{:?}", s.suite()).trim_end_matches("_SHA256") == want
        })
        .ok_or_else(|| format!("cipher suite {name:?} is not supported (ECDHE with AES-GCM or CHACHA20-POLY1305 are)"))
}

fn group(name: &str) -> Result<&'static dyn rustls::crypto::SupportedKxGroup, String> {
    use rustls::crypto::ring::kx_group;
    match name {
        "X25519" => Ok(kx_group::X25519),
        "CurveP256" => Ok(kx_group::SECP256R1),
        "CurveP384" => Ok(kx_group::SECP384R1),
        other => Err(format!(
            "curve {other:?} is not supported (X25519, CurveP256, CurveP384)"
        )),
    }
}

fn pem(inline: &Option<String>, file: &Option<PathBuf>) -> Result<Vec<u8>, String> {
    match (inline, file) {
        (Some(s), _) => Ok(s.as_bytes().to_vec()),
        (None, Some(p)) => {
            std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        }
        (None, None) => Ok(Vec::new()),
    }
}

fn certs(bytes: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{what}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what}: no PEM certificate found"));
    }
    Ok(certs)
}

/// Builds the rustls server configuration, reading the files.
pub fn server_config(t: &TlsServerConfig, http2: bool) -> Result<ServerConfig, String> {
    check(t)?;
    let chain = certs(&pem(&t.cert, &t.cert_file)?, "cert")?;
    let key = PrivateKeyDer::from_pem_slice(&pem(&t.key, &t.key_file)?)
        .map_err(|e| format!("key: {e}"))?;
    let mut p = provider();
    if !t.cipher_suites.is_empty() {
        let mut suites: Vec<_> = t
            .cipher_suites
            .iter()
            .map(|s| suite(s))
            .collect::<Result<_, _>>()?;
        // TLS 1.3 suites are always on, as in Go.
        suites.extend(
            provider()
                .cipher_suites
                .into_iter()
                .filter(|s| s.version().version == rustls::ProtocolVersion::TLSv1_3),
        );
        p.cipher_suites = suites;
    }
    if !t.curve_preferences.is_empty() {
        p.kx_groups = t
            .curve_preferences
            .iter()
            .map(|c| group(c))
            .collect::<Result<_, _>>()?;
    }
    let p = Arc::new(p);
    let min = version(t.min_version.as_deref().unwrap_or("TLS12"))?;
    let max = version(t.max_version.as_deref().unwrap_or("TLS13"))?;
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| (min..=max).contains(v))
            .map(|(_, v)| v)
            .collect();
    let builder = ServerConfig::builder_with_provider(p.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| e.to_string())?;
    let auth = t.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let verifier = if auth == "NoClientCert" {
        WebPkiClientVerifier::no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for c in certs(&pem(&t.client_ca, &t.client_ca_file)?, "client_ca")? {
            roots.add(c).map_err(|e| format!("client_ca: {e}"))?;
        }
        let b = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), p);
        let b = if auth == "VerifyClientCertIfGiven" {
            b.allow_unauthenticated()
        } else {
            b
        };
        let v = b.build().map_err(|e| format!("client_ca: {e}"))?;
        if t.client_allowed_sans.is_empty() {
            v
        } else {
            Arc::new(sans::AllowedSans::new(v, t.client_allowed_sans.clone()))
        }
    };
    let mut cfg = builder
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| format!("cert and key: {e}"))?;
    cfg.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(cfg)
}

/// The modification times of the files a TLS configuration reads.
pub fn stamp(t: &TlsServerConfig) -> Vec<Option<SystemTime>> {
    [&t.cert_file, &t.key_file, &t.client_ca_file]
        .into_iter()
        .map(|p| {
            p.as_ref()
                .and_then(|p| std::fs::metadata(p).ok())
                .and_then(|m| m.modified().ok())
        })
        .collect()
}

/// Where the listener gets the acceptor for each new connection (the
/// current certificates).
pub trait AcceptorSource: Send + Sync + 'static {
    /// The acceptor for the next handshake.
    fn acceptor(&self) -> TlsAcceptor;
}

/// A TLS listener for `axum::serve`.
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Accepts TCP connections on `tcp` and completes each handshake in a
    /// task of its own.
    pub fn new(tcp: TcpListener, source: Arc<dyn AcceptorSource>) -> io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, rx) = mpsc::channel(256);
        let task = tokio::spawn(async move {
            loop {
                let (stream, addr) = match tcp.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, then go on.
                        tracing::warn!(error = %e, "Accepting a connection failed.");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = source.acceptor();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(s)) => {
                            let _ = tx.send((s, addr)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(peer = %addr, error = %e, "A TLS handshake failed.")
                        }
                        Err(_) => tracing::debug!(peer = %addr, "A TLS handshake timed out."),
                    }
                });
            }
        });
        Ok(TlsListener { rx, local, task })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // The accept task ended (it never does on its own): serve nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> TlsServerConfig {
        TlsServerConfig {
            cert_file: Some("c.pem".into()),
            key_file: Some("k.pem".into()),
            ..Default::default()
        }
    }

    #[test]
    fn check_names_what_is_wrong() {
        assert!(check(&cfg()).is_ok());
        assert!(check(&TlsServerConfig {
            client_auth_type: Some("RequireAndVerifyClientCert".into()),
            client_ca_file: Some("ca.pem".into()),
            client_allowed_sans: vec!["scraper.example".into()],
            ..cfg()
        })
        .is_ok());
        let cases: Vec<(TlsServerConfig, &str)> = vec![
            (
                TlsServerConfig {
                    cert_file: None,
                    ..cfg()
                },
                "cert and cert_file",
            ),
            (
                TlsServerConfig {
                    client_auth_type: Some("RequireAndVerifyClientCert".into()),
                    ..cfg()
                },
                "needs client_ca_file",
            ),
            (
                TlsServerConfig {
                    client_auth_type: Some("RequireAnyClientCert".into()),
                    ..cfg()
                },
                "nobody verified",
            ),
            (
                TlsServerConfig {
                    client_allowed_sans: vec!["scraper.example".into()],
                    ..cfg()
                },
                "client_allowed_sans needs client_auth_type RequireAndVerifyClientCert (it is NoClientCert)",
            ),
            (
                TlsServerConfig {
                    client_auth_type: Some("VerifyClientCertIfGiven".into()),
                    client_ca_file: Some("ca.pem".into()),
                    client_allowed_sans: vec!["scraper.example".into()],
                    ..cfg()
                },
                "client_allowed_sans needs client_auth_type RequireAndVerifyClientCert (it is VerifyClientCertIfGiven)",
            ),
            (
                TlsServerConfig {
                    min_version: Some("TLS11".into()),
                    ..cfg()
                },
                "too weak",
            ),
            (
                TlsServerConfig {
                    min_version: Some("TLS13".into()),
                    max_version: Some("TLS12".into()),
                    ..cfg()
                },
                "above max_version",
            ),
            (
                TlsServerConfig {
                    cipher_suites: vec!["TLS_RSA_WITH_RC4_128_SHA".into()],
                    ..cfg()
                },
                "not supported",
            ),
            (
                TlsServerConfig {
                    curve_preferences: vec!["CurveP521".into()],
                    ..cfg()
                },
                "CurveP521",
            ),
        ];
        for (t, want) in cases {
            let e = check(&t).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn go_suite_names_map_to_rustls() {
        assert!(suite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256").is_ok());
        assert!(suite("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305").is_ok());
        assert!(suite("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256").is_ok());
    }

    #[test]
    fn missing_files_are_named() {
        let e = server_config(&cfg(), true).unwrap_err();
        assert!(e.contains("c.pem"), "{e}");
    }
}
