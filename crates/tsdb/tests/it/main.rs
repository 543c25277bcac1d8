//! The integration tests of the store (one test binary, one module per area).

mod backfill;
mod full_disk;
mod hardening;
mod label_limits;
mod store;
