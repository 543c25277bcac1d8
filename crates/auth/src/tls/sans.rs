//! `client_allowed_sans`: after the client CA has verified a client
//! certificate, the certificate must also carry one of the listed subject
//! alternative names, as in Prometheus.
//!
//! DNS names, email addresses and URIs are compared as written in the
//! certificate, IP addresses in their usual text form (`192.0.2.7`,
//! `2001:db8::7`); the comparison is exact and case-sensitive, with no
//! wildcards.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, OtherError};

/// Wraps the CA check with the check of the subject alternative names.
#[derive(Debug)]
pub(super) struct AllowedSans {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

impl AllowedSans {
    pub(super) fn new(inner: Arc<dyn ClientCertVerifier>, allowed: Vec<String>) -> AllowedSans {
        AllowedSans { inner, allowed }
    }
}

/// Why a verified client certificate was still refused.
#[derive(thiserror::Error)]
enum SanError {
    #[error("the client certificate has none of the subject alternative names in client_allowed_sans (it has {})", list(.0))]
    NotAllowed(Vec<String>),
    #[error("the client certificate's subject alternative names cannot be read: {0}")]
    Malformed(&'static str),
}

// rustls shows the reason with `Debug`: make that the message, too.
impl std::fmt::Debug for SanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn refuse(e: SanError) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e))))
}

impl ClientCertVerifier for AllowedSans {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let names = subject_alt_names(end_entity).map_err(|e| refuse(SanError::Malformed(e)))?;
        if names.iter().any(|n| self.allowed.contains(n)) {
            Ok(verified)
        } else {
            Err(refuse(SanError::NotAllowed(names)))
        }
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

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }
}

/// A reader of DER elements (tag, length, contents), single-byte tags only,
/// which is all an X.509 certificate up to its extensions uses.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn next(&mut self) -> Result<Option<(u8, &'a [u8])>, &'static str> {
        let Some((&tag, rest)) = self.0.split_first() else {
            return Ok(None);
        };
        if tag & 0x1f == 0x1f {
            return Err("unexpected multi-byte tag");
        }
        let (&first, rest) = rest.split_first().ok_or("truncated length")?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err("bad length");
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | usize::from(b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return Err("truncated element");
        }
        let (body, rest) = rest.split_at(len);
        self.0 = rest;
        Ok(Some((tag, body)))
    }

    /// The contents of the next element, which must have tag `want`.
    fn expect(&mut self, want: u8, what: &'static str) -> Result<&'a [u8], &'static str> {
        match self.next()? {
            Some((tag, body)) if tag == want => Ok(body),
            _ => Err(what),
        }
    }
}

const SEQUENCE: u8 = 0x30;
const EXTENSIONS: u8 = 0xa3;
/// 2.5.29.17, subjectAltName.
const SAN_OID: &[u8] = &[0x55, 0x1d, 0x11];

/// The subject alternative names of a certificate (DER) that can be
/// compared with text: DNS names, email addresses, IP addresses and URIs.
pub(super) fn subject_alt_names(cert: &[u8]) -> Result<Vec<String>, &'static str> {
    let cert = Der(cert).expect(SEQUENCE, "not a certificate")?;
    let mut tbs = Der(Der(cert).expect(SEQUENCE, "no tbsCertificate")?);
    let mut names = Vec::new();
    while let Some((tag, body)) = tbs.next()? {
        if tag != EXTENSIONS {
            continue;
        }
        let mut exts = Der(Der(body).expect(SEQUENCE, "bad extensions")?);
        while let Some((tag, ext)) = exts.next()? {
            if tag != SEQUENCE {
                return Err("bad extension");
            }
            let mut ext = Der(ext);
            if ext.expect(0x06, "extension without an identifier")? != SAN_OID {
                continue;
            }
            let value = match ext.next()? {
                // The optional `critical` flag.
                Some((0x01, _)) => ext.expect(0x04, "extension without a value")?,
                Some((0x04, value)) => value,
                _ => return Err("extension without a value"),
            };
            let mut general = Der(Der(value).expect(SEQUENCE, "bad subjectAltName")?);
            while let Some((tag, body)) = general.next()? {
                if let Some(n) = general_name(tag, body) {
                    names.push(n);
                }
            }
        }
    }
    Ok(names)
}

/// One GeneralName as text; `None` for the kinds not compared.
fn general_name(tag: u8, body: &[u8]) -> Option<String> {
    match tag {
        // [1] rfc822Name, [2] dNSName, [6] uniformResourceIdentifier.
        0x81 | 0x82 | 0x86 => std::str::from_utf8(body).ok().map(str::to_string),
        // [7] iPAddress: 4 or 16 bytes; IPv4-mapped IPv6 is shown as IPv4.
        0x87 => {
            let ip = match body.len() {
                4 => IpAddr::V4(Ipv4Addr::new(body[0], body[1], body[2], body[3])),
                16 => {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(body);
                    Ipv6Addr::from(b).to_canonical()
                }
                _ => return None,
            };
            Some(ip.to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_comparable_kind_of_name() {
        let mut p = rcgen::CertificateParams::new(vec!["scraper.example".to_string()]).unwrap();
        p.subject_alt_names.extend([
            rcgen::SanType::Rfc822Name("ops@example.org".try_into().unwrap()),
            rcgen::SanType::IpAddress("192.0.2.7".parse().unwrap()),
            rcgen::SanType::IpAddress("2001:db8::7".parse().unwrap()),
            rcgen::SanType::IpAddress("::ffff:198.51.100.1".parse().unwrap()),
            rcgen::SanType::URI("spiffe://example.org/scraper".try_into().unwrap()),
        ]);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        assert_eq!(
            subject_alt_names(cert.der()).unwrap(),
            [
                "scraper.example",
                "ops@example.org",
                "192.0.2.7",
                "2001:db8::7",
                "198.51.100.1",
                "spiffe://example.org/scraper"
            ]
        );
    }

    #[test]
    fn a_certificate_without_the_extension_has_no_names() {
        let p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        assert!(subject_alt_names(cert.der()).unwrap().is_empty());
    }

    #[test]
    fn broken_input_is_an_error_not_a_panic() {
        let p = rcgen::CertificateParams::new(vec!["a.example".to_string()]).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let der = p.self_signed(&key).unwrap().der().to_vec();
        for cut in 0..der.len() {
            // No cut-off certificate may panic.
            let _ = subject_alt_names(&der[..cut]);
        }
        assert!(subject_alt_names(&der[..der.len() / 2]).is_err());
        assert!(subject_alt_names(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(subject_alt_names(&[0x1f, 0x01, 0x00]).is_err());
        assert!(subject_alt_names(&[]).is_err());
    }
}
