//! qload: backfills the query benchmark's data set into a remote_write endpoint, in time order.
//!
//! Series (SERIES = 10 000 by default): 80 % `x{job,instance,path}` counters, 16 % `h_bucket{job,instance,le}`
//! (10 buckets per instance), 4 % `x_info{job,instance,version}` (one per instance of `x`, for joins).
//! Samples every STEP ms for HOURS hours, ending at `--end-ms` (default: now, on a whole step).
//! All workers send block after block (10 minutes of every series per block) and wait for each other
//! after each block, so a receiver that refuses samples far behind its newest (Prometheus's head)
//! accepts everything. Targets loopback only; every loop is bounded by the data set's size.
//!
//! Usage: qload --addr 127.0.0.1:PORT [--series 10000] [--hours 24] [--step-ms 15000] [--workers 2]
//!              [--end-ms T] [--path /api/v1/write]
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn arg<T: std::str::FromStr>(args: &[String], name: &str, def: T) -> T {
    match args
        .iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
    {
        Some(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("bad value for {name}: {v}")),
        None => def,
    }
}

fn put_varint(b: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        b.push((v as u8) | 0x80);
        v >>= 7;
    }
    b.push(v as u8);
}
fn put_bytes(b: &mut Vec<u8>, tag: u8, s: &[u8]) {
    b.push(tag);
    put_varint(b, s.len() as u64);
    b.extend_from_slice(s);
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

enum Kind {
    Counter,
    Bucket(f64),
    Info,
}
struct Series {
    labels_pb: Vec<u8>,
    kind: Kind,
    seed: u64,
    val: f64,
}

fn labels_pb(pairs: &[(&str, String)]) -> Vec<u8> {
    let mut sorted: Vec<&(&str, String)> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut pb = Vec::new();
    for (k, v) in sorted {
        let mut l = Vec::new();
        put_bytes(&mut l, 0x0a, k.as_bytes());
        put_bytes(&mut l, 0x12, v.as_bytes());
        put_bytes(&mut pb, 0x0a, &l);
    }
    pb
}

fn make_series(total: usize) -> Vec<Series> {
    let n_x = total * 80 / 100;
    let paths = 20;
    let instances = n_x.div_ceil(paths);
    let les = [
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
    ];
    let n_h_inst = (total * 16 / 100) / les.len();
    let mut out = Vec::with_capacity(total);
    let job = |i: usize| format!("job{}", i % 10);
    let inst = |i: usize| format!("host-{i}:9100");
    for i in 0..instances {
        for p in 0..paths {
            if out.len() >= n_x {
                break;
            }
            out.push(Series {
                labels_pb: labels_pb(&[
                    ("__name__", "x".into()),
                    ("job", job(i)),
                    ("instance", inst(i)),
                    ("path", format!("/p{p}")),
                ]),
                kind: Kind::Counter,
                seed: out.len() as u64,
                val: 0.0,
            });
        }
    }
    for i in 0..n_h_inst {
        for le in les {
            let bound: f64 = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().expect("le")
            };
            out.push(Series {
                labels_pb: labels_pb(&[
                    ("__name__", "h_bucket".into()),
                    ("job", job(i)),
                    ("instance", inst(i)),
                    ("le", le.into()),
                ]),
                kind: Kind::Bucket(bound),
                seed: i as u64,
                val: 0.0,
            });
        }
    }
    for i in 0..instances {
        out.push(Series {
            labels_pb: labels_pb(&[
                ("__name__", "x_info".into()),
                ("job", job(i)),
                ("instance", inst(i)),
                ("version", format!("v{}", i % 3)),
            ]),
            kind: Kind::Info,
            seed: i as u64,
            val: 1.0,
        });
    }
    out
}

/// The value at step `k`; counters and buckets only go up.
fn next_val(s: &mut Series, k: u64) -> f64 {
    match s.kind {
        Kind::Counter => s.val += (mix(s.seed * 1_000_003 + k) % 50) as f64,
        Kind::Bucket(le) => {
            // 20 observations per step with a per-instance latency scale; the bucket counts those <= le.
            let scale = 0.05 + (s.seed % 7) as f64 * 0.05;
            for j in 0..20u64 {
                let u = (mix(s.seed * 7_919 + k * 31 + j) >> 11) as f64 / (1u64 << 53) as f64;
                if u * u * scale * 4.0 <= le {
                    s.val += 1.0;
                }
            }
        }
        Kind::Info => {}
    }
    s.val
}

