//! Events in the server: `POST /api/v1/events` takes CloudEvents (structured,
//! batch or binary mode) and Kubernetes `Event` objects; each event is kept in
//! the log store as a line of the stream `{source, type, kind}` (so it is
//! searched, shown and counted like any log line), and counted by the
//! event-mix detector. The detector's model is trained from the store's
//! events of the last week (at start, then every six hours; read an hour at a
//! time and counted per window as it is read); each closed
//! window is judged, and an abnormal mix raises the alert `AbnormalEventMix`
//! naming the types out of line, resolved once the mix is normal again.

use crate::push::Batch;
use crate::LogsRuntime;
use argus_logs::events::{decode_events, Direction, MixDetector, MixModel, MixVerdict, MixWindow};
use argus_logs::record::{Decoded, LogSource};
use argus_model::alert::AlertEvent;
use argus_model::{Labels, MatchOp, Matcher};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Where an alert goes: the server's alert ingress.
pub type AlertSink = Arc<dyn Fn(Vec<AlertEvent>) + Send + Sync>;

/// The alert's name.
pub const ALERT_NAME: &str = "AbnormalEventMix";
const NS: i64 = 1_000_000_000;
/// History a model is trained on.
const TRAIN_SPAN_NS: i64 = 7 * 86_400 * NS;
/// How often the model is trained again.
const RETRAIN_EVERY_NS: i64 = 6 * 3_600 * NS;
/// How soon an untrained detector tries again (too little history).
const RETRY_NS: i64 = 5 * 60 * NS;

/// The event-mix detector and its alert state.
pub struct EventMix {
    detector: Mutex<Option<MixDetector>>,
    next_training_ns: AtomicU64,
    firing_since_ms: Mutex<Option<i64>>,
    sink: AlertSink,
    windows_judged: AtomicU64,
    windows_abnormal: AtomicU64,
}

impl std::fmt::Debug for EventMix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventMix").finish_non_exhaustive()
    }
}

/// The selector of event streams in the log store.
fn event_streams() -> Vec<Matcher> {
    let kinds = argus_logs::events::EventKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join("|");
    let m = |name: &str, re: &str| Matcher::new(MatchOp::Re, name, re);
    [m("kind", &kinds), m("type", ".+"), m("source", ".+")]
        .into_iter()
        .filter_map(Result::ok)
        .collect()
}

impl EventMix {
    pub(super) fn new(sink: AlertSink) -> EventMix {
        EventMix {
            detector: Mutex::new(None),
            next_training_ns: AtomicU64::new(0),
            firing_since_ms: Mutex::new(None),
            sink,
            windows_judged: AtomicU64::new(0),
            windows_abnormal: AtomicU64::new(0),
        }
    }

    /// Counts stored events.
    fn observe(&self, events: &[(String, i64)]) {
        if let Some(d) = self.detector.lock().as_mut() {
            for (t, ts) in events {
                d.observe(t, *ts);
            }
        }
    }

    /// Trains when due, then closes the windows that ended before `now_ns`
    /// and sends the alert changes. Blocking (a training reads the store).
    pub(super) fn tick(&self, src: &dyn LogSource, now_ns: i64) {
        if now_ns >= self.next_training_ns.load(Ordering::Relaxed) as i64 {
            self.train(src, now_ns);
        }
        let verdicts = match self.detector.lock().as_mut() {
            Some(d) => d.close_windows_until(now_ns),
            None => return,
        };
        for v in verdicts {
            self.judge(&v, now_ns);
        }
    }

