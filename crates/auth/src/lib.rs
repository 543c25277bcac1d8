//! Who may do what at the HTTP server: the web configuration file (TLS, basic-auth users with
//! roles, bearer tokens, headers, rate limit), sign-in for the web UI, the
//! switches of the lifecycle and admin APIs, and the audit log.
//!
//! - **Without a web configuration** (or with one that lists no users and
//!   no tokens) nothing asks for credentials, as in Prometheus; the
//!   lifecycle and admin APIs are still off unless switched on.
//! - **With users or tokens**, every request but the probes (`/-/healthy`,
//!   `/-/ready`), the sign-in page, the static files and the signed one-click
//!   links must authenticate: HTTP basic auth (bcrypt, checked once and then
//!   cached), `Authorization: Bearer <token>`, or the UI's sign-in cookie.
//!   Anonymous API calls get 401; anonymous page views go to the sign-in
//!   page. The role then decides ([`access::need`]): viewers read, operators
//!   also acknowledge, resolve and silence, writers only send data, admins
//!   do everything. Actions are recorded under the signed-in name (the
//!   alert history's "who", a silence's `createdBy`) and in the audit log.
//!
//! ```no_run
//! # async fn f() -> Result<(), argus_auth::AuthError> {
//! use argus_auth::{Auth, AuthSettings};
//! let auth = Auth::new(
//!     &AuthSettings { file: Some("web.yml".into()), enable_lifecycle: true, enable_admin_api: false },
//!     std::path::Path::new("./data"),
//!     std::sync::Arc::new(argus_model::SystemClock),
//! )?;
//! let app: axum::Router = axum::Router::new().layer(axum::middleware::from_fn_with_state(auth.clone(), argus_auth::layer));
//! # Ok(()) }
//! ```

pub mod access;
pub mod audit;
mod pages;
pub mod session;
pub mod tls;
mod types;
pub mod webconfig;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use argus_model::Clock;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use parking_lot::{Mutex, RwLock};
use sha2::{Digest, Sha256};

use access::{Gate, Need};
use webconfig::WebFile;

pub use pages::router;
pub use types::{AuthError, AuthSettings, Identity, RemoteAddr};

struct Loaded {
    file: Arc<WebFile>,
    /// Modification times of the web file and the TLS files.
    stamp: Vec<Option<SystemTime>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The authentication state shared by the middleware, the sign-in pages and
/// the TLS listener.
pub struct Auth {
    path: Option<PathBuf>,
    loaded: RwLock<Loaded>,
    checked: Mutex<Instant>,
    /// Credentials that passed bcrypt: SHA-256 of user, password and hash.
    verified: Mutex<HashSet<[u8; 32]>>,
    key: session::SessionKey,
    audit: audit::AuditLog,
    lifecycle: bool,
    admin_api: bool,
    bucket: Mutex<Bucket>,
    serves_tls: bool,
    clock: Arc<dyn Clock>,
    bcrypt_slots: tokio::sync::Semaphore,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("path", &self.path)
            .field("serves_tls", &self.serves_tls)
            .finish()
    }
}

fn file_stamp(path: &Option<PathBuf>, file: &WebFile) -> Vec<Option<SystemTime>> {
    let mut v: Vec<Option<SystemTime>> = vec![path
        .as_ref()
        .and_then(|p| std::fs::metadata(p).ok())
        .and_then(|m| m.modified().ok())];
    if let Some(t) = &file.tls_server_config {
        v.extend(tls::stamp(t));
    }
    v
}

fn load(path: &Option<PathBuf>) -> Result<Loaded, AuthError> {
    let file = match path {
        Some(p) => WebFile::load(p)?,
        None => WebFile::default(),
    };
    let tls = match &file.tls_server_config {
        Some(t) => Some(tokio_rustls::TlsAcceptor::from(Arc::new(
            tls::server_config(t, file.http_server_config.http2).map_err(|msg| AuthError::Tls {
                path: path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                msg,
            })?,
        ))),
        None => None,
    };
    Ok(Loaded {
        stamp: file_stamp(path, &file),
        file: Arc::new(file),
        tls,
    })
}

