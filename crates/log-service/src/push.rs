//! The log push endpoints:
//!
//! - `POST /loki/api/v1/push`: Loki's push API (snappy protobuf or JSON), what
//!   Promtail, Grafana Alloy, Fluent Bit and Vector send;
//! - `POST /v1/logs` (and `/otlp/v1/logs`): OTLP/HTTP logs (protobuf or JSON);
//! - `POST /api/v1/logs`: JSON lines, or plain text (`Content-Type:
//!   text/plain`), with the query string's parameters as labels.
//!
//! Each push takes a slot of the ingest budget (503 with `Retry-After` when
//! none frees in time), decodes and stores on a blocking thread, and is
//! answered only after its lines are in the log WAL. Bad records are refused
//! one by one with where and why; the good ones of the same request are kept.
//! When the WAL cannot be written nothing is acknowledged: 503 with
//! `Retry-After`, so the sender retries.

use crate::{LogsRuntime, Stored};
use argus_logs::push::{self, DecodeLimits, JsonLinesOptions, PushError};
use argus_logs::record::Decoded;
use argus_web::params::{header_str as hdr, plain};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub(super) fn router(rt: Arc<LogsRuntime>) -> Router {
    Router::new()
        .route("/loki/api/v1/push", post(loki))
        .route("/v1/logs", post(otlp))
        .route("/otlp/v1/logs", post(otlp))
        .route("/api/v1/logs", post(lines))
        .with_state(rt)
}

/// Seconds a sender waits before retrying when the WAL could not be written.
const RETRY_AFTER_S: &str = "10";

impl LogsRuntime {
    pub(super) fn decode_limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_line_bytes: usize::try_from(self.cfg.max_line_size.0).unwrap_or(usize::MAX),
            max_labels: self.cfg.max_labels,
            ..DecodeLimits::default()
        }
    }

    /// Takes a slot of the ingest budget, then decodes with `decode` and
    /// stores on a blocking thread; `answer` turns the outcome into the
    /// protocol's response. `decode`'s error is the whole request's fault
    /// (400); a store failure is 503 with `Retry-After`.
    pub(super) async fn push<D, E, A>(self: Arc<Self>, decode: D, answer: A) -> Response
    where
        D: FnOnce(&LogsRuntime) -> Result<Batch, E> + Send + 'static,
        E: std::fmt::Display,
        A: FnOnce(Stored) -> Response + Send + 'static,
    {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let permit = match self.writes.enter().await {
            Ok(p) => p,
            Err(t) => {
                self.counters
                    .requests_failed
                    .fetch_add(1, Ordering::Relaxed);
                let mut r = plain(StatusCode::SERVICE_UNAVAILABLE, format!("{t}\n"));
                let secs = t.waited.as_secs().max(1).to_string();
                if let Ok(v) = header::HeaderValue::from_str(&secs) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return r;
            }
        };
        let rt = self.clone();
        let res = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let decoded = decode(&rt).map_err(|e| {
                Box::new(plain(
                    StatusCode::BAD_REQUEST,
                    format!("nothing stored: {e}\n"),
                ))
            })?;
            let stored = match decoded {
                Batch::Lines(d) => rt.store_decoded(d),
                Batch::Events(e) => rt.store_events(e.events, e.refused),
            };
            stored.map_err(|e| {
                let mut r = plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("nothing stored: {e}\n"),
                );
                r.headers_mut().insert(
                    header::RETRY_AFTER,
                    header::HeaderValue::from_static(RETRY_AFTER_S),
                );
                Box::new(r)
            })
        })
        .await;
        let out = match res {
            Ok(Ok(stored)) => {
                if !stored.refused.is_empty() {
                    self.counters
                        .requests_failed
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(summary = %stored.summary(), "Refused some lines of a log push.");
                }
                return answer(stored);
            }
            Ok(Err(r)) => *r,
            Err(e) => {
                tracing::error!(error = %e, "A log push's worker failed; nothing was acknowledged.");
                plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the push failed inside the server; nothing was acknowledged, retry it\n"
                        .into(),
                )
            }
        };
        self.counters
            .requests_failed
            .fetch_add(1, Ordering::Relaxed);
        out
    }
}

/// What a push decoded: log lines, or events (kept as lines and counted by
/// the event-mix model).
pub(super) enum Batch {
    /// Log lines.
    Lines(Decoded),
    /// Events.
    Events(argus_logs::events::DecodedEvents),
}

impl From<Decoded> for Batch {
    fn from(d: Decoded) -> Batch {
        Batch::Lines(d)
    }
}

