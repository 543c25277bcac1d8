//! The one way alerts from inside Argus enter the pipeline.
//!
//! The rules engine, the health checks and dynamic rules each convert their
//! alerts into [`AlertEvent`]s and hand them to an [`Ingress`] (cheap to clone,
//! never blocks). The pipeline owns the matching [`IngressQueue`] and applies
//! the batches in the order they were sent ([`IngressQueue::feed`]): each is
//! converted with [`Alert::from_event`] and put into the dispatcher on the
//! blocking pool. Alerts posted over HTTP take their own path, converted from
//! text at the API.
//!
//! ```
//! use argus_alert::ingress::Ingress;
//! use argus_model::{alert::AlertEvent, Labels};
//! let (ingress, mut queue) = Ingress::channel();
//! let ev = AlertEvent::new(Labels::from_pairs(&[("alertname", "Down")]), 1_000);
//! ingress.send(vec![ev.clone()]).unwrap();
//! assert_eq!(queue.try_recv(), Some(vec![ev]));
//! drop(queue);
//! assert!(ingress.send(Vec::new()).is_err());
//! ```

use crate::alert::Alert;
use crate::runner::Handle;
use argus_model::alert::AlertEvent;
use tokio::sync::mpsc;

/// The pipeline is gone (shut down); the alerts were not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the alert pipeline has stopped; {0} alerts were not taken")]
pub struct IngressClosed(pub usize);

/// Where alert sources send their alerts. Clones share one queue.
#[derive(Debug, Clone)]
pub struct Ingress {
    tx: mpsc::UnboundedSender<Vec<AlertEvent>>,
}

/// The pipeline's end of an [`Ingress`]: the batches, in the order sent.
#[derive(Debug)]
pub struct IngressQueue {
    rx: mpsc::UnboundedReceiver<Vec<AlertEvent>>,
}

impl Ingress {
    /// A new ingress and the queue it feeds.
    pub fn channel() -> (Ingress, IngressQueue) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Ingress { tx }, IngressQueue { rx })
    }

    /// Queues `alerts` for the pipeline without waiting. An empty batch is
    /// not queued.
    pub fn send(&self, alerts: Vec<AlertEvent>) -> Result<(), IngressClosed> {
        if alerts.is_empty() {
            return if self.tx.is_closed() {
                Err(IngressClosed(0))
            } else {
                Ok(())
            };
        }
        let n = alerts.len();
        self.tx.send(alerts).map_err(|_| IngressClosed(n))
    }
}

impl IngressQueue {
    /// The next batch; `None` once every [`Ingress`] is dropped.
    pub async fn recv(&mut self) -> Option<Vec<AlertEvent>> {
        self.rx.recv().await
    }

    /// The next batch if one is queued.
    pub fn try_recv(&mut self) -> Option<Vec<AlertEvent>> {
        self.rx.try_recv().ok()
    }

    /// Applies every batch, in order, to the dispatcher behind `handle` until
    /// every [`Ingress`] is dropped: each alert is converted at its arrival
    /// (the dispatcher's clock and `resolve_timeout`), put on the blocking
    /// pool, and the runner woken. Alerts that do not convert are logged and
    /// dropped.
    pub async fn feed(mut self, handle: Handle) {
        while let Some(batch) = self.rx.recv().await {
            let h2 = handle.clone();
            let n = batch.len();
            let put = tokio::task::spawn_blocking(move || {
                h2.with(|d| {
                    let now = d.clock().now_ms();
                    let timeout = d.config().global.resolve_timeout().as_millis();
                    let alerts = convert(batch, now, timeout);
                    d.put_alerts(alerts)
                })
            });
            match put.await {
                Ok(Ok(())) => handle.wake(),
                Ok(Err(e)) => {
                    tracing::error!(alerts = n, error = %e, "Could not store alerts from inside Argus.")
                }
                Err(e) => tracing::error!(error = %e, "The alert ingress task failed."),
            }
        }
    }
}

/// Converts a batch, logging and dropping the alerts that are refused.
fn convert(batch: Vec<AlertEvent>, now: i64, resolve_timeout_ms: i64) -> Vec<Alert> {
    let mut out = Vec::with_capacity(batch.len());
    for ev in batch {
        let labels = ev.labels.to_string();
        match Alert::from_event(ev, now, resolve_timeout_ms) {
            Ok(a) => out.push(a),
            Err(e) => {
                tracing::warn!(labels = %labels, error = %e, "Dropped an alert from inside Argus.")
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_model::Labels;

    #[test]
    fn batches_keep_their_order_and_bad_alerts_are_dropped() {
        let (ingress, mut q) = Ingress::channel();
        let ev = |n: &str, t| AlertEvent::new(Labels::from_pairs(&[("alertname", n)]), t);
        let other = ingress.clone();
        ingress.send(vec![ev("A", 1)]).unwrap();
        other.send(vec![ev("B", 2), AlertEvent::default()]).unwrap();
        ingress.send(Vec::new()).unwrap();
        assert_eq!(q.try_recv().unwrap()[0].labels.get("alertname"), Some("A"));
        let b = convert(q.try_recv().unwrap(), 10, 5);
        assert_eq!(b.len(), 1, "the alert without labels is dropped");
        assert_eq!((b[0].starts_at, b[0].ends_at, b[0].timeout), (2, 15, true));
        assert!(q.try_recv().is_none(), "empty batches are not queued");
    }
}
