//! `argus-lab failures` end to end against Argus itself, at small scale:
//! 4 services, 1 group of 8 failures. Needs Redis on 127.0.0.1:6379 (the
//! services heartbeat into it) and fails with a clear message without it.
//! The `argus` binary under test is the one cargo builds beside `argus-lab`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn redis_up() -> Result<(), String> {
    let mut s = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:6379".parse().expect("address"),
        Duration::from_secs(2),
    )
    .map_err(|e| format!("Redis 127.0.0.1:6379 not reachable: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"*1\r\n$4\r\nPING\r\n")
        .map_err(|e| e.to_string())?;
    let mut b = [0u8; 16];
    let n = s.read(&mut b).map_err(|e| e.to_string())?;
    if b[..n].starts_with(b"+PONG") {
        Ok(())
    } else {
        Err("Redis 127.0.0.1:6379 did not answer PONG".into())
    }
}

/// The `argus` binary beside `argus-lab` in cargo's target directory
/// (`cargo test --workspace` builds both; alone, run `cargo build -p argus`
/// first: cargo holds the target directory while tests run, so a test
/// cannot build it).
fn argus_binary() -> PathBuf {
    let lab = PathBuf::from(env!("CARGO_BIN_EXE_argus-lab"));
    let dir = lab.parent().expect("argus-lab lies in a directory");
    let argus = dir.join(format!("argus{}", std::env::consts::EXE_SUFFIX));
    assert!(
        argus.is_file(),
        "this test needs the argus binary at {} (cargo build -p argus)",
        argus.display()
    );
    argus
}

#[test]
fn argus_detects_every_failure_without_false_alerts() {
    if let Err(e) = redis_up() {
        panic!("this test needs Redis on 127.0.0.1:6379 (scripts/test.sh starts it): {e}");
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out.json");
    // A port range unlikely to collide with the default runs (18001..).
    let base = 21000 + (std::process::id() % 2000) as u16 * 8;
    let argus = argus_binary();
    let run = Command::new(env!("CARGO_BIN_EXE_argus-lab"))
        .args(["failures", "--system", "argus"])
        .args([
            "--services",
            "4",
            "--groups",
            "1",
            "--failures",
            "8",
            "--quiet-secs",
            "3",
        ])
        .args(["--concurrency", "4", "--base-port", &base.to_string()])
        .arg("--out")
        .arg(&out)
        .arg("--argus-bin")
        .arg(&argus)
        .arg("--work-dir")
        .arg(tmp.path().join("work"))
        .env("ARGUS_LOG", "warn")
        .output()
        .expect("run argus-lab failures");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "eval failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // The table: header line, column titles, one row for group 1, the per-kind line.
    assert!(stdout.contains("== argus: "), "no table header:\n{stdout}");
    assert!(
        stdout.contains("group injected detected"),
        "no column titles:\n{stdout}"
    );
    let row = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some("1"))
        .unwrap_or_else(|| panic!("no row for group 1:\n{stdout}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[..5], &["1", "8", "8", "100.00%", "0"], "row: {row}");
    assert!(stdout.contains("detected by kind:"), "{stdout}");

    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("read --out")).expect("json");
    let sys = &j[0];
    assert_eq!(sys["system"], "argus");
    let g = &sys["groups"][0];
    assert_eq!(g["injected"], 8);
    assert_eq!(g["detected"], 8, "{g}");
    assert_eq!(g["detection_rate"], 1.0);
    assert_eq!(g["false_alerts"], 0, "{g}");
    assert_eq!(sys["quiet_false_alerts"], 0, "{sys}");
    assert_eq!(sys["other_false_alerts"], 0, "{sys}");
    let resp = &g["response_s"];
    assert_eq!(resp["n"], 8);
    let p99 = resp["p99"].as_f64().expect("p99");
    assert!(
        p99 > 0.0 && p99 <= resp["max"].as_f64().expect("max"),
        "{resp}"
    );
    assert!(
        sys["healthy"]["rss_mib"].as_f64().expect("rss") > 0.0,
        "{sys}"
    );
}
