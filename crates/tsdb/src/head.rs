//! The in-memory head: series sharded by label hash, each shard a slab of
//! series indexed by the id's high bits, labels interned as symbol ids, and
//! the postings index over all of them. A label set is identified by a
//! 128-bit hash of its pairs (docs/adr/0006-series-identity-hash.md): a
//! lookup compares hashes, never label strings, and takes no symbol lock.
//!
//! A series id is `(slot << SHARD_BITS) | shard`: staging finds the series by
//! label hash under one shard lock and returns the id; applying a commit goes
//! straight to the slot, taking each shard's lock once per commit.
//!
//! ```text
//! let head = Head::new(2 * 3_600_000, 600_000);
//! let mut scratch = Vec::new();
//! let key = series_key(&[("__name__", "up")], &mut scratch);
//! let (id, _, _) = head.stage(&[("__name__", "up")], key, 1_000, 1.0)?;
//! head.apply(&[(u64::from(id), 1_000, 1.0)]);
//! ```

use crate::index::{Postings, Symbols};
pub(crate) use crate::series::{Accept, Limits, MemSeries, Reject};
use crate::SampleError;
use argus_model::{is_valid_label_name, is_valid_metric_name, METRIC_NAME};
use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

/// Number of series shards; the low bits of a series id name its shard.
pub(crate) const SHARD_BITS: u32 = 6;
/// Shards in the head.
pub(crate) const SHARDS: usize = 1 << SHARD_BITS;
/// Slots per shard: ids are `u32`.
const MAX_SLOTS: usize = 1 << (32 - SHARD_BITS);

/// Hashes a [`SeriesKey`] by its `h`, which is already an xxh3 label hash.
/// The low `SHARD_BITS` are the same for every key of a shard, so they are
/// shifted out and the rest spread with one multiply.
#[derive(Default)]
pub(crate) struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        (self.0 >> SHARD_BITS).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
    fn write_u32(&mut self, v: u32) {
        // A `SeriesKey::bucket`: no shard bits to shift out.
        self.0 = u64::from(v) << SHARD_BITS;
    }
}

/// The identity of a label set: 128 bits of xxh3 over its sorted pairs (see
/// docs/adr/0006-series-identity-hash.md). Two label sets with the same key
/// are taken to be the same series without comparing their strings.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeriesKey {
    /// `xxh3_64`, equal to `argus_model::hash_pairs`: picks the shard (so WAL
    /// series ids keep their shard across versions) and the map bucket.
    pub(crate) h: u64,
    /// The high half of `xxh3_128` over the same bytes.
    pub(crate) check: u64,
}

impl SeriesKey {
    /// The shard map's key: high bits of `h` (the low ones pick the shard).
    #[inline]
    fn bucket(self) -> u32 {
        (self.h >> 32) as u32
    }
}

/// `SeriesKey::bucket` → id: 8-byte buckets keep the table dense in cache.
type HashIndex = HashMap<u32, u32, BuildHasherDefault<PrehashedHasher>>;

/// The [`SeriesKey`] of sorted pairs, hashing bytes laid out in `scratch`
/// (reused across calls) as `name 0xff value 0xff ...`.
#[inline]
pub(crate) fn series_key(pairs: &[(&str, &str)], scratch: &mut Vec<u8>) -> SeriesKey {
    scratch.clear();
    for (n, v) in pairs {
        scratch.extend_from_slice(n.as_bytes());
        scratch.push(0xff);
        scratch.extend_from_slice(v.as_bytes());
        scratch.push(0xff);
    }
    SeriesKey {
        h: xxhash_rust::xxh3::xxh3_64(scratch),
        check: (xxhash_rust::xxh3::xxh3_128(scratch) >> 64) as u64,
    }
}

fn shard_of(id: u32) -> usize {
    id as usize & (SHARDS - 1)
}

fn slot_of(id: u32) -> usize {
    (id >> SHARD_BITS) as usize
}

/// One shard of the series map.
#[derive(Default)]
pub(crate) struct Shard {
    /// This shard's number (the low bits of its ids).
    no: u32,
    /// `SeriesKey::bucket` → id of the first series with that bucket.
    by_hash: HashIndex,
    /// Ids of series whose bucket was already taken by another key (rare).
    collisions: Vec<u32>,
    /// Series by slot (`id >> SHARD_BITS`); `None` once collected. Slots are
    /// not reused, so a stale id never names another series.
    slots: Vec<Option<Box<MemSeries>>>,
    /// Live series.
    live: usize,
}

impl Shard {
    fn get(&self, id: u32) -> Option<&MemSeries> {
        self.slots.get(slot_of(id)).and_then(|s| s.as_deref())
    }

