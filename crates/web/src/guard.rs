//! Guards in front of every route: no cross-site writes, no DNS rebinding,
//! and security headers on every answer.
//!
//! - **Cross-site writes.** A browser marks what it sends with `Origin` (and
//!   `Sec-Fetch-Site`). A request that changes something (any method but
//!   `GET`, `HEAD` and `OPTIONS`) from a page of another origin is refused
//!   with 403, whatever its content type: a "simple" `text/plain` or form
//!   post from `http://evil.example` can no longer create a silence, ack an
//!   alert, inject alerts, reload or import data. Same-origin requests (the
//!   UI, the one-click link pages) and clients that are not browsers (no
//!   `Origin`: curl, Prometheus, amtool, agents) pass. Origins listed in
//!   `web.allowed_origins`, and that of `rules.external_url`, pass too.
//! - **DNS rebinding.** When Argus listens on a loopback address only, a
//!   request whose `Host` names anything but a loopback host (`localhost`,
//!   `127.0.0.1`, `[::1]`), this machine's host name, the external URL's
//!   host or a name in `web.allowed_hosts` is refused with 421: a page on a
//!   domain rebound to 127.0.0.1 cannot reach it. `/-/healthy` and
//!   `/-/ready` answer whatever the host.
//! - **Headers.** Every answer carries `X-Content-Type-Options: nosniff`,
//!   `X-Frame-Options: DENY` and `Referrer-Policy: no-referrer` (one-click
//!   links carry signed tokens); HTML pages carry a `Content-Security-Policy`
//!   that allows only Argus's own scripts and no framing.
//!
//! ```
//! use argus_web::guard::{Guard, Verdict};
//! let g = Guard::new("127.0.0.1:9797".parse().unwrap(), None, &[], &[]);
//! assert_eq!(g.check("POST", Some("127.0.0.1:9797"), Some("http://evil.example"), None), Verdict::CrossSite("http://evil.example".into()));
//! assert_eq!(g.check("POST", Some("127.0.0.1:9797"), Some("http://127.0.0.1:9797"), None), Verdict::Pass);
//! assert_eq!(g.check("POST", Some("127.0.0.1:9797"), None, None), Verdict::Pass);
//! assert_eq!(g.check("GET", Some("rebound.example:9797"), None, None), Verdict::Host("rebound.example".into()));
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The Content-Security-Policy of HTML pages.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// What the guard decided about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it.
    Pass,
    /// A write from another origin (the origin, as sent).
    CrossSite(String),
    /// A `Host` that a loopback-only server does not answer to (the host).
    Host(String),
}

/// The guard's settings, fixed at start.
#[derive(Debug, Clone)]
pub struct Guard {
    loopback_only: bool,
    hosts: Vec<String>,
    origins: Vec<String>,
}

/// `scheme://host[:port]` of a URL, lower-cased, without a trailing slash or path.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    (!authority.is_empty()).then(|| format!("{}://{}", scheme, authority).to_ascii_lowercase())
}

/// The host part of a `Host` header or authority (no port, no brackets).
fn host_name(authority: &str) -> String {
    let a = authority.trim().to_ascii_lowercase();
    if let Some(rest) = a.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_string();
    }
    match a.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h.to_string(),
        _ => a,
    }
}

