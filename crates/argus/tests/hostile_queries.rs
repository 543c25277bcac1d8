//! Queries and rules built to crash the server: each used to abort the
//! process (stack overflow, or an allocation of hundreds of gigabytes). Now
//! each gets a clear 4xx and the server stays up; a rule file carrying such
//! an expression is refused by `argus check config` with its line.

mod common;

use common::ArgusProc;
use std::process::Command;

/// GETs `path` with `params`; returns the status and the body.
async fn get(
    c: &reqwest::Client,
    p: &ArgusProc,
    path: &str,
    params: &[(&str, &str)],
) -> (u16, String) {
    let r = c
        .get(p.url(path))
        .query(params)
        .send()
        .await
        .expect("the server answers");
    (r.status().as_u16(), r.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_queries_get_errors_and_the_server_stays_up() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let p = ArgusProc::start("server", &data, &[]);
    let c = reqwest::Client::new();

    let long_sum = vec!["1"; 2000].join("+"); // 4 KB: fits in a GET from an <img>
    let deep_call = format!("{}1{}", "abs(".repeat(1500), ")".repeat(1500));
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("/api/v1/query", long_sum.clone(), 400, "levels deep"),
        ("/api/v1/query", deep_call.clone(), 400, "levels deep"),
        ("/api/v1/format_query", long_sum.clone(), 400, "levels deep"),
        (
            "/api/v1/format_query",
            deep_call.clone(),
            400,
            "levels deep",
        ),
        (
            "/api/v1/query_exemplars",
            long_sum.clone(),
            400,
            "levels deep",
        ),
        (
            "/api/v1/query",
            "count_over_time(vector(1)[30d:1ms])".into(),
            422,
            "subquery would evaluate",
        ),
        (
            "/api/v1/query",
            "count_over_time(vector(1)[3d:1ms])".into(),
            422,
            "subquery would evaluate",
        ),
    ];
    for (path, q, status, needle) in &cases {
        let (got, body) = get(&c, &p, path, &[("query", q)]).await;
        assert_eq!(got, *status, "{path} {}…: {body}", &q[..40.min(q.len())]);
        assert!(body.contains(needle), "{path}: {body}");
    }
    // Past the length limit (a POST: a URL cannot be that long).
    let long = format!("x{{a=\"{}\"}}", "y".repeat(70_000));
    let r = c
        .post(p.url("/api/v1/query"))
        .form(&[("query", long.as_str())])
        .send()
        .await
        .expect("the server answers");
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.expect("body").contains("bytes long"));
    // The same through match[] of the series API.
    let (got, body) = get(&c, &p, "/api/v1/series", &[("match[]", &long_sum)]).await;
    assert_eq!(got, 400, "{body}");

    // Still up and answering, and a 256-level query (the limit) is evaluated.
    let at_limit = vec!["1"; 256].join("+");
    let (got, body) = get(&c, &p, "/api/v1/query", &[("query", &at_limit)]).await;
    assert_eq!(got, 200, "{body}");
    assert!(body.contains("\"256\""), "{body}");
    let (got, _) = get(&c, &p, "/-/healthy", &[]).await;
    assert_eq!(got, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_that_would_crash_the_server_is_refused_at_check_and_start() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let rules = tmp.path().join("rules.yml");
    let expr = vec!["up"; 2000].join(" + ");
    std::fs::write(
        &rules,
        format!("groups:\n- name: g\n  rules:\n  - record: r:sum\n    expr: {expr}\n"),
    )
    .expect("write rules");
    let cfg = tmp.path().join("argus.yml");
    std::fs::write(&cfg, format!("rule_files: [\"{}\"]\n", rules.display())).expect("write config");

    let out = Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(["check", "config"])
        .arg(&cfg)
        .output()
        .expect("run argus check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("rules.yml:5"), "{text}");
    assert!(text.contains("2000 levels deep"), "{text}");

    // A server given the file refuses to start with the same message and
    // exits: no abort, so no crash loop under a supervisor that restarts it
    // only after a clean failure is fixed.
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let out = Command::new(env!("CARGO_BIN_EXE_argus"))
        .arg("server")
        .arg("--data-dir")
        .arg(&data)
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", common::free_port()))
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("run argus server");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code().is_some(), "killed by a signal: {log}");
    assert_ne!(out.status.code(), Some(0), "{log}");
    assert!(log.contains("2000 levels deep"), "{log}");
    assert!(!log.contains("overflow"), "{log}");
}
