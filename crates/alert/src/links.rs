//! Signed, expiring one-click links for acknowledge, resolve and silence.
//!
//! A link carries the action, its target (an alert fingerprint `a:<16 hex>` or a group key
//! `g:<key>`), the expiry (Unix seconds) and the recipient (the receiver it was sent to), plus
//! `sig` = base64url(HMAC-SHA256(key, fields)). The fields are length-prefixed before signing, so
//! no choice of label values can make two different links sign the same bytes. Verification is
//! constant-time. The server shows a confirmation page on `GET` and acts on `POST` (see
//! `docs/adr/0007-one-click-links.md`).
//!
//! ```
//! use argus_alert::links::{LinkAction, LinkError, LinkSigner, LinkTarget};
//! let s = LinkSigner::new(b"k3y", "https://argus.example", 3_600_000);
//! let t = LinkTarget::Alert(0xabc);
//! let url = s.url(LinkAction::Ack, &t, "team", 1_000_000);
//! assert!(url.starts_with("https://argus.example/api/argus/v1/link/ack?target=a%3A0000000000000abc"));
//! let q = argus_alert::links::LinkQuery::from_url(&url).unwrap();
//! assert_eq!(s.verify(&q, 2_000_000), Ok(()));
//! assert_eq!(s.verify(&q, 1_000_000 + 3_601_000), Err(LinkError::Expired));
//! let mut bad = q.clone();
//! bad.recipient = "mallory".into();
//! assert_eq!(s.verify(&bad, 2_000_000), Err(LinkError::BadSignature));
//! ```

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::{Path, PathBuf};

/// The path prefix of link endpoints; the action follows (`/api/argus/v1/link/ack`).
pub const LINK_PATH: &str = "/api/argus/v1/link";

/// The file, in the alert store's directory, that holds the generated key.
pub const SECRET_FILE: &str = "link.secret";

type HmacSha256 = Hmac<Sha256>;

/// What a link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkAction {
    /// Acknowledge: stops escalation.
    Ack,
    /// Resolve: marks the alert(s) resolved now.
    Resolve,
    /// Silence the alert's exact label set for `argus.links.silence_for`.
    Silence,
    /// Run a runbook for the alert's incident (or ask to, when it needs
    /// approval).
    Run,
}

impl LinkAction {
    /// The name used in URLs and history.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkAction::Ack => "ack",
            LinkAction::Resolve => "resolve",
            LinkAction::Silence => "silence",
            LinkAction::Run => "run",
        }
    }

    /// Parses [`LinkAction::as_str`].
    pub fn parse(s: &str) -> Option<LinkAction> {
        match s {
            "ack" => Some(LinkAction::Ack),
            "resolve" => Some(LinkAction::Resolve),
            "silence" => Some(LinkAction::Silence),
            "run" => Some(LinkAction::Run),
            _ => None,
        }
    }
}

/// What a link acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkTarget {
    /// One alert by fingerprint.
    Alert(u64),
    /// One aggregation group by group key.
    Group(String),
    /// A runbook, for the incident of one alert (by fingerprint).
    Runbook {
        /// The alert's fingerprint.
        alert: u64,
        /// The runbook's name.
        runbook: String,
    },
}

impl LinkTarget {
    /// `a:<16 hex>` or `g:<group key>`.
    pub fn encode(&self) -> String {
        match self {
            LinkTarget::Alert(fp) => format!("a:{fp:016x}"),
            LinkTarget::Group(k) => format!("g:{k}"),
            LinkTarget::Runbook { alert, runbook } => format!("r:{alert:016x}:{runbook}"),
        }
    }

    /// Parses [`LinkTarget::encode`].
    pub fn decode(s: &str) -> Option<LinkTarget> {
        if let Some(h) = s.strip_prefix("a:") {
            return u64::from_str_radix(h, 16).ok().map(LinkTarget::Alert);
        }
        if let Some(rest) = s.strip_prefix("r:") {
            let (fp, name) = rest.split_once(':')?;
            return Some(LinkTarget::Runbook {
                alert: u64::from_str_radix(fp, 16).ok()?,
                runbook: name.to_string(),
            })
            .filter(|_| !name.is_empty());
        }
        s.strip_prefix("g:")
            .map(|k| LinkTarget::Group(k.to_string()))
    }
}

