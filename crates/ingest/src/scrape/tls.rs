//! A rustls client configuration for `tls_config.server_name`: the server
//! certificate is verified against that name instead of the target's host.

use super::http::{read_file, HttpConfigError, TlsConfig};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;

/// Verifies as web PKI does, but always against one name.
#[derive(Debug)]
struct FixedName {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for FixedName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A client configuration that verifies the server's certificate against
/// `name` (not the URL's host), trusting `ca_pem` (else the web PKI roots),
/// and presents `identity` (certificate and key PEM) when given: a
/// kubeconfig's `tls-server-name`.
pub(crate) fn fixed_name_config(
    name: &str,
    ca_pem: Option<&[u8]>,
    identity: Option<(&[u8], &[u8])>,
) -> Result<rustls::ClientConfig, String> {
    let server = ServerName::try_from(name.to_string())
        .map_err(|e| format!("tls-server-name {name:?}: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            for c in CertificateDer::pem_slice_iter(pem) {
                let c = c.map_err(|e| format!("certificate-authority: {e}"))?;
                roots
                    .add(c)
                    .map_err(|e| format!("certificate-authority: {e}"))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("certificate-authority: {e}"))?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(FixedName {
            inner,
            name: server,
        }));
    match identity {
        Some((cert, key)) => {
            let certs = CertificateDer::pem_slice_iter(cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("client-certificate: {e}"))?;
            let k = PrivateKeyDer::from_pem_slice(key).map_err(|e| format!("client-key: {e}"))?;
            builder
                .with_client_auth_cert(certs, k)
                .map_err(|e| format!("client-certificate: {e}"))
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

fn file_err(key: &'static str, path: &str, e: impl std::fmt::Display) -> HttpConfigError {
    HttpConfigError::File {
        key,
        path: path.to_string(),
        reason: e.to_string(),
    }
}

/// The client configuration of a `tls_config` with `server_name`: roots from
/// `ca_file` (or the built-in web PKI roots), the client certificate, the
/// minimum version.
pub(crate) fn client_config(t: &TlsConfig) -> Result<rustls::ClientConfig, HttpConfigError> {
    let invalid = |m: String| HttpConfigError::Invalid(m);
    let name = t.server_name.clone().unwrap_or_default();
    let name = ServerName::try_from(name.clone())
        .map_err(|e| invalid(format!("tls_config: server_name {name:?}: {e}")))?;
    let mut roots = rustls::RootCertStore::empty();
    match &t.ca_file {
        Some(ca) => {
            let pem = read_file("tls_config.ca_file", ca)?;
            for c in CertificateDer::pem_slice_iter(&pem) {
                let c = c.map_err(|e| file_err("tls_config.ca_file", ca, e))?;
                roots
                    .add(c)
                    .map_err(|e| file_err("tls_config.ca_file", ca, e))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| invalid(format!("tls_config: {e}")))?;
    let versions: &[&rustls::SupportedProtocolVersion] = match t.min_version.as_deref() {
        Some("TLS13") => &[&rustls::version::TLS13],
        _ => rustls::DEFAULT_VERSIONS,
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| invalid(format!("tls_config: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(FixedName { inner, name }));
    match (&t.cert_file, &t.key_file) {
        (Some(cert), Some(key)) => {
            let pem = read_file("tls_config.cert_file", cert)?;
            let certs = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| file_err("tls_config.cert_file", cert, e))?;
            let kp = read_file("tls_config.key_file", key)?;
            let k = PrivateKeyDer::from_pem_slice(&kp)
                .map_err(|e| file_err("tls_config.key_file", key, e))?;
            builder
                .with_client_auth_cert(certs, k)
                .map_err(|e| file_err("tls_config.cert_file", cert, e))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}