impl Auth {
    /// Loads the web configuration (if any), the sign-in key and the audit
    /// log from `data_dir`.
    pub fn new(
        s: &AuthSettings,
        data_dir: &Path,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Auth>, AuthError> {
        let loaded = load(&s.file)?;
        let files = |what: &'static str| {
            let dir = data_dir.display().to_string();
            move |source| AuthError::Files { what, dir, source }
        };
        let key =
            session::SessionKey::load_or_create(data_dir).map_err(files("the sign-in key"))?;
        let audit = audit::AuditLog::open(data_dir).map_err(files("the audit log"))?;
        let burst = loaded.file.rate_limit.as_ref().map_or(0, |r| r.burst);
        Ok(Arc::new(Auth {
            path: s.file.clone(),
            serves_tls: loaded.tls.is_some(),
            loaded: RwLock::new(loaded),
            checked: Mutex::new(Instant::now()),
            verified: Mutex::new(HashSet::new()),
            key,
            audit,
            lifecycle: s.enable_lifecycle,
            admin_api: s.enable_admin_api,
            bucket: Mutex::new(Bucket {
                tokens: f64::from(burst),
                at: Instant::now(),
            }),
            clock,
            bcrypt_slots: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
        }))
    }

    /// True when requests must authenticate.
    pub fn required(&self) -> bool {
        self.file().auth_required()
    }

    /// True when the server speaks TLS (decided at start).
    pub fn serves_tls(&self) -> bool {
        self.serves_tls
    }

    /// The web configuration in force.
    pub fn file(&self) -> Arc<WebFile> {
        self.loaded.read().file.clone()
    }

    /// The audit log.
    pub fn audit(&self) -> &audit::AuditLog {
        &self.audit
    }

    /// Reads the web configuration again when it or a certificate changed,
    /// at most once a second. A file that no longer loads keeps the old one
    /// in force (and says so in the log).
    pub fn refresh(&self) {
        let Some(path) = &self.path else { return };
        {
            let mut c = self.checked.lock();
            if c.elapsed().as_millis() < 1000 {
                return;
            }
            *c = Instant::now();
        }
        let now = file_stamp(&self.path, &self.loaded.read().file);
        if now == self.loaded.read().stamp {
            return;
        }
        match load(&self.path) {
            Ok(new) => {
                if new.tls.is_some() != self.serves_tls {
                    tracing::error!(path = %path.display(), "The web configuration now turns TLS on or off; that takes a restart. The old configuration stays in force.");
                    self.loaded.write().stamp = now;
                    return;
                }
                self.verified.lock().clear();
                *self.loaded.write() = new;
                tracing::info!(path = %path.display(), "Reloaded the web configuration.");
            }
            Err(e) => {
                tracing::error!(error = %e, "The changed web configuration does not load; the old one stays in force.");
                self.loaded.write().stamp = now;
            }
        }
    }