/// Why a link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// A parameter is missing or malformed.
    #[error("malformed link: {0}")]
    Malformed(String),
    /// The signature does not match (tampered with, or signed with another key).
    #[error("this link's signature is not valid (it was altered, or the signing key changed)")]
    BadSignature,
    /// The link is past its expiry.
    #[error("this link has expired; use the API or a newer notification")]
    Expired,
    /// The key could not be read or created.
    #[error("link signing key {path}: {reason}")]
    Secret {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The signed fields of a link, as they come back in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkQuery {
    /// The action.
    pub action: LinkAction,
    /// The encoded target (see [`LinkTarget::encode`]).
    pub target: String,
    /// Expiry, Unix seconds.
    pub expires: i64,
    /// Who the link was sent to.
    pub recipient: String,
    /// base64url signature.
    pub sig: String,
}

impl LinkQuery {
    /// From the action and the query/form pairs `target`, `exp`, `to`, `sig`.
    pub fn from_pairs(action: &str, pairs: &[(String, String)]) -> Result<LinkQuery, LinkError> {
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| LinkError::Malformed(format!("missing parameter {k:?}")))
        };
        Ok(LinkQuery {
            action: LinkAction::parse(action)
                .ok_or_else(|| LinkError::Malformed(format!("unknown action {action:?}")))?,
            target: get("target")?,
            expires: get("exp")?
                .parse()
                .map_err(|_| LinkError::Malformed("parameter \"exp\" is not a number".into()))?,
            recipient: get("to")?,
            sig: get("sig")?,
        })
    }

    /// Parses a full link URL (used by tests and tools).
    pub fn from_url(url: &str) -> Result<LinkQuery, LinkError> {
        let u = reqwest::Url::parse(url).map_err(|e| LinkError::Malformed(e.to_string()))?;
        let action = u.path().rsplit('/').next().unwrap_or_default().to_string();
        let pairs: Vec<(String, String)> = u.query_pairs().into_owned().collect();
        LinkQuery::from_pairs(&action, &pairs)
    }
}

/// Signs and verifies links.
#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
    base_url: String,
    ttl_ms: i64,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkSigner")
            .field("base_url", &self.base_url)
            .field("ttl_ms", &self.ttl_ms)
            .finish_non_exhaustive()
    }
}

fn message(action: LinkAction, target: &str, expires: i64, recipient: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(64 + target.len() + recipient.len());
    m.extend_from_slice(b"argus-link-v1");
    let exp = expires.to_string();
    for f in [action.as_str(), target, exp.as_str(), recipient] {
        m.extend_from_slice(format!("\n{}:", f.len()).as_bytes());
        m.extend_from_slice(f.as_bytes());
    }
    m
}

impl LinkSigner {
    /// A signer with `key`, making links under `base_url` valid for `ttl_ms`.
    pub fn new(key: &[u8], base_url: &str, ttl_ms: i64) -> LinkSigner {
        LinkSigner {
            key: key.to_vec(),
            base_url: base_url.trim_end_matches('/').to_string(),
            ttl_ms,
        }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        <HmacSha256 as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!())
    }

    /// The base64url signature of the fields.
    pub fn sign(&self, action: LinkAction, target: &str, expires: i64, recipient: &str) -> String {
        let mut m = self.mac();
        m.update(&message(action, target, expires, recipient));
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
    }

    /// A link for `recipient`, produced at `now_ms`, expiring `ttl` later.
    pub fn url(
        &self,
        action: LinkAction,
        target: &LinkTarget,
        recipient: &str,
        now_ms: i64,
    ) -> String {
        let expires = (now_ms + self.ttl_ms).div_euclid(1000);
        let t = target.encode();
        let sig = self.sign(action, &t, expires, recipient);
        let base = format!("{}{LINK_PATH}/{}", self.base_url, action.as_str());
        match reqwest::Url::parse_with_params(
            &base,
            &[
                ("target", t.as_str()),
                ("exp", expires.to_string().as_str()),
                ("to", recipient),
                ("sig", sig.as_str()),
            ],
        ) {
            Ok(u) => u.to_string(),
            // An unparsable external URL: fall back to the unencoded form rather than no link.
            Err(_) => format!("{base}?target={t}&exp={expires}&to={recipient}&sig={sig}"),
        }
    }

    /// Checks the signature (constant time), then the expiry against `now_ms`.
    pub fn verify(&self, q: &LinkQuery, now_ms: i64) -> Result<(), LinkError> {
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(q.sig.trim_end_matches('='))
            .map_err(|_| LinkError::BadSignature)?;
        let mut m = self.mac();
        m.update(&message(q.action, &q.target, q.expires, &q.recipient));
        m.verify_slice(&sig).map_err(|_| LinkError::BadSignature)?;
        if now_ms.div_euclid(1000) >= q.expires {
            return Err(LinkError::Expired);
        }
        Ok(())
    }
}

