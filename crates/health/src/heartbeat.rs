//! The seed's E-H heartbeat algorithm as a state machine over readings of a
//! counter, on the injected clock: a counter that has not moved for the
//! configured interval means the service failed; any change (up, or down after
//! a reset) is movement.
//!
//! The store holding the counters can go away. [`HeartbeatState::freeze`]
//! makes the verdict [`Verdict::Unknown`]; the first reading after that is a
//! new baseline, and the service is only declared failed after a full
//! interval without movement measured from that reading.
//!
//! ```
//! use argus_health::heartbeat::{HeartbeatState, Verdict};
//! let mut hb = HeartbeatState::new(1_000, 0);
//! assert_eq!(hb.observe(Some("5".into()), 0), Verdict::Unknown); // baseline
//! assert_eq!(hb.observe(Some("6".into()), 300), Verdict::Up);
//! assert_eq!(hb.observe(Some("6".into()), 1_200), Verdict::Up);
//! assert_eq!(hb.observe(Some("6".into()), 1_300), Verdict::Down);
//! assert_eq!(hb.observe(Some("1".into()), 1_500), Verdict::Up); // a reset moves it
//! ```

/// What a check says about a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Not known: no baseline yet, the counter store is unreachable, or the
    /// probe has not run.
    Unknown,
    /// Alive.
    Up,
    /// Failed.
    Down,
}

impl Verdict {
    /// `up`, `down` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Unknown => "unknown",
            Verdict::Up => "up",
            Verdict::Down => "down",
        }
    }
}

/// One service's heartbeat: the last reading and when the counter last moved.
#[derive(Debug, Clone)]
pub struct HeartbeatState {
    interval_ms: i64,
    /// The baseline reading; `None` until the first reading (and after a freeze).
    last: Option<Option<String>>,
    /// When the counter was last seen to move, or when the baseline was taken.
    moved_ms: i64,
    verdict: Verdict,
}

impl HeartbeatState {
    /// A heartbeat with the promise `interval_ms`, watched from `now_ms`.
    pub fn new(interval_ms: i64, now_ms: i64) -> Self {
        HeartbeatState {
            interval_ms,
            last: None,
            moved_ms: now_ms,
            verdict: Verdict::Unknown,
        }
    }

    /// A fresh reading of the counter (`None`: the key does not exist) at
    /// `now_ms`. Returns the verdict.
    pub fn observe(&mut self, value: Option<String>, now_ms: i64) -> Verdict {
        match &self.last {
            None => {
                // The first reading, or the first after the store came back:
                // a baseline, not movement. The interval runs from now.
                self.last = Some(value);
                self.moved_ms = now_ms;
            }
            Some(prev) if *prev != value => {
                self.last = Some(value);
                self.moved_ms = now_ms;
                self.verdict = Verdict::Up;
            }
            Some(_) => {
                if now_ms - self.moved_ms >= self.interval_ms {
                    self.verdict = Verdict::Down;
                }
            }
        }
        self.verdict
    }

    /// The counter store is unreachable: the verdict is unknown, and the next
    /// reading starts a new baseline.
    pub fn freeze(&mut self) {
        self.last = None;
        self.verdict = Verdict::Unknown;
    }

    /// The current verdict.
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// Whether the state is frozen or has no baseline yet.
    pub fn has_baseline(&self) -> bool {
        self.last.is_some()
    }

    /// The last reading parsed as a number, if any.
    pub fn value(&self) -> Option<f64> {
        self.last.as_ref()?.as_deref()?.trim().parse().ok()
    }

    /// Seconds since the counter last moved (or since the baseline), at `now_ms`.
    pub fn age_seconds(&self, now_ms: i64) -> f64 {
        (now_ms - self.moved_ms).max(0) as f64 / 1000.0
    }

    /// The promise, in milliseconds.
    pub fn interval_ms(&self) -> i64 {
        self.interval_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_model::{Clock, ManualClock};

    fn s(v: u64) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn stop_is_detected_after_exactly_the_interval_and_resume_recovers() {
        let c = ManualClock::new(10_000);
        let mut hb = HeartbeatState::new(1_000, c.now_ms());
        assert_eq!(hb.observe(s(1), c.now_ms()), Verdict::Unknown);
        for i in 2..10 {
            c.advance(200);
            assert_eq!(hb.observe(s(i), c.now_ms()), Verdict::Up);
        }
        // The counter stops at 9.
        c.advance(999);
        assert_eq!(hb.observe(s(9), c.now_ms()), Verdict::Up);
        c.advance(1);
        assert_eq!(hb.observe(s(9), c.now_ms()), Verdict::Down);
        c.advance(5_000);
        assert_eq!(hb.observe(s(9), c.now_ms()), Verdict::Down);
        assert!((hb.age_seconds(c.now_ms()) - 6.0).abs() < 1e-9);
        c.advance(10);
        assert_eq!(hb.observe(s(10), c.now_ms()), Verdict::Up);
        assert_eq!(hb.value(), Some(10.0));
    }

    #[test]
    fn a_counter_that_never_moves_fails_one_interval_after_start() {
        let c = ManualClock::new(0);
        let mut hb = HeartbeatState::new(500, c.now_ms());
        c.advance(100);
        assert_eq!(hb.observe(None, c.now_ms()), Verdict::Unknown);
        c.advance(499);
        assert_eq!(hb.observe(None, c.now_ms()), Verdict::Unknown);
        c.advance(1);
        assert_eq!(hb.observe(None, c.now_ms()), Verdict::Down);
        // The key appears: movement.
        c.advance(1);
        assert_eq!(hb.observe(s(1), c.now_ms()), Verdict::Up);
    }

    #[test]
    fn a_reset_counts_as_movement() {
        let mut hb = HeartbeatState::new(1_000, 0);
        hb.observe(s(500), 0);
        assert_eq!(hb.observe(s(501), 900), Verdict::Up);
        assert_eq!(hb.observe(s(0), 1_800), Verdict::Up);
        assert_eq!(hb.observe(None, 2_700), Verdict::Up);
        assert_eq!(hb.observe(None, 3_699), Verdict::Up);
        assert_eq!(hb.observe(None, 3_700), Verdict::Down);
    }

    #[test]
    fn a_store_outage_freezes_and_the_interval_restarts_at_reconnect() {
        let c = ManualClock::new(0);
        let mut hb = HeartbeatState::new(1_000, 0);
        hb.observe(s(1), 0);
        c.advance(200);
        assert_eq!(hb.observe(s(2), c.now_ms()), Verdict::Up);
        // The store goes away for ten intervals.
        hb.freeze();
        assert_eq!(hb.verdict(), Verdict::Unknown);
        assert!(!hb.has_baseline());
        c.advance(10_000);
        // It is back, restarted: the counter is lower (reset). A baseline, not
        // a failure, though the last movement was ten seconds ago.
        assert_eq!(hb.observe(None, c.now_ms()), Verdict::Unknown);
        c.advance(999);
        assert_eq!(hb.observe(None, c.now_ms()), Verdict::Unknown);
        // The service heartbeats again within the interval: up.
        c.advance(1);
        assert_eq!(hb.observe(s(1), c.now_ms()), Verdict::Up);
        // A service that is really gone fails one full interval after reconnect.
        let mut dead = HeartbeatState::new(1_000, 0);
        dead.observe(s(7), 0);
        dead.freeze();
        dead.observe(s(7), 50_000);
        assert_eq!(dead.observe(s(7), 50_999), Verdict::Unknown);
        assert_eq!(dead.observe(s(7), 51_000), Verdict::Down);
    }
}