fn post(
    addr: &str,
    path: &str,
    conn: &mut Option<(TcpStream, BufReader<TcpStream>)>,
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    if conn.is_none() {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true).ok();
        s.set_read_timeout(Some(Duration::from_secs(120))).ok();
        let r = BufReader::new(s.try_clone()?);
        *conn = Some((s, r));
    }
    let (w, r) = conn.as_mut().expect("connected above");
    write!(w, "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\nContent-Length: {}\r\n\r\n", body.len())?;
    w.write_all(body)?;
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (mut clen, mut chunked, mut close) = (0usize, false, false);
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end().to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.strip_prefix("content-length:") {
            clen = v.trim().parse().unwrap_or(0);
        }
        chunked |= l.starts_with("transfer-encoding:") && l.contains("chunked");
        close |= l.starts_with("connection:") && l.contains("close");
    }
    let mut body_buf = Vec::new();
    if chunked {
        for _ in 0..10_000 {
            line.clear();
            r.read_line(&mut line)?;
            let n = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            let mut c = vec![0u8; n + 2];
            r.read_exact(&mut c)?;
            if n == 0 {
                break;
            }
            body_buf.extend_from_slice(&c[..n]);
        }
    } else {
        body_buf.resize(clen, 0);
        r.read_exact(&mut body_buf)?;
    }
    if close {
        *conn = None;
    }
    Ok((
        status,
        String::from_utf8_lossy(&body_buf[..body_buf.len().min(300)]).into_owned(),
    ))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr: String = arg(&args, "--addr", "127.0.0.1:9090".to_string());
    let path: String = arg(&args, "--path", "/api/v1/write".to_string());
    assert!(
        addr.starts_with("127.") || addr.starts_with("localhost:"),
        "loopback only"
    );
    let total: usize = arg(&args, "--series", 10_000);
    let hours: i64 = arg(&args, "--hours", 24);
    let step: i64 = arg(&args, "--step-ms", 15_000);
    let workers: usize = arg(&args, "--workers", 2).max(1);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let end: i64 = arg(&args, "--end-ms", now / step * step);
    let steps = hours * 3_600_000 / step;
    let start_t = end - (steps - 1) * step;
    let block = (600_000 / step).max(1); // 10 minutes per request per series
    let per_req = 500usize; // series per request
    let series = make_series(total);
    let n = series.len();
    let ok = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(workers));
    let t_start = Instant::now();
    let per = n.div_ceil(workers);
    let mut chunks: Vec<Vec<Series>> = Vec::new();
    let mut it = series.into_iter();
    for _ in 0..workers {
        chunks.push(it.by_ref().take(per).collect());
    }
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|mut mine| {
            let (addr, path, ok, bad, barrier) = (
                addr.clone(),
                path.clone(),
                ok.clone(),
                bad.clone(),
                barrier.clone(),
            );
            std::thread::spawn(move || {
                let mut conn = None;
                let mut enc = snap::raw::Encoder::new();
                let mut buf = Vec::new();
                let mut ts_buf = Vec::new();
                let mut printed = 0;
                let mut k0 = 0;
                while k0 < steps {
                    let k1 = (k0 + block).min(steps);
                    for group in mine.chunks_mut(per_req) {
                        buf.clear();
                        for s in group.iter_mut() {
                            ts_buf.clear();
                            ts_buf.extend_from_slice(&s.labels_pb);
                            for k in k0..k1 {
                                let v = next_val(s, k as u64);
                                let mut sm = Vec::with_capacity(20);
                                sm.push(0x09);
                                sm.extend_from_slice(&v.to_le_bytes());
                                sm.push(0x10);
                                put_varint(&mut sm, (start_t + k * step) as u64);
                                put_bytes(&mut ts_buf, 0x12, &sm);
                            }
                            put_bytes(&mut buf, 0x0a, &ts_buf);
                        }
                        let body = enc.compress_vec(&buf).expect("snappy");
                        let samples = (group.len() as i64 * (k1 - k0)) as u64;
                        let mut res = post(&addr, &path, &mut conn, &body);
                        if res.is_err() {
                            conn = None;
                            res = post(&addr, &path, &mut conn, &body);
                        }
                        match res {
                            Ok((st, _)) if st < 300 => {
                                ok.fetch_add(samples, Ordering::Relaxed);
                            }
                            other => {
                                bad.fetch_add(samples, Ordering::Relaxed);
                                conn = None;
                                if printed < 5 {
                                    printed += 1;
                                    eprintln!("qload: request failed: {other:?}");
                                }
                            }
                        }
                    }
                    barrier.wait();
                    k0 = k1;
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("worker");
    }
    let el = t_start.elapsed().as_secs_f64();
    let o = ok.load(Ordering::Relaxed);
    println!(
        "RESULT series={n} steps={steps} start_ms={start_t} end_ms={end} ok_samples={o} bad_samples={} elapsed_s={el:.1} rate={:.0}/s",
        bad.load(Ordering::Relaxed),
        o as f64 / el
    );
}
