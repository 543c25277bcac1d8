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
use crate::wal::{self, FsyncPolicy, Wal};
use crate::window::Window;
use crate::TsdbError;
use argus_model::Clock;
use parking_lot::{Mutex, RwLock};
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
    /// How far ahead of the clock's now a sample's timestamp may be. Later
    /// samples are refused one by one with `SampleError::OutOfWindow`.
    /// Default 10 min (600 000), the create grace period Cortex and Mimir
    /// use by default: enough for clock skew between hosts and for
    /// exporters that stamp the end of their interval, while a mistaken
    /// timestamp (microseconds sent as milliseconds, a year-2500 date) is
    /// refused instead of holding the head's bounds hostage. Samples are also refused
    /// when older than `retention_ms` (when set) and always outside years 0
    /// to 9999 ([`crate::MIN_TIMESTAMP_MS`], [`crate::MAX_TIMESTAMP_MS`]).
    pub max_future_ms: i64,
    /// Writes are refused with the retryable `TsdbError::ReadOnly` while the
    /// disk holding the store has less than this many bytes free (measured at
    /// most once per second); queries keep working and writes resume by
    /// themselves once space returns. `0` refuses writes only after one
    /// failed with "no space left". Default 256 MiB: room for compaction to
    /// write a block and a WAL checkpoint (which then free the WAL) for a
    /// head of about a million series, so the store can still shrink itself.
    pub min_free_bytes: u64,
    /// Limits on the label set of a series a write creates; a sample of a
    /// series over a limit is refused alone with `SampleError::InvalidLabels`
    /// naming the limit (the rest of the batch is kept). Series replayed from
    /// the WAL are not checked. Defaults: at most 64 labels per series
    /// (`__name__` included; Mimir's default is 30, real exporters stay well
    /// under 40), label names of at most 256 bytes (as VictoriaMetrics), label
    /// values of at most 16 KiB: VictoriaMetrics cuts values at 4 KiB, but
    /// Prometheus has no limit and some exporters put SQL text or JSON into
    /// info-style labels, so Argus allows four times that while still refusing
    /// the megabyte values that bloat the index and the WAL.
    pub label_limits: crate::LabelLimits,
    /// Segments held for a WAL reader (see [`Db::hold_wal`]) are deleted
    /// anyway, oldest first, while together they exceed this many bytes.
    /// Default 4 GiB. `None`: no bound.
    pub wal_hold_max_bytes: Option<u64>,
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
            max_future_ms: 10 * 60_000,
            min_free_bytes: 256 << 20,
            label_limits: crate::LabelLimits::default(),
            wal_hold_max_bytes: Some(4 << 30),
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
    /// The head's lower bound: older samples go to blocks (history).
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
    /// Samples older than the head written straight to blocks since open
    /// (also counted in `samples_appended_total`).
    pub samples_backfilled_total: u64,
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
    /// A torn tail left by an interrupted write (a crash or a full disk) is
    /// truncated without counting here: it was never acknowledged.
    pub wal_corruptions_total: u64,
    /// WAL segments a reader still held (see [`Db::hold_wal`]) that were
    /// deleted because the held segments exceeded
    /// [`Options::wal_hold_max_bytes`].
    pub wal_held_segments_dropped_total: u64,
    /// Samples refused since open because their timestamp was outside the
    /// accepted window (see [`Options::max_future_ms`]).
    pub samples_rejected_out_of_window_total: u64,
    /// Samples dropped by the last WAL replay because their timestamp was
    /// outside the accepted window (written by a version that did not check).
    pub wal_replay_dropped_samples_total: u64,
    /// True while writes are refused (see [`Options::min_free_bytes`]).
    pub read_only: bool,
    /// Why writes are refused, while they are.
    pub read_only_reason: Option<String>,
    /// Bytes free on the disk holding the store, as last measured.
    pub disk_free_bytes: Option<u64>,
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
    pub(crate) rejected_window: AtomicU64,
    pub(crate) replay_dropped: AtomicU64,
    pub(crate) backfilled: AtomicU64,
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
    pub(crate) space: crate::space::Space,
    pub(crate) holds: crate::wal_hold::Holds,
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
    let f = match OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
    {
        Ok(f) => f,
        // A full disk may refuse even an open for writing; an existing lock
        // file can be locked through a read-only descriptor.
        Err(e) if crate::space::is_no_space(&e) => {
            File::open(&path).map_err(|_| wal::io_err(&path, e))?
        }
        Err(e) => return Err(wal::io_err(&path, e)),
    };
    // Another store on this directory keeps the lock for as long as it
    // runs. A lock held for a moment only is not that: a child process
    // forked elsewhere in this process shares the descriptor until it execs,
    // and a store just closed in this process is released when its last
    // handle is dropped. So the lock is tried for up to a second.
    #[cfg(unix)]
    {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
            if std::time::Instant::now() >= deadline {
                return Err(TsdbError::Locked(dir.to_path_buf()));
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
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

/// Checks options that the types cannot.
fn validate(opts: &Options) -> Result<(), TsdbError> {
    let bad = |m: String| Err(TsdbError::Options(m));
    if opts.block_range_ms <= 0 {
        return bad(format!(
            "block_range_ms must be positive, got {}",
            opts.block_range_ms
        ));
    }
    if opts.ooo_window_ms < 0 {
        return bad(format!(
            "ooo_window_ms must not be negative, got {}",
            opts.ooo_window_ms
        ));
    }
    if opts.max_future_ms < 0 {
        return bad(format!(
            "max_future_ms must not be negative, got {}",
            opts.max_future_ms
        ));
    }
    let l = &opts.label_limits;
    if l.max_labels == 0 || l.max_name_bytes == 0 || l.max_value_bytes == 0 {
        return bad(format!(
            "label limits must be at least 1, got {} labels, {} name bytes, {} value bytes",
            l.max_labels, l.max_name_bytes, l.max_value_bytes
        ));
    }
    if let Some(r) = opts.retention_ms.filter(|r| *r <= 0) {
        return bad(format!("retention_ms must be positive when set, got {r}"));
    }
    Ok(())
}

impl Db {
    /// Opens (creating if needed) the store in `dir`: takes the lock file,
    /// loads blocks and replays the WAL. A torn or corrupt WAL tail is
    /// truncated with a warning; a corrupt block is logged and skipped.
    ///
    /// On a full disk the store still opens: queries serve what exists and
    /// commits fail with the retryable [`TsdbError::ReadOnly`] until space
    /// is freed, then succeed again without a restart.
    pub fn open(dir: &Path, opts: Options, clock: Arc<dyn Clock>) -> Result<Db, TsdbError> {
        validate(&opts)?;
        let wal_dir = dir.join("wal");
        let blocks_dir = dir.join("blocks");
        for d in [dir, &wal_dir, &blocks_dir] {
            fs::create_dir_all(d).map_err(|e| wal::io_err(d, e))?;
        }
        let lock = lock_dir(dir)?;
        let blocks = load_blocks(&blocks_dir)?;
        let head =
            Head::new(opts.block_range_ms, opts.ooo_window_ms).with_label_limits(opts.label_limits);
        let now = clock.now_ms();
        let window = Window::for_replay(now, &opts);
        // No compaction cuts above the newest acceptable sample: a block
        // reaching further holds data written before timestamps were
        // checked, and must not hold the head's lower bound up.
        let max_cut = window.max.saturating_add(1);
        if let Some(mx) = blocks
            .iter()
            .map(|b| b.meta().maxt.saturating_add(1))
            .filter(|&m| m <= max_cut)
            .max()
        {
            head.min_valid.store(mx, Ordering::Release);
        }
        let counters = Counters::default();
        let space = crate::space::Space::new(dir, opts.min_free_bytes);
        let (next_seg, wal_bytes) = crate::replay::replay(&wal_dir, &head, &counters, window)?;
        let wal = match Wal::create(
            &wal_dir,
            next_seg,
            opts.wal_segment_bytes,
            opts.wal_fsync,
            wal_bytes,
        ) {
            Ok(w) => w,
            Err(TsdbError::Io { path, source }) if crate::space::is_no_space(&source) => {
                let reason = space.mark_full(now, &path, &source);
                tracing::error!(dir = %dir.display(), reason = %reason, "Opened the time-series store read-only: the disk is full. Queries work; writes resume once space is freed.");
                Wal::deferred(
                    &wal_dir,
                    next_seg,
                    opts.wal_segment_bytes,
                    opts.wal_fsync,
                    wal_bytes,
                )
            }
            Err(e) => return Err(e),
        };
        space.check(now);
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
                space,
                holds: crate::wal_hold::Holds::default(),
                _lock: lock,
            }),
        })
    }

    /// The window of timestamps new samples must fall in now.
    pub(crate) fn append_window(&self) -> Window {
        Window::for_append(self.inner.clock.now_ms(), &self.inner.opts)
    }

    /// Why writes are refused now, if they are (measures free space at most
    /// once per second).
    pub fn read_only(&self) -> Option<crate::ReadOnlyReason> {
        self.inner.space.check(self.inner.clock.now_ms())
    }

    /// The limits on new series' label sets this store was opened with.
    pub fn label_limits(&self) -> crate::LabelLimits {
        self.inner.opts.label_limits
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The WAL's directory (`<data>/wal`), for readers such as the
    /// remote_write queue ([`crate::wal_read`]).
    pub fn wal_dir(&self) -> &Path {
        &self.inner.wal_dir
    }

    /// Keeps WAL segment `segment` and every later one from deletion by
    /// checkpoints, for the reader named `reader`, until it moves its hold
    /// or releases it (bounded by [`Options::wal_hold_max_bytes`]).
    pub fn hold_wal(&self, reader: &str, segment: u64) {
        self.inner.holds.set(reader, segment);
    }

    /// Drops the hold of `reader`.
    pub fn release_wal(&self, reader: &str) {
        self.inner.holds.release(reader);
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
        let read_only = i.space.check(i.clock.now_ms());
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
            samples_backfilled_total: c.backfilled.load(Ordering::Relaxed),
            series_created_total: i.head.series_created.load(Ordering::Relaxed),
            compactions_total: c.compactions.load(Ordering::Relaxed),
            wal_fsyncs_total: wal.fsyncs,
            checkpoints_total: c.checkpoints.load(Ordering::Relaxed),
            retention_deletions_total: c.retention_deletions.load(Ordering::Relaxed),
            wal_corruptions_total: c.wal_corruptions.load(Ordering::Relaxed),
            wal_held_segments_dropped_total: i.holds.dropped_segments.load(Ordering::Relaxed),
            samples_rejected_out_of_window_total: c.rejected_window.load(Ordering::Relaxed),
            wal_replay_dropped_samples_total: c.replay_dropped.load(Ordering::Relaxed),
            read_only: read_only.is_some(),
            read_only_reason: read_only.map(|r| r.to_string()),
            disk_free_bytes: i.space.free(),
        }
    }
}
