//! Signed sign-in cookies for the web UI.
//!
//! A cookie is `user.expiry.mac`: the user name (base64url), the expiry in
//! milliseconds and an HMAC-SHA256 of both under a key kept in the data
//! directory (`web-session.key`), so sign-ins survive a restart. The role is
//! looked up in the web configuration on every request, so a user removed
//! from the file is signed out at once.
//!
//! ```
//! use argus_auth::session::SessionKey;
//! let k = SessionKey::from_bytes([7; 32]);
//! let c = k.issue("alice", 10_000);
//! assert_eq!(k.verify(&c, 5_000).as_deref(), Some("alice"));
//! assert_eq!(k.verify(&c, 10_001), None);            // expired
//! assert_eq!(k.verify(&c.replacen(".10000.", ".99999.", 1), 5_000), None); // a longer life, forged
//! ```

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;

/// The cookie's name.
pub const COOKIE: &str = "argus_session";

/// How long a sign-in lasts.
pub const LIFETIME_MS: i64 = 12 * 3600 * 1000;

/// The key that signs cookies.
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(<secret>)")
    }
}

type Mac256 = Hmac<Sha256>;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

impl SessionKey {
    /// A key from raw bytes.
    pub fn from_bytes(b: [u8; 32]) -> SessionKey {
        SessionKey(b)
    }

    /// The key stored in `dir/web-session.key`, created (mode 0600) when missing.
    pub fn load_or_create(dir: &Path) -> std::io::Result<SessionKey> {
        let path = dir.join("web-session.key");
        match std::fs::read(&path) {
            Ok(b) if b.len() == 32 => {
                let mut k = [0; 32];
                k.copy_from_slice(&b);
                return Ok(SessionKey(k));
            }
            Ok(_) => {
                tracing::warn!(path = %path.display(), "The sign-in key file has the wrong size; making a new one (everyone signs in again).")
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).map_err(std::io::Error::other)?;
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join("web-session.key.tmp");
        {
            use std::io::Write;
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
            let mut f = o.open(&tmp)?;
            f.write_all(&k)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        Ok(SessionKey(k))
    }

    fn mac(&self, payload: &str) -> String {
        let mut m = <Mac256 as Mac>::new_from_slice(&self.0).expect("any key length");
        m.update(payload.as_bytes());
        B64.encode(m.finalize().into_bytes())
    }

    /// A cookie value for `user`, valid until `expires_ms`.
    pub fn issue(&self, user: &str, expires_ms: i64) -> String {
        let payload = format!("{}.{expires_ms}", B64.encode(user));
        let mac = self.mac(&payload);
        format!("{payload}.{mac}")
    }

    /// The user of a valid, unexpired cookie.
    pub fn verify(&self, cookie: &str, now_ms: i64) -> Option<String> {
        let (payload, mac) = cookie.rsplit_once('.')?;
        let want = self.mac(payload);
        // Compare in constant time.
        let ok = want.len() == mac.len()
            && want
                .bytes()
                .zip(mac.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !ok {
            return None;
        }
        let (user, exp) = payload.split_once('.')?;
        let exp: i64 = exp.parse().ok()?;
        if exp < now_ms {
            return None;
        }
        String::from_utf8(B64.decode(user).ok()?).ok()
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_survives_reopen_and_is_private() {
        let d = tempfile::tempdir().unwrap();
        let a = SessionKey::load_or_create(d.path()).unwrap();
        let b = SessionKey::load_or_create(d.path()).unwrap();
        assert_eq!(a.0, b.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(d.path().join("web-session.key")).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn tampering_fails() {
        let k = SessionKey::from_bytes([1; 32]);
        let c = k.issue("a.b", 100);
        assert_eq!(k.verify(&c, 0).as_deref(), Some("a.b"));
        let other = SessionKey::from_bytes([2; 32]);
        assert_eq!(other.verify(&c, 0), None);
        assert_eq!(k.verify("garbage", 0), None);
        let (p, _) = c.rsplit_once('.').unwrap();
        let longer = format!("{}.{}", p.replace(".100", ".999999"), "x");
        assert_eq!(k.verify(&longer, 0), None);
    }

    #[test]
    fn cookie_header_parsing() {
        assert_eq!(
            cookie_value("a=1; argus_session=xyz; b=2", COOKIE),
            Some("xyz")
        );
        assert_eq!(cookie_value("a=1", COOKIE), None);
    }
}
