//! `client_allowed_sans` over real TLS handshakes: the web configuration file
//! is loaded as the server loads it, and clients with certificates from a
//! test CA connect to the acceptor it yields.

use std::sync::Arc;

use argus_auth::tls::AcceptorSource;
use argus_auth::{Auth, AuthSettings};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedKey, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    Ca {
        cert: p.self_signed(&key).unwrap(),
        key,
    }
}

fn client(ca: &Ca, sans: Vec<SanType>) -> CertifiedKey {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, "a client");
    p.subject_alt_names = sans;
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key_pair = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key_pair, &ca.cert, &ca.key).unwrap();
    CertifiedKey { cert, key_pair }
}

fn dns(n: &str) -> SanType {
    SanType::DnsName(n.try_into().unwrap())
}

struct Server {
    _dir: tempfile::TempDir,
    auth: Arc<Auth>,
    server_cert: CertificateDer<'static>,
}

/// Writes the certificates and `web.yml` (with `tls` as its
/// `tls_server_config` body after the server's files) and loads it.
fn server(ca: &Ca, tls: &str) -> Result<Server, String> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(d.join("server.crt"), server.cert.pem()).unwrap();
    std::fs::write(d.join("server.key"), server.key_pair.serialize_pem()).unwrap();
    std::fs::write(d.join("ca.crt"), ca.cert.pem()).unwrap();
    std::fs::write(
        d.join("web.yml"),
        format!("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n{tls}"),
    )
    .unwrap();
    let auth = Auth::new(
        &AuthSettings {
            file: Some(d.join("web.yml")),
            ..Default::default()
        },
        &d.join("data"),
        Arc::new(argus_model::SystemClock),
    )
    .map_err(|e| e.to_string())?;
    Ok(Server {
        _dir: dir,
        auth,
        server_cert: server.cert.der().clone(),
    })
}

const VERIFY: &str = "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  client_allowed_sans: [scraper.example, 192.0.2.7, \"spiffe://example.org/agent\"]\n";

/// One handshake: what the server's accept said, and what the client read.
async fn connect(
    s: &Server,
    cert: Option<&CertifiedKey>,
    tls12: bool,
) -> (Result<(), String>, Vec<u8>) {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let acceptor = s.auth.acceptor();
    let srv = tokio::spawn(async move {
        let (stream, _) = tcp.accept().await.unwrap();
        match acceptor.accept(stream).await {
            Ok(mut tls) => {
                tls.write_all(b"welcome").await.unwrap();
                tls.shutdown().await.unwrap();
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    });
    let mut roots = rustls::RootCertStore::empty();
    roots.add(s.server_cert.clone()).unwrap();
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12 {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13]
    };
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots);
    let cfg = match cert {
        Some(c) => b
            .with_client_auth_cert(
                vec![c.cert.der().clone()],
                PrivateKeyDer::try_from(c.key_pair.serialize_der()).unwrap(),
            )
            .unwrap(),
        None => b.with_no_client_auth(),
    };
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let mut read = Vec::new();
    // With TLS 1.3 the client finishes its side before the server has looked
    // at its certificate; a refusal then arrives as an alert on the first read.
    if let Ok(mut tls) = connector
        .connect(ServerName::try_from("localhost").unwrap(), stream)
        .await
    {
        let _ = tls.read_to_end(&mut read).await;
    }
    (srv.await.unwrap(), read)
}

fn accepted(r: &(Result<(), String>, Vec<u8>)) {
    assert_eq!(r.0, Ok(()));
    assert_eq!(r.1, b"welcome");
}

fn refused(r: &(Result<(), String>, Vec<u8>)) -> String {
    assert!(r.1.is_empty(), "the client read {:?}", r.1);
    r.0.clone().unwrap_err()
}

#[tokio::test]
async fn a_certificate_with_an_allowed_name_gets_in() {
    let ca = ca("clients");
    let s = server(&ca, VERIFY).unwrap();
    for sans in [
        vec![dns("other.example"), dns("scraper.example")],
        vec![SanType::IpAddress("192.0.2.7".parse().unwrap())],
        vec![SanType::URI(
            "spiffe://example.org/agent".try_into().unwrap(),
        )],
    ] {
        let c = client(&ca, sans);
        accepted(&connect(&s, Some(&c), false).await);
        accepted(&connect(&s, Some(&c), true).await);
    }
}

#[tokio::test]
async fn a_certificate_without_an_allowed_name_is_refused() {
    let ca = ca("clients");
    let s = server(&ca, VERIFY).unwrap();
    let c = client(
        &ca,
        vec![
            dns("other.example"),
            // Compared exactly: neither a different case nor a suffix matches.
            dns("Scraper.example"),
            dns("scraper.example.evil"),
            SanType::IpAddress("192.0.2.8".parse().unwrap()),
        ],
    );
    for tls12 in [false, true] {
        let e = refused(&connect(&s, Some(&c), tls12).await);
        assert!(
            e.contains("none of the subject alternative names in client_allowed_sans")
                && e.contains("other.example, Scraper.example, scraper.example.evil, 192.0.2.8"),
            "{e}"
        );
    }
    let bare = client(&ca, vec![]);
    let e = refused(&connect(&s, Some(&bare), false).await);
    assert!(e.contains("(it has none)"), "{e}");
}

#[tokio::test]
async fn the_client_ca_is_still_checked_first() {
    let ca = ca("clients");
    let s = server(&ca, VERIFY).unwrap();
    let stranger = client(&self::ca("someone else"), vec![dns("scraper.example")]);
    let e = refused(&connect(&s, Some(&stranger), false).await);
    assert!(!e.contains("client_allowed_sans"), "{e}");
    let e = refused(&connect(&s, None, false).await);
    assert!(!e.contains("client_allowed_sans"), "{e}");
}

#[tokio::test]
async fn without_the_list_any_verified_client_gets_in() {
    let ca = ca("clients");
    let s = server(
        &ca,
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n",
    )
    .unwrap();
    accepted(&connect(&s, Some(&client(&ca, vec![dns("other.example")])), false).await);
}

#[test]
fn the_list_without_verified_client_certificates_is_refused() {
    let ca = ca("clients");
    for (auth, tls) in [
        (
            "NoClientCert",
            "  client_allowed_sans: [scraper.example]\n".to_string(),
        ),
        (
            "VerifyClientCertIfGiven",
            "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.crt\n  client_allowed_sans: [scraper.example]\n".to_string(),
        ),
    ] {
        let e = server(&ca, &tls).err().expect("the configuration is refused");
        assert!(
            e.contains("web.yml")
                && e.contains(&format!(
                    "client_allowed_sans needs client_auth_type RequireAndVerifyClientCert (it is {auth})"
                )),
            "{e}"
        );
    }
    // The files themselves are fine: the same CA with the list loads.
    assert!(server(&ca, VERIFY).is_ok());
}