/// 204 when every line was stored; 400 naming the refused ones otherwise
/// (Loki's answer to a partly bad push; the good lines are kept).
pub(super) fn loki_answer(s: Stored) -> Response {
    if s.refused.is_empty() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        plain(StatusCode::BAD_REQUEST, format!("{}\n", s.summary()))
    }
}

async fn loki(State(rt): State<Arc<LogsRuntime>>, headers: HeaderMap, body: Bytes) -> Response {
    rt.push(
        move |rt| {
            push::decode_loki(
                &body,
                hdr(&headers, header::CONTENT_TYPE),
                hdr(&headers, header::CONTENT_ENCODING),
                &rt.decode_limits(),
            )
            .map(Batch::from)
        },
        loki_answer,
    )
    .await
}

/// OTLP's answer: 200 with an `ExportLogsServiceResponse`, whose
/// `partial_success` counts and explains refused records, in the request's
/// encoding.
async fn otlp(State(rt): State<Arc<LogsRuntime>>, headers: HeaderMap, body: Bytes) -> Response {
    let json = hdr(&headers, header::CONTENT_TYPE)
        .is_some_and(|c| c.trim_start().starts_with("application/json"));
    rt.push(
        move |rt| {
            push::decode_otlp(
                &body,
                hdr(&headers, header::CONTENT_TYPE),
                hdr(&headers, header::CONTENT_ENCODING),
                rt.now_ns(),
                &rt.decode_limits(),
            )
            .map(Batch::from)
        },
        move |s| otlp_answer(&s, json),
    )
    .await
}

fn otlp_answer(s: &Stored, json: bool) -> Response {
    let rejected = s.refused.len() as u64;
    let message = if rejected == 0 {
        String::new()
    } else {
        s.summary()
    };
    if json {
        let body = if rejected == 0 {
            serde_json::json!({})
        } else {
            serde_json::json!({"partialSuccess": {
                "rejectedLogRecords": rejected.to_string(),
                "errorMessage": message,
            }})
        };
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
    }
    // ExportLogsServiceResponse { ExportLogsPartialSuccess partial_success = 1 }
    // ExportLogsPartialSuccess { int64 rejected_log_records = 1; string error_message = 2 }
    let mut body = Vec::new();
    if rejected > 0 {
        let mut inner = Vec::new();
        prost::encoding::int64::encode(1, &(rejected as i64), &mut inner);
        prost::encoding::string::encode(2, &message, &mut inner);
        prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, &mut body);
        prost::encoding::encode_varint(inner.len() as u64, &mut body);
        body.extend_from_slice(&inner);
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        body,
    )
        .into_response()
}

/// `POST /api/v1/logs`: JSON lines (the default), or plain text when the
/// content type is `text/plain`. The query string's parameters are labels
/// of every line (`?service=api&level=info`).
async fn lines(
    State(rt): State<Arc<LogsRuntime>>,
    Query(params): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let labels = match labels_of(&params) {
        Ok(l) => l,
        Err(msg) => return plain(StatusCode::BAD_REQUEST, format!("nothing stored: {msg}\n")),
    };
    let text = hdr(&headers, header::CONTENT_TYPE)
        .is_some_and(|c| c.trim_start().starts_with("text/plain"));
    rt.push(
        move |rt| {
            let limits = rt.decode_limits();
            if text {
                if labels.is_empty() {
                    return Err(PushError::Json {
                        expected: "plain text with labels",
                        detail: "give the lines' labels in the query string, such as ?service=api"
                            .into(),
                    });
                }
                let body =
                    push::decode_content(&body, hdr(&headers, header::CONTENT_ENCODING), &limits)?;
                Ok(push::decode_text(&body, &labels, rt.now_ns(), &limits).into())
            } else {
                let opts = JsonLinesOptions {
                    labels,
                    label_fields: rt.cfg.json_label_fields.clone(),
                };
                push::decode_json_lines(
                    &body,
                    hdr(&headers, header::CONTENT_ENCODING),
                    &opts,
                    rt.now_ns(),
                    &limits,
                )
                .map(Batch::from)
            }
        },
        loki_answer,
    )
    .await
}

fn labels_of(params: &BTreeMap<String, String>) -> Result<argus_model::Labels, String> {
    for name in params.keys() {
        if !argus_model::is_valid_label_name(name) {
            return Err(format!(
                "the query parameter {name:?} is not a valid label name"
            ));
        }
    }
    let pairs: Vec<(&String, &String)> = params.iter().collect();
    Ok(argus_model::Labels::from_pairs(&pairs))
}
