//! Sign-in and roles over a real server: a web configuration file with bcrypt
//! users, roles and a bearer token; anonymous requests, each role's rights,
//! the signed-in name in silences, the alert history and the audit log, the
//! UI's sign-in cookie, the lifecycle and admin switches, and TLS.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_model::SystemClock;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const TOKEN: &str = "agent-token-0123456789abcdef";

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// alice (admin by default), bob (operator), vic (viewer); passwords are
/// the names followed by `-pw`; one writer token.
fn web_yml(extra: &str) -> String {
    let h = |u: &str| bcrypt::hash(format!("{u}-pw"), 4).unwrap();
    format!(
        "basic_auth_users:\n  alice: {}\n  bob: {}\n  vic: {}\nuser_roles:\n  bob: operator\n  vic: viewer\nbearer_tokens:\n  - name: agent-eu\n    sha256: {}\n    role: writer\n{extra}",
        h("alice"),
        h("bob"),
        h("vic"),
        sha256_hex(TOKEN)
    )
}

struct Srv {
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), argus_server::ServerError>>,
}

async fn start(dir: &std::path::Path, web: &str, scheme: &str, client: &Client) -> Srv {
    std::fs::write(dir.join("web.yml"), web).unwrap();
    std::fs::write(
        dir.join("alertmanager.yml"),
        "route: {receiver: none, group_wait: 1h}\nreceivers: [{name: none}]\n",
    )
    .unwrap();
    let yaml = "web:\n  config_file: web.yml\nalerting:\n  config_file: alertmanager.yml\n";
    std::fs::write(dir.join("argus.yml"), yaml).unwrap();
    let config = argus_server::config::Config::load(&dir.join("argus.yml")).expect("config");
    let listen: std::net::SocketAddr = format!("127.0.0.1:{}", common::free_port())
        .parse()
        .unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(argus_server::run(
        argus_server::ServerOptions {
            data_dir: dir.join("data"),
            listen,
            config,
            run_agent: false,
            config_path: None,
            alert_tx: None,
            write_gate: None,
        },
        Arc::new(SystemClock),
        async {
            let _ = rx.await;
        },
    ));
    let base = format!("{scheme}://127.0.0.1:{}", listen.port());
    let t0 = Instant::now();
    loop {
        let ok = client
            .get(format!("{base}/-/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ok {
            break;
        }
        assert!(!task.is_finished(), "the server stopped: {:?}", task.await);
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Srv { base, stop, task }
}

impl Srv {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

fn no_redirects() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_decide_and_the_signed_in_name_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let c = no_redirects();
    let s = start(dir.path(), &web_yml(""), "http", &c).await;
    let b = &s.base;
    let q = format!("{b}/api/v1/query?query=1");

    // Anonymous: probes answer; the API asks for credentials; pages go to sign-in.
    assert_eq!(
        c.get(format!("{b}/-/healthy"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = c.get(&q).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let r = c.get(format!("{b}/ui/alerts")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/ui/login?next=%2Fui%2Falerts");
    let r = c.get(format!("{b}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Wrong credentials.
    let r = c
        .get(&q)
        .basic_auth("bob", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = c.get(&q).bearer_auth("not-a-token").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // A viewer reads but changes nothing.
    let vic = |rb: reqwest::RequestBuilder| rb.basic_auth("vic", Some("vic-pw"));
    assert_eq!(vic(c.get(&q)).send().await.unwrap().status(), 200);
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "Hot", "isRegex": false}],
        "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
        "createdBy": "mallory", "comment": "maintenance"
    });
    let r = vic(c.post(format!("{b}/api/v2/silences")).json(&silence))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("vic (viewer)"),
        "{body}"
    );
    let r = vic(c
        .post(format!("{b}/api/v1/import/prometheus"))
        .body("x 1\n"))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The writer token sends data and alerts, and reads nothing.
    let r = c
        .post(format!("{b}/api/v1/import/prometheus"))
        .bearer_auth(TOKEN)
        .body("x 1\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "{:?}", r.text().await);
    let r = c
        .post(format!("{b}/api/v2/alerts"))
        .bearer_auth(TOKEN)
        .json(&json!([{"labels": {"alertname": "Hot", "room": "a"}}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        c.get(&q).bearer_auth(TOKEN).send().await.unwrap().status(),
        403
    );

    // An operator silences and acknowledges, under their own name whatever
    // the request claims.
    let bob = |rb: reqwest::RequestBuilder| rb.basic_auth("bob", Some("bob-pw"));
    let r = bob(c.post(format!("{b}/api/v2/silences")).json(&silence))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let id = r.json::<Value>().await.unwrap()["silenceID"]
        .as_str()
        .unwrap()
        .to_string();
    let got: Value = bob(c.get(format!("{b}/api/v2/silence/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["createdBy"], "bob");
    let alerts: Value = bob(c.get(format!("{b}/api/v2/alerts?silenced=true")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fp = alerts[0]["fingerprint"].as_str().unwrap().to_string();
    let r = bob(c.post(format!("{b}/api/v2/alerts/{fp}/ack")))
        .header("X-Argus-User", "mallory")
        .json(&json!({"who": "mallory", "comment": "looking"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let hist: Value = bob(c.get(format!("{b}/api/argus/v1/alert-history?type=actions")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(hist.to_string().contains("\"bob\""), "{hist}");
    assert!(!hist.to_string().contains("mallory"), "{hist}");

    // The lifecycle and admin APIs are off unless switched on, even for admins.
    let alice = |rb: reqwest::RequestBuilder| rb.basic_auth("alice", Some("alice-pw"));
    let r = alice(c.post(format!("{b}/-/reload"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = alice(c.post(format!("{b}/api/v1/admin/tsdb/compact")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);

    // The audit log: admins only; bob's silence and ack are in it, vic's refusal too.
    let r = bob(c.get(format!("{b}/api/argus/v1/audit")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let audit: Value = alice(c.get(format!("{b}/api/argus/v1/audit")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = audit["data"].as_array().unwrap();
    let has = |user: &str, action: &str, status: u64| {
        rows.iter().any(|e| {
            e["user"] == user
                && e["action"].as_str().unwrap().starts_with(action)
                && e["status"] == status
        })
    };
    assert!(has("bob", "POST /api/v2/silences", 200), "{audit}");
    assert!(
        has("bob", &format!("POST /api/v2/alerts/{fp}/ack"), 200),
        "{audit}"
    );
    assert!(has("vic", "POST /api/v2/silences", 403), "{audit}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_signs_in_with_a_cookie_and_signs_out() {
    let dir = tempfile::tempdir().unwrap();
    let c = no_redirects();
    let s = start(dir.path(), &web_yml(""), "http", &c).await;
    let b = &s.base;
    let r = c
        .get(format!("{b}/ui/login?next=/ui/alerts"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("name=\"password\""));

    let r = c
        .post(format!("{b}/ui/login"))
        .form(&[
            ("user", "bob"),
            ("password", "wrong"),
            ("next", "/ui/alerts"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get("set-cookie").is_none());

    let r = c
        .post(format!("{b}/ui/login"))
        .form(&[
            ("user", "bob"),
            ("password", "bob-pw"),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/ui/");
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();

    let r = c
        .get(format!("{b}/ui/alerts"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let who: Value = c
        .get(format!("{b}/api/argus/v1/whoami"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(who["data"]["user"], "bob");
    assert_eq!(who["data"]["role"], "operator");
    // A forged cookie is nobody.
    let forged = cookie.replace("Ym9i", "YWxpY2U"); // base64url of bob → alice
    let r = c
        .get(format!("{b}/api/v1/query?query=1"))
        .header("cookie", forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let r = c
        .post(format!("{b}/ui/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_https_with_the_configured_headers() {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    std::fs::write(dir.path().join("server.crt"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("server.key"), cert.key_pair.serialize_pem()).unwrap();
    let web = web_yml(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nhttp_server_config:\n  headers:\n    Strict-Transport-Security: max-age=31536000\n",
    );
    let c = Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let s = start(dir.path(), &web, "https", &c).await;
    let r = c
        .get(format!("{}/api/v1/query?query=1", s.base))
        .basic_auth("vic", Some("vic-pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    // Plain HTTP on the TLS port gets no answer it can read.
    let plain = s.base.replace("https://", "http://");
    assert!(Client::new()
        .get(format!("{plain}/-/healthy"))
        .send()
        .await
        .is_err());
    // A sign-in cookie over TLS is Secure.
    let r = c
        .post(format!("{}/ui/login", s.base))
        .form(&[("user", "vic"), ("password", "vic-pw")])
        .send()
        .await
        .unwrap();
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Secure"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_web_configuration_stops_the_start_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("web.yml"),
        "basic_auth_users:\n  alice: plaintext\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("argus.yml"),
        "web:\n  config_file: web.yml\n",
    )
    .unwrap();
    let config = argus_server::config::Config::load(&dir.path().join("argus.yml")).unwrap();
    let err = argus_server::run(
        argus_server::ServerOptions {
            data_dir: dir.path().join("data"),
            listen: format!("127.0.0.1:{}", common::free_port())
                .parse()
                .unwrap(),
            config,
            run_agent: false,
            config_path: None,
            alert_tx: None,
            write_gate: None,
        },
        Arc::new(SystemClock),
        std::future::pending(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("web.yml") && err.contains("not a bcrypt hash"),
        "{err}"
    );
}
