//! The one integration-test binary of `argus-rules`.

mod common;
mod eval;
mod files;
mod manager;
mod promtool;
mod restore;
