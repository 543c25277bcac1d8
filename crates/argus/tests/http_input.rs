//! Bad input over HTTP: every malformed request gets a 4xx naming what was
//! wrong, good series in the same request are kept, and nothing panics.

mod common;

use common::{encode_write, post_write, query_matrix, ArgusProc};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_clearly_and_good_data_kept() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let p = ArgusProc::start("server", &data, &[]);
    let c = reqwest::Client::new();
    let write = p.url("/api/v1/write");
    let t = now_ms() - 60_000;

    // Malformed protobuf inside valid snappy.
    let junk = snap::raw::Encoder::new()
        .compress_vec(&[0x0a, 0xff, 0xff, 0x01])
        .expect("snappy");
    let r = post_write(&c, &write, junk).await.expect("send");
    assert_eq!(r.status(), 400);
    let msg = r.text().await.expect("body");
    assert!(msg.to_lowercase().contains("protobuf"), "{msg}");

    // Bad snappy.
    let r = post_write(&c, &write, b"definitely not snappy".to_vec())
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .expect("body")
        .to_lowercase()
        .contains("snappy"));

    // Wrong content type.
    let body = encode_write(&[(vec![("__name__", "x".into())], vec![(t, 1.0)])]);
    let r = c
        .post(&write)
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "snappy")
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 415);

    // A good series and one with an invalid label name in the same request.
    let body = encode_write(&[
        (
            vec![("__name__", "good_rw".into()), ("k", "v".into())],
            vec![(t, 42.5)],
        ),
        (
            vec![("__name__", "bad_rw".into()), ("1bad", "v".into())],
            vec![(t, 1.0)],
        ),
    ]);
    let r = post_write(&c, &write, body).await.expect("send");
    assert_eq!(r.status(), 400);
    let msg = r.text().await.expect("body");
    assert!(
        msg.contains("accepted 1") && msg.contains("rejected 1"),
        "{msg}"
    );
    assert!(
        msg.contains("1bad"),
        "the message should name the bad label: {msg}"
    );

    // Text import: a broken label set and a NaN timestamp next to good lines.
    let text = format!(
        "good_txt{{a=\"1\"}} 7 {t}\nbroken{{a=\"1\" 3 {t}\ngood_txt{{a=\"2\"}} 8 {t}\nnan_ts 1 NaN\n"
    );
    let r = c
        .post(p.url("/api/v1/import/prometheus"))
        .body(text)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let msg = r.text().await.expect("body");
    assert!(
        msg.contains("accepted 2") && msg.contains("rejected 2"),
        "{msg}"
    );
    assert!(
        msg.contains("line 2"),
        "the message should name the line: {msg}"
    );

    // JSON push: one good entry, one with an invalid label name.
    let body = format!(
        "[{{\"labels\":{{\"__name__\":\"good_json\"}},\"samples\":[[{t},3.5]]}},{{\"labels\":{{\"__name__\":\"x\",\"bad-name\":\"v\"}},\"value\":1}}]"
    );
    let r = c
        .post(p.url("/api/v1/push"))
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let msg = r.text().await.expect("body");
    assert!(msg.contains("accepted 1"), "{msg}");

    // Garbage queries get Prometheus-style bad_data errors.
    let r = c
        .get(p.url("/api/v1/query"))
        .query(&[("query", "up{")])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let j: serde_json::Value = r.json().await.expect("json");
    assert_eq!(j["errorType"], "bad_data");

    // The good data from every request above is stored.
    let at = (t as f64) / 1000.0 + 1.0;
    for (q, want) in [("good_rw[5m]", 42.5), ("good_json[5m]", 3.5)] {
        let got = query_matrix(&c, &p.url(""), q, at).await;
        assert_eq!(got.len(), 1, "{q}");
        assert_eq!(got[0].1, vec![(t, want)], "{q}");
    }
    let got = query_matrix(&c, &p.url(""), "good_txt[5m]", at).await;
    assert_eq!(got.len(), 2);

    // Series and label APIs see them.
    let j: serde_json::Value = c
        .get(p.url("/api/v1/label/__name__/values"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let names: Vec<&str> = j["data"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for n in ["good_rw", "good_txt", "good_json"] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    assert!(!names.contains(&"bad_rw"));
    // The server is still healthy after all of it.
    assert_eq!(common::http_status(p.port, "/-/healthy"), Some(200));
    p.stop();
}

#[test]
fn check_names_the_unknown_key_and_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let f = tmp.path().join("argus.yml");
    std::fs::write(&f, "storage:\n  retention: 7d\n  bogus_key: 1\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(["check", "--config"])
        .arg(&f)
        .output()
        .expect("run argus check");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bogus_key") && err.contains('3'), "{err}");

    std::fs::write(&f, "storage:\n  retention: 7d\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(["check", "--config"])
        .arg(&f)
        .output()
        .expect("run argus check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
