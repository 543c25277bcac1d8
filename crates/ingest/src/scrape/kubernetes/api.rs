//! A small client of the Kubernetes API server: `LIST` of core/v1 objects,
//! following `continue` tokens, with the job's authentication and TLS
//! settings, or the pod's service account when `api_server` is not set.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use argus_ingest::scrape::kubernetes::{api::Api, objects::Pod, KubernetesSdConfig};
//! let sd: KubernetesSdConfig = serde_saphyr::from_str("role: pod\napi_server: http://127.0.0.1:8001\n")?;
//! let api = Api::new(&sd)?;
//! let pods: Vec<Pod> = api.list("pods", Some("default"), None, None).await?;
//! # Ok(()) }
//! ```

use super::KubernetesSdConfig;
use crate::scrape::http::{HttpClientConfig, HttpConfigError, TlsConfig};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Where a pod's service account credentials are mounted.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Objects asked for per request; more are fetched with `continue`.
const PAGE: &str = "500";

/// Why a discovery failed.
#[derive(Debug, thiserror::Error)]
pub enum KubernetesSdError {
    /// The entry cannot work (caught by validation first).
    #[error("{0}")]
    Config(String),
    /// No `api_server` and not running in a pod.
    #[error("api_server is not set and Argus does not run in a Kubernetes pod: {0}")]
    NotInCluster(String),
    /// A client setting or credentials file cannot be used.
    #[error(transparent)]
    Http(#[from] HttpConfigError),
    /// The request failed.
    #[error("GET {url}: {reason}")]
    Request {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The API server answered an error.
    #[error("GET {url}: HTTP status {status}: {body}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the answer.
        body: String,
    },
    /// The answer is not a Kubernetes list.
    #[error("GET {url}: not a Kubernetes object list: {reason}")]
    Decode {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
}

/// A client of one API server.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    http: HttpClientConfig,
    client: reqwest::Client,
    timeout: Duration,
    /// The kubeconfig context's namespace.
    namespace: Option<String>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ListMeta {
    #[serde(rename = "continue")]
    cont: Option<String>,
    resource_version: Option<String>,
}

/// One list of objects: a resource, in a namespace or in all, filtered by
/// label and field selectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// `pods`, `services`, `endpoints`, `endpointslices`, `ingresses` or `nodes`.
    pub resource: &'static str,
    /// The namespace, or `None` for all.
    pub namespace: Option<String>,
    /// `labelSelector`.
    pub label: Option<String>,
    /// `fieldSelector`.
    pub field: Option<String>,
}

impl Query {
    fn params(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(s) = &self.label {
            out.push(("labelSelector", s.clone()));
        }
        if let Some(s) = &self.field {
            out.push(("fieldSelector", s.clone()));
        }
        out
    }
}

/// The objects of a list by `namespace/name`, and its `resourceVersion`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listed {
    /// The objects.
    pub items: std::collections::BTreeMap<String, serde_json::Value>,
    /// Where a watch of the list starts.
    pub resource_version: String,
}

#[derive(serde::Deserialize)]
struct List {
    #[serde(default)]
    items: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    metadata: Option<ListMeta>,
}

impl Api {
    /// The client of `sd.api_server`, of the current context of
    /// `sd.kubeconfig_file`, or of the cluster Argus runs in
    /// (`KUBERNETES_SERVICE_HOST`/`_PORT` and the service account's token
    /// and CA certificate).
    pub fn new(sd: &KubernetesSdConfig) -> Result<Api, KubernetesSdError> {
        let timeout = sd.refresh_interval.0.max(Duration::from_secs(10));
        if let Some(path) = &sd.kubeconfig_file {
            let k = super::kubeconfig::KubeConfig::load(path)?;
            return Ok(Api {
                base: k.server.trim_end_matches('/').to_string(),
                http: k.auth,
                client: k.client,
                timeout,
                namespace: Some(k.namespace),
            });
        }
        let (base, http) = match &sd.api_server {
            Some(url) => (url.clone(), sd.http_client_config()),
            None => in_cluster()?,
        };
        let client = http.build_client()?;
        Ok(Api {
            base: base.trim_end_matches('/').to_string(),
            http,
            client,
            timeout,
            namespace: None,
        })
    }

    /// The namespace of `own_namespace: true`: the kubeconfig context's, or
    /// the one of the pod Argus runs in.
    pub fn own_namespace(&self) -> Result<String, KubernetesSdError> {
        match &self.namespace {
            Some(ns) => Ok(ns.clone()),
            None => own_namespace(),
        }
    }