    fn take_token(&self) -> bool {
        let file = self.file();
        let Some(r) = file
            .rate_limit
            .as_ref()
            .filter(|r| r.interval.as_millis() > 0)
        else {
            return true;
        };
        let mut b = self.bucket.lock();
        let per_sec = 1000.0 / r.interval.as_millis() as f64;
        let now = Instant::now();
        b.tokens =
            (b.tokens + now.duration_since(b.at).as_secs_f64() * per_sec).min(f64::from(r.burst));
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Checks a user name and password against the file (bcrypt, cached).
    pub async fn check_password(&self, user: &str, password: &str) -> Option<Identity> {
        let file = self.file();
        let hash = file.basic_auth_users.get(user)?.clone();
        let role = file.role_of(user)?;
        let mut h = Sha256::new();
        for part in [user, password, &hash] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        let digest: [u8; 32] = h.finalize().into();
        if !self.verified.lock().contains(&digest) {
            let _slot = self.bcrypt_slots.acquire().await.ok()?;
            let pw = password.to_string();
            let ok =
                tokio::task::spawn_blocking(move || bcrypt::verify(pw, &hash).unwrap_or(false))
                    .await
                    .unwrap_or(false);
            if !ok {
                return None;
            }
            let mut v = self.verified.lock();
            if v.len() >= 4096 {
                v.clear();
            }
            v.insert(digest);
        }
        Some(Identity {
            name: user.to_string(),
            role,
        })
    }

    fn check_token(&self, token: &str) -> Option<Identity> {
        let got = hex(&Sha256::digest(token.as_bytes()));
        let file = self.file();
        let mut found = None;
        for t in &file.bearer_tokens {
            // Look at every token, comparing in constant time.
            let want = t.sha256.to_ascii_lowercase();
            let same = want.len() == got.len()
                && want
                    .bytes()
                    .zip(got.bytes())
                    .fold(0u8, |a, (x, y)| a | (x ^ y))
                    == 0;
            if same {
                found = Some(Identity {
                    name: t.name.clone(),
                    role: t.role,
                });
            }
        }
        found
    }

    /// The user of a valid sign-in cookie who is still in the file.
    fn check_cookie(&self, value: &str) -> Option<Identity> {
        let user = self.key.verify(value, self.clock.now_ms())?;
        let role = self.file().role_of(&user)?;
        Some(Identity { name: user, role })
    }

    /// A `Set-Cookie` value that signs `user` in.
    pub fn sign_in_cookie(&self, user: &str) -> String {
        let v = self
            .key
            .issue(user, self.clock.now_ms() + session::LIFETIME_MS);
        let secure = if self.serves_tls { "; Secure" } else { "" };
        format!(
            "{}={v}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            session::COOKIE,
            session::LIFETIME_MS / 1000
        )
    }

    /// A `Set-Cookie` value that signs out.
    pub fn sign_out_cookie(&self) -> String {
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
            session::COOKIE
        )
    }

    /// Records one action in the audit log.
    pub fn record(
        &self,
        who: Option<&Identity>,
        action: String,
        status: u16,
        remote: Option<SocketAddr>,
    ) {
        self.audit.append(&audit::Entry {
            ts_ms: self.clock.now_ms(),
            user: who.map_or_else(|| "anonymous".to_string(), |i| i.name.clone()),
            role: who.map(|i| i.role.as_str().to_string()).unwrap_or_default(),
            action,
            status,
            remote: remote.map(|a| a.to_string()).unwrap_or_default(),
        });
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl tls::AcceptorSource for Auth {
    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        self.refresh();
        self.loaded
            .read()
            .tls
            .clone()
            .expect("the TLS listener runs only when TLS is configured")
    }
}

/// Serves `app` on `listener`, over TLS when the web configuration asks for
/// it, until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    auth: Arc<Auth>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if auth.serves_tls() {
        let l = tls::TlsListener::new(listener, auth)?;
        axum::serve(l, app.into_make_service_with_connect_info::<RemoteAddr>())
            .with_graceful_shutdown(shutdown)
            .await
    } else {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<RemoteAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

fn refuse(status: StatusCode, msg: String) -> Response {
    let mut r = (
        status,
        axum::Json(
            serde_json::json!({"status": "error", "errorType": error_type(status), "error": msg}),
        ),
    )
        .into_response();
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn error_type(s: StatusCode) -> &'static str {
    match s {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        _ => "unavailable",
    }
}

fn unauthorized(msg: &str) -> Response {
    let mut r = refuse(StatusCode::UNAUTHORIZED, msg.to_string());
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"Argus\", charset=\"UTF-8\""),
    );
    r
}

