//! `kubernetes_sd_configs` watches: after a list, changes streamed by the API
//! server (`?watch=1&resourceVersion=...`) reach the targets at once.
//!
//! No Kubernetes cluster can run where these tests run, so a small TCP
//! server plays the API server: it answers the pod list, and holds watch
//! requests open, writing the events the test sends as chunked JSON lines,
//! as the API server does.

use argus_ingest::scrape::{ScrapeConfig, ScrapeManager};
use argus_model::SystemClock;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

use crate::common::VecFactory;

#[derive(Clone)]
struct Api {
    list: Arc<Mutex<String>>,
    events: broadcast::Sender<String>,
    /// The request targets (path and query), in order.
    seen: Arc<Mutex<Vec<String>>>,
    watching: Arc<Mutex<usize>>,
    /// Watch requests to drop unanswered, as a connection that fails.
    drop_watches: Arc<Mutex<usize>>,
}

fn pod(name: &str, ip: &str, version: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"web","resourceVersion":"10{version}","labels":{{"app":"web","version":"{version}"}}}},"spec":{{"containers":[{{"name":"app","image":"web:1","ports":[{{"containerPort":9100,"name":"metrics","protocol":"TCP"}}]}}],"nodeName":"node-a"}},"status":{{"phase":"Running","podIP":"{ip}","conditions":[{{"type":"Ready","status":"True"}}]}}}}"#
    )
}

async fn handle(mut sock: TcpStream, api: Api) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
    api.seen.lock().push(target.clone());
    let authorized = head
        .lines()
        .any(|l| l.eq_ignore_ascii_case("authorization: Bearer k8s-token"));
    if !authorized {
        let _ = sock
            .write_all(
                b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await;
        return;
    }
    if !target.contains("watch=1") {
        let body = api.list.lock().clone();
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = sock.write_all(resp.as_bytes()).await;
        return;
    }
    {
        let mut d = api.drop_watches.lock();
        if *d > 0 {
            *d -= 1;
            return;
        }
    }
    let mut rx = api.events.subscribe();
    let ok =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    if sock.write_all(ok).await.is_err() {
        return;
    }
    *api.watching.lock() += 1;
    while let Ok(line) = rx.recv().await {
        if line == "CLOSE" {
            // The server ends the watch, as API servers do after a timeout.
            let _ = sock.write_all(b"0\r\n\r\n").await;
            return;
        }
        let chunk = format!("{:x}\r\n{line}\n\r\n", line.len() + 1);
        if sock.write_all(chunk.as_bytes()).await.is_err() {
            return;
        }
    }
}

async fn start() -> (String, Api) {
    let api = Api {
        list: Arc::new(Mutex::new(format!(
            r#"{{"kind":"PodList","apiVersion":"v1","metadata":{{"resourceVersion":"100"}},"items":[{}]}}"#,
            pod("a", "10.0.0.1", "1")
        ))),
        events: broadcast::channel(64).0,
        seen: Arc::new(Mutex::new(Vec::new())),
        watching: Arc::new(Mutex::new(0)),
        drop_watches: Arc::new(Mutex::new(0)),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let a = api.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(handle(sock, a.clone()));
        }
    });
    (format!("http://{addr}"), api)
}

/// Polls `f` for up to 30 s. The whole test takes about 4 s on an idle
/// two-core machine; with the rest of the suite running beside it, 10 s was
/// once too short for the resumed watch.
async fn until(what: &str, f: impl Fn() -> bool) {
    for _ in 0..1500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_events_change_the_targets_between_lists() {
    let (url, api) = start().await;
    let m = Arc::new(
        ScrapeManager::new(Arc::new(VecFactory::default()), Arc::new(SystemClock)).unwrap(),
    );
    let cfg: ScrapeConfig = serde_saphyr::from_str(&format!(
        "job_name: pods\nscrape_interval: 1h\nkubernetes_sd_configs:\n  - role: pod\n    api_server: {url}\n    bearer_token: k8s-token\n    namespaces: {{names: [web]}}\n    refresh_interval: 1h\n"
    ))
    .unwrap();
    m.apply(vec![cfg]).unwrap();
    let addrs = |m: &ScrapeManager<VecFactory>| -> Vec<String> {
        m.targets()
            .iter()
            .map(|t| {
                t.discovered_labels
                    .get("__address__")
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    };
    until("the listed pod", || addrs(&m) == ["10.0.0.1:9100"]).await;
    until("the watch", || *api.watching.lock() == 1).await;
    let watch = api.seen.lock()[1].clone();
    assert!(watch.starts_with("/api/v1/namespaces/web/pods?"), "{watch}");
    for p in ["watch=1", "resourceVersion=100", "allowWatchBookmarks=true"] {
        assert!(watch.contains(p), "{p} in {watch}");
    }
    let send = |kind: &str, object: String| {
        api.events
            .send(format!(r#"{{"type":"{kind}","object":{object}}}"#))
            .unwrap();
    };
    send("ADDED", pod("b", "10.0.0.2", "1"));
    until("the added pod", || {
        addrs(&m) == ["10.0.0.1:9100", "10.0.0.2:9100"]
    })
    .await;
    send(
        "BOOKMARK",
        r#"{"kind":"Pod","metadata":{"resourceVersion":"105"}}"#.into(),
    );
    // A changed pod IP moves the target (targets are identified by their
    // final labels, so a changed meta label alone would keep the old one).
    send("MODIFIED", pod("a", "10.0.0.3", "2"));
    until("the changed pod", || {
        addrs(&m) == ["10.0.0.2:9100", "10.0.0.3:9100"]
    })
    .await;
    let t = m
        .targets()
        .into_iter()
        .find(|t| t.scrape_url.contains("10.0.0.3"));
    let label = t.as_ref().and_then(|t| {
        t.discovered_labels
            .get("__meta_kubernetes_pod_label_version")
    });
    assert_eq!(label, Some("2"));
    send("DELETED", pod("b", "10.0.0.2", "1"));
    until("the deleted pod", || addrs(&m) == ["10.0.0.3:9100"]).await;
    // The server ends the watch: the next resumes from the last event's
    // resourceVersion, and still brings changes. Its first two attempts meet
    // a connection that closes unanswered; they are retried.
    *api.drop_watches.lock() = 2;
    api.events.send("CLOSE".into()).unwrap();
    until("the resumed watch", || *api.watching.lock() == 2).await;
    let seen = api.seen.lock().clone();
    let resumed: Vec<_> = seen.iter().filter(|t| t.contains("watch=1")).collect();
    assert_eq!(resumed.len(), 4, "{resumed:?}");
    for t in &resumed[1..] {
        assert!(t.contains("resourceVersion=101"), "{t}");
    }
    send("ADDED", pod("c", "10.0.0.4", "3"));
    until("the pod added after resuming", || {
        addrs(&m) == ["10.0.0.3:9100", "10.0.0.4:9100"]
    })
    .await;
    // A broken event ends the watch, without harm: the targets stay.
    api.events.send("{not json".into()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(addrs(&m), ["10.0.0.3:9100", "10.0.0.4:9100"]);
    // One list only: everything came through the watch.
    let lists = api
        .seen
        .lock()
        .iter()
        .filter(|t| !t.contains("watch=1"))
        .count();
    assert_eq!(lists, 1);
    m.shutdown().await;
}