    fn get_mut(&mut self, id: u32) -> Option<&mut MemSeries> {
        self.slots
            .get_mut(slot_of(id))
            .and_then(|s| s.as_deref_mut())
    }

    /// The series with key `key`: equal keys are the same label set (ADR 0006).
    fn find(&self, key: SeriesKey) -> Option<u32> {
        let hit = |id: &u32| self.get(*id).is_some_and(|s| s.key == key);
        match self.by_hash.get(&key.bucket()) {
            Some(id) if hit(id) => Some(*id),
            Some(_) => self.collisions.iter().copied().find(hit),
            None => None,
        }
    }

    /// Live series with their ids.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &MemSeries)> + '_ {
        self.slots.iter().enumerate().filter_map(|(slot, s)| {
            s.as_deref()
                .map(|s| (((slot as u32) << SHARD_BITS) | self.no, s))
        })
    }
}

/// The head block.
pub(crate) struct Head {
    pub(crate) shards: Box<[Mutex<Shard>]>,
    pub(crate) symbols: RwLock<Symbols>,
    pub(crate) postings: RwLock<Postings>,
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
    /// Limits on the label set of a series a write creates (not replay).
    pub(crate) label_limits: crate::limits::LabelLimits,
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

/// The series' text for error messages, cut when long.
pub(crate) fn pairs_text(pairs: &[(&str, &str)]) -> String {
    crate::limits::series_text(pairs)
}

impl Head {
    /// An empty head.
    pub(crate) fn new(block_range: i64, ooo_window: i64) -> Head {
        Head {
            shards: (0..SHARDS)
                .map(|no| {
                    Mutex::new(Shard {
                        no: no as u32,
                        ..Shard::default()
                    })
                })
                .collect(),
            symbols: RwLock::new(Symbols::default()),
            postings: RwLock::new(Postings::default()),
            min_valid: AtomicI64::new(i64::MIN),
            min_t: AtomicI64::new(i64::MAX),
            max_t: AtomicI64::new(i64::MIN),
            epoch: AtomicU32::new(0),
            block_range,
            ooo_window,
            samples: AtomicU64::new(0),
            series_created: AtomicU64::new(0),
            label_limits: crate::limits::LabelLimits::default(),
        }
    }

    /// The same head with other limits on new series' label sets.
    pub(crate) fn with_label_limits(mut self, l: crate::limits::LabelLimits) -> Head {
        self.label_limits = l;
        self
    }

    pub(crate) fn limits(&self) -> Limits {
        Limits {
            min_valid: self.min_valid.load(Ordering::Acquire),
            ooo_window: self.ooo_window,
            block_range: self.block_range,
        }
    }

    /// Adds a series in slot `slot` of shard `shard_no` (the next free slot when `None`).
    /// `None` when the shard's id space is exhausted.
    fn insert(
        &self,
        sh: &mut Shard,
        shard_no: usize,
        slot: Option<usize>,
        key: SeriesKey,
        pairs: &[(&str, &str)],
    ) -> Option<u32> {
        let slot = slot.unwrap_or(sh.slots.len());
        if slot >= MAX_SLOTS {
            return None;
        }
        let id = ((slot as u32) << SHARD_BITS) | shard_no as u32;
        let labels = self.symbols.write().intern_pairs(pairs.iter().copied());
        self.postings.write().add(id, &labels);
        match sh.by_hash.entry(key.bucket()) {
            std::collections::hash_map::Entry::Occupied(_) => sh.collisions.push(id),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(id);
            }
        }
        if sh.slots.len() <= slot {
            sh.slots.resize_with(slot + 1, || None);
        }
        let epoch = self.epoch.load(Ordering::Relaxed);
        sh.slots[slot] = Some(Box::new(MemSeries::new(labels, key, epoch)));
        sh.live += 1;
        self.series_created.fetch_add(1, Ordering::Relaxed);
        Some(id)
    }

    /// Finds or creates the series for sorted `pairs` (whose key is `key`,
    /// see [`series_key`]) and pre-checks `(t, v)`. Returns the id, whether
    /// the series still needs a WAL series record, and whether this call
    /// created it.
    pub(crate) fn stage(
        &self,
        pairs: &[(&str, &str)],
        key: SeriesKey,
        t: i64,
        v: f64,
    ) -> Result<(u32, bool, bool), SampleError> {
        let shard_no = (key.h as usize) & (SHARDS - 1);
        let mut sh = self.shards[shard_no].lock();
        let found = sh.find(key);
        let created = found.is_none();
        let id = match found {
            Some(id) => id,
            None => {
                let invalid = |reason| SampleError::InvalidLabels {
                    series: pairs_text(pairs),
                    reason,
                };
                self.label_limits.check(pairs).map_err(invalid)?;
                validate(pairs).map_err(invalid)?;
                self.insert(&mut sh, shard_no, None, key, pairs)
                    .ok_or_else(|| invalid("the head's series id space is exhausted".into()))?
            }
        };
        let lim = self.limits();
        let epoch = self.epoch.load(Ordering::Relaxed);
        let Some(s) = sh.get_mut(id) else {
            // `find` or `insert` just returned this id under the same lock.
            unreachable!("series {id} vanished under its shard lock");
        };
        s.epoch = epoch;
        match s.check(t, v, &lim) {
            Ok(_) => Ok((id, !s.logged, created)),
            Err(r) => Err(self.reject_error(r, pairs_text(pairs), t)),
        }
    }