/// Who the request's credentials name: `Ok(None)` when it carries none,
/// `Err` when they are wrong.
async fn identify(
    auth: &Auth,
    headers: &axum::http::HeaderMap,
) -> Result<Option<Identity>, &'static str> {
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let v = v.to_str().map_err(|_| "malformed Authorization header")?;
        let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
        return if scheme.eq_ignore_ascii_case("basic") {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .map_err(|_| "malformed basic credentials")?;
            let raw = String::from_utf8(raw).map_err(|_| "malformed basic credentials")?;
            let (user, pw) = raw.split_once(':').ok_or("malformed basic credentials")?;
            auth.check_password(user, pw)
                .await
                .map(Some)
                .ok_or("wrong user name or password")
        } else if scheme.eq_ignore_ascii_case("bearer") {
            auth.check_token(rest.trim())
                .map(Some)
                .ok_or("unknown bearer token")
        } else {
            Err("unsupported Authorization scheme (Basic or Bearer)")
        };
    }
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| session::cookie_value(h, session::COOKIE));
    Ok(cookie.and_then(|c| auth.check_cookie(c)))
}

fn wants_page(req: &Request) -> bool {
    let p = req.uri().path();
    req.method() == "GET" && (p == "/" || p == "/ui" || p.starts_with("/ui/"))
}

/// The middleware: rate limit, API switches, authentication, roles, the
/// signed-in name on the request, the audit log and the configured headers.
pub async fn layer(State(auth): State<Arc<Auth>>, mut req: Request, next: Next) -> Response {
    auth.refresh();
    let remote = req
        .extensions()
        .get::<ConnectInfo<RemoteAddr>>()
        .map(|c| c.0 .0);
    if !auth.take_token() {
        return refuse(StatusCode::TOO_MANY_REQUESTS, "too many requests".into());
    }
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    match access::gate(&path) {
        Some(Gate::Lifecycle) if !auth.lifecycle => {
            return refuse(
                StatusCode::FORBIDDEN,
                "the lifecycle API is not enabled; start Argus with --web.enable-lifecycle (or send SIGHUP to reload)".into(),
            )
        }
        Some(Gate::Admin) if !auth.admin_api => {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "admin APIs disabled; start Argus with --web.enable-admin-api".into(),
            )
        }
        _ => {}
    }
    let file = auth.file();
    let need = access::need(&method, &path);
    let who = if file.auth_required() {
        let headers = req.headers().clone();
        let who = match identify(&auth, &headers).await {
            Ok(w) => w,
            Err(why) => {
                if need != Need::Open {
                    if matches!(need, Need::Operate | Need::Admin) {
                        auth.record(None, format!("{method} {path}"), 401, remote);
                    }
                    return unauthorized(why);
                }
                None
            }
        };
        match (&who, need) {
            (_, Need::Open) => {}
            (None, _) if wants_page(&req) => {
                let next = req.uri().path_and_query().map_or("/ui/", |p| p.as_str());
                let to = format!("/ui/login?next={}", argus_model::url::percent_encode(next));
                return Redirect::to(&to).into_response();
            }
            (None, _) => {
                return unauthorized("sign in: basic auth, a bearer token or the sign-in page")
            }
            (Some(id), need) if !need.allowed(id.role) => {
                if !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS") {
                    auth.record(Some(id), format!("{method} {path}"), 403, remote);
                }
                return refuse(
                    StatusCode::FORBIDDEN,
                    format!(
                        "signed in as {} ({}), who may not {}",
                        id.name,
                        id.role.as_str(),
                        need.describe()
                    ),
                );
            }
            _ => {}
        }
        who
    } else {
        None
    };
    if let Some(id) = &who {
        // The signed-in name is who acted, whatever the client claims.
        if let Ok(v) = HeaderValue::from_str(&id.name) {
            req.headers_mut().insert("x-argus-user", v);
        }
        req.extensions_mut().insert(id.clone());
        if method == "POST" && path == "/api/v2/silences" {
            req = pages::stamp_silence_author(req, &id.name).await;
        }
    }
    let mut resp = next.run(req).await;
    if matches!(need, Need::Operate | Need::Admin) && who.is_some() {
        auth.record(
            who.as_ref(),
            format!("{method} {path}"),
            resp.status().as_u16(),
            remote,
        );
    }
    for (name, value) in &file.http_server_config.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            resp.headers_mut().insert(n, v);
        }
    }
    resp
}
