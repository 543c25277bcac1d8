use crate::common::{get, Rec, VecFactory};
use argus_ingest::scrape::{Health, ScrapeConfig, ScrapeManager};
use argus_model::{is_stale_nan, SystemClock};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Served = Arc<Mutex<(u16, String)>>;

/// A tiny HTTP/1.1 server answering every request with the current status and body.
async fn serve() -> (String, Served) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let served: Served = Arc::new(Mutex::new((200, String::new())));
    let s2 = served.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let served = s2.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let (status, body) = served.lock().clone();
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (addr, served)
}

async fn wait_for(recs: &Arc<Mutex<Vec<Rec>>>, what: &str, f: impl Fn(&Rec) -> bool) {
    for _ in 0..300 {
        if recs.lock().iter().any(&f) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}; got {:?}", recs.lock());
}

/// Waits until the health-change counter reaches `n`, and checks it does not pass it.
async fn wait_changes(rx: &tokio::sync::watch::Receiver<u64>, n: u64) {
    for _ in 0..750 {
        if *rx.borrow() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(*rx.borrow(), n, "health changes");
}

fn named(r: &Rec, n: &str) -> bool {
    get(r, "__name__") == Some(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_up_staleness_and_failure() {
    let (addr, served) = serve().await;
    served.lock().1 = "# TYPE a gauge\na{job=\"theirs\"} 1\nb 2\n".into();
    let factory = VecFactory::default();
    let recs = factory.0.clone();
    let m = ScrapeManager::new(Arc::new(factory), Arc::new(SystemClock)).unwrap();
    let yaml = format!(
        "job_name: t\nscrape_interval: 100ms\nstatic_configs:\n  - targets: ['{addr}']\n    labels: {{env: test}}\n"
    );
    let cfg: ScrapeConfig = serde_saphyr::from_str(&yaml).unwrap();
    let changes = m.health_changes();
    m.apply(vec![cfg.clone()]).unwrap();

    wait_for(&recs, "up 1", |r| named(r, "up") && r.2 == 1.0).await;
    // The first successful scrape is not a change of health.
    assert_eq!(*changes.borrow(), 0);
    wait_for(&recs, "a", |r| named(r, "a")).await;
    {
        let recs = recs.lock();
        let a = recs.iter().find(|r| named(r, "a")).unwrap();
        assert_eq!(get(a, "job"), Some("t"));
        assert_eq!(get(a, "exported_job"), Some("theirs"));
        assert_eq!(get(a, "instance"), Some(addr.as_str()));
        assert_eq!(get(a, "env"), Some("test"));
        let scraped = recs
            .iter()
            .find(|r| named(r, "scrape_samples_scraped"))
            .unwrap();
        assert_eq!(scraped.2, 2.0);
    }
    assert_eq!(m.metadata()["a"][0].metric_type.as_str(), "gauge");

    // b disappears: a stale marker for it.
    served.lock().1 = "a{job=\"theirs\"} 1\n".into();
    wait_for(&recs, "stale b", |r| named(r, "b") && is_stale_nan(r.2)).await;

    // The target fails: up 0 and a goes stale.
    served.lock().0 = 500;
    wait_for(&recs, "up 0", |r| named(r, "up") && r.2 == 0.0).await;
    wait_for(&recs, "stale a", |r| named(r, "a") && is_stale_nan(r.2)).await;
    let t = &m.targets()[0];
    assert_eq!(t.health, Health::Down);
    // Going down is one change; staying down (three more failed scrapes) is none.
    wait_changes(&changes, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(*changes.borrow(), 1);
    // Coming back is the second.
    served.lock().0 = 200;
    wait_changes(&changes, 2).await;
    served.lock().0 = 500;
    wait_changes(&changes, 3).await;
    assert!(
        t.last_error.as_deref().unwrap_or("").contains("500"),
        "{:?}",
        t.last_error
    );
    assert_eq!(t.discovered_labels.get("__address__"), Some(addr.as_str()));

    // Removing the target writes stale markers for its report series.
    m.apply(vec![]).unwrap();
    assert!(m.targets().is_empty());
    wait_for(&recs, "stale up", |r| named(r, "up") && is_stale_nan(r.2)).await;
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_sd_adds_and_removes_targets() {
    let (addr, served) = serve().await;
    served.lock().1 = "x 1\n".into();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.json");
    std::fs::write(
        &file,
        format!(r#"[{{"targets": ["{addr}"], "labels": {{"team": "a"}}}}]"#),
    )
    .unwrap();
    let yaml = format!(
        "job_name: f\nscrape_interval: 100ms\nfile_sd_configs:\n  - files: ['{}']\n    refresh_interval: 50ms\n",
        dir.path().join("*.json").display()
    );
    let cfg: ScrapeConfig = serde_saphyr::from_str(&yaml).unwrap();
    let factory = VecFactory::default();
    let recs = factory.0.clone();
    let m = ScrapeManager::new(Arc::new(factory), Arc::new(SystemClock)).unwrap();
    m.apply(vec![cfg]).unwrap();
    assert_eq!(m.targets().len(), 1);
    assert_eq!(m.targets()[0].labels.get("team"), Some("a"));
    wait_for(&recs, "x", |r| named(r, "x") && get(r, "team") == Some("a")).await;
    // A meta label that changes leaves the target as it is, but its discovered labels follow.
    std::fs::write(
        &file,
        format!(r#"[{{"targets": ["{addr}"], "labels": {{"team": "a", "__meta_zone": "b"}}}}]"#),
    )
    .unwrap();
    for _ in 0..750 {
        if m.targets()[0].discovered_labels.get("__meta_zone") == Some("b") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t = &m.targets()[0];
    assert_eq!(t.discovered_labels.get("__meta_zone"), Some("b"));
    assert_eq!(t.labels.get("__meta_zone"), None);
    assert_eq!(m.targets().len(), 1);
    std::fs::write(&file, "[]").unwrap();
    for _ in 0..750 {
        if m.targets().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(m.targets().is_empty());
    wait_for(&recs, "stale x", |r| named(r, "x") && is_stale_nan(r.2)).await;
    m.shutdown().await;
}

#[test]
fn apply_refuses_bad_configs_without_runtime_or_duplicates() {
    let m = ScrapeManager::new(Arc::new(VecFactory::default()), Arc::new(SystemClock)).unwrap();
    assert!(m.apply(vec![]).is_err(), "needs a runtime");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = ScrapeConfig::new_static("j", &["a:1"]);
        let e = m.apply(vec![c.clone(), c]).unwrap_err();
        assert!(e.to_string().contains("duplicate job_name"));
        let mut c = ScrapeConfig::new_static("j", &["a:1"]);
        c.scrape_timeout = Some(argus_ingest::scrape::PromDuration(Duration::from_secs(120)));
        assert!(m.apply(vec![c]).is_err());
    });
}
