//! The in-memory head: series sharded by label hash, labels interned as
//! symbol ids, samples in Gorilla chunks plus a small sorted out-of-order
//! buffer per series.
//!
//! ```ignore
//! let head = Head::new(2 * 3_600_000, 600_000);
//! let (id, _) = head.stage(&[("__name__", "up")], 1_000, 1.0)?;
//! head.apply(&[(id, 1_000, 1.0)]);
//! ```

use crate::chunk::XorChunk;
use crate::index::{Postings, Symbols};
use crate::SampleError;
use argus_model::{hash_pairs, is_valid_label_name, is_valid_metric_name, Sample, METRIC_NAME};
use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

/// Number of series shards; the low bits of a series id name its shard.
pub(crate) const SHARD_BITS: u32 = 6;
/// Shards in the head.
pub(crate) const SHARDS: usize = 1 << SHARD_BITS;
/// A head chunk is closed after this many samples.
pub(crate) const CHUNK_SAMPLES: usize = 120;

/// One series in the head.
pub(crate) struct MemSeries {
    /// Flat `[name, value, ...]` symbol ids.
    pub(crate) labels: Box<[u32]>,
    /// The label hash (`hash_pairs`).
    pub(crate) hash: u64,
    /// Closed chunks, oldest first.
    pub(crate) closed: Vec<XorChunk>,
    /// The chunk being appended to.
    pub(crate) open: XorChunk,
    /// Out-of-order samples, sorted by time, none at a time also in a chunk.
    pub(crate) ooo: Vec<Sample>,
    /// Head epoch of the last staging; protects fresh series from collection.
    epoch: u32,
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
    fn new(labels: Box<[u32]>, hash: u64, epoch: u32) -> Self {
        MemSeries {
            labels,
            hash,
            closed: Vec::new(),
            open: XorChunk::new(),
            ooo: Vec::new(),
            epoch,
            logged: false,
        }
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
        match (c, self.ooo.first()) {
            (Some(a), Some(b)) => Some(a.min(b.t)),
            (a, b) => a.or(b.map(|s| s.t)),
        }
    }

