//! NATS JetStream sources (`logs.nats`): each configured stream is read
//! through a durable pull consumer, in batches. A batch's messages are
//! decoded with the source's format, stored together (lines, or events that
//! also feed the event-mix model), and acknowledged one by one only once the
//! batch is in the WAL; when the WAL cannot be written nothing is
//! acknowledged, the messages are kept "in progress" while storing is retried
//! with a back-off, and whatever was not acknowledged when Argus stops is
//! delivered again by the server. A message that cannot be decoded at all,
//! or whose records are all refused, is counted, logged once and terminated
//! so that it never blocks the ones behind it.
//!
//! A NATS server that is down never stops Argus from starting: the source
//! connects again with a growing back-off and says so in the status banner.

use crate::config::{NatsFormat, NatsSourceConfig};
use crate::LogsRuntime;
use argus_logs::events::{decode_events, Event};
use argus_logs::push::{self, JsonLinesOptions};
use argus_logs::record::{Decoded, LogRecord, Refusal};
use argus_model::Labels;
use argus_web::parts::{Components, Part};
use async_nats::jetstream::{self, consumer::pull, AckKind};
use futures::StreamExt;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long one fetch waits for messages before asking again.
const FETCH_WAIT: Duration = Duration::from_secs(1);
/// Longest wait between connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Wait between attempts to store a batch the WAL refused.
const STORE_RETRY: Duration = Duration::from_secs(5);

type Consumer = jetstream::consumer::Consumer<pull::Config>;

/// One source's counters and problem, for `/metrics` and the status banner.
#[derive(Debug)]
pub(super) struct SourceState {
    name: String,
    stored: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    problem: Mutex<Option<String>>,
}

/// The state of every `logs.nats` source, in configuration order.
#[derive(Debug, Default)]
pub(super) struct NatsSources(Vec<Arc<SourceState>>);

impl NatsSources {
    pub(super) fn new(cfg: &[NatsSourceConfig]) -> NatsSources {
        NatsSources(
            cfg.iter()
                .map(|c| {
                    Arc::new(SourceState {
                        name: c.name(),
                        stored: AtomicU64::new(0),
                        refused: AtomicU64::new(0),
                        failed: AtomicU64::new(0),
                        problem: Mutex::new(None),
                    })
                })
                .collect(),
        )
    }

    /// Sentences for the status banner: sources that cannot be read.
    pub(super) fn problems(&self) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|s| s.problem.lock().clone())
            .collect()
    }

    /// `argus_log_nats_messages_total{source,result}`.
    pub(super) fn metrics_text(&self, out: &mut String) {
        use std::fmt::Write;
        if self.0.is_empty() {
            return;
        }
        let name = "argus_log_nats_messages_total";
        let _ = writeln!(out, "# HELP {name} NATS JetStream messages read by the log sources: stored (and acknowledged), refused (undecodable or every record refused; terminated), failed (their batch could not be stored; delivered again).\n# TYPE {name} counter");
        for s in &self.0 {
            let src = s.name.replace('\\', "\\\\").replace('"', "\\\"");
            for (result, c) in [
                ("stored", &s.stored),
                ("refused", &s.refused),
                ("failed", &s.failed),
            ] {
                let v = c.load(Ordering::Relaxed);
                let _ = writeln!(out, "{name}{{source=\"{src}\",result=\"{result}\"}} {v}");
            }
        }
    }
}

/// Starts one consumer task per `logs.nats` source.
pub(super) fn start(rt: &Arc<LogsRuntime>, up: &mut Components) {
    for (cfg, st) in rt.cfg.nats.iter().zip(rt.nats.0.iter()) {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(rt.clone(), cfg.clone(), st.clone(), stopped));
        up.push(Part::signalled_task("nats source", stop, task));
    }
}

