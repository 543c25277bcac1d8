//! The disk-space guard: the store refuses writes (read-only mode) while the
//! disk holding it has less than `Options::min_free_bytes` free, or after a
//! write failed because the disk is full, and leaves that mode by itself once
//! space returns. Free space is read with `statvfs` at most once per second of
//! the injected clock, so the check costs nothing on the write path.
//!
//! ```text
//! if let Some(reason) = inner.space.check(clock.now_ms()) {
//!     return Err(TsdbError::ReadOnly(reason)); // HTTP 503 + Retry-After
//! }
//! ```

use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Free space is measured again once the last measurement is this old.
pub(crate) const CHECK_EVERY_MS: i64 = 1000;

/// Why the store refuses writes for now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadOnlyReason {
    /// Less free space than the configured minimum.
    #[error("only {free_bytes} bytes are free on the disk holding {}, less than the configured minimum of {min_free_bytes} bytes", .path.display())]
    LowDiskSpace {
        /// The data directory.
        path: PathBuf,
        /// Bytes available to the process.
        free_bytes: u64,
        /// The configured minimum.
        min_free_bytes: u64,
    },
    /// A write failed because the disk is full.
    #[error("the disk holding {} is full ({detail})", .path.display())]
    DiskFull {
        /// The file or directory whose write failed.
        path: PathBuf,
        /// The operating system's message.
        detail: String,
    },
}

/// True when `e` means "no space left" (or the quota is exhausted).
pub(crate) fn is_no_space(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
}

/// Bytes available to unprivileged writers on the filesystem holding `dir`;
/// `None` when the platform or the call cannot say.
pub(crate) fn free_bytes(dir: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        let st = rustix::fs::statvfs(dir).ok()?;
        Some(st.f_bavail.saturating_mul(st.f_frsize))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

/// The guard. Shared by all appenders of one store.
#[derive(Debug)]
pub(crate) struct Space {
    dir: PathBuf,
    min_free: u64,
    /// Clock time of the last measurement (`i64::MIN`: never).
    checked_ms: AtomicI64,
    /// Last measured free bytes (`u64::MAX`: unknown).
    free: AtomicU64,
    state: Mutex<Option<ReadOnlyReason>>,
}

impl Space {
    pub(crate) fn new(dir: &Path, min_free: u64) -> Space {
        Space {
            dir: dir.to_path_buf(),
            min_free,
            checked_ms: AtomicI64::new(i64::MIN),
            free: AtomicU64::new(u64::MAX),
            state: Mutex::new(None),
        }
    }

    /// Why writes are refused at `now`, measuring free space first when the
    /// last measurement is at least [`CHECK_EVERY_MS`] old. `None`: writable.
    pub(crate) fn check(&self, now: i64) -> Option<ReadOnlyReason> {
        let last = self.checked_ms.load(Ordering::Acquire);
        let due = now.saturating_sub(last) >= CHECK_EVERY_MS || now < last;
        if due
            && self
                .checked_ms
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.measure();
        }
        self.state()
    }

    /// The current reason writes are refused, without measuring.
    pub(crate) fn state(&self) -> Option<ReadOnlyReason> {
        self.state.lock().clone()
    }

    /// Last measured free bytes.
    pub(crate) fn free(&self) -> Option<u64> {
        match self.free.load(Ordering::Relaxed) {
            u64::MAX => None,
            f => Some(f),
        }
    }

    fn measure(&self) {
        let free = free_bytes(&self.dir);
        self.free.store(free.unwrap_or(u64::MAX), Ordering::Relaxed);
        let mut st = self.state.lock();
        let next = match free {
            Some(f) if f < self.min_free => Some(ReadOnlyReason::LowDiskSpace {
                path: self.dir.clone(),
                free_bytes: f,
                min_free_bytes: self.min_free,
            }),
            // Still nothing free after a failed write: stay refused.
            Some(0) if matches!(*st, Some(ReadOnlyReason::DiskFull { .. })) => st.clone(),
            // Space returned, or it cannot be measured: let the next write try.
            _ => None,
        };
        match (&*st, &next) {
            (None, Some(r)) => {
                tracing::error!(dir = %self.dir.display(), reason = %r, "The time-series store is now read-only: writes are refused until disk space is freed; queries still work.")
            }
            (Some(_), None) => {
                tracing::info!(dir = %self.dir.display(), free_bytes = ?free, "Disk space is available again; the time-series store accepts writes.")
            }
            _ => {}
        }
        *st = next;
    }

    /// Records that a write to `path` failed with "no space left" at `now`;
    /// writes are refused until a later measurement finds free space.
    pub(crate) fn mark_full(&self, now: i64, path: &Path, err: &std::io::Error) -> ReadOnlyReason {
        let reason = ReadOnlyReason::DiskFull {
            path: path.to_path_buf(),
            detail: err.to_string(),
        };
        self.checked_ms.store(now, Ordering::Release);
        let mut st = self.state.lock();
        if st.is_none() {
            tracing::error!(dir = %self.dir.display(), reason = %reason, "The time-series store is now read-only: writes are refused until disk space is freed; queries still work.");
        }
        *st = Some(reason.clone());
        reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_space_is_measured_at_most_once_per_second() {
        let dir = tempfile::tempdir().unwrap();
        let s = Space::new(dir.path(), u64::MAX);
        assert!(matches!(
            s.check(0),
            Some(ReadOnlyReason::LowDiskSpace { .. })
        ));
        assert!(s.free().is_some());
        let ok = Space::new(dir.path(), 0);
        let e = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert!(is_no_space(&e));
        ok.mark_full(5_000, dir.path(), &e);
        assert!(
            ok.check(5_500).is_some(),
            "no new measurement within a second"
        );
        assert!(ok.check(6_000).is_none(), "space is there: writable again");
    }
}