    /// The oldest sample the head holds for the series with `key`.
    pub(crate) fn series_min_t(&self, key: SeriesKey) -> Option<i64> {
        let sh = self.shards[(key.h as usize) & (SHARDS - 1)].lock();
        sh.find(key)
            .and_then(|id| sh.get(id))
            .and_then(|s| s.min_t())
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
        let id = u32::try_from(id).ok()?;
        let key = series_key(pairs, &mut Vec::new());
        let shard_no = (key.h as usize) & (SHARDS - 1);
        if shard_of(id) != shard_no || validate(pairs).is_err() {
            return None;
        }
        let mut sh = self.shards[shard_no].lock();
        if let Some(existing) = sh.find(key) {
            return Some(u64::from(existing));
        }
        if sh.get(id).is_some() {
            return None; // same id, other labels: corrupt
        }
        let got = self.insert(&mut sh, shard_no, Some(slot_of(id)), key, pairs)?;
        if let Some(s) = sh.get_mut(got) {
            s.logged = true;
        }
        Some(u64::from(got))
    }

    /// Stores committed samples (written to the WAL together with the series
    /// records of every series they name), taking each shard's lock once.
    /// Samples of one series keep their order.
    pub(crate) fn apply(&self, samples: &[(u64, i64, f64)]) -> Applied {
        let lim = self.limits();
        let mut out = Applied::default();
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        // Counting sort of sample indexes by shard (stable).
        let mut start = [0u32; SHARDS + 1];
        for s in samples {
            start[(s.0 as usize & (SHARDS - 1)) + 1] += 1;
        }
        for i in 1..=SHARDS {
            start[i] += start[i - 1];
        }
        let mut fill = start;
        let mut order = vec![0u32; samples.len()];
        for (i, s) in samples.iter().enumerate() {
            let b = s.0 as usize & (SHARDS - 1);
            order[fill[b] as usize] = i as u32;
            fill[b] += 1;
        }
        for shard_no in 0..SHARDS {
            let range = start[shard_no] as usize..start[shard_no + 1] as usize;
            if range.is_empty() {
                continue;
            }
            let mut sh = self.shards[shard_no].lock();
            for &i in &order[range] {
                let (id, t, v) = samples[i as usize];
                let s = u32::try_from(id).ok().and_then(|id| sh.get_mut(id));
                let Some(s) = s else {
                    out.other += 1;
                    continue;
                };
                s.logged = true;
                match s.append(t, v, &lim) {
                    Ok(Accept::Added) => {
                        out.added += 1;
                        lo = lo.min(t);
                        hi = hi.max(t);
                    }
                    Ok(Accept::Noop) => {}
                    Err(Reject::OutOfOrder(_)) => out.out_of_order += 1,
                    Err(_) => out.other += 1,
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
    pub(crate) fn select_ids(&self, matchers: &[argus_model::Matcher]) -> Vec<u32> {
        let syms = self.symbols.read();
        let p = self.postings.read();
        p.select(matchers, &syms)
    }

    /// Calls `f` with a series under its shard lock; `None` if it is gone.
    pub(crate) fn with_series<R>(&self, id: u32, f: impl FnOnce(&MemSeries) -> R) -> Option<R> {
        self.shards[shard_of(id)].lock().get(id).map(f)
    }

    /// Drops samples before `cut`, raises the lower bound to `cut`, and removes
    /// series left empty that were not staged since the previous truncation.
    /// Returns the number of series removed.
    pub(crate) fn truncate(&self, cut: i64) -> usize {
        self.min_valid.fetch_max(cut, Ordering::AcqRel);
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        let mut dead = HashSet::new();
        let mut new_min = i64::MAX;
        for (shard_no, sh) in self.shards.iter().enumerate() {
            let mut sh = sh.lock();
            let mut gone = Vec::new();
            for (slot, s) in sh.slots.iter_mut().enumerate() {
                let Some(s) = s.as_deref_mut() else { continue };
                let dropped = s.truncate(cut, self.block_range);
                self.samples.fetch_sub(dropped as u64, Ordering::Relaxed);
                match s.min_t() {
                    Some(m) => new_min = new_min.min(m),
                    None if s.epoch.wrapping_add(1) < epoch => {
                        gone.push(((slot as u32) << SHARD_BITS) | shard_no as u32)
                    }
                    None => {}
                }
            }
            if gone.is_empty() {
                continue;
            }
            for id in gone {
                let Some(s) = sh.slots.get_mut(slot_of(id)).and_then(Option::take) else {
                    continue;
                };
                sh.live -= 1;
                let b = s.key.bucket();
                if sh.by_hash.get(&b) == Some(&id) {
                    sh.by_hash.remove(&b);
                    // Promote a series of the same bucket (another key), if any.
                    let same = |c: &u32| sh.get(*c).is_some_and(|o| o.key.bucket() == b);
                    if let Some(pos) = sh.collisions.iter().position(same) {
                        let other = sh.collisions.swap_remove(pos);
                        sh.by_hash.insert(b, other);
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
            series += sh.live as u64;
            chunks += sh
                .iter()
                .map(|(_, s)| s.closed.len() as u64 + u64::from(!s.open.is_empty()))
                .sum::<u64>();
        }
        (series, chunks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(h: &Head, p: &[(&str, &str)], t: i64) -> Result<(u32, bool, bool), SampleError> {
        h.stage(p, series_key(p, &mut Vec::new()), t, 1.0)
    }

    #[test]
    fn one_shot_hash_matches_the_model_hash() {
        let p = [("__name__", "up"), ("job", "a"), ("zone", "é")];
        assert_eq!(
            series_key(&p, &mut Vec::new()).h,
            argus_model::hash_pairs(p.iter().copied())
        );
        assert_eq!(
            series_key(&[], &mut Vec::new()).h,
            argus_model::hash_pairs(std::iter::empty())
        );
    }

    #[test]
    fn staging_interning_and_collection() {
        let h = Head::new(1000, 0);
        let p = [("__name__", "up"), ("job", "a")];
        let (id, needs_log, created) = stage(&h, &p, 5).unwrap();
        assert!(needs_log && created);
        assert_eq!(stage(&h, &p, 6).unwrap(), (id, true, false));
        let id64 = u64::from(id);
        assert_eq!(
            h.apply(&[(id64, 5, 1.0), (id64, 6, 1.0), (id64 + 64, 1, 1.0)])
                .other,
            1
        );
        assert!(!stage(&h, &p, 7).unwrap().1, "applied series are logged");
        assert!(matches!(
            stage(&h, &p, 4),
            Err(SampleError::OutOfOrder { .. })
        ));
        assert_eq!(
            h.create_with_id(id64 + 128, &p),
            Some(id64),
            "same labels alias"
        );
        assert_eq!(
            h.truncate(100),
            0,
            "recently staged series survive one truncation"
        );
        assert!(matches!(
            stage(&h, &p, 50),
            Err(SampleError::OutOfBounds { .. })
        ));
        assert_eq!(h.truncate(100), 0, "staged again above");
        assert_eq!(h.truncate(100), 1);
        assert_eq!(h.counts(), (0, 0));
        assert!(h.select_ids(&[]).is_empty());
        let (again, _, created) = stage(&h, &p, 200).unwrap();
        assert!(created && again != id, "slots are not reused");
    }

    #[test]
    fn keys_sharing_a_bucket_stay_distinct_and_survive_collection() {
        let h = Head::new(1000, 0);
        let (p, q) = ([("__name__", "a")], [("__name__", "b")]);
        let k = |check| SeriesKey { h: 7 << 40, check };
        let (a, _, _) = h.stage(&p, k(1), 5, 1.0).unwrap();
        let (b, _, created) = h.stage(&q, k(2), 5, 1.0).unwrap();
        assert!(created && a != b);
        h.apply(&[(u64::from(a), 5, 1.0), (u64::from(b), 5, 1.0)]);
        assert_eq!(h.stage(&q, k(2), 6, 1.0).unwrap().0, b);
        assert_eq!(h.stage(&p, k(1), 6, 1.0).unwrap().0, a);
        // Keep `b` alive above the cut; let `a` (the bucket's owner) be collected.
        h.apply(&[(u64::from(b), 500, 1.0)]);
        h.truncate(100);
        assert_eq!(h.truncate(100), 1);
        assert_eq!(h.stage(&q, k(2), 600, 1.0).unwrap(), (b, false, false));
        let (a2, _, created) = h.stage(&p, k(1), 600, 1.0).unwrap();
        assert!(created && a2 != a);
    }
}
