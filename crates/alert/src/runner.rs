//! The thin tokio task that drives a [`Dispatcher`]: tick at the next wakeup (or when woken),
//! deliver each notification through its channel with retries, and report the outcome.
//!
//! Outcomes go to one committer task, which records every outcome reported since its last
//! commit with [`Dispatcher::complete_many`]: one store transaction (one fsync) per drain, on
//! the blocking pool. Under a burst the completions that arrive during one fsync share the
//! next, so the time from a receiver's 2xx to its durable notification-log entry (the window
//! in which `kill -9` makes a duplicate, ADR 0005) stays about two fsyncs long instead of
//! growing with the queue.
//!
//! ```no_run
//! # async fn f(d: argus_alert::Dispatcher, chans: argus_alert::channel::Channels) {
//! use argus_alert::runner::Runner;
//! let runner = Runner::new(d, chans);
//! let handle = runner.handle();
//! let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
//! let task = tokio::spawn(runner.run(async { let _ = stop_rx.await; }));
//! handle.with(|d| d.put_alerts(vec![])).unwrap();
//! handle.wake();
//! let _ = stop_tx.send(());
//! task.await.unwrap();
//! # }
//! ```

use crate::channel::{deliver, Channels};
use crate::dispatch::Dispatcher;
use crate::notification::Notification;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

/// Longest sleep between ticks, so clock jumps and timeouts are noticed.
pub const MAX_SLEEP: Duration = Duration::from_secs(1);

/// Shared access to the dispatcher for the API, and a way to wake the loop.
#[derive(Debug, Clone)]
pub struct Handle {
    dispatcher: Arc<Mutex<Dispatcher>>,
    wake: Arc<Notify>,
    channels: Arc<Mutex<Arc<Channels>>>,
}

impl Handle {
    /// Runs `f` with the dispatcher locked.
    pub fn with<T>(&self, f: impl FnOnce(&mut Dispatcher) -> T) -> T {
        // A panic while locked leaves consistent-enough state: every mutation commits first.
        let mut g = self.dispatcher.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }

    /// Makes the loop tick now (after new alerts, say).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Replaces the channels (after a config reload); deliveries in flight keep the old ones.
    pub fn set_channels(&self, channels: Channels) {
        // A panic while locked cannot leave a half-written Arc behind.
        let mut g = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        *g = Arc::new(channels);
    }

    /// The channels in force.
    pub fn channels(&self) -> Arc<Channels> {
        // As above: the guarded value is always a whole Arc.
        self.channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The driver task.
#[derive(Debug)]
pub struct Runner {
    handle: Handle,
}

impl Runner {
    /// A runner over a dispatcher and its channels.
    pub fn new(d: Dispatcher, channels: Channels) -> Self {
        Runner {
            handle: Handle {
                dispatcher: Arc::new(Mutex::new(d)),
                wake: Arc::new(Notify::new()),
                channels: Arc::new(Mutex::new(Arc::new(channels))),
            },
        }
    }

    /// A handle for the API.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Runs until `shutdown` completes, then waits for deliveries in flight.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut tasks = tokio::task::JoinSet::new();
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let committer = tokio::spawn(commit_loop(self.handle.clone(), done_rx));
        loop {
            let (out, wait, retry) = self.handle.with(|d| {
                let now = d.clock().now_ms();
                let out = d.tick(now);
                let wait = d.next_wakeup().map_or(MAX_SLEEP, |t| {
                    Duration::from_millis((t - now).clamp(0, MAX_SLEEP.as_millis() as i64) as u64)
                });
                (out, wait, d.config().argus.retry)
            });
            for n in out {
                let chans = self.handle.channels();
                let done = done_tx.clone();
                tasks.spawn(async move { send(chans, n, retry, done).await });
            }
            while tasks.try_join_next().is_some() {}
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.handle.wake.notified() => {}
                _ = &mut shutdown => break,
            }
        }
        while tasks.join_next().await.is_some() {}
        // Every sender is gone once the last task ended: the committer drains and stops.
        drop(done_tx);
        if let Err(e) = committer.await {
            tracing::error!(error = %e, "The notification committer ended abnormally.");
        }
    }
}

/// One delivery outcome on its way to the committer.
type Outcome = (Notification, bool, Instant);

/// Records outcomes as they come: waits for one, takes every other one already queued, and
/// commits them together on the blocking pool. Ends when every sender is gone.
async fn commit_loop(h: Handle, mut rx: mpsc::UnboundedReceiver<Outcome>) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, usize::MAX).await > 0 {
        let oldest = batch.iter().map(|(_, _, at)| *at).min();
        let done: Vec<(Notification, bool)> = batch.drain(..).map(|(n, ok, _)| (n, ok)).collect();
        let count = done.len();
        let hh = h.clone();
        let r = tokio::task::spawn_blocking(move || hh.with(|d| d.complete_many(&done))).await;
        match r {
            Ok(Ok(())) => tracing::debug!(
                count,
                oldest_wait_ms = oldest.map_or(0, |t| t.elapsed().as_millis() as u64),
                "Recorded delivery outcomes."
            ),
            Ok(Err(e)) => {
                tracing::error!(count, error = %e, "Could not record delivered notifications; they may be sent again.")
            }
            Err(e) => {
                tracing::error!(count, error = %e, "Recording delivery outcomes panicked; they may be sent again.")
            }
        }
        h.wake();
    }
}

async fn send(
    chans: Arc<Channels>,
    n: Notification,
    retry: crate::config::RetryConfig,
    done: mpsc::UnboundedSender<Outcome>,
) {
    let ok = match chans.get(&n.receiver, n.integration) {
        Some(ch) => match deliver(ch.as_ref(), &n, &retry).await {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(receiver = %n.receiver, group = %n.group_key, error = %e, "Notification failed for good.");
                false
            }
        },
        None => {
            tracing::warn!(receiver = %n.receiver, integration = n.integration, "No channel for this integration; the notification is dropped.");
            false
        }
    };
    // Straight to the committer: nothing else happens between the 2xx and this.
    if done.send((n, ok, Instant::now())).is_err() {
        tracing::error!("The notification committer is gone; a delivered notification is not recorded and may be sent again.");
    }
}
