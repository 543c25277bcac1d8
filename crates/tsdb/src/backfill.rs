//! History older than the head: samples before the head's lower bound, or
//! older than anything the head holds for their series, are written
//! straight to blocks at commit (one per block-range window they touch),
//! fsynced before the commit answers, and queried like any block. The
//! maintenance pass then merges each window's blocks into one.
//!
//! ```text
//! let mut a = db.appender();
//! a.append_pairs(&[("__name__", "up")], now - 10 * DAY, 1.0)?; // older than the head
//! a.commit()?;        // written to a block, durable once Ok
//! db.merge_blocks()?; // from maintenance: one block per window again
//! ```

use crate::block::{Block, BlockWriter};
use crate::wal;
use crate::{Db, TsdbError};
use argus_model::Sample;
use std::collections::BTreeMap;
use std::fs;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A label set as owned pairs, in the order the writer adds series.
pub(crate) type Pairs = Vec<(String, String)>;

/// Blocks one window may hold before a history write merges them itself
/// instead of leaving it to maintenance: a sender that writes history in
/// many small requests cannot pile up blocks (and their open files)
/// between two maintenance passes.
pub(crate) const MAX_BLOCKS_PER_WINDOW: usize = 16;

/// Distinguishes the temporary directories of concurrent writers.
static NEXT_TAG: AtomicU64 = AtomicU64::new(0);

fn tag(kind: &str, start: i64) -> String {
    let n = NEXT_TAG.fetch_add(1, Ordering::Relaxed);
    format!("{kind}-{start}-{}-{n}", std::process::id())
}

/// Writes one block from series in label order; removes its temporary
/// directory if writing fails.
fn write_block(
    db: &Db,
    tag: &str,
    series: impl Iterator<Item = (Pairs, Vec<Sample>)>,
) -> Result<Option<Arc<Block>>, TsdbError> {
    let dir = &db.inner.blocks_dir;
    let res = (|| {
        let mut w = BlockWriter::create(dir, tag)?;
        for (pairs, samples) in series {
            w.add(
                pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())),
                &samples,
            )?;
        }
        match w.finish()? {
            Some((_, path)) => Ok(Some(Arc::new(Block::open(&path)?))),
            None => Ok(None),
        }
    })();
    if res.is_err() {
        let tmp = dir.join(format!("{tag}.tmp"));
        if tmp.exists() {
            let _ = fs::remove_dir_all(&tmp);
        }
    }
    res
}

/// Sorts a series' samples by time; of two with the same time the later
/// appended wins.
fn settle(samples: &mut Vec<Sample>) {
    samples.reverse();
    samples.sort_by_key(|s| s.t); // stable: the later appended comes first
    samples.dedup_by_key(|s| s.t);
}

impl Db {
    /// Writes staged history to blocks, one per block-range window, and
    /// makes them visible. Returns the samples written.
    pub(crate) fn write_backfill(&self, staged: Vec<(Pairs, i64, f64)>) -> Result<u64, TsdbError> {
        let range = self.inner.opts.block_range_ms.max(1);
        let mut windows: BTreeMap<i64, BTreeMap<Pairs, Vec<Sample>>> = BTreeMap::new();
        for (pairs, t, v) in staged {
            windows
                .entry(t.div_euclid(range))
                .or_default()
                .entry(pairs)
                .or_default()
                .push(Sample::new(t, v));
        }
        let mut written = 0u64;
        let touched: Vec<i64> = windows.keys().copied().collect();
        for (w, mut series) in windows {
            for s in series.values_mut() {
                settle(s);
                written += s.len() as u64;
            }
            let start = w.saturating_mul(range);
            if let Some(b) = write_block(self, &tag("backfill", start), series.into_iter())? {
                tracing::debug!(path = %b.dir().display(), samples = b.meta().samples, "Wrote samples older than the head to a block.");
                let mut blocks = self.inner.blocks.write();
                blocks.push(b);
                blocks.sort_by_key(|b| (b.meta().mint, b.meta().maxt));
            }
        }
        self.inner
            .counters
            .backfilled
            .fetch_add(written, Ordering::Relaxed);
        for w in touched {
            self.merge_if_crowded(w);
        }
        Ok(written)
    }

