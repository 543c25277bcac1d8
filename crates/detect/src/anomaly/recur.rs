//! Recurring events: a memory of the last few large surprises, so a spike
//! that comes back about the same time every day or every week (a nightly
//! backup, a cron job whose start drifts by minutes) is recognised from its
//! second occurrence on, where a fixed-slot seasonal profile, which needs the
//! spike in the same slot day after day, never learns it.
//!
//! Consecutive event samples of one sign are one event (a run): only the
//! run's first sample is remembered, so a nightly plateau of many samples
//! takes one slot of the ring and each of its samples matches the previous
//! night's run.

/// Remembered events (a fixed ring).
pub(crate) const EVENTS: usize = 8;

/// One large surprise: when, which way, and how large.
#[derive(Debug, Clone, Copy, Default)]
struct Event {
    /// Seconds since the epoch, wrapped to 32 bits (only differences of
    /// about a week matter).
    ts: u32,
    /// Signed size (the value minus the local level); 0 = empty slot.
    size: f32,
}

/// The ring of recent events.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recurrence {
    events: [Event; EVENTS],
    next: usize,
    /// Sign of the run of events the previous sample belonged to (0: the
    /// previous sample was no event).
    run: i8,
}

/// Parameters of [`Recurrence::observe`] (copied from `AnomalyConfig`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecurParams {
    /// A sample is an event when its point surprise reaches this.
    pub min_z: f64,
    /// Seconds either side of a day or a week later that still match.
    pub tolerance: i64,
    /// A matching event's size is within this factor of the new one's.
    pub ratio: f64,
}

const DAY: i64 = 86_400;

impl Recurrence {
    /// Records a sample at `ts` whose point surprise is `z` and whose
    /// signed size (value minus local level) is `size`, when it is an event
    /// (`z ≥ min_z`), and says whether an earlier event of the same sign and
    /// a similar size happened one or two days, or one week, before it
    /// (within the tolerance). Sizes, not surprises, are compared: a
    /// surprise shrinks as the profiles learn part of the spike.
    pub(crate) fn observe(&mut self, ts: i64, z: f64, size: f64, p: &RecurParams) -> bool {
        if z.is_nan() || z < p.min_z || p.min_z <= 0.0 || size == 0.0 || !size.is_finite() {
            self.run = 0;
            return false;
        }
        let sign: i8 = if size > 0.0 { 1 } else { -1 };
        let ratio = p.ratio.max(1.0);
        let seen = self.events.iter().any(|e| {
            if e.size == 0.0 || (f64::from(e.size) > 0.0) != (size > 0.0) {
                return false;
            }
            let r = f64::from(e.size).abs() / size.abs();
            if !(1.0 / ratio..=ratio).contains(&r) {
                return false;
            }
            let d = i64::from((ts as u32).wrapping_sub(e.ts) as i32);
            [DAY, 2 * DAY, 7 * DAY]
                .iter()
                .any(|&lag| (d - lag).abs() <= p.tolerance)
        });
        if self.run != sign {
            self.events[self.next] = Event {
                ts: ts as u32,
                size: size as f32,
            };
            self.next = (self.next + 1) % EVENTS;
        }
        self.run = sign;
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: RecurParams = RecurParams {
        min_z: 6.0,
        tolerance: 3600,
        ratio: 2.0,
    };

    #[test]
    fn matches_a_day_two_days_or_a_week_earlier_within_the_tolerance() {
        for lag in [DAY, 2 * DAY, 7 * DAY, DAY - 3600, DAY + 3600] {
            let mut r = Recurrence::default();
            assert!(!r.observe(1_000, 10.0, 10.0, &P));
            assert!(r.observe(1_000 + lag, 12.0, 12.0, &P), "lag {lag}");
        }
        for lag in [DAY / 2, DAY + 3601, 3 * DAY, 6 * DAY] {
            let mut r = Recurrence::default();
            r.observe(1_000, 10.0, 10.0, &P);
            assert!(!r.observe(1_000 + lag, 10.0, 10.0, &P), "lag {lag}");
        }
    }

    #[test]
    fn sign_size_and_the_event_threshold_must_match() {
        let mut r = Recurrence::default();
        r.observe(0, 10.0, 10.0, &P);
        assert!(!r.observe(DAY, 10.0, -10.0, &P), "opposite sign");
        assert!(!r.observe(DAY, 25.0, 25.0, &P), "more than twice as large");
        // Below the threshold: not remembered, and never a recurrence.
        let mut r = Recurrence::default();
        r.observe(0, 5.0, 5.0, &P);
        assert!(
            !r.observe(DAY, 10.0, 5.0, &P),
            "nothing was remembered at 0"
        );
        assert!(
            !r.observe(2 * DAY, 5.0, 5.0, &P),
            "matches the event at DAY but is no event itself"
        );
        assert!(!r.observe(2 * DAY, f64::NAN, f64::NAN, &P));
    }

    #[test]
    fn the_ring_forgets_the_oldest_event() {
        let mut r = Recurrence::default();
        r.observe(0, 10.0, 10.0, &P);
        r.observe(60, 0.0, 0.0, &P);
        for i in 0..EVENTS as i64 {
            let t = 10 * DAY + i * 10_000;
            r.observe(t, 10.0, 10.0, &P);
            r.observe(t + 60, 0.0, 0.0, &P); // ends the run
        }
        assert!(!r.observe(DAY, 10.0, 10.0, &P));
    }

    #[test]
    fn a_run_of_event_samples_is_one_event() {
        // Night 1: a 30-sample plateau, one sample a minute; then quiet.
        let mut r = Recurrence::default();
        for i in 0..30 {
            assert!(!r.observe(i * 60, 10.0, 10.0, &P));
        }
        r.observe(30 * 60, 0.0, 0.0, &P);
        // Night 2: every sample of the plateau matches night 1's run, well
        // past the ring's size, as the run took one slot.
        for i in 0..30 {
            assert!(r.observe(DAY + i * 60, 10.0, 10.0, &P), "sample {i}");
        }
        // A run that changes sign starts a new event.
        assert!(!r.observe(DAY + 1800, 10.0, -10.0, &P));
    }
}
