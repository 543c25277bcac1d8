//! Write endpoints: remote_write, Prometheus text import and JSON push.
//!
//! Every write first takes a slot in the ingest budget ([`argus_web::WriteGate`]:
//! `limits.max_concurrent_writes`, waiting at most `limits.write_queue_timeout`,
//! else 503 with `Retry-After`), then decodes, stages and commits through the
//! store's write path ([`argus_tsdb::Storage`], whose commit observers
//! include the dynamic-rule tap) on a blocking thread. A request is acknowledged (2xx) only after its samples
//! are committed to the WAL. When some series are refused and others kept,
//! the answer is 400 with a body that says how many were accepted and
//! rejected, and why.

use crate::WriteState;
use argus_ingest::text::TextFormat;
use argus_ingest::{IngestError, IngestReport};
use argus_tsdb::Appender;
use argus_web::params::{header_str, plain};
use argus_web::Throttled;
use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::atomic::Ordering;

fn ingest_error(st: &WriteState, e: IngestError) -> Response {
    st.metrics.requests_failed.fetch_add(1, Ordering::Relaxed);
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    plain(status, format!("{e}\n"))
}

/// Seconds a sender is asked to wait before retrying a refused write: the
/// store measures free disk space once a second, and a full disk usually
/// needs someone to free space.
const RETRY_AFTER_READ_ONLY_S: &str = "30";
/// The same for other retryable storage errors (transient I/O).
const RETRY_AFTER_S: &str = "5";

/// Commits `app` and turns the report into the HTTP answer.
fn finish<A: Appender>(st: &WriteState, app: A, mut report: IngestReport) -> Response {
    match app.commit() {
        Ok(stats) if stats.rejected > 0 => {
            // Staged, then refused when applied: never count them as stored.
            report.accepted = report.accepted.saturating_sub(stats.rejected);
            report.reject(stats.rejected, || {
                format!(
                    "{} samples were refused when the batch was applied (a concurrent write or a compaction changed their series in between); they were not stored",
                    stats.rejected
                )
            });
        }
        Ok(_) => {}
        Err(e) => {
            st.metrics.requests_failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, "Committing a write request to the WAL failed; nothing was acknowledged.");
            if !e.is_retryable() {
                return plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("storage error, nothing stored: {e}\n"),
                );
            }
            let wait = if e.is_read_only() {
                RETRY_AFTER_READ_ONLY_S
            } else {
                RETRY_AFTER_S
            };
            let mut r = plain(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("storage error, nothing stored: {e}\n"),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static(wait));
            return r;
        }
    }
    st.metrics
        .samples_accepted
        .fetch_add(report.accepted, Ordering::Relaxed);
    st.metrics
        .samples_rejected
        .fetch_add(report.rejected, Ordering::Relaxed);
    if report.rejected == 0 {
        return StatusCode::NO_CONTENT.into_response();
    }
    st.metrics.requests_failed.fetch_add(1, Ordering::Relaxed);
    let mut msg = format!(
        "accepted {} samples, rejected {} samples\n",
        report.accepted, report.rejected
    );
    for e in &report.errors {
        msg.push_str(e);
        msg.push('\n');
    }
    plain(StatusCode::BAD_REQUEST, msg)
}

/// Answers a write that found no free slot in time: 503 with `Retry-After`.
fn throttled(st: &WriteState, t: Throttled) -> Response {
    st.metrics.requests_failed.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(in_progress = t.in_progress, waited = ?t.waited, "Refused a write request: every ingest slot stayed busy (limits.max_concurrent_writes, limits.write_queue_timeout).");
    let mut r = plain(StatusCode::SERVICE_UNAVAILABLE, format!("{t}\n"));
    let secs = t.waited.as_secs().max(1).to_string();
    if let Ok(v) = header::HeaderValue::from_str(&secs) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// Takes a slot in the ingest budget, then runs `work` (decoding, staging
/// and the WAL commit, fsync included) on a blocking thread while holding
/// it, so a large write never stalls the async workers that serve
/// `/-/healthy` and queries.
async fn run_write<F>(st: WriteState, work: F) -> Response
where
    F: FnOnce(&WriteState) -> Response + Send + 'static,
{
    st.metrics.write_requests.fetch_add(1, Ordering::Relaxed);
    let permit = match st.writes.enter().await {
        Ok(p) => p,
        Err(t) => return throttled(&st, t),
    };
    let inner = st.clone();
    let res = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work(&inner)
    })
    .await;
    match res {
        Ok(r) => r,
        Err(e) => {
            st.metrics.requests_failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, "A write request's worker failed; nothing was acknowledged.");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the write failed inside the server; nothing was acknowledged, retry it\n"
                    .to_string(),
            )
        }
    }
}

/// `POST /api/v1/write`: Prometheus remote_write 1.0 (protobuf + snappy).
pub async fn remote_write(
    axum::extract::State(st): axum::extract::State<WriteState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run_write(st, move |st| {
        let mut app = st.storage.appender();
        let res = argus_ingest::remote_write::ingest_remote_write(
            &mut app,
            &body,
            header_str(&headers, header::CONTENT_TYPE),
            header_str(&headers, header::CONTENT_ENCODING),
        );
        match res {
            Ok(report) => finish(st, app, report),
            Err(e) => {
                app.rollback();
                ingest_error(st, e)
            }
        }
    })
    .await
}

/// `POST /api/v1/import/prometheus`: Prometheus text 0.0.4 or OpenMetrics
/// (by content type). Lines without a timestamp get the server's time.
pub async fn import_text(
    axum::extract::State(st): axum::extract::State<WriteState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run_write(st, move |st| {
        let format = TextFormat::from_content_type(header_str(&headers, header::CONTENT_TYPE));
        let body = match decode_gzip(&headers, &body) {
            Ok(b) => b,
            Err(r) => return *r,
        };
        let mut app = st.storage.appender();
        let max_labels = st.db.label_limits().max_labels;
        let report = argus_ingest::text::ingest_text_limited(
            &mut app,
            &body,
            st.clock.now_ms(),
            format,
            max_labels,
        );
        finish(st, app, report)
    })
    .await
}

/// `POST /api/v1/push`: JSON samples (see docs/format/json-push.md).
pub async fn push_json(
    axum::extract::State(st): axum::extract::State<WriteState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run_write(st, move |st| {
        let body = match decode_gzip(&headers, &body) {
            Ok(b) => b,
            Err(r) => return *r,
        };
        let mut app = st.storage.appender();
        match argus_ingest::push::ingest_json(&mut app, &body, st.clock.as_ref()) {
            Ok(report) => finish(st, app, report),
            Err(e) => {
                app.rollback();
                ingest_error(st, e)
            }
        }
    })
    .await
}

/// Undoes `Content-Encoding: gzip` for the text endpoints.
fn decode_gzip(headers: &HeaderMap, body: &Bytes) -> Result<Bytes, Box<Response>> {
    match header_str(headers, header::CONTENT_ENCODING) {
        None | Some("identity") => Ok(body.clone()),
        Some("gzip") => {
            use std::io::Read;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .take(256 << 20)
                .read_to_end(&mut out)
                .map_err(|e| {
                    Box::new(plain(
                        StatusCode::BAD_REQUEST,
                        format!("invalid gzip body: {e}\n"),
                    ))
                })?;
            Ok(Bytes::from(out))
        }
        Some(other) => Err(Box::new(plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Encoding {other:?}: use gzip or none\n"),
        ))),
    }
}