    /// Merges window `w`'s blocks now when it holds more than
    /// [`MAX_BLOCKS_PER_WINDOW`]. The history is already durable, so a
    /// failure is only logged: maintenance tries again.
    fn merge_if_crowded(&self, w: i64) {
        let range = self.inner.opts.block_range_ms.max(1);
        let _c = self.inner.compact_lock.lock();
        let group: Vec<Arc<Block>> = self
            .inner
            .blocks
            .read()
            .iter()
            .filter(|b| {
                b.meta().mint.div_euclid(range) == w && b.meta().maxt.div_euclid(range) == w
            })
            .cloned()
            .collect();
        if group.len() <= MAX_BLOCKS_PER_WINDOW {
            return;
        }
        if let Err(e) = self.merge_window(w.saturating_mul(range), &group) {
            tracing::warn!(window_start_ms = w.saturating_mul(range), blocks = group.len(), error = %e, "Could not merge the blocks of a window that history keeps writing to; maintenance will try again.");
        }
    }

    /// Merges the blocks of every block-range window that holds more than
    /// one (history written to a window the head had already cut) into one
    /// block, deduplicating samples by time. Streams series by series.
    /// Returns the windows merged. A window whose merge fails (a damaged
    /// block, a full disk) keeps its blocks as they were, and the windows
    /// after it are still merged; the first such error is then returned.
    pub fn merge_blocks(&self) -> Result<usize, TsdbError> {
        let i = &self.inner;
        let _c = i.compact_lock.lock();
        let range = i.opts.block_range_ms.max(1);
        let mut by_window: BTreeMap<i64, Vec<Arc<Block>>> = BTreeMap::new();
        for b in i.blocks.read().iter() {
            let (a, z) = (
                b.meta().mint.div_euclid(range),
                b.meta().maxt.div_euclid(range),
            );
            if a == z {
                by_window.entry(a).or_default().push(b.clone());
            }
        }
        let mut merged = 0;
        let mut first_error = None;
        for (w, group) in by_window.into_iter().filter(|(_, g)| g.len() > 1) {
            match self.merge_window(w.saturating_mul(range), &group) {
                Ok(()) => merged += 1,
                Err(e) => {
                    tracing::warn!(window_start_ms = w.saturating_mul(range), blocks = group.len(), error = %e, "Could not merge the blocks of one window; they stay as they are, and the other windows are merged.");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(merged),
        }
    }

    fn merge_window(&self, start: i64, group: &[Arc<Block>]) -> Result<(), TsdbError> {
        let i = &self.inner;
        // Every series of every block, in label order; equal label sets
        // are merged. Only label sets are held; samples are read per series.
        let mut index: Vec<(Pairs, usize, usize)> = Vec::new();
        for (k, b) in group.iter().enumerate() {
            for s in 0..b.series.len() {
                let pairs = b
                    .labels(s)
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect();
                index.push((pairs, k, s));
            }
        }
        index.sort();
        let mut failed = None;
        let mut pos = 0;
        let series = std::iter::from_fn(|| {
            if pos >= index.len() || failed.is_some() {
                return None;
            }
            let first = pos;
            while pos < index.len() && index[pos].0 == index[first].0 {
                pos += 1;
            }
            let mut samples = Vec::new();
            for (_, k, s) in &index[first..pos] {
                match group[*k].read_series(*s) {
                    Ok(x) => samples.extend(x),
                    Err(e) => {
                        failed = Some(e);
                        return None;
                    }
                }
            }
            settle(&mut samples);
            Some((index[first].0.clone(), samples))
        });
        let out = write_block(self, &tag("merge", start), series);
        if let Some(e) = failed {
            if let Ok(Some(b)) = &out {
                let _ = fs::remove_dir_all(b.dir());
            }
            return Err(e);
        }
        let Some(new) = out? else {
            return Ok(());
        };
        {
            let mut blocks = i.blocks.write();
            blocks.retain(|b| !group.iter().any(|g| Arc::ptr_eq(g, b)));
            blocks.push(new.clone());
            blocks.sort_by_key(|b| (b.meta().mint, b.meta().maxt));
        }
        for b in group {
            let dir = b.dir();
            let tomb = dir.with_extension("deleted");
            fs::rename(dir, &tomb).map_err(|e| wal::io_err(dir, e))?;
            fs::remove_dir_all(&tomb).map_err(|e| wal::io_err(&tomb, e))?;
        }
        wal::sync_dir(&i.blocks_dir)?;
        tracing::info!(path = %new.dir().display(), blocks = group.len(), samples = new.meta().samples, "Merged the blocks of one time window.");
        Ok(())
    }
}
