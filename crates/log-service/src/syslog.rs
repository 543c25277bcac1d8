//! Syslog listeners (`logs.syslog.tcp`, `logs.syslog.udp`): RFC 5424 and
//! RFC 3164 messages, over TCP with octet counting or newlines (RFC 6587) and
//! over UDP, one message a datagram. A TCP connection's frames are stored in
//! batches before more is read from it, so a slow disk slows the sender
//! instead of filling memory; syslog has no acknowledgement, so what a
//! sender wrote before a crash is kept as far as it reached the WAL.

use crate::LogsRuntime;
use argus_logs::push::{parse_syslog_with, SyslogFramer};
use argus_logs::record::{Decoded, Refusal};
use argus_web::parts::{Components, Part};
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// Frames stored together at most.
const BATCH: usize = 1_000;

pub(super) async fn start(
    rt: &Arc<LogsRuntime>,
    up: &mut Components,
) -> Result<(), crate::LogsError> {
    let listen_err = |addr: &str| {
        let addr = addr.to_string();
        move |source| crate::LogsError::Listen { addr, source }
    };
    if let Some(addr) = rt.cfg.syslog.tcp.clone() {
        let l = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(listen_err(&addr))?;
        tracing::info!(listen = %addr, "Receiving syslog over TCP.");
        up.push(Part::task(
            "syslog tcp",
            tokio::spawn(accept(rt.clone(), l)),
        ));
    }
    if let Some(addr) = rt.cfg.syslog.udp.clone() {
        let s = tokio::net::UdpSocket::bind(&addr)
            .await
            .map_err(listen_err(&addr))?;
        tracing::info!(listen = %addr, "Receiving syslog over UDP.");
        up.push(Part::task(
            "syslog udp",
            tokio::spawn(datagrams(rt.clone(), s)),
        ));
    }
    Ok(())
}

async fn accept(rt: Arc<LogsRuntime>, l: tokio::net::TcpListener) {
    loop {
        match l.accept().await {
            Ok((conn, peer)) => {
                tokio::spawn(connection(rt.clone(), conn, peer));
            }
            Err(e) => {
                tracing::warn!(error = %e, "Accepting a syslog connection failed.");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn connection(
    rt: Arc<LogsRuntime>,
    mut conn: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
) {
    let limits = rt.decode_limits();
    let mut framer = SyslogFramer::new(limits.max_line_bytes.saturating_add(1024));
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match conn.read(&mut buf).await {
            Ok(0) => {
                let last: Vec<_> = framer.finish().into_iter().collect();
                store(&rt, last, peer, true).await;
                return;
            }
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(error = %e, %peer, "A syslog connection failed.");
                return;
            }
        };
        framer.push(&buf[..n]);
        let mut frames = Vec::new();
        while let Some(f) = framer.next_frame() {
            frames.push(f);
            if frames.len() >= BATCH {
                store(&rt, std::mem::take(&mut frames), peer, true).await;
            }
        }
        store(&rt, frames, peer, true).await;
    }
}

async fn datagrams(rt: Arc<LogsRuntime>, s: tokio::net::UdpSocket) {
    let mut buf = vec![0u8; 65_536];
    loop {
        match s.recv_from(&mut buf).await {
            Ok((n, peer)) => {
                store(&rt, vec![Ok::<_, String>(buf[..n].to_vec())], peer, false).await
            }
            Err(e) => {
                tracing::warn!(error = %e, "Receiving a syslog datagram failed.");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// Parses and stores frames on a blocking thread; refusals are logged at
/// debug and counted, as syslog has no way to answer the sender. When the
/// WAL cannot be written and `hold` is set (TCP), the batch is retried every
/// few seconds and nothing more is read from the connection meanwhile, so the
/// sender's own queue holds the messages; over UDP they are lost.
async fn store<E: std::fmt::Display + Send + 'static>(
    rt: &Arc<LogsRuntime>,
    frames: Vec<Result<Vec<u8>, E>>,
    peer: std::net::SocketAddr,
    hold: bool,
) {
    if frames.is_empty() {
        return;
    }
    let r = rt.clone();
    let parsed = tokio::task::spawn_blocking(move || {
        let limits = r.decode_limits();
        let now = r.now_ns();
        let mut d = Decoded::default();
        for (i, f) in frames.into_iter().enumerate() {
            let at = || format!("syslog message {} from {peer}", i + 1);
            match f {
                Ok(bytes) => match parse_syslog_with(&bytes, now, &limits) {
                    Ok(rec) => d.records.push(rec),
                    Err(e) => d.refused.push(Refusal::new(at(), e.to_string())),
                },
                Err(e) => d.refused.push(Refusal::new(at(), e.to_string())),
            }
        }
        d
    })
    .await;
    let Ok(d) = parsed else {
        tracing::error!("Parsing syslog messages failed inside the server.");
        return;
    };
    loop {
        let r = rt.clone();
        let batch = d.clone();
        match tokio::task::spawn_blocking(move || r.store_decoded(batch)).await {
            Ok(Ok(s)) => {
                if !s.refused.is_empty() {
                    tracing::debug!(summary = %s.summary(), "Refused some syslog messages.");
                }
                return;
            }
            // store_decoded logged the failure and set the status banner.
            Ok(Err(_)) if hold => tokio::time::sleep(std::time::Duration::from_secs(5)).await,
            Ok(Err(_)) => return,
            Err(e) => {
                tracing::error!(error = %e, "Storing syslog messages failed inside the server.");
                return;
            }
        }
    }
}