    fn train(&self, src: &dyn LogSource, now_ns: i64) {
        let window_ns = argus_logs::events::MixConfig::default().window_ns;
        // Whole windows only: the current one is counted live.
        let end = now_ns - now_ns.rem_euclid(window_ns);
        let (windows, events) = match count_windows(src, end - TRAIN_SPAN_NS, end, window_ns) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "The event-mix model could not read its history; it will try again.");
                self.next_training_ns
                    .store((now_ns + RETRY_NS) as u64, Ordering::Relaxed);
                return;
            }
        };
        match MixModel::train(&windows) {
            Ok(model) => {
                let mut d = MixDetector::new(model);
                // Events of the current window already stored count towards it.
                let _ = src.scan(&event_streams(), end, now_ns + 1, &mut |labels, es| {
                    if let Some(t) = labels.get("type") {
                        for e in es {
                            d.observe(t, e.ts_ns);
                        }
                    }
                    true
                });
                tracing::info!(
                    windows = windows.len(),
                    events,
                    "Trained the event-mix model."
                );
                *self.detector.lock() = Some(d);
                self.next_training_ns
                    .store((now_ns + RETRAIN_EVERY_NS) as u64, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::info!(reason = %e, "The event-mix model is not trained yet: too little event history.");
                self.next_training_ns
                    .store((now_ns + RETRY_NS) as u64, Ordering::Relaxed);
            }
        }
    }

    fn judge(&self, v: &MixVerdict, now_ns: i64) {
        self.windows_judged.fetch_add(1, Ordering::Relaxed);
        let now_ms = now_ns / 1_000_000;
        let mut since = self.firing_since_ms.lock();
        if v.abnormal {
            self.windows_abnormal.fetch_add(1, Ordering::Relaxed);
            let start = *since.get_or_insert(v.window_start_ns / 1_000_000);
            let window_ms = argus_logs::events::MixConfig::default().window_ns / 1_000_000;
            (self.sink)(vec![alert(v, start, Some(now_ms + 4 * window_ms))]);
        } else if let Some(start) = since.take() {
            (self.sink)(vec![alert(v, start, Some(now_ms))]);
        }
    }

    /// `argus_event_mix_*` self-metrics.
    pub(super) fn metrics_text(&self, out: &mut String) {
        use std::fmt::Write;
        let trained = u8::from(self.detector.lock().is_some());
        let firing = u8::from(self.firing_since_ms.lock().is_some());
        let _ = writeln!(out, "# HELP argus_event_mix_trained Whether the event-mix model is trained (1) or waits for history (0).\n# TYPE argus_event_mix_trained gauge\nargus_event_mix_trained {trained}");
        let _ = writeln!(out, "# HELP argus_event_mix_windows_total Event windows judged by the event-mix model.\n# TYPE argus_event_mix_windows_total counter\nargus_event_mix_windows_total {}", self.windows_judged.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP argus_event_mix_abnormal_windows_total Event windows judged abnormal.\n# TYPE argus_event_mix_abnormal_windows_total counter\nargus_event_mix_abnormal_windows_total {}", self.windows_abnormal.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP argus_event_mix_alerting Whether the abnormal event mix alert fires.\n# TYPE argus_event_mix_alerting gauge\nargus_event_mix_alerting {firing}");
    }
}

/// Reads a slice of this many windows at a time, so a busy week of events is
/// counted without holding it in memory or hitting the store's read limit.
const SLICE_WINDOWS: i64 = 12;

/// Counts the stored events per type in each window of `[start, end)`,
/// oldest first, empty windows included; also returns the events counted.
fn count_windows(
    src: &dyn LogSource,
    start: i64,
    end: i64,
    window_ns: i64,
) -> Result<(Vec<MixWindow>, u64), argus_logs::record::SourceError> {
    let mut counts: std::collections::BTreeMap<i64, std::collections::BTreeMap<String, u64>> =
        std::collections::BTreeMap::new();
    let mut events = 0u64;
    let mut from = start;
    while from < end {
        let to = (from + SLICE_WINDOWS * window_ns).min(end);
        src.scan(&event_streams(), from, to, &mut |labels, es| {
            if let Some(t) = labels.get("type") {
                for e in es {
                    let w = e.ts_ns - e.ts_ns.rem_euclid(window_ns);
                    *counts
                        .entry(w)
                        .or_default()
                        .entry(t.to_string())
                        .or_insert(0) += 1;
                    events += 1;
                }
            }
            true
        })?;
        from = to;
    }
    let (Some(&first), Some(&last)) = (counts.keys().next(), counts.keys().next_back()) else {
        return Ok((Vec::new(), 0));
    };
    let windows = (0..=(last - first) / window_ns)
        .map(|i| {
            let w = first + i * window_ns;
            MixWindow {
                start_ns: w,
                counts: counts.remove(&w).unwrap_or_default(),
            }
        })
        .collect();
    Ok((windows, events))
}

