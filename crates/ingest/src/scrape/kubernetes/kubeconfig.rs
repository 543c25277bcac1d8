//! `kubeconfig_file`: the API server, TLS settings and credentials of a
//! kubeconfig's current context, as `kubectl` reads them. Certificates and
//! keys may be files (relative to the kubeconfig) or inline `-data`
//! (base64 PEM), and `tls-server-name` names the certificate expected;
//! credentials may be a token, a token file, or a user name
//! and password. `exec` and `auth-provider` plugins are refused.
//!
//! ```
//! use argus_ingest::scrape::kubernetes::kubeconfig::KubeConfig;
//! let k = KubeConfig::parse(r#"
//! apiVersion: v1
//! kind: Config
//! current-context: dev
//! clusters: [{name: kind, cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}]
//! users: [{name: admin, user: {token: abc}}]
//! contexts: [{name: dev, context: {cluster: kind, user: admin, namespace: web}}]
//! "#).unwrap();
//! let c = k.current(std::path::Path::new(".")).unwrap();
//! assert_eq!(c.server, "https://127.0.0.1:6443");
//! assert_eq!(c.namespace, "web");
//! ```

use super::api::KubernetesSdError;
use crate::scrape::http::{Authorization, BasicAuth, HttpClientConfig};
use base64::Engine;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A kubeconfig file (the parts Argus reads).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct KubeConfig {
    clusters: Vec<NamedCluster>,
    users: Vec<NamedUser>,
    contexts: Vec<NamedContext>,
    current_context: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct NamedCluster {
    name: String,
    cluster: Cluster,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct Cluster {
    server: String,
    certificate_authority: Option<String>,
    certificate_authority_data: Option<String>,
    insecure_skip_tls_verify: bool,
    proxy_url: Option<String>,
    tls_server_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct NamedUser {
    name: String,
    user: User,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct User {
    token: Option<String>,
    #[serde(rename = "tokenFile")]
    token_file: Option<String>,
    client_certificate: Option<String>,
    client_certificate_data: Option<String>,
    client_key: Option<String>,
    client_key_data: Option<String>,
    username: Option<String>,
    password: Option<String>,
    exec: Option<serde::de::IgnoredAny>,
    auth_provider: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct NamedContext {
    name: String,
    context: Context,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Context {
    cluster: String,
    user: String,
    namespace: String,
}

/// What the current context resolves to.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The API server's URL.
    pub server: String,
    /// The context's namespace (`default` when unset).
    pub namespace: String,
    /// The credentials, as client settings (only the authentication keys).
    pub auth: HttpClientConfig,
    /// The HTTP client: CA, client certificate, proxy.
    pub client: reqwest::Client,
}

fn bad(reason: String) -> KubernetesSdError {
    KubernetesSdError::Config(format!("kubeconfig_file: {reason}"))
}

/// The bytes of a `<key>` file (relative to `dir`) or of `<key>-data`.
fn material(
    dir: &Path,
    key: &str,
    file: &Option<String>,
    data: &Option<String>,
) -> Result<Option<Vec<u8>>, KubernetesSdError> {
    if let Some(d) = data {
        let b = base64::engine::general_purpose::STANDARD
            .decode(d.trim())
            .map_err(|e| bad(format!("{key}-data: {e}")))?;
        return Ok(Some(b));
    }
    let Some(f) = file else { return Ok(None) };
    let path = dir.join(f);
    std::fs::read(&path)
        .map(Some)
        .map_err(|e| bad(format!("{key} {}: {e}", path.display())))
}

impl KubeConfig {
    /// Parses a kubeconfig's YAML.
    pub fn parse(text: &str) -> Result<KubeConfig, KubernetesSdError> {
        serde_saphyr::from_str(text).map_err(|e| bad(e.to_string()))
    }

    /// Reads and resolves the current context of the kubeconfig at `path`.
    pub fn load(path: &str) -> Result<Resolved, KubernetesSdError> {
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("{path}: {e}")))?;
        let dir = Path::new(path)
            .parent()
            .map_or(PathBuf::from("."), Path::to_path_buf);
        KubeConfig::parse(&text)?.current(&dir)
    }

    /// Resolves the current context; relative file names are under `dir`.
    pub fn current(&self, dir: &Path) -> Result<Resolved, KubernetesSdError> {
        let name = &self.current_context;
        let ctx = self
            .contexts
            .iter()
            .find(|c| &c.name == name)
            .ok_or_else(|| {
                bad(format!(
                    "current-context {name:?} is not among the contexts"
                ))
            })?;
        let cname = &ctx.context.cluster;
        let cluster = self
            .clusters
            .iter()
            .find(|c| &c.name == cname)
            .map(|c| &c.cluster)
            .ok_or_else(|| bad(format!("cluster {cname:?} is not among the clusters")))?;
        let user = self
            .users
            .iter()
            .find(|u| u.name == ctx.context.user)
            .map(|u| u.user.clone())
            .unwrap_or_default();
        if user.exec.is_some() || user.auth_provider.is_some() {
            return Err(bad(format!(
                "user {:?}: exec and auth-provider credential plugins are not supported; use a token, a tokenFile or a client certificate",
                ctx.context.user
            )));
        }
        if cluster.server.is_empty() {
            return Err(bad(format!("cluster {cname:?} has no server")));
        }
        let mut b = reqwest::Client::builder()
            .user_agent(concat!("Argus/", env!("CARGO_PKG_VERSION")))
            .no_proxy();
        if let Some(p) = &cluster.proxy_url {
            let proxy = reqwest::Proxy::all(p).map_err(|e| bad(format!("proxy-url: {e}")))?;
            b = b.proxy(proxy);
        }
        let ca = material(
            dir,
            "certificate-authority",
            &cluster.certificate_authority,
            &cluster.certificate_authority_data,
        )?;
        let cert = material(
            dir,
            "client-certificate",
            &user.client_certificate,
            &user.client_certificate_data,
        )?;
        let key = material(dir, "client-key", &user.client_key, &user.client_key_data)?;
        let name = cluster.tls_server_name.as_deref().filter(|n| !n.is_empty());
        if let (Some(name), false) = (name, cluster.insecure_skip_tls_verify) {
            // The certificate is checked against this name, whatever the server's address.
            let identity = cert.as_deref().zip(key.as_deref());
            let tls = crate::scrape::tls::fixed_name_config(name, ca.as_deref(), identity)
                .map_err(bad)?;
            b = b.use_preconfigured_tls(tls);
        } else {
            if let Some(pem) = ca {
                let certs = reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| bad(format!("certificate-authority: {e}")))?;
                b = b.tls_built_in_root_certs(false);
                for c in certs {
                    b = b.add_root_certificate(c);
                }
            }
            if let (Some(mut pem), Some(key)) = (cert, key) {
                pem.push(b'\n');
                pem.extend(key);
                let id = reqwest::Identity::from_pem(&pem)
                    .map_err(|e| bad(format!("client-certificate: {e}")))?;
                b = b.identity(id);
            }
            if cluster.insecure_skip_tls_verify {
                b = b.danger_accept_invalid_certs(true);
            }
        }
        let client = b
            .build()
            .map_err(|e| bad(format!("cannot build the HTTP client: {e}")))?;
        let mut auth = HttpClientConfig::default();
        if let Some(t) = &user.token {
            auth.authorization = Some(Authorization {
                credentials: Some(t.clone()),
                ..Authorization::default()
            });
        } else if let Some(f) = &user.token_file {
            auth.bearer_token_file = Some(dir.join(f).display().to_string());
        } else if let Some(u) = &user.username {
            auth.basic_auth = Some(BasicAuth {
                username: u.clone(),
                password: user.password.clone(),
                ..BasicAuth::default()
            });
        }
        let namespace = match ctx.context.namespace.as_str() {
            "" => "default".to_string(),
            ns => ns.to_string(),
        };
        Ok(Resolved {
            server: cluster.server.clone(),
            namespace,
            auth,
            client,
        })
    }
}
