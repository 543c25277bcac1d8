//! The small service the harness starts M times: `argus-lab failures
//! --serve-one --port P --key K`. It heartbeats (Redis `INCR K` every
//! heartbeat interval), answers `GET /health` with 200 `ok` and `GET /metrics`
//! with a Prometheus text page, and obeys control lines on its stdin:
//!
//! ```text
//! port off | port on     close / reopen the listener (connections refused)
//! hb off   | hb on       stop / resume the heartbeat
//! slow on  | slow off    delay every response by --slow-ms
//! ```
//!
//! End of stdin (the harness went away) stops the service. Hang and kill are
//! done from outside with SIGSTOP/SIGCONT and SIGKILL.

use anyhow::Context;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Options of one service process.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Loopback port to listen on.
    pub port: u16,
    /// Redis key incremented on each heartbeat.
    pub key: String,
    /// Redis address, host:port.
    pub redis: String,
    /// Heartbeat interval.
    pub heartbeat: Duration,
    /// Delay of every response while `slow on`.
    pub slow: Duration,
}

#[derive(Default)]
struct State {
    slow: AtomicBool,
    hb_off: AtomicBool,
    beats: AtomicU64,
}

/// Runs the service until stdin closes; returns the exit code.
pub fn serve(o: ServeOptions) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the service's runtime")?;
    rt.block_on(async move {
        let st = Arc::new(State::default());
        let (port_tx, port_rx) = tokio::sync::watch::channel(true);
        tokio::spawn(heartbeat(o.clone(), st.clone()));
        tokio::spawn(listen(o.clone(), st.clone(), port_rx));
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            match line.trim() {
                "port off" => {
                    let _ = port_tx.send(false);
                }
                "port on" => {
                    let _ = port_tx.send(true);
                }
                "hb off" => st.hb_off.store(true, Ordering::SeqCst),
                "hb on" => st.hb_off.store(false, Ordering::SeqCst),
                "slow on" => st.slow.store(true, Ordering::SeqCst),
                "slow off" => st.slow.store(false, Ordering::SeqCst),
                other => eprintln!("service {}: unknown control line {other:?}", o.port),
            }
        }
        Ok(0)
    })
}

/// `INCR key` on a kept-open connection, reconnecting after any error.
async fn heartbeat(o: ServeOptions, st: Arc<State>) {
    let gate = st.clone();
    heartbeat_loop(
        o.redis,
        o.key,
        o.heartbeat,
        move || !gate.hb_off.load(Ordering::SeqCst),
        move || {
            st.beats.fetch_add(1, Ordering::Relaxed);
        },
    )
    .await
}

/// Every `period` while `on()` holds, `INCR key` in Redis at `redis` on a
/// kept-open connection, reconnecting after any error; `beat()` after each
/// success. Shared with `argus-lab incidents`' services.
pub(crate) async fn heartbeat_loop(
    redis: String,
    key: String,
    period: Duration,
    on: impl Fn() -> bool,
    beat: impl Fn(),
) {
    let mut conn: Option<TcpStream> = None;
    let cmd = format!("*2\r\n$4\r\nINCR\r\n${}\r\n{}\r\n", key.len(), key);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !on() {
            continue;
        }
        if conn.is_none() {
            conn = TcpStream::connect(&redis).await.ok();
        }
        let Some(c) = conn.as_mut() else { continue };
        let ok = async {
            c.write_all(cmd.as_bytes()).await?;
            let mut buf = [0u8; 64];
            let n = c.read(&mut buf).await?;
            // An integer reply (":<n>\r\n") is the only success.
            Ok::<bool, std::io::Error>(n > 0 && buf[0] == b':')
        };
        match tokio::time::timeout(Duration::from_secs(1), ok).await {
            Ok(Ok(true)) => beat(),
            _ => conn = None,
        }
    }
}

/// Binds while the watch says on; drops the listener while it says off.
async fn listen(o: ServeOptions, st: Arc<State>, mut on: tokio::sync::watch::Receiver<bool>) {
    loop {
        while !*on.borrow_and_update() {
            if on.changed().await.is_err() {
                return;
            }
        }
        let l = loop {
            match TcpListener::bind(("127.0.0.1", o.port)).await {
                Ok(l) => break l,
                Err(e) => {
                    eprintln!("service {}: bind: {e}", o.port);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        loop {
            tokio::select! {
                r = l.accept() => {
                    if let Ok((s, _)) = r {
                        tokio::spawn(answer(s, o.slow, st.clone()));
                    }
                }
                r = on.changed() => {
                    if r.is_err() { return; }
                    if !*on.borrow() { break; }
                }
            }
        }
        drop(l);
    }
}

/// Reads one request head and answers it, then closes the connection.
async fn answer(mut s: TcpStream, slow: Duration, st: Arc<State>) {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    let head = loop {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    break String::from_utf8_lossy(&buf).to_string();
                }
                if buf.len() > 16 * 1024 {
                    return;
                }
            }
            _ => return,
        }
    };
    if st.slow.load(Ordering::SeqCst) {
        tokio::time::sleep(slow).await;
    }
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    let (status, ctype, body) = match path {
        "/health" => ("200 OK", "text/plain", "ok".to_string()),
        "/metrics" => (
            "200 OK",
            "text/plain; version=0.0.4",
            format!(
                "# TYPE svc_heartbeats_total counter\nsvc_heartbeats_total {}\n",
                st.beats.load(Ordering::Relaxed)
            ),
        ),
        _ => ("404 Not Found", "text/plain", "not found".to_string()),
    };
    let resp = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(resp.as_bytes()).await;
    let _ = s.shutdown().await;
}