    /// Lists every object of `resource` (`pods`, `services`, `endpoints`,
    /// `nodes`), in `namespace` or in all. Objects that do not decode as `T`
    /// are skipped (and logged).
    pub async fn list<T: DeserializeOwned>(
        &self,
        resource: &'static str,
        namespace: Option<&str>,
        label_selector: Option<&str>,
        field_selector: Option<&str>,
    ) -> Result<Vec<T>, KubernetesSdError> {
        let q = Query {
            resource,
            namespace: namespace.map(str::to_string),
            label: label_selector.map(str::to_string),
            field: field_selector.map(str::to_string),
        };
        let listed = self.list_raw(&q).await?;
        Ok(decode(resource, listed.items.values()))
    }

    fn url(&self, q: &Query) -> String {
        let group = match q.resource {
            "endpointslices" => "apis/discovery.k8s.io/v1",
            "ingresses" => "apis/networking.k8s.io/v1",
            _ => "api/v1",
        };
        match &q.namespace {
            Some(ns) => format!("{}/{group}/namespaces/{ns}/{}", self.base, q.resource),
            None => format!("{}/{group}/{}", self.base, q.resource),
        }
    }

    /// Lists the objects of `q`, following `continue` tokens.
    pub async fn list_raw(&self, q: &Query) -> Result<Listed, KubernetesSdError> {
        let url = self.url(q);
        let mut out = Listed::default();
        let mut cont: Option<String> = None;
        loop {
            let mut params = q.params();
            params.push(("limit", PAGE.to_string()));
            if let Some(c) = cont.take() {
                params.push(("continue", c));
            }
            let resp = self.send(&url, &params, self.timeout).await?;
            let body = resp.bytes().await.map_err(|e| KubernetesSdError::Request {
                url: url.clone(),
                reason: e.to_string(),
            })?;
            let list: List =
                serde_json::from_slice(&body).map_err(|e| KubernetesSdError::Decode {
                    url: url.clone(),
                    reason: e.to_string(),
                })?;
            for mut item in list.items.unwrap_or_default() {
                strip(&mut item);
                out.items.insert(object_key(&item), item);
            }
            let meta = list.metadata.unwrap_or_default();
            out.resource_version = meta.resource_version.unwrap_or_default();
            cont = meta.cont.filter(|c| !c.is_empty());
            if cont.is_none() {
                return Ok(out);
            }
        }
    }

    /// Watches the objects of `q` from `resource_version`, for at most `for_`.
    pub async fn watch(
        &self,
        q: &Query,
        resource_version: &str,
        for_: Duration,
    ) -> Result<Watch, KubernetesSdError> {
        let url = self.url(q);
        let mut params = q.params();
        params.push(("watch", "1".into()));
        params.push(("allowWatchBookmarks", "true".into()));
        params.push(("resourceVersion", resource_version.into()));
        params.push(("timeoutSeconds", for_.as_secs().max(1).to_string()));
        let resp = self
            .send(&url, &params, for_ + Duration::from_secs(30))
            .await?;
        Ok(Watch {
            url,
            resp,
            buf: Vec::new(),
            resource_version: resource_version.to_string(),
        })
    }

    /// Sends one GET; an answer other than 2xx is an error.
    async fn send(
        &self,
        url: &str,
        params: &[(&str, String)],
        timeout: Duration,
    ) -> Result<reqwest::Response, KubernetesSdError> {
        let err = |reason: String| KubernetesSdError::Request {
            url: url.to_string(),
            reason,
        };
        let mut req = self
            .client
            .get(url)
            .query(params)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(timeout);
        if let Some(h) = self.http.auth_header()? {
            req = req.header(reqwest::header::AUTHORIZATION, h);
        }
        let resp = req.send().await.map_err(|e| err(e.to_string()))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.bytes().await.unwrap_or_default();
        Err(KubernetesSdError::Status {
            url: url.to_string(),
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body).chars().take(200).collect(),
        })
    }
}

/// `namespace/name` of an object (`name` for cluster-wide objects).
pub fn object_key(o: &serde_json::Value) -> String {
    let get = |k: &str| {
        o.get("metadata")
            .and_then(|m| m.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or("")
    };
    format!("{}/{}", get("namespace"), get("name"))
}

/// Drops what discovery never reads and is large: `metadata.managedFields`.
fn strip(o: &mut serde_json::Value) {
    if let Some(m) = o.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        m.remove("managedFields");
    }
}

