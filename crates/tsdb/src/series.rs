//! One head series: its label symbols, compressed chunks and out-of-order
//! buffer, and the append rules (bounds, out-of-order window, duplicates).
//!
//! ```text
//! let mut s = MemSeries::new(labels, key, 0);
//! s.append(1_000, 1.0, &limits)?;
//! ```

use crate::chunk::{DecimalChunk, HeadChunk, XorChunk};
use crate::head::SeriesKey;
use argus_model::Sample;

/// A head chunk is closed after this many samples.
pub(crate) const CHUNK_SAMPLES: usize = 120;

/// One series in the head.
pub(crate) struct MemSeries {
    /// Flat `[name, value, ...]` symbol ids.
    pub(crate) labels: Box<[u32]>,
    /// The label set's identity (see `head::SeriesKey`).
    pub(crate) key: SeriesKey,
    /// Closed chunks, oldest first.
    pub(crate) closed: Vec<HeadChunk>,
    /// The chunk being appended to.
    pub(crate) open: HeadChunk,
    /// Out-of-order samples, sorted by time, none at a time also in a chunk.
    /// Boxed: almost every series has none, and `None` costs 8 bytes, not 24.
    #[allow(clippy::box_collection)] // the box is the point: see above
    ooo: Option<Box<Vec<Sample>>>,
    /// Head epoch of the last staging; protects fresh series from collection.
    pub(crate) epoch: u32,
    /// True once a series record for it is in the WAL.
    pub(crate) logged: bool,
}

/// Why the head refused a sample (the caller adds the series' text form).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Reject {
    OutOfBounds(i64),
    OutOfOrder(i64),
    Duplicate,
}

/// What an accepted sample did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Accept {
    /// Stored.
    Added,
    /// Identical to a stored sample; nothing changed.
    Noop,
}

/// Limits an append is checked against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) min_valid: i64,
    pub(crate) ooo_window: i64,
    pub(crate) block_range: i64,
}

impl MemSeries {
    pub(crate) fn new(labels: Box<[u32]>, key: SeriesKey, epoch: u32) -> Self {
        MemSeries {
            labels,
            key,
            closed: Vec::new(),
            open: HeadChunk::default(),
            ooo: None,
            epoch,
            logged: false,
        }
    }

    /// The out-of-order buffer, sorted by time.
    pub(crate) fn ooo(&self) -> &[Sample] {
        self.ooo.as_deref().map_or(&[], |v| v.as_slice())
    }

    /// Newest in-order timestamp.
    pub(crate) fn max_t(&self) -> Option<i64> {
        self.open
            .last_t()
            .or_else(|| self.closed.last().and_then(|c| c.last_t()))
    }

    /// Oldest timestamp, counting the out-of-order buffer.
    pub(crate) fn min_t(&self) -> Option<i64> {
        let c = self
            .closed
            .first()
            .and_then(|c| c.first_t())
            .or_else(|| self.open.first_t());
        match (c, self.ooo().first()) {
            (Some(a), Some(b)) => Some(a.min(b.t)),
            (a, b) => a.or(b.map(|s| s.t)),
        }
    }

    /// Samples held.
    pub(crate) fn len(&self) -> usize {
        self.closed.iter().map(|c| c.len()).sum::<usize>() + self.open.len() + self.ooo().len()
    }

    fn find_in_chunks(&self, t: i64) -> Option<f64> {
        self.closed
            .iter()
            .chain(std::iter::once(&self.open))
            .filter(|c| c.first_t().is_some_and(|f| f <= t) && c.last_t().is_some_and(|l| l >= t))
            .find_map(|c| c.iter().find(|s| s.t == t).map(|s| s.v))
    }

    /// Checks `(t, v)` without storing it.
    pub(crate) fn check(&self, t: i64, v: f64, lim: &Limits) -> Result<Accept, Reject> {
        self.check_below(t, v, lim, self.max_t())
    }

    /// [`Self::check`] given the newest in-order timestamp `max_t`.
    fn check_below(
        &self,
        t: i64,
        v: f64,
        lim: &Limits,
        max_t: Option<i64>,
    ) -> Result<Accept, Reject> {
        if t < lim.min_valid {
            return Err(Reject::OutOfBounds(lim.min_valid));
        }
        let Some(mx) = max_t else {
            return Ok(Accept::Added);
        };
        if t > mx {
            return Ok(Accept::Added);
        }
        if t == mx {
            let same = self
                .open
                .last_v()
                .or_else(|| self.closed.last().and_then(|c| c.last_v()));
            return match same {
                Some(old) if old.to_bits() == v.to_bits() => Ok(Accept::Noop),
                _ => Err(Reject::Duplicate),
            };
        }
        if mx.saturating_sub(t) > lim.ooo_window {
            return Err(Reject::OutOfOrder(mx));
        }
        let ooo = self.ooo();
        let old = match ooo.binary_search_by(|s| s.t.cmp(&t)) {
            Ok(i) => Some(ooo[i].v),
            Err(_) => self.find_in_chunks(t),
        };
        match old {
            Some(o) if o.to_bits() == v.to_bits() => Ok(Accept::Noop),
            Some(_) => Err(Reject::Duplicate),
            None => Ok(Accept::Added),
        }
    }