fn alert(v: &MixVerdict, start_ms: i64, ends_ms: Option<i64>) -> AlertEvent {
    let mut ev = AlertEvent::new(
        Labels::from_pairs(&[("alertname", ALERT_NAME), ("severity", "warning")]),
        start_ms,
    );
    ev.ends_at_ms = ends_ms;
    let parts: Vec<String> = v
        .explanation
        .iter()
        .take(5)
        .map(|d| match d.direction {
            Direction::New => format!("{} {} (never seen before)", d.event_type, d.observed),
            Direction::High => format!(
                "{} {} (about {:.0} expected)",
                d.event_type, d.observed, d.expected
            ),
            Direction::Low => format!(
                "{} {} (about {:.0} expected)",
                d.event_type, d.observed, d.expected
            ),
        })
        .collect();
    ev.annotations.insert(
        "summary".into(),
        format!("The mix of events is out of line: {}.", parts.join("; ")),
    );
    ev.annotations
        .insert("score".into(), format!("{:.1}", v.score));
    ev.annotations
        .insert("threshold".into(), format!("{:.1}", v.threshold));
    ev.annotations
        .insert("events_in_window".into(), v.total.to_string());
    ev
}

pub(super) fn router(rt: Arc<LogsRuntime>) -> Router {
    Router::new()
        .route("/api/v1/events", post(push))
        .with_state(rt)
}

/// `POST /api/v1/events`: like the log pushes, a slot of the ingest budget,
/// then 204 when every event was stored, 400 naming the refused ones
/// otherwise (the good ones are kept), 503 with `Retry-After` when nothing
/// could be stored.
async fn push(State(rt): State<Arc<LogsRuntime>>, headers: HeaderMap, body: Bytes) -> Response {
    let hdrs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    rt.push(
        move |rt| decode_events(&body, &hdrs, rt.now_ns(), &rt.decode_limits()).map(Batch::Events),
        crate::push::loki_answer,
    )
    .await
}

impl LogsRuntime {
    /// Stores events as log lines and counts them for the event-mix model.
    pub(super) fn store_events(
        &self,
        events: Vec<argus_logs::events::Event>,
        refused: Vec<argus_logs::record::Refusal>,
    ) -> Result<crate::Stored, argus_logs::store::StoreError> {
        let seen: Vec<(String, i64)> = events
            .iter()
            .map(|e| (e.event_type.clone(), e.ts_ns))
            .collect();
        let d = Decoded {
            records: events.iter().map(|e| e.to_log_record()).collect(),
            refused,
        };
        let n = d.records.len();
        let stored = self.store_records(d, false)?;
        // Events the store refused (outside its time window) are not counted.
        if let Some(m) = &self.events {
            if stored.accepted == n {
                m.observe(&seen);
            } else {
                let (lo, hi) = self.store.accepted_window(self.now_ns());
                let kept: Vec<(String, i64)> = seen
                    .into_iter()
                    .filter(|(_, t)| *t >= lo && *t <= hi)
                    .collect();
                m.observe(&kept);
            }
        }
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_logs::events::Event;
    use argus_logs::record::MemorySource;

    #[test]
    fn windows_are_counted_slice_by_slice_with_the_empty_ones() {
        const W: i64 = 300 * NS;
        let t0 = 1_800_000_000 * NS - (1_800_000_000 * NS) % W;
        // Events in windows 0, 1 and 30 (past the first slices), none between.
        let at = [
            (t0, "a"),
            (t0 + 10 * NS, "a"),
            (t0 + W, "b"),
            (t0 + 30 * W + 1, "a"),
        ];
        let src = MemorySource::from_records(at.iter().enumerate().map(|(i, (t, ty))| {
            Event::new(i.to_string(), "/x", format!("com.x.{ty}"), *t).to_log_record()
        }));
        let (w, n) = count_windows(&src, t0 - 5 * W, t0 + 40 * W, W).unwrap();
        assert_eq!(n, 4);
        assert_eq!(w.len(), 31);
        assert_eq!(w[0].start_ns, t0);
        assert_eq!(w[0].counts["com.x.a"], 2);
        assert_eq!(w[1].counts["com.x.b"], 1);
        assert!(w[2].counts.is_empty());
        assert_eq!(w[30].counts["com.x.a"], 1);
    }
}