    /// Samples held.
    pub(crate) fn len(&self) -> usize {
        self.closed.iter().map(|c| c.len()).sum::<usize>() + self.open.len() + self.ooo.len()
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
        if t < lim.min_valid {
            return Err(Reject::OutOfBounds(lim.min_valid));
        }
        let Some(mx) = self.max_t() else {
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
        if mx - t > lim.ooo_window {
            return Err(Reject::OutOfOrder(mx));
        }
        let old = match self.ooo.binary_search_by(|s| s.t.cmp(&t)) {
            Ok(i) => Some(self.ooo[i].v),
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
        let acc = self.check(t, v, lim)?;
        if acc == Accept::Noop {
            return Ok(acc);
        }
        match self.max_t() {
            Some(mx) if t < mx => {
                let i = self.ooo.partition_point(|s| s.t < t);
                self.ooo.insert(i, Sample::new(t, v));
            }
            _ => {
                if let Some(first) = self.open.first_t() {
                    let range = lim.block_range.max(1);
                    if self.open.len() >= CHUNK_SAMPLES
                        || first.div_euclid(range) != t.div_euclid(range)
                    {
                        let mut done = std::mem::take(&mut self.open);
                        done.shrink_to_fit();
                        self.closed.push(done);
                    }
                }
                self.open.append(t, v);
            }
        }
        Ok(Accept::Added)
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
        let extra = self.ooo.iter().filter(|s| s.t >= mint && s.t <= maxt);
        if self.ooo.is_empty() {
            return;
        }
        out.extend(extra);
        out[start..].sort_by_key(|s| s.t);
        let mut tail: Vec<Sample> = out.drain(start..).collect();
        tail.dedup_by_key(|s| s.t);
        out.extend(tail);
    }

    /// Drops samples before `cut`. Returns the number dropped.
    fn truncate(&mut self, cut: i64, block_range: i64) -> usize {
        if self.min_t().is_none_or(|m| m >= cut) {
            return 0;
        }
        let before = self.len();
        self.ooo.retain(|s| s.t >= cut);
        self.closed.retain(|c| c.last_t().is_some_and(|l| l >= cut));
        if self.open.last_t().is_some_and(|l| l < cut) {
            self.open = XorChunk::new();
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
            self.open = XorChunk::new();
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

/// One shard of the series map.
#[derive(Default)]
pub(crate) struct Shard {
    by_hash: HashMap<u64, u64>,
    collisions: Vec<u64>,
    /// Series by id.
    pub(crate) series: HashMap<u64, Box<MemSeries>>,
}

impl Shard {
    fn find(&self, hash: u64, pairs: &[(&str, &str)], syms: &Symbols) -> Option<u64> {
        let hit = |id: &u64| {
            self.series
                .get(id)
                .is_some_and(|s| s.hash == hash && syms.eq_pairs(&s.labels, pairs))
        };
        match self.by_hash.get(&hash) {
            Some(id) if hit(id) => Some(*id),
            Some(_) => self.collisions.iter().copied().find(hit),
            None => None,
        }
    }
}

/// The head block.
pub(crate) struct Head {
    pub(crate) shards: Box<[Mutex<Shard>]>,
    pub(crate) symbols: RwLock<Symbols>,
    pub(crate) postings: RwLock<Postings>,
    next_seq: AtomicU64,
    /// Samples below this are out of bounds (already in blocks).
    pub(crate) min_valid: AtomicI64,
    /// Oldest sample time (i64::MAX when empty). Raised only by truncation.
    pub(crate) min_t: AtomicI64,
    /// Newest sample time (i64::MIN when empty).
    pub(crate) max_t: AtomicI64,
    epoch: AtomicU32,
    pub(crate) block_range: i64,
    pub(crate) ooo_window: i64,
    /// Samples held.
    pub(crate) samples: AtomicU64,
    /// Series created since start, replay included.
    pub(crate) series_created: AtomicU64,
}

/// Counts from [`Head::apply`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Applied {
    pub(crate) added: u64,
    pub(crate) out_of_order: u64,
    pub(crate) other: u64,
}

/// Checks a label set for a new series.
pub(crate) fn validate(pairs: &[(&str, &str)]) -> Result<(), String> {
    if pairs.is_empty() {
        return Err("the label set is empty".into());
    }
    for (i, (n, v)) in pairs.iter().enumerate() {
        if !is_valid_label_name(n) {
            return Err(format!("label name {n:?} is not valid"));
        }
        if v.is_empty() {
            return Err(format!("label {n:?} has an empty value"));
        }
        if *n == METRIC_NAME && !is_valid_metric_name(v) {
            return Err(format!("metric name {v:?} is not valid"));
        }
        if i > 0 && pairs[i - 1].0 >= *n {
            return Err("label names are not sorted and unique".into());
        }
    }
    Ok(())
}

fn pairs_text(pairs: &[(&str, &str)]) -> String {
    argus_model::Labels::from_pairs(pairs).to_string()
}

impl Head {
    /// An empty head.
    pub(crate) fn new(block_range: i64, ooo_window: i64) -> Head {
        Head {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            symbols: RwLock::new(Symbols::default()),
            postings: RwLock::new(Postings::default()),
            next_seq: AtomicU64::new(1),
            min_valid: AtomicI64::new(i64::MIN),
            min_t: AtomicI64::new(i64::MAX),
            max_t: AtomicI64::new(i64::MIN),
            epoch: AtomicU32::new(0),
            block_range,
            ooo_window,
            samples: AtomicU64::new(0),
            series_created: AtomicU64::new(0),
        }
    }

    pub(crate) fn limits(&self) -> Limits {
        Limits {
            min_valid: self.min_valid.load(Ordering::Acquire),
            ooo_window: self.ooo_window,
            block_range: self.block_range,
        }
    }

    fn insert(
        &self,
        sh: &mut Shard,
        shard_no: usize,
        id: Option<u64>,
        hash: u64,
        pairs: &[(&str, &str)],
    ) -> u64 {
        let id = id.unwrap_or_else(|| {
            (self.next_seq.fetch_add(1, Ordering::Relaxed) << SHARD_BITS) | shard_no as u64
        });
        let labels = self.symbols.write().intern_pairs(pairs.iter().copied());
        self.postings.write().add(id, &labels);
        match sh.by_hash.entry(hash) {
            std::collections::hash_map::Entry::Occupied(_) => sh.collisions.push(id),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(id);
            }
        }
        let epoch = self.epoch.load(Ordering::Relaxed);
        sh.series
            .insert(id, Box::new(MemSeries::new(labels, hash, epoch)));
        self.series_created.fetch_add(1, Ordering::Relaxed);
        id
    }

    /// Finds or creates the series for sorted `pairs` and pre-checks `(t, v)`.
    /// Returns the id, whether the series still needs a WAL series record, and
    /// whether this call created it.
    pub(crate) fn stage(
        &self,
        pairs: &[(&str, &str)],
        t: i64,
        v: f64,
    ) -> Result<(u64, bool, bool), SampleError> {
        let hash = hash_pairs(pairs.iter().copied());
        let shard_no = (hash as usize) & (SHARDS - 1);
        let mut sh = self.shards[shard_no].lock();
        let found = sh.find(hash, pairs, &self.symbols.read());
        let created = found.is_none();
        let id = match found {
            Some(id) => id,
            None => {
                validate(pairs).map_err(|reason| SampleError::InvalidLabels {
                    series: pairs_text(pairs),
                    reason,
                })?;
                self.insert(&mut sh, shard_no, None, hash, pairs)
            }
        };
        let lim = self.limits();
        let epoch = self.epoch.load(Ordering::Relaxed);
        let Some(s) = sh.series.get_mut(&id) else {
            // `find` or `insert` just returned this id under the same lock.
            unreachable!("series {id} vanished under its shard lock");
        };
        s.epoch = epoch;
        match s.check(t, v, &lim) {
            Ok(_) => Ok((id, !s.logged, created)),
            Err(r) => Err(self.reject_error(r, pairs_text(pairs), t)),
        }
    }

    fn reject_error(&self, r: Reject, series: String, t: i64) -> SampleError {
        match r {
            Reject::OutOfBounds(min_valid) => SampleError::OutOfBounds {
                series,
                t,
                min_valid,
            },
            Reject::OutOfOrder(newest) => SampleError::OutOfOrder {
                series,
                t,
                newest,
                window_ms: self.ooo_window,
            },
            Reject::Duplicate => SampleError::Duplicate { series, t },
        }
    }

    /// Creates series `id` during replay. If the labels already exist under
    /// another id, returns that id so the caller can alias. `None` when the id
    /// does not fit this head's sharding (a foreign or corrupt record).
    pub(crate) fn create_with_id(&self, id: u64, pairs: &[(&str, &str)]) -> Option<u64> {
        let hash = hash_pairs(pairs.iter().copied());
        let shard_no = (hash as usize) & (SHARDS - 1);
        if (id as usize) & (SHARDS - 1) != shard_no || validate(pairs).is_err() {
            return None;
        }
        let mut sh = self.shards[shard_no].lock();
        self.next_seq
            .fetch_max((id >> SHARD_BITS) + 1, Ordering::Relaxed);
        if let Some(existing) = sh.find(hash, pairs, &self.symbols.read()) {
            return Some(existing);
        }
        if sh.series.contains_key(&id) {
            return None; // same id, other labels: corrupt
        }
        let got = self.insert(&mut sh, shard_no, Some(id), hash, pairs);
        if let Some(s) = sh.series.get_mut(&got) {
            s.logged = true;
        }
        Some(got)
    }

    /// Marks series as having their WAL series record written.
    pub(crate) fn mark_logged(&self, ids: &[u64]) {
        for id in ids {
            if let Some(s) = self.shards[(*id as usize) & (SHARDS - 1)]
                .lock()
                .series
                .get_mut(id)
            {
                s.logged = true;
            }
        }
    }

    /// Stores committed samples; consecutive samples of one shard share a lock.
    pub(crate) fn apply(&self, samples: &[(u64, i64, f64)]) -> Applied {
        let lim = self.limits();
        let mut out = Applied::default();
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        let mut i = 0;
        while i < samples.len() {
            let shard_no = (samples[i].0 as usize) & (SHARDS - 1);
            let mut sh = self.shards[shard_no].lock();
            while i < samples.len() && (samples[i].0 as usize) & (SHARDS - 1) == shard_no {
                let (id, t, v) = samples[i];
                i += 1;
                match sh.series.get_mut(&id).map(|s| s.append(t, v, &lim)) {
                    Some(Ok(Accept::Added)) => {
                        out.added += 1;
                        lo = lo.min(t);
                        hi = hi.max(t);
                    }
                    Some(Ok(Accept::Noop)) => {}
                    Some(Err(Reject::OutOfOrder(_))) => out.out_of_order += 1,
                    Some(Err(_)) | None => out.other += 1,
                }
            }
        }
        if out.added > 0 {
            self.min_t.fetch_min(lo, Ordering::AcqRel);
            self.max_t.fetch_max(hi, Ordering::AcqRel);
            self.samples.fetch_add(out.added, Ordering::Relaxed);
        }
        out
    }

    /// Ids of the series matching `matchers`, sorted.
    pub(crate) fn select_ids(&self, matchers: &[argus_model::Matcher]) -> Vec<u64> {
        let syms = self.symbols.read();
        let p = self.postings.read();
        p.select(matchers, &syms)
    }

    /// Calls `f` with a series under its shard lock; `None` if it is gone.
    pub(crate) fn with_series<R>(&self, id: u64, f: impl FnOnce(&MemSeries) -> R) -> Option<R> {
        self.shards[(id as usize) & (SHARDS - 1)]
            .lock()
            .series
            .get(&id)
            .map(|s| f(s))
    }

    /// Drops samples before `cut`, raises the lower bound to `cut`, and removes
    /// series left empty that were not staged since the previous truncation.
    /// Returns the number of series removed.
    pub(crate) fn truncate(&self, cut: i64) -> usize {
        self.min_valid.fetch_max(cut, Ordering::AcqRel);
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        let mut dead = HashSet::new();
        let mut new_min = i64::MAX;
        for sh in self.shards.iter() {
            let mut sh = sh.lock();
            let mut gone = Vec::new();
            for (id, s) in sh.series.iter_mut() {
                let dropped = s.truncate(cut, self.block_range);
                self.samples.fetch_sub(dropped as u64, Ordering::Relaxed);
                match s.min_t() {
                    Some(m) => new_min = new_min.min(m),
                    None if s.epoch.wrapping_add(1) < epoch => gone.push((*id, s.hash)),
                    None => {}
                }
            }
            for (id, hash) in gone {
                sh.series.remove(&id);
                if sh.by_hash.get(&hash) == Some(&id) {
                    sh.by_hash.remove(&hash);
                    // Promote a colliding series with the same hash, if any.
                    let series = &sh.series;
                    if let Some(pos) = sh
                        .collisions
                        .iter()
                        .position(|c| series.get(c).is_some_and(|s| s.hash == hash))
                    {
                        let other = sh.collisions.swap_remove(pos);
                        sh.by_hash.insert(hash, other);
                    }
                } else {
                    sh.collisions.retain(|c| *c != id);
                }
                dead.insert(id);
            }
        }
        self.min_t.store(new_min, Ordering::Release);
        if new_min == i64::MAX {
            self.max_t.store(i64::MIN, Ordering::Release);
        }
        self.postings.write().remove(&dead);
        dead.len()
    }

    /// Number of series and chunks (open chunks with samples count).
    pub(crate) fn counts(&self) -> (u64, u64) {
        let (mut series, mut chunks) = (0u64, 0u64);
        for sh in self.shards.iter() {
            let sh = sh.lock();
            series += sh.series.len() as u64;
            chunks += sh
                .series
                .values()
                .map(|s| s.closed.len() as u64 + u64::from(!s.open.is_empty()))
                .sum::<u64>();
        }
        (series, chunks)
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
        let mut s = MemSeries::new(Box::new([]), 0, 0);
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
        let mut s = MemSeries::new(Box::new([]), 0, 0);
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

    #[test]
    fn staging_interning_and_collection() {
        let h = Head::new(1000, 0);
        let p = [("__name__", "up"), ("job", "a")];
        let (id, needs_log, created) = h.stage(&p, 5, 1.0).unwrap();
        assert!(needs_log && created);
        assert_eq!(h.stage(&p, 6, 1.0).unwrap(), (id, true, false));
        h.mark_logged(&[id]);
        assert_eq!(
            h.apply(&[(id, 5, 1.0), (id, 6, 1.0), (id + 64, 1, 1.0)])
                .other,
            1
        );
        assert!(!h.stage(&p, 7, 1.0).unwrap().1);
        assert!(matches!(
            h.stage(&p, 4, 1.0),
            Err(SampleError::OutOfOrder { .. })
        ));
        assert_eq!(
            h.create_with_id(id + 128, &p),
            Some(id),
            "same labels alias"
        );
        assert_eq!(
            h.truncate(100),
            0,
            "recently staged series survive one truncation"
        );
        assert!(matches!(
            h.stage(&p, 50, 1.0),
            Err(SampleError::OutOfBounds { .. })
        ));
        assert_eq!(h.truncate(100), 0, "staged again above");
        assert_eq!(h.truncate(100), 1);
        assert_eq!(h.counts(), (0, 0));
        assert!(h.select_ids(&[]).is_empty());
    }
}