    /// Checks and stores `(t, v)`.
    pub(crate) fn append(&mut self, t: i64, v: f64, lim: &Limits) -> Result<Accept, Reject> {
        let max_t = self.max_t();
        let acc = self.check_below(t, v, lim, max_t)?;
        if acc == Accept::Noop {
            return Ok(acc);
        }
        match max_t {
            Some(mx) if t < mx => {
                let ooo = self.ooo.get_or_insert_with(Box::default);
                let i = ooo.partition_point(|s| s.t < t);
                ooo.insert(i, Sample::new(t, v));
            }
            _ => {
                // The open chunk never spans a block window, so its last sample's
                // window is its first's (`first_t` would decode the chunk).
                if let Some(last) = self.open.last_t() {
                    let range = lim.block_range.max(1);
                    if self.open.len() >= CHUNK_SAMPLES
                        || last.div_euclid(range) != t.div_euclid(range)
                    {
                        self.cut();
                    }
                }
                if !self.open.try_append(t, v) {
                    // The value does not fit the open chunk's encoding (a NaN
                    // in a decimal chunk): start a chunk that takes it.
                    self.cut();
                    if !self.open.try_append(t, v) {
                        self.open = HeadChunk::Xor(XorChunk::new());
                        // An empty XOR chunk takes any value.
                        let _ = self.open.try_append(t, v);
                    }
                }
            }
        }
        Ok(Accept::Added)
    }

    /// Closes the open chunk (if it holds samples) and opens an empty decimal
    /// chunk at the same scale (it allocates nothing until its first sample).
    fn cut(&mut self) {
        let scale = self.open.scale().unwrap_or(0);
        let mut done =
            std::mem::replace(&mut self.open, HeadChunk::Decimal(DecimalChunk::new(scale)));
        if !done.is_empty() {
            done.shrink_to_fit();
            self.closed.push(done);
        }
    }

    /// Appends the samples in `[mint, maxt]`, in time order, to `out`.
    pub(crate) fn samples_in(&self, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
        let start = out.len();
        for c in self.closed.iter().chain(std::iter::once(&self.open)) {
            match (c.first_t(), c.last_t()) {
                (Some(f), Some(l)) if f <= maxt && l >= mint => {
                    out.extend(c.iter().filter(|s| s.t >= mint && s.t <= maxt));
                }
                _ => {}
            }
        }
        let ooo = self.ooo();
        if ooo.is_empty() {
            return;
        }
        let extra = ooo.iter().filter(|s| s.t >= mint && s.t <= maxt);
        out.extend(extra);
        out[start..].sort_by_key(|s| s.t);
        let mut tail: Vec<Sample> = out.drain(start..).collect();
        tail.dedup_by_key(|s| s.t);
        out.extend(tail);
    }

    /// Drops samples before `cut`. Returns the number dropped.
    pub(crate) fn truncate(&mut self, cut: i64, block_range: i64) -> usize {
        if self.min_t().is_none_or(|m| m >= cut) {
            return 0;
        }
        let before = self.len();
        if let Some(ooo) = self.ooo.as_mut() {
            ooo.retain(|s| s.t >= cut);
            if ooo.is_empty() {
                self.ooo = None;
            }
        }
        self.closed.retain(|c| c.last_t().is_some_and(|l| l >= cut));
        if self.open.last_t().is_some_and(|l| l < cut) {
            self.open = HeadChunk::default();
        }
        let first = self
            .closed
            .first()
            .and_then(|c| c.first_t())
            .or_else(|| self.open.first_t());
        if first.is_some_and(|f| f < cut) {
            // A chunk straddles the cut (only when the cut is not a block boundary).
            let keep: Vec<Sample> = self
                .closed
                .iter()
                .chain(std::iter::once(&self.open))
                .flat_map(|c| c.iter())
                .filter(|s| s.t >= cut)
                .collect();
            self.closed.clear();
            self.open = HeadChunk::default();
            let lim = Limits {
                min_valid: i64::MIN,
                ooo_window: 0,
                block_range,
            };
            for s in keep {
                // In order and unique by construction, so this cannot be refused.
                let _ = self.append(s.t, s.v, &lim);
            }
        }
        before - self.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: Limits = Limits {
        min_valid: i64::MIN,
        ooo_window: 100,
        block_range: 1000,
    };

    fn samples(s: &MemSeries) -> Vec<(i64, f64)> {
        let mut v = Vec::new();
        s.samples_in(i64::MIN, i64::MAX, &mut v);
        v.into_iter().map(|x| (x.t, x.v)).collect()
    }

    #[test]
    fn chunks_cut_at_120_samples_and_block_boundaries() {
        let mut s = MemSeries::new(Box::new([]), SeriesKey::default(), 0);
        for t in 0..130 {
            s.append(t, t as f64, &LIM).unwrap();
        }
        assert_eq!((s.closed.len(), s.open.len()), (1, 10));
        s.append(1000, 1.0, &LIM).unwrap(); // next block window
        assert_eq!((s.closed.len(), s.open.len()), (2, 1));
        assert_eq!(s.len(), 131);
    }

    #[test]
    fn out_of_order_buffer_merges_and_truncation_straddles() {
        let mut s = MemSeries::new(Box::new([]), SeriesKey::default(), 0);
        for t in [10, 20, 30, 200] {
            s.append(t, 1.0, &LIM).unwrap();
        }
        assert_eq!(s.append(150, 2.0, &LIM), Ok(Accept::Added));
        assert_eq!(s.append(150, 2.0, &LIM), Ok(Accept::Noop));
        assert_eq!(s.append(150, 3.0, &LIM), Err(Reject::Duplicate));
        assert_eq!(s.append(99, 3.0, &LIM), Err(Reject::OutOfOrder(200)));
        assert_eq!(
            samples(&s),
            vec![(10, 1.0), (20, 1.0), (30, 1.0), (150, 2.0), (200, 1.0)]
        );
        assert_eq!(s.truncate(25, 1000), 2);
        assert_eq!(samples(&s), vec![(30, 1.0), (150, 2.0), (200, 1.0)]);
        assert_eq!(s.min_t(), Some(30));
    }
}
