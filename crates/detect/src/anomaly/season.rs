//! A seasonal profile: one exponentially weighted value per phase slot of a
//! fixed period (a day, a week), `NaN` for a slot not yet seen.

/// Profile of `slots.len()` equal phase slots over `period` seconds.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    slots: Vec<f32>,
    period: i64,
    /// Time of the first sample learnt (`i64::MIN` before it).
    start: i64,
}

impl Profile {
    /// A profile with `slots` slots over `period` seconds; no slots disables it.
    pub(crate) fn new(slots: u32, period: i64) -> Self {
        Self {
            slots: vec![f32::NAN; slots as usize],
            period: period.max(1),
            start: i64::MIN,
        }
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<f32>()
    }

    fn slot(&self, ts: i64) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let n = self.slots.len() as i128;
        // rem_euclid is in 0..period, so the index is in 0..n; i128 avoids
        // overflow of the product for any i64 timestamp.
        Some((i128::from(ts.rem_euclid(self.period)) * n / i128::from(self.period)) as usize)
    }

    /// The profile's value for `ts`, `None` if disabled or not yet seen.
    pub(crate) fn predict(&self, ts: i64) -> Option<f64> {
        let p = self.slots[self.slot(ts)?];
        (!p.is_nan()).then_some(f64::from(p))
    }

    /// Moves the slot of `ts` towards `x` by `alpha`, the step limited to
    /// `max_step`. A slot not yet seen takes `x`, unless `x` is an outlier
    /// in the profile's first period: the step limit would then keep a
    /// one-off spike in the profile for weeks. A slot still empty a period
    /// later takes whatever comes, so a pattern that is always surprising
    /// (a noise-free square wave) is still learnt.
    pub(crate) fn learn(&mut self, ts: i64, x: f64, alpha: f64, max_step: f64, outlier: bool) {
        let Some(i) = self.slot(ts) else { return };
        if self.start == i64::MIN {
            self.start = ts;
        }
        let p = f64::from(self.slots[i]);
        self.slots[i] = if p.is_nan() {
            if outlier && ts.saturating_sub(self.start) < self.period {
                return;
            }
            x as f32
        } else {
            (p + alpha * (x - p).clamp(-max_step, max_step)) as f32
        };
    }
}
