//! The sign-in and sign-out pages, `GET /api/argus/v1/whoami` and
//! `GET /api/argus/v1/audit`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Form, Json, Router};
use serde::Deserialize;

use super::{Auth, Identity};

type St = State<Arc<Auth>>;

/// The sign-in routes and the identity and audit APIs.
pub fn router(auth: Arc<Auth>) -> Router {
    Router::new()
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", axum::routing::post(logout))
        .route("/api/argus/v1/whoami", get(whoami))
        .route("/api/argus/v1/audit", get(audit))
        .with_state(auth)
}

use argus_model::html::escape as html_escape;

/// Only pages of this server: no scheme, no `//host`, no backslashes.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/ui/".to_string(),
    }
}

fn page(next: &str, error: Option<&str>) -> String {
    let err = error
        .map(|e| format!("<p class=\"errors\" role=\"alert\">{}</p>", html_escape(e)))
        .unwrap_or_default();
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Argus</title>
<link rel="icon" href="/ui/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/ui/assets/app.css">
</head>
<body data-page="Sign in">
<header class="top"><a class="brand" href="/ui/">Argus</a></header>
<main id="main" class="signin">
<h1>Sign in</h1>
{err}
<form method="post" action="/ui/login">
<input type="hidden" name="next" value="{next}">
<p><label for="user">User name</label><br><input id="user" name="user" autocomplete="username" required autofocus></p>
<p><label for="password">Password</label><br><input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button></p>
</form>
</main>
</body>
</html>
"#,
        next = html_escape(next)
    )
}

fn no_store(status: StatusCode, html: String) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

#[derive(Deserialize)]
struct NextQ {
    next: Option<String>,
}

async fn login_page(State(auth): St, Query(q): Query<NextQ>) -> Response {
    if !auth.required() {
        return Redirect::to("/ui/").into_response();
    }
    no_store(StatusCode::OK, page(&safe_next(q.next.as_deref()), None))
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
    next: Option<String>,
}

async fn login(
    State(auth): St,
    remote: Option<Extension<axum::extract::ConnectInfo<super::RemoteAddr>>>,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    let remote = remote.map(|Extension(c)| c.0 .0);
    match auth.check_password(&f.user, &f.password).await {
        Some(id) => {
            auth.record(Some(&id), "sign-in".into(), 303, remote);
            let mut r = Redirect::to(&next).into_response();
            if let Ok(v) = auth.sign_in_cookie(&id.name).parse() {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        None => {
            auth.record(
                None,
                format!("sign-in failed for {:?}", f.user),
                401,
                remote,
            );
            no_store(
                StatusCode::UNAUTHORIZED,
                page(&next, Some("Wrong user name or password.")),
            )
        }
    }
}

async fn logout(State(auth): St, who: Option<Extension<Identity>>) -> Response {
    if let Some(Extension(id)) = &who {
        auth.record(Some(id), "sign-out".into(), 303, None);
    }
    let mut r = Redirect::to("/ui/login").into_response();
    if let Ok(v) = auth.sign_out_cookie().parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn whoami(State(auth): St, who: Option<Extension<Identity>>) -> Response {
    let (user, role) = match &who {
        Some(Extension(id)) => (Some(id.name.clone()), Some(id.role.as_str())),
        None => (None, None),
    };
    Json(serde_json::json!({
        "status": "success",
        "data": {"authRequired": auth.required(), "user": user, "role": role},
    }))
    .into_response()
}

#[derive(Deserialize)]
struct AuditQ {
    limit: Option<usize>,
}

async fn audit(State(auth): St, Query(q): Query<AuditQ>) -> Response {
    let n = q.limit.unwrap_or(100).min(10_000);
    let a = auth.clone();
    let entries = tokio::task::spawn_blocking(move || a.audit().tail(n))
        .await
        .unwrap_or_default();
    Json(serde_json::json!({"status": "success", "data": entries})).into_response()
}

/// Sets `createdBy` of a silence being created to the signed-in name. A body
/// that is not a JSON object is passed on untouched (the API answers it).
pub(crate) async fn stamp_silence_author(req: Request, user: &str) -> Request {
    let (parts, body) = req.into_parts();
    // Silences are small; the API's own body limit applies after this.
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return Request::from_parts(parts, Body::empty());
    };
    let stamped = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut m)) => {
            m.insert(
                "createdBy".into(),
                serde_json::Value::String(user.to_string()),
            );
            serde_json::to_vec(&m).ok()
        }
        _ => None,
    };
    let mut parts = parts;
    let body = match stamped {
        Some(b) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            Body::from(b)
        }
        None => Body::from(bytes),
    };
    Request::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_only_ever_local() {
        assert_eq!(safe_next(Some("/ui/alerts?x=1")), "/ui/alerts?x=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/ui/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/ui/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/ui/");
        assert_eq!(safe_next(None), "/ui/");
    }

    #[test]
    fn the_page_escapes_what_it_shows() {
        let p = page("/ui/\"><script>", Some("<b>"));
        assert!(!p.contains("<script>"));
        assert!(p.contains("&lt;b&gt;"));
    }
}
