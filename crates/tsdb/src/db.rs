//! The database handle: options, opening (lock, blocks, WAL replay),
//! statistics, WAL syncing and closing. Compaction and retention live in
//! `compact.rs`, reads in `querier.rs`, the appender in `appender.rs`.
//!
//! ```text
//! let db = Db::open(dir, Options::default(), Arc::new(SystemClock))?;
//! db.maintenance()?; // from a periodic task
//! db.close()?;
//! ```

use crate::block::Block;
use crate::head::Head;
use crate::wal::{self, FsyncPolicy, ReadEnd, Record, Wal};
use crate::TsdbError;
use argus_model::Clock;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Storage options. `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Width of a block's time window in ms; head chunks never cross a window
    /// boundary. Default 2 h (7 200 000).
    pub block_range_ms: i64,
    /// Blocks whose newest sample is older than this, measured back from the
    /// newest sample in the store, are deleted. Default 15 days. `None`: keep.
    pub retention_ms: Option<i64>,
    /// The oldest blocks are deleted while all blocks together exceed this
    /// many bytes. Default `None` (no size limit).
    pub retention_bytes: Option<u64>,
    /// How far behind a series' newest sample a sample may be and still be
    /// accepted (out of order). Default 10 min (600 000).
    pub ooo_window_ms: i64,
    /// When the WAL is fsynced. Default `Interval(1 s)`.
    pub wal_fsync: FsyncPolicy,
    /// A WAL segment is closed and a new one started beyond this size.
    /// Default 128 MiB.
    pub wal_segment_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            block_range_ms: 2 * 3_600_000,
            retention_ms: Some(15 * 24 * 3_600_000),
            retention_bytes: None,
            ooo_window_ms: 10 * 60_000,
            wal_fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
            wal_segment_bytes: 128 << 20,
        }
    }
}

/// A snapshot of the store's counters and sizes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbStats {
    /// Series in the head.
    pub head_series: u64,
    /// Samples in the head.
    pub head_samples: u64,
    /// Chunks in the head (open chunks with samples included).
    pub head_chunks: u64,
    /// Oldest sample time in the head, if any.
    pub head_min_time: Option<i64>,
    /// Newest sample time in the head, if any.
    pub head_max_time: Option<i64>,
    /// The head's lower bound: older samples are refused as out of bounds.
    pub head_min_valid_time: Option<i64>,
    /// Distinct interned label strings in the head.
    pub head_symbols: u64,
    /// Loaded blocks.
    pub blocks: u64,
    /// Bytes of all block data files.
    pub block_bytes: u64,
    /// Samples in all blocks.
    pub block_samples: u64,
    /// Bytes of WAL segments.
    pub wal_bytes: u64,
    /// Samples accepted by commits since open (replay excluded).
    pub samples_appended_total: u64,
    /// Samples refused as out of order since open.
    pub samples_rejected_out_of_order_total: u64,
    /// Samples refused for any other reason since open.
    pub samples_rejected_other_total: u64,
    /// Series created since open (replay included).
    pub series_created_total: u64,
    /// Blocks written by compaction since open.
    pub compactions_total: u64,
    /// WAL fsyncs since open.
    pub wal_fsyncs_total: u64,
    /// WAL checkpoints written since open.
    pub checkpoints_total: u64,
    /// Blocks deleted by retention since open.
    pub retention_deletions_total: u64,
    /// Records skipped or truncated during the last WAL replay (corruption).
    pub wal_corruptions_total: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) appended: AtomicU64,
    pub(crate) rejected_ooo: AtomicU64,
    pub(crate) rejected_other: AtomicU64,
    pub(crate) compactions: AtomicU64,
    pub(crate) checkpoints: AtomicU64,
    pub(crate) retention_deletions: AtomicU64,
    pub(crate) wal_corruptions: AtomicU64,
}

pub(crate) struct Inner {
    pub(crate) dir: PathBuf,
    pub(crate) wal_dir: PathBuf,
    pub(crate) blocks_dir: PathBuf,
    pub(crate) opts: Options,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) head: Head,
    pub(crate) wal: Mutex<Wal>,
    /// Commits hold it shared from their WAL write until applied; a checkpoint
    /// holds it exclusively while cutting the segment it starts from.
    pub(crate) gate: RwLock<()>,
    /// Loaded blocks, sorted by `mint`.
    pub(crate) blocks: RwLock<Vec<Arc<Block>>>,
    pub(crate) compact_lock: Mutex<()>,
    pub(crate) counters: Counters,
    _lock: File,
}

/// The store. Cheap to clone; all clones share one database.
#[derive(Clone)]
pub struct Db {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("dir", &self.inner.dir).finish()
    }
}

fn lock_dir(dir: &Path) -> Result<File, TsdbError> {
    let path = dir.join("lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| wal::io_err(&path, e))?;
    #[cfg(unix)]
    rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        .map_err(|_| TsdbError::Locked(dir.to_path_buf()))?;
    Ok(f)
}

fn load_blocks(blocks_dir: &Path) -> Result<Vec<Arc<Block>>, TsdbError> {
    let mut blocks = Vec::new();
    for e in fs::read_dir(blocks_dir).map_err(|e| wal::io_err(blocks_dir, e))? {
        let e = e.map_err(|e| wal::io_err(blocks_dir, e))?;
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp") || name.ends_with(".deleted") {
            tracing::warn!(path = %path.display(), "Removing a block directory left by an interrupted compaction or deletion.");
            fs::remove_dir_all(&path).map_err(|err| wal::io_err(&path, err))?;
            continue;
        }
        if !path.is_dir() {
            continue;
        }
        match Block::open(&path) {
            Ok(b) => blocks.push(Arc::new(b)),
            Err(err) => {
                tracing::error!(path = %path.display(), error = %err, "Skipping a corrupt block; its data is not queryable.")
            }
        }
    }
    blocks.sort_by_key(|b| (b.meta().mint, b.meta().maxt));
    Ok(blocks)
}

impl Db {
    /// Opens (creating if needed) the store in `dir`: takes the lock file,
    /// loads blocks and replays the WAL. A torn or corrupt WAL tail is
    /// truncated with a warning; a corrupt block is logged and skipped.
    pub fn open(dir: &Path, opts: Options, clock: Arc<dyn Clock>) -> Result<Db, TsdbError> {
        if opts.block_range_ms <= 0 {
            return Err(TsdbError::Options(format!(
                "block_range_ms must be positive, got {}",
                opts.block_range_ms
            )));
        }
        if opts.ooo_window_ms < 0 {
            return Err(TsdbError::Options(format!(
                "ooo_window_ms must not be negative, got {}",
                opts.ooo_window_ms
            )));
        }
        let wal_dir = dir.join("wal");
        let blocks_dir = dir.join("blocks");
        for d in [dir, &wal_dir, &blocks_dir] {
            fs::create_dir_all(d).map_err(|e| wal::io_err(d, e))?;
        }
        let lock = lock_dir(dir)?;
        let blocks = load_blocks(&blocks_dir)?;
        let head = Head::new(opts.block_range_ms, opts.ooo_window_ms);
        if let Some(mx) = blocks.iter().map(|b| b.meta().maxt).max() {
            head.min_valid
                .store(mx.saturating_add(1), Ordering::Release);
        }
        let counters = Counters::default();
        let (next_seg, wal_bytes) = replay(&wal_dir, &head, &counters)?;
        let wal = Wal::create(
            &wal_dir,
            next_seg,
            opts.wal_segment_bytes,
            opts.wal_fsync,
            wal_bytes,
        )?;
        tracing::info!(
            dir = %dir.display(),
            blocks = blocks.len(),
            head_series = head.counts().0,
            head_samples = head.samples.load(Ordering::Relaxed),
            "Opened the time-series store."
        );
        Ok(Db {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                wal_dir,
                blocks_dir,
                opts,
                clock,
                head,
                wal: Mutex::new(wal),
                gate: RwLock::new(()),
                blocks: RwLock::new(blocks),
                compact_lock: Mutex::new(()),
                counters,
                _lock: lock,
            }),
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.inner.opts
    }

    /// A new batch appender.
    pub fn appender(&self) -> crate::DbAppender {
        crate::DbAppender::new(self.clone())
    }

    /// fsyncs the WAL if anything was written since the last fsync. Call it
    /// from a periodic timer under `FsyncPolicy::Interval`.
    pub fn sync_wal(&self) -> Result<(), TsdbError> {
        self.inner.wal.lock().sync()
    }

    /// Flushes and fsyncs the WAL. The lock file is released when the last
    /// clone of this `Db` is dropped.
    pub fn close(self) -> Result<(), TsdbError> {
        self.sync_wal()?;
        tracing::info!(dir = %self.inner.dir.display(), "Closed the time-series store.");
        Ok(())
    }

    /// Metadata of the loaded blocks, oldest first.
    pub fn blocks(&self) -> Vec<crate::BlockMeta> {
        self.inner
            .blocks
            .read()
            .iter()
            .map(|b| b.meta().clone())
            .collect()
    }

    /// A snapshot of counters and sizes. Walks the head's shards; cheap enough
    /// for a scrape, not for a hot loop.
    pub fn stats(&self) -> DbStats {
        let i = &self.inner;
        let (series, chunks) = i.head.counts();
        let blocks = i.blocks.read();
        let (min_t, max_t) = (
            i.head.min_t.load(Ordering::Acquire),
            i.head.max_t.load(Ordering::Acquire),
        );
        let min_valid = i.head.min_valid.load(Ordering::Acquire);
        let wal = i.wal.lock();
        let c = &i.counters;
        DbStats {
            head_series: series,
            head_samples: i.head.samples.load(Ordering::Relaxed),
            head_chunks: chunks,
            head_min_time: (min_t != i64::MAX).then_some(min_t),
            head_max_time: (max_t != i64::MIN).then_some(max_t),
            head_min_valid_time: (min_valid != i64::MIN).then_some(min_valid),
            head_symbols: i.head.symbols.read().len() as u64,
            blocks: blocks.len() as u64,
            block_bytes: blocks.iter().map(|b| b.meta().data_bytes).sum(),
            block_samples: blocks.iter().map(|b| b.meta().samples).sum(),
            wal_bytes: wal.bytes,
            samples_appended_total: c.appended.load(Ordering::Relaxed),
            samples_rejected_out_of_order_total: c.rejected_ooo.load(Ordering::Relaxed),
            samples_rejected_other_total: c.rejected_other.load(Ordering::Relaxed),
            series_created_total: i.head.series_created.load(Ordering::Relaxed),
            compactions_total: c.compactions.load(Ordering::Relaxed),
            wal_fsyncs_total: wal.fsyncs,
            checkpoints_total: c.checkpoints.load(Ordering::Relaxed),
            retention_deletions_total: c.retention_deletions.load(Ordering::Relaxed),
            wal_corruptions_total: c.wal_corruptions.load(Ordering::Relaxed),
        }
    }
}

/// Replays the newest checkpoint and the segments after it into `head`.
/// Returns the number for the next segment and the bytes of kept segments.
fn replay(wal_dir: &Path, head: &Head, counters: &Counters) -> Result<(u64, u64), TsdbError> {
    let (segs, cps) = wal::list(wal_dir)?;
    let cp = cps.last().copied();
    let mut alias: HashMap<u64, u64> = HashMap::new();
    let mut unknown = 0u64;
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
                    let s: Vec<(u64, i64, f64)> = samples.iter().map(|x| (id, x.t, x.v)).collect();
                    unknown += head.apply(&s).other;
                }
                Err(_) => unknown += 1,
            }
        }
        Record::Checkpoint { min_valid } => {
            head.min_valid.fetch_max(min_valid, Ordering::AcqRel);
        }
    };
    let mut corrupt = 0u64;
    if let Some(n) = cp {
        let path = wal::checkpoint_path(wal_dir, n);
        if let ReadEnd::Corrupt { offset, reason } = wal::read_file(&path, &mut apply)? {
            corrupt += 1;
            tracing::error!(path = %path.display(), offset, reason, "The WAL checkpoint is corrupt; records before the damage were replayed.");
        }
    }
    let first = cp.unwrap_or(0);
    let mut bytes = 0;
    let live: Vec<u64> = segs.iter().copied().filter(|&s| s >= first).collect();
    for (i, &s) in live.iter().enumerate() {
        let path = wal::segment_path(wal_dir, s);
        match wal::read_file(&path, &mut apply)? {
            ReadEnd::Clean => {}
            ReadEnd::Corrupt { offset, reason } if i + 1 == live.len() => {
                corrupt += 1;
                tracing::warn!(path = %path.display(), offset, reason, "Truncating a torn or corrupt record at the end of the WAL; it was never acknowledged or is damaged.");
                let keep = offset.max(wal::FILE_MAGIC.len() as u64);
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| wal::io_err(&path, e))?;
                if offset < wal::FILE_MAGIC.len() as u64 {
                    // The header itself is bad: rewrite it so the file reads cleanly.
                    f.set_len(0).map_err(|e| wal::io_err(&path, e))?;
                    fs::write(&path, wal::FILE_MAGIC).map_err(|e| wal::io_err(&path, e))?;
                } else {
                    f.set_len(keep).map_err(|e| wal::io_err(&path, e))?;
                }
                f.sync_all().map_err(|e| wal::io_err(&path, e))?;
            }
            ReadEnd::Corrupt { offset, reason } => {
                corrupt += 1;
                tracing::error!(path = %path.display(), offset, reason, "A WAL segment is corrupt in the middle; records before the damage were replayed, continuing with the next segment.");
            }
        }
        bytes += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    }
    for &s in segs.iter().filter(|&&s| s < first) {
        let path = wal::segment_path(wal_dir, s);
        fs::remove_file(&path).map_err(|e| wal::io_err(&path, e))?;
    }
    if unknown > 0 {
        tracing::warn!(records = unknown, "WAL replay skipped samples or series it could not place (unknown series, out of bounds or invalid).");
    }
    counters.wal_corruptions.store(corrupt, Ordering::Relaxed);
    let next = segs.last().map_or(1, |l| l + 1).max(cp.unwrap_or(1));
    Ok((next, bytes))
}
