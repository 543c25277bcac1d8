//! Compaction (head → blocks), head truncation, WAL checkpoints and
//! retention.
//!
//! ```text
//! db.compact()?;            // cut full block-range windows once the head spans > 1.5 ranges
//! db.compact_head_fully()?; // cut everything (benchmarks, tests, shutdown)
//! db.apply_retention()?;    // delete blocks by age and by total size
//! ```

use crate::block::{Block, BlockWriter};
use crate::wal::{self, CheckpointWriter};
use crate::{Db, TsdbError};
use argus_model::Sample;
use std::cmp::Ordering as CmpOrdering;
use std::fs;
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Db {
    /// While the head spans more than 1.5 × `block_range_ms`, writes the
    /// oldest full window `[k*range, (k+1)*range)` to a block and truncates
    /// the head; then checkpoints the WAL. The span is measured up to the
    /// newest sample or the clock's now, whichever is older, so a sample
    /// stamped in the future never makes compaction cut windows (and raise
    /// the head's lower bound) ahead of real time.
    pub fn compact(&self) -> Result<(), TsdbError> {
        let i = &self.inner;
        let _c = i.compact_lock.lock();
        let range = i.opts.block_range_ms;
        let now = i.clock.now_ms();
        let mut did = false;
        let mut last_mn = None;
        loop {
            let (mn, mx) = (
                i.head.min_t.load(Ordering::Acquire),
                i.head.max_t.load(Ordering::Acquire),
            );
            let top = mx.min(now);
            if mn == i64::MAX
                || top.saturating_sub(mn) <= range.saturating_mul(3) / 2
                || last_mn.is_some_and(|l| mn <= l)
            {
                break;
            }
            last_mn = Some(mn);
            let start = mn.div_euclid(range).saturating_mul(range);
            let end = start.saturating_add(range);
            self.cut_block(start, end)?;
            did = true;
        }
        if did {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Writes everything in the head to one block, truncates the head and
    /// checkpoints the WAL. Later samples must be newer than the block. A
    /// sample beyond the clock's now plus `max_future_ms` is not cut (the cut
    /// stops at now), so it cannot raise the head's lower bound.
    pub fn compact_head_fully(&self) -> Result<(), TsdbError> {
        self.compact_head_keeping(0)
    }

    /// Like [`Db::compact_head_fully`], but leaves the newest
    /// `ooo_window_ms` of the head in memory, so a lagging sender's samples
    /// inside the out-of-order window are still accepted afterwards. What
    /// the admin API runs unless asked for a full cut.
    pub fn compact_head_keeping_ooo_window(&self) -> Result<(), TsdbError> {
        self.compact_head_keeping(self.inner.opts.ooo_window_ms)
    }

    fn compact_head_keeping(&self, keep_ms: i64) -> Result<(), TsdbError> {
        let i = &self.inner;
        let _c = i.compact_lock.lock();
        let (mn, mx) = (
            i.head.min_t.load(Ordering::Acquire),
            i.head.max_t.load(Ordering::Acquire),
        );
        // A sample beyond the newest acceptable timestamp (written before
        // timestamps were checked) stays in the head; then cut at now.
        let top = if mx <= self.append_window().max {
            mx
        } else {
            mx.min(i.clock.now_ms())
        }
        .saturating_sub(keep_ms);
        if mn == i64::MAX || mn > top {
            // Nothing to cut; still collect series that stayed empty.
            let removed = i.head.truncate(i.head.min_valid.load(Ordering::Acquire));
            return if removed > 0 {
                self.checkpoint()
            } else {
                Ok(())
            };
        }
        self.cut_block(mn, top.saturating_add(1))?;
        self.checkpoint()
    }

    /// Moves head samples in `[start, end)` into a new block and truncates the head at `end`.
    fn cut_block(&self, start: i64, end: i64) -> Result<(), TsdbError> {
        let i = &self.inner;
        let tag = format!("compact-{start}");
        let res = self.cut_block_inner(start, end, &tag);
        if res.is_err() {
            // A partial block (a full disk) would only hold on to space.
            let tmp = i.blocks_dir.join(format!("{tag}.tmp"));
            if tmp.exists() {
                let _ = fs::remove_dir_all(&tmp);
            }
        }
        res
    }

    fn cut_block_inner(&self, start: i64, end: i64, tag: &str) -> Result<(), TsdbError> {
        let i = &self.inner;
        let head = &i.head;
        // Refuse new samples below `end` first, so none slip in behind the snapshot.
        head.min_valid.fetch_max(end, Ordering::AcqRel);
        let mut ids: Vec<(u32, Box<[u32]>)> = head
            .select_ids(&[])
            .into_iter()
            .filter_map(|id| {
                head.with_series(id, |s| {
                    let overlaps = s.min_t().is_some_and(|m| m < end)
                        && s.max_t().is_some_and(|m| m >= start)
                        || s.ooo().first().is_some_and(|o| o.t < end);
                    overlaps.then(|| (id, s.labels.clone()))
                })
                .flatten()
            })
            .collect();
        {
            let syms = head.symbols.read();
            ids.sort_by(|a, b| {
                for (x, y) in a.1.iter().zip(b.1.iter()) {
                    match syms.str(*x).cmp(syms.str(*y)) {
                        CmpOrdering::Equal => {}
                        o => return o,
                    }
                }
                a.1.len().cmp(&b.1.len())
            });
        }
        let mut w = BlockWriter::create(&i.blocks_dir, tag)?;
        let mut buf: Vec<Sample> = Vec::new();
        for (id, labels) in &ids {
            buf.clear();
            head.with_series(*id, |s| {
                s.samples_in(start, end.saturating_sub(1), &mut buf)
            });
            let pairs: Vec<(String, String)> = {
                let syms = head.symbols.read();
                labels
                    .chunks_exact(2)
                    .map(|c| (syms.str(c[0]).to_string(), syms.str(c[1]).to_string()))
                    .collect()
            };
            w.add(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())), &buf)?;
        }
        if let Some((meta, path)) = w.finish()? {
            let blk = Block::open(&path)?;
            tracing::info!(path = %path.display(), mint = meta.mint, maxt = meta.maxt, series = meta.series, samples = meta.samples, bytes = meta.data_bytes, "Compacted head samples into a block.");
            let mut blocks = i.blocks.write();
            blocks.push(Arc::new(blk));
            blocks.sort_by_key(|b| (b.meta().mint, b.meta().maxt));
            i.counters.compactions.fetch_add(1, Ordering::Relaxed);
        }
        let removed = head.truncate(end);
        tracing::debug!(cut = end, removed_series = removed, "Truncated the head.");
        Ok(())
    }

    /// Writes a WAL checkpoint holding the live series and their head samples,
    /// then deletes the segments it replaces. Crash-safe: temp file, fsync, rename.
    pub fn checkpoint(&self) -> Result<(), TsdbError> {
        let i = &self.inner;
        let n = {
            let _gate = i.gate.write();
            i.wal.lock().cut()?
        };
        let mut cp = CheckpointWriter::create(&i.wal_dir, n)?;
        wal::encode_checkpoint(cp.buf(), i.head.min_valid.load(Ordering::Acquire));
        for shard in i.head.shards.iter() {
            {
                let sh = shard.lock();
                let syms = i.head.symbols.read();
                let buf = cp.buf();
                for (id, s) in sh.iter() {
                    let id = u64::from(id);
                    let pairs = s
                        .labels
                        .chunks_exact(2)
                        .map(|c| (syms.str(c[0]), syms.str(c[1])));
                    wal::encode_series(buf, [(id, pairs)]);
                    for c in s.closed.iter().chain(std::iter::once(&s.open)) {
                        if !c.is_empty() {
                            wal::encode_chunk(buf, id, c.bytes());
                        }
                    }
                    if !s.ooo().is_empty() {
                        let ooo: Vec<(u64, i64, f64)> =
                            s.ooo().iter().map(|x| (id, x.t, x.v)).collect();
                        wal::encode_samples(buf, &ooo);
                    }
                }
            }
            cp.flush_buf()?;
        }
        let path = cp.finish()?;
        let cut = i.holds.cut(
            n,
            &wal::segment_sizes(&i.wal_dir)?,
            i.opts.wal_hold_max_bytes,
        );
        let freed = wal::remove_before(&i.wal_dir, n, cut)?;
        {
            let mut w = i.wal.lock();
            w.bytes = w.bytes.saturating_sub(freed);
        }
        i.counters.checkpoints.fetch_add(1, Ordering::Relaxed);
        tracing::info!(path = %path.display(), freed_bytes = freed, "Wrote a WAL checkpoint and deleted the segments it replaces.");
        Ok(())
    }

    /// Deletes blocks older than `retention_ms` and then the oldest blocks
    /// while all blocks exceed `retention_bytes`. Age is measured from the
    /// newest sample in the store (head or blocks), capped at the clock's now
    /// so one far-future timestamp cannot wipe history. Returns blocks deleted.
    pub fn apply_retention(&self) -> Result<usize, TsdbError> {
        let i = &self.inner;
        let _c = i.compact_lock.lock();
        let doomed: Vec<Arc<Block>> = {
            let mut blocks = i.blocks.write();
            let head_max = i.head.max_t.load(Ordering::Acquire);
            let newest = blocks
                .iter()
                .map(|b| b.meta().maxt)
                .chain([head_max])
                .max()
                .unwrap_or(i64::MIN);
            let reference = newest.min(i.clock.now_ms());
            let mut doomed = Vec::new();
            if let Some(ret) = i.opts.retention_ms {
                let cutoff = reference.saturating_sub(ret);
                let (old, keep): (Vec<_>, Vec<_>) =
                    blocks.drain(..).partition(|b| b.meta().maxt < cutoff);
                *blocks = keep;
                doomed.extend(old);
            }
            if let Some(limit) = i.opts.retention_bytes {
                let mut total: u64 = blocks.iter().map(|b| b.meta().data_bytes).sum();
                while total > limit && !blocks.is_empty() {
                    let b = blocks.remove(0);
                    total -= b.meta().data_bytes;
                    doomed.push(b);
                }
            }
            doomed
        };
        for b in &doomed {
            let dir = b.dir();
            let tomb = dir.with_extension("deleted");
            fs::rename(dir, &tomb).map_err(|e| wal::io_err(dir, e))?;
            fs::remove_dir_all(&tomb).map_err(|e| wal::io_err(&tomb, e))?;
            tracing::info!(path = %dir.display(), mint = b.meta().mint, maxt = b.meta().maxt, bytes = b.meta().data_bytes, "Deleted a block by retention.");
        }
        if !doomed.is_empty() {
            wal::sync_dir(&i.blocks_dir)?;
        }
        i.counters
            .retention_deletions
            .fetch_add(doomed.len() as u64, Ordering::Relaxed);
        Ok(doomed.len())
    }

    /// Compaction, merging each window's blocks (after history was written to
    /// a window already cut), retention and a WAL fsync: call from a periodic task.
    /// Each step runs even when an earlier one failed (on a full disk,
    /// compaction fails but retention may free space); the first error is
    /// returned.
    pub fn maintenance(&self) -> Result<(), TsdbError> {
        let compacted = self.compact();
        let merged = self.merge_blocks().map(|_| ());
        let retained = self.apply_retention().map(|_| ());
        let synced = self.sync_wal();
        compacted.and(merged).and(retained).and(synced)
    }
}
