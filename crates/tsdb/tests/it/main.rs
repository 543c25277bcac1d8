//! The integration tests of the store (one test binary, one module per area).

mod full_disk;
mod hardening;
mod store;
