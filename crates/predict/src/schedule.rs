//! What both rule kinds share to run: which rules are due, and a task that
//! runs a blocking evaluation every second until told to stop.

use parking_lot::Mutex;
use std::collections::HashMap;

/// When each rule was last evaluated, by name.
#[derive(Debug, Default)]
pub(crate) struct Due(Mutex<HashMap<String, i64>>);

impl Due {
    /// Whether the rule `name` with `interval_ms` is due at `now` (never
    /// evaluated, or an interval since); if so, `now` is its last evaluation.
    pub(crate) fn take(&self, name: &str, interval_ms: i64, now: i64) -> bool {
        let mut last = self.0.lock();
        let l = last.entry(name.to_string()).or_insert(i64::MIN);
        let due = *l == i64::MIN || now - *l >= interval_ms;
        if due {
            *l = now;
        }
        due
    }

    /// Forgets every rule (after a reload: each is due at once).
    pub(crate) fn clear(&self) {
        self.0.lock().clear();
    }
}

/// Runs `evaluate` on a blocking thread every second until `stop` turns
/// true; `what` names it in the log when a run fails.
pub(crate) fn every_second<F>(
    what: &'static str,
    evaluate: F,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()>
where
    F: Fn() + Clone + Send + Sync + 'static,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            if let Err(e) = tokio::task::spawn_blocking(evaluate.clone()).await {
                tracing::error!(rules = what, error = %e, "An evaluation of the rules failed; they run again in a second.");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_rule_is_due_at_once_then_every_interval() {
        let d = super::Due::default();
        assert!(d.take("a", 60_000, 0));
        assert!(!d.take("a", 60_000, 59_999));
        assert!(d.take("a", 60_000, 60_000));
        d.clear();
        assert!(d.take("a", 60_000, 60_001));
    }
}
