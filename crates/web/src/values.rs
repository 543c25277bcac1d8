//! Configuration values that the server and its services both read: sizes
//! written as `512MiB` (`argus_model::size`), and how a write-ahead log is
//! synced.
//!
//! ```
//! use argus_web::values::{ByteSize, WalFsync};
//! assert_eq!("2KiB".parse::<ByteSize>().unwrap(), ByteSize(2048));
//! assert!("2 parsecs".parse::<ByteSize>().is_err());
//! let w: WalFsync = serde_json::from_str("\"always\"").unwrap();
//! assert_eq!(w, WalFsync::Always);
//! ```

use argus_model::PromDuration;
use serde::Deserialize;

pub use argus_model::size::{ByteSize, SizeError};

/// How the WAL is synced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalFsync {
    /// fsync before every acknowledgement.
    Always,
    /// fsync at most once per interval (and on a timer).
    Interval(PromDuration),
    /// Never fsync (the OS decides). Survives a process crash, not a power loss.
    Never,
}

impl<'de> Deserialize<'de> for WalFsync {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "always" => Ok(WalFsync::Always),
            "never" => Ok(WalFsync::Never),
            other => other.parse().map(WalFsync::Interval).map_err(|e| {
                serde::de::Error::custom(format!(
                    "wal_fsync must be \"always\", \"never\" or a duration: {e}"
                ))
            }),
        }
    }
}