/// The signing key: `links.secret`, else the contents of `links.secret_file`, else the key in
/// `dir/link.secret`, which is generated (256 random bits, hex, mode 0600) on first use.
pub fn resolve_secret(cfg: &crate::config::LinksConfig, dir: &Path) -> Result<Vec<u8>, LinkError> {
    if let Some(s) = cfg.secret.as_ref().filter(|s| !s.is_empty()) {
        return Ok(s.as_bytes().to_vec());
    }
    if let Some(f) = &cfg.secret_file {
        return read_key(Path::new(f));
    }
    load_or_create_secret(dir)
}

fn read_key(path: &Path) -> Result<Vec<u8>, LinkError> {
    let err = |reason: String| LinkError::Secret {
        path: path.to_path_buf(),
        reason,
    };
    let s = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let s = s.trim();
    if s.len() < 16 {
        return Err(err("the key is shorter than 16 characters".into()));
    }
    Ok(s.as_bytes().to_vec())
}

/// Reads `dir/link.secret`, creating it (mode 0600) with a fresh random key if absent.
pub fn load_or_create_secret(dir: &Path) -> Result<Vec<u8>, LinkError> {
    use std::io::Write;
    let path = dir.join(SECRET_FILE);
    let err = |reason: String| LinkError::Secret {
        path: path.clone(),
        reason,
    };
    std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(&path) {
        Ok(mut f) => {
            // Two v4 UUIDs: 244 random bits from the OS generator.
            let key = format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            f.write_all(key.as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| err(e.to_string()))?;
            Ok(key.into_bytes())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key(&path),
        Err(e) => Err(err(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_secret(dir.path()).unwrap();
        let b = load_or_create_secret(dir.path()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(dir.path().join(SECRET_FILE)).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o600);
        }
        let other = tempfile::tempdir().unwrap();
        assert_ne!(a, load_or_create_secret(other.path()).unwrap());
    }

    #[test]
    fn every_field_is_covered_by_the_signature() {
        let s = LinkSigner::new(b"secret-key", "http://a", 60_000);
        let url = s.url(
            LinkAction::Silence,
            &LinkTarget::Group("{}:{a=\"b\"}".into()),
            "r",
            0,
        );
        let q = LinkQuery::from_url(&url).unwrap();
        assert_eq!(q.target, "g:{}:{a=\"b\"}");
        assert_eq!(s.verify(&q, 1_000), Ok(()));
        let tweaks: [fn(&mut LinkQuery); 4] = [
            |q| q.action = LinkAction::Ack,
            |q| q.target.push('x'),
            |q| q.expires += 1,
            |q| q.recipient.push('x'),
        ];
        for t in tweaks {
            let mut b = q.clone();
            t(&mut b);
            assert_eq!(s.verify(&b, 1_000), Err(LinkError::BadSignature));
        }
        let other = LinkSigner::new(b"other-key", "http://a", 60_000);
        assert_eq!(other.verify(&q, 1_000), Err(LinkError::BadSignature));
        assert_eq!(s.verify(&q, 60_000), Err(LinkError::Expired));
    }
}
