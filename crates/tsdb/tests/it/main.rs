//! The integration tests of the store (one test binary, one module per area).

mod backfill;
mod full_disk;
mod hardening;
mod label_limits;
mod store;

use argus_model::ManualClock;
use argus_tsdb::{Db, FsyncPolicy, Options};
use std::path::Path;
use std::sync::Arc;

/// Store options of the hardening and history tests: no fsync, no free-space floor.
fn opts() -> Options {
    Options {
        wal_fsync: FsyncPolicy::Never,
        min_free_bytes: 0,
        ..Options::default()
    }
}

/// Opens the store in `dir` with [`opts`] on `clock`.
fn open(dir: &Path, clock: &Arc<ManualClock>) -> Db {
    Db::open(dir, opts(), clock.clone()).unwrap()
}
