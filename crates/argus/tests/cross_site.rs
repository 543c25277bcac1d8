//! Cross-site writes and DNS rebinding, against the real binary: what a page
//! on another site could do before (create silences, ack, inject alerts,
//! reload, import data with "simple" text/plain or form posts) now gets 403;
//! a `Host` that is not a loopback name gets 421 from a loopback server;
//! clients that send no `Origin` (curl, agents, amtool) work as before.

mod common;

use common::ArgusProc;

const EVIL: &str = "http://evil.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_cross_site_writes_are_refused_and_same_origin_ones_served() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let p = ArgusProc::start("server", &data, &[]);
    let c = reqwest::Client::new();
    let silence = r#"{"matchers":[{"name":"alertname","value":"X","isRegex":false}],"startsAt":"2020-01-01T00:00:00Z","endsAt":"2099-01-01T00:00:00Z","createdBy":"evil","comment":"x"}"#;
    let alerts = r#"[{"labels":{"alertname":"Injected"}}]"#;
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let import = format!("injected_metric 1 {}\n", now_s * 1000);
    let writes: Vec<(&str, String, &str)> = vec![
        ("/api/v2/silences", silence.to_string(), "text/plain"),
        ("/api/v2/alerts", alerts.to_string(), "text/plain"),
        ("/api/v1/import/prometheus", import.clone(), "text/plain"),
        (
            "/api/v1/admin/tsdb/compact",
            String::new(),
            "application/x-www-form-urlencoded",
        ),
        (
            "/-/reload",
            String::new(),
            "application/x-www-form-urlencoded",
        ),
    ];
    for (path, body, ctype) in &writes {
        let r = c
            .post(p.url(path))
            .header("Origin", EVIL)
            .header("Content-Type", *ctype)
            .body(body.clone())
            .send()
            .await
            .expect("send");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        assert_eq!(status, 403, "{path}: {text}");
        assert!(text.contains("cross-site request refused"), "{text}");
    }
    // Nothing happened: no silence, no alert, no series.
    let s: serde_json::Value = c
        .get(p.url("/api/v2/silences"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(s.as_array().map(Vec::len), Some(0), "{s}");
    let a: serde_json::Value = c
        .get(p.url("/api/v2/alerts"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(a.as_array().map(Vec::len), Some(0), "{a}");

    // A browser that hides the origin but says the request is cross-site.
    let r = c
        .post(p.url("/api/v2/silences"))
        .header("Sec-Fetch-Site", "cross-site")
        .header("Content-Type", "application/json")
        .body(silence)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 403);

    // The same from Argus's own origin, and from a client with no Origin, is served.
    let own = p.url("");
    let r = c
        .post(p.url("/api/v2/silences"))
        .header("Origin", own.trim_end_matches('/'))
        .header("Content-Type", "application/json")
        .body(silence)
        .send()
        .await
        .expect("send");
    assert_eq!(
        r.status().as_u16(),
        200,
        "{}",
        r.text().await.unwrap_or_default()
    );
    let r = c
        .post(p.url("/api/v1/import/prometheus"))
        .body(import)
        .send()
        .await
        .expect("send");
    assert!(r.status().is_success(), "{}", r.status());

    // Reads from any page are answered (a page cannot read them without CORS).
    let r = c
        .get(p.url("/api/v1/query?query=1"))
        .header("Origin", EVIL)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loopback_server_refuses_rebound_host_names_and_sends_security_headers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let p = ArgusProc::start("server", &data, &[]);
    let c = reqwest::Client::new();
    let r = c
        .get(p.url("/api/v1/status/config"))
        .header("Host", format!("rebound.example:{}", p.port))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 421);
    let r = c
        .get(p.url("/ui/"))
        .header("Host", format!("localhost:{}", p.port))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let h = r.headers();
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
}