fn is_loopback_name(h: &str) -> bool {
    h == "localhost"
        || h.ends_with(".localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Guard {
    /// A guard for a server listening on `listen`, reached at `external_url`
    /// (if set), with the extra hosts and origins of the `web:` section.
    pub fn new(
        listen: SocketAddr,
        external_url: Option<&str>,
        allowed_hosts: &[String],
        allowed_origins: &[String],
    ) -> Guard {
        let mut hosts: Vec<String> = allowed_hosts.iter().map(|h| host_name(h)).collect();
        // This machine's own name often resolves to a loopback address (/etc/hosts).
        hosts.push(argus_model::host::hostname().to_ascii_lowercase());
        let mut origins: Vec<String> = allowed_origins
            .iter()
            .map(|o| origin_of(o).unwrap_or_else(|| o.to_ascii_lowercase()))
            .collect();
        if let Some(o) = external_url.and_then(origin_of) {
            if let Some((_, authority)) = o.split_once("://") {
                hosts.push(host_name(authority));
            }
            origins.push(o);
        }
        Guard {
            loopback_only: listen.ip().is_loopback(),
            hosts,
            origins,
        }
    }

    /// Decides on a request from its method and headers.
    pub fn check(
        &self,
        method: &str,
        host: Option<&str>,
        origin: Option<&str>,
        fetch_site: Option<&str>,
    ) -> Verdict {
        if self.loopback_only {
            if let Some(h) = host.map(host_name) {
                if !is_loopback_name(&h) && !self.hosts.contains(&h) {
                    return Verdict::Host(h);
                }
            }
        }
        if matches!(method, "GET" | "HEAD" | "OPTIONS") {
            return Verdict::Pass;
        }
        match origin {
            // Chromium sends `Origin: null` for its own form posts under
            // `Referrer-Policy: no-referrer`; `Sec-Fetch-Site`, which no page
            // can set, still says whether the post came from this site.
            Some("null") if fetch_site == Some("same-origin") => Verdict::Pass,
            Some(o) => {
                let o_norm = origin_of(o);
                let same = match (&o_norm, host) {
                    (Some(on), Some(h)) => on
                        .split_once("://")
                        .is_some_and(|(_, auth)| auth == h.trim().to_ascii_lowercase()),
                    _ => false,
                };
                let listed = o_norm.as_ref().is_some_and(|on| self.origins.contains(on));
                if same || listed {
                    Verdict::Pass
                } else {
                    Verdict::CrossSite(o.to_string())
                }
            }
            // No Origin: not a browser, or a browser that says where it came from.
            None if fetch_site == Some("cross-site") => Verdict::CrossSite("(unnamed)".into()),
            None => Verdict::Pass,
        }
    }
}

/// The middleware: refuses what [`Guard::check`] refuses and adds the headers.
pub async fn layer(State(g): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let h = req.headers();
    let text = |name: header::HeaderName| h.get(name).and_then(|v| v.to_str().ok());
    // Probes (load balancers, supervisors) may name any host: they reveal nothing.
    let probe = matches!(req.uri().path(), "/-/healthy" | "/-/ready");
    let verdict = g.check(
        req.method().as_str(),
        if probe { None } else { text(header::HOST) },
        text(header::ORIGIN),
        h.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
    );
    let mut resp = match verdict {
        Verdict::Pass => next.run(req).await,
        Verdict::CrossSite(o) => {
            tracing::warn!(origin = %o, method = %req.method(), path = %req.uri().path(), "Refused a cross-site request that would change something.");
            (
                StatusCode::FORBIDDEN,
                format!("cross-site request refused: a page at {o} may not change anything here; send it from Argus's own pages, without an Origin header (curl, agents), or add the origin to web.allowed_origins\n"),
            )
                .into_response()
        }
        Verdict::Host(host) => (
            StatusCode::MISDIRECTED_REQUEST,
            format!("this server answers only to loopback host names, not {host:?}; add the name to web.allowed_hosts or set rules.external_url\n"),
        )
            .into_response(),
    };
    // Defaults: headers set inside (the web configuration's
    // `http_server_config.headers`) are kept.
    let hs = resp.headers_mut();
    hs.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    hs.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    hs.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    let html = hs
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/html"));
    if html {
        hs.entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static(CSP));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g() -> Guard {
        Guard::new(
            "127.0.0.1:9797".parse().unwrap(),
            Some("https://argus.example.com/prefix"),
            &["argus.lan".into()],
            &["https://grafana.example.com".into()],
        )
    }

    #[test]
    fn simple_cross_site_posts_are_refused_whatever_their_content_type() {
        let v = g().check(
            "POST",
            Some("127.0.0.1:9797"),
            Some("http://evil.example"),
            None,
        );
        assert_eq!(v, Verdict::CrossSite("http://evil.example".into()));
        let v = g().check("DELETE", Some("localhost:9797"), Some("null"), None);
        assert!(matches!(v, Verdict::CrossSite(_)));
        let v = g().check(
            "POST",
            Some("localhost:9797"),
            Some("null"),
            Some("cross-site"),
        );
        assert!(matches!(v, Verdict::CrossSite(_)));
        // A same-site form post under no-referrer: Origin null, but the browser says same-origin.
        let v = g().check(
            "POST",
            Some("localhost:9797"),
            Some("null"),
            Some("same-origin"),
        );
        assert_eq!(v, Verdict::Pass);
        let v = g().check("POST", Some("localhost:9797"), None, Some("cross-site"));
        assert!(matches!(v, Verdict::CrossSite(_)));
    }

    #[test]
    fn same_origin_listed_origins_and_non_browsers_pass() {
        let g = g();
        assert_eq!(
            g.check(
                "POST",
                Some("localhost:9797"),
                Some("http://localhost:9797"),
                Some("same-origin")
            ),
            Verdict::Pass
        );
        assert_eq!(
            g.check(
                "POST",
                Some("argus.example.com"),
                Some("https://argus.example.com"),
                None
            ),
            Verdict::Pass
        );
        assert_eq!(
            g.check(
                "POST",
                Some("127.0.0.1:9797"),
                Some("https://grafana.example.com"),
                None
            ),
            Verdict::Pass
        );
        assert_eq!(
            g.check("POST", Some("127.0.0.1:9797"), None, None),
            Verdict::Pass
        );
        // Reads pass from anywhere (the answer is not readable cross-site without CORS).
        assert_eq!(
            g.check(
                "GET",
                Some("127.0.0.1:9797"),
                Some("http://evil.example"),
                None
            ),
            Verdict::Pass
        );
        // A different port is a different origin.
        assert!(matches!(
            g.check(
                "POST",
                Some("localhost:9797"),
                Some("http://localhost:8080"),
                None
            ),
            Verdict::CrossSite(_)
        ));
    }

    #[test]
    fn a_loopback_server_answers_only_loopback_and_configured_names() {
        let g = g();
        for ok in [
            "127.0.0.1:9797",
            "localhost",
            "[::1]:9797",
            "app.localhost:1",
            "argus.lan:9797",
            "argus.example.com",
        ] {
            assert_eq!(g.check("GET", Some(ok), None, None), Verdict::Pass, "{ok}");
        }
        assert_eq!(
            g.check("GET", Some("attacker.example:9797"), None, None),
            Verdict::Host("attacker.example".into())
        );
        // Listening beyond loopback: any Host (auth protects those servers).
        let open = Guard::new("0.0.0.0:9797".parse().unwrap(), None, &[], &[]);
        assert_eq!(
            open.check("GET", Some("argus.corp:9797"), None, None),
            Verdict::Pass
        );
    }

    #[test]
    fn origins_and_hosts_are_parsed_strictly() {
        assert_eq!(
            origin_of("https://a.b:1/x?y").as_deref(),
            Some("https://a.b:1")
        );
        assert_eq!(
            origin_of("HTTP://User:pw@A.B/").as_deref(),
            Some("http://a.b")
        );
        assert_eq!(origin_of("null"), None);
        assert_eq!(host_name("[::1]:80"), "::1");
        assert_eq!(host_name("Example.COM:443"), "example.com");
    }
}
