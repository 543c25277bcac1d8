//! WAL replay at open: the newest checkpoint, then the segments after it.
//!
//! Samples outside the accepted window (see `window.rs`) are dropped with a
//! warning: a WAL written before timestamps were checked may hold one, and
//! it must not set the head's bounds. A segment that ends in a torn record
//! (a write interrupted by a crash or a full disk) is truncated there with a
//! warning; only damage followed by more data counts as corruption.
//!
//! ```text
//! let (next_segment, wal_bytes) = replay(&wal_dir, &head, &counters, window)?;
//! ```

use crate::db::Counters;
use crate::head::Head;
use crate::wal::{self, ReadEnd, Record};
use crate::window::Window;
use crate::TsdbError;
use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::path::Path;
use std::sync::atomic::Ordering;

/// Replays the newest checkpoint and the segments after it into `head`,
/// keeping samples inside `window`. Returns the number for the next segment
/// and the bytes of kept segments.
pub(crate) fn replay(
    wal_dir: &Path,
    head: &Head,
    counters: &Counters,
    window: Window,
) -> Result<(u64, u64), TsdbError> {
    let (segs, cps) = wal::list(wal_dir)?;
    let cp = cps.last().copied();
    let mut alias: HashMap<u64, u64> = HashMap::new();
    let mut unknown = 0u64;
    let mut dropped = 0u64;
    let mut dropped_examples: Vec<i64> = Vec::new();
    let max_cut = window.max.saturating_add(1);
    let mut keep = |t: i64| {
        let ok = window.contains(t);
        if !ok {
            dropped += 1;
            if dropped_examples.len() < 3 {
                dropped_examples.push(t);
            }
        }
        ok
    };
    let mut apply = |rec: Record| match rec {
        Record::Series(list) => {
            for (id, pairs) in list {
                let p: Vec<(&str, &str)> = pairs
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                match head.create_with_id(id, &p) {
                    Some(got) if got != id => {
                        alias.insert(id, got);
                    }
                    Some(_) => {}
                    None => unknown += 1,
                }
            }
        }
        Record::Samples(mut s) => {
            s.retain(|x| keep(x.1));
            if !alias.is_empty() {
                for x in s.iter_mut() {
                    if let Some(a) = alias.get(&x.0) {
                        x.0 = *a;
                    }
                }
            }
            unknown += head.apply(&s).other;
        }
        Record::Chunk(id, bytes) => {
            let id = alias.get(&id).copied().unwrap_or(id);
            match crate::chunk::decode(&bytes) {
                Ok(samples) => {
                    let s: Vec<(u64, i64, f64)> = samples
                        .iter()
                        .filter(|x| keep(x.t))
                        .map(|x| (id, x.t, x.v))
                        .collect();
                    unknown += head.apply(&s).other;
                }
                Err(_) => unknown += 1,
            }
        }
        Record::Checkpoint { min_valid } if min_valid > max_cut => {
            tracing::warn!(
                min_valid,
                newest_acceptable = window.max,
                "Ignoring the WAL checkpoint's lower bound: it lies beyond the newest acceptable timestamp (left by a far-future or extreme sample before timestamps were checked)."
            );
        }
        Record::Checkpoint { min_valid } => {
            head.min_valid.fetch_max(min_valid, Ordering::AcqRel);
        }
    };
    let mut corrupt = 0u64;
    if let Some(n) = cp {
        let path = wal::checkpoint_path(wal_dir, n);
        match wal::read_file(&path, &mut apply)? {
            ReadEnd::Clean => {}
            ReadEnd::Corrupt { offset, reason } | ReadEnd::Torn { offset, reason } => {
                corrupt += 1;
                tracing::error!(path = %path.display(), offset, reason, "The WAL checkpoint is corrupt; records before the damage were replayed.");
            }
        }
    }
    let first = cp.unwrap_or(0);
    let mut bytes = 0;
    let live: Vec<u64> = segs.iter().copied().filter(|&s| s >= first).collect();
    for (i, &s) in live.iter().enumerate() {
        let path = wal::segment_path(wal_dir, s);
        match wal::read_file(&path, &mut apply)? {
            ReadEnd::Clean => {}
            ReadEnd::Torn { offset, reason } => {
                tracing::warn!(path = %path.display(), offset, reason, "A WAL segment ends in a torn record left by an interrupted write (a crash or a full disk); it was never acknowledged. Truncating it there.");
                cut_tail(&path, offset);
            }
            ReadEnd::Corrupt { offset, reason } if i + 1 == live.len() => {
                corrupt += 1;
                tracing::warn!(path = %path.display(), offset, reason, "Truncating a corrupt record at the end of the WAL; it was never acknowledged or is damaged.");
                cut_tail(&path, offset);
            }
            ReadEnd::Corrupt { offset, reason } => {
                corrupt += 1;
                tracing::error!(path = %path.display(), offset, reason, "A WAL segment is corrupt in the middle; records before the damage were replayed, continuing with the next segment.");
            }
        }
        bytes += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    }
    // Segments below the checkpoint are left in place: a WAL reader (the
    // remote_write queue) may still need them, and the next checkpoint
    // deletes them unless a hold keeps them (see `wal_hold.rs`).
    if unknown > 0 {
        tracing::warn!(records = unknown, "WAL replay skipped samples or series it could not place (unknown series, out of bounds or invalid).");
    }
    if dropped > 0 {
        tracing::warn!(
            samples = dropped,
            examples = ?dropped_examples,
            window_min = window.min,
            window_max = window.max,
            "WAL replay dropped samples whose timestamps are outside the accepted window (far in the future or beyond years 0 to 9999); they were written before timestamps were checked."
        );
    }
    counters.wal_corruptions.store(corrupt, Ordering::Relaxed);
    counters.replay_dropped.store(dropped, Ordering::Relaxed);
    let next = segs.last().map_or(1, |l| l + 1).max(cp.unwrap_or(1));
    Ok((next, bytes))
}

/// Cuts `path` at `offset`, or deletes it when not even its header is whole
/// (it holds no record). Failure is logged, not fatal: on a full or read-only
/// disk the store still opens, and the next replay stops at the same place.
fn cut_tail(path: &Path, offset: u64) {
    let res = if offset < wal::FILE_MAGIC.len() as u64 {
        fs::remove_file(path)
    } else {
        OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(offset).and_then(|()| f.sync_all()))
    };
    if let Err(e) = res {
        tracing::warn!(path = %path.display(), error = %e, "Could not cut the damaged WAL tail; the next start will skip it again.");
    }
}