/// Connects, reads and reconnects until stopped.
async fn run(
    rt: Arc<LogsRuntime>,
    cfg: NatsSourceConfig,
    st: Arc<SourceState>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        match session(&rt, &cfg, &st, &mut stopped, &mut backoff).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(source = %st.name, url = %cfg.url, error = %e, retry_in_s = backoff.as_secs(), "Cannot read log messages from NATS JetStream; retrying.");
                *st.problem.lock() = Some(format!(
                    "The NATS JetStream log source {} cannot be read from {}: {e}. Argus retries; the messages wait in the stream.",
                    st.name, cfg.url
                ));
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection: `Ok` when stopped, `Err` when the server, stream or
/// consumer cannot be reached.
async fn session(
    rt: &Arc<LogsRuntime>,
    cfg: &NatsSourceConfig,
    st: &SourceState,
    stopped: &mut watch::Receiver<bool>,
    backoff: &mut Duration,
) -> Result<(), String> {
    let connect = async_nats::ConnectOptions::new()
        .name("argus")
        .connection_timeout(Duration::from_secs(5))
        .connect(cfg.url.as_str());
    let client = tokio::select! {
        c = connect => c.map_err(|e| format!("cannot connect: {e}"))?,
        _ = stopped.wait_for(|s| *s) => return Ok(()),
    };
    let consumer = tokio::select! {
        c = consumer(&client, cfg) => c?,
        _ = stopped.wait_for(|s| *s) => return Ok(()),
    };
    if st.problem.lock().take().is_some() {
        tracing::info!(source = %st.name, "Reading log messages from NATS JetStream again.");
    } else {
        tracing::info!(source = %st.name, url = %cfg.url, format = cfg.format.as_str(), "Reading log messages from NATS JetStream.");
    }
    *backoff = Duration::from_secs(1);
    loop {
        // Stopping interrupts waiting for messages, never storing or
        // acknowledging a batch: what was stored is acknowledged.
        let batch = tokio::select! {
            b = fetch(&consumer, cfg.batch) => b?,
            _ = stopped.wait_for(|s| *s) => return Ok(()),
        };
        if batch.is_empty() {
            continue;
        }
        if !handle(rt, cfg, st, &client, batch, stopped).await? {
            return Ok(());
        }
    }
}

/// Gets the stream (creating it when configured) and the durable consumer.
async fn consumer(client: &async_nats::Client, cfg: &NatsSourceConfig) -> Result<Consumer, String> {
    let js = jetstream::new(client.clone());
    let stream = if cfg.create_stream {
        js.get_or_create_stream(jetstream::stream::Config {
            name: cfg.stream.clone(),
            subjects: cfg.subjects.clone(),
            ..Default::default()
        })
        .await
        .map_err(|e| format!("cannot get or create the stream {:?}: {e}", cfg.stream))?
    } else {
        js.get_stream(&cfg.stream)
            .await
            .map_err(|e| format!("cannot get the stream {:?}: {e}", cfg.stream))?
    };
    let ack_wait = Duration::from_millis(cfg.ack_wait.as_millis().max(1_000) as u64);
    stream
        .get_or_create_consumer(
            &cfg.consumer,
            pull::Config {
                durable_name: Some(cfg.consumer.clone()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait,
                max_ack_pending: i64::try_from(cfg.max_ack_pending).unwrap_or(i64::MAX),
                // One subject filters; several are the stream's own subjects.
                filter_subject: match cfg.subjects.as_slice() {
                    [one] => one.clone(),
                    _ => String::new(),
                },
                ..Default::default()
            },
        )
        .await
        .map_err(|e| {
            format!(
                "cannot get or create the durable consumer {:?}: {e}",
                cfg.consumer
            )
        })
}

/// Up to `max` messages, waiting at most [`FETCH_WAIT`] for the first.
async fn fetch(consumer: &Consumer, max: usize) -> Result<Vec<jetstream::Message>, String> {
    let fetched = async {
        let mut msgs = consumer
            .batch()
            .max_messages(max)
            .expires(FETCH_WAIT)
            .messages()
            .await
            .map_err(|e| format!("cannot fetch messages: {e}"))?;
        let mut out = Vec::new();
        while let Some(m) = msgs.next().await {
            match m {
                Ok(m) => out.push(m),
                Err(e) if out.is_empty() => return Err(format!("cannot fetch messages: {e}")),
                Err(_) => break,
            }
        }
        Ok(out)
    };
    // A pull request lost with the connection ends here; the next one fails
    // or succeeds after the client reconnected.
    tokio::time::timeout(FETCH_WAIT + Duration::from_secs(10), fetched)
        .await
        .unwrap_or_else(|_| Ok(Vec::new()))
}

/// What a batch became: lines or events, and which messages were poison.
#[derive(Clone)]
enum Batch {
    Lines(Decoded),
    Events(Vec<Event>, Vec<Refusal>),
}

/// Decodes, stores and acknowledges one batch. `Ok(false)` when stopped
/// before it could be stored (nothing acknowledged: delivered again).
async fn handle(
    rt: &Arc<LogsRuntime>,
    cfg: &NatsSourceConfig,
    st: &SourceState,
    client: &async_nats::Client,
    msgs: Vec<jetstream::Message>,
    stopped: &mut watch::Receiver<bool>,
) -> Result<bool, String> {
    let inputs: Vec<Input> = msgs.iter().map(Input::of).collect();
    let (r, c) = (rt.clone(), cfg.clone());
    let (batch, poison) = tokio::task::spawn_blocking(move || decode(&r, &c, inputs))
        .await
        .map_err(|e| format!("decoding failed inside the server: {e}"))?;
    for (i, reason) in &poison {
        let m = &msgs[*i];
        tracing::warn!(source = %st.name, subject = %m.subject, reason = %reason, "A NATS message holds no log line or event that can be stored; it is dropped so that later ones are read.");
        st.refused.fetch_add(1, Ordering::Relaxed);
        m.ack_with(AckKind::Term)
            .await
            .map_err(|e| format!("cannot acknowledge: {e}"))?;
    }
    let good: Vec<&jetstream::Message> = msgs
        .iter()
        .enumerate()
        .filter(|(i, _)| !poison.iter().any(|(p, _)| p == i))
        .map(|(_, m)| m)
        .collect();
    loop {
        let (r, b) = (rt.clone(), batch.clone());
        let res = tokio::task::spawn_blocking(move || match b {
            Batch::Lines(d) => r.store_decoded(d),
            Batch::Events(e, refused) => r.store_events(e, refused),
        })
        .await
        .map_err(|e| format!("storing failed inside the server: {e}"))?;
        match res {
            Ok(s) => {
                if !s.refused.is_empty() {
                    tracing::debug!(source = %st.name, summary = %s.summary(), "Refused some lines of NATS messages.");
                }
                break;
            }
            // store_decoded logged the failure and set the status banner.
            Err(_) => {
                st.failed.fetch_add(good.len() as u64, Ordering::Relaxed);
                for m in &good {
                    // Still ours: not delivered to anyone else meanwhile.
                    let _ = m.ack_with(AckKind::Progress).await;
                }
                tokio::select! {
                    _ = tokio::time::sleep(STORE_RETRY) => {}
                    _ = stopped.wait_for(|s| *s) => return Ok(false),
                }
            }
        }
    }
    for m in &good {
        m.ack()
            .await
            .map_err(|e| format!("cannot acknowledge: {e}"))?;
    }
    client
        .flush()
        .await
        .map_err(|e| format!("cannot acknowledge: {e}"))?;
    st.stored.fetch_add(good.len() as u64, Ordering::Relaxed);
    Ok(true)
}

/// What the decoder needs of a message.
struct Input {
    subject: String,
    seq: Option<u64>,
    headers: Vec<(String, String)>,
    body: bytes::Bytes,
}

impl Input {
    fn of(m: &jetstream::Message) -> Input {
        let headers = m
            .headers
            .iter()
            .flat_map(|h| h.iter())
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.to_string(), v.to_string())))
            .collect();
        Input {
            subject: m.subject.to_string(),
            seq: m.info().ok().map(|i| i.stream_sequence),
            headers,
            body: m.payload.clone(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn at(&self) -> String {
        match self.seq {
            Some(s) => format!("{} #{s}", self.subject),
            None => self.subject.clone(),
        }
    }

    /// Metadata every record of the message gets.
    fn metadata(&self) -> Vec<(String, String)> {
        let mut m = vec![("nats_subject".to_string(), self.subject.clone())];
        if let Some(id) = self.header("Nats-Msg-Id") {
            m.push(("nats_msg_id".into(), id.to_string()));
        }
        m
    }
}

/// Decodes every message; returns the batch to store and the poison
/// messages (index, reason).
fn decode(
    rt: &LogsRuntime,
    cfg: &NatsSourceConfig,
    inputs: Vec<Input>,
) -> (Batch, Vec<(usize, String)>) {
    let limits = rt.decode_limits();
    let now = rt.now_ns();
    let labels = Labels::from_pairs(&cfg.labels.iter().collect::<Vec<_>>());
    let mut poison = Vec::new();
    let mut lines = Decoded::default();
    let mut events = Vec::new();
    for (i, inp) in inputs.iter().enumerate() {
        // Lines without a time keep their order across the batch's messages.
        let now = now + (lines.records.len() + events.len()) as i64;
        let (ce, ct) = (inp.header("Content-Encoding"), inp.header("Content-Type"));
        let d = match cfg.format {
            NatsFormat::Cloudevents => match decode_events(&inp.body, &inp.headers, now, &limits) {
                Ok(mut d) => {
                    if d.events.is_empty() && !d.refused.is_empty() {
                        poison.push((i, d.refused[0].reason.clone()));
                        continue;
                    }
                    for e in &mut d.events {
                        for (k, v) in &cfg.labels {
                            if e.labels.get(k).is_none() {
                                e.labels.set(k, v);
                            }
                        }
                    }
                    events.extend(d.events);
                    let at = inp.at();
                    lines.refused.extend(
                        d.refused
                            .into_iter()
                            .map(|r| Refusal::new(format!("{at}, {}", r.at), r.reason)),
                    );
                    continue;
                }
                Err(e) => Err(e.to_string()),
            },
            NatsFormat::JsonLines => {
                let opts = JsonLinesOptions {
                    labels: labels.clone(),
                    label_fields: rt.cfg.json_label_fields.clone(),
                };
                push::decode_json_lines(&inp.body, ce, &opts, now, &limits)
                    .map_err(|e| e.to_string())
            }
            NatsFormat::Loki => {
                push::decode_loki(&inp.body, ct, ce, &limits).map_err(|e| e.to_string())
            }
            NatsFormat::Otlp => {
                push::decode_otlp(&inp.body, ct, ce, now, &limits).map_err(|e| e.to_string())
            }
            NatsFormat::Text => push::decode_content(&inp.body, ce, &limits)
                .map(|b| push::decode_text(&b, &labels, now, &limits))
                .map_err(|e| e.to_string()),
        };
        match d {
            Err(reason) => poison.push((i, reason)),
            Ok(d) if d.records.is_empty() && !d.refused.is_empty() => {
                poison.push((i, d.refused[0].reason.clone()));
            }
            Ok(d) => {
                let meta = inp.metadata();
                lines
                    .records
                    .extend(d.records.into_iter().map(|r| with_labels(r, cfg, &meta)));
                let at = inp.at();
                lines.refused.extend(
                    d.refused
                        .into_iter()
                        .map(|r| Refusal::new(format!("{at}, {}", r.at), r.reason)),
                );
            }
        }
    }
    let batch = match cfg.format {
        NatsFormat::Cloudevents => Batch::Events(events, lines.refused),
        _ => Batch::Lines(lines),
    };
    (batch, poison)
}

/// Adds the source's labels a record does not have, and the message's metadata.
fn with_labels(mut r: LogRecord, cfg: &NatsSourceConfig, meta: &[(String, String)]) -> LogRecord {
    for (k, v) in &cfg.labels {
        if r.labels.get(k).is_none() {
            r.labels.set(k, v);
        }
    }
    r.metadata.extend(meta.iter().cloned());
    r
}