/// Decodes objects as `T`, skipping (and logging) those that do not decode.
pub fn decode<'a, T: DeserializeOwned>(
    resource: &str,
    items: impl Iterator<Item = &'a serde_json::Value>,
) -> Vec<T> {
    items
        .filter_map(|v| match T::deserialize(v) {
            Ok(o) => Some(o),
            Err(e) => {
                tracing::warn!(resource, object = %object_key(v), error = %e, "Kubernetes object skipped: it does not decode.");
                None
            }
        })
        .collect()
}

/// A change seen by a watch.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An object was added or changed.
    Put(String, serde_json::Value),
    /// An object was deleted.
    Delete(String),
    /// Nothing changed (a bookmark, or an event type Argus ignores).
    Nothing,
}

#[derive(serde::Deserialize)]
struct RawEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: serde_json::Value,
}

/// The longest watch line kept in memory.
const MAX_EVENT: usize = 64 << 20;

/// An open watch: one JSON event per line.
#[derive(Debug)]
pub struct Watch {
    url: String,
    resp: reqwest::Response,
    buf: Vec<u8>,
    resource_version: String,
}

impl Watch {
    /// The `resourceVersion` of the last event: where a new watch resumes.
    pub fn resource_version(&self) -> &str {
        &self.resource_version
    }

    /// The next event; `None` when the server ended the watch.
    pub async fn next(&mut self) -> Result<Option<Event>, KubernetesSdError> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return self.parse(&line).map(Some);
            }
            if self.buf.len() > MAX_EVENT {
                return Err(self.decode_error("a watch event longer than 64MiB".into()));
            }
            match self.resp.chunk().await {
                Ok(Some(c)) => self.buf.extend_from_slice(&c),
                Ok(None) if self.buf.iter().all(u8::is_ascii_whitespace) => return Ok(None),
                Ok(None) => {
                    let line = std::mem::take(&mut self.buf);
                    return self.parse(&line).map(Some);
                }
                Err(e) => {
                    return Err(KubernetesSdError::Request {
                        url: self.url.clone(),
                        reason: e.to_string(),
                    })
                }
            }
        }
    }

    fn decode_error(&self, reason: String) -> KubernetesSdError {
        KubernetesSdError::Decode {
            url: self.url.clone(),
            reason,
        }
    }

    fn parse(&mut self, line: &[u8]) -> Result<Event, KubernetesSdError> {
        let ev: RawEvent =
            serde_json::from_slice(line).map_err(|e| self.decode_error(e.to_string()))?;
        let rv = ev
            .object
            .get("metadata")
            .and_then(|m| m.get("resourceVersion"));
        if let Some(rv) = rv.and_then(|v| v.as_str()).filter(|_| ev.kind != "ERROR") {
            self.resource_version = rv.to_string();
        }
        match ev.kind.as_str() {
            "ADDED" | "MODIFIED" => {
                let mut o = ev.object;
                strip(&mut o);
                Ok(Event::Put(object_key(&o), o))
            }
            "DELETED" => Ok(Event::Delete(object_key(&ev.object))),
            "ERROR" => {
                let msg = ev.object.get("message").and_then(|m| m.as_str());
                Err(self.decode_error(format!("the watch failed: {}", msg.unwrap_or("no message"))))
            }
            _ => Ok(Event::Nothing),
        }
    }
}

/// The API server and credentials of the cluster Argus runs in.
fn in_cluster() -> Result<(String, HttpClientConfig), KubernetesSdError> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let (Some(host), Some(port)) = (
        var("KUBERNETES_SERVICE_HOST"),
        var("KUBERNETES_SERVICE_PORT"),
    ) else {
        return Err(KubernetesSdError::NotInCluster(
            "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set; set api_server"
                .into(),
        ));
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let http = HttpClientConfig {
        bearer_token_file: Some(format!("{SERVICE_ACCOUNT_DIR}/token")),
        tls_config: Some(TlsConfig {
            ca_file: Some(format!("{SERVICE_ACCOUNT_DIR}/ca.crt")),
            ..TlsConfig::default()
        }),
        follow_redirects: true,
        enable_http2: true,
        enable_compression: true,
        ..HttpClientConfig::default()
    };
    Ok((format!("https://{host}:{port}"), http))
}

/// The namespace of the pod Argus runs in (`own_namespace: true`).
pub fn own_namespace() -> Result<String, KubernetesSdError> {
    let path = format!("{SERVICE_ACCOUNT_DIR}/namespace");
    let ns = std::fs::read_to_string(&path).map_err(|e| {
        KubernetesSdError::NotInCluster(format!(
            "own_namespace: cannot read {path}: {e}; list the namespace in names instead"
        ))
    })?;
    Ok(ns.trim().to_string())
}
