//! `scheme: https` with `tls_config`: a private CA, mutual TLS and
//! `insecure_skip_verify`, against a local TLS target.

use crate::common::VecFactory;
use argus_ingest::scrape::{Health, ScrapeConfig, ScrapeManager, TargetStatus};
use argus_model::SystemClock;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A TLS target answering `m 1`; with `client_ca`, it requires a client
/// certificate signed by it.
async fn serve_tls(cert: &rcgen::CertifiedKey, client_ca: Option<&rcgen::CertifiedKey>) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca.cert.der().clone()).unwrap();
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(v)
        }
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let certs: Vec<CertificateDer<'static>> = vec![cert.cert.der().clone()];
    let cfg = builder.with_single_cert(certs, key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let body = "m 1\n";
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

async fn scrape(port: u16, tls: &str) -> TargetStatus {
    let m = ScrapeManager::new(Arc::new(VecFactory::default()), Arc::new(SystemClock)).unwrap();
    let cfg: ScrapeConfig = serde_saphyr::from_str(&format!(
        "job_name: t\nscheme: https\nscrape_interval: 200ms\n{tls}static_configs: [{{targets: ['localhost:{port}']}}]\n"
    ))
    .unwrap();
    m.apply(vec![cfg]).unwrap();
    for _ in 0..500 {
        if let Some(t) = m.targets().into_iter().next() {
            if t.health != Health::Unknown {
                m.shutdown().await;
                return t;
            }
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("the target was never scraped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_ca_client_certificates_and_skip_verify() {
    let dir = tempfile::tempdir().unwrap();
    let server = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let client = rcgen::generate_simple_self_signed(vec!["scraper".into()]).unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    std::fs::write(p("ca.crt"), server.cert.pem()).unwrap();
    std::fs::write(p("client.crt"), client.cert.pem()).unwrap();
    std::fs::write(p("client.key"), client.key_pair.serialize_pem()).unwrap();

    let port = serve_tls(&server, None).await;
    // The built-in roots do not know the target's certificate.
    let t = scrape(port, "").await;
    assert_eq!(t.health, Health::Down);
    // Its CA in ca_file does.
    let t = scrape(port, &format!("tls_config:\n  ca_file: {}\n", p("ca.crt"))).await;
    assert_eq!(t.health, Health::Up, "{:?}", t.last_error);
    let t = scrape(port, "tls_config:\n  insecure_skip_verify: true\n").await;
    assert_eq!(t.health, Health::Up, "{:?}", t.last_error);

    // A target that wants a client certificate.
    let port = serve_tls(&server, Some(&client)).await;
    let ca = format!("tls_config:\n  ca_file: {}\n", p("ca.crt"));
    let t = scrape(port, &ca).await;
    assert_eq!(t.health, Health::Down);
    let t = scrape(
        port,
        &format!(
            "{ca}  cert_file: {}\n  key_file: {}\n",
            p("client.crt"),
            p("client.key")
        ),
    )
    .await;
    assert_eq!(t.health, Health::Up, "{:?}", t.last_error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_name_checks_the_certificate_against_another_name() {
    let dir = tempfile::tempdir().unwrap();
    let server = rcgen::generate_simple_self_signed(vec!["metrics.internal".into()]).unwrap();
    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, server.cert.pem()).unwrap();
    let port = serve_tls(&server, None).await;
    let ca = format!("tls_config:\n  ca_file: {}\n", ca.display());
    // The certificate is not valid for "localhost".
    let t = scrape(port, &ca).await;
    assert_eq!(t.health, Health::Down);
    let t = scrape(port, &format!("{ca}  server_name: metrics.internal\n")).await;
    assert_eq!(t.health, Health::Up, "{:?}", t.last_error);
    let t = scrape(port, &format!("{ca}  server_name: other.internal\n")).await;
    assert_eq!(t.health, Health::Down);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubeconfig_tls_server_name_checks_the_certificate_against_that_name() {
    use argus_ingest::scrape::kubernetes::kubeconfig::KubeConfig;
    use base64::Engine;
    let server = rcgen::generate_simple_self_signed(vec!["kube.internal".into()]).unwrap();
    let port = serve_tls(&server, None).await;
    let ca = base64::engine::general_purpose::STANDARD.encode(server.cert.pem());
    let get = |extra: &str| {
        let text = format!(
            "current-context: c\ncontexts: [{{name: c, context: {{cluster: k, user: u}}}}]\n\
             clusters: [{{name: k, cluster: {{server: \"https://127.0.0.1:{port}\", certificate-authority-data: {ca}{extra}}}}}]\n\
             users: [{{name: u, user: {{token: t}}}}]\n"
        );
        async move {
            let r = KubeConfig::parse(&text)
                .unwrap()
                .current(std::path::Path::new("."))
                .unwrap();
            r.client.get(format!("{}/metrics", r.server)).send().await
        }
    };
    // The certificate names kube.internal, not 127.0.0.1.
    assert!(get("").await.is_err());
    let ok = get(", tls-server-name: kube.internal").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "m 1\n");
    assert!(get(", tls-server-name: other.internal").await.is_err());
}
